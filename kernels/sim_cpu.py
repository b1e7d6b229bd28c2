"""The whole network simulation loop on the CPU, compiled with Numba: many steps per call.

One call advances the network from step ``t0`` to ``t1`` without returning to Python. Each step:

1. population by population (each with its own reset rule and threshold comparison), in one fused
   loop over its neurons: the input (bias + the synaptic channels of ``sim_math``, reading and
   clearing this step's slot of the ring buffer ``buf[D, C*N]``), then the engine's LIF step with
   refractoriness;
2. event-driven propagation: only sources that spiked (neurons, Poisson inputs whose counter-based
   draw fired, spike-generator entries of this step) walk their outgoing CSR row and add each weight
   to the buffer slot of the step that will consume it (``t + 1 + delay``; ``D`` is a power of two);
3. astrocytes (when the network has any): every astrocyte integrates step ``t`` and then adds the
   IP3 weights arriving at the step's end (ring slot ``t + 1`` of ``ip3_buf``, filled by step 2;
   NEST's order), by ``astrocyte_math.astrocyte_advance`` (the code ``neuro.astro`` runs); each
   non-zero slow inward current then walks its astrocyte's ``sic`` CSR row into the neurons'
   buffer slot ``t + 1 + delay`` (their current channel);
4. monitors: spikes of recorded sources as ``(step, index)``, spike counts per population and step,
   chosen state variables every ``every`` steps.

With plastic synapses (pair and triplet STDP, Vogels' inhibitory rule, reward-modulated STDP and
Tsodyks–Markram short-term plasticity around any of them: ``stdp_math``; a kernel built with ``plastic``) step
2 skips the plastic synapses and notes each spiking source that has some in a spike history ring (``D``
steps); after step 2 :func:`_stdp_step` delivers the plastic synapses whose spike arrives now (``t_pre + d``:
the weight they have at arrival, into slot ``t + 1``, where a static synapse's spike of ``t - d`` lands),
updates them by their rule, and updates the incoming plastic synapses of the neurons that spiked (an incoming
index by target neuron). Each synapse keeps its traces as of its last event and decays them when the next one
comes (event-driven: no per-step work per synapse, except for reward-modulated synapses in the steps where
their modulator is non-zero).

The loop is serial: at the sizes where one step is a few microseconds of work (thousands of
neurons), a parallel region per step costs more in synchronisation than it saves. Its order of
additions into a ring-buffer entry -- by spike step, then source index, then position in the CSR row,
i.e. by increasing synapse index within a step, then the injected current -- is the contract the
CUDA event kernel (:mod:`.sim_cuda`) reproduces to be bit-identical. (Plastic deliveries made at
step ``t`` follow the static ones of that step, by spike step, oldest first, then source index, then
synapse index; the CUDA event kernel keeps this order too.) The model
structure (``has_syn``, ``has_adapt``), the channel count ``C`` and ``hetero`` (per-neuron
parameter tables) are closure constants of a kernel built per combination.

Arguments (``S = N + M`` sources: ``N`` neurons, then Poisson inputs, then generator inputs; ``C``
channels; ``P`` populations), grouped in tuples:

* ``params = (prm, ref_steps, bias, ch_alpha, ch_kappa)``: ``prm [9, N]`` engine coefficients per
  neuron (rows ``lif_math.P_*``), ``ref_steps [N]`` int32 held steps after a spike, ``bias [N]``,
  ``ch_alpha, ch_kappa [C, N]`` (all ``[.., P]``, one column per population, without ``hetero``);
  ``pops [P, 4]`` int64 rows ``(lo, hi, reset code, fire-on-equality)``;
* ``inputs = (inj, inj_idx, poisson_prob, gen_ptr, gen_idx)``: ``inj [T_inj, K]`` injected currents
  by absolute step, added to the buffer entries ``inj_idx [K]`` (``channel * N + neuron`` of a
  delta channel); ``poisson_prob [Mp]`` float64 spike probability per step of sources
  ``N .. N+Mp-1``; ``gen_ptr [T_gen+1], gen_idx`` spike-generator spikes by absolute step;
* ``syn = (row_ptr [S+1] int64, col int32 (channel * N + post), weight, delay int32 (steps))`` and
  ``mask = D - 1``;
* ``state = (i_st, v_st, a_st [N], g_st [C + Y + H, N], refc [N] int32, buf [D, C*N])`` (rows ``C ..
  C+Y-1`` of ``g_st``: the states of spec neurons, ``Y = 0`` without them; then ``H = C`` auxiliary
  rows with alpha-shaped channels, ``H = 0`` without); scratch ``spiked``:
  uint8 spike flags, ``N`` rounded up to a multiple of 8 (zero padded); ``consts = [0, 1]`` in the
  compute dtype;
* ``rec = (rec_flag [S] uint8, spk_t, spk_i)`` (capacity = their length), ``n_spk`` in use, ``n_rec``
  recorded sources, ``counts [t1-t0, P]`` int32;
* ``stdp``: the tables of ``neuro.sim.runners.PlasticTables`` (a tuple in its field order; with the kernel
  built with ``plastic`` only): ``is_plastic`` per synapse (``weight`` holds the static ones), the plastic
  synapses numbered by target neuron (``in_ptr [N+1]``) with their column, rule (``rid``, rows of ``rtab``:
  ``stdp_math.R_*``), weight ``w``, traces ``tr [P, K]`` (``stdp_math.T_*``) and last event step ``tl``; the
  reward rate table ``rk [rules, t1 - t0]`` (``[0, 1]`` without reward rules) and the reward synapses by rule
  (``rw_ptr [rules+1], rw_p``); the same by source and delay (``pre_ptr [S+1], pre_p, pre_d``); and the spike
  history ``hist_src, hist_cur [D, *], hist_n [D]``;
* ``monitor = (mon_idx, mon_var, mon_every, mon_out, mon_first)``: column ``k`` records variable
  ``mon_var[k]`` (0 v, 1 i, 2 a, 3+c channel c < C, 3+C+k state k of a spec neuron's model:
  ``sim_math.monitored_value``) of neuron ``mon_idx[k]`` into ``mon_out [R, K]`` at
  the steps ``t % mon_every == 0``, ``mon_first`` being the first of them; ``mon_var[k] < 0``
  records row ``-1 - mon_var[k]`` of astrocyte ``mon_idx[k]``;
* astrocytes (float64, ignored unless the kernel was built with ``astro``): ``astro = (astro_dt,
  astate [6, A], aprm [16, P], ip3_buf [D, A], awork [A, rkf45_math.ROWS, 3])`` (the step in ms,
  ``astrocyte_math`` tables, scratch) and the CSR tables ``ip3 = (ptr [S+1], col, w, d)`` (spikes onto
  astrocytes) and ``sic = (ptr [A+1], col, w, d)`` (SIC onto ``channel * N + neuron``).

Conductance channels and spec neuron models (:class:`~neuro.kernels.neuron_spec.NeuronSpec`,
stepped by :mod:`.sim_spec`) take the general population update (:func:`general_update`, which
documents its longer ``params``); a network without them runs the LIF-only loop unchanged.

Returns ``(t_reached, n_spk)``: the call stops early, at a step boundary, when the spike record
could overflow in the next step; the caller grows ``spk_t, spk_i`` and calls again from there.
"""

