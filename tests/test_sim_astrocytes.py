"""Astrocytes inside ``neuro.sim``: the same traces as ``neuro.astro`` (and therefore NEST), the SIC's
delay, monitors, the tripartite rule, backends, and bad input.

``neuro.sim`` stamps a spike with the start of its step (Brian2), NEST and ``neuro.astro`` with its
end: a ``neuro.sim`` spike at step ``t`` with a delay of ``d`` steps arrives at ``(t + 1 + d) dt``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import neuro.sim as sim
from neuro.astro import AstrocyteParameters, TripartiteNetwork
from neuro.astro.populations import ASTROCYTE_RECORDABLES

# the dense torch reference does many tiny ops: a second torch thread only contends on a shared
# 2-core machine (measured 4 x slower with two under load)
pytestmark = pytest.mark.usefixtures("one_torch_thread")

DT = 1e-4  # s (0.1 ms, NEST's resolution in the reference traces)
VARS = tuple(ASTROCYTE_RECORDABLES)  # IP3, Ca_astro, h_IP3R, SIC
DELTA_IP3 = np.array([0.01, 0.004])
IP3_DELAYS = (1e-3, 2.5e-3)  # s, one projection each


def dyadic(rng, n):
    return rng.integers(1, 5, n) / 4.0  # 0.25 .. 1.0: every sum of weights is exact


def lif_astro_network(backend="numba", dtype=torch.float64, seed=4, device="cpu"):
    """LIF neurons (constant drive at different rates, plus Poisson input) -> two astrocytes."""
    net = sim.Network(dt=DT, seed=seed, dtype=dtype, device=device, backend=backend)
    P = net.add(sim.Population(6, "LIF", tau_mem=20e-3, v_th=1.0, refractory=2e-3,
                               bias=np.linspace(1.05, 1.6, 6), synapses={"exc": 5e-3}, name="P"))
    noise = net.add(sim.PoissonInput(4, rates=50.0, name="noise"))
    net.add(sim.Projection(noise, P, sim.FixedProbability(0.5), weight=0.25))
    astro = net.add(sim.AstrocytePopulation(2, delta_IP3=DELTA_IP3, Ca_astro=[0.073, 0.15], name="astro"))
    projs = [net.add(sim.Projection(P[k::2], astro, sim.FixedProbability(0.7), weight=dyadic, delay=d))
             for k, d in enumerate(IP3_DELAYS)]
    mons = {"spikes": net.add(sim.SpikeMonitor(P)), "astro": net.add(sim.StateMonitor(astro, VARS)),
            "v": net.add(sim.StateMonitor(P, "v", indices=[0, 1, 4, 5]))}
    return net, (P, astro), projs, mons


def test_astrocytes_driven_by_lif_match_neuro_astro_exactly():
    """The LIF spikes recorded in neuro.sim, replayed into neuro.astro's TripartiteNetwork (whose
    traces are NEST 3.10's to rounding, tests/test_astrocyte_nest_traces.py): identical traces."""
    net, _, projs, mons = lif_astro_network()
    net.run(0.4, progress=False)
    net.run(0.6, progress=False)  # continuation: IP3 in flight crosses the boundary
    steps, idx = mons["spikes"].steps, mons["spikes"].indices
    assert len(steps) > 100
    ref = TripartiteNetwork(0, 2, astrocyte_params=AstrocyteParameters(delta_IP3=DELTA_IP3), dt=0.1)
    ref.astrocyte_state = ref.astrocytes.initial_state(Ca_astro=[0.073, 0.15])
    n_inputs = 0
    for proj, delay in zip(projs, IP3_DELAYS):
        pre, post, weight = net.synapses(proj)
        d = round(delay / DT)
        for p, a, w in zip(pre, post, weight):
            times = (steps[idx == p] + 1 + d) * 0.1  # ms
            ref.add_spike_input(times, target=int(a), weight=w, kind="astrocyte")
            n_inputs += len(times)
    assert n_inputs > 100
    res = ref.run(1000.0, record_interval=0.1, record_neurons=(), record_astrocytes=VARS)
    ours = mons["astro"]
    assert ours[VARS[0]].shape == (10_000, 2)
    for name in VARS:
        np.testing.assert_array_equal(ours[name], res.astrocytes[name], err_msg=name)
    assert ours["SIC"][:, 1].max() > 0 and ours["IP3"][-1].min() > 0.3  # not a trivial trace


