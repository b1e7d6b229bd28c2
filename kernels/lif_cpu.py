"""LIF-family scans on the CPU: GIL-free Numba kernels over chunks of neurons, serial over time.

Arrays are time-major ``[T, N]`` and C-contiguous. A task owns ``chunk`` consecutive neurons
(:func:`chunk_for`: up to 2048, 8 KiB rows of float32, long enough for the hardware prefetchers) and
walks through time, so each step reads and writes one contiguous row slice per array and the inner
loop over the chunk vectorises (SIMD across neurons). The host side (``neuro.ops._lif_runners``)
splits the chunks over threads with ``neuro.ops._launch.run_cpu_chunks``.

Backward by segments: with gradients the forward also writes the state every :data:`STEPS` steps
(checkpoints, ``1/STEPS`` of a sequence); the backward walks the segments of ``STEPS`` steps from
the last, recomputes each segment's forward from its checkpoint into ``[STEPS, chunk]`` buffers
(cache-resident whatever ``T``; the same operations, so bit-identical) and runs the reverse steps
over it. It reads ``x`` and the spike gradient and writes ``dx``: no membrane sequence is stored.

Kernels are built per model structure (``has_syn``, ``has_adapt``, ``spiking`` are closure
constants, so dead arithmetic disappears); the reset mode, the comparison, the surrogate, which
sequences are recorded and which gradients are present are runtime arguments, which keeps the number
of compiled variants (and CI compile time) small. Absent arrays are passed as 1x1 placeholders.

Shared arguments: ``x [T, N]``; ``prm [9, P]`` coefficients (neuron ``n`` uses column ``n % P``, rows
``lif_math.P_*``); ``consts = [0, 1, keep_reset, sg_a, sg_b]`` in the compute dtype;
``state0 = (i0, v0, a0)`` initial states ``[N]``; ``reset`` (``lif_math.RESET_*``); ``ge`` (fire on
equality); ``chunk`` neurons per task; ``ckpt = (ck_i, ck_v, ck_a)`` ``[n_checkpoints(T), N]`` (the
state before steps ``STEPS, 2 STEPS, ...``; 1x1 placeholders where the model lacks the state or no
gradient is needed); the task range ``k_lo, k_hi`` last.
"""

from functools import cache

import numpy as np
from numba import njit

from . import lif_math

ns = lif_math.compile_for("cpu")
LIFCarry, LIFStructure = lif_math.LIFCarry, lif_math.LIFStructure

# Columns of the forward's ``finite [n_chunks, 2]`` output.
FINITE_X, FINITE_STATE = 0, 1
#: modes of a gradient array (as ``lif_cuda``'s): absent, a full ``[T, N]`` array, one value for all
GRAD_ABSENT, GRAD_FULL, GRAD_SCALAR = 0, 1, 2


#: steps per segment of the backward (and between the forward's checkpoints)
STEPS = 32
#: the largest chunk of neurons per task
MAX_CHUNK = 2048