from collections.abc import Callable
from functools import cache

import numpy as np
from numba import njit

from . import lif_math, neuron_spec, sim_math, sim_spec, stdp_math
from .astrocyte_cpu import astrocyte_phase, deliver_sic

# Globals that each compiled clone of ``sim_run`` / ``update_population`` binds to its variant's compiled
# functions (:func:`cached_clone`); unbound here.
update_population = lif_update = spec_dispatch = None

ns = sim_math.compile_for("cpu")
sn = stdp_math.compile_for("cpu")
LIFStructure = lif_math.LIFStructure


@njit(inline="always", cache=True)
def _channel(c, n, x, g_st, arrived, kappa, alpha, zero):
    """Add channel ``c`` of neuron ``n`` to the input ``x``, decay it, clear its buffer entry."""
    x_c, g_next = ns.channel_input(g_st[c, n], arrived[c, n], kappa, alpha)
    g_st[c, n] = g_next
    arrived[c, n] = zero
    return x + x_c


@njit(inline="always", cache=True)
def _channel_pair(ch_kappa, ch_alpha, c, q, C, zero):
    """``(kappa, alpha)`` of channel ``c`` in column ``q`` (zeros when the model has ``C <= c``)."""
    if c < C:
        return ch_kappa[c, q], ch_alpha[c, q]
    return zero, zero


