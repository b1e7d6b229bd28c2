"""``neuro.sim.to_nest`` with the plasticity rules beyond pair STDP (issue 21, section 4).

One network (``sim_nest_cases.rules_net``) holds every exported rule: ``TripletSTDP`` ->
``stdp_triplet_synapse`` and ``InhibitorySTDP`` -> ``vogels_sprekeler_synapse`` on 23 spike-timing
protocols (single pairs at -29..29 ms, pairing trains at 20 and 50 Hz, the four triplets), and two
``TsodyksMarkram`` projections -> ``tsodyks_synapse`` (``tau_psc -> 0``) on four trains. neuro runs it
(``backend="torch"``, float64) here; NEST runs its export in one spawned process (NEST's OpenMP
runtime and Numba's crash together in one process), with the post-synaptic spikes ``2 d + 1`` steps
earlier so that NEST, whose delay is dendritic, times every pair as neuro does (axonal).

Measured (float64, ``python benchmarks/nest_export.py --plasticity``, 33 protocols and 6 trains at
0.1 and 0.5 ms): weight changes equal to 1.1e-14 of the largest change, delivered efficacies to
5.3e-14 of the largest (``benchmarks/results/nest_plasticity/``). The tests allow 1e-12.
``RewardSTDP`` and the forms without a NEST model are named in one ``NestExportError``.
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

import neuro.sim as sim
import sim_nest_cases as C
from neuro.sim.nest_export import NestExportError

# the dense torch reference does many tiny ops: a second torch thread only contends on a shared
# 2-core machine (measured 4 x slower with two under load)
pytestmark = pytest.mark.usefixtures("one_torch_thread")

HAVE_NEST = importlib.util.find_spec("nest") is not None  # found without importing it here
TOL = 1e-12  # of the largest change / efficacy


@pytest.fixture(scope="module")
def nest_side() -> dict:
    if not HAVE_NEST:
        pytest.skip("nest-simulator is not installed")
    from neuro.astro.nest_reference import run_isolated

    return run_isolated(C.nest_rules_side)


@pytest.fixture(scope="module")
def neuro_side() -> dict:
    net, projs, states, _ = C.rules_net("neuro")
    w0 = {name: p.weights.copy() for name, p in projs.items()}
    net.run(C.rules_duration(), progress=False)
    out = {name: projs[name].weights - w0[name] for name in ("triplet", "vogels")}
    out.update({f"v_{name}": (states[name].steps, states[name].v) for name in C.STP_RULES})
    return out


def vogels_change(rule: sim.InhibitorySTDP, pre, post, w: float) -> float:
    """Vogels et al. (2011) event by event in continuous time (pre first at equal times)."""
    w0, x, y, last = w, 0.0, 0.0, None
    for t, kind in sorted([(float(t), 0) for t in pre] + [(float(t), 1) for t in post]):
        if last is not None:
            x, y = x * math.exp(-(t - last) / rule.tau), y * math.exp(-(t - last) / rule.tau)
        last = t
        if kind == 0:
            w, x = min(max(w + rule.eta * (y - rule.alpha), rule.w_min), rule.w_max), x + 1.0
        else:
            w, y = min(max(w + rule.eta * x, rule.w_min), rule.w_max), y + 1.0
    return w - w0


def _reference(name: str) -> np.ndarray:
    dt, out = C.RULE_DT, []
    for pre, post in C.rule_protocols():
        if name == "triplet":
            out.append(C.triplet_rule().spike_train_change(pre * dt, post * dt, w=C.W0))
        else:
            out.append(vogels_change(C.vogels_rule(), pre * dt, post * dt, C.W0))
    return np.asarray(out)


@pytest.mark.parametrize("name", ["triplet", "vogels"])
def test_weight_rules_match_nest(nest_side, neuro_side, name):
    """The same spike-timing protocol (as each simulator times it) changes the weights equally."""
    ours, theirs = neuro_side[name], nest_side[name] - C.W0
    scale = np.abs(ours).max()
    assert scale > 1e-5 and (ours > 0).sum() >= 5 and (ours < 0).sum() >= 5  # both signs, not tiny
    np.testing.assert_allclose(theirs, ours, rtol=0, atol=TOL * scale)
    np.testing.assert_allclose(ours, _reference(name), rtol=0, atol=TOL * scale)  # the rule itself
    own = "Aplus_triplet" if name == "triplet" else "eta"  # stdp_triplet_synapse / vogels_sprekeler_synapse
    assert len(nest_side["models"][name]) == 1 and own in nest_side["keys"][name]
    assert nest_side["notes"] == []  # nothing approximated
    rec = nest_side["recorded"][name]  # NEST's weight_recorder: the weight after each presynaptic spike
    last = [rec["weights"][rec["post"] == j][-1] for j in range(len(ours))]
    np.testing.assert_allclose(last, nest_side[name], rtol=1e-12)


@pytest.mark.parametrize("name", list(C.STP_RULES))
def test_short_term_plasticity_matches_nest(nest_side, neuro_side, name):
    """Delivered efficacies ``w u x``: the jumps of non-leaky neurons' ``v`` in both simulators, and
    NEST's weight_recorder, against ``TsodyksMarkram.efficacies``."""
    steps, v = neuro_side[f"v_{name}"]
    ref = nest_side[f"v_{name}"]
    rows = np.searchsorted(steps, ref["steps"])
    np.testing.assert_array_equal(steps[rows], ref["steps"])
    ours, theirs = np.diff(v[rows], axis=0), np.diff(ref["v"], axis=0)
    rule = sim.TsodyksMarkram(**C.STP_RULES[name])
    assert "tau_psc" in nest_side["keys"][name]  # tsodyks_synapse
    rec = nest_side["recorded"][name]
    for j, train in enumerate(C.stp_trains()):
        expected = rule.efficacies(train * C.RULE_DT) * 1e-3  # weight 1 mV
        got = ours[:, j][np.abs(ours[:, j]) > 1e-9]
        np.testing.assert_allclose(got, expected, rtol=0, atol=TOL * expected.max())
        np.testing.assert_allclose(rec["weights"][rec["post"] == j], expected, rtol=0,
                                   atol=TOL * expected.max())
    # between spikes NEST's v leaks by 1e-12 of (v - E_L) per step (IF exports with tau_m = 1e12 steps)
    np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-14)


