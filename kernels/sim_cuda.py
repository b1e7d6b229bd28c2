r"""The network simulation loop on NVIDIA GPUs: event lists, owner-computes delivery, deterministic.

``neuro.sim.cuda_runner`` chooses it automatically for networks with plastic synapses, spec neurons or
conductance channels (the first kernel, :mod:`.sim_cuda_atomic`, implements none of them); for other
networks it is opt-in (``kernel="events"`` or ``NEURO_SIM_CUDA_KERNEL=events``) until it has been
measured faster on a GPU than the atomic kernel (the default); it was written and tested without a GPU
(Numba's CUDA simulator and PTX checks).

One persistent kernel per chunk of steps. Every sum it computes is bit-identical to the CPU kernel's
(:mod:`.sim_cpu`) in float32 and float64, and identical from run to run: **no float atomics**; the
only atomics are integer ones (event counts, record offsets, population counts), whose results do
not depend on their order.

Per step ``t`` each thread owns sources (a block owns ``threads`` consecutive global indices per
chunk; the mapping is fixed, so a neuron has one owner for the whole launch):

1. **Owner gather** (neurons): for each channel row ``col = c * N + n`` the owner reads the event
   list that the spikes of step ``t - 1`` appended to it (``ev_cnt[(t-1) & 1, col]`` synapse indices
   ``k`` in ``ev_k``; at most ``cap`` stored) and applies the weights **in increasing ``k``**, which
   is the CPU kernel's order (the CSR rows are sorted by source, and the CPU fires sources in
   increasing index): an arrival at ``t`` (delay 0) adds to the value read from the ring buffer in a
   register, a later one to its ring slot ``t + d`` in memory (only the owner writes a row, so there
   are no races). A list that overflowed (more than ``cap`` of the row's sources spiked in one
   step) is rebuilt from the row's incoming table (``fallback``: synapse indices in increasing
   order with their sources) by testing each source's spike stamp ``stamps[(t-1) & 1, src] == t-1``.
   The slow inward currents of the astrocytes after step ``t - 1`` (incoming SIC table in ``k``
   order) are added to their ring slots just before the row is read; they target only the current
   channel, which no spike synapse (static or plastic) can target, so they never share a ring entry
   with spike arrivals. Then the injected current of step ``t`` -- the CPU kernel's order for every
   buffer entry.
2. **Neuron step**: ``sim_math`` / ``lif_math`` code, as on the CPU (``-fma=0``: no contraction).
   Parameters come from one column per population (``hetero=False``, read through the cache: no
   per-neuron parameter traffic) or one per neuron.
3. **Spikes** (neurons, Poisson draws ``sim_math.uniform``, spike-generator entries): the block
   queues its spiking sources in shared memory; if any (``syncthreads_count``), all its threads
   walk their outgoing CSR rows together (a flattened loop over all their synapses) and append each
   synapse index to its target row's list (``atomic.add`` on the int32 count gives the slot). The
   spike stamp, the record ``(t, source)`` (one global atomic per block and step for the offset)
   and the population counts (shared-memory counters flushed once per step) are written here.
4. One **grid barrier** (``cuda.cg.this_grid().sync()``; with ``block_sync`` a single-block launch and
   ``syncthreads``). With astrocytes a second barrier precedes the astrocyte phase: each astrocyte
   gathers its IP3 events of step ``t`` (same lists, same order rule, arrivals at ``t + 1 + d``),
   runs ``astrocyte_math.astrocyte_advance`` and records its monitored rows.

Per-step fixed cost: one grid barrier (two with astrocytes), no buffer clears (ring entries are
cleared by their owner when non-zero; event counts by their owner when used; stamps and parities
need none). State monitors are written by the owner right after its step (a bit per neuron in
``mon_bits`` says whether to look), so they never serialise the loop. Spike records go to
``rec_t, rec_i`` (one integer atomic per block and delivery for its offset). When the record could
overflow during the launch (``n_rec * steps > capacity``), the offsets come from three rotating
per-step counters (``rec_ctr[t % 3]``): every thread knows the records before step ``t`` after the
barrier, so all threads stop at the same step when the next could overflow the record; otherwise one
running counter, and no per-step test (``status = (step reached, records written)``). The host sorts
the records by ``(step, source)`` (their order within a step depends on the blocks' timing).

Arguments (``S = N + Mp + M_gen`` sources, ``C`` channel rows, ``P`` populations):

* ``t0, t1, seed, consts = [0, 1]`` (compute dtype);
* ``params = (prm [9, Q], ref_steps [Q], bias [Q], ch_alpha [C, Q], ch_kappa [C, Q])`` with ``Q`` =
  ``P`` (one column per population) or ``N`` (``hetero``); with conductance channels or spec neurons
  the longer tuple of ``sim_cpu.general_update`` (reversal potentials, conductance flags, the model
  of each population, the spec models' tables, the alpha channels' tables); ``pops [P, 4]`` int64
  ``(lo, hi, reset, fire-on-equality)``; ``pop_cur [P]`` int64 row of the population's current channel or -1;
* ``inputs = (inj [T_inj, K], inj_k [N] int64 (column of inj feeding the neuron's current channel, or
  -1), poisson_prob [Mp] float64, gen_ptr, gen_idx)``;
* ``syn = (ptr [S+1] int64, col int32 (c * N + n), weight, delay int32)`` outgoing CSR; ``fallback =
  (in_ptr [C*N+1] int64, in_k int32, in_src int32)`` incoming table (rows may be empty when no row
  has more than ``cap`` synapses); ``events = (ev_cnt [2, C*N] int32, ev_k [2, C*N, cap] int32)``;
  ``stamps [2, S]`` int64 (the step of a source's last spike per parity; start far below 0);
* ``mask = D - 1``; ``state = (i, v, a [N], g [C+Y+H, N], refc [N] int32, buf [D, C*N])`` (rows of
  ``g``: the channels, then the ``Y`` states of spec neurons, then ``H = C`` auxiliary rows with alpha
  channels, else ``H = 0``);
* ``rec = (rec_flag [S] uint8, rec_t, rec_i [cap_rec] int32, rec_ctr [3] int64 (zero), status [2]
  int64, n_rec)``; ``counts [t1-t0, P]`` int32 (zero);
* ``monitor = (mon_bits [ceil(N/32)] uint32, mon_ptr [N+1], mon_var, mon_col, mon_every, mon_out,
  mon_first)`` (a CSR of monitored columns by neuron, as in :mod:`.sim_cuda_atomic`);
* astrocytes (ignored unless ``astro``): ``astro = (astro_dt, astate, aprm, ip3_buf)``; ``ip3 =
  (ptr, col, weight, delay, in_ptr, in_k, in_src, ev_cnt [2, A], ev_k [2, A, cap])`` (spikes onto
  astrocytes: outgoing CSR, incoming table, event lists); ``sic_in = (ptr [N+1], q, weight, delay)``
  the SIC synapses grouped by target neuron in increasing synapse index; ``amon = (amon_ptr [A+1],
  amon_row, amon_col)``.

**Plasticity** (every rule of ``stdp_math``; a kernel built with ``plastic``): the plastic synapses are not in
the static tables ``syn``/``fallback``; they are handled by the owner of their target neuron, which alone
reads and writes their weights and traces (no races). Every spiking source stamps a history ring ``pl_stamp[t
& mask, s] = t`` (``D`` steps). In step 1 of step ``t`` the owner processes step ``t - 1``: for each channel
row, after the static gather, the row's plastic synapses (sorted by delay, descending, then source and synapse
index: the CPU kernel's order) whose source spiked at ``t - 1 - d`` deliver their weight into the row's sum
for step ``t`` and are depressed (``stdp_on_pre``); then, if the neuron spiked at ``t - 1``, its incoming
plastic synapses are potentiated (``stdp_on_post``); then, with reward-modulated rules, its incoming reward
synapses take their step ``t - 1`` weight change where ``rk[rule, t - 1 - t0]`` is non-zero. The last step of
a launch is flushed the same way after the loop (its static arrivals at ``t1`` gathered into the ring first,
to keep the order), so the weights are complete when a launch returns and the next launch skips step ``t0 -
1``. The flush leaves the astrocytes' SIC of that step to the next launch's first step, as in an unsplit run:
the SIC's ring entries (current channel) receive no spike arrivals, so a run split into launches adds the
same terms in the same order (tests/test_sim_stdp_kernels.py checks it against the CPU kernel).
``stdp = (row_ptr [C*N+1], row_p, pl_src, pl_d, in_ptr [N+1], rid, rtab, w, tr [P, K], rk [rules, t1 -
t0], tl, pl_stamp [D, S])`` (plastic indices numbered by target neuron, as
``neuro.sim.runners.PlasticTables``). Cost per step: each owner scans its rows' plastic synapses (a stamp test
each), so a neuron with many plastic inputs costs in-degree work per step.

**Conductance channels and spec neurons** (a kernel built with ``cond``, ``specs`` or ``shapes``): the
owner's channel loop drives each channel by ``sim_math.channel_drive`` (exponential channels, current or
conductance: the membrane read at the start of the step, the LIF ``v`` or the spec model's voltage state)
or ``sim_math.shaped_drive`` (alpha channels, their auxiliary states in the last ``C`` rows of ``g``);
``pop_model`` sends each population to the LIF engine step or to its spec model's step, the same
generated code as the CPU kernel's (:func:`spec_device_functions`, states in rows ``C ..`` of ``g``).
Under ``NUMBA_ENABLE_CUDASIM=1`` the kernel runs on Numba's CUDA simulator (one block).
"""