@njit(inline="always", cache=True)
def _column(params, q, C, zero):
    """The parameters of column ``q`` as scalars: the coefficient record, bias, refractory steps and
    the ``(kappa, alpha)`` of the first four channels."""
    prm, ref_steps, bias, ch_alpha, ch_kappa = params[0], params[1], params[2], params[3], params[4]
    return (ns.load_coefficients(prm, q), bias[q], ref_steps[q],
            _channel_pair(ch_kappa, ch_alpha, 0, q, C, zero),
            _channel_pair(ch_kappa, ch_alpha, 1, q, C, zero),
            _channel_pair(ch_kappa, ch_alpha, 2, q, C, zero),
            _channel_pair(ch_kappa, ch_alpha, 3, q, C, zero))


@njit(inline="always", cache=True)
def _propagate(src, t, table, mask, buf):
    """Add the outgoing synapses of source ``src`` (spiked at step ``t``) in the CSR ``table``
    ``(ptr, col, weight, delay)`` to the ring buffer ``buf``."""
    ptr, col, weight, delay = table
    for k in range(ptr[src], ptr[src + 1]):
        buf[(t + 1 + delay[k]) & mask, col[k]] += weight[k]


@njit(inline="always", cache=True)
def _fire(src, t, rec, n_spk, syn, mask, buf, astro, ip3, ip3_buf):
    """Record (when ``rec_flag[src]``) and deliver the spike of source ``src`` at step ``t`` (also
    to the astrocytes' IP3 ring with ``astro``); returns the new record count."""
    rec_flag, spk_t, spk_i = rec
    if rec_flag[src]:
        spk_t[n_spk] = t
        spk_i[n_spk] = src
        n_spk += 1
    _propagate(src, t, syn, mask, buf)
    if astro:
        _propagate(src, t, ip3, mask, ip3_buf)
    return n_spk


@njit(inline="always", cache=True)
def _fire_plastic(src, t, rec, n_spk, syn, mask, buf, astro, ip3, ip3_buf, stdp):
    """:func:`_fire` with plastic synapses: the static ones deliver now, the plastic ones are left
    to :func:`_stdp_step` (the source is noted in the spike history of step ``t``)."""
    rec_flag, spk_t, spk_i = rec
    if rec_flag[src]:
        spk_t[n_spk] = t
        spk_i[n_spk] = src
        n_spk += 1
    ptr, col, weight, delay = syn
    is_plastic, pre_ptr = stdp[0], stdp[1]
    hist_src, hist_cur, hist_n = stdp[13], stdp[14], stdp[15]
    for k in range(ptr[src], ptr[src + 1]):
        if not is_plastic[k]:
            buf[(t + 1 + delay[k]) & mask, col[k]] += weight[k]
    if pre_ptr[src + 1] > pre_ptr[src]:
        slot = t & mask
        e = hist_n[slot]
        hist_src[slot, e] = src
        hist_cur[slot, e] = pre_ptr[src]
        hist_n[slot] = e + 1
    if astro:
        _propagate(src, t, ip3, mask, ip3_buf)
    return n_spk