def test_rules_without_nest_equivalent_are_named():
    """One NestExportError lists every plastic part NEST cannot run, with the reason."""
    net = sim.Network(dt=1e-4)
    src = net.add(sim.SpikeSource(2, [0.001, 0.002], [0, 1], name="src"))
    pop = net.add(sim.Population(2, synapses={"e": 5e-3}, name="P"))
    other = net.add(sim.Population(2, synapses={"e": 5e-3}, name="Q"))
    mod = sim.Neuromodulator(0.5)
    for name, rule, post in (("reward", sim.RewardSTDP(mod), pop),
                             ("nearest", sim.TripletSTDP(pairing="nearest"), pop),
                             ("floor", sim.InhibitorySTDP(w_min=0.1), pop),
                             ("combined", sim.TsodyksMarkram(weight_rule=sim.STDP()), pop),
                             ("stdp20", sim.STDP(tau_minus=20e-3), other),
                             ("vogels10", sim.InhibitorySTDP(tau=10e-3), other)):
        net.add(sim.Projection(src, post, sim.AllToAll(), weight=1e-3, plasticity=rule, name=name))
    with pytest.raises(NestExportError) as err:
        sim.to_nest(net)
    text = str(err.value)
    for part in ("Projection 'reward': RewardSTDP has no NEST equivalent: NEST's stdp_dopamine_synapse",
                 "volume_transmitter", "Neuromodulator",
                 "Projection 'nearest': TripletSTDP pairing='nearest' is not exported",
                 "Projection 'floor': InhibitorySTDP w_min = 0.1",
                 "Projection 'combined': TsodyksMarkram with weight_rule=STDP is not exported",
                 "Projection 'vogels10': its rule needs tau_minus = 10 ms on Population 'Q', projection "
                 "'stdp20' needs 20 ms"):
        assert part in text, part
    assert "Projection 'stdp20'" not in text  # fine on its own: only the second one onto Q conflicts