from collections.abc import Callable
from functools import cache

import numba
import numpy as np
from numba import cuda

from . import lif_math, sim_math, stdp_math
from ._cuda_device import device as _device
from .astrocyte_cuda import ASTRO_WORK, astrocyte_advance
from .astrocyte_math import S_SIC

ns = sim_math.compile_for("cuda")
sn = stdp_math.compile_for("cuda")
LIFStructure = lif_math.LIFStructure
MAX_POP_COUNTERS = 64  # populations counted in shared memory (more: global integer atomics)
NO_EVENT = np.int64(1 << 62)  # above every synapse index
STAMP_NEVER = np.int64(-(1 << 62))  # initial spike stamps


@_device
def population_of(n, pops):
    """The population of neuron ``n`` (populations are consecutive ranges ``[lo, hi)``)."""
    lo = 0
    hi = pops.shape[0] - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if n < pops[mid, 1]:
            hi = mid
        else:
            lo = mid + 1
    return lo


@_device
def in_sorted(s, idx, lo, hi):
    """Whether ``s`` is among the sorted entries ``idx[lo:hi]`` (this step's spike-generator entries)."""
    while lo < hi:
        mid = (lo + hi) // 2
        v = idx[mid]
        if v == s:
            return True
        if v < s:
            lo = mid + 1
        else:
            hi = mid
    return False


