"""Liquids on temporal tasks: stream features, the synapse-model hook, baselines, the comparison and
the tuning measures (small sizes; the numbers come from benchmarks/lsm_temporal.py and lsm_tuning.py)."""

import math

import numpy as np
import pytest
import torch

import neuro.models.lsm as lsm_module
from neuro.models.lsm import MAASS_STP, LiquidStateMachine, ReservoirConfig, stream_traces, window_counts
from neuro.models.lsm_temporal import ComparisonConfig, compare_on_task, higher_is_better
from neuro.models.lsm_tuning import MeasureConfig, measure_liquid, rank_streams
from neuro.models.reservoir_baselines import (
    EchoStateNetwork,
    history_windows,
    train_lstm_readout,
    window_means,
)
from neuro.tasks.reservoir_tasks import delayed_pattern_task, narma_task, order_task


def test_window_counts_match_a_direct_count():
    rng = np.random.default_rng(0)
    steps, idx = rng.integers(0, 100, 400), rng.integers(0, 7, 400)
    readouts = np.array([10, 33, 34, 100])
    got = window_counts(steps, idx, 7, readouts, lookback=10, windows=3)
    for k, r in enumerate(readouts):
        edges = r - 10 + (np.arange(4) * 10) // 3
        for w in range(3):
            for c in range(7):
                expect = np.count_nonzero((steps >= edges[w]) & (steps < edges[w + 1]) & (idx == c))
                assert got[k, w * 7 + c] == expect
    with pytest.raises(ValueError, match="windows"):
        window_counts(steps, idx, 7, readouts, lookback=2, windows=3)


def test_stream_traces_are_filtered_spike_trains():
    steps, idx = np.array([0, 3, 3, 8]), np.array([1, 0, 1, 0])
    got = stream_traces(steps, idx, 2, np.array([2, 3, 10]), tau_steps=4.0)
    e = lambda d: math.exp(-d / 4.0)  # noqa: E731
    expect = [[0, e(2)], [1, e(3) + 1], [e(7) + e(2), e(10) + e(7)]]
    np.testing.assert_allclose(got, expect, rtol=1e-6)


def test_synapse_model_reaches_every_projection(monkeypatch):
    """``synapse(pair)`` adds keyword arguments to each projection (the route for STP, issue 21)."""
    seen = []

    class Recording(lsm_module.sim.Projection):
        def __init__(self, *args, stp=None, **kwargs):
            seen.append((kwargs["name"], stp))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(lsm_module.sim, "Projection", Recording)
    LiquidStateMachine(4, ReservoirConfig(n=20, connectivity="random"),
                       synapse=lambda pair: {"stp": MAASS_STP.get(pair)})
    assert dict(seen) == {"E->E": MAASS_STP["EE"], "E->I": MAASS_STP["EI"], "I->E": MAASS_STP["IE"],
                          "I->I": MAASS_STP["II"], "in->E": None, "in->I": None}


def test_synapse_model_errors():
    cfg = ReservoirConfig(n=20, connectivity="random")
    with pytest.raises(ValueError, match="may not override"):
        LiquidStateMachine(4, cfg, synapse=lambda pair: {"weight": 1.0})
    with pytest.raises(TypeError, match="synapse must be"):
        LiquidStateMachine(4, cfg, synapse={"EE": 1})
    # a keyword the simulator does not know: the error names the synapse model
    with pytest.raises(TypeError, match="synapse\\('EE'\\) returned \\['no_such_option'\\]"):
        LiquidStateMachine(4, cfg, synapse=lambda pair: {"no_such_option": 1})
    a = LiquidStateMachine(4, cfg, synapse=lambda pair: None).recurrent_matrix()
    np.testing.assert_array_equal(a, LiquidStateMachine(4, cfg).recurrent_matrix())


def test_inhibition_scale_scales_only_inhibitory_weights():
    lsm = LiquidStateMachine(4, ReservoirConfig(n=50, connectivity="random", p=0.3, seed=2))
    w0 = lsm.recurrent_matrix()
    lsm.set_scale(2.0)
    lsm.set_inhibition_scale(3.0)
    w = lsm.recurrent_matrix()
    n_exc = lsm.n_exc
    np.testing.assert_allclose(w[:, :n_exc], 2.0 * w0[:, :n_exc], rtol=1e-6)
    np.testing.assert_allclose(w[:, n_exc:], 6.0 * w0[:, n_exc:], rtol=1e-6)
    with pytest.raises(ValueError, match="inhibition scale"):
        lsm.set_inhibition_scale(-1.0)


def test_echo_state_network_by_hand():
    esn = EchoStateNetwork(30, 3, spectral_radius=0.8, input_scale=0.5, leak=0.5, seed=1)
    assert np.abs(np.linalg.eigvals(esn.w)).max() == pytest.approx(0.8)
    u = np.random.default_rng(0).random((6, 3))
    x, expect = np.zeros(30), []
    for t in range(6):
        x = 0.5 * x + 0.5 * np.tanh(esn.w @ x + esn.w_in @ u[t] + esn.b)
        expect.append(x)
    np.testing.assert_allclose(esn.run(u), expect, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="leak"):
        EchoStateNetwork(10, 1, leak=0.0)