def chunk_for(N: int, threads: int = 2) -> int:
    """Neurons per task: up to :data:`MAX_CHUNK` (long contiguous rows for the hardware prefetchers),
    smaller when ``N`` would otherwise give fewer than two tasks per thread; a multiple of 16."""
    per_task = -(-N // max(1, 2 * threads))
    return int(max(16, min(MAX_CHUNK, -(-per_task // 16) * 16)))


def n_chunks(N: int, threads: int = 2) -> tuple[int, int]:
    """``(chunk, number of chunks)`` of a scan over ``N`` neurons on ``threads`` threads."""
    chunk = chunk_for(N, threads)
    return chunk, (N + chunk - 1) // chunk


def n_checkpoints(T: int) -> int:
    """Rows of the checkpoint arrays of a ``T``-step scan (states before steps ``STEPS``, ``2 STEPS``,
    ...; the state before step 0 is the initial state)."""
    return max(T - 1, 0) // STEPS


@njit(inline="always", cache=True)
def _copy_row(src, dst):
    """``dst[:] = src`` as a plain loop (vectorises; Numba's slice assignment does not as well)."""
    for j in range(src.shape[0]):
        dst[j] = src[j]


@njit(inline="always", cache=True)
def _const_row(g, mode, m, zero):
    """A row of ``m`` copies of ``g[0, 0]`` (mode ``GRAD_SCALAR``), else of zeros."""
    row = np.empty(m, g.dtype)
    value = g[0, 0] if mode == GRAD_SCALAR else zero
    for j in range(m):
        row[j] = value
    return row


@njit(cache=True)
def _local_params(prm, lo, m):
    """Copy the coefficient columns of neurons ``lo .. lo+m-1`` into a ``[9, m]`` array (``m = 1``
    for uniform coefficients)."""
    out = np.empty((lif_math.N_PARAMS, m), prm.dtype)
    P = prm.shape[1]
    for j in range(m):
        for q in range(lif_math.N_PARAMS):
            out[q, j] = prm[q, (lo + j) % P]
    return out


@njit(inline="always", cache=True)
def _start_chunk(lp, state0, lo, m, st, one, zero, uniform):
    """Local copies ``(li, lv, la, ls)`` of a chunk's initial state; ``ls`` is the pending spike
    (the reset still to apply when it is delayed, else 0)."""
    i0, v0, a0 = state0
    li = i0[lo:lo + m].copy()
    lv = v0[lo:lo + m].copy()
    la = a0[lo:lo + m].copy()
    ls = np.empty(m, lv.dtype)
    for j in range(m):
        ls[j] = ns.pending_reset(lv[j], ns.load_coefficients(lp, 0 if uniform else j), st, one, zero)
    return li, lv, la, ls


@njit(inline="always", cache=True)
def _coefficients(lp, k0, j, uniform):
    """The coefficients of lane ``j``: the chunk's one record ``k0`` (held in registers) when they
    are uniform, else column ``j`` of the local table ``lp``."""
    return k0 if uniform else ns.load_coefficients(lp, j)


@njit(inline="always", cache=True)
def _advance_row(xr, li, lv, la, ls, lp, m, st, one, zero, hr, store_h, sr, uniform):
    """One step of the chunk: advance ``li, lv, la`` and the spikes ``ls`` in place, copying the
    spikes to ``sr`` and (``store_h``) the pre-reset membrane to ``hr``. ``store_h`` and
    ``uniform`` are constants at every call, so their branches fold."""
    k0 = ns.load_coefficients(lp, 0)
    for j in range(m):
        i_n, h, v_n, a_n, s = ns.lif_forward_step(xr[j], li[j], lv[j], la[j], ls[j],
                                                  _coefficients(lp, k0, j, uniform), st, one, zero)
        lv[j] = v_n
        ls[j] = s
        sr[j] = s
        if store_h:
            hr[j] = h
        if st.has_syn:
            li[j] = i_n
        if st.has_adapt:
            la[j] = a_n


@njit(inline="always", cache=True)
def _load_state(ckpt, c, lo, m, li, lv, la, has_syn, has_adapt):
    """Copy checkpoint row ``c`` of the chunk into the state rows of the states the model has."""
    ck_i, ck_v, ck_a = ckpt
    if has_syn:
        _copy_row(ck_i[c, lo:lo + m], li)
    _copy_row(ck_v[c, lo:lo + m], lv)
    if has_adapt:
        _copy_row(ck_a[c, lo:lo + m], la)


@njit(inline="always", cache=True)
def _nan_if_not_finite(li, lv, la, m, zero):
    """``sum(i * 0 + v * 0 + a * 0)`` over a chunk's state rows: NaN iff one of them is NaN or inf
    (per-lane sums vectorise; a scalar sum would not)."""
    acc = np.zeros(m, lv.dtype)
    for j in range(m):
        acc[j] = li[j] * zero + lv[j] * zero + la[j] * zero
    return acc.sum()


@cache
def forward_kernel(has_syn: bool, has_adapt: bool, spiking: bool, uniform: bool = False):
    """The forward scan for one model structure; ``uniform``: every neuron has the same
    coefficients (``P = 1``), held in registers instead of being read per lane and step.

    Signature: ``(x, prm, consts, state0, reset, ge, chunk, seqs, store, last, ckpt, finite, k_lo,
    k_hi)`` with ``seqs = (s_out, v_out, i_out, a_out)`` ``[T, N]`` (spikes written if ``spiking``,
    the others where ``store = (store_v, store_i, store_a, store_ckpt)`` says), ``last = (i_last,
    v_last, a_last)`` the final state and ``ckpt`` the checkpoints for backward (``store_ckpt``).
    ``finite[k, FINITE_STATE]`` receives ``sum(state * 0)`` over chunk ``k``'s initial states and
    ``finite[k, FINITE_X]`` the same over its final states: NaN iff one of them holds NaN or inf.
    The final state detects a non-finite input without touching the inputs again: every ``x[t, n]``
    enters neuron ``n``'s membrane, and a NaN or inf there never becomes finite again (``+``, ``-``
    and ``*`` by finite coefficients keep it, ``0 * inf`` is NaN, the resets are arithmetic, not
    selects). A finite input whose membrane overflows to inf is caught too (the host tells the two
    apart on that rare path).
    """

    @njit(nogil=True, cache=True)
    def lif_scan_forward(x, prm, consts, state0, reset, ge, chunk, seqs, store, last, ckpt, finite,
                         k_lo, k_hi):
        T, N = x.shape
        zero, one = consts[0], consts[1]
        st = LIFStructure(has_syn, has_adapt, spiking, reset, ge)
        s_out, v_out, i_out, a_out = seqs
        store_v, store_i, store_a, store_ckpt = store
        ck_i, ck_v, ck_a = ckpt
        for k in range(k_lo, k_hi):
            lo = k * chunk
            m = min(chunk, N - lo)
            lp = _local_params(prm, lo, 1 if uniform else m)
            li, lv, la, ls = _start_chunk(lp, state0, lo, m, st, one, zero, uniform)
            finite[k, FINITE_STATE] = _nan_if_not_finite(li, lv, la, m, zero)
            sr = ls  # this step's spikes, written in place when there is no spike output
            for t in range(T):
                if store_ckpt and t > 0 and t % STEPS == 0:
                    c = t // STEPS - 1
                    if has_syn:
                        _copy_row(li, ck_i[c, lo:lo + m])
                    _copy_row(lv, ck_v[c, lo:lo + m])
                    if has_adapt:
                        _copy_row(la, ck_a[c, lo:lo + m])
                if spiking:
                    sr = s_out[t, lo:lo + m]
                _advance_row(x[t, lo:lo + m], li, lv, la, ls, lp, m, st, one, zero, ls, False, sr,
                             uniform)
                if store_v:
                    _copy_row(lv, v_out[t, lo:lo + m])
                if store_i:
                    _copy_row(li, i_out[t, lo:lo + m])
                if store_a:
                    _copy_row(la, a_out[t, lo:lo + m])
            _copy_row(li, last[0][lo:lo + m])
            _copy_row(lv, last[1][lo:lo + m])
            _copy_row(la, last[2][lo:lo + m])
            finite[k, FINITE_X] = _nan_if_not_finite(li, lv, la, m, zero)

    return lif_scan_forward


@cache
def backward_kernel(has_syn: bool, has_adapt: bool, spiking: bool, need_pgrad: bool, uniform: bool = False):
    """The reverse-time scan (exact BPTT through the surrogate) for one model structure (``uniform``
    as in :func:`forward_kernel`).

    Signature: ``(x, prm, consts, state0, reset, ge, sg_kind, chunk, ckpt, grads, modes, grads_last,
    dx, d_state0, d_prm, k_lo, k_hi)``: ``ckpt`` the forward's checkpoints, ``grads = (g_s, g_v, g_i,
    g_a)`` the gradients of the spike / v / i / a sequences with their ``modes`` (``GRAD_*``:
    absent, ``[T, N]``, or one value for every element in ``[0, 0]``), ``grads_last`` those of the
    final ``(i, v, a)``; outputs ``dx [T, N]``, ``d_state0 = (d_i0, d_v0, d_a0)`` and, with
    ``need_pgrad``, the per-neuron partial sums ``d_prm [9, N]`` (over time, not batch). Each chunk
    walks the segments of ``STEPS`` steps from the last: it recomputes the segment's forward from
    its checkpoint into ``[STEPS, chunk]`` buffers, then runs the reverse steps over it.
    """
    keep_i = has_syn and need_pgrad

    @njit(nogil=True, cache=True)
    def lif_scan_backward(x, prm, consts, state0, reset, ge, sg_kind, chunk, ckpt, grads, modes,
                          grads_last, dx, d_state0, d_prm, k_lo, k_hi):
        T, N = x.shape
        zero, one, keep, sg_a, sg_b = consts[0], consts[1], consts[2], consts[3], consts[4]
        st = LIFStructure(has_syn, has_adapt, spiking, reset, ge)
        delayed = reset == lif_math.RESET_SUBTRACT_DELAYED
        v0 = state0[1]
        g_s, g_v, g_i, g_a = grads
        m_s, m_v, m_i, m_a = modes
        n_seg = (T + STEPS - 1) // STEPS
        for k in range(k_lo, k_hi):
            lo = k * chunk
            m = min(chunk, N - lo)
            lp = _local_params(prm, lo, 1 if uniform else m)
            k0 = ns.load_coefficients(lp, 0)
            # per segment: hb[u] = h_{t0+u}, ab[u] = a_{t0+u-1}, ib[u] = i_{t0+u-1}
            hb = np.empty((STEPS, m), x.dtype)
            ab = np.empty((STEPS + 1, m) if has_adapt else (1, 1), x.dtype)
            ib = np.empty((STEPS + 1, m) if keep_i else (1, 1), x.dtype)
            li, lv, la, ls = _start_chunk(lp, state0, lo, m, st, one, zero, uniform)
            vs = np.empty(m, x.dtype)  # the membrane at the segment's start (v_{t0-1})
            dv_c = grads_last[1][lo:lo + m].copy()
            di_c = grads_last[0][lo:lo + m].copy()
            da_c = grads_last[2][lo:lo + m].copy()
            dh_n = np.zeros(m, x.dtype)
            gp = np.zeros((lif_math.N_PARAMS, m), x.dtype)
            # rows standing for an absent gradient (zeros) or one broadcast value
            crow_s = _const_row(g_s, m_s, m, zero)
            crow_v = _const_row(g_v, m_v, m, zero)
            crow_i = _const_row(g_i, m_i, m, zero)
            crow_a = _const_row(g_a, m_a, m, zero)
            lsg = np.zeros(m, x.dtype)  # the surrogate derivative of this step (0: non-spiking)
            lz = np.empty(m, x.dtype)
            for seg in range(n_seg - 1, -1, -1):
                t0 = seg * STEPS
                L = min(STEPS, T - t0)
                # 1) recompute the segment from its checkpoint (the initial state for the first)
                if seg == 0:
                    _copy_row(state0[0][lo:lo + m], li)
                    _copy_row(state0[1][lo:lo + m], lv)
                    _copy_row(state0[2][lo:lo + m], la)
                else:
                    _load_state(ckpt, seg - 1, lo, m, li, lv, la, has_syn, has_adapt)
                for j in range(m):
                    ls[j] = ns.pending_reset(lv[j], _coefficients(lp, k0, j, uniform), st, one, zero)
                _copy_row(lv, vs)
                if has_adapt:
                    _copy_row(la, ab[0])
                if keep_i:
                    _copy_row(li, ib[0])
                for u in range(L):
                    _advance_row(x[t0 + u, lo:lo + m], li, lv, la, ls, lp, m, st, one, zero, hb[u], True,
                                 ls, uniform)
                    if has_adapt:
                        _copy_row(la, ab[u + 1])
                    if keep_i:
                        _copy_row(li, ib[u + 1])
                # 2) reverse sweep over the segment
                for u in range(L - 1, -1, -1):
                    t = t0 + u
                    hr = hb[u]
                    dxr = dx[t, lo:lo + m]
                    gsr = g_s[t, lo:lo + m] if m_s == GRAD_FULL else crow_s
                    gvr = g_v[t, lo:lo + m] if m_v == GRAD_FULL else crow_v
                    gir = g_i[t, lo:lo + m] if m_i == GRAD_FULL else crow_i
                    gar = g_a[t, lo:lo + m] if m_a == GRAD_FULL else crow_a
                    if spiking:  # the surrogate derivative at h_t - theta_t, a row at a time
                        for j in range(m):
                            a_prev = ab[u, j] if has_adapt else zero
                            kz = _coefficients(lp, k0, j, uniform)
                            lz[j] = hr[j] - ns.threshold(kz.th, kz.ba, a_prev, has_adapt)
                        ns.surrogate_grad_row(sg_kind, sg_a, sg_b, lz, lsg, m, one, zero)
                    for j in range(m):
                        kc = _coefficients(lp, k0, j, uniform)
                        a_prev = ab[u, j] if has_adapt else zero
                        theta = ns.threshold(kc.th, kc.ba, a_prev, has_adapt)
                        ls[j] = ns.fires(hr[j], theta, ge, one, zero) if spiking else zero
                        carry = LIFCarry(dv_c[j], di_c[j] if has_syn else zero,
                                         da_c[j] if has_adapt else zero, dh_n[j])
                        dxv, carry, g = ns.lif_backward_step(gsr[j], gvr[j], gir[j], gar[j], hr[j], theta,
                                                             ls[j], lsg[j], carry, kc, st, keep, one, zero)
                        dv_c[j] = carry.dv
                        dh_n[j] = carry.dh
                        dxr[j] = dxv
                        if has_syn:
                            di_c[j] = carry.di
                        if has_adapt:
                            da_c[j] = carry.da
                        if need_pgrad:
                            n = lo + j
                            # the previous step's membrane, spike and current
                            if u > 0:
                                v_p, s_p = ns.previous_membrane(hb[u - 1, j], kc,
                                                                ab[u - 1, j] if has_adapt else zero,
                                                                st, one, zero)
                            else:
                                v_p = vs[j]
                                s_p = ns.pending_reset(v_p, kc, st, one, zero)
                            i_p = ib[u, j] if keep_i else zero
                            i_t = ib[u + 1, j] if keep_i else x[t, n]
                            ns.accumulate_column(gp, j, ns.lif_param_grads(g, ls[j], x[t, n], i_t, i_p,
                                                                           v_p, s_p, a_prev, st, zero))
            for j in range(m):
                n = lo + j
                dv0 = dv_c[j]
                if delayed:  # the reset pending at t=0 was read from v0 through the surrogate
                    th_j = _coefficients(lp, k0, j, uniform).th
                    d0 = ns.initial_reset_grad(v0[n], th_j, dh_n[j], keep, sg_kind, sg_a, sg_b, st, one, zero)
                    dv0 += d0
                    gp[lif_math.P_TH, j] -= d0
                d_state0[0][n] = di_c[j]
                d_state0[1][n] = dv0
                d_state0[2][n] = da_c[j]
                if need_pgrad:
                    for r in range(lif_math.N_PARAMS):
                        d_prm[r, n] = gp[r, j]

    return lif_scan_backward
