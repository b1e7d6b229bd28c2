"""Liquid state machines: reservoir construction and scaling, features, readouts, contrastive heads,
and a small end-to-end run of both experiments (the full numbers come from
``benchmarks/lsm_digits.py``; these checks only guard that the pipeline learns)."""

import math

import numpy as np
import pytest
import torch

from neuro.models.contrastive import (
    ProjectionHead,
    clip_loss,
    embed,
    prototype_accuracy,
    retrieval_accuracy,
    retrieval_chance,
    train_contrastive,
)
from neuro.models.lsm import (
    LiquidStateMachine,
    ReservoirConfig,
    binned_input_features,
    frames_to_spikes,
    spike_count_features,
    trace_features,
)
from neuro.models.lsm_experiments import build_reservoir, digit_views, reservoir_vs_raw, zero_shot


def test_maass_reservoir_structure():
    lsm = LiquidStateMachine(20, ReservoirConfig(n=270, connectivity="maass", seed=3))
    assert (lsm.n_exc, lsm.n_inh) == (216, 54)
    pos = lsm.pop.positions
    assert pos.shape == (270, 3) and len(np.unique(pos, axis=0)) == 270
    W = lsm.recurrent_matrix()
    assert (W[:, :216] >= 0).all() and (W[:, 216:] <= 0).all()  # Dale's law by source type
    assert not np.diag(W).any()
    post, pre = np.nonzero(W)
    d_conn = np.linalg.norm(pos[pre] - pos[post], axis=1).mean()
    d_all = np.linalg.norm(pos[:, None] - pos[None], axis=-1).mean()
    assert d_conn < 0.6 * d_all  # Gaussian fall-off with distance
    # pair-type densities follow C (EE 0.3, EI 0.2, IE 0.4, II 0.1): IE densest, II sparsest
    dens = {k: (W[np.ix_(b, a)] != 0).mean() for k, a, b in (
        ("EE", range(216), range(216)), ("EI", range(216), range(216, 270)),
        ("IE", range(216, 270), range(216)), ("II", range(216, 270), range(216, 270)))}
    assert dens["IE"] > dens["EE"] > dens["EI"] > dens["II"]


def test_spectral_radius_and_rate_scaling():
    lsm = LiquidStateMachine(10, ReservoirConfig(n=100, connectivity="random", p=0.1, bias=0.0, seed=1))
    factor = lsm.scale_spectral_radius(0.9)
    assert factor > 0 and math.isclose(lsm.spectral_radius(), 0.9, rel_tol=1e-6)
    rng = np.random.default_rng(0)
    samples = [(rng.uniform(0, 0.1, 300), rng.integers(0, 10, 300)) for _ in range(3)]
    lsm.set_input_scale(0.5)
    lsm.scale_to_rate(samples, 0.1, target_hz=30.0, iterations=12)
    rate = sum(len(lsm.run(s, 0.1)[0]) for s in samples) / (3 * 100 * 0.1)
    assert 15.0 < rate < 60.0, rate


def test_features_on_known_spikes():
    steps = np.array([0, 1, 5, 9, 9])
    idx = np.array([0, 1, 0, 2, 0])
    counts = spike_count_features(steps, idx, n=3, n_steps=10, windows=2)
    assert counts.tolist() == [1, 1, 0, 2, 0, 1]  # window 0: steps 0-4, window 1: steps 5-9
    tr = trace_features(steps, idx, n=3, n_steps=10, windows=1, tau_steps=2.0)
    np.testing.assert_allclose(tr, [math.exp(-4.5) + math.exp(-2) + 1, math.exp(-4), 1], rtol=1e-6)
    raw = binned_input_features((np.array([0.0, 0.05, 0.099]), np.array([1, 1, 0])), 2, 0.1, 2)
    assert raw.tolist() == [0, 1, 1, 1]
    t, i = frames_to_spikes(np.array([[0, 1], [1, 1]]), dt=1e-3)
    assert t.tolist() == [0.0, 1e-3, 1e-3] and i.tolist() == [1, 0, 1]


def test_clip_loss_and_head():
    z = torch.nn.functional.normalize(torch.randn(6, 8, dtype=torch.float64), dim=-1)
    logits = z @ z.T / 0.5
    manual = 0.5 * (torch.nn.functional.cross_entropy(logits, torch.arange(6)) * 2)
    assert torch.allclose(clip_loss(z, z, 0.5), manual)
    assert clip_loss(z, z, 0.05) < clip_loss(z, z.roll(1, 0), 0.05)
    head = ProjectionHead(5, 3)
    out = head(torch.randn(4, 5))
    assert torch.allclose(out.norm(dim=-1), torch.ones(4), atol=1e-6)
    with pytest.raises(ValueError, match="expected features"):
        head(torch.randn(4, 6))


