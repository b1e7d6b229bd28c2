"""Backends that advance a compiled network: Numba CPU kernel, numba.cuda kernel, dense torch reference.

Every runner owns the network state (``v, i, a`` per neuron, channel currents ``g``, refractory
counters, the delivery ring buffer; astrocyte states and their IP3 ring) and returns, for each chunk
of steps, the spikes of recorded
sources as ``(step, global index)`` sorted by step then index, the spike count per population and
step, and the state-monitor rows. The Numba CPU kernel and the CUDA event kernel
(``neuro.sim.cuda_runner``) produce bit-identical spike trains and states for the same network and
seed, with any weights (the CUDA kernel sums each target's inputs in the CPU kernel's order); the
dense torch reference sums in another order, so it gives the same spikes exactly when the sums of
weights are exact in floating point (see the tests).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from neuro.astro.populations import ASTROCYTE_RECORDABLES
from neuro.kernels import astrocyte_math, rkf45_math
from neuro.sim.build import Compiled, SynapseTable

if TYPE_CHECKING:
    from neuro.sim.plasticity import PlasticityRule


class ChunkResult(NamedTuple):
    spike_steps: np.ndarray
    spike_idx: np.ndarray
    counts: np.ndarray  # [steps, populations]
    mon_steps: np.ndarray
    mon_rows: np.ndarray  # [recorded steps, monitored columns]


def astrocyte_state(net: Compiled, astate: np.ndarray) -> dict:
    """The astrocytes' recordable variables from their state table (empty without astrocytes)."""
    if not net.A:
        return {}
    return {name: np.array(astate[row]) for name, row in ASTROCYTE_RECORDABLES.items()}


def spec_state(net: Compiled, g: np.ndarray) -> dict:
    """``{"spec_states": rows C .. C+Y-1 of g}`` when the network has spec neurons (else empty)."""
    return {"spec_states": g[net.C:net.C + net.Y]} if net.Y else {}


