"""Pair-based STDP in ``neuro.sim`` (issue 21, section 1; ``backend="torch"``).

* the spike-pair protocol: the weight change vs pre/post timing equals the rule's curve (float64);
* nearest-spike vs all-to-all pairing, soft bounds, hard bounds;
* a Poisson-driven network with heterogeneous delays equals an independent event-driven reference
  (written here, from the recorded spike trains) to 1e-12;
* with zero amplitudes a plastic projection delivers exactly as the static one;
* the validation of rules and the backends that run them (the compiled kernels' own STDP tests are in
  ``test_sim_stdp_kernels.py``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import neuro.sim as sim

# the dense torch reference does many tiny ops: a second torch thread only contends on a shared
# 2-core machine (measured 4 x slower with two under load)
pytestmark = pytest.mark.usefixtures("one_torch_thread")

DT = 1e-4
W0 = 0.5e-3  # the plastic weight: a 0.5 mV jump, far from the threshold


def _post_population(n: int) -> sim.Population:
    return sim.Population(n, "LIF", tau_mem=20e-3, v_th=-50e-3, v_reset=-70e-3, v_leak=-70e-3,
                          synapses={"d": None}, delta_synapse="jump", name="post")


def _pairs(rule: sim.STDP, pre_steps: list, post_steps: list, delay_steps: int = 5,
           dtype: torch.dtype = torch.float64):
    """One independent pair per element: pre spikes at ``pre_steps[j]`` (a list per pair), the post
    neuron made to spike at ``post_steps[j]`` by a 30 mV driver. Returns (weights, post spikes)."""
    n = len(pre_steps)
    net = sim.Network(dt=DT, dtype=dtype, backend="torch")
    idx = np.concatenate([np.full(len(s), j) for j, s in enumerate(pre_steps)])
    pre = net.add(sim.SpikeSource(n, np.concatenate(pre_steps) * DT, idx, name="pre"))
    drv = net.add(sim.SpikeSource(n, (np.asarray(post_steps) - 1) * DT, np.arange(n), name="driver"))
    post = net.add(_post_population(n))
    one = sim.FromList(np.arange(n), np.arange(n))
    proj = net.add(sim.Projection(pre, post, one, weight=W0, delay=delay_steps * DT, plasticity=rule,
                                  name="plastic"))
    net.add(sim.Projection(drv, post, one, weight=30e-3, name="drive"))
    spikes = net.add(sim.SpikeMonitor(post))
    net.run((max(max(s) for s in pre_steps) + max(post_steps) + 50) * DT, progress=False)
    return proj.weights, spikes


def test_spike_pair_curve_equals_the_rule():
    rule = sim.STDP(tau_plus=16.8e-3, tau_minus=33.7e-3, A_plus=1e-5, A_minus=0.5e-5, w_min=0.0, w_max=1e-3)
    lags = np.arange(-600, 601, 40)
    arrival, d = 1000, 5
    w, spikes = _pairs(rule, [[arrival - d]] * lags.size, (arrival + lags).tolist(), d)
    np.testing.assert_array_equal(np.sort(spikes.steps), np.sort(arrival + lags))  # one post spike each
    expected = rule.pair_curve(lags * DT)
    np.testing.assert_allclose(w - W0, expected, rtol=1e-12, atol=1e-20)
    assert (w[lags > 0] > W0).all() and (w[lags < 0] < W0).all()
    assert w[lags == 0][0] - W0 == pytest.approx(rule.A_plus, rel=1e-12)  # same step: pre first


@pytest.mark.parametrize("dtype, rel", [(torch.float64, 1e-12), (torch.float32, 1e-2)])
def test_nearest_and_all_to_all_pairing(dtype, rel):
    kw = dict(tau_plus=20e-3, tau_minus=20e-3, A_plus=1e-5, A_minus=1e-5, w_max=1e-3)
    burst, post = [[100, 110, 120]], [130]
    decay = np.exp(-DT / 20e-3)
    w_all, _ = _pairs(sim.STDP(pairing="all", **kw), burst, post, delay_steps=0, dtype=dtype)
    w_near, _ = _pairs(sim.STDP(pairing="nearest", **kw), burst, post, delay_steps=0, dtype=dtype)
    # float32: the change is 2 % of the weight, so it keeps ~5 significant digits of float32's 7
    assert w_all[0] - W0 == pytest.approx(1e-5 * (decay ** 10 + decay ** 20 + decay ** 30), rel=rel)
    assert w_near[0] - W0 == pytest.approx(1e-5 * decay ** 10, rel=rel)


def test_soft_and_hard_bounds():
    soft = sim.STDP(A_plus=4e-4, A_minus=4e-4, w_max=1e-3, weight_dependence="multiplicative")
    lags = np.array([-50, 50])
    w, _ = _pairs(soft, [[500]] * 2, (505 + lags).tolist())
    np.testing.assert_allclose(w - W0, soft.pair_curve(lags * DT, w=W0), rtol=1e-12)
    assert soft.pair_curve(np.array([0.0]), w=1e-3)[0] == 0.0  # no potentiation at w_max
    hard = sim.STDP(A_plus=1.0, A_minus=1.0, w_min=0.1e-3, w_max=0.8e-3)
    w, _ = _pairs(hard, [[500]] * 2, (505 + lags).tolist())
    np.testing.assert_array_equal(w, [0.1e-3, 0.8e-3])


def _event_reference(rule, pre_steps, pre_idx, post_steps, post_idx, src, tgt, delay, w0, end):
    """Event-driven STDP per synapse from the spike trains (pre events before post ones in a step;
    events at step ``end`` or later have not happened yet)."""
    ax, ay = np.exp(-DT / rule.tau_plus), np.exp(-DT / rule.tau_minus)
    w = w0.copy()
    for k in range(w.size):
        events = [(int(t) + int(delay[k]), 0) for t in pre_steps[pre_idx == src[k]]]
        events += [(int(t), 1) for t in post_steps[post_idx == tgt[k]]]
        events = [e for e in events if e[0] < end]
        x = y = 0.0
        last = 0
        for t, kind in sorted(events):
            x, y, last = x * ax ** (t - last), y * ay ** (t - last), t
            if kind == 0:
                w[k] = min(max(w[k] - rule.A_minus * y, rule.w_min), rule.w_max)
                x += 1.0
            else:
                w[k] = min(max(w[k] + rule.A_plus * x, rule.w_min), rule.w_max)
                y += 1.0
    return w


def test_poisson_network_with_heterogeneous_delays_equals_an_event_reference():
    rule = sim.STDP(tau_plus=15e-3, tau_minus=25e-3, A_plus=1e-3, A_minus=1.1e-3, w_min=0.0, w_max=16e-3)
    net = sim.Network(dt=DT, seed=5, dtype=torch.float64, backend="torch")
    pre = net.add(sim.PoissonInput(20, 40.0, name="in"))
    post = net.add(sim.Population(6, "LIF", tau_mem=10e-3, v_th=-50e-3, v_reset=-65e-3, v_leak=-65e-3,
                                  refractory=2e-3, synapses={"e": 3e-3}, name="post"))
    proj = net.add(sim.Projection(pre, post, sim.FixedProbability(0.6), weight=sim.Uniform(4e-3, 12e-3),
                                  delay=sim.Uniform(0.0, 3e-3), target="e", plasticity=rule, name="stdp"))
    pre_mon, post_mon = net.add(sim.SpikeMonitor(pre)), net.add(sim.SpikeMonitor(post))
    w0 = proj.weights
    net.run(0.3, progress=False)
    net.run(0.2, progress=False)  # traces and the spike history carry over between runs
    assert post_mon.num_spikes > 20 and pre_mon.num_spikes > 200
    src, tgt = net.connections(proj)
    delay = net.compiled.spikes.delay[net._table_positions(proj)]
    assert np.unique(delay).size > 10
    ref = _event_reference(rule, pre_mon.steps, pre_mon.indices, post_mon.steps, post_mon.indices, src, tgt,
                           delay, w0, net.step)
    np.testing.assert_allclose(proj.weights, ref, rtol=0, atol=1e-12 * rule.w_max)
    assert np.abs(proj.weights - w0).max() > 1e-3  # the weights did move


def _static_vs_plastic(plastic: bool):
    net = sim.Network(dt=DT, seed=2, dtype=torch.float64, backend="torch")
    pre = net.add(sim.PoissonInput(30, 30.0))
    post = net.add(sim.Population(5, "LIF", tau_mem=10e-3, v_th=-55e-3, v_reset=-65e-3, v_leak=-65e-3,
                                  synapses={"e": 2e-3, "d": None}, name="post"))
    rule = sim.STDP(A_plus=0.0, A_minus=0.0, w_max=1.0) if plastic else None
    net.add(sim.Projection(pre, post, sim.FixedProbability(0.5), weight=2e-3, delay=sim.Uniform(0, 2e-3),
                           target="e", plasticity=rule))
    net.add(sim.Projection(pre, post, sim.FixedProbability(0.2), weight=1e-3, target="d"))
    states = net.add(sim.StateMonitor(post, ["v", "g_e"]))
    net.run(0.1, progress=False)
    return states.v, states["g_e"]


def test_zero_amplitudes_deliver_exactly_as_static_synapses():
    for a, b in zip(_static_vs_plastic(False), _static_vs_plastic(True)):
        np.testing.assert_array_equal(a, b)


def test_weights_between_runs_and_monitor():
    rule = sim.STDP(A_plus=1e-5, A_minus=0.0, w_max=1e-3)
    net = sim.Network(dt=DT, dtype=torch.float64, backend="torch")
    pre = net.add(sim.SpikeSource(1, np.array([0.010, 0.030]), np.array([0, 0])))
    drv = net.add(sim.SpikeSource(1, np.array([0.011, 0.031]), np.array([0, 0])))
    post = net.add(_post_population(1))
    proj = net.add(sim.Projection(pre, post, sim.AllToAll(), weight=W0, plasticity=rule))
    net.add(sim.Projection(drv, post, sim.AllToAll(), weight=30e-3))
    mon = net.add(sim.WeightMonitor(proj, every=5e-3))
    net.run(0.02, progress=False)
    gain = 1e-5 * np.exp(-11 * DT / 20e-3)  # pre at step 100, post at 111 (driver at 110 + 1)
    assert proj.weights[0] - W0 == pytest.approx(gain, rel=1e-12)
    proj.set_weights(0.2e-3)  # the runner takes it and keeps learning from there
    net.run(0.02, progress=False)
    both = gain + 1e-5 * np.exp(-211 * DT / 20e-3)  # all-to-all: the first pre's trace is still there
    assert proj.weights[0] - 0.2e-3 == pytest.approx(both, rel=1e-12)
    assert mon.weights[:, 0].tolist()[:2] == [W0, W0] and mon.weights[-1, 0] == proj.weights[0]


def test_validation_and_backends():
    with pytest.raises(ValueError, match="tau_plus = 20 s is implausibly long"):
        sim.STDP(tau_plus=20)
    with pytest.raises(ValueError, match="A_minus must be a finite number >= 0"):
        sim.STDP(A_minus=-1.0)
    with pytest.raises(ValueError, match="w_min <= w_max"):
        sim.STDP(w_min=1.0, w_max=0.0)
    with pytest.raises(ValueError, match="pairing must be one of"):
        sim.STDP(pairing="triplet")
    net = sim.Network(dt=DT, backend="numba")
    a = net.add(sim.Population(3, name="a"))
    with pytest.raises(TypeError, match="plasticity must be a neuro.sim.plasticity rule"):
        sim.Projection(a, a, sim.AllToAll(), plasticity="stdp")
    net.add(sim.Projection(a, a, sim.AllToAll(), plasticity=sim.STDP(), name="learning"))
    net.run(1e-3, progress=False)  # STDP runs in the CPU kernel (the refusals: test_sim_stdp_kernels.py)
    from neuro.sim.runners import NumbaRunner

    assert isinstance(net._runner, NumbaRunner)
    assert net._runner.stdp.pl_k.size == 9  # all 3 x 3 synapses are plastic
    assert net.t == pytest.approx(1e-3)


@pytest.mark.parametrize("rule_name", ["additive_all", "additive_nearest", "multiplicative_all",
                                       "multiplicative_nearest"])
def test_spike_timing_protocols_equal_brian2(rule_name):
    """Brian2's weights (committed by ``benchmarks/stdp_brian2.py``: 30 single pairs with delays of
    0-3 steps and 5 burst/alternation trains) equal neuro's to 1e-9 A_plus (float64)."""
    import stdp_cases

    spec = stdp_cases.load_brian2_pairs()
    ours = stdp_cases.neuro_weights(spec, rule_name)
    theirs = np.asarray(spec["brian2"]["results"][f"{rule_name}/all"])
    w0 = np.asarray(spec["cases"]["all"]["w0"])
    assert np.abs(theirs - w0).max() > 0.3 * spec["rules"][rule_name]["A_plus"]  # the weights moved
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9 * spec["rules"][rule_name]["A_plus"])
