"""Deterministic simulation: the CUDA event kernel equals the CPU kernel bit for bit, runs repeat.

The networks here have *non-dyadic* weights (``rng.normal``), so a buffer sum computed in another
order would differ in its last bits; many sources spike in the same step onto the same targets
(the tests check that such collisions happen), so the order of the sums matters. The CUDA kernel
(:mod:`neuro.kernels.sim_cuda`, on the ``cuda_device``: a GPU, or the CPU under Numba's CUDA
simulator) must still give the CPU kernel's spike trains, recorded states and final state exactly,
in float64 and float32, with its event lists (default ``event_cap``) and with lists that overflow
into the incoming-table path (``event_cap=1``), on both launch shapes. The code-level guarantee
(no float atomics in the kernel) is in ``tests/test_kernel_ptx.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import neuro.sim as sim
from neuro.sim.cuda_runner import CudaRunner, EventCudaRunner
from sim_cases import mixed_network

# the dense torch reference does many tiny ops: a second torch thread only contends on a shared
# 2-core machine (measured 4 x slower with two under load)
pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPIKE_MONITORS = ("A", "B", "P")


def normal(mean: float, std: float):
    return lambda rng, n: rng.normal(mean, std, n)


def busy_network(backend: str, dtype=torch.float64, seed: int = 4, device: str = "cpu"):
    """Dozens of spikes per step, non-dyadic weights, delays, two populations (one heterogeneous),
    a current channel with an injected current, Poisson and generator inputs, every monitor."""
    net = sim.Network(dt=1e-3, seed=seed, dtype=dtype, device=device, backend=backend)
    A = net.add(sim.Population(48, "LIF", tau_mem=8e-3, v_th=sim.Uniform(0.8, 1.2), refractory=2e-3,
                               synapses={"exc": 3e-3, "inh": 6e-3}, v_init=sim.Uniform(0, 1), name="A"))
    B = net.add(sim.Population(16, "CubaLIF", tau_mem=10e-3, tau_syn=3e-3, v_th=0.7, reset="subtract",
                               synapses={"exc": 4e-3}, name="B"))
    P = net.add(sim.PoissonInput(60, rates=sim.Uniform(150, 400), name="P"))
    G = net.add(sim.SpikeSource(4, times=[0.002, 0.002, 0.003, 0.011], indices=[0, 1, 3, 2], name="G"))
    net.add(sim.CurrentInput(A[:6], np.linspace(0.0, 0.3, 40), name="I"))
    net.add(sim.Projection(P, A, sim.FixedProbability(0.5), weight=normal(0.12, 0.05), target="exc",
                           delay=sim.Uniform(0, 3e-3)))
    net.add(sim.Projection(A, A, sim.FixedProbability(0.3), weight=normal(-0.07, 0.03), target="inh"))
    net.add(sim.Projection(A, B, sim.FixedProbability(0.4), weight=normal(0.05, 0.02), delay=1e-3))
    net.add(sim.Projection(P, B, sim.FixedProbability(0.2), weight=normal(0.02, 0.01)))
    net.add(sim.Projection(G, B, sim.AllToAll(), weight=normal(0.3, 0.1)))
    mons = dict(A=net.add(sim.SpikeMonitor(A)), B=net.add(sim.SpikeMonitor(B)),
                P=net.add(sim.SpikeMonitor(P[:20])),
                state=net.add(sim.StateMonitor(A, ["v", "g_exc", "g_inh"], indices=[0, 5, 47], every=2e-3)),
                stateB=net.add(sim.StateMonitor(B, ["v", "i"], indices=[3])),
                rate=net.add(sim.RateMonitor(A)))
    return net, mons


def _run(net, durations=(0.015, 0.01)):
    """25 steps in two runs (the CUDA simulator runs every thread in Python): ~135 spikes of A, up
    to 23 recorded spikes in one step, ~1,800 (step, row) collisions (test_busy_network_is_a_hard_case)."""
    for d in durations:
        net.run(d, progress=False)


def _assert_identical(a: dict, b: dict, state_a: dict, state_b: dict, label: str) -> None:
    for key in SPIKE_MONITORS:
        assert np.array_equal(a[key].steps, b[key].steps), f"{label}: spike steps of {key} differ"
        assert np.array_equal(a[key].indices, b[key].indices), f"{label}: spike indices of {key} differ"
    for var in ("v", "g_exc", "g_inh"):
        assert np.array_equal(a["state"][var], b["state"][var]), f"{label}: recorded A.{var} differs"
    for var in ("v", "i"):
        assert np.array_equal(a["stateB"][var], b["stateB"][var]), f"{label}: recorded B.{var} differs"
    assert np.array_equal(a["rate"].counts, b["rate"].counts), f"{label}: population counts differ"
    for var in ("v", "i", "g", "refractory"):
        assert np.array_equal(state_a[var], state_b[var]), f"{label}: final {var} differs"


def _collisions(net, spikes_steps: np.ndarray, spikes_idx: np.ndarray) -> int:
    """How many (step, target row) pairs received two or more spikes in the same step."""
    c = net.compiled
    src_of = np.repeat(np.arange(c.S), np.diff(c.row_ptr))
    hits = []
    for t in np.unique(spikes_steps):
        fired = spikes_idx[spikes_steps == t]
        rows = c.col[np.isin(src_of, fired)]
        hits.append(np.bincount(rows, minlength=c.C * c.N) >= 2)
    return int(np.sum(hits))


@pytest.fixture(scope="module")
def cpu_reference():
    """The CPU kernel's run of the busy network, float64 and float32."""
    out = {}
    for dtype in (torch.float64, torch.float32):
        net, mons = busy_network("numba", dtype)
        _run(net)
        out[dtype] = (net, mons, net.state())
    return out


