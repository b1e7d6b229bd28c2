"""Diehl & Cook's (2015) adaptive threshold as a Population option (``sim.AdaptiveThreshold``).

theta jumps by theta_plus at each spike and decays with tau_theta; the threshold of a step uses
theta decayed to that step (Brian2's order: state update, threshold, reset). Checked against the
closed form, a plain-Python loop in Brian2's order, across backends and dtypes, and for its errors.
"""

import math

import numpy as np
import pytest
import torch

from neuro import sim

# the dense torch reference does many tiny ops: a second torch thread only contends on a shared
# 2-core machine (measured 4 x slower with two under load)
pytestmark = pytest.mark.usefixtures("one_torch_thread")

DT = 0.5e-3
LIF = dict(tau_mem=20e-3, v_th=-52e-3, v_reset=-65e-3, v_leak=-65e-3)


def _driven(theta_plus=0.05e-3, tau_theta=50e-3, bias=(16e-3, 20e-3, 30e-3), dtype=torch.float64,
            backend="numba", theta_init=0.0, keep=False, refractory=0.0):
    """Three LIF neurons under constant currents (volts, r = 1) with an adaptive threshold."""
    net = sim.Network(dt=DT, dtype=dtype, backend=backend)
    option = sim.AdaptiveThreshold(theta_plus=theta_plus, tau_theta=tau_theta, theta_init=theta_init,
                                   keep_on_reset=keep)
    pop = net.add(sim.Population(len(bias), "LIF", **LIF, bias=np.array(bias), refractory=refractory,
                                 adaptive_threshold=option, name="E"))
    return net, pop


def _closed_form(steps, spike_steps, theta_plus, tau_theta, theta0=0.0):
    """theta after each recorded step k: theta0 e^{-(k+1) dt/tau} + theta_plus sum_{k_j <= k} e^{-(k - k_j)
    dt/tau} (spike steps k_j)."""
    out = np.empty(len(steps))
    for r, k in enumerate(steps):
        past = spike_steps[spike_steps <= k]
        out[r] = (theta0 * math.exp(-(k + 1) * DT / tau_theta)
                  + theta_plus * np.exp(-(k - past) * DT / tau_theta).sum())
    return out