def test_window_means_and_history_windows():
    states = np.arange(20, dtype=float).reshape(10, 2)
    got = window_means(states, np.array([4, 10]), lookback_bins=4, windows=2)
    np.testing.assert_allclose(got, [[1, 2, 5, 6], [13, 14, 17, 18]])
    hist = history_windows(states, np.array([1, 10]), 3)
    np.testing.assert_array_equal(hist[0], [[0, 0], [0, 0], [0, 1]])
    np.testing.assert_array_equal(hist[1], states[7:10])


def test_lstm_readout_learns_to_remember():
    """The label is the channel that fired in the first step of a 6-step window: it needs memory."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    x = (rng.random((300, 6, 2)) < 0.1).astype(np.float32)
    x[:, 0] = 0
    x[np.arange(300), 0, y] = 1
    rows = np.arange(300)
    res = train_lstm_readout(x, y, "classification", rows[:200], rows[200:250], rows[250:], hidden=8,
                             epochs=15, lr=1e-2, seed=0)
    assert res["test"] > 0.9 and res["parameters"] == 4 * 8 * (2 + 8 + 2) + 8 * 2 + 2


@pytest.fixture(scope="module")
def recall_result():
    torch.manual_seed(0)
    task = delayed_pattern_task("recall", 1, n_segments=500, seed=0)
    config = ComparisonConfig(n=120, reservoir=ReservoirConfig(n=120, bias=0.0), lsm_grid=((1.0, 0.5),),
                              esn_grid=((0.9, 0.3, 1.0),), lstm_epochs=3)
    return compare_on_task(task, seed=0, config=config, methods=("lsm", "raw", "raw_history", "esn"))


def test_liquid_remembers_what_the_raw_window_cannot(recall_result):
    """Recall of the previous segment's template: the current input window is at chance, the
    liquid's fading memory carries the previous segment (full numbers: benchmarks/lsm_temporal.py)."""
    r = recall_result
    assert r["lsm"]["features"] == r["raw"]["features"] == r["raw_history"]["features"] == 120
    assert r["raw"]["windows"] == 3 and r["raw_history"]["span"] == 60
    assert r["raw"]["test"] < 0.65
    assert r["lsm"]["test"] > 0.85 and r["raw_history"]["test"] > 0.85
    assert 1.0 < r["lsm"]["rate_hz"] < 150.0


def test_comparison_errors():
    task = delayed_pattern_task("recall", 1, n_segments=50, seed=0)
    with pytest.raises(ValueError, match="multiple"):
        compare_on_task(task, config=ComparisonConfig(n=30, reservoir=ReservoirConfig(n=30)))
    with pytest.raises(ValueError, match="unknown methods"):
        compare_on_task(task, methods=("svm",))
    with pytest.raises(ValueError, match="differs"):
        ComparisonConfig(n=30)


def test_measure_liquid_on_a_small_reservoir():
    m = MeasureConfig(n_values=300, max_delay=4, rank_streams=30, rank_steps=100, perturbations=2)
    cfg = ReservoirConfig(n=80, bias=0.0)
    quiet = measure_liquid(20, cfg, 1.5, 0.25, m)
    assert len(quiet["memory_curve"]) == 5 and quiet["mc"] == pytest.approx(sum(quiet["memory_curve"][1:]))
    assert 0 < quiet["rate_hz"] < 150 and quiet["persistent_rate_hz"] == 0.0
    assert 0 <= quiet["generalization_rank"] < quiet["kernel_quality"] <= 30
    assert quiet["mc0"] > 0.15  # a readout of noise scores about 1 / (test steps) = 0.01
    loud = measure_liquid(20, cfg, 1.5, 8.0, m)  # static excitation this strong ignites itself
    assert loud["persistent_rate_hz"] > 50.0 and loud["spectral_radius"] > quiet["spectral_radius"]
    streams = rank_streams(5, 3, 50, 40.0, 1e-3, jitter=None, seed=0)
    assert len(streams) == 3 and not np.array_equal(streams[0][0], streams[1][0])


def test_comparison_regression_and_lstm_paths():
    """NARMA (regression: NRMSE, lower is better) with the ESN and the raw history; the order task
    (a stream whose length is no multiple of the LSTM's bin) with the trained LSTM."""
    config = ComparisonConfig(n=80, reservoir=ReservoirConfig(n=80, bias=0.0), esn_grid=((0.9, 0.3, 0.3),),
                              lstm_hidden=8, lstm_epochs=2)
    narma = narma_task(n_values=300, washout=20, seed=0)
    r = compare_on_task(narma, seed=0, config=config, methods=("raw_history", "esn"))
    assert set(r) == {"task", "raw_history", "esn"} and r["task"]["kind"] == "regression"
    assert r["raw_history"]["features"] == r["esn"]["features"] == 80
    for m in ("raw_history", "esn"):
        assert 0.0 < r[m]["test"] < 1.2 and np.isfinite(r[m]["val"])  # NRMSE; 1.0 = predicting the mean
    assert not higher_is_better("regression") and higher_is_better("classification")
    order = order_task(n_words=120, seed=0)
    r = compare_on_task(order, seed=0, config=config, methods=("raw", "lstm"))
    lstm = r["lstm"]
    assert lstm["bin_steps"] == 5 and lstm["history_bins"] == -(-(order.memory + order.lookback) // 5)
    assert 0.0 <= lstm["test"] <= 1.0 and lstm["parameters"] == 4 * 8 * (40 + 8 + 2) + 8 * 6 + 6