@njit(cache=True)
def _stdp_step(t, t0, mask, buf, stdp, spiked, one, mixed_rules):
    """Plasticity at step ``t`` (``t0``: the call's first step), after every spike of the step was
    propagated (the rules of ``stdp_math``: one event function per event type, a rule code per row).

    1. presynaptic events: every spike of the last ``D`` steps (oldest first) whose plastic synapses
       with delay ``t - t_spike`` reach them now delivers their current weight into ring slot
       ``t + 1`` (where a static synapse's spike of ``t - d`` lands), then depresses and bumps ``x``.
       A source's plastic synapses are listed by delay, so a cursor per spike walks them once;
    2. postsynaptic spikes of step ``t`` potentiate their incoming plastic synapses (consecutive
       entries) and bump ``y``;
    3. reward-modulated rules whose ``rk[rule, t - t0]`` (= eta M(t) dt) is non-zero move each of
       their synapses (listed per rule: ``rw_ptr, rw_p``) by ``rate * c``.

    Traces decay lazily (``stdp_math``); the plastic weights are the vector ``w`` of the tables.
    ``mixed_rules``: some rule is not plain pair STDP (else the pair functions run without a rule
    dispatch per event).
    """
    (_, pre_ptr, pre_p, pre_d, in_ptr, _, pl_col, rid, rtab, w, tr, rk, tl, hist_src, hist_cur, hist_n,
     rw_ptr, rw_p) = stdp
    nxt = (t + 1) & mask
    for lag in range(min(mask, t), -1, -1):
        slot = (t - lag) & mask
        for e in range(hist_n[slot]):
            cur = hist_cur[slot, e]
            end = pre_ptr[hist_src[slot, e] + 1]
            while cur < end and pre_d[cur] == lag:
                p = pre_p[cur]
                if mixed_rules:  # (loop-invariant: the compiler unswitches it)
                    buf[nxt, pl_col[p]] += sn.stdp_on_pre(p, p, rid[p], t, w, tr, tl, rtab, one)
                else:
                    buf[nxt, pl_col[p]] += sn.pair_on_pre(p, p, rid[p], t, w, tr, tl, rtab, one)
                cur += 1
            hist_cur[slot, e] = cur
    words = spiked.view(np.uint64)
    N = in_ptr.shape[0] - 1
    for wd in range(words.shape[0]):
        if words[wd] != 0:
            for n in range(8 * wd, min(8 * wd + 8, N)):
                if spiked[n]:
                    for p in range(in_ptr[n], in_ptr[n + 1]):
                        if mixed_rules:
                            sn.stdp_on_post(p, p, rid[p], t, w, tr, tl, rtab, one)
                        else:
                            sn.pair_on_post(p, p, rid[p], t, w, tr, tl, rtab, one)
    if rk.shape[0] > 0:  # reward-modulated rules: per-step work only in steps where eta M dt != 0
        for r in range(rw_ptr.shape[0] - 1):
            rate = rk[r, t - t0]
            if rate != 0:
                sn.reward_steps(r, t, rate, rw_ptr[r], rw_ptr[r + 1], rw_p, w, tr, tl, rtab, one)


