"""Tripartite network engine: compiled CPU kernel vs an interpreted reference, the CUDA kernels
under the simulator vs the CPU, run continuation, populations, the wiring rule, and the astrocyte
ODE against an independent tight SciPy solution."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import astro_cases as C
from neuro.astro import (
    AeifAstroNeurons,
    AeifAstroParameters,
    AstrocyteParameters,
    Astrocytes,
    TripartiteNetwork,
    astrocyte_pools,
    tripartite_bernoulli_with_pool,
)
from neuro.kernels import astrocyte_cpu


def _run(net, ms):
    return net.run(ms, record_interval=C.DT, record_neurons=("V_m", "w", "g_ex", "I_SIC"),
                   record_astrocytes=("IP3", "Ca_astro", "h_IP3R", "SIC"))


def _spikes(res):
    return list(zip(np.round(res.spike_times, 6).tolist(), res.spike_senders.tolist()))


def test_network_matches_interpreted_reference():
    v_ref, ca_ref, spikes_ref = C.reference_run(400)
    res = _run(C.build_network(), 40.0)
    assert len(spikes_ref) > 20 and {s for _, s in spikes_ref} == {0, 1}  # the case is not trivial
    assert res.astrocytes["SIC"][:, 0].max() > 1.0
    np.testing.assert_allclose(res.neurons["V_m"], v_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(res.astrocytes["Ca_astro"], ca_ref, rtol=0, atol=1e-13)
    assert _spikes(res) == [(t, int(q)) for t, q in spikes_ref]


def test_run_continues_with_spikes_in_flight():
    whole = _run(C.build_network(), 40.0)
    net = C.build_network()
    first, second = _run(net, 17.3), _run(net, 22.7)
    for name in ("V_m", "I_SIC"):
        np.testing.assert_array_equal(np.concatenate([first.neurons[name], second.neurons[name]]),
                                      whole.neurons[name])
    np.testing.assert_array_equal(np.concatenate([first.astrocytes["Ca_astro"],
                                                  second.astrocytes["Ca_astro"]]),
                                  whole.astrocytes["Ca_astro"])
    assert _spikes(first) + _spikes(second) == _spikes(whole)
    np.testing.assert_allclose(second.times[0], 17.4)


def test_cuda_kernels_match_cpu(cuda_device):
    """The numba.cuda kernels (on the CUDA simulator in CI) against the CPU kernel."""
    cpu = _run(C.build_network("numba"), 12.0)
    gpu = _run(C.build_network("cuda"), 12.0)
    assert len(cpu.spike_times) >= 3
    assert _spikes(gpu) == _spikes(cpu)
    for name in ("V_m", "w", "g_ex", "I_SIC"):
        np.testing.assert_allclose(gpu.neurons[name], cpu.neurons[name], rtol=1e-12, atol=1e-12)
    for name in ("IP3", "Ca_astro", "h_IP3R", "SIC"):
        np.testing.assert_allclose(gpu.astrocytes[name], cpu.astrocytes[name], rtol=1e-12, atol=1e-14)


def test_parallel_path_matches_serial_path():
    """>= PARALLEL_MIN_UNITS units take the prange path; identical astrocytes stay identical."""
    n = astrocyte_cpu.PARALLEL_MIN_UNITS + 8
    times = [5.0, 5.0, 12.3, 40.1]
    many = TripartiteNetwork(0, n, astrocyte_params=AstrocyteParameters(delta_IP3=0.3))
    one = TripartiteNetwork(0, 1, astrocyte_params=AstrocyteParameters(delta_IP3=0.3))
    for net, k in ((many, n), (one, 1)):
        for a in range(k):
            net.add_spike_input(times, target=a, kind="astrocyte")
    r_many, r_one = many.run(60.0), one.run(60.0)
    np.testing.assert_array_equal(r_many.astrocytes["Ca_astro"],
                                  np.repeat(r_one.astrocytes["Ca_astro"], n, axis=1))


def test_astrocyte_population_blocks_compose():
    pop = Astrocytes(3, AstrocyteParameters(delta_IP3=np.array([0.1, 0.2, 0.4])))
    ip3 = np.zeros((600, 3))
    ip3[50], ip3[51], ip3[300] = 1.0, 2.0, 0.5
    s0 = pop.initial_state(Ca_astro=[0.073, 0.2, 0.5])
    s_all, sic_all, tr_all = pop.step_many(s0, ip3)
    s_a, sic_a, tr_a = pop.step_many(s0, ip3[:250])
    s_b, sic_b, tr_b = pop.step_many(s_a, ip3[250:])
    np.testing.assert_array_equal(np.concatenate([sic_a, sic_b]), sic_all)
    np.testing.assert_array_equal(np.concatenate([tr_a["Ca_astro"], tr_b["Ca_astro"]]), tr_all["Ca_astro"])
    for x, y in zip(s_b, s_all):
        np.testing.assert_array_equal(x, y)
    assert sic_all[:, 2].min() > 0 and sic_all[:, 0].max() == 0  # above / below SIC_th
    # IP3 jumps by delta_IP3 * weight at the step the spike arrives
    np.testing.assert_allclose(tr_all["IP3"][50] - tr_all["IP3"][49], [0.1, 0.2, 0.4], rtol=1e-3)
    assert s0.IP3[0] == 0.16  # states are not modified in place


def test_aeif_population_spikes_and_refractoriness():
    params = AeifAstroParameters(t_ref=2.0, I_e=1000.0)
    pop = AeifAstroNeurons(2, params)
    state = pop.initial_state()
    sic = np.zeros((500, 2))
    sic[:, 1] = 400.0  # the SIC adds to I_e for neuron 1: it fires faster
    state, spikes, tr = pop.step_many(state, np.zeros((500, 2)), sic_input=sic, record=("V_m", "w"))
    n0, n1 = int(spikes[:, 0].sum()), int(spikes[:, 1].sum())
    assert 2 <= n0 < n1
    for k in np.nonzero(spikes[:, 0])[0]:
        held = tr["V_m"][k:k + 20, 0]  # t_ref = 2 ms = 20 steps at V_reset
        np.testing.assert_array_equal(held[:min(20, len(held))], -60.0)
        if k + 21 < 500:
            assert tr["V_m"][k + 21, 0] > -60.0
    # each spike adds b = 80.5 pA to w
    k = np.nonzero(spikes[:, 0])[0][0]
    assert tr["w"][k, 0] - tr["w"][k - 1, 0] == pytest.approx(80.5, abs=1.0)


def _lr_rhs_vectorised(t, y, p):
    """Li-Rinzel derivatives written independently of the kernels (NEST 3.10 equations)."""
    ip3, ca, h = y
    c = min(max(ca, 0.0), p.Ca_tot)
    m, n = ip3 / (ip3 + p.Kd_IP3_1), c / (c + p.Kd_act)
    ca_er = (p.Ca_tot - c) / p.ratio_ER_cyt
    j_chan = p.ratio_ER_cyt * p.rate_IP3R * (m * n * h) ** 3 * (ca_er - c)
    j_pump = p.rate_SERCA * c ** 2 / (p.Km_SERCA ** 2 + c ** 2)
    j_leak = p.ratio_ER_cyt * p.rate_L * (ca_er - c)
    dh = (p.k_IP3R * p.Kd_inh * (ip3 + p.Kd_IP3_1) / (ip3 + p.Kd_IP3_2) * (1 - h)
          - p.k_IP3R * c * h)
    return [(p.IP3_0 - ip3) / p.tau_IP3, j_chan - j_pump + j_leak, dh]


def test_astrocyte_matches_tight_scipy_solution():
    """RKF45 under GSL control (one 0.1 ms step) vs DOP853 at rtol 1e-11: <= 1e-9 uM."""
    p = AstrocyteParameters(delta_IP3=0.3)
    arrivals = [200.0, 200.0, 650.3, 1400.0]
    pop = Astrocytes(1, p)
    ip3 = np.zeros((20000, 1))
    for t in arrivals:
        ip3[int(round(t / 0.1)) - 1, 0] += 1.0
    _, _, tr = pop.step_many(pop.initial_state(), ip3, record=("IP3", "Ca_astro", "h_IP3R"))
    events = sorted(set(arrivals))
    bounds = [0.0] + events + [2000.0]
    y, samples = np.array([0.16, 0.073, 0.793]), {}
    for t0, t1 in zip(bounds[:-1], bounds[1:]):
        sol = solve_ivp(_lr_rhs_vectorised, (t0, t1), y, "DOP853", dense_output=True, rtol=1e-11,
                        atol=1e-13, args=(p,))
        y = sol.y[:, -1].copy()
        y[0] += p.delta_IP3 * arrivals.count(t1)  # the value at t includes inputs arriving at t
        for g in range(int(np.floor(t0)) + 1, int(np.floor(t1)) + 1):
            samples[g] = y if g == t1 else sol.sol(float(g))
    ref = np.stack([samples[g] for g in range(1, 2001)], axis=1)
    ours = np.stack([tr[k][9::10, 0] for k in ("IP3", "Ca_astro", "h_IP3R")])
    assert np.abs(ours - ref).max() <= 1e-9


def test_tripartite_wiring_rule():
    net = TripartiteNetwork(6, 4)
    drawn = tripartite_bernoulli_with_pool(net, range(3), range(3, 6), range(4), p_primary=1.0,
                                           p_third_if_primary=1.0, pool_size=2, seed=3)
    assert len(drawn["pre"]) == 9 and len(drawn["astro"]) == 9
    pools = astrocyte_pools(3, 4, 2, "random", np.random.default_rng(3))
    assert pools.shape == (3, 2) and all(len(set(p)) == 2 for p in pools)
    block = astrocyte_pools(4, 2, 1, "block", np.random.default_rng(0))
    np.testing.assert_array_equal(block[:, 0], [0, 0, 1, 1])
    none = TripartiteNetwork(4, 2)
    d = tripartite_bernoulli_with_pool(none, range(4), range(4), range(2), p_primary=0.5,
                                       p_third_if_primary=0.0, seed=1)
    assert len(d["astro"]) == 0 and all(a != b for a, b in zip(d["pre"], d["post"]))
    res = net.run(5.0)
    assert res.neurons["V_m"].shape == (5, 6)