@_device
def next_event(ev_k, par, row, cnt, last):
    """The smallest synapse index above ``last`` in the first ``cnt`` entries of an event list."""
    best = NO_EVENT
    for j in range(cnt):
        k = ev_k[par, row, j]
        if k > last and k < best:
            best = k
    return best


@_device
def apply(k, t_spike, row, weight, delay, mask, buf, acc):
    """Synapse ``k`` (its source spiked at ``t_spike``) onto ring column ``row``: the arrival at
    ``t_spike + 1`` adds to ``acc`` (returned), a later one to its ring slot."""
    d = delay[k]
    if d == 0:
        return acc + weight[k]
    buf[(t_spike + 1 + d) & mask, row] += weight[k]
    return acc


@_device
def gather(row, t_spike, events, fallback, stamps, weight, delay, mask, buf, acc):
    """Apply the events of ``row`` from the spikes of step ``t_spike`` in increasing synapse index
    (:func:`apply`), clear its count and return ``acc`` (module docstring, step 1)."""
    ev_cnt, ev_k = events
    par = t_spike & 1
    cnt = ev_cnt[par, row]
    if cnt == 0:
        return acc
    if cnt <= ev_k.shape[2]:
        last = np.int64(-1)
        for _ in range(cnt):
            k = next_event(ev_k, par, row, cnt, last)
            acc = apply(k, t_spike, row, weight, delay, mask, buf, acc)
            last = k
    else:  # the list overflowed: every incoming synapse whose source spiked at t_spike, in order
        in_ptr, in_k, in_src = fallback
        for e in range(in_ptr[row], in_ptr[row + 1]):
            if stamps[par, in_src[e]] == t_spike:
                acc = apply(in_k[e], t_spike, row, weight, delay, mask, buf, acc)
    ev_cnt[par, row] = 0
    return acc