@cache
def run_kernel(has_syn: bool, has_adapt: bool, C: int, hetero: bool, astro: bool = False,
               plastic: bool = False, rules: bool = False, cond: bool = False, specs: tuple = (),
               shapes: bool = False) -> Callable:
    """The simulation loop for one model structure (see the module docstring for the arguments).

    Signature: ``(t0, t1, seed, consts, params, pops, inputs, syn, mask, state, spiked, rec, n_spk,
    n_rec, counts, monitor, astro, ip3, sic, stdp)``. With ``hetero`` the parameter tables ``params`` have
    one column per neuron; without, one column per population, and the loop keeps them in registers
    (fewer memory streams per neuron: measurably faster on homogeneous populations such as CUBA).
    ``astro`` adds the astrocyte phase (without it the astrocyte arguments are not touched);
    ``plastic`` adds plasticity (:func:`_stdp_step`; without it ``stdp`` is not touched and the
    propagation loop is today's); ``rules``: some plastic rule is not plain pair STDP
    (``neuro.sim.runners.mixed_rules``: the general event functions of ``stdp_math``; pair-STDP-only
    networks skip the per-event rule dispatch).
    ``cond`` (conductance channels) and ``specs`` (the ``(GeneratedModel, voltage row)`` of each
    spec neuron model) select the general population update of :func:`general_update` (``shapes``:
    with alpha-shaped channels); without them the loop is the LIF-only kernel. Callers pass every
    argument positionally, in this order: ``functools.cache`` keys on how they are passed.
    """

    @njit(cache=True)  # a separate function: LLVM vectorises it better than inlined in sim_run
    def update_lif(lo, hi, p, reset, ge, arrived, state, spiked, params, one, zero):
        """Input and neuron step of neurons ``lo .. hi-1`` (population ``p``); returns the spike count."""
        st = LIFStructure(has_syn, has_adapt, True, reset, ge)  # built here: has_* stay constants
        i_st, v_st, a_st, g_st, refc, _ = state
        ch_alpha, ch_kappa = params[3], params[4]
        count = 0
        up = np.uint64(p)
        # population constants in registers (reloaded per neuron when hetero): as scalars the
        # vectorised loop runs ~30 % faster than with loop-invariant loads from the tables
        k, b, rs, c0, c1, c2, c3 = _column(params, up, C, zero)
        # unsigned indices: Numba skips the negative-index wraparound, the loop vectorises
        for n in range(np.uint64(lo), np.uint64(hi)):
            q = n if hetero else up
            if hetero:
                k, b, rs, c0, c1, c2, c3 = _column(params, n, C, zero)
            x = b  # channels in order 0, 1, ... (the reference sums in the same order)
            if C > 0:
                x = _channel(0, n, x, g_st, arrived, c0[0], c0[1], zero)
            if C > 1:
                x = _channel(1, n, x, g_st, arrived, c1[0], c1[1], zero)
            if C > 2:
                x = _channel(2, n, x, g_st, arrived, c2[0], c2[1], zero)
            if C > 3:
                x = _channel(3, n, x, g_st, arrived, c3[0], c3[1], zero)
            for c in range(4, C):  # more than four channels: read from the tables
                x = _channel(c, n, x, g_st, arrived, ch_kappa[c, q], ch_alpha[c, q], zero)
            spk = ns.advance_neuron(n, x, k, rs, st, i_st, v_st, a_st, refc, one, zero)
            spiked[n] = spk
            count += spk
        return count

    general = cond or bool(specs)  # the general update (conductance channels or spec neurons)
    update = (general_update(update_lif, has_syn, has_adapt, C, hetero, cond, specs, shapes)
              if general else update_lif)

    def sim_run(t0, t1, seed, consts, params, pops, inputs, syn, mask, state, spiked, rec, n_spk, n_rec,
                counts, monitor, astro_args, ip3, sic, stdp):
        # ``update_population`` is a global of this clone (see ``cached_clone``); the structure that
        # selects it is named here so that it is part of the closure, i.e. of the disk-cache key
        _variant = (has_syn, has_adapt, hetero, cond, shapes)  # noqa: F841
        zero, one = consts[0], consts[1]
        inj, inj_idx, poisson_prob, gen_ptr, gen_idx = inputs
        i_st, v_st, a_st, g_st, _, buf = state
        mon_idx, mon_var, mon_every, mon_out, mon_first = monitor
        astro_dt, astate, aprm, ip3_buf, awork = astro_args
        N = v_st.shape[0]
        D = buf.shape[0]
        buf3 = buf.reshape(D, C, N)
        Mp = poisson_prob.shape[0]
        useed = np.uint64(seed)
        cap = rec[1].shape[0]
        words = spiked.view(np.uint64)
        for t in range(t0, t1):
            g0, g1 = 0, 0
            if t + 1 < gen_ptr.shape[0]:
                g0, g1 = gen_ptr[t], gen_ptr[t + 1]
            if n_spk + n_rec + (g1 - g0) > cap:
                return t, n_spk
            slot = t & mask
            arrived = buf3[slot]
            if plastic:
                stdp[15][slot] = 0  # this step's spike history (the slot's previous use ended D steps ago)
            if t < inj.shape[0]:  # injected currents arrive through their delta channel
                row = buf[slot]
                for k in range(inj_idx.shape[0]):
                    row[inj_idx[k]] += inj[t, k]
            # 1-2) input (bias + channels) and update, population by population
            for p in range(pops.shape[0]):
                counts[t - t0, p] = update_population(pops[p, 0], pops[p, 1], p, pops[p, 2], pops[p, 3] != 0,
                                                      arrived, state, spiked, params, one, zero)
            # 3) event-driven propagation from every source that spiked; the spike flags are
            # read 8 at a time (uint64 words), so a step with few spikes costs N/8 compares
            for w in range(words.shape[0]):
                if words[w] != 0:
                    for n in range(8 * w, min(8 * w + 8, N)):
                        if spiked[n] and plastic:
                            n_spk = _fire_plastic(n, t, rec, n_spk, syn, mask, buf, astro, ip3, ip3_buf, stdp)
                        elif spiked[n]:
                            n_spk = _fire(n, t, rec, n_spk, syn, mask, buf, astro, ip3, ip3_buf)
            ut = np.uint64(t)
            for k in range(Mp):
                if poisson_prob[k] > 0.0 and ns.uniform(useed, ut, np.uint64(N + k)) < poisson_prob[k]:
                    if plastic:
                        n_spk = _fire_plastic(N + k, t, rec, n_spk, syn, mask, buf, astro, ip3, ip3_buf, stdp)
                    else:
                        n_spk = _fire(N + k, t, rec, n_spk, syn, mask, buf, astro, ip3, ip3_buf)
            for e in range(g0, g1):
                if plastic:
                    src = gen_idx[e]
                    n_spk = _fire_plastic(src, t, rec, n_spk, syn, mask, buf, astro, ip3, ip3_buf, stdp)
                else:
                    n_spk = _fire(gen_idx[e], t, rec, n_spk, syn, mask, buf, astro, ip3, ip3_buf)
            if plastic:  # presynaptic arrivals and postsynaptic spikes of plastic synapses
                _stdp_step(t, t0, mask, buf, stdp, spiked, one, rules)  # rules: the mixed_rules flag
            # 3) astrocytes, after every spike of step t has been delivered
            if astro:
                astrocyte_phase(t, astro_dt, astate, aprm, ip3_buf, mask, awork)
                deliver_sic(t, astate, sic[0], sic[1], sic[2], sic[3], mask, buf)
            # 4) state monitor
            if mon_out.shape[1] > 0 and t % mon_every == 0:
                row = (t - mon_first) // mon_every
                for k in range(mon_out.shape[1]):
                    n, var = mon_idx[k], mon_var[k]
                    if astro and var < 0:
                        mon_out[row, k] = astate[-1 - var, n]
                    else:
                        mon_out[row, k] = ns.monitored_value(var, n, v_st, i_st, a_st, g_st)
        return t1, n_spk

    # spec models are generated code: not cacheable on disk
    return cached_clone(sim_run, not specs, update_population=update)