def test_single_astrocyte_reproduces_nest_traces(shared_data):
    """NEST 3.10's ``astrocyte_single`` example (stored traces): parrot spikes -> astrocyte (delay
    1 ms) as a SpikeSource -> AstrocytePopulation in a network without neurons."""
    path = shared_data / "nest_astrocyte" / "nest_astrocyte_single.npz"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    with np.load(path, allow_pickle=False) as z:
        d = {k: z[k] for k in z.files}
    net = sim.Network(dt=DT, dtype=torch.float64)
    parrot = net.add(sim.SpikeSource(1, (d["input_spike_times_ms"] - 0.1) * 1e-3, np.zeros(
        len(d["input_spike_times_ms"]), int)))  # NEST stamps the end of the step
    astro = net.add(sim.AstrocytePopulation(2, delta_IP3=np.array([0.0002, float(d["ex_delta_IP3"])])))
    net.add(sim.Projection(parrot, astro, sim.AllToAll(), weight=1.0, delay=1e-3))
    mon = net.add(sim.StateMonitor(astro, ("IP3", "Ca_astro", "h_IP3R")))
    net.run(10.0, progress=False)
    n = len(d["time_ms"])  # NEST samples at t = 1, 2, ... ms: the ends of steps 9, 19, ...
    np.testing.assert_allclose((mon.steps[9::10][:n] + 1) * 0.1, d["time_ms"])
    for prefix, col in (("", 0), ("ex_", 1)):
        for name in ("IP3", "Ca_astro", "h_IP3R"):
            ref = d[prefix + name]
            err = np.abs(mon[name][9::10][:n, col] - ref).max() / np.abs(ref).max()
            assert err <= 1e-9, f"{prefix}{name}: max relative error {err:.3g}"


def sic_network(backend="numba", dtype=torch.float64, delays=(0.0, 2.5e-3), device="cpu"):
    """Two astrocytes above the SIC threshold -> non-leaky IF neurons that integrate the SIC."""
    net = sim.Network(dt=DT, dtype=dtype, device=device, backend=backend)
    astro = net.add(sim.AstrocytePopulation(2, Ca_astro=[0.4, 0.3], name="astro"))
    P = net.add(sim.Population(3, "IF", v_th=1e9, decay_input=False, name="P"))
    net.add(sim.Projection(astro, P, sim.FromList([0, 0, 1], [0, 1, 2]), weight=[0.5, 0.25, 1.0],
                           delay=np.array([delays[0], delays[1], delays[1]])))
    mons = (net.add(sim.StateMonitor(astro, "SIC")), net.add(sim.StateMonitor(P, "v")))
    return net, mons


def test_sic_reaches_neurons_with_the_right_delay():
    net, (sic_mon, v_mon) = sic_network()
    net.run(0.05, progress=False)
    sic, v = sic_mon.SIC, v_mon.v
    assert sic.min() > 1.0  # both astrocytes emit throughout
    dv = np.diff(np.vstack([np.zeros((1, 3)), v]), axis=0)  # the IF neuron adds its input per step
    for n, (a, w, d) in enumerate([(0, 0.5, 0), (0, 0.25, 25), (1, 1.0, 25)]):
        # the SIC emitted after step t drives step t + 1 + d (NEST: I_SIC(t) = SIC(Ca(t - delay)))
        assert (dv[:1 + d, n] == 0).all()
        np.testing.assert_allclose(dv[1 + d:, n], w * sic[:len(sic) - 1 - d, a], rtol=1e-12)