@_device
def append_events(ptr, col, events, par, queue, nq, pre, start, tid, tpb):
    """All threads of the block: append the outgoing synapses of the ``nq`` queued sources to their
    targets' event lists (parity ``par``), one flattened loop over all their synapses.
    ``pre [nq + 1], start [nq]``: shared scratch (degrees' running sums, first synapse indices)."""
    ev_cnt, ev_k = events
    for j in range(tid, nq, tpb):
        src = queue[j]
        start[j] = ptr[src]
        pre[j] = ptr[src + 1] - ptr[src]
    cuda.syncthreads()
    if tid == 0:  # running sum of the degrees (in shared memory)
        total = np.int64(0)
        for j in range(nq):
            deg = pre[j]
            pre[j] = total
            total += deg
        pre[nq] = total
    cuda.syncthreads()
    cap = ev_k.shape[2]
    for e in range(tid, pre[nq], tpb):
        lo = 0
        hi = nq - 1
        while lo < hi:  # the queued source whose synapses hold flat index e
            mid = (lo + hi + 1) // 2
            if pre[mid] <= e:
                lo = mid
            else:
                hi = mid - 1
        k = start[lo] + (e - pre[lo])
        target = col[k]
        pos = cuda.atomic.add(ev_cnt, (par, target), 1)
        if pos < cap:
            ev_k[par, target, pos] = k
    cuda.syncthreads()


@_device
def flush_spikes(t, par, base, limited, sh, queue, pre, start, syn, events, astro, ip3, ip3_events, rec,
                 tid, tpb):
    """All threads of the block: deliver and record the spikes queued in shared memory since the last
    flush (``sh[0]`` of them, ``sh[1]`` recorded), then empty the queue."""
    out_ptr, out_col, _, _ = syn
    rec_flag, rec_t, rec_i, rec_ctr, _, _ = rec
    cuda.syncthreads()
    nq = sh[0]
    if nq == 0:  # block-uniform
        return
    if tid == 0:  # the block's slice of this step's records (of all records when not limited)
        sh[2] = cuda.atomic.add(rec_ctr, t % 3 if limited else 0, sh[1]) if sh[1] > 0 else 0
        sh[3] = 0
    append_events(out_ptr, out_col, events, par, queue, nq, pre, start, tid, tpb)
    if astro:
        append_events(ip3[0], ip3[1], ip3_events, par, queue, nq, pre, start, tid, tpb)
    for j in range(tid, nq, tpb):
        src = queue[j]
        if rec_flag[src] != 0:
            at = base + sh[2] + cuda.atomic.add(sh, 3, 1)
            rec_t[at] = t
            rec_i[at] = src
    if tid == 0:
        sh[0] = 0
        sh[1] = 0
    cuda.syncthreads()


@_device
def plastic_arrivals(row, tp, stdp, mask, acc, one, mixed_rules):
    """Add to ``acc`` (returned) the plastic synapses onto ring column ``row`` whose spike arrives at
    step ``tp`` (source spiked at ``tp - d``: its stamp in the history ring), each delivering its
    weight and then updated (``stdp_math.stdp_on_pre``), in the CPU kernel's order: the row's list is
    sorted by delay (descending: oldest spike first), source, synapse index."""
    row_ptr, row_p, pl_src, pl_d, _, rid, rtab, w, tr, _, tl, pl_stamp = stdp
    for j in range(row_ptr[row], row_ptr[row + 1]):
        p = row_p[j]
        ts = tp - pl_d[p]
        if ts >= 0 and pl_stamp[ts & mask, pl_src[p]] == ts:
            if mixed_rules:  # some rule is not plain pair STDP
                acc += sn.stdp_on_pre(p, p, rid[p], tp, w, tr, tl, rtab, one)
            else:
                acc += sn.pair_on_pre(p, p, rid[p], tp, w, tr, tl, rtab, one)
    return acc