def cached_clone(fn: Callable, cache: bool, **compiled: Callable):
    """``njit(cache=cache)`` of a clone of ``fn`` whose globals ``compiled`` are the given compiled
    functions (``_jit.retarget``), instead of closure cells.

    Numba keys a closure's on-disk cache on a pickle of its cells, and a compiled function pickles
    differently in every process: a kernel capturing one was compiled again by every process and
    added one more never-read entry to ``kernels/__pycache__`` each time (hundreds of MB after a
    few hundred test runs). Globals are not part of the key, so ``fn``'s cells must name every
    structure flag that selects ``compiled`` (a ``_variant`` tuple in the kernels here)."""
    from ._jit import retarget

    return retarget(fn, njit(cache=cache), **compiled)


# --------------------------------------------------------------------------------------------
# The general population update: conductance channels and spec neuron models


def general_update(update_lif: Callable, has_syn: bool, has_adapt: bool, C: int, hetero: bool, cond: bool,
                   specs: tuple, shapes: bool = False) -> Callable:
    """``update_population`` of a network with conductance channels or spec neurons.

    ``params`` then holds four more entries: ``(prm, ref_steps, bias, ch_alpha, ch_kappa, ch_erev,
    ch_cond, pop_model, spec_args)``: ``ch_erev, ch_cond [C, Q]`` the reversal potential and the
    conductance flag of every channel (``sim_math.channel_drive``), ``pop_model [P]`` int64 (0: the
    LIF engine, ``k + 1``: model ``specs[k]``) and ``spec_args`` the nested tuple ``((prm_0, kc_0),
    ((prm_1, kc_1), ... ()))`` of each spec model's coefficient table ``[rows, N]`` and constants
    ``kc`` (``neuron_spec.constants_of``). Spec neurons keep their states in the rows ``C ..`` of
    ``g_st`` (state ``k`` in row ``C + k``). With alpha-shaped channels (``shapes``) ``params`` ends
    with ``ch_unit, ch_jump, ch_rise [C, Q]`` and the last ``C`` rows of ``g_st`` hold each channel's
    auxiliary state (``sim_math.shaped_drive``).
    """
    if shapes:
        lif = _lif_shaped(has_syn, has_adapt, C, hetero)
    else:
        lif = _lif_conductance(has_syn, has_adapt, C, hetero) if cond else update_lif
    updates = tuple(_spec_update(model, vrow, C, hetero, cond, shapes) for model, vrow in specs)
    dispatch = _spec_dispatch(updates)

    def update_population(lo, hi, p, reset, ge, arrived, state, spiked, params, one, zero):
        # ``lif_update`` and ``spec_dispatch`` are globals of this clone (``cached_clone``); what
        # selects them is named here, in the closure (the disk-cache key); specs are never cached
        _variant = (has_syn, has_adapt, C, hetero, cond, shapes)  # noqa: F841
        m = params[7][p]
        if m == 0:
            return lif_update(lo, hi, p, reset, ge, arrived, state, spiked, params, one, zero)
        return spec_dispatch(m - 1, lo, hi, p, ge, arrived, state, spiked, params, params[8], one, zero)

    return cached_clone(update_population, not specs, lif_update=lif, spec_dispatch=dispatch)


