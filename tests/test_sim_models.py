"""Spec neuron models (AdEx, Izhikevich, a user-defined QIF) in the network simulator: the compiled
CPU kernel against the dense torch reference (which runs the trainable modules' torch path), mixed
with LIF populations, and the validation errors.

Weights are multiples of powers of two (``sim_cases.dyadic``) so that every sum of weights is exact
in float64: spike trains must be identical, states equal to rounding.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import neuro.sim as sim
from neuro.kernels.neuron_spec import NeuronSpec
from neuro.sim.groups import SpecPopulation
from sim_cases import dyadic

NEST_RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "spec_nest.json"


# the dense reference does many tiny matmuls: threads only contend on a shared machine
pytestmark = pytest.mark.usefixtures("one_torch_thread")


# The quadratic integrate-and-fire neuron (issue 21's example), defined in a few lines: dimensionless
# membrane, time constant in seconds (p.dt is the step in seconds)
def qif_step(s, x, p):
    return {"v": s.v + p.dt / p.tau * (p.a0 * (s.v - p.v_rest) * (s.v - p.v_c) + x)}


QIF = NeuronSpec(
    "QIF", states={"v": "v_rest"},
    parameters={"tau": 10e-3, "a0": 1.0, "v_rest": 0.0, "v_c": 0.5, "v_th": 1.0, "v_reset": -0.1},
    step=qif_step,
    threshold=lambda s, p: s.v - p.v_th,
    reset=lambda s, p: {"v": p.v_reset},
    positive=("tau",))


SPEC_SIZES = (20, 16, 12, 10, 40)  # L, A, Z, Q, P (A1 is one neuron)
SPEC_SIZES_SMALL = (6, 6, 4, 4, 40)  # the CUDA simulator runs every thread in Python (~3 x faster per step)


def spec_network(backend: str, seed: int = 2, dtype=torch.float64, device: str = "cpu",
                 sizes: tuple[int, int, int, int, int] = SPEC_SIZES):
    """LIF + AdEx + Izhikevich + QIF populations, Poisson and spike-source input, delays,
    refractoriness, per-neuron parameters, delta and exponential channels, every monitor."""
    n_l, n_a, n_z, n_q, n_p = sizes
    net = sim.Network(dt=1e-4, seed=seed, dtype=dtype, backend=backend, device=device)
    L = net.add(sim.Population(n_l, "LIF", tau_mem=10e-3, v_th=1.0, refractory=2e-3,
                               synapses={"exc": 5e-3}, name="L"))
    A = net.add(sim.Population(n_a, "AdEx", params={"a": sim.Uniform(2.0, 6.0), "b": 60.0},
                               init={"v": sim.Uniform(-70.0, -55.0)}, synapses={"exc": 5e-3, "inh": 10e-3},
                               refractory=2e-3, bias=650.0, name="A"))
    Z = net.add(sim.Population(n_z, "Izhikevich", params={"d": np.linspace(2.0, 8.0, n_z)},
                               synapses={"exc": None}, bias=4.0, name="Z"))
    Q = net.add(sim.Population(n_q, QIF, synapses={"exc": 2e-3}, refractory=1e-3, threshold_op=">",
                               name="Q"))
    A1 = net.add(sim.Population(1, "AdEx", bias=1200.0, name="A1"))  # alone: the trainable module's scan
    P = net.add(sim.PoissonInput(n_p, rates=sim.Uniform(50, 200), name="P"))
    G = net.add(sim.SpikeSource(3, times=[0.002, 0.004, 0.01], indices=[0, 1, 2], name="G"))
    net.add(sim.Projection(P, A, sim.FixedProbability(0.3), weight=dyadic(64.0), target="exc",
                           delay=sim.Uniform(0, 2e-3)))
    net.add(sim.Projection(P, Z, sim.FixedProbability(0.3), weight=dyadic(4.0), target="exc"))
    net.add(sim.Projection(P, Q, sim.FixedProbability(0.3), weight=dyadic(8.0), target="exc"))
    net.add(sim.Projection(P, L, sim.FixedProbability(0.3), weight=dyadic(2.0), target="exc"))
    net.add(sim.Projection(L, A, sim.FixedProbability(0.3), weight=dyadic(-32.0), target="inh", delay=1e-3))
    net.add(sim.Projection(A, L, sim.FixedProbability(0.3), weight=dyadic(1.0), target="exc"))
    net.add(sim.Projection(G, Q, sim.AllToAll(), weight=4.0, target="exc"))
    mons = {name: net.add(sim.SpikeMonitor(g)) for name, g in (("L", L), ("A", A), ("Z", Z), ("Q", Q),
                                                                ("A1", A1))}
    mons["sA1"] = net.add(sim.StateMonitor(A1, ["v", "w"]))
    mons["sA"] = net.add(sim.StateMonitor(A, ["v", "w", "g_inh"]))
    mons["sZ"] = net.add(sim.StateMonitor(Z, ["v", "u"], indices=[1, n_z - 1], every=2e-4))
    mons["sQ"] = net.add(sim.StateMonitor(Q, ["v"]))
    mons["sL"] = net.add(sim.StateMonitor(L, ["v", "g_exc"], indices=[0]))
    return net, mons


def test_spec_populations_cpu_kernel_equals_torch_reference():
    runs = {}
    for backend in ("numba", "torch"):
        net, mons = spec_network(backend)
        net.run(0.06, progress=False)
        runs[backend] = (net, mons)
    (_, a), (_, b) = runs["numba"], runs["torch"]
    for name in ("L", "A", "Z", "Q", "A1"):
        assert a[name].num_spikes > 0, name
        np.testing.assert_array_equal(a[name].steps, b[name].steps, err_msg=name)
        np.testing.assert_array_equal(a[name].indices, b[name].indices, err_msg=name)
    for name, variables in (("sA", ("v", "w", "g_inh")), ("sZ", ("v", "u")), ("sQ", ("v",)),
                            ("sL", ("v", "g_exc")), ("sA1", ("v", "w"))):
        for var in variables:
            np.testing.assert_allclose(a[name][var], b[name][var], rtol=1e-9, atol=1e-9,
                                       err_msg=f"{name}.{var}")
    sa, sb = runs["numba"][0].state(), runs["torch"][0].state()
    np.testing.assert_allclose(sa["spec_states"], sb["spec_states"], rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(sa["refractory"], sb["refractory"])
    _assert_follows_trainable_scan(a["A1"], a["sA1"], 1200.0, 600)
    _assert_refractory_holds(a["A"], a["sA"], held=19)


def _assert_refractory_holds(spikes, states, held: int) -> None:
    """After a spike at step k (refractory / dt = held + 1 steps) the voltage stays at V_reset for
    the steps k+1 .. k+held, w keeps evolving, and the next spike is at least held + 1 steps later."""
    checked = 0
    for k, i in zip(spikes.steps, spikes.indices):
        if k + held + 1 < states.v.shape[0]:
            assert (states.v[k + 1:k + held + 1, i] == -60.0).all(), (k, i)
            assert states.v[k + held + 1, i] != -60.0
            assert np.all(np.diff(states.w[k:k + held + 1, i]) != 0)
            checked += 1
    assert checked >= 3
    for i in np.unique(spikes.indices):
        assert np.diff(spikes.steps[spikes.indices == i]).min(initial=held + 1) >= held + 1


def _assert_follows_trainable_scan(spikes, states, bias: float, T: int, dt: float = 1e-4) -> None:
    """Without refractoriness or channels, one AdEx neuron driven by its bias is the spec scan of
    neuro.ops.spec (the trainable modules' path), step for step."""
    from neuro.functional.spec import coefficient_table
    from neuro.kernels.adex_math import ADEX
    from neuro.ops.spec import SpecConfig, spec_scan_reference

    prm = coefficient_table(ADEX, dict(ADEX.parameters), dt, (1,), torch.float64, torch.device("cpu"))
    y0 = torch.tensor([[ADEX.parameters["E_L"]], [0.0]], dtype=torch.float64)
    ref = spec_scan_reference(ADEX, torch.full((T, 1), bias, dtype=torch.float64), prm, y0,
                              SpecConfig(ge=True), dt, record=True)
    steps = torch.nonzero(ref.spikes[:, 0]).flatten().numpy()
    assert len(steps) >= 2
    np.testing.assert_array_equal(spikes.steps, steps)
    np.testing.assert_allclose(states.v[:, 0], ref.rec[0, :, 0].numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(states.w[:, 0], ref.rec[1, :, 0].numpy(), rtol=1e-12, atol=1e-12)


def test_spec_populations_cuda_event_kernel_equals_cpu_kernel(cuda_device):
    """The deterministic CUDA event kernel runs the same generated step: bit-identical. A smaller
    network (every model, channel, delay and monitor kept) for 20 ms: the AdEx neurons first spike
    after ~14 ms (4 spikes), the Izhikevich ones after ~11 ms."""
    runs = {}
    for backend, device in (("numba", "cpu"), ("cuda", cuda_device)):
        net, mons = spec_network(backend, device=device, sizes=SPEC_SIZES_SMALL)
        net.run(0.02, progress=False)
        runs[backend] = mons
    a, b = runs["numba"], runs["cuda"]
    for name in ("L", "A", "Z", "Q"):
        assert a[name].num_spikes >= 3, name
        np.testing.assert_array_equal(a[name].steps, b[name].steps, err_msg=name)
        np.testing.assert_array_equal(a[name].indices, b[name].indices, err_msg=name)
    for name in ("sA", "sZ", "sQ", "sL"):
        for var in a[name].variables:
            np.testing.assert_array_equal(a[name][var], b[name][var], err_msg=f"{name}.{var}")


def test_spec_populations_export_to_nest():
    """The mapping of neuro.sim.nest_models (no NEST needed) and the committed NEST run of
    ``benchmarks/spec_nest.py``: Izhikevich spike trains identical, AdEx spike counts within 10 %."""
    from neuro.sim.nest_export import _map_population

    net = sim.Network(dt=1e-4, seed=0, dtype=torch.float64)
    Z = net.add(sim.Population(3, "Izhikevich", bias=5.0, name="Z"))
    A = net.add(sim.Population(3, "AdEx", bias=500.0, refractory=2e-3, name="A",
                               synapses={"e": sim.Conductance(5e-3, 0.0), "i": sim.Conductance(1e-2, -80.0)}))
    B = net.add(sim.Population(3, "AdEx", name="B"))
    Q = net.add(sim.Population(3, QIF, name="Q"))
    G = net.add(sim.SpikeSource(1, times=[0.01], indices=[0]))
    for pop, target in ((Z, None), (A, "e"), (A, "i"), (B, None), (Q, None)):
        net.add(sim.Projection(G, pop, sim.AllToAll(), weight=1.0, target=target))
    problems, notes = [], []
    z, a, b = (_map_population(net, p, problems, notes, False) for p in (Z, A, B))
    assert (z.model, a.model, b.model) == ("izhikevich", "aeif_cond_exp", "aeif_psc_delta")
    assert (z.params[0]["I_e"], z.params[0]["U_m"], z.params[0]["V_m"]) == (5.0, -13.0, -65.0)
    assert math.isclose(z.factor["input"][0], 0.1) and z.shift["input"] == 1  # h w: one step of input w
    assert (a.params[0]["E_ex"], a.params[0]["E_in"]) == (0.0, -80.0)
    assert math.isclose(a.params[0]["t_ref"], 1.9)  # held R - 1 steps (the LIF export's convention)
    assert a.factor["e"][0] == 1.0 and a.factor["i"][0] == -1.0 and a.params[0]["I_e"] == 500.0
    assert math.isclose(b.factor["input"][0], 0.1 / 281.0) and b.params[0]["V_peak"] == 0.0
    assert _map_population(net, Q, problems, notes, False) is None and "user-defined" in problems[-1]
    with pytest.raises(sim.nest_export.NestExportError, match="RKF45"):
        sim.to_nest(net, strict=True)
    results = json.loads(NEST_RESULTS.read_text())
    groups = results["groups"]
    assert groups["Izhikevich"]["identical"] and groups["Izhikevich"]["neuro_spikes"] > 50
    for key in ("AdEx_cond", "AdEx_delta"):
        g = groups[key]
        assert g["neuro_spikes"] > 50 and abs(g["nest_spikes"] - g["neuro_spikes"]) <= 0.1 * g["neuro_spikes"]


def test_population_makes_spec_populations_and_validates():
    P = sim.Population(4, "Izhikevich", params={"a": 0.1})
    assert isinstance(P, SpecPopulation) and P.variables == ("v", "u", "g_input")
    assert isinstance(sim.Population(3, QIF), SpecPopulation)
    with pytest.raises(TypeError, match="params="):
        sim.Population(4, "AdEx", tau_mem=20e-3)
    with pytest.raises(ValueError, match="no parameter"):
        sim.Population(4, "AdEx", params={"tau": 1.0})
    with pytest.raises(ValueError, match="no state"):
        sim.Population(4, "AdEx", init={"u": 1.0})
    with pytest.raises(ValueError, match="C_m must be > 0"):
        sim.Population(4, "AdEx", params={"C_m": -1.0})
    with pytest.raises(ValueError, match="finite"):
        sim.Population(4, "AdEx", params={"a": float("nan")})
    with pytest.raises(ValueError, match="implausibly long"):
        sim.Population(4, "AdEx", synapses={"exc": 5.0})
    with pytest.raises(ValueError, match="voltage"):
        sim.Population(4, "AdEx", voltage="x")
    with pytest.raises(ValueError, match="millivolts"):
        sim.Population(4, "AdEx", params={"E_L": -70e-3})
    with pytest.raises(ValueError, match="time_unit"):
        sim.Population(4, "Izhikevich", params={"time_unit": 1.0e3})
    with pytest.raises(ValueError, match="one of"):
        SpecPopulation(4, "Hodgkin")
    net = sim.Network(dt=1e-4)
    net.add(sim.Population(4, "AdEx", name="adex"))
    with pytest.raises(NotImplementedError, match="adex use spec neuron models.*kernel='events'"):
        net.compiled.require_lif_only("the atomic CUDA kernel")  # what CudaRunner(kernel="atomic") calls
    net = sim.Network(dt=1e-4)
    net.add(sim.Population(4, QIF, name="qif"))
    net.add(sim.Population(2, "LIF", synapses={"e": sim.Conductance(5e-3, E=0.0), "c": 5e-3}, name="coba"))
    net.add(sim.Projection(net._groups[1], net._groups[1], sim.AllToAll(), weight=1.0, target="c"))
    with pytest.raises(sim.nest_export.NestExportError, match=r"'qif' \(QIF\): a user-defined(.|\n)*'coba'"):
        sim.to_nest(net)  # both named before NEST is imported
