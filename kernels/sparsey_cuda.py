"""Sparsey's CSA with ``numba.cuda``: per frame, one launch per level to choose, one to learn.

Same network layout, arguments and semantics as :mod:`neuro.kernels.sparsey_cpu` (read its
docstring). A frame is four kinds of launch, in order on one stream:

* :data:`begin_frame` ``[B, THREADS]``: resets the sequences that start at this frame and loads the
  input units into the unit vector ``act [B, n_units]``.
* per level, :data:`choose_level` ``[(n_macs, B), THREADS]``: one block per mac and sequence. The
  threads count the active sources (integer atomics in shared memory: exact), compute the input
  sums of the mac's cells (each thread owns cells, so the weight reads of a row are coalesced) into
  the scratch arrays ``su, sh, sd [B, n_units]``, each CM's ``max V`` into ``cmmax [B, n_cm]``; thread
  0 sums ``G`` over CMs in increasing order (the CPU's order) and applies the back-off rule; then
  one thread per CM chooses the winner with the same ``sparsey_math`` functions as the CPU.
* per level, :data:`learn_level` ``[n_macs, THREADS]`` (when learning): each thread owns weight rows
  (sources) of one mac and latches them for every sequence whose code is active — no two threads
  write the same row, and the 0 -> 1 counts are integer atomics. Thread 0 then adds the counts and
  applies the freezing test.
* :data:`end_frame` ``[B, THREADS]``: ``prev <- act``, ``codes_out[t] <- code``.

Numerics: **bit-identical to** ``sparsey_cpu`` **in both modes** (max-V and probabilistic). Input sums
are integers; ``V``, ``G``, ``eta`` and ``mu`` use only ``+ - * /`` (integer exponents by
multiplication, ``sparsey_math.exp_det`` instead of libm's ``exp``), compiled without FMA
contraction (``_cuda_device``), and summed in the same order; the uniform numbers are the same
SplitMix64 counters. What could differ on a GPU would be a libm transcendental rounding differently;
none is used, so the documented bound on the probabilistic choice is zero differing winners.
"""

import numpy as np
from numba import cuda, int32

from . import sparsey_math as sm

THREADS = 64

_m = sm.compile_for("cuda")


@cuda.jit
def begin_frame(t, x, reset, prev, code, age, gmem, act):
    b = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    n_in = x.shape[2]
    starts = reset[t, b] != 0
    for i in range(tid, act.shape[1], nt):
        if starts:
            prev[b, i] = 0
        if i < n_in:
            act[b, i] = x[t, b, i]
        else:
            act[b, i] = 0
    if starts:
        for c in range(tid, code.shape[1], nt):
            code[b, c] = -1
        for m in range(tid, age.shape[1], nt):
            age[b, m] = 0
            gmem[b, m] = 0.0