def monitor_steps(t0: int, t1: int, every: int) -> np.ndarray:
    """The steps in ``[t0, t1)`` at which state monitors record (multiples of ``every``)."""
    first = -(-t0 // every) * every
    return np.arange(first, t1, every, dtype=np.int64)


def by_element(element: np.ndarray, columns: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Monitor columns grouped by the element (neuron or astrocyte) they record: ``(ptr [n+1], columns)``."""
    order = np.argsort(element, kind="stable")
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(element, minlength=n), out=ptr[1:])
    return ptr, columns[order].astype(np.int64)


class PlasticTables(NamedTuple):
    """The compiled kernels' view of the plastic synapses of a network (every rule of
    :mod:`neuro.sim.plasticity`; the scalar rules are ``neuro.kernels.stdp_math``).

    ``P`` plastic synapses, numbered by target neuron (then table position), so that a neuron's
    postsynaptic updates walk consecutive entries; ``S`` sources, ``N`` neurons. The kernels keep the
    plastic weights in ``w`` (``sync_weights`` / ``refresh_weights`` copy them to / from the table).
    """

    is_plastic: np.ndarray  # [synapses] uint8: 1 where the table's synapse is plastic
    pre_ptr: np.ndarray  # [S+1] int64: source s's plastic synapses are pre_p[pre_ptr[s] .. pre_ptr[s+1]-1]
    pre_p: np.ndarray  # int64 plastic indices by (source, delay, table position)
    pre_d: np.ndarray  # int32 their delays (steps)
    in_ptr: np.ndarray  # [N+1] int64: neuron n's incoming plastic synapses are in_ptr[n] .. in_ptr[n+1]-1
    pl_k: np.ndarray  # [P] int64: table position of each plastic synapse
    pl_col: np.ndarray  # [P] int32: its target column (channel * N + neuron)
    rid: np.ndarray  # [P] int32: its rule (row of rtab)
    rtab: np.ndarray  # [rules, stdp_math.N_RULE_COLUMNS] compute dtype
    w: np.ndarray  # [P] the plastic weights (compute dtype)
    tr: np.ndarray  # [P, K] traces at step tl (columns stdp_math.T_*; K: the widest rule's need)
    rk: np.ndarray  # [rules, steps] eta M dt per step of a run (reward_rates); [0, 1] without reward rules
    tl: np.ndarray  # [P] int64: step of each synapse's last event (event-driven decay)
    hist_src: np.ndarray  # [D, sources with plastic synapses] int32: the sources that spiked, per step
    hist_cur: np.ndarray  # same shape, int64: each spike's next plastic synapse still to arrive
    hist_n: np.ndarray  # [D] int64: entries in use per step
    rw_ptr: np.ndarray  # [rules+1] int64: rule r's reward-modulated synapses are rw_p[rw_ptr[r] .. ]
    rw_p: np.ndarray  # int64 plastic indices of the reward-modulated synapses, by rule


COMPILED_RULES = "STDP, TripletSTDP, InhibitorySTDP, RewardSTDP, TsodyksMarkram"


def compiled_rule_problem(rule: PlasticityRule) -> str | None:
    """``None`` when ``rule`` runs in the compiled kernels, else its description for an error message:
    the rules of :mod:`neuro.sim.plasticity` run (:data:`COMPILED_RULES`, exactly by type: a subclass
    could change the semantics), a TsodyksMarkram around one of them or around a static weight too."""
    from neuro.sim.plasticity import STDP, InhibitorySTDP, RewardSTDP, TripletSTDP, TsodyksMarkram

    long_term = (STDP, TripletSTDP, InhibitorySTDP, RewardSTDP)
    if type(rule) in long_term:
        return None
    if type(rule) is TsodyksMarkram:
        inner = rule.weight_rule
        if inner is None or type(inner) in long_term:
            return None
        return f"TsodyksMarkram around {type(inner).__name__}"
    return type(rule).__name__


def require_compiled_rules(rules: dict, where: str, names: dict | None = None) -> None:
    """Raise ``NotImplementedError`` unless every rule of ``rules`` (``{projection index: rule}``) is
    compiled (:func:`compiled_rule_problem`); the message names each offending projection
    (``names[k]``, default its index) with its rule, and ``where`` (e.g. "the CPU simulation kernel")."""
    problems = {k: compiled_rule_problem(rule) for k, rule in rules.items()}
    listed = ", ".join(f"{(names or {}).get(k, k)} ({why})" for k, why in problems.items() if why is not None)
    if listed:
        raise NotImplementedError(f"plastic projections {listed}: only {COMPILED_RULES} are compiled into "
                                  f"{where}; use backend='torch' for these rules")


def _decay(tau: float, dt: float) -> float:
    """The per-step decay ``exp(-dt / tau)`` (0 for ``tau = 0``, as the torch runner)."""
    return float(np.exp(-dt / tau)) if tau > 0 else 0.0


def rule_table_row(rule: PlasticityRule, dt: float) -> np.ndarray:
    """The ``stdp_math`` rule row (float64) of a compiled rule (see :func:`compiled_rule_problem`)."""
    from neuro.kernels import stdp_math as sm
    from neuro.sim.plasticity import STDP, InhibitorySTDP, RewardSTDP, TripletSTDP, TsodyksMarkram

    stp = rule if type(rule) is TsodyksMarkram else None
    if stp is not None:
        rule = stp.weight_rule
    row = np.zeros(sm.N_RULE_COLUMNS, np.float64)
    if rule is None:
        row[sm.R_KIND], row[sm.R_W_MIN], row[sm.R_W_MAX] = sm.KIND_STATIC, -np.inf, np.inf
    elif type(rule) is STDP:
        row[:] = sm.rule_row(rule.tau_plus, rule.tau_minus, rule.A_plus, rule.A_minus, rule.w_min, rule.w_max,
                             rule.weight_dependence == "multiplicative", rule.pairing == "nearest", dt)
    elif type(rule) is TripletSTDP:
        row[sm.R_KIND] = sm.KIND_TRIPLET
        row[sm.R_DECAY_X], row[sm.R_DECAY_X2] = _decay(rule.tau_plus, dt), _decay(rule.tau_x, dt)
        row[sm.R_DECAY_Y], row[sm.R_DECAY_Y2] = _decay(rule.tau_minus, dt), _decay(rule.tau_y, dt)
        row[sm.R_A_PLUS], row[sm.R_A3_PLUS] = rule.A2_plus, rule.A3_plus
        row[sm.R_A_MINUS], row[sm.R_A3_MINUS] = rule.A2_minus, rule.A3_minus
        row[sm.R_NEAREST] = float(rule.pairing == "nearest")
    elif type(rule) is InhibitorySTDP:
        row[sm.R_KIND] = sm.KIND_INHIBITORY
        row[sm.R_DECAY_X] = row[sm.R_DECAY_Y] = _decay(rule.tau, dt)
        row[sm.R_A_PLUS], row[sm.R_ALPHA] = rule.eta, rule.alpha
    elif type(rule) is RewardSTDP:
        row[sm.R_KIND] = sm.KIND_REWARD
        row[sm.R_DECAY_X], row[sm.R_DECAY_Y] = _decay(rule.tau_plus, dt), _decay(rule.tau_minus, dt)
        row[sm.R_DECAY_X2] = _decay(rule.tau_c, dt)
        row[sm.R_A_PLUS], row[sm.R_A_MINUS] = rule.A_plus, rule.A_minus
        row[sm.R_NEAREST] = float(rule.pairing == "nearest")
    else:
        raise NotImplementedError(f"plasticity {type(rule).__name__} is not compiled")
    if rule is not None:
        row[sm.R_W_MIN], row[sm.R_W_MAX] = rule.w_min, rule.w_max
    if stp is not None:
        row[sm.R_STP], row[sm.R_U] = 1.0, stp.U
        row[sm.R_DECAY_U], row[sm.R_DECAY_R] = _decay(stp.tau_f, dt), _decay(stp.tau_d, dt)
    return row


def _long_term(rule):
    """The long-term rule of ``rule`` (itself, or a TsodyksMarkram's ``weight_rule``)."""
    from neuro.sim.plasticity import TsodyksMarkram

    return rule.weight_rule if type(rule) is TsodyksMarkram else rule


def reward_rates(rules: dict, dt: float, dtype: np.dtype | type, t0: int, t1: int) -> np.ndarray:
    """The kernels' reward table for steps ``t0 .. t1-1``: row ``r`` (the ``r``-th rule in projection
    order) holds ``eta * M(t dt) * dt`` in ``dtype`` for a :class:`~neuro.sim.RewardSTDP` (its
    modulator read now, per step through ``Neuromodulator.at`` as the torch runner does; ~1 us per
    step and reward rule), zeros for other rules; ``[0, 1]`` when no rule is reward-modulated."""
    from neuro.sim.plasticity import RewardSTDP

    ordered = [_long_term(rules[k]) for k in sorted(rules)]
    if not any(type(r) is RewardSTDP for r in ordered):
        return np.zeros((0, 1), dtype)
    out = np.zeros((len(ordered), max(t1 - t0, 1)), dtype)
    for j, rule in enumerate(ordered):
        if type(rule) is RewardSTDP:
            at = rule.modulator.at
            out[j, :t1 - t0] = [rule.eta * at(t * dt, dt) * dt for t in range(t0, t1)]
    return out


def mixed_rules(tables: PlasticTables) -> bool:
    """Whether some rule of ``tables`` is not plain pair STDP: the ``rules`` argument of the kernels'
    ``run_kernel`` (the general event functions of ``stdp_math`` instead of the pair ones)."""
    from neuro.kernels import stdp_math as sm

    rt = tables.rtab
    other = (rt[:, sm.R_KIND] != sm.KIND_PAIR) | (rt[:, sm.R_STP] != 0)
    return bool(tables.pl_k.size) and bool(other.any())


def model_key(net: Compiled) -> tuple:
    """The ``(cond, specs, shapes)`` arguments of the kernels' ``run_kernel``: the network's conductance
    channels, spec models and alpha channels when it needs the general update, else the defaults."""
    return (net.cond, net.specs, net.shapes) if net.general else (False, (), False)


def clear_plastic_state(tr: np.ndarray, rid: np.ndarray, rtab: np.ndarray) -> None:
    """Traces at rest in place: zeros, short-term resources ``u = U``, ``r = 1``."""
    from neuro.kernels import stdp_math as sm

    tr[:] = 0
    if tr.shape[1] > sm.T_R and rid.size:
        stp = rtab[rid, sm.R_STP] != 0
        tr[stp, sm.T_U] = rtab[rid[stp], sm.R_U]
        tr[stp, sm.T_R] = 1


def plastic_tables(net: Compiled, rules: dict) -> PlasticTables:
    """The tables of :class:`PlasticTables` for ``rules`` (``{projection index: rule}``; empty: none)."""
    from neuro.kernels import stdp_math as sm

    table, dtype = net.spikes, net.dtype
    n_src = len(table.row_ptr) - 1
    keys = np.array(sorted(rules), np.int64)
    sel = np.flatnonzero(np.isin(table.proj_id, keys)) if rules else np.zeros(0, np.int64)
    if not sel.size:  # a static network: small placeholders of the right types (never read)
        table = SynapseTable(np.zeros(2, np.int64), np.zeros(1, np.int32), np.zeros(1, dtype),
                             np.zeros(1, np.int32), np.zeros(1, np.int32), np.zeros(1))
        n_src = 1
    post = table.col[sel].astype(np.int64) % max(net.N, 1)
    pl_k = sel[np.argsort(post, kind="stable")]  # by target neuron, then table position
    in_ptr = np.zeros(net.N + 1, np.int64)
    np.cumsum(np.bincount(post, minlength=net.N), out=in_ptr[1:])
    src = np.searchsorted(table.row_ptr, pl_k, side="right") - 1  # the CSR row (source) of each
    pre_p = np.lexsort((pl_k, table.delay[pl_k], src)).astype(np.int64)  # by source, delay, position
    pre_ptr = np.zeros(n_src + 1, np.int64)
    np.cumsum(np.bincount(src, minlength=n_src), out=pre_ptr[1:])
    rid = np.searchsorted(keys, table.proj_id[pl_k]).astype(np.int32)
    rows = [rule_table_row(rules[int(k)], net.dt) for k in keys] or [np.zeros(sm.N_RULE_COLUMNS)]
    rtab = np.stack(rows).astype(dtype)
    kinds = [row[sm.R_KIND] for row in rows]
    width = 2
    if sm.KIND_REWARD in kinds:
        width = 3
    if sm.KIND_TRIPLET in kinds:
        width = 4
    if any(row[sm.R_STP] != 0 for row in rows):
        width = 6
    is_plastic = np.zeros(table.col.size, np.uint8)
    is_plastic[pl_k] = 1
    n_pl_src = max(int((np.diff(pre_ptr) > 0).sum()), 1)
    P = pl_k.size
    reward = np.flatnonzero(rtab[rid, sm.R_KIND] == sm.KIND_REWARD) if P else np.zeros(0, np.int64)
    reward = reward[np.argsort(rid[reward], kind="stable")].astype(np.int64)
    rw_ptr = np.zeros(len(rows) + 1, np.int64)
    np.cumsum(np.bincount(rid[reward], minlength=len(rows)), out=rw_ptr[1:])
    tr = np.zeros((P, width), dtype)
    clear_plastic_state(tr, rid, rtab)
    return PlasticTables(is_plastic, pre_ptr, pre_p, table.delay[pl_k][pre_p].astype(np.int32), in_ptr,
                         pl_k.astype(np.int64), table.col[pl_k].astype(np.int32), rid, rtab,
                         table.weight[pl_k].astype(dtype), tr, np.zeros((0, 1), dtype),
                         np.zeros(P, np.int64), np.zeros((net.D, n_pl_src), np.int32),
                         np.zeros((net.D, n_pl_src), np.int64), np.zeros(net.D, np.int64),
                         rw_ptr, np.concatenate([reward, np.zeros(1, np.int64)]))


class NumbaRunner:
    """The serial Numba CPU kernel (``neuro.kernels.sim_cpu``) on numpy arrays.

    Args:
        net: the compiled network.
        rules: ``{projection index: STDP rule}`` of the plastic projections (none: the static kernel).
            The rules of :mod:`neuro.sim.plasticity` are compiled (:func:`compiled_rule_problem`);
            other rules raise ``NotImplementedError``. The kernel keeps the plastic weights in its own vector
            (:class:`PlasticTables`); ``sync_weights()`` writes them to the network's synapse table and
            ``refresh_weights()`` reads them back (the network calls them around weight reads/writes).
    """

    def __init__(self, net: Compiled, rules: dict | None = None):
        from neuro.kernels import sim_cpu

        self.net = net
        self.rules = dict(rules or {})
        require_compiled_rules(self.rules, "the CPU simulation kernel")
        hetero, *tables = net.cpu_tables()
        self.tables = tuple(tables)  # (prm, ref_steps, bias, ch_alpha, ch_kappa)
        self.stdp = plastic_tables(net, self.rules)
        plastic = self.stdp.pl_k.size > 0
        if net.general:  # conductance channels or spec neurons: sim_cpu.general_update
            self.tables = net.general_params(hetero, self.tables)
        # every argument positional, in signature order: functools.cache keys on how they are passed
        self.kernel = sim_cpu.run_kernel(net.has_syn, net.has_adapt, net.C, hetero, net.A > 0, plastic,
                                         mixed_rules(self.stdp), *model_key(net))
        self.consts = np.array([0, 1], dtype=net.dtype)
        self.spk_t = np.zeros(max(1 << 16, 4 * net.n_rec), np.int32)
        self.spk_i = np.zeros_like(self.spk_t)
        self.reset()

    def sync_weights(self) -> None:
        """Runner -> compiled table: the plastic weights as they are now (static ones never change)."""
        if self.stdp.pl_k.size:
            self.net.weight[self.stdp.pl_k] = self.stdp.w

    def refresh_weights(self) -> None:
        """Compiled table -> runner, after weights were set between runs (the kernel reads the static
        weights from the table on every run; the plastic ones are copied here)."""
        if self.stdp.pl_k.size:
            self.stdp.w[:] = self.net.weight[self.stdp.pl_k]

    def reset(self) -> None:
        """Reset the simulation state to the compiled initial values: ``v``, ``i``, ``a`` from the network,
        synaptic conductances, refractory counters, the delay ring buffer, the astrocyte state and the
        plasticity traces cleared (numpy arrays; the plastic weights are kept).
        """
        net = self.net
        self.i, self.v, self.a = net.i0.copy(), net.v0.copy(), net.a0.copy()
        # channels, the spec neurons' states, the alpha channels' auxiliary states
        self.g = np.zeros((net.g_rows, net.N), net.dtype)
        self.g[net.C:net.C + net.Y] = net.y0
        self.refc = np.zeros(net.N, np.int32)
        self.buf = np.zeros((net.D, net.C * net.N), net.dtype)
        self.spiked = np.zeros(-(-net.N // 8) * 8, np.uint8)  # read as uint64 words
        self.astate = net.astate0.copy()
        self.ip3_buf = np.zeros((net.D, net.A))
        self.awork = np.zeros((net.A, rkf45_math.ROWS, astrocyte_math.N_ODE))
        for arr in (self.stdp.tl, self.stdp.hist_n):  # traces and spike history cleared, weights kept
            arr[:] = 0
        clear_plastic_state(self.stdp.tr, self.stdp.rid, self.stdp.rtab)

    def state(self) -> dict:
        """The current state as numpy arrays (the live arrays, not copies): ``v``, ``i``, ``a`` ``[N]``, ``g``
        ``[channels, N]``, ``refractory`` ``[N]`` (steps left), plus the astrocyte recordables when the
        network has astrocytes and ``spec_states`` ``[Y, N]`` (row ``k``: state ``k`` of each spec
        neuron's model) when it has spec neurons.
        """
        return {"v": self.v, "i": self.i, "a": self.a, "g": self.g[:self.net.C], "refractory": self.refc,
                **spec_state(self.net, self.g), **astrocyte_state(self.net, self.astate)}

    def run(self, t0: int, t1: int) -> ChunkResult:
        """Simulate steps ``t0 <= t < t1`` with the Numba CPU kernel (continued with a larger spike record
        when it fills) and return the chunk's :class:`~neuro.sim.runners.ChunkResult`: recorded spikes
        (step and neuron index), per-population spike counts ``[t1 - t0, populations]`` and the monitored
        rows.
        """
        net = self.net
        counts = np.zeros((t1 - t0, len(net.pops)), np.int32)
        msteps = monitor_steps(t0, t1, net.mon_every) if net.mon_idx.size else np.zeros(0, np.int64)
        mon_out = np.zeros((len(msteps), net.mon_idx.size), net.dtype)
        first = int(msteps[0]) if len(msteps) else t0
        need = net.n_rec + int(np.diff(net.gen_ptr).max(initial=0)) + 1
        if self.spk_t.shape[0] < need:
            self.spk_t = np.zeros(2 * need, np.int32)
            self.spk_i = np.zeros_like(self.spk_t)
        state = (self.i, self.v, self.a, self.g, self.refc, self.buf)
        inputs = (net.inj, net.inj_idx, net.poisson_prob, net.gen_ptr, net.gen_idx)
        monitor = (net.mon_idx, net.mon_var, net.mon_every, mon_out, first)
        astro = (net.astro_dt, self.astate, net.aprm, self.ip3_buf, self.awork)
        ip3, sic = ((tb.row_ptr, tb.col, tb.weight, tb.delay) for tb in (net.ip3, net.sic))
        t, n_spk = t0, 0
        rk = reward_rates(self.rules, net.dt, net.dtype, t0, t1)  # modulators read at each run
        while t < t1:
            stdp = tuple(self.stdp._replace(rk=np.ascontiguousarray(rk[:, t - t0:]) if rk.shape[0] else rk))
            t, n_spk = self.kernel(
                t, t1, net.seed, self.consts, self.tables, net.pops, inputs,
                (net.row_ptr, net.col, net.weight, net.delay), net.mask, state, self.spiked,
                (net.rec_flag, self.spk_t, self.spk_i), n_spk, net.n_rec, counts[t - t0:], monitor, astro,
                ip3, sic, stdp)
            if t < t1:  # the spike record is full: grow it and continue from step t
                grown = np.zeros(2 * self.spk_t.shape[0], np.int32)
                grown_i = np.zeros_like(grown)
                grown[:n_spk], grown_i[:n_spk] = self.spk_t[:n_spk], self.spk_i[:n_spk]
                self.spk_t, self.spk_i = grown, grown_i
        return ChunkResult(self.spk_t[:n_spk].astype(np.int64), self.spk_i[:n_spk].astype(np.int64),
                           counts, msteps, mon_out)