def test_busy_network_is_a_hard_case(cpu_reference):
    net, mons, _ = cpu_reference[torch.float64]
    w = net.compiled.weight
    assert np.count_nonzero(np.modf(w * 2.0 ** 30)[0]) > 0.9 * w.size  # not dyadic: order matters
    # every recorded source of A and P, with the generator spikes, onto the spike table's rows
    P = mons["P"]
    steps = np.concatenate([mons["A"].steps, P.steps + 0])
    idx = np.concatenate([mons["A"].indices, net.compiled.offsets[P.source.group] + P.indices])
    assert np.bincount(steps).max() >= 10, "too few spikes per step"
    assert _collisions(net, steps, idx) > 100, "no two spikes reach one row in one step"


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("event_cap", [8, 1], ids=["event_lists", "overflow"])
def test_cuda_event_kernel_equals_cpu_kernel_bit_for_bit(cuda_device, cpu_reference, dtype, event_cap):
    _, ref, ref_state = cpu_reference[dtype]
    net, mons = busy_network("cuda", dtype, device=cuda_device)
    net._runner = CudaRunner(net.compiled, torch.device(cuda_device), kernel="events", event_cap=event_cap)
    _run(net)
    _assert_identical(ref, mons, ref_state, net.state(), f"cuda (cap {event_cap}) vs numba, {dtype}")


def test_block_launch_and_record_restarts_change_nothing(cuda_device, cpu_reference):
    """One block with syncthreads barriers, and a spike record so small that the kernel stops and
    is relaunched many times (the stop protocol of the rotating record counters)."""
    _, ref, ref_state = cpu_reference[torch.float64]
    net, mons = busy_network("cuda", torch.float64, device=cuda_device)
    runner = CudaRunner(net.compiled, torch.device(cuda_device), kernel="events", launch="block")
    impl = runner._impl
    assert isinstance(impl, EventCudaRunner) and impl.block
    impl.rec_cap = net.compiled.n_rec + 3  # a few steps per launch
    impl.record_all_max = 0  # never room for the whole chunk: the kernel tests every step
    net._runner = runner
    _run(net)
    assert impl.rec_cap > net.compiled.n_rec + 3  # it had to grow
    _assert_identical(ref, mons, ref_state, net.state(), "cuda block launch vs numba")


def _spikes(mons: dict, keys) -> list:
    return [(mons[k].steps.copy(), mons[k].indices.copy()) for k in keys]


@pytest.mark.parametrize("backend", ["numba", "torch", pytest.param("cuda", marks=pytest.mark.cuda)])
def test_same_seed_twice_gives_identical_spikes(request, monkeypatch, backend):
    """Every backend: the same seed twice -> identical spikes (and different seeds differ). On CUDA
    the deterministic kernel is the event kernel (the atomic one's float sums vary on a GPU)."""
    device = request.getfixturevalue("cuda_device") if backend == "cuda" else "cpu"
    monkeypatch.setenv("NEURO_SIM_CUDA_KERNEL", "events")
    keys = ("A", "B", "C", "P", "G")
    runs = []
    for seed in (7, 7, 8):
        net, mons = mixed_network(backend, torch.float32, seed=seed, device=device)
        if backend == "cuda":  # non-dyadic weights: the sums' order matters
            net.compiled.weight[:] = (net.compiled.base_weight * 1.1).astype(np.float32)
        net.run(0.02 if backend == "cuda" else 0.04, progress=False)  # (20 steps on the simulator)
        runs.append(_spikes(mons, keys))
    for (s1, i1), (s2, i2) in zip(runs[0], runs[1]):
        assert np.array_equal(s1, s2) and np.array_equal(i1, i2)
    assert any(not np.array_equal(i1, i3) for (_, i1), (_, i3) in zip(runs[0], runs[2]))


