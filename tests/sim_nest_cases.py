"""Networks for ``tests/test_sim_nest_export.py`` and their NEST side (run in a spawned process
through ``neuro.astro.nest_reference.run_isolated``: importable by name, as ``tests/`` is on the path)."""

from __future__ import annotations

import numpy as np
import torch

import neuro.sim as sim
from neuro.sim.examples import cuba
from neuro.sim.nest_export import NestExportError, NestSynapse, register_plasticity_export
from neuro.sim.stats import isi_cv

CUBA_SEEDS = (1, 2)
T_EXACT = 0.15

# -- networks (built on both sides) ----------------------------------------------------------------
def _exact_net(kind: str):
    """A small deterministic network; ``kind``: ``exp``, ``delta``, ``jump`` or ``alif``."""
    net = sim.Network(dt=1e-4, seed=3, dtype=torch.float64, backend="torch")
    common = dict(tau_mem=20e-3, v_th=-50e-3, v_reset=-60e-3, v_leak=-49e-3, bias=0.5e-3,
                  v_init=sim.Uniform(-60e-3, -50e-3), name="P")
    if kind == "alif":
        pop = sim.Population(5, "ALIF", refractory=1e-4, tau_adapt=0.1,
                             beta_adapt=np.linspace(0.5, 3.0, 5), a_init=np.linspace(0, 0.02, 5),
                             synapses={"d": None}, delta_synapse="jump", **common)
    elif kind == "exp":
        pop = sim.Population(5, "LIF", refractory=2e-3, synapses={"exc": 5e-3, "inh": 10e-3}, **common)
    else:
        pop = sim.Population(5, "LIF", refractory=2e-3, synapses={"d": None},
                             delta_synapse="jump" if kind == "jump" else "current", **common)
    P = net.add(pop)
    rng = np.random.default_rng(0)
    S = net.add(sim.SpikeSource(4, np.sort(rng.uniform(0, T_EXACT, 250)), rng.integers(0, 4, 250), name="S"))
    if kind == "exp":
        net.add(sim.Projection(S, P, sim.FixedProbability(0.7), weight=sim.Uniform(0, 6e-3),
                               delay=sim.Uniform(0.1e-3, 2e-3), target="exc", name="SP"))
        net.add(sim.Projection(P, P, sim.FixedProbability(0.5), weight=-3e-3, delay=1e-3, target="inh",
                               name="PP"))
    else:  # delta channels: zero delays are exact too
        w = 0.6 if kind == "delta" else 3e-3  # "current": a 0.6 V weight moves v by 3 mV
        net.add(sim.Projection(S, P, sim.FixedProbability(0.7), weight=sim.Uniform(-w / 2, w),
                               delay=sim.Uniform(0, 2e-3), name="SP"))
        net.add(sim.Projection(P, P, sim.FixedProbability(0.5), weight=w / 3, delay=1e-3, name="PP"))
    if kind != "alif":
        net.add(sim.CurrentInput(P[:2], np.r_[np.zeros(30), np.full(200, 2e-3)], name="I"))
    spikes = net.add(sim.SpikeMonitor(P))
    states = net.add(sim.StateMonitor(P, ["v", "g_exc"] if kind == "exp" else ["v"], every=2e-4))
    return net, spikes, states


def _poisson_net(seed: int):
    net = sim.Network(dt=1e-4, seed=seed)
    pop = net.add(sim.Population(200, "LIF", tau_mem=20e-3, v_th=-50e-3, v_reset=-60e-3, v_leak=-60e-3,
                                 refractory=2e-3, synapses={"exc": 5e-3}, name="P"))
    inp = net.add(sim.PoissonInput(1000, sim.Uniform(5.0, 25.0), name="in"))
    net.add(sim.Projection(inp, pop, sim.FixedProbability(0.3), weight=0.9e-3, delay=1e-3))
    return net, net.add(sim.SpikeMonitor(pop)), net.add(sim.SpikeMonitor(inp))


class FakeSTDP:
    """Stands for a plasticity rule of the plasticity issue (only its NEST export is exercised)."""


def _stdp_export(rule, proj, factor):
    return NestSynapse("stdp_synapse", {"Wmax": 10e-3 * factor, "lambda": 0.01}, {"tau_minus": 20.0})


def _plastic_net():
    net = sim.Network(dt=1e-4, seed=4, dtype=torch.float64)
    pop = net.add(sim.Population(3, "LIF", tau_mem=20e-3, v_th=-50e-3, v_reset=-60e-3, v_leak=-49e-3,
                                 synapses={"exc": 5e-3}, name="P"))
    src = net.add(sim.SpikeSource(2, np.arange(0.002, 0.2, 0.003), np.arange(66) % 2, name="S"))
    proj = net.add(sim.Projection(src, pop, sim.AllToAll(), weight=4e-3, delay=1e-3, name="plastic"))
    proj.plasticity = FakeSTDP()
    return net, net.add(sim.WeightMonitor(proj)), net.add(sim.SpikeMonitor(pop))