def _lif_conductance(has_syn: bool, has_adapt: bool, C: int, hetero: bool):
    """The LIF engine update with current and conductance channels: ``update_lif``'s loop (unsigned
    indices, the column's constants in registers, the first four channels unrolled) with
    ``sim_math.channel_drive`` reading the membrane at the start of the step."""

    @njit(cache=True)
    def update(lo, hi, p, reset, ge, arrived, state, spiked, params, one, zero):
        st = LIFStructure(has_syn, has_adapt, True, reset, ge)
        i_st, v_st, a_st, g_st, refc, _ = state
        ch_alpha, ch_kappa, ch_erev, ch_cond = params[3], params[4], params[5], params[6]
        count = 0
        up = np.uint64(p)
        k, b, rs, c0, c1, c2, c3 = _column(params, up, C, zero)
        e0, e1, e2, e3 = _cond_column(params, up, C, zero)
        for n in range(np.uint64(lo), np.uint64(hi)):
            q = n if hetero else up
            if hetero:
                k, b, rs, c0, c1, c2, c3 = _column(params, n, C, zero)
                e0, e1, e2, e3 = _cond_column(params, n, C, zero)
            v = v_st[n]
            x = b
            if C > 0:
                x = _drive(0, n, x, v, g_st, arrived, c0, e0, zero)
            if C > 1:
                x = _drive(1, n, x, v, g_st, arrived, c1, e1, zero)
            if C > 2:
                x = _drive(2, n, x, v, g_st, arrived, c2, e2, zero)
            if C > 3:
                x = _drive(3, n, x, v, g_st, arrived, c3, e3, zero)
            for c in range(4, C):
                x = _drive(c, n, x, v, g_st, arrived, (ch_kappa[c, q], ch_alpha[c, q]),
                           (ch_cond[c, q], ch_erev[c, q]), zero)
            spk = ns.advance_neuron(n, x, k, rs, st, i_st, v_st, a_st, refc, one, zero)
            spiked[n] = spk
            count += spk
        return count

    return update


def _lif_shaped(has_syn: bool, has_adapt: bool, C: int, hetero: bool):
    """The LIF engine update with exponential and alpha-shaped channels (tables read per neuron)."""

    @njit(cache=True)
    def update(lo, hi, p, reset, ge, arrived, state, spiked, params, one, zero):
        st = LIFStructure(has_syn, has_adapt, True, reset, ge)
        i_st, v_st, a_st, g_st, refc, _ = state
        prm, ref_steps, bias = params[0], params[1], params[2]
        count = 0
        for n in range(lo, hi):
            q = n if hetero else p
            x = _shaped_input(n, q, bias[q], v_st[n], g_st, arrived, params, C, zero)
            spk = ns.advance_neuron(n, x, ns.load_coefficients(prm, q), ref_steps[q], st, i_st, v_st, a_st,
                                    refc, one, zero)
            spiked[n] = spk
            count += spk
        return count

    return update


@njit(inline="always", cache=True)
def _shaped_input(n, q, x, v, g_st, arrived, params, C, zero):
    """``x`` plus every channel of neuron ``n`` (column ``q``) by ``sim_math.shaped_drive``, the
    auxiliary states in the last ``C`` rows of ``g_st``; the buffer entries cleared."""
    ch_alpha, ch_kappa, ch_erev, ch_cond = params[3], params[4], params[5], params[6]
    ch_unit, ch_jump, ch_rise = params[9], params[10], params[11]
    h0 = g_st.shape[0] - C
    for c in range(C):
        x_c, g_next, h_next = ns.shaped_drive(g_st[c, n], g_st[h0 + c, n], arrived[c, n], ch_kappa[c, q],
                                              ch_alpha[c, q], ch_cond[c, q], ch_erev[c, q], v, ch_unit[c, q],
                                              ch_jump[c, q], ch_rise[c, q])
        g_st[c, n] = g_next
        g_st[h0 + c, n] = h_next
        arrived[c, n] = zero
        x = x + x_c
    return x


