"""Shared cases for the astrocyte tests: a small mixed tripartite network and a pure-Python
reference simulator of it (the same scalar steps, interpreted, with an event queue per absolute
step instead of the kernels' ring buffers and slices)."""

from __future__ import annotations

import numpy as np

from neuro.astro import AeifAstroParameters, AstrocyteParameters, TripartiteNetwork
from neuro.kernels import aeif_math, astrocyte_math, rkf45_math
from neuro.kernels._jit import retarget

DT = 0.1


def _identity(fn):
    return fn


def python_update(rhs_fn, update_fn, **helpers):
    """The per-step update as plain Python (no Numba): the interpreted oracle of the kernels."""
    step = retarget(rkf45_math.rkf45_step, _identity, rhs=rhs_fn)
    evolve = retarget(rkf45_math.evolve_apply, _identity, rhs=rhs_fn, rkf45_step=step,
                      hadjust=rkf45_math.hadjust)
    return retarget(update_fn, _identity, evolve_apply=evolve, **helpers)


PY_ASTRO = python_update(astrocyte_math.lr_rhs, astrocyte_math.astrocyte_update,
                         sic_of=astrocyte_math.sic_of)
PY_AEIF = python_update(aeif_math.aeif_rhs, aeif_math.aeif_update)

NEURON_PARAMS = AeifAstroParameters(tau_syn_ex=2.0, t_ref=1.0)
ASTRO_PARAMS = AstrocyteParameters(delta_IP3=0.5)
N, A = 3, 2
ASTRO_CA0 = np.array([0.25, 0.1])  # astrocyte 0 starts above the SIC threshold
NN = [(0, 1, 15.0, 1.0), (0, 2, -10.0, 1.5), (1, 2, 8.0, 2.0)]  # pre, post, weight, delay (ms)
NA = [(0, 0, 1.0, 1.0), (1, 1, 2.0, 1.2)]
AN = [(0, 1, 50.0, 1.0), (1, 2, 20.0, 1.0), (0, 2, 10.0, 2.0)]
EXT_TIMES = np.round(np.arange(0.5, 40.0, 0.7), 1)  # input spikes to neuron 0 (ms)
EXT_WEIGHT = 30.0
EXT_ASTRO = [(3.0, 1, 1.0), (3.0, 1, 1.0), (7.5, 0, 2.0)]  # time, astrocyte, weight


def build_network(backend: str = "numba") -> TripartiteNetwork:
    net = TripartiteNetwork(N, A, NEURON_PARAMS, ASTRO_PARAMS, dt=DT, backend=backend)
    net.astrocyte_state = net.astrocytes.initial_state(Ca_astro=ASTRO_CA0)
    for edges, connect in ((NN, net.connect_neurons), (NA, net.connect_neuron_astrocyte),
                           (AN, net.connect_sic)):
        pre, post, w, d = (np.array(c) for c in zip(*edges))
        connect(pre.astype(int), post.astype(int), w, d)
    net.add_spike_input(EXT_TIMES, target=0, weight=EXT_WEIGHT)
    for t, a, w in EXT_ASTRO:
        net.add_spike_input([t], target=a, weight=w, kind="astrocyte")
    return net