@_device
def plastic_post(n, tp, stdp, one, mixed_rules):
    """Neuron ``n`` spiked at step ``tp``: its incoming plastic synapses' postsynaptic updates
    (``mixed_rules``: some rule is not plain pair STDP, else the pair functions directly)."""
    _, _, _, _, in_ptr, rid, rtab, w, tr, _, tl, _ = stdp
    for p in range(in_ptr[n], in_ptr[n + 1]):
        if mixed_rules:
            sn.stdp_on_post(p, p, rid[p], tp, w, tr, tl, rtab, one)
        else:
            sn.pair_on_post(p, p, rid[p], tp, w, tr, tl, rtab, one)


@_device
def plastic_reward(n, tp, t0, stdp, one):
    """The end of step ``tp`` for neuron ``n``'s reward-modulated incoming synapses (``stdp_math.
    stdp_on_step`` where the rule's ``rk[rule, tp - t0] = eta M dt`` is non-zero); the owner tests each
    incoming plastic synapse's rule every step (only in networks with a reward rule)."""
    _, _, _, _, in_ptr, rid, rtab, w, tr, rk, tl, _ = stdp
    for p in range(in_ptr[n], in_ptr[n + 1]):
        r = rid[p]
        if rtab[r, stdp_math.R_KIND] == stdp_math.KIND_REWARD:
            rate = rk[r, tp - t0]
            if rate != 0:
                sn.stdp_on_step(p, p, r, tp, w, tr, tl, rtab, rate, one)


@_device
def _grid_barrier():
    cuda.cg.this_grid().sync()


@_device
def _block_barrier():
    cuda.syncthreads()