STDP_LAGS = np.arange(-300, 301, 40)  # post spike minus pre arrival, steps (never -(d + NEST's delay))
STDP_DELAY, STDP_ARRIVAL, STDP_LATE = 5, 600, 8000


def stdp_pairs(pairing: str = "all", weight_dependence: str = "additive"):
    """One independent pre/post pair per lag (a 30 mV driver makes the post neuron spike), and a late
    pre spike ``STDP_LATE`` steps on, which makes NEST apply its (lazy) potentiation."""
    dt, n = 1e-4, STDP_LAGS.size
    rule = sim.STDP(tau_plus=16.8e-3, tau_minus=33.7e-3, A_plus=1e-5, A_minus=0.5e-5, w_max=1e-3,
                    pairing=pairing, weight_dependence=weight_dependence)
    net = sim.Network(dt=dt, dtype=torch.float64, backend="torch")
    first = STDP_ARRIVAL - STDP_DELAY
    pre = net.add(sim.SpikeSource(n, np.r_[np.full(n, first), np.full(n, first + STDP_LATE)] * dt,
                                  np.r_[np.arange(n), np.arange(n)], name="pre"))
    drv = net.add(sim.SpikeSource(n, (STDP_ARRIVAL + STDP_LAGS - 1) * dt, np.arange(n), name="driver"))
    post = net.add(sim.Population(n, "LIF", tau_mem=20e-3, v_th=-50e-3, v_reset=-70e-3, v_leak=-70e-3,
                                  synapses={"d": None}, delta_synapse="jump", name="post"))
    one = sim.FromList(np.arange(n), np.arange(n))
    proj = net.add(sim.Projection(pre, post, one, weight=0.5e-3, delay=STDP_DELAY * dt, plasticity=rule,
                                  name="stdp"))
    net.add(sim.Projection(drv, post, one, weight=30e-3, name="drive"))
    return net, proj, rule, (STDP_ARRIVAL + STDP_LATE + 50) * dt


# -- the NEST side (one spawned process) -----------------------------------------------------------
def _nest_side() -> dict:
    out = {}
    for kind in ("exp", "delta", "jump", "alif"):
        net, spikes, states = _exact_net(kind)
        nest_net = sim.to_nest(net)
        nest_net.run(T_EXACT)
        s, st = nest_net[spikes], nest_net[states]
        out[kind] = dict(steps=s.steps, idx=s.indices, state_steps=st.steps, notes=nest_net.notes,
                         **{var: st[var] for var in states.variables})
    for mode in ("exact", "rules"):
        for seed in CUBA_SEEDS if mode == "exact" else CUBA_SEEDS[:1]:
            c = cuba(n=1000, in_degree=80, seed=seed)
            nest_net = sim.to_nest(c.net, connectivity=mode)
            nest_net.run(1.0)
            s = nest_net[c.spikes]
            out[("cuba", mode, seed)] = dict(rate=nest_net[c.rate].mean_rate(), cv=isi_cv(s.times, s.indices),
                                             notes=nest_net.notes)
    for seed in (1, 2):
        net, out_spikes, in_spikes = _poisson_net(seed)
        nest_net = sim.to_nest(net)
        nest_net.run(2.0)
        out[("poisson", seed)] = (nest_net[out_spikes].num_spikes, nest_net[in_spikes].num_spikes)
    try:
        sim.to_nest(cuba(n=50, in_degree=10).net, strict=True)
    except NestExportError as err:
        out["strict"] = str(err)
    for dependence in ("additive", "multiplicative"):
        net, proj, rule, duration = stdp_pairs("all", dependence)
        nest_net = sim.to_nest(net)
        nest_net.run(duration)
        model = f"neuro_synapse_{nest_net._models}"
        conns = nest_net.nest.GetConnections(synapse_model=model)
        post_ids = np.asarray(nest_net.nodes[net._groups[2]].tolist())
        order = np.argsort(np.searchsorted(post_ids, np.asarray(conns.get("target"))))
        out[("stdp", dependence)] = dict(weight=np.asarray(conns.get("weight"))[order],
                                      delay=np.asarray(conns.get("delay"))[order], notes=nest_net.notes)
    register_plasticity_export(FakeSTDP, _stdp_export)
    net, weights, spikes = _plastic_net()
    nest_net = sim.to_nest(net)
    nest_net.run(0.2)
    conns = nest_net.nest.GetConnections(synapse_model="neuro_synapse_1")
    out["plastic"] = dict(n_conn=len(conns), recorded=nest_net[weights], spikes=nest_net[spikes].num_spikes,
                          tau_minus=nest_net.nodes[net._groups[0]].get("tau_minus"))
    return out