def test_the_kernel_is_chosen_by_argument_or_environment(cuda_device, monkeypatch):
    from neuro.sim.cuda_runner_atomic import AtomicCudaRunner

    net, _ = mixed_network("cuda", torch.float64, device=cuda_device)
    device = torch.device(cuda_device)
    monkeypatch.delenv("NEURO_SIM_CUDA_KERNEL", raising=False)
    # the first kernel stays the default until the event kernel is measured faster on a GPU
    assert isinstance(CudaRunner(net.compiled, device)._impl, AtomicCudaRunner)
    monkeypatch.setenv("NEURO_SIM_CUDA_KERNEL", "events")
    assert isinstance(CudaRunner(net.compiled, device)._impl, EventCudaRunner)
    assert isinstance(CudaRunner(net.compiled, device, kernel="atomic")._impl, AtomicCudaRunner)
    monkeypatch.setenv("NEURO_SIM_CUDA_KERNEL", "fast")
    with pytest.raises(ValueError, match="kernel must be one of"):
        CudaRunner(net.compiled, device)
    with pytest.raises(ValueError, match="event_cap must be a positive integer"):
        CudaRunner(net.compiled, device, kernel="events", event_cap=0)


def astro_network(backend: str, device: str = "cpu"):
    """Spikes onto astrocytes (IP3, non-dyadic weights, delays) and their SIC onto LIF neurons that
    also receive Poisson spikes: the event kernel's astrocyte phase and SIC gather."""
    net = sim.Network(dt=1e-4, seed=3, dtype=torch.float64, device=device, backend=backend)
    astro = net.add(sim.AstrocytePopulation(3, Ca_astro=[0.4, 0.3, 0.2], name="astro"))
    N = net.add(sim.Population(8, "LIF", tau_mem=2e-3, v_th=0.05, name="N"))
    P = net.add(sim.PoissonInput(12, rates=3000.0, name="P"))
    S = net.add(sim.SpikeSource(2, times=[0.0, 0.0002, 0.0004, 0.0007], indices=[0, 1, 0, 1], name="S"))
    net.add(sim.Projection(S, astro, sim.AllToAll(), weight=sim.Uniform(0.4, 1.0),
                           delay=sim.Uniform(0, 3e-4)))
    net.add(sim.Projection(P, N, sim.FixedProbability(0.6), weight=normal(0.013, 0.004)))
    net.add(sim.Projection(N, astro, sim.AllToAll(), weight=sim.Uniform(0.05, 0.15)))
    net.add(sim.Projection(astro, N, sim.FixedProbability(0.7), weight=normal(0.3, 0.1),
                           delay=sim.Uniform(0, 2e-4)))
    mons = (net.add(sim.SpikeMonitor(N)), net.add(sim.StateMonitor(astro, ["IP3", "SIC"])),
            net.add(sim.StateMonitor(N, "v", indices=[0, 3])))
    return net, mons


def test_event_kernel_equals_cpu_kernel_on_the_earlier_cuda_test_networks(cuda_device, monkeypatch):
    """The networks of the CUDA tests in test_sim_kernels.py and test_sim_astrocytes.py (which run
    the default kernel) on the event kernel: identical to the CPU kernel."""
    monkeypatch.setenv("NEURO_SIM_CUDA_KERNEL", "events")
    out = {}
    for backend, device in (("numba", "cpu"), ("cuda", cuda_device)):
        net, mons = mixed_network(backend, torch.float64, device=device)
        net.run(0.03, progress=False)
        net.run(0.01, progress=False)
        anet, (spk, astro, v) = astro_network(backend, device)
        anet.run(0.0006, progress=False)
        anet.run(0.0004, progress=False)
        out[backend] = (mons, net.state(), spk, astro, v, anet.state())
    (m_c, s_c, spk_c, a_c, v_c, as_c), (m_g, s_g, spk_g, a_g, v_g, as_g) = out["numba"], out["cuda"]
    for key in ("A", "B", "C", "P", "G"):
        assert m_c[key].num_spikes > 0
        assert np.array_equal(m_c[key].steps, m_g[key].steps) and np.array_equal(m_c[key].indices,
                                                                                   m_g[key].indices)
    for var in ("v", "i", "a", "g", "refractory"):
        assert np.array_equal(s_c[var], s_g[var]), f"mixed network: final {var} differs"
    assert spk_c.num_spikes > 10 and a_c.SIC.max() > 0
    assert np.array_equal(spk_c.steps, spk_g.steps) and np.array_equal(spk_c.indices, spk_g.indices)
    for name in ("IP3", "SIC"):
        assert np.array_equal(getattr(a_c, name), getattr(a_g, name)), f"astrocytes: {name} differs"
    assert np.array_equal(v_c.v, v_g.v)
    for var in ("v", "IP3", "Ca_astro", "SIC"):
        assert np.array_equal(as_c[var], as_g[var]), f"astrocyte network: final {var} differs"
