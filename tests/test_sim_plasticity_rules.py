"""Plasticity rules beyond pair STDP in ``neuro.sim`` (issue 21, section 1; ``backend="torch"``).

* Brian2's results (committed by ``benchmarks/plasticity_brian2.py``) equal neuro's to 1e-9 of the
  largest change, float64: triplet STDP (all-to-all, nearest), reward-modulated STDP under a
  scheduled neuromodulator, Vogels inhibitory plasticity (final weights of 41 spike-timing
  protocols), Tsodyks–Markram depressing / facilitating / with a long-term rule (every delivered
  value of 5 presynaptic trains);
* each rule against its own curve or event-driven reference, float64 and float32;
* the neuromodulator set between runs and scheduled; validation names the argument.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import neuro.sim as sim

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DT = 1e-4
W0 = 0.5e-3


@pytest.fixture(scope="module")
def brian2_replay():
    import plasticity_cases

    spec = plasticity_cases.load_brian2_rules()
    pairs, stp = plasticity_cases.case_names(spec)
    with plasticity_cases.one_torch_thread():
        ours = {**plasticity_cases.neuro_weights(spec, pairs), **plasticity_cases.neuro_deliveries(spec, stp)}
    return spec, ours


@pytest.mark.parametrize("name", ["triplet_all", "triplet_nearest", "reward_stdp", "vogels"])
def test_weights_equal_brian2(brian2_replay, name):
    spec, ours = brian2_replay
    theirs = np.asarray(spec["brian2"]["results"][name])
    w0 = np.asarray(spec["cases"]["pairs"]["w0"])
    largest = np.abs(theirs - w0).max()
    assert largest > 2e-6  # the weights moved (amplitudes ~1e-5)
    np.testing.assert_allclose(ours[name], theirs, rtol=0, atol=1e-9 * largest)


@pytest.mark.parametrize("name", ["stp_depressing", "stp_facilitating", "stp_with_vogels"])
def test_short_term_deliveries_equal_brian2(brian2_replay, name):
    spec, ours = brian2_replay
    theirs = [np.asarray(r) for r in spec["brian2"]["results"][name]]
    counts = [len(s) for s in spec["cases"]["stp"]["pre"]]
    assert [len(a) for a in ours[name]] == counts == [len(b) for b in theirs]
    largest = max(np.abs(b).max() for b in theirs)
    for a, b in zip(ours[name], theirs):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9 * largest)
        assert b.max() - b.min() > 0.1 * b.max()  # depression or facilitation did act


# -- neuro's side against the rules' own references -------------------------------------------------
def _pairs(rule, pre_steps: list, post_steps: list, delay_steps: int = 3, dtype=torch.float64,
           duration_steps: int | None = None):
    """One independent synapse per element: pre arrivals at ``pre_steps[j]`` (lists), the post neuron
    made to spike at ``post_steps[j]`` (lists) by a 30 mV driver. Returns (network, projection)."""
    n = len(pre_steps)
    net = sim.Network(dt=DT, dtype=dtype, backend="torch")
    pre_idx = np.concatenate([np.full(len(s), j) for j, s in enumerate(pre_steps)])
    pre = net.add(sim.SpikeSource(n, (np.concatenate(pre_steps) - delay_steps) * DT, pre_idx, name="pre"))
    post = net.add(sim.Population(n, "LIF", tau_mem=20e-3, v_th=-50e-3, v_reset=-70e-3, v_leak=-70e-3,
                                  synapses={"d": None}, delta_synapse="jump", name="post"))
    one = sim.FromList(np.arange(n), np.arange(n))
    proj = net.add(sim.Projection(pre, post, one, weight=W0, delay=delay_steps * DT, plasticity=rule,
                                  name="plastic"))
    posts = [s for s in post_steps if len(s)]
    if posts:
        post_idx = np.concatenate([np.full(len(s), j) for j, s in enumerate(post_steps)])
        drv = net.add(sim.SpikeSource(n, (np.concatenate(post_steps) - 1) * DT, post_idx, name="driver"))
        net.add(sim.Projection(drv, post, one, weight=30e-3, name="drive"))
    last = max(max(s) for s in pre_steps + posts)
    net.run((duration_steps or last + 20) * DT, progress=False)
    return net, proj


TRIPLET = dict(tau_plus=16.8e-3, tau_minus=33.7e-3, tau_x=101e-3, tau_y=125e-3, A2_plus=5e-6, A3_plus=6.2e-6,
               A2_minus=7e-6, A3_minus=2.3e-6, w_min=0.0, w_max=1e-3)
TRAINS = [([100, 300], [150, 250]), ([150, 250], [100, 300]), ([100, 200, 300, 400], [110, 210, 310, 410]),
          ([110, 210, 310], [100, 200, 300]), ([100], [100]), ([100, 105], [102])]


@pytest.mark.parametrize("pairing", ["all", "nearest"])
@pytest.mark.parametrize("dtype, rel, atol", [(torch.float64, 1e-11, 1e-19), (torch.float32, 2e-3, 1e-9)])
def test_triplet_equals_its_event_driven_reference(pairing, dtype, rel, atol):
    rule = sim.TripletSTDP(**TRIPLET, pairing=pairing)
    _, proj = _pairs(rule, [p for p, _ in TRAINS], [q for _, q in TRAINS], dtype=dtype)
    want = [rule.spike_train_change(np.array(p) * DT, np.array(q) * DT, w=W0) for p, q in TRAINS]
    np.testing.assert_allclose(proj.weights - W0, want, rtol=rel, atol=atol)
    lags = np.array([-200, -30, 0, 30, 200])
    _, proj = _pairs(rule, [[500]] * lags.size, (500 + lags)[:, None].tolist())
    np.testing.assert_allclose(proj.weights - W0, rule.pair_curve(lags * DT), rtol=1e-11)


def test_triplet_terms_and_frequency_curve():
    rule = sim.TripletSTDP(**TRIPLET)
    # post-pre-post: the second post spike sees the first one's o2 (triplet potentiation)
    with_triplet = rule.spike_train_change([0.010], [0.0, 0.020], w=W0)
    pair_only = sim.TripletSTDP(**{**TRIPLET, "A3_plus": 0.0, "A3_minus": 0.0}).spike_train_change(
        [0.010], [0.0, 0.020], w=W0)
    triplet_term = 6.2e-6 * np.exp(-0.01 / 16.8e-3) * np.exp(-0.02 / 125e-3)  # A3+ r1 o2
    assert with_triplet - pair_only == pytest.approx(triplet_term, rel=1e-12)
    curve = sim.TripletSTDP().frequency_curve(10e-3, np.array([1.0, 20.0, 50.0]))
    assert curve[0] < curve[1] < curve[2]  # potentiation grows with the pairing frequency
    low, high = sim.TripletSTDP().frequency_curve(-10e-3, np.array([1.0, 50.0]))
    assert low < 0 < high  # post-pre pairs depress at low frequency and potentiate at high


def test_inhibitory_pair_curve_and_target_rate():
    rule = sim.InhibitorySTDP(tau=20e-3, eta=1e-5, rho0=5.0, w_max=1e-3)
    assert rule.alpha == pytest.approx(0.2)
    lags = np.array([-300, -50, 0, 50, 300])
    for dtype, rel in ((torch.float64, 1e-11), (torch.float32, 1e-3)):
        _, proj = _pairs(rule, [[500]] * lags.size, (500 + lags)[:, None].tolist(), dtype=dtype)
        np.testing.assert_allclose(proj.weights - W0, rule.pair_curve(lags * DT), rtol=rel)
    # presynaptic spikes alone only depress, by eta * alpha each
    _, proj = _pairs(rule, [[100, 600, 1100]], [[]])
    assert proj.weights[0] - W0 == pytest.approx(-3 * 1e-5 * 0.2, rel=1e-11)


def _stp_network(rule, trains, dtype=torch.float64, weight=1e-3):
    n = len(trains)
    net = sim.Network(dt=DT, dtype=dtype, backend="torch")
    idx = np.concatenate([np.full(len(s), j) for j, s in enumerate(trains)])
    pre = net.add(sim.SpikeSource(n, np.concatenate(trains) * DT, idx))
    post = net.add(sim.Population(n, "IF", v_th=1.0, v_reset=0.0, v_leak=0.0, synapses={"d": None},
                                  delta_synapse="jump"))
    proj = net.add(sim.Projection(pre, post, sim.FromList(np.arange(n), np.arange(n)), weight=weight,
                                  plasticity=rule))
    mon = net.add(sim.StateMonitor(post, ["v"]))
    return net, proj, mon


# float32: x and u relax by one rounded multiplication per step (2000 steps before the last spike)
@pytest.mark.parametrize("dtype, rel", [(torch.float64, 1e-12), (torch.float32, 3e-4)])
def test_tsodyks_markram_efficacies(dtype, rel):
    rule = sim.TsodyksMarkram(U=0.2, tau_d=150e-3, tau_f=300e-3)
    trains = [[10 + 100 * k for k in range(6)], [10, 30, 50, 2000]]
    net, _, mon = _stp_network(rule, trains, dtype)
    net.run(0.21, progress=False)
    for j, train in enumerate(trains):
        v = np.asarray(mon.v[:, j], np.float64)
        jumps = np.diff(np.concatenate([[0.0], v]))
        np.testing.assert_allclose(jumps[jumps != 0], 1e-3 * rule.efficacies(np.array(train) * DT), rtol=rel)
    state = net._runner.plastic_state(0)
    assert state["u"][0] > rule.U and state["x"][0] < 1.0
    net.reset()  # back to rest: u = U, x = 1
    state = net._runner.plastic_state(0)
    np.testing.assert_array_equal(state["u"], np.asarray(rule.U, state["u"].dtype))
    np.testing.assert_array_equal(state["x"], 1.0)
    no_facilitation = sim.TsodyksMarkram(U=0.5, tau_d=100e-3, tau_f=0.0)
    second = no_facilitation.efficacies([0.0, 1e-4])[1]  # u back to U at once, x recovering from 0.5
    assert second == pytest.approx(0.5 * (1 - 0.5 * np.exp(-1e-3)), rel=1e-12)


def test_short_term_with_a_long_term_rule():
    stdp = sim.STDP(A_plus=1e-5, A_minus=1e-5, w_max=1e-3)
    lags = [[150], [60]]
    net_a, alone = _pairs(stdp, [[100, 120]] * 2, lags)  # (a projection needs its network alive)
    both = sim.TsodyksMarkram(U=0.4, tau_d=100e-3, tau_f=50e-3, weight_rule=stdp)
    net_b, combined = _pairs(both, [[100, 120]] * 2, lags)
    np.testing.assert_array_equal(combined.weights, alone.weights)  # the long-term part is untouched
    # delivered: w before the long-term update times u x
    vogels = sim.InhibitorySTDP(eta=1e-5, rho0=5.0, w_max=1e-3)
    net, _, mon = _stp_network(sim.TsodyksMarkram(U=0.4, tau_d=100e-3, tau_f=50e-3, weight_rule=vogels),
                               [[10, 30]], weight=W0)
    net.run(0.005, progress=False)
    jumps = np.diff(np.concatenate([[0.0], np.asarray(mon.v[:, 0], np.float64)]))
    eff = sim.TsodyksMarkram(U=0.4, tau_d=100e-3, tau_f=50e-3).efficacies([10 * DT, 30 * DT])
    want = [W0 * eff[0], (W0 - 1e-5 * vogels.alpha) * eff[1]]  # the second sees the first's depression
    np.testing.assert_allclose(jumps[jumps != 0], want, rtol=1e-12)


def test_reward_stdp_follows_the_neuromodulator():
    mod = sim.Neuromodulator(0.0, name="dopamine")
    rule = sim.RewardSTDP(mod, A_plus=1e-5, A_minus=1e-5, tau_c=0.1, eta=5.0, w_max=1e-3)
    lags = np.array([-40, 40])
    net, proj = _pairs(rule, [[500]] * 2, (500 + lags)[:, None].tolist(), duration_steps=600)
    np.testing.assert_array_equal(proj.weights, W0)  # M = 0: eligibility only
    c = net._runner.plastic_state(0)["c"]
    after = 599 - np.array([500, 540])  # decays since each pair's second spike (steps 500 and 540)
    np.testing.assert_allclose(c, rule.eligibility_curve(lags * DT) * np.exp(-after * DT / 0.1), rtol=1e-12)
    assert c[0] < 0 < c[1]
    mod.value = 2.0  # between runs
    w_before = proj.weights
    net.run(0.05, progress=False)
    a = np.exp(-DT / 0.1)  # 500 steps: c decays, then w += eta M dt c
    want = rule.eta * 2.0 * DT * c * a * (1 - a ** 500) / (1 - a)
    np.testing.assert_allclose(proj.weights - w_before, want, rtol=1e-10)
    # a schedule: M = 0 after the first 1 ms (values beyond it fall back to mod.value = 0)
    mod.value = 0.0
    mod.set_schedule([1.0], value_dt=1e-3, start=net.step * DT)
    w_before = proj.weights
    net.run(0.01, progress=False)
    moved = proj.weights - w_before
    assert moved[0] < 0 < moved[1]
    assert mod.at(net.step * DT, DT) == 0.0 and "schedule of 1" in repr(mod)


def test_reward_pair_change_is_the_runner_sum():
    mod = sim.Neuromodulator(1.5)
    rule = sim.RewardSTDP(mod, A_plus=1e-5, A_minus=1.2e-5, tau_c=0.05, eta=10.0, w_max=1e-3)
    lags = np.array([-30, 30])
    _, proj = _pairs(rule, [[500]] * 2, (500 + lags)[:, None].tolist(), duration_steps=900)
    # from each pair's second spike (steps 500 and 530) to the end of the run (step 899)
    want = [rule.pair_change(lag * DT, 1.5, duration=(900 - s) * DT, dt=DT)
            for lag, s in zip(lags, (500, 530))]
    np.testing.assert_allclose(proj.weights - W0, want, rtol=1e-10)


def test_validation_names_the_argument():
    with pytest.raises(ValueError, match="TripletSTDP tau_x must be a positive number of seconds"):
        sim.TripletSTDP(tau_x=0.0)
    with pytest.raises(ValueError, match="TripletSTDP A3_minus must be a finite number >= 0"):
        sim.TripletSTDP(A3_minus=-1e-3)
    with pytest.raises(ValueError, match="TripletSTDP pairing must be one of"):
        sim.TripletSTDP(pairing="triplet")
    with pytest.raises(ValueError, match="TripletSTDP tau_y = 125 s is implausibly long"):
        sim.TripletSTDP(tau_y=125.0)
    with pytest.raises(TypeError, match="RewardSTDP modulator must be a neuro.sim.Neuromodulator"):
        sim.RewardSTDP(1.0)
    with pytest.raises(ValueError, match="RewardSTDP eta must be a finite number"):
        sim.RewardSTDP(sim.Neuromodulator(), eta=float("nan"))
    with pytest.raises(ValueError, match="RewardSTDP w_min <= w_max|RewardSTDP needs w_min <= w_max"):
        sim.RewardSTDP(sim.Neuromodulator(), w_min=1.0, w_max=0.0)
    with pytest.raises(ValueError, match="InhibitorySTDP rho0 = 5000 Hz is implausibly high"):
        sim.InhibitorySTDP(rho0=5000.0)
    with pytest.raises(ValueError, match="InhibitorySTDP eta must be a finite number >= 0"):
        sim.InhibitorySTDP(eta=-1.0)
    with pytest.raises(ValueError, match=r"TsodyksMarkram U must be in \(0, 1\]"):
        sim.TsodyksMarkram(U=1.5)
    with pytest.raises(ValueError, match="TsodyksMarkram tau_f must be a number of seconds >= 0"):
        sim.TsodyksMarkram(tau_f=-1.0)
    with pytest.raises(TypeError, match="TsodyksMarkram weight_rule must be None or a long-term rule"):
        sim.TsodyksMarkram(weight_rule=sim.TsodyksMarkram())
    mod = sim.Neuromodulator(name="da")
    with pytest.raises(ValueError, match="Neuromodulator da: value must be a finite number"):
        mod.value = float("inf")
    with pytest.raises(ValueError, match="Neuromodulator da: value_dt must be a positive number"):
        mod.set_schedule([1.0, 2.0], value_dt=0.0)
    with pytest.raises(ValueError, match="Neuromodulator da: values must be a non-empty 1-d array"):
        mod.set_schedule([[1.0]], value_dt=1e-3)
    mod.set_schedule([1.0, 2.0], value_dt=1e-3, start=0.01)
    assert [mod.at(t, DT) for t in (0.0, 0.01, 0.0109, 0.011, 0.012)] == [0.0, 1.0, 1.0, 2.0, 0.0]
    mod.clear_schedule()
    assert mod.at(0.01) == 0.0