@cache
def run_kernel(has_syn: bool, has_adapt: bool, C: int, hetero: bool, astro: bool = False,
               block_sync: bool = False, threads: int = 256, plastic: bool = False, rules: bool = False,
               cond: bool = False, specs: tuple = (), shapes: bool = False) -> Callable:
    """The event kernel for one model structure (module docstring for the arguments).

    ``cond`` (conductance channels), ``specs`` (spec neuron models) and ``shapes`` (alpha channels)
    as in ``sim_cpu.run_kernel``: ``params`` is then the longer tuple of ``sim_cpu.general_update``, and
    the neuron step goes through :func:`spec_device_functions` (the same code as the CPU kernel's).

    ``hetero``: parameter tables with one column per neuron (else per population); ``astro``: with
    the astrocyte phase; ``block_sync``: launched as a single block, barriers are ``syncthreads``
    (else a cooperative grid); ``threads``: the block size it must be launched with; ``plastic``:
    with plasticity (module docstring; without it ``stdp`` is not touched); ``rules``: some rule is not
    plain pair STDP (``neuro.sim.runners.mixed_rules``: the general event functions of ``stdp_math``,
    else the pair ones directly). Callers pass every argument positionally, in this order:
    ``functools.cache`` keys on how they are passed.

    Signature: ``(t0, t1, seed, consts, params, pops, pop_cur, inputs, syn, fallback, events, stamps,
    mask, state, rec, counts, monitor, astro, ip3, sic_in, amon, stdp, qcap)``; launch with ``threads``
    threads per block and ``(3 * qcap + 1) * 8`` bytes of dynamic shared memory (``qcap``: a multiple
    of ``threads``, the spikes queued between two deliveries).
    """
    TPB = threads
    barrier = _block_barrier if block_sync else _grid_barrier
    general = cond or bool(specs)  # the general update (conductance channels or spec neurons)
    spec_voltage, spec_advance = spec_device_functions(specs, C)

    @cuda.jit
    def sim_events(t0, t1, seed, consts, params, pops, pop_cur, inputs, syn, fallback, events, stamps,
                   mask, state, rec, counts, monitor, astro_args, ip3, sic_in, amon, stdp, qcap):
        dyn = cuda.shared.array(0, numba.int64)  # 3 * qcap + 1: the spike queue and its scratch
        queue = dyn[0:qcap]
        start = dyn[qcap:2 * qcap]
        pre = dyn[2 * qcap:3 * qcap + 1]
        sh = cuda.shared.array(4, numba.int64)  # queued, recorded, record offset, records placed
        pcount = cuda.shared.array(MAX_POP_COUNTERS, numba.int32)
        work = cuda.local.array(ASTRO_WORK, numba.float64)
        tid = cuda.threadIdx.x
        gtid = cuda.grid(1)
        gstride = cuda.gridsize(1)
        zero, one = consts[0], consts[1]
        prm, ref_steps, bias, ch_alpha, ch_kappa = params[0], params[1], params[2], params[3], params[4]
        inj, inj_k, poisson_prob, gen_ptr, gen_idx = inputs
        _, _, weight, delay = syn
        ev_cnt = events[0]
        i_st, v_st, a_st, g_st, refc, buf = state
        rec_flag, rec_t, rec_i, rec_ctr, status, n_rec = rec
        mon_bits, mon_ptr, mon_var, mon_col, mon_every, mon_out, mon_first = monitor
        astro_dt, astate, aprm, ip3_buf = astro_args
        _, _, ip3_w, ip3_d, ip3_in_ptr, ip3_in_k, ip3_in_src, ip3_cnt, ip3_ev = ip3
        ip3_events = (ip3_cnt, ip3_ev)
        sic_ptr, sic_q, sic_w, sic_d = sic_in
        amon_ptr, amon_row, amon_col = amon
        N = v_st.shape[0]
        Mp = poisson_prob.shape[0]
        S = rec_flag.shape[0]
        P = pops.shape[0]
        A = astate.shape[1]
        n_inj = inj.shape[0]
        cap = rec_t.shape[0]
        n_chunks = (S + TPB - 1) // TPB * TPB
        per_flush = qcap // TPB  # chunks queued between two deliveries
        useed = np.uint64(seed)
        for j in range(tid, MAX_POP_COUNTERS, TPB):
            pcount[j] = 0
        if tid == 0:
            sh[0] = 0
            sh[1] = 0
        cuda.syncthreads()
        limited = n_rec * (t1 - t0) > cap  # else every record fits: no stop test, one running count
        base = np.int64(0)  # records written before step t (limited)
        stopped = False
        t_end = t1
        for t in range(t0, t1):
            par = t & 1
            prev = par ^ 1
            if limited:
                if t > t0:
                    base += rec_ctr[(t - 1) % 3]
                if base + n_rec > cap:  # the same decision in every thread: stop before step t
                    stopped = True
                    t_end = t
                    break
                if gtid == 0:
                    rec_ctr[(t + 1) % 3] = 0  # last read at the start of step t - 1
            slot = t & mask
            row = t - t0
            record = mon_out.shape[1] > 0 and t % mon_every == 0
            mrow = (t - mon_first) // mon_every
            g0 = 0
            g1 = 0
            if t + 1 < gen_ptr.shape[0]:
                g0 = gen_ptr[t]
                g1 = gen_ptr[t + 1]
            ut = np.uint64(t)
            it = 0
            for chunk in range(cuda.blockIdx.x * TPB, n_chunks, gstride):
                s = chunk + tid
                spk = False
                if s < N:
                    n = s
                    p = 0 if P == 1 else population_of(n, pops)
                    q = n if hetero else p
                    cur = pop_cur[p]
                    x = bias[q]
                    m = params[7][p] if general else 0  # 0: the LIF engine, k + 1: spec model k
                    v_in = zero
                    if cond:  # the membrane the conductance channels see
                        v_in = v_st[n] if m == 0 else spec_voltage(m - 1, n, g_st, zero)
                    for c in range(C):
                        col = c * N + n
                        # SIC of step t - 1, in synapse order (only the current channel: no spikes land there)
                        if astro and t > 0 and c == cur:
                            for e in range(sic_ptr[n], sic_ptr[n + 1]):
                                sq = astate[S_SIC, sic_q[e]]
                                if sq != 0.0:
                                    buf[(t + sic_d[e]) & mask, col] += sic_w[e] * sq
                        stored = buf[slot, col]
                        arrived = stored
                        if ev_cnt[prev, col] != 0:
                            arrived = gather(col, t - 1, events, fallback, stamps, weight, delay, mask, buf,
                                             stored)
                        if plastic and t > t0:  # (step t0 - 1 was flushed by the previous launch)
                            arrived = plastic_arrivals(col, t - 1, stdp, mask, arrived, one, rules)
                        if c == cur and t < n_inj and inj_k[n] >= 0:
                            arrived += inj[t, inj_k[n]]
                        if stored != zero:
                            buf[slot, col] = zero
                        if shapes:  # alpha channels: auxiliary states in the last C rows of g
                            h0 = g_st.shape[0] - C
                            x_c, g_next, h_next = ns.shaped_drive(
                                g_st[c, n], g_st[h0 + c, n], arrived, ch_kappa[c, q], ch_alpha[c, q],
                                params[6][c, q], params[5][c, q], v_in, params[9][c, q], params[10][c, q],
                                params[11][c, q])
                            g_st[h0 + c, n] = h_next
                        elif cond:
                            x_c, g_next = ns.channel_drive(g_st[c, n], arrived, ch_kappa[c, q],
                                                           ch_alpha[c, q], params[6][c, q], params[5][c, q],
                                                           v_in)
                        else:
                            x_c, g_next = ns.channel_input(g_st[c, n], arrived, ch_kappa[c, q],
                                                           ch_alpha[c, q])
                        x += x_c
                        g_st[c, n] = g_next
                    if plastic and t > t0 and stamps[prev, n] == t - 1:
                        plastic_post(n, t - 1, stdp, one, rules)
                    if plastic and t > t0 and stdp[9].shape[0] > 0:
                        plastic_reward(n, t - 1, t0, stdp, one)
                    if m == 0:
                        st = LIFStructure(has_syn, has_adapt, True, pops[p, 2], pops[p, 3] != 0)
                        spk = ns.advance_neuron(n, x, ns.load_coefficients(prm, q), ref_steps[q], st, i_st,
                                                v_st, a_st, refc, one, zero)
                    else:
                        spk = spec_advance(m - 1, n, x, ref_steps[q], pops[p, 3] != 0, params[8], g_st, refc,
                                           one, zero)
                    if record and (mon_bits[n >> 5] >> (n & 31)) & 1:
                        for j in range(mon_ptr[n], mon_ptr[n + 1]):
                            mon_out[mrow, mon_col[j]] = ns.monitored_value(mon_var[j], n, v_st, i_st, a_st,
                                                                           g_st)
                    if spk:
                        if p < MAX_POP_COUNTERS:
                            cuda.atomic.add(pcount, p, 1)
                        else:
                            cuda.atomic.add(counts, (row, p), 1)
                elif s < N + Mp:
                    prob = poisson_prob[s - N]
                    spk = prob > 0.0 and ns.uniform(useed, ut, np.uint64(s)) < prob
                elif s < S:
                    spk = in_sorted(s, gen_idx, g0, g1)
                if spk:
                    stamps[par, s] = t
                    if plastic:
                        stdp[11][slot, s] = t  # the plastic spike history (D steps)
                    queue[cuda.atomic.add(sh, 0, 1)] = s
                    if rec_flag[s] != 0:
                        cuda.atomic.add(sh, 1, 1)
                it += 1
                if it == per_flush or chunk + gstride >= n_chunks:  # block-uniform
                    flush_spikes(t, par, base, limited, sh, queue, pre, start, syn, events, astro, ip3,
                                 ip3_events, rec, tid, TPB)
                    it = 0
            for j in range(tid, min(P, MAX_POP_COUNTERS), TPB):
                if pcount[j] != 0:
                    cuda.atomic.add(counts, (row, j), pcount[j])
                    pcount[j] = 0
            if astro:
                barrier()  # every spike of step t is in the IP3 event lists
                slot_in = (t + 1) & mask
                for q in range(gtid, A, gstride):
                    stored = ip3_buf[slot_in, q]
                    ip3_in = stored
                    if ip3_cnt[par, q] != 0:
                        ip3_in = gather(q, t, ip3_events, (ip3_in_ptr, ip3_in_k, ip3_in_src), stamps, ip3_w,
                                        ip3_d, mask, ip3_buf, stored)
                    if stored != 0.0:
                        ip3_buf[slot_in, q] = 0.0
                    astrocyte_advance(q, astate, aprm, astro_dt, ip3_in, 0.0, work)
                    if record:
                        for j in range(amon_ptr[q], amon_ptr[q + 1]):
                            mon_out[mrow, amon_col[j]] = astate[amon_row[j], q]
            barrier()
        if plastic and t_end > t0:
            # flush step t_end - 1 (its spikes were delivered above): its static arrivals at t_end and
            # its plastic events, so that the weights are complete when the launch returns; the ring
            # entry keeps the CPU kernel's order (older, delay-0 static, plastic)
            tp = t_end - 1
            slot_f = t_end & mask
            for chunk in range(cuda.blockIdx.x * TPB, n_chunks, gstride):
                n = chunk + tid
                if n < N:
                    for c in range(C):
                        col = c * N + n
                        acc = buf[slot_f, col]
                        if ev_cnt[tp & 1, col] != 0:
                            acc = gather(col, tp, events, fallback, stamps, weight, delay, mask, buf, acc)
                        buf[slot_f, col] = plastic_arrivals(col, tp, stdp, mask, acc, one, rules)
                    if stamps[tp & 1, n] == tp:
                        plastic_post(n, tp, stdp, one, rules)
                    if stdp[9].shape[0] > 0:
                        plastic_reward(n, tp, t0, stdp, one)
        if gtid == 0:
            status[0] = t_end
            if not limited:
                status[1] = rec_ctr[0]
            else:
                status[1] = base if stopped or t1 == t0 else base + rec_ctr[(t1 - 1) % 3]

    return sim_events


