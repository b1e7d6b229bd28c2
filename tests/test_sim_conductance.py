"""Conductance-based synapses in the simulator: the integration scheme by hand, the CPU kernel
against the torch reference (LIF and AdEx populations), validation, and the COBA benchmark against
Brian2 (``benchmarks/results/coba_brian2.json``, written by ``benchmarks/coba_brian2.py``; Brian2
runs in its own interpreter, so CI reads the recorded run and checks one seed live).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import neuro.sim as sim
from neuro.sim.examples import COBA, coba
from neuro.sim.stats import isi_cv
from sim_cases import dyadic

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "coba_brian2.json"


# the dense reference does many tiny matmuls: threads only contend on a shared machine
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_conductance_step_by_hand():
    """One LIF neuron, conductance channels, one input spike: the documented scheme
    ``v_t = beta v + (1 - beta) (v_leak + r (bias + g~ (E - v)))``, ``g <- alpha g~``. (The
    structure of the COBA network, whose live check below then reuses the compiled kernel.)"""
    dt, tau_m, tau_g, E, w, bias, v_leak = 1e-4, 20e-3, 5e-3, 0.0, 0.25, 2e-3, -60e-3
    net = sim.Network(dt=dt, seed=0, dtype=torch.float64)
    P = net.add(sim.Population(1, "LIF", tau_mem=tau_m, v_th=1.0, v_leak=v_leak, bias=bias,
                               synapses={"exc": sim.Conductance(tau_g, E=E),
                                         "inh": sim.Conductance(1e-2, E=-1)}))
    G = net.add(sim.SpikeSource(1, times=[0.0], indices=[0]))
    net.add(sim.Projection(G, P, sim.AllToAll(), weight=w, target="exc"))
    m = net.add(sim.StateMonitor(P, ["v", "g_exc"]))
    net.run(50 * dt, progress=False)
    beta, alpha = math.exp(-dt / tau_m), math.exp(-dt / tau_g)
    v, g, vs = v_leak, 0.0, []
    for t in range(50):
        g_t = g + (w if t == 1 else 0.0)  # a spike at step 0 arrives at step 1
        v = beta * v + (1 - beta) * (bias + g_t * (E - v)) + (1 - beta) * v_leak
        g = alpha * g_t
        vs.append(v)
    np.testing.assert_allclose(m.v[:, 0], vs, rtol=1e-12, atol=1e-15)
    assert m.v[:, 0].max() < E and m.v[5, 0] > m.v[0, 0]


def cond_network(backend: str, seed: int = 4, device: str = "cpu", alpha: bool = False, n: int = 80):
    """A small COBA-like LIF network, an AdEx population with conductances in nS and mV, and a
    current channel next to the conductances; weights are dyadic (exact sums). With ``alpha``
    some channels are alpha-shaped, and one neuron ``S`` gets a single spike through one. ``n``: LIF
    neurons (the first 4/5 excitatory)."""
    net = sim.Network(dt=1e-4, seed=seed, dtype=torch.float64, backend=backend, device=device)
    shape = "alpha" if alpha else "exp"
    P = net.add(sim.Population(n, "LIF", tau_mem=20e-3, v_th=-50e-3, v_reset=-60e-3, v_leak=-60e-3,
                               bias=20e-3, refractory=5e-3, v_init=sim.Uniform(-60e-3, -50e-3),
                               synapses={"exc": sim.Conductance(5e-3, E=0.0),
                                         "inh": sim.Conductance(10e-3, E=-80e-3, shape=shape), "cur": 2e-3},
                               name="P"))
    A = net.add(sim.Population(10, "AdEx", synapses={"exc": sim.Conductance(5e-3, E=0.0, shape=shape),
                                                     "inh": sim.Conductance(10e-3, E=-80.0)},
                               bias=500.0, refractory=2e-3, name="A"))
    X = net.add(sim.PoissonInput(20, rates=100.0, name="X"))
    n_e = n * 4 // 5
    net.add(sim.Projection(P[:n_e], P, sim.FixedProbability(0.1), weight=dyadic(0.5), target="exc"))
    net.add(sim.Projection(P[n_e:], P, sim.FixedProbability(0.1), weight=dyadic(4.0), target="inh",
                           delay=1e-3))
    net.add(sim.Projection(X, P, sim.FixedProbability(0.2), weight=2.0 ** -8, target="cur"))
    net.add(sim.Projection(X, A, sim.FixedProbability(0.5), weight=dyadic(4.0), target="exc"))
    net.add(sim.Projection(P[n_e:], A, sim.FixedProbability(0.3), weight=dyadic(8.0), target="inh"))
    if alpha:
        S = net.add(sim.Population(1, "LIF", v_th=1.0, name="S",
                                   synapses={"exc": sim.Conductance(2e-3, E=0.5, shape="alpha")}))
        G = net.add(sim.SpikeSource(1, times=[0.0], indices=[0], name="G"))
        net.add(sim.Projection(G, S, sim.AllToAll(), weight=0.5, target="exc"))
    mons = {"P": net.add(sim.SpikeMonitor(P)), "A": net.add(sim.SpikeMonitor(A)),
            "sP": net.add(sim.StateMonitor(P, ["v", "g_exc", "g_inh"], indices=[0, 7])),
            "sA": net.add(sim.StateMonitor(A, ["v", "w", "g_inh"], indices=[2]))}
    if alpha:
        mons["sS"] = net.add(sim.StateMonitor(S, ["v", "g_exc"]))
    return net, mons


@pytest.mark.parametrize("alpha", [False, True], ids=["exp", "alpha"])
def test_conductance_cpu_kernel_equals_torch_reference(alpha):
    runs = {}
    for backend in ("numba", "torch"):
        net, mons = cond_network(backend, alpha=alpha)
        net.run(0.05, progress=False)
        runs[backend] = mons
    a, b = runs["numba"], runs["torch"]
    for name in ("P", "A"):
        assert a[name].num_spikes > 0, name
        np.testing.assert_array_equal(a[name].steps, b[name].steps, err_msg=name)
        np.testing.assert_array_equal(a[name].indices, b[name].indices, err_msg=name)
    for name in ("sP", "sA", "sS") if alpha else ("sP", "sA"):
        for var in a[name].variables:
            np.testing.assert_allclose(a[name][var], b[name][var], rtol=1e-9, atol=1e-12,
                                       err_msg=f"{name}.{var}")
    if alpha:  # one spike of weight w: g(t) = w (t / tau) e^(1 - t / tau) at the step times, peak w at tau
        g, v = a["sS"].g_exc[:100, 0], a["sS"].v[:100, 0]
        t = np.arange(100) * 1e-4  # the spike of step 0 arrives at step 1; row k holds g after step k
        np.testing.assert_allclose(g, 0.5 * (t / 2e-3) * np.exp(1 - t / 2e-3), rtol=1e-12, atol=1e-15)
        assert abs(g[20] - 0.5) < 1e-12 and v[1] == v[0] < v[2]


@pytest.mark.parametrize("alpha", [False, True], ids=["exp", "alpha"])
def test_conductance_cuda_event_kernel_equals_cpu_kernel(cuda_device, alpha):
    """40 LIF neurons for 10 ms (the CUDA simulator runs every thread in Python): ~35 spikes, every
    channel of the monitored neurons driven."""
    runs = {}
    for backend, device in (("numba", "cpu"), ("cuda", cuda_device)):
        net, mons = cond_network(backend, device=device, alpha=alpha, n=40)
        net.run(0.01, progress=False)
        runs[backend] = mons
    a, b = runs["numba"], runs["cuda"]
    assert a["P"].num_spikes > 20
    assert all(np.count_nonzero(a["sP"][var]) > 50 for var in ("g_exc", "g_inh"))
    for name in ("P", "A"):
        np.testing.assert_array_equal(a[name].steps, b[name].steps, err_msg=name)
        np.testing.assert_array_equal(a[name].indices, b[name].indices, err_msg=name)
    for name in ("sP", "sA"):
        for var in a[name].variables:
            np.testing.assert_array_equal(a[name][var], b[name][var], err_msg=f"{name}.{var}")


def test_conductance_validation():
    with pytest.raises(ValueError, match="tau must be > 0"):
        sim.Conductance(0.0, E=0.0)
    with pytest.raises(ValueError, match="finite"):
        sim.Conductance(5e-3, E=float("nan"))
    with pytest.raises(ValueError, match="shape"):
        sim.Conductance(5e-3, E=0.0, shape="beta")
    with pytest.raises(ValueError, match="CubaLIF"):
        sim.Population(3, "CubaLIF", synapses={"exc": sim.Conductance(5e-3, E=0.0)})
    with pytest.raises(ValueError, match="decay_input"):
        sim.Population(3, "LIF", decay_input=False, synapses={"exc": sim.Conductance(5e-3, E=0.0)})
    with pytest.raises(ValueError, match="voltage"):
        sim.Population(3, "AdEx", voltage=None, synapses={"exc": sim.Conductance(5e-3, E=0.0)})
    with pytest.raises(ValueError, match="implausibly long"):
        sim.Population(3, "LIF", synapses={"exc": sim.Conductance(5.0, E=0.0)})
    pop = sim.Population(3, "LIF", synapses={"exc": sim.Conductance(5e-3, E=0.0), "d": None})
    assert pop.synapses == {"exc": 5e-3, "d": 0.0} and pop.reversal == {"exc": 0.0}


def test_coba_matches_brian2_statistics():
    """The committed COBA run (10 seeds): neuro's mean rate and ISI CV within 10 % of Brian2's; and
    a live run of seed 1 reproduces the committed neuro figures."""
    results = json.loads(RESULTS.read_text())
    brian2 = results["brian2"]
    assert brian2["version"].startswith("brian2 2.") and brian2["seeds"] >= 5
    for key in ("neuro_float32", "neuro_float64"):
        ours = results[key]
        assert ours["vs_brian2"]["ok"], (key, ours["vs_brian2"])
        assert abs(ours["rate_mean_hz"] - brian2["rate_mean_hz"]) <= 0.10 * brian2["rate_mean_hz"]
        assert abs(ours["isi_cv_mean"] - brian2["isi_cv_mean"]) <= 0.10 * brian2["isi_cv_mean"]
    assert COBA["we"] == 0.6 and COBA["wi"] == 6.7 and COBA["El"] == -60e-3
    c = coba(seed=1, dtype=torch.float64)
    c.net.run(1.0, progress=False)
    recorded = results["neuro_float64"]["runs"][0]
    assert recorded["seed"] == 1
    rate, cv = c.rate.mean_rate(), isi_cv(c.spikes.times, c.spikes.indices)
    assert abs(rate - recorded["rate_hz"]) <= 0.02 * recorded["rate_hz"], (rate, recorded)
    assert abs(cv - recorded["isi_cv"]) <= 0.02 * recorded["isi_cv"], (cv, recorded)
    assert abs(rate - brian2["rate_mean_hz"]) <= 0.15 * brian2["rate_mean_hz"]


def test_coba_exports_to_nest_iaf_cond_exp():
    """The mapping (no NEST needed): ``iaf_cond_exp`` with ``g_L = C_m / tau_m``, the higher reversal
    potential as ``g_ex``, weights in nS (negative onto ``g_in``); and the committed run of the
    exported network in NEST (``benchmarks/coba_brian2.py --nest``, 10 seeds) within 10 % of neuro's
    rate and ISI CV."""
    from neuro.sim.nest_export import _map_population

    c = coba(n=40, p=0.1)
    problems, notes = [], []
    pmap = _map_population(c.net, c.population, problems, notes, strict=False)
    assert problems == [] and pmap.model == "iaf_cond_exp" and "iaf_cond_exp" in notes[0]
    p0 = pmap.params[0]
    assert (p0["E_ex"], p0["E_in"], p0["tau_syn_ex"], p0["tau_syn_in"]) == (0.0, -80.0, 5.0, 10.0)
    assert "tau_m" not in p0 and math.isclose(p0["C_m"] / p0["g_L"], 20.0)
    assert math.isclose(p0["I_e"], 20e-3 * 1e12)
    assert math.isclose(pmap.factor["exc"][0], 1e9) and math.isclose(pmap.factor["inh"][0], -1e9)
    with pytest.raises(sim.nest_export.NestExportError, match="statistically equivalent"):
        sim.to_nest(c.net, strict=True)
    nest = json.loads(RESULTS.read_text()).get("nest")
    assert nest is not None and nest["version"].startswith("NEST 3") and nest["seeds"] >= 5
    assert nest["vs_neuro_float64"]["ok"], nest["vs_neuro_float64"]