def test_monitors_of_astrocytes():
    net = sim.Network(dt=DT)
    astro = net.add(sim.AstrocytePopulation(5, IP3=sim.Uniform(0.1, 0.3), name="astro"))
    net.add(sim.Population(1, "LIF"))
    every = net.add(sim.StateMonitor(astro[1:4], ["Ca_astro", "IP3"], indices=[0, 2], every=1e-3))
    full = net.add(sim.StateMonitor(astro, VARS))
    net.run(0.01, progress=False)
    assert every.Ca_astro.shape == (10, 2) and every.IP3.dtype == np.float64
    np.testing.assert_allclose(every.times, (np.arange(0, 100, 10) + 1) * DT)
    np.testing.assert_array_equal(every.IP3, full.IP3[::10][:, [1, 3]].astype(np.float32).astype(np.float64))
    assert full.IP3[0].min() >= 0.1 and full.IP3[0].max() < 0.3 and np.ptp(full.IP3[0]) > 0
    state = net.state()
    np.testing.assert_array_equal(state["h_IP3R"].astype(np.float32), full.h_IP3R[-1])
    with pytest.raises(KeyError, match="not 'SIC'"):
        every["SIC"]


def test_tripartite_rule_in_a_network():
    net = sim.Network(dt=DT, seed=7)
    P = net.add(sim.Population(8, "LIF", synapses={"exc": 5e-3}, name="P"))
    astro = net.add(sim.AstrocytePopulation(4, name="astro"))
    primary, to_astro, sic = net.connect_tripartite(P, P, astro, p_primary=0.5, p_third_if_primary=0.5,
                                                    pool_size=1, pool_type="block", weight=0.25,
                                                    target="exc", delay_astro=1e-3)
    pre, post, w = net.synapses(primary)
    assert len(pre) > 10 and not (pre == post).any() and (w == 0.25).all()
    apre, a, _ = net.synapses(to_astro)
    sa, spost, _ = net.synapses(sic)
    # block pools: neurons 2k, 2k+1 share astrocyte k; each paired synapse is a primary one
    np.testing.assert_array_equal(sa, spost // 2)
    np.testing.assert_array_equal(np.sort(a), np.sort(sa))
    assert {(int(p), int(q)) for p, q in zip(apre, a)} <= {(int(p), int(q) // 2) for p, q in zip(pre, post)}
    assert 0 < len(a) < len(pre)
    other = sim.Network(dt=DT, seed=7)  # the draw follows the network's seed
    P2, A2 = other.add(sim.Population(8, "LIF", synapses={"exc": 5e-3}), sim.AstrocytePopulation(4))
    again = other.connect_tripartite(P2, P2, A2, 0.5, 0.5, 1, "block", target="exc")
    np.testing.assert_array_equal(other.synapses(again[0])[0], pre)
    net.run(0.002, progress=False)
    views = sim.Network(dt=DT, seed=3)  # views: draws over their elements, autapses by identity
    Q = views.add(sim.Population(6, "LIF", synapses={"exc": 5e-3}))
    A3 = views.add(sim.AstrocytePopulation(3))
    prim, _, to_q = views.connect_tripartite(Q[2:], Q, A3[1:], target="exc")  # p = 1: all pairs
    vpre, vpost, _ = views.synapses(prim)  # indices in the groups
    assert len(vpre) == 4 * 6 - 4 and set(vpre) == {2, 3, 4, 5} and not (vpre == vpost).any()
    assert set(views.synapses(to_q)[0]) <= {1, 2}


def test_many_astrocytes_take_the_parallel_path():
    """>= PARALLEL_MIN_UNITS astrocytes are stepped in a prange loop; identical ones stay identical
    and equal a single one."""
    from neuro.kernels.astrocyte_cpu import PARALLEL_MIN_UNITS

    def run(n):
        net = sim.Network(dt=DT)
        src = net.add(sim.SpikeSource(1, [0.001, 0.001, 0.0042], [0, 0, 0]))
        astro = net.add(sim.AstrocytePopulation(n, delta_IP3=0.3))
        net.add(sim.Projection(src, astro, sim.AllToAll(), delay=1e-3))
        mon = net.add(sim.StateMonitor(astro, ["IP3", "Ca_astro"], indices=[0, n - 1]))
        net.run(0.02, progress=False)
        return np.hstack([mon.IP3, mon.Ca_astro])

    many, one = run(PARALLEL_MIN_UNITS + 3), run(1)
    np.testing.assert_array_equal(many, one)
    assert one[-1, 0] > 0.5 and one[-1, 2] != one[0, 2]


def test_kernel_matches_dense_reference_with_astrocytes():
    """Event-driven IP3 and SIC delivery of the CPU kernel vs the dense torch reference, float32."""
    out = {}
    for backend in ("numba", "torch"):
        net, (P, astro), _, mons = lif_astro_network(backend, torch.float32)
        net.add(sim.Projection(astro, P, sim.FromList([0, 1], [1, 4]), weight=[1 / 64, 1 / 32], delay=1e-3))
        net.run(0.05, progress=False)
        net.run(0.03, progress=False)
        out[backend] = mons
    k, r = out["numba"], out["torch"]
    assert k["spikes"].num_spikes > 10
    assert np.array_equal(k["spikes"].steps, r["spikes"].steps)
    assert np.array_equal(k["spikes"].indices, r["spikes"].indices)
    np.testing.assert_array_equal(k["v"].v, r["v"].v)
    for name in VARS:
        np.testing.assert_array_equal(k["astro"][name], r["astro"][name], err_msg=name)


def test_cuda_kernel_matches_cpu_kernel_with_astrocytes(cuda_device):
    """The numba.cuda kernel (the CUDA simulator in CI) against the CPU kernel."""
    out = {}
    for backend, device in (("numba", "cpu"), ("cuda", cuda_device)):
        net, mons = sic_network(backend, delays=(1e-3, 0.0), device=device)
        src = net.add(sim.SpikeSource(2, [0.0, 0.0005, 0.0011], [0, 1, 1]))
        net.add(sim.Projection(src, net._groups[0], sim.FromList([0, 1], [0, 1]), weight=[1.0, 2.0],
                               delay=[0.0, 3e-4]))
        net.run(0.002, progress=False)
        net.run(0.001, progress=False)
        out[backend] = (mons, net.state())
    (sic_c, v_c), state_c = out["numba"]
    (sic_g, v_g), state_g = out["cuda"]
    np.testing.assert_array_equal(sic_g.SIC, sic_c.SIC)
    np.testing.assert_array_equal(v_g.v, v_c.v)
    for name in VARS:
        np.testing.assert_array_equal(state_g[name], state_c[name])
    assert state_c["IP3"][1] > state_c["IP3"][0] > 0.16  # both inputs arrived


def test_reset_replays_astrocytes():
    net, (sic_mon, v_mon) = sic_network()
    net.run(0.003, progress=False)
    first = sic_mon.SIC.copy(), v_mon.v.copy()
    net.reset()
    net.run(0.003, progress=False)
    np.testing.assert_array_equal(sic_mon.SIC, first[0])
    np.testing.assert_array_equal(v_mon.v, first[1])


@pytest.mark.parametrize("make, error, message", [
    (lambda: sim.AstrocytePopulation(2, rate_SERCA=-1e-3), ValueError, "rate_SERCA must be >= 0"),
    (lambda: sim.AstrocytePopulation(2, tau_IP3=0.0), ValueError, "tau_IP3 must be > 0"),
    (lambda: sim.AstrocytePopulation(2, Kd_act=np.array([0.1, -0.1])), ValueError, "Kd_act must be > 0"),
    (lambda: sim.AstrocytePopulation(2, Ca_tot=-2.0), ValueError, "Ca_tot must be >= 0"),
    (lambda: sim.AstrocytePopulation(3, delta_IP3=np.ones(2)), ValueError, "must have length 3"),
    (lambda: sim.AstrocytePopulation(2, tau_ip3=100.0), TypeError,
     r"unknown astrocyte parameter\(s\) \['tau_ip3'\]"),
    (lambda: sim.AstrocytePopulation(2, Ca_astro=-0.1), ValueError, "Ca_astro must be >= 0"),
    (lambda: sim.AstrocytePopulation(2, h_IP3R=[0.5, 1.5]), ValueError, r"h_IP3R must be in \[0, 1\]"),
    (lambda: sim.AstrocytePopulation(2, IP3=np.nan), ValueError, "NaN"),
    (lambda: sim.AstrocytePopulation(0), ValueError, "positive integer"),
    (lambda: sim.AstrocytePopulation(2, params={"delta_IP3": 0.2}), TypeError, "AstrocyteParameters"),
    (lambda: sim.PoissonInput(3, rates=-5.0), ValueError, "rates must be >= 0"),
])
def test_bad_astrocyte_parameters(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_bad_astrocyte_wiring_and_monitors():
    net = sim.Network(dt=DT)
    P = net.add(sim.Population(4, "LIF", synapses={"exc": 5e-3, "inh": 5e-3}, name="P"))
    astro = net.add(sim.AstrocytePopulation(3, name="astro"))
    with pytest.raises(ValueError, match="weights onto astrocytes must be >= 0"):
        sim.Projection(P, astro, sim.AllToAll(), weight=-1.0)
    with pytest.raises(TypeError, match="do not project onto astrocytes"):
        sim.Projection(astro, astro, sim.AllToAll())
    with pytest.raises(ValueError, match="enters the neurons as an input current"):
        sim.Projection(astro, P, sim.AllToAll(), target="exc")
    with pytest.raises(ValueError, match="always drive IP3"):
        sim.Projection(P, astro, sim.AllToAll(), target="exc")
    with pytest.raises(ValueError, match="delays must be >= 0"):
        sim.Projection(astro, P, sim.AllToAll(), delay=-1e-3)
    expected = r"no variable\(s\) \['V_m', 'Ca'\].*'IP3', 'Ca_astro', 'h_IP3R', 'SIC'"
    with pytest.raises(ValueError, match=expected):
        sim.StateMonitor(astro, ["V_m", "Ca"])
    with pytest.raises(ValueError, match=r"no variable\(s\) \['IP3'\]"):
        sim.StateMonitor(P, "IP3")
    with pytest.raises(TypeError, match="astrocytes do not spike"):
        sim.SpikeMonitor(astro[:2])
    with pytest.raises(TypeError, match="RateMonitor records a whole Population"):
        sim.RateMonitor(astro)
    with pytest.raises(TypeError, match="must be an AstrocytePopulation"):
        net.connect_tripartite(P, P, P, target="exc")
    with pytest.raises(ValueError, match=r"p_primary must be a probability"):
        net.connect_tripartite(P, P, astro, p_primary=1.5, target="exc")
    with pytest.raises(ValueError, match="pool_size must be in 1..n_astrocytes=3"):
        net.connect_tripartite(P, P, astro, pool_size=4, target="exc")
    net.add(sim.Projection(P, astro, sim.AllToAll(), weight=lambda rng, n: rng.uniform(-1, 1, n)))
    with pytest.raises(ValueError, match="weights onto astrocytes must be >= 0"):
        net.run(0.001, progress=False)
    lone = sim.Network(dt=DT)
    lone.add(sim.Projection(P, astro, sim.AllToAll()))
    lone.add(P)
    with pytest.raises(ValueError, match="uses astro, which was not added"):
        lone.run(0.001, progress=False)
