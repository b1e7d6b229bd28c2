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
