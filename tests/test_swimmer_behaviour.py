"""The untrained circuit swims: a head-to-tail travelling wave (lag by cross-correlation), the head
period of 60 steps, a return far above zero and random torques on the same episodes, and the
shared-weight circuit runs unmodified on 4 to 10 links. Short episodes (CI)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("dm_control", reason="the swimmer extra is not installed: pip install 'neuro[swimmer]'")

from neuro.models.ncap import NCAPPolicy, SwimmerCircuit, build_policy  # noqa: E402
from neuro.models.ncap.analysis import cross_correlation, dominant_period, lag, wave_lags  # noqa: E402
from neuro.models.ncap.env import SwimmerBatch, rollout  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "swimmer"
SEEDS = [11, 12, 13, 14]


def test_lag_by_cross_correlation_on_known_signals():
    t = np.arange(600)
    a = np.sin(2 * np.pi * t / 60)
    b = np.sin(2 * np.pi * (t - 12) / 60)  # b repeats a 12 steps later
    assert lag(a, b, 30) == 12 and lag(b, a, 30) == -12
    lags, values = cross_correlation(a, a, 5)
    assert values[lags == 0][0] == pytest.approx(1.0)
    assert dominant_period(a) == 60.0
    with pytest.raises(ValueError, match="max_lag"):
        lag(a, b, 600)


@pytest.fixture(scope="module")
def untrained_recording():
    policy = build_policy("ncap", 6)
    return rollout(policy, SEEDS[:2], steps=300, record=True)


def test_untrained_circuit_makes_a_head_to_tail_wave(untrained_recording):
    for b in range(2):
        angles = untrained_recording.joints[60:, b]  # after the start transient
        lags = wave_lags(angles, max_lag=30)
        assert np.all(lags > 0), lags  # joint i lags joint i-1
        assert np.all(lags < 30)
        assert dominant_period(angles[:, 0]) == pytest.approx(60, abs=2)
    head_torque = untrained_recording.actions[:, 0, 0]
    assert dominant_period(head_torque) == 60.0  # the square-wave oscillator drives the head


def test_untrained_return_beats_zero_and_random_torques_fivefold():
    batch = SwimmerBatch(len(SEEDS), "swim", 6)
    returns = {kind: rollout(build_policy(kind, 6, **({"seed": 0} if kind == "random" else {})), SEEDS,
                             steps=200, batch=batch).returns for kind in ("ncap", "zero", "random")}
    assert np.all(returns["ncap"] > 0)
    assert returns["ncap"].mean() >= 5 * returns["zero"].mean()
    assert returns["ncap"].mean() >= 5 * returns["random"].mean()
    assert np.all(returns["ncap"] > returns["random"])  # episode by episode (same start poses)


def _trained_circuit() -> SwimmerCircuit:
    """The committed 6-link ES result (benchmarks/results/swimmer/transfer.json), else constant init."""
    circuit = SwimmerCircuit(5)
    path = RESULTS / "transfer.json"
    if path.is_file():
        weights = json.loads(path.read_text())["weights"]
        with torch.no_grad():
            for role, value in weights.items():
                circuit.params[role].fill_(value)
    return circuit


@pytest.mark.parametrize("n_links", range(4, 11))
def test_transfer_runs_on_4_to_10_links(n_links):
    circuit = _trained_circuit()
    policy = NCAPPolicy(circuit.transfer(n_links - 1))
    run = rollout(policy, [21], steps=150, record=True)
    assert run.returns[0] > 0
    assert policy.circuit.joint_limit == pytest.approx(2 * np.pi / n_links)
    assert np.all(wave_lags(run.joints[30:, 0], max_lag=30) > 0)


def test_committed_transfer_table_matches_its_claims():
    path = RESULTS / "transfer.json"
    if not path.is_file():
        pytest.skip("no committed transfer results (run benchmarks/swimmer_es.py)")
    table = json.loads(path.read_text())
    rows = {row["n_links"]: row for row in table["rows"]}
    assert set(range(4, 11)) <= set(rows)
    assert rows[6]["ratio_to_reference"] == pytest.approx(1.0)
    for row in rows.values():
        assert row["trained_mean"] >= row["untrained_mean"], row["n_links"]
        assert row["ratio_to_reference"] == pytest.approx(row["trained_mean"] / rows[6]["trained_mean"])