@pytest.mark.parametrize("tau_theta", [50e-3, 1e4])  # a visible decay, and Diehl & Cook's 1e7 ms
def test_theta_equals_the_closed_form(tau_theta):
    net, pop = _driven(tau_theta=tau_theta, theta_init=np.array([0.0, 1e-3, 2e-3]))
    other = net.add(sim.Population(2, "LIF", **LIF, bias=20e-3, name="plain"))
    net.add(sim.StateMonitor(other, ["v"]))  # columns before the theta monitor's
    mon = net.add(sim.StateMonitor(pop, ["v", "theta", "a"]))
    spikes = net.add(sim.SpikeMonitor(pop))
    net.run(0.4, progress=False)
    assert spikes.num_spikes > 30
    for j, theta0 in enumerate((0.0, 1e-3, 2e-3)):
        expected = _closed_form(mon.steps, spikes.steps[spikes.indices == j], 0.05e-3, tau_theta, theta0)
        np.testing.assert_allclose(mon.theta[:, j], expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(net.state()["theta"][:3], mon.theta[-1])
    assert np.isnan(net.state()["theta"][3:]).all()  # the population without the option


def test_threshold_follows_brian2_order():
    """A plain loop in Brian2's order (decay theta and integrate v; v > v_th + theta; reset v, theta +=
    theta_plus) gives the same spikes and theta."""
    theta_plus, tau_theta, steps = 0.5e-3, 30e-3, 1200
    net, pop = _driven(theta_plus=theta_plus, tau_theta=tau_theta)
    mon = net.add(sim.StateMonitor(pop, ["theta"]))
    spikes = net.add(sim.SpikeMonitor(pop))
    net.run(steps * DT, progress=False)
    beta, rho = math.exp(-DT / LIF["tau_mem"]), math.exp(-DT / tau_theta)
    for j, bias in enumerate((16e-3, 20e-3, 30e-3)):
        v, theta, fired, thetas = LIF["v_leak"], 0.0, [], []
        for k in range(steps):
            v = beta * v + (1 - beta) * (LIF["v_leak"] + bias)
            theta *= rho
            if v > LIF["v_th"] + theta:
                v, theta = LIF["v_reset"], theta + theta_plus
                fired.append(k)
            thetas.append(theta)
        np.testing.assert_array_equal(spikes.steps[spikes.indices == j], fired)
        np.testing.assert_allclose(mon.theta[:, j], thetas, rtol=1e-12)


def test_threshold_rises_under_constant_current():
    net, pop = _driven(theta_plus=0.5e-3, tau_theta=1e4, bias=(30e-3, 40e-3))
    spikes = net.add(sim.SpikeMonitor(pop))
    plain = net.add(sim.Population(1, "LIF", **LIF, bias=30e-3, name="plain"))  # no adaptive threshold
    ref = net.add(sim.SpikeMonitor(plain))
    net.run(1.0, progress=False)
    for j in range(2):
        isi = np.diff(spikes.steps[spikes.indices == j])
        assert isi.size > 10 and (np.diff(isi) >= 0).all() and isi[-1] > 2 * isi[0]
    assert np.ptp(np.diff(ref.steps)) <= 1 and ref.num_spikes > 2 * np.sum(spikes.indices == 0)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_numba_and_torch_backends_agree(dtype):
    runs = []
    for backend in ("numba", "torch"):
        net = sim.Network(dt=DT, dtype=dtype, backend=backend, seed=3)
        src = net.add(sim.PoissonInput(40, rates=40.0))
        option = sim.AdaptiveThreshold(theta_plus=1e-3, tau_theta=1.0)  # float32 resolves 1 - rho = 5e-4
        pop = net.add(sim.Population(20, "LIF", **LIF, synapses={"exc": 5e-3}, refractory=5e-3, name="E",
                                     bias=np.linspace(0, 1e-3, 20), adaptive_threshold=option))
        net.add(sim.Projection(src, pop, sim.FixedProbability(0.5), weight=4e-3, target="exc"))
        spikes, mon = net.add(sim.SpikeMonitor(pop)), net.add(sim.StateMonitor(pop, ["theta"], every=5e-3))
        net.run(0.5, progress=False)
        runs.append((spikes.steps, spikes.indices, mon.theta))
    assert runs[0][0].size > 100
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    np.testing.assert_array_equal(runs[0][2], runs[1][2])


@pytest.mark.parametrize("keep", [False, True])
def test_reset_keeps_theta_only_when_asked(keep):
    net, pop = _driven(keep=keep, tau_theta=1e4, theta_init=1e-3)
    net.run(0.2, progress=False)
    before = net.state()["theta"].copy()
    assert (before > 1.1e-3).all()
    net.reset()
    state = net.state()
    np.testing.assert_array_equal(state["theta"], before if keep else np.full(3, state["theta"][0]))
    if not keep:
        np.testing.assert_allclose(state["theta"], 1e-3, rtol=1e-12)
    np.testing.assert_array_equal(state["v"], LIF["v_leak"])


def test_float32_cannot_resolve_diehl_cook_decay():
    net, _ = _driven(tau_theta=1e4, dtype=torch.float32)
    with pytest.raises(ValueError, match=r"E\.adaptive_threshold: tau_theta = 10000 s.*float32.*float64"):
        net.run(0.01, progress=False)
    assert _driven(tau_theta=1e4)[0].compiled.theta_scale[0] == pytest.approx(1e3)  # float64 resolves it


def test_validation_errors_name_the_argument():
    with pytest.raises(ValueError, match="theta_plus"):
        sim.AdaptiveThreshold(theta_plus=0.0, tau_theta=1.0)
    with pytest.raises(ValueError, match="tau_theta"):
        sim.AdaptiveThreshold(theta_plus=1e-3, tau_theta=float("nan"))
    with pytest.raises(ValueError, match="keep_on_reset"):
        sim.AdaptiveThreshold(theta_plus=1e-3, tau_theta=1.0, keep_on_reset=1)
    option = sim.AdaptiveThreshold(theta_plus=0.05e-3, tau_theta=1e4)  # Diehl & Cook's 1e7 ms is allowed
    sim.Population(2, "LIF", **LIF, adaptive_threshold=option)
    with pytest.raises(ValueError, match=r"adaptive_threshold.*ALIF.*tau_adapt"):
        sim.Population(2, "ALIF", adaptive_threshold=option)
    with pytest.raises(ValueError, match="theta_init"):
        sim.Population(2, "LIF", a_init=0.1, adaptive_threshold=option)
    with pytest.raises(ValueError, match=r"adaptive_threshold\.theta_init"):
        sim.Population(2, "LIF", adaptive_threshold=sim.AdaptiveThreshold(1e-3, 1.0, theta_init=np.ones(3)))
    with pytest.raises(TypeError, match="adaptive_threshold"):
        sim.Population(2, "LIF", adaptive_threshold=0.05e-3)
    with pytest.raises(ValueError, match=r"tau_theta = 1e\+07 s is implausibly long"):  # ms as seconds
        sim.Population(2, "LIF", **LIF, adaptive_threshold=sim.AdaptiveThreshold(0.05e-3, 1e7))
    with pytest.raises(ValueError, match="theta_plus = 50 V"):
        sim.Population(2, "LIF", **LIF, adaptive_threshold=sim.AdaptiveThreshold(50.0, 1.0))
    with pytest.raises(TypeError, match="adaptive_threshold"):
        sim.Population(2, "AdEx", adaptive_threshold=option)
    with pytest.raises(ValueError, match="theta"):
        sim.StateMonitor(sim.Population(2, "LIF"), ["theta"])


def test_nest_export_refuses_the_adaptive_threshold():
    from neuro.sim.nest_export import NestExportError

    net, _ = _driven()
    with pytest.raises(NestExportError, match=r"'E'.*adaptive_threshold"):
        sim.to_nest(net)


def test_equals_the_committed_brian2_run():
    """Brian2's spikes and theta (committed by ``benchmarks/adaptive_threshold_brian2.py``): identical
    spike steps, theta within 1e-15 V at every step (float64)."""
    import json
    import sys
    from pathlib import Path

    bench = Path(__file__).resolve().parents[1] / "benchmarks"
    sys.path.insert(0, str(bench))
    try:
        from adaptive_threshold_brian2 import neuro_run
    finally:
        sys.path.remove(str(bench))
    committed = json.loads((bench / "results" / "adaptive_threshold_brian2.json").read_text())
    steps, theta = neuro_run(committed["protocol"])
    assert steps == committed["brian2"]["spike_steps"]
    assert sum(map(len, steps)) > 80
    np.testing.assert_allclose(theta, np.asarray(committed["brian2"]["theta"]), rtol=0, atol=1e-15)
