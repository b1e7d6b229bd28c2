"""Pair-based STDP compiled into the simulation kernels (``backend="numba"``, and the deterministic CUDA
event kernel, ``backend="cuda"``; issue 21 section 1).

The dense torch runner (``neuro.sim.plastic_runner``) is the reference:

* the spike-pair protocol of every rule variant (additive / multiplicative x all / nearest) gives the
  same weights (float64, rtol 1e-12), and the committed Brian2 results hold for the kernel too;
* a Poisson-driven network with heterogeneous delays, a recurrent plastic projection, static
  projections and a spike generator: identical spike trains and final weights (rtol 1e-12, float64;
  the kernel decays traces event-driven, so the weights agree to rounding, not bit for bit); float32
  spike trains identical on the same network;
* weights between runs (``proj.weights``, ``set_weights``, ``WeightMonitor``), reset (weights kept,
  traces cleared), and the errors for rules and backends the kernels do not compile;
* the CUDA event kernel equals the CPU kernel bit for bit (spikes, weights, state; float32 and
  float64; on a GPU, or under ``NUMBA_ENABLE_CUDASIM=1``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import neuro.sim as sim
from plasticity_cases import UnknownRule

# the dense torch reference does many tiny ops: a second torch thread only contends on a shared
# 2-core machine (measured 4 x slower with two under load)
pytestmark = pytest.mark.usefixtures("one_torch_thread")

DT = 1e-4
W0 = 0.5e-3
VARIANTS = [(wd, pairing) for wd in ("additive", "multiplicative") for pairing in ("all", "nearest")]


def _pair_protocol(backend: str, rule: sim.STDP, pre_steps: list, post_steps: list, delays: np.ndarray,
                   dtype: torch.dtype = torch.float64):
    """Independent pre -> post pairs: pre spikes at ``pre_steps[j]``, post neuron ``j`` made to spike
    at ``post_steps[j]`` by a 30 mV driver. Returns (final weights, post spike steps, indices)."""
    n = len(pre_steps)
    net = sim.Network(dt=DT, dtype=dtype, backend=backend)
    idx = np.concatenate([np.full(len(s), j) for j, s in enumerate(pre_steps)])
    pre = net.add(sim.SpikeSource(n, np.concatenate(pre_steps) * DT, idx, name="pre"))
    drv = net.add(sim.SpikeSource(n, (np.asarray(post_steps) - 1) * DT, np.arange(n), name="driver"))
    post = net.add(sim.Population(n, "LIF", tau_mem=20e-3, v_th=-50e-3, v_reset=-70e-3, v_leak=-70e-3,
                                  synapses={"d": None}, delta_synapse="jump", name="post"))
    one = sim.FromList(np.arange(n), np.arange(n))
    proj = net.add(sim.Projection(pre, post, one, weight=W0, delay=delays * DT, plasticity=rule,
                                  name="plastic"))
    net.add(sim.Projection(drv, post, one, weight=30e-3, name="drive"))
    spikes = net.add(sim.SpikeMonitor(post))
    net.run((max(max(s) for s in pre_steps) + max(post_steps) + 50) * DT, progress=False)
    return proj.weights, spikes.steps, spikes.indices


@pytest.mark.parametrize("weight_dependence, pairing", VARIANTS)
def test_spike_pairs_equal_the_torch_runner(weight_dependence, pairing):
    rule = sim.STDP(tau_plus=16.8e-3, tau_minus=33.7e-3, A_plus=1e-4, A_minus=0.6e-4, w_max=1e-3,
                    weight_dependence=weight_dependence, pairing=pairing)
    lags = np.arange(-300, 301, 50)
    pre = [[400]] * lags.size + [[100, 130, 160], [100, 105], [200]]  # single pairs, then bursts
    post = (405 + lags).tolist() + [170, 104, 203]
    delays = np.array([5] * lags.size + [3, 0, 7])
    ref = _pair_protocol("torch", rule, pre, post, delays)
    got = _pair_protocol("numba", rule, pre, post, delays)
    for a, b in zip(ref[1:], got[1:]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-12, atol=0)
    if weight_dependence == "additive":  # the isolated pairs follow the rule's curve
        np.testing.assert_allclose(got[0][:lags.size] - W0, rule.pair_curve(lags * DT), rtol=1e-11)
    assert np.abs(got[0] - W0).min() > 0  # every synapse learned


@pytest.mark.parametrize("rule_name", ["additive_all", "additive_nearest", "multiplicative_all",
                                       "multiplicative_nearest"])
def test_spike_timing_protocols_equal_brian2_on_the_cpu_kernel(rule_name):
    """``tests/test_sim_plasticity.py::test_spike_timing_protocols_equal_brian2`` on backend="numba"."""
    import stdp_cases

    spec = stdp_cases.load_brian2_pairs()
    ours = stdp_cases.neuro_weights(spec, rule_name, backend="numba")
    theirs = np.asarray(spec["brian2"]["results"][f"{rule_name}/all"])
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9 * spec["rules"][rule_name]["A_plus"])


def _poisson_network(backend: str, dtype: torch.dtype = torch.float64, seed: int = 5, device: str = "cpu"):
    """Poisson input -> LIF (plastic, additive/all, heterogeneous delays), LIF -> LIF (plastic,
    multiplicative/nearest, recurrent, delays), plus a static projection and a spike generator."""
    net = sim.Network(dt=DT, seed=seed, dtype=dtype, backend=backend, device=device)
    pre = net.add(sim.PoissonInput(40, 60.0, name="in"))
    gen = net.add(sim.SpikeSource(2, np.array([0.004, 0.009, 0.05, 0.12, 0.2, 0.33]), np.array([0, 1] * 3),
                                  name="gen"))
    post = net.add(sim.Population(12, "LIF", tau_mem=10e-3, v_th=-50e-3, v_reset=-65e-3, v_leak=-65e-3,
                                  refractory=2e-3, synapses={"e": 3e-3, "i": 5e-3}, name="post"))
    ff = net.add(sim.Projection(pre, post, sim.FixedProbability(0.5), weight=sim.Uniform(4e-3, 10e-3),
                                delay=sim.Uniform(0.0, 3e-3), target="e", name="ff",
                                plasticity=sim.STDP(tau_plus=15e-3, tau_minus=25e-3, A_plus=6e-4,
                                                    A_minus=6.6e-4, w_max=12e-3)))
    rec = net.add(sim.Projection(post, post, sim.FixedProbability(0.3), weight=sim.Uniform(0.0, 4e-3),
                                 delay=sim.Uniform(0.5e-3, 2e-3), target="e", name="rec",
                                 plasticity=sim.STDP(A_plus=4e-4, A_minus=4e-4, w_min=0.0, w_max=6e-3,
                                                     weight_dependence="multiplicative", pairing="nearest")))
    net.add(sim.Projection(pre, post, sim.FixedProbability(0.1), weight=-2e-3, delay=1e-3, target="i",
                           name="static"))
    net.add(sim.Projection(gen, post, sim.AllToAll(), weight=20e-3, target="e", name="kick"))
    spikes = net.add(sim.SpikeMonitor(post))
    return net, ff, rec, spikes


def _run_poisson(backend: str, dtype: torch.dtype = torch.float64):
    net, ff, rec, spikes = _poisson_network(backend, dtype)
    w0 = ff.weights, rec.weights
    net.run(0.14, progress=False)
    net.run(0.08, progress=False)  # traces and the spike history carry over between runs
    return net, spikes, (ff.weights, rec.weights), w0


def test_poisson_network_equals_the_torch_runner():
    _, ref_spikes, ref_w, w0 = _run_poisson("torch")
    _, spikes, w, _ = _run_poisson("numba")
    assert spikes.num_spikes > 60
    np.testing.assert_array_equal(spikes.steps, ref_spikes.steps)
    np.testing.assert_array_equal(spikes.indices, ref_spikes.indices)
    for ours, theirs, first in zip(w, ref_w, w0):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)
        assert np.abs(ours - first).max() > 1e-4  # the weights did move


def test_poisson_network_float32_spikes_equal_the_torch_runner():
    _, ref_spikes, ref_w, _ = _run_poisson("torch", torch.float32)
    _, spikes, w, _ = _run_poisson("numba", torch.float32)
    np.testing.assert_array_equal(spikes.steps, ref_spikes.steps)
    np.testing.assert_array_equal(spikes.indices, ref_spikes.indices)
    for ours, theirs in zip(w, ref_w):  # float32 traces: event-driven vs per-step decay roundings
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=2e-7)  # 2e-5 of the larger w_max


def _weights_protocol(backend: str):
    """Learn, read, set, learn again, reset, learn again; a weight monitor throughout."""
    rule = sim.STDP(A_plus=1e-5, A_minus=2e-6, w_max=1e-3)
    net = sim.Network(dt=DT, dtype=torch.float64, backend=backend)
    pre = net.add(sim.SpikeSource(2, np.array([0.010, 0.012, 0.030]), np.array([0, 1, 0])))
    drv = net.add(sim.SpikeSource(1, np.array([0.011, 0.031]), np.array([0, 0])))
    post = net.add(sim.Population(1, "LIF", tau_mem=20e-3, v_th=-50e-3, v_reset=-70e-3, v_leak=-70e-3,
                                  synapses={"d": None}, delta_synapse="jump"))
    proj = net.add(sim.Projection(pre, post, sim.AllToAll(), weight=W0, plasticity=rule))
    net.add(sim.Projection(drv, post, sim.AllToAll(), weight=30e-3))
    mon = net.add(sim.WeightMonitor(proj, every=5e-3))
    out = []
    net.run(0.02, progress=False)
    out.append(proj.weights)
    proj.set_weights([0.2e-3, 0.7e-3])  # the runner takes it and keeps learning from there
    net.run(0.02, progress=False)
    out.append(proj.weights)
    out.append(np.sort(net.synapses(proj)[2]))  # the table as the runner has it now
    out.append(mon.weights.copy())
    net.reset()  # weights kept, traces cleared
    net.run(0.04, progress=False)
    out.append(proj.weights)
    return out


def test_weights_round_trip_monitor_and_reset_equal_the_torch_runner():
    ref, got = _weights_protocol("torch"), _weights_protocol("numba")
    for a, b in zip(ref, got):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=0)
    gain = 1e-5 * np.exp(-11 * DT / 20e-3)  # pre at step 100, post at 111
    assert got[0][0] - W0 == pytest.approx(gain, rel=1e-12)
    np.testing.assert_array_equal(got[2], np.sort(got[1]))
    assert got[3][:2, 0].tolist() == [W0, W0] and got[3][-1, 0] == got[1][0]


def test_rules_and_backends_the_kernels_do_not_compile():
    net = sim.Network(dt=DT, backend="numba")
    a = net.add(sim.Population(3, name="a"))
    net.add(sim.Projection(a, a, sim.AllToAll(), plasticity=UnknownRule(), name="mystery"))
    with pytest.raises(NotImplementedError, match=r"mystery \(UnknownRule\): only STDP, Trip"):
        net.run(1e-3, progress=False)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_cuda_event_kernel_is_bit_identical_to_the_cpu_kernel(cuda_device, dtype):
    """The deterministic CUDA event kernel: same spikes, weights and state as the CPU kernel, bit for
    bit, across runs and launches (each launch flushes its last step's plastic events)."""
    out = {}
    for backend in ("numba", "cuda"):
        device = cuda_device if backend == "cuda" else "cpu"
        net, ff, rec, spikes = _poisson_network(backend, dtype, device=device)
        net.run(0.008, progress=False, chunk_steps=30)  # three launches
        ff.set_weights(ff.weights * 1.5)  # host -> device between runs
        net.run(0.006, progress=False)
        out[backend] = (spikes.steps, spikes.indices, ff.weights, rec.weights, net.state())
    ref, got = out["numba"], out["cuda"]
    assert ref[0].size > 10
    for a, b in zip(ref[:4], got[:4]):
        np.testing.assert_array_equal(a, b)
    for key in ("v", "i", "g"):
        np.testing.assert_array_equal(ref[4][key], got[4][key])


def test_cuda_atomic_kernel_refuses_plastic_projections(monkeypatch, cuda_device):
    monkeypatch.setenv("NEURO_SIM_CUDA_KERNEL", "atomic")
    net = sim.Network(dt=DT, backend="cuda", device=cuda_device)
    a = net.add(sim.Population(3, name="a"))
    net.add(sim.Projection(a, a, sim.AllToAll(), plasticity=sim.STDP(), name="learning"))
    with pytest.raises(NotImplementedError, match=r"learning \(STDP\) need the deterministic CUDA event"):
        net.run(1e-3, progress=False)


def test_static_networks_keep_the_static_kernel():
    """The ``plastic`` flag is part of the kernel's cache key: a network whose projections are all
    static runs today's kernel, a plastic one its own."""
    from neuro.kernels import sim_cpu

    kernels = {}
    for plastic in (False, True):
        net, ff, rec, _ = _poisson_network("numba")
        if not plastic:
            ff.plasticity = rec.plasticity = None  # (before the first run)
        net.run(1e-3, progress=False)
        c = net.compiled
        key = (c.has_syn, c.has_adapt, c.C, c.cpu_tables()[0], c.A > 0)
        # the runner passes every argument positionally (functools.cache keys on how they are passed)
        assert net._runner.kernel is sim_cpu.run_kernel(*key, plastic, False, False, (), False)
        assert net._runner.stdp.pl_k.size == (c.col.size - int((c.proj_id >= 2).sum()) if plastic else 0)
        kernels[plastic] = net._runner.kernel
    assert kernels[False] is not kernels[True]


W_PLASTIC = np.random.default_rng(6).uniform(0.05, 0.3, 9)  # full mantissas: float32 sums round


def _astro_plastic_network(backend: str, device: str = "cpu"):
    """Non-leaky IF neurons driven by a spike source through a plastic and a static projection (the same
    channel: rounding-sensitive float32 sums), two astrocytes emitting SIC onto them (delays 0-2 steps)
    and receiving their spikes (IP3)."""
    net = sim.Network(dt=DT, dtype=torch.float32, device=device, backend=backend)
    step, idx = np.nonzero(np.random.default_rng(5).random((50, 3)) < 0.6)  # most steps, most sources
    pre = net.add(sim.SpikeSource(3, step * DT, idx, name="pre"))
    post = net.add(sim.Population(3, "IF", v_th=1.0, decay_input=False, name="post"))
    astro = net.add(sim.AstrocytePopulation(2, Ca_astro=[0.4, 0.3], name="astro"))
    rule = sim.STDP(tau_plus=16.8e-3, tau_minus=33.7e-3, A_plus=0.013, A_minus=0.011, w_max=1.0)
    plastic = net.add(sim.Projection(pre, post, sim.AllToAll(), weight=W_PLASTIC,
                                     delay=np.array([0, 1, 2] * 3) * DT, plasticity=rule, name="plastic"))
    net.add(sim.Projection(pre, post, sim.AllToAll(), weight=W_PLASTIC[::-1] / 3, name="static"))
    net.add(sim.Projection(astro, post, sim.FromList([0, 0, 1], [0, 1, 2]), weight=[0.0123, 0.0371, 0.0297],
                           delay=np.array([0, 1, 2]) * DT))
    net.add(sim.Projection(post, astro, sim.AllToAll(), weight=0.25))
    mons = (net.add(sim.SpikeMonitor(post)), net.add(sim.StateMonitor(post, "v")),
            net.add(sim.StateMonitor(astro, "SIC")))
    return net, plastic, mons


def test_cuda_event_kernel_with_astrocytes_and_plasticity_split_into_launches(cuda_device):
    """Astrocytes and plastic synapses on the event kernel, run in uneven launches: each launch flushes its
    last step's plastic events and leaves that step's SIC to the next launch; bit-identical to the CPU
    kernel (the SIC's ring entries, on the current channel, never receive spike arrivals)."""
    out = {}
    for backend, device in (("numba", "cpu"), ("cuda", cuda_device)):
        net, plastic, (spikes, v, sic) = _astro_plastic_network(backend, device)
        net.run(30 * DT, progress=False, chunk_steps=7)  # five launches
        net.run(20 * DT, progress=False, chunk_steps=6)
        out[backend] = (spikes.steps, spikes.indices, plastic.weights, v.v, sic.SIC, net.state())
    ref, got = out["numba"], out["cuda"]
    assert ref[0].size > 5 and ref[4].min() > 1.0  # the neurons spike, the astrocytes emit throughout
    assert np.abs(ref[2] - W_PLASTIC.astype(np.float32)).min() > 0  # every synapse learned
    for a, b in zip(ref[:5], got[:5]):
        np.testing.assert_array_equal(b, a)
    for key in ("v", "g", "SIC", "IP3"):
        np.testing.assert_array_equal(got[5][key], ref[5][key], err_msg=key)