@njit(inline="always", cache=True)
def _cond_pair(params, c, q, C, zero):
    """``(cond, erev)`` of channel ``c`` in column ``q`` (zeros when ``C <= c``)."""
    if c < C:
        return params[6][c, q], params[5][c, q]
    return zero, zero


@njit(inline="always", cache=True)
def _cond_column(params, q, C, zero):
    """The ``(cond, erev)`` of the first four channels of column ``q``."""
    return (_cond_pair(params, 0, q, C, zero), _cond_pair(params, 1, q, C, zero),
            _cond_pair(params, 2, q, C, zero), _cond_pair(params, 3, q, C, zero))


@njit(inline="always", cache=True)
def _drive(c, n, x, v, g_st, arrived, ka, ce, zero):
    """Add channel ``c`` of neuron ``n`` (``ka = (kappa, alpha)``, ``ce = (cond, erev)``) to ``x``
    with the membrane ``v``, decay it, clear its buffer entry."""
    x_c, g_next = ns.channel_drive(g_st[c, n], arrived[c, n], ka[0], ka[1], ce[0], ce[1], v)
    g_st[c, n] = g_next
    arrived[c, n] = zero
    return x + x_c


def _spec_update(model, vrow: int, C: int, hetero: bool, cond: bool, shapes: bool = False):
    """The update of the neurons ``lo .. hi-1`` of one spec model: input (bias + channels, the
    conductance channels driven by the voltage state ``vrow``), the model's simulator step
    (:mod:`.sim_spec`, refractoriness included) and the refractory counter."""
    step = sim_spec.sim_step(model, vrow, "cpu")
    gen = neuron_spec.compile_for(model, "cpu")
    load_state, store_state, load_params = gen.load_state, gen.store_state, gen.load_params

    @njit
    def update(lo, hi, p, ge, arrived, state, spiked, params, sargs, one, zero):
        g_st, refc = state[3], state[4]
        ref_steps, bias, ch_alpha, ch_kappa = params[1], params[2], params[3], params[4]
        ch_erev, ch_cond = params[5], params[6]
        prm_s, kc = sargs
        ys = g_st[C:]
        count = 0
        for n in range(lo, hi):
            q = n if hetero else p
            y = load_state(ys, n)
            x = bias[q]
            if shapes:
                x = _shaped_input(n, q, x, y[vrow] if vrow >= 0 else zero, g_st, arrived, params, C, zero)
            for c in range(0 if shapes else C):
                if cond:
                    v = y[vrow] if vrow >= 0 else zero
                    x_c, g_next = ns.channel_drive(g_st[c, n], arrived[c, n], ch_kappa[c, q], ch_alpha[c, q],
                                                   ch_cond[c, q], ch_erev[c, q], v)
                else:
                    x_c, g_next = ns.channel_input(g_st[c, n], arrived[c, n], ch_kappa[c, q], ch_alpha[c, q])
                g_st[c, n] = g_next
                arrived[c, n] = zero
                x = x + x_c
            r = refc[n]
            held = r > 0
            y_new, s = step(x, y, load_params(prm_s, n), kc, ge, held)
            store_state(ys, n, y_new)
            spk = s != zero
            refc[n] = r - 1 if held else (ref_steps[q] if spk else 0)
            spiked[n] = spk
            count += spk
        return count

    return update


def _spec_dispatch(updates: tuple):
    """One function calling ``updates[m]`` for a run-time model index ``m`` (a chain of closures:
    each level handles one model and passes the rest of the nested ``sargs`` on)."""
    if not updates:
        @njit(cache=True)
        def none(m, lo, hi, p, ge, arrived, state, spiked, params, sargs, one, zero):
            return 0

        return none
    head, rest = updates[0], _spec_dispatch(updates[1:])

    @njit
    def dispatch(m, lo, hi, p, ge, arrived, state, spiked, params, sargs, one, zero):
        if m == 0:
            return head(lo, hi, p, ge, arrived, state, spiked, params, sargs[0], one, zero)
        return rest(m - 1, lo, hi, p, ge, arrived, state, spiked, params, sargs[1], one, zero)

    return dispatch