@cuda.jit
def choose_level(t, m0, mi, mf, src, w, prev, act, code, age, gmem, su, sh, sd, cmmax, g_out, ev_out,
                 seed, step0, maxv, backoff):
    m = m0 + cuda.blockIdx.x
    b = cuda.blockIdx.y
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    counts = cuda.shared.array(3, int32)
    gsh = cuda.shared.array(1, np.float64)
    q = mi[m, sm.MI_Q]
    k = mi[m, sm.MI_K]
    n = q * k
    cell0 = mi[m, sm.MI_CELL]
    cm0 = mi[m, sm.MI_CM]
    persist = age[b, m] > 0 and code[b, cm0] >= 0
    if tid == 0:
        counts[0] = 0
        counts[1] = 0
        counts[2] = 0
    cuda.syncthreads()
    if persist:                                   # uniform across the block
        for c in range(tid, q, nt):
            act[b, cell0 + c * k + code[b, cm0 + c]] = 1
        if tid == 0:
            age[b, m] -= 1
            g_out[t, b, m] = gmem[b, m]
            ev_out[t, b, m] = sm.EV_PERSIST
        return
    u0, u1 = mi[m, sm.MI_U0], mi[m, sm.MI_U1]
    h0, h1 = mi[m, sm.MI_H0], mi[m, sm.MI_H1]
    d0, d1 = mi[m, sm.MI_D0], mi[m, sm.MI_D1]
    a = act[b]
    pb = prev[b]
    nu = 0
    for r in range(u0 + tid, u1, nt):
        if a[src[r]] != 0:
            nu += 1
    nh = 0
    for r in range(h0 + tid, h1, nt):
        if pb[src[r]] != 0:
            nh += 1
    nd = 0
    for r in range(d0 + tid, d1, nt):
        if pb[src[r]] != 0:
            nd += 1
    if nu != 0:
        cuda.atomic.add(counts, 0, nu)
    if nh != 0:
        cuda.atomic.add(counts, 1, nh)
    if nd != 0:
        cuda.atomic.add(counts, 2, nd)
    cuda.syncthreads()
    pu = counts[0]
    ph = counts[1]
    pd = counts[2]
    if pu < mi[m, sm.MI_MIN] or pu > mi[m, sm.MI_MAX] or pu == 0:   # activation gate
        for c in range(tid, q, nt):
            code[b, cm0 + c] = -1
        if tid == 0:
            age[b, m] = 0
            gmem[b, m] = 0.0
            g_out[t, b, m] = 0.0
            ev_out[t, b, m] = sm.EV_OFF
        return
    has_h = ph > 0
    has_d = pd > 0
    sub = su[b]
    shb = sh[b]
    sdb = sd[b]
    for i in range(tid, n, nt):
        sub[cell0 + i] = _m.cell_sum(a, src, u0, u1, w, mi[m, sm.MI_WU], n, i)
        if has_h:
            shb[cell0 + i] = _m.cell_sum(pb, src, h0, h1, w, mi[m, sm.MI_WH], n, i)
        if has_d:
            sdb[cell0 + i] = _m.cell_sum(pb, src, d0, d1, w, mi[m, sm.MI_WD], n, i)
    cuda.syncthreads()
    lu, lh, ld = mi[m, sm.MI_LU], mi[m, sm.MI_LH], mi[m, sm.MI_LD]
    last = 3 if (has_h or has_d) else 0
    chosen = -1
    use_h = has_h
    use_d = has_d
    g = 0.0
    for cand in range(4):
        valid, uh, ud = _m.candidate(cand, has_h, has_d)
        if valid and chosen < 0:                  # uniform across the block
            for c in range(tid, q, nt):
                vmax, _ = _m.cm_max_v(sub, shb, sdb, cell0 + c * k, k, pu, ph, pd, uh, ud, lu, lh, ld)
                cmmax[b, cm0 + c] = vmax
            cuda.syncthreads()
            if tid == 0:
                acc = 0.0
                for c in range(q):
                    acc = acc + cmmax[b, cm0 + c]
                gsh[0] = acc / q
            cuda.syncthreads()
            g = gsh[0]
            if (not backoff) or cand == last or g >= mf[m, sm.MF_THR0 + cand]:
                chosen = cand
                use_h = uh
                use_d = ud
            cuda.syncthreads()
    eta = _m.eta_of(g, mf[m, sm.MF_GMINUS], mi[m, sm.MI_GAMMA], mf[m, sm.MF_CHI], float(k))
    useed = np.uint64(seed)
    ustep = np.uint64(step0 + t)
    n_cm = code.shape[1]
    for c in range(tid, q, nt):
        base = cell0 + c * k
        if maxv:
            _, win = _m.cm_max_v(sub, shb, sdb, base, k, pu, ph, pd, use_h, use_d, lu, lh, ld)
        else:
            u01 = _m.uniform(useed, ustep, _m.rng_index(b, n_cm, cm0 + c))
            win = _m.cm_draw(sub, shb, sdb, base, k, pu, ph, pd, use_h, use_d, lu, lh, ld, eta,
                             mf[m, sm.MF_STEEP], mf[m, sm.MF_PHI], u01)
        code[b, cm0 + c] = win
        act[b, base + win] = 1
    if tid == 0:
        age[b, m] = mi[m, sm.MI_PERSIST] - 1
        gmem[b, m] = g
        g_out[t, b, m] = g
        ev_out[t, b, m] = chosen


@cuda.jit
def learn_level(t, m0, mi, mf, src, w, prev, act, code, ev_out, ones, frozen):
    m = m0 + cuda.blockIdx.x
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    counts = cuda.shared.array(3, int32)
    if tid == 0:
        counts[0] = 0
        counts[1] = 0
        counts[2] = 0
    q = mi[m, sm.MI_Q]
    k = mi[m, sm.MI_K]
    n = q * k
    cm0 = mi[m, sm.MI_CM]
    ru = mi[m, sm.MI_U1] - mi[m, sm.MI_U0]
    rh = mi[m, sm.MI_H1] - mi[m, sm.MI_H0]
    rd = mi[m, sm.MI_D1] - mi[m, sm.MI_D0]
    fu = frozen[m, 0] != 0
    fh = frozen[m, 1] != 0
    fd = frozen[m, 2] != 0
    B = code.shape[0]
    cuda.syncthreads()
    for r_all in range(tid, ru + rh + rd, nt):
        if r_all < ru:
            bundle = 0
            r = r_all
            skip = fu
        elif r_all < ru + rh:
            bundle = 1
            r = r_all - ru
            skip = fh
        else:
            bundle = 2
            r = r_all - ru - rh
            skip = fd
        if skip:
            continue
        s = src[mi[m, sm.MI_U0 + 2 * bundle] + r]
        row = mi[m, sm.MI_WU + bundle] + r * n
        new = 0
        for b in range(B):
            if code[b, cm0] < 0:
                continue
            if bundle == 0:
                on = act[b, s] != 0
            else:
                on = prev[b, s] != 0 and ev_out[t, b, m] != sm.EV_PERSIST
            if on:
                new += _m.learn_row(w, row, code[b], cm0, q, k)
        if new != 0:
            cuda.atomic.add(counts, bundle, new)
    cuda.syncthreads()
    if tid == 0:
        for j in range(3):
            ones[m, j] += counts[j]
            size = (mi[m, sm.MI_U1 + 2 * j] - mi[m, sm.MI_U0 + 2 * j]) * n
            if size > 0 and ones[m, j] >= mf[m, sm.MF_FREEZE] * size:
                frozen[m, j] = 1


@cuda.jit
def end_frame(t, act, prev, code, codes_out):
    b = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    for i in range(tid, act.shape[1], nt):
        prev[b, i] = act[b, i]
    for c in range(tid, code.shape[1], nt):
        codes_out[t, b, c] = code[b, c]