def reference_run(n_steps: int):
    """Step-by-step interpreted simulation; returns V_m [n_steps, N], Ca [n_steps, A], spikes."""
    nprm, aprm = NEURON_PARAMS.table(N, DT), ASTRO_PARAMS.table(A)
    nstate = np.zeros((aeif_math.N_STATE, N))
    nstate[aeif_math.S_V] = NEURON_PARAMS.E_L
    nstate[aeif_math.S_HINT] = DT
    astate = np.zeros((astrocyte_math.N_STATE, A))
    astate[astrocyte_math.S_IP3] = 0.16
    astate[astrocyte_math.S_CA] = ASTRO_CA0
    astate[astrocyte_math.S_H] = 0.793
    astate[astrocyte_math.S_HINT] = DT
    horizon = n_steps + 100
    ex, inh, sic_in = (np.zeros((horizon, N)) for _ in range(3))
    ip3 = np.zeros((horizon, A))
    for t in EXT_TIMES:
        ex[int(round(t / DT)) - 1, 0] += EXT_WEIGHT
    for t, a, w in EXT_ASTRO:
        ip3[int(round(t / DT)) - 1, a] += w
    steps = lambda d: int(round(d / DT))  # noqa: E731
    v_rec, ca_rec, spikes = np.zeros((n_steps, N)), np.zeros((n_steps, A)), []
    Y = rkf45_math.Y
    for k in range(n_steps):
        fired = np.zeros(N)
        for q in range(N):
            w = np.zeros((rkf45_math.ROWS, aeif_math.N_ODE))
            w[Y] = nstate[:aeif_math.N_ODE, q]
            fired[q], status = PY_AEIF(w, nstate, q, nprm, q % nprm.shape[1], DT, ex[k, q], inh[k, q], 0.0,
                                       sic_in[k, q])
            assert status == aeif_math.OK
            nstate[:aeif_math.N_ODE, q] = w[Y]
        sic = np.zeros(A)
        for a in range(A):
            w = np.zeros((rkf45_math.ROWS, astrocyte_math.N_ODE))
            w[Y] = astate[:astrocyte_math.N_ODE, a]
            sic[a] = PY_ASTRO(w, astate, a, aprm, a % aprm.shape[1], DT, ip3[k, a])
            astate[:astrocyte_math.N_ODE, a] = w[Y]
        for pre, post, wt, d in NN:
            if fired[pre]:
                (ex if wt > 0 else inh)[k + steps(d), post] += abs(wt) * fired[pre]
        for pre, a, wt, d in NA:
            ip3[k + steps(d), a] += wt * fired[pre]
        for a, post, wt, d in AN:
            sic_in[k + steps(d), post] += wt * sic[a]
        spikes += [(round((k + 1) * DT, 6), q) for q in np.nonzero(fired)[0]]
        v_rec[k] = nstate[aeif_math.S_V]
        ca_rec[k] = astate[astrocyte_math.S_CA]
    return v_rec, ca_rec, spikes


def nest_mixed_network(duration_ms: float):
    """The same network in NEST (run through ``nest_reference.run_isolated``)."""
    from neuro.astro.nest_reference import start_nest

    nest = start_nest(DT, 1)
    np_ = NEURON_PARAMS.as_dict()
    neurons = nest.Create("aeif_cond_alpha_astro", N, params={k: float(v) for k, v in np_.items()})
    astros = nest.Create("astrocyte_lr_1994", A, params={"delta_IP3": float(ASTRO_PARAMS.delta_IP3)})
    for a, ca in enumerate(ASTRO_CA0):
        astros[a].set({"Ca_astro": float(ca)})
    for pre, post, w, d in NN:
        nest.Connect(neurons[pre], neurons[post], syn_spec={"weight": w, "delay": d})
    for pre, a, w, d in NA:
        nest.Connect(neurons[pre], astros[a], syn_spec={"weight": w, "delay": d})
    for a, post, w, d in AN:
        nest.Connect(astros[a], neurons[post], syn_spec={"synapse_model": "sic_connection",
                                                         "weight": w, "delay": d})
    # spike generators emit one step before the wanted arrival, with a one-step delay
    gen = nest.Create("spike_generator", params={"spike_times": np.round(EXT_TIMES - DT, 1)})
    nest.Connect(gen, neurons[0], syn_spec={"weight": EXT_WEIGHT, "delay": DT})
    for t, a, w in EXT_ASTRO:
        g = nest.Create("spike_generator", params={"spike_times": [round(t - DT, 1)]})
        nest.Connect(g, astros[a], syn_spec={"weight": w, "delay": DT})
    mm_n = nest.Create("multimeter", params={"interval": DT, "record_from": ["V_m", "I_SIC"]})
    mm_a = nest.Create("multimeter", params={"interval": DT, "record_from": ["Ca_astro", "IP3"]})
    sr = nest.Create("spike_recorder")
    nest.Connect(mm_n, neurons)
    nest.Connect(mm_a, astros)
    nest.Connect(neurons, sr)
    nest.Simulate(duration_ms)

    def table(mm, name, ids):
        ev = mm.get("events")
        out = np.full((int(round(duration_ms / DT)) - 1, len(ids)), np.nan)
        col = {g: i for i, g in enumerate(ids)}
        rows = np.round(np.asarray(ev["times"]) / DT).astype(int) - 1
        for r, s, v in zip(rows, ev["senders"], ev[name]):
            out[r, col[s]] = v
        return out

    ev = sr.get("events")
    first = neurons[0].global_id
    spikes = sorted((round(float(t), 6), int(s) - first) for t, s in zip(ev["times"], ev["senders"]))
    nid, aid = neurons.tolist(), astros.tolist()
    return (table(mm_n, "V_m", nid), table(mm_n, "I_SIC", nid), table(mm_a, "Ca_astro", aid),
            table(mm_a, "IP3", aid), spikes)