# -- plasticity rules beyond pair STDP (tests/test_sim_nest_plasticity.py, benchmarks/nest_export.py) -----
RULE_DT = 5e-4  # 0.5 ms: few steps for the torch runner (the benchmark also runs 0.1 ms)
RULE_DELAY = 3  # steps: axonal in neuro; NEST's (dendritic) delay onto a delta channel is one step more
#: post spikes this much earlier (steps) in the network NEST runs, so that NEST times every pair as
#: neuro does: NEST's t_post + (d + 1) - t_pre = neuro's t_post - (t_pre + d) when t_post moves by -(2d + 1)
NEST_POST_SHIFT = -(2 * RULE_DELAY + 1)
PAIR_LAGS_MS = np.arange(-29, 30, 4)  # post minus pre arrival (no coincidences: they pair differently)
W0 = 0.5e-3  # the plastic synapses' initial weight (a 0.5 mV jump)


def _steps(ms, dt: float) -> np.ndarray:
    return np.round(np.asarray(ms, np.float64) * 1e-3 / dt).astype(np.int64)


def rule_protocols(dt: float = RULE_DT, train_pairs: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per synapse ``(pre arrival steps, post spike steps)`` as neuro times them: single pairs at
    ``PAIR_LAGS_MS``, pairing trains of ``train_pairs`` pairs (20 Hz at +-10 ms, 50 Hz at +-5 ms), the
    four triplets; every synapse ends with one more presynaptic spike (NEST applies potentiation at
    the next presynaptic spike)."""
    base = 50.0  # ms
    out = [(np.array([base]), np.array([base + lag])) for lag in PAIR_LAGS_MS]
    for period, lag in ((50.0, 10.0), (50.0, -10.0), (20.0, 5.0), (20.0, -5.0)):
        pre = base + np.arange(train_pairs) * period
        out.append((pre, pre + lag))
    out += [(np.array([base]), base + np.array([5.0, 15.0])),  # pre-post-post
            (base + np.array([5.0, 15.0]), np.array([base])),  # post-pre-pre
            (base + np.array([0.0, 15.0]), np.array([base + 6.0])),  # pre-post-pre
            (np.array([base + 6.0]), base + np.array([0.0, 15.0]))]  # post-pre-post
    end = max(max(p.max(), q.max()) for p, q in out) + 30.0
    return [(_steps(np.r_[p, end], dt), _steps(q, dt)) for p, q in out]


def stp_trains(dt: float = RULE_DT) -> list[np.ndarray]:
    """Presynaptic arrival steps per STP synapse: 6 spikes at 20, 50 and 100 Hz, each followed by a
    recovery spike 100 ms later, and an irregular train (2 to 40 ms intervals)."""
    out = [20.0 + np.r_[np.arange(6) * period, 5 * period + 100.0] for period in (50.0, 20.0, 10.0)]
    out.append(20.0 + np.cumsum(np.random.default_rng(7).integers(2, 40, 12)))
    return [_steps(t, dt) for t in out]


def triplet_rule():
    return sim.TripletSTDP(tau_plus=16.8e-3, tau_minus=33.7e-3, tau_x=101e-3, tau_y=125e-3, A2_plus=5e-6,
                           A3_plus=6e-6, A2_minus=7e-6, A3_minus=2e-7, w_max=1e-3)


def vogels_rule():
    return sim.InhibitorySTDP(tau=20e-3, eta=1e-5, rho0=5.0, w_max=1e-3)


STP_RULES = {"depressing": dict(U=0.5, tau_d=0.2, tau_f=0.0),
             "facilitating": dict(U=0.15, tau_d=50e-3, tau_f=0.2)}


def rules_net(timing: str = "neuro", dt: float = RULE_DT, protocols=None, trains=None):
    """One network with every exported rule: a ``TripletSTDP`` and an ``InhibitorySTDP`` projection
    (the same presynaptic trains, each synapse onto its own post neuron made to spike by a 30 mV
    driver) and two ``TsodyksMarkram`` projections onto non-leaky neurons whose ``v`` records each
    delivered efficacy. ``timing="nest"``: the network to export, the post spikes ``NEST_POST_SHIFT``
    steps earlier. Returns ``(net, {name: projection}, {name: StateMonitor}, {name: WeightMonitor})``."""
    d = RULE_DELAY
    protocols = rule_protocols(dt) if protocols is None else protocols
    trains = stp_trains(dt) if trains is None else trains
    shift = 0 if timing == "neuro" else NEST_POST_SHIFT
    net = sim.Network(dt=dt, dtype=torch.float64, backend="torch", seed=5)
    n = len(protocols)
    pre = net.add(sim.SpikeSource(n, np.concatenate([p - d for p, _ in protocols]) * dt,
                                  np.concatenate([np.full(p.size, j) for j, (p, _) in enumerate(protocols)]),
                                  name="pre"))
    drv = net.add(sim.SpikeSource(n, np.concatenate([q - 1 + shift for _, q in protocols]) * dt,
                                  np.concatenate([np.full(q.size, j) for j, (_, q) in enumerate(protocols)]),
                                  name="driver"))
    one = sim.FromList(np.arange(n), np.arange(n))
    projs, states, weights = {}, {}, {}
    for name, rule in (("triplet", triplet_rule()), ("vogels", vogels_rule())):
        post = net.add(sim.Population(n, "LIF", tau_mem=20e-3, v_th=-50e-3, v_reset=-70e-3, v_leak=-70e-3,
                                      synapses={"d": None}, delta_synapse="jump", name=f"post_{name}"))
        projs[name] = net.add(sim.Projection(pre, post, one, weight=W0, delay=d * dt, plasticity=rule,
                                             name=name))
        net.add(sim.Projection(drv, post, one, weight=30e-3, name=f"drive_{name}"))
        if timing == "nest":
            weights[name] = net.add(sim.WeightMonitor(projs[name], name=f"w_{name}"))
    m = len(trains)
    src = net.add(sim.SpikeSource(m, np.concatenate([t - d for t in trains]) * dt,
                                  np.concatenate([np.full(t.size, j) for j, t in enumerate(trains)]),
                                  name="stp_pre"))
    for name, kw in STP_RULES.items():
        post = net.add(sim.Population(m, "IF", v_th=-40e-3, v_reset=-70e-3, v_init=-70e-3,
                                      synapses={"d": None}, delta_synapse="jump", name=f"stp_{name}"))
        projs[name] = net.add(sim.Projection(src, post, sim.FromList(np.arange(m), np.arange(m)),
                                             weight=1e-3, delay=d * dt, plasticity=sim.TsodyksMarkram(**kw),
                                             name=name))
        states[name] = net.add(sim.StateMonitor(post, "v", every=dt, name=f"v_{name}"))
        if timing == "nest":
            weights[name] = net.add(sim.WeightMonitor(projs[name], name=f"w_{name}"))
    return net, projs, states, weights


def rules_duration(dt: float = RULE_DT, protocols=None, trains=None) -> float:
    protocols = rule_protocols(dt) if protocols is None else protocols
    trains = stp_trains(dt) if trains is None else trains
    last = max(max(p.max() for p, _ in protocols), max(t.max() for t in trains))
    return (last + 10) * dt


def _targets_order(nest_net, conns, group) -> np.ndarray:
    ids = np.asarray(nest_net.nodes[group].tolist())
    return np.argsort(np.searchsorted(ids, np.asarray(conns.get("target"))))


def nest_rules_side(dt: float = RULE_DT, protocols=None, trains=None) -> dict:
    """The NEST side of ``rules_net`` (run in a spawned process): final weights of the weight rules in
    post-neuron order (neuro units), the STP neurons' ``v`` and what the weight recorders saw."""
    net, projs, states, weights = rules_net("nest", dt, protocols, trains)
    nest_net = sim.to_nest(net)
    nest_net.run(rules_duration(dt, protocols, trains))
    out = {"notes": nest_net.notes, "models": {}, "keys": {}}
    for name in ("triplet", "vogels"):
        post = projs[name].post.group
        conns = nest_net.nest.GetConnections(nest_net.nodes[projs[name].pre.group], nest_net.nodes[post])
        order = _targets_order(nest_net, conns, post)
        out[name] = np.asarray(conns.get("weight"), np.float64)[order] * 1e-3  # mV -> V (delta jump)
        out["models"][name] = sorted({str(m) for m in conns.get("synapse_model")})
        out["keys"][name] = sorted(conns[0].get().keys())  # the parameters of the NEST model used
    for name in STP_RULES:
        st = nest_net[states[name]]
        out[f"v_{name}"] = dict(steps=st.steps, v=st["v"])
        conns = nest_net.nest.GetConnections(nest_net.nodes[projs[name].pre.group],
                                             nest_net.nodes[projs[name].post.group])
        out["models"][name] = sorted({str(m) for m in conns.get("synapse_model")})
        out["keys"][name] = sorted(conns[0].get().keys())
    out["recorded"] = {name: nest_net[mon] for name, mon in weights.items()}
    return out