def test_contrastive_heads_transfer_to_unseen_classes():
    """Two linear 'modalities' of shared class codes: heads trained on classes 0-6 must align
    classes 7-9 well above chance (the mechanism zero-shot retrieval relies on)."""
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(10, 6))
    labels = np.repeat(np.arange(10), 40)
    wa, wb = rng.normal(size=(6, 30)), rng.normal(size=(6, 20))
    fa = codes[labels] @ wa + 0.3 * rng.normal(size=(400, 30))
    fb = codes[labels] @ wb + 0.3 * rng.normal(size=(400, 20))
    seen = labels < 7
    ha, hb, hist = train_contrastive(fa[seen], labels[seen], fb[seen], labels[seen], dim=16, epochs=30,
                                     temperature=0.1, lr=3e-3)
    assert hist[-1] < hist[0]
    q, g = np.flatnonzero(~seen)[::2], np.flatnonzero(~seen)[1::2]
    acc = retrieval_accuracy(embed(ha, fa[q]), labels[q], embed(hb, fb[g]), labels[g])
    chance = retrieval_chance(labels[q], labels[g])
    assert math.isclose(chance, 1 / 3, rel_tol=1e-9)
    assert acc > 0.6, acc
    assert prototype_accuracy(embed(ha, fa[q]), labels[q], embed(hb, fb[g]), labels[g]) > 0.6


@pytest.fixture(scope="module")
def digits():
    return digit_views(limit=160, seed=0)


def test_digit_views(digits):
    assert len(digits.events) == len(digits.rate) == len(digits.labels) == 160
    assert digits.n_inputs == (968, 64)
    t, i = digits.events[0]
    assert len(t) > 500 and t.max() < digits.durations[0] and i.max() < 968
    t, i = digits.rate[0]
    assert len(t) > 20 and t.max() < digits.durations[1] and i.max() < 64


def test_reservoir_experiment_runs_and_learns(digits):
    cfg = ReservoirConfig(n=484, connectivity="maass", bias=0.0, input_p=0.05)
    res = reservoir_vs_raw(digits.events, digits.labels, 968, digits.durations[0], cfg, windows=2,
                           input_scale=0.6, readouts=("ridge",), progress=False)
    assert res["reservoir_features"] == res["raw_features"] == 968
    assert res["reservoir_ridge_accuracy"] > 0.5 and res["raw_ridge_accuracy"] > 0.5
    assert res["reservoir_rate_hz"] > 1.0


def test_zero_shot_protocol_runs(digits):
    encoders = (build_reservoir(968, ReservoirConfig(n=128, bias=0.0, input_p=0.05), 0.6),
                build_reservoir(64, ReservoirConfig(n=64, bias=0.0, input_p=0.05, seed=1), 0.6))
    res = zero_shot(digits.events, digits.rate, digits.labels, encoders, digits.durations, windows=2,
                    dim=16, epochs=40, temperature=0.1, progress=False)
    assert res["train_pairs_classes"] == list(range(7))
    assert res["final_loss"] < res["first_loss"]
    assert res["seen_retrieval_a_to_b"] > res["seen_chance"]
    assert 0.2 < res["unseen_chance"] < 0.5 and res["unseen_queries"] > 10


@pytest.mark.parametrize("kwargs, message", [
    (dict(n=1), "n >= 2"), (dict(frac_inh=1.0), "frac_inh"), (dict(connectivity="ring"), "connectivity"),
    (dict(input_p=0.0), "input_p"), (dict(C={"EE": 0.3}), "keys"),
])
def test_bad_reservoir_config(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ReservoirConfig(**kwargs)


def test_bad_lsm_inputs():
    with pytest.raises(ValueError, match="n_inputs"):
        LiquidStateMachine(0)
    with pytest.raises(ValueError, match="frames must be"):
        frames_to_spikes(np.zeros(5), 1e-3)
    lsm = LiquidStateMachine(4, ReservoirConfig(n=20, connectivity="random"))
    with pytest.raises(ValueError, match="spectral radius must be"):
        lsm.scale_spectral_radius(-1.0)
    with pytest.raises(ValueError, match="indices must be in"):
        lsm.run((np.array([0.01]), np.array([4])), 0.05)
    with pytest.raises(ValueError, match="features must be"):
        lsm.transform([], 0.05, features="voltages")