# --------------------------------------------------------------------------------------------
# Spec neuron models (the same generated step as the CPU kernel's, ``sim_spec``)


@cache
def spec_device_functions(specs: tuple, C: int) -> tuple[Callable, Callable]:
    """``(voltage, advance)`` device functions over the spec models ``specs`` (``(GeneratedModel,
    voltage row)`` each), chosen by a run-time model index ``m``:

    * ``voltage(m, n, g_st, zero)``: the voltage state of neuron ``n`` (row ``C + vrow`` of ``g_st``);
    * ``advance(m, n, x, ref_steps, ge, sargs, g_st, refc, one, zero) -> spiked``: the model's step
      with refractoriness (``sim_spec``), the states stored back, the refractory counter updated;
      ``sargs`` the nested ``((prm_0, kc_0), ((prm_1, kc_1), ... ()))``.
    """
    if not specs:
        @_device
        def no_voltage(m, n, g_st, zero):
            return zero

        @_device
        def no_advance(m, n, x, rs, ge, sargs, g_st, refc, one, zero):
            return False

        return no_voltage, no_advance
    from . import neuron_spec, sim_spec

    (model, vrow), rest = specs[0], specs[1:]
    step = sim_spec.sim_step(model, vrow, "cuda")
    gen = neuron_spec.compile_for(model, "cuda")
    load_params, load_state, store_state = gen.load_params, gen.load_state, gen.store_state
    rest_voltage, rest_advance = spec_device_functions(rest, C)

    @_device
    def voltage(m, n, g_st, zero):
        if m == 0:
            return g_st[C + vrow, n] if vrow >= 0 else zero
        return rest_voltage(m - 1, n, g_st, zero)

    @_device
    def advance(m, n, x, rs, ge, sargs, g_st, refc, one, zero):
        if m != 0:
            return rest_advance(m - 1, n, x, rs, ge, sargs[1], g_st, refc, one, zero)
        prm_s, kc = sargs[0]
        r = refc[n]
        held = r > 0
        ys = g_st[C:]  # the states of spec neurons: rows C .. of g
        y_new, s = step(x, load_state(ys, n), load_params(prm_s, n), kc, ge, held)
        store_state(ys, n, y_new)
        spk = s != zero
        if held:
            refc[n] = r - 1
        elif spk:
            refc[n] = rs
        else:
            refc[n] = 0
        return spk

    return voltage, advance
