"""ELM kernels on the CPU: parallel over the batch, serial over time.

Three recurrences (equations in :mod:`neuro.kernels.elm_math`), each with a reverse-time backward:

* ``trace_*``  — synapse (v1) or branch (v2) traces with the routing gather and the branch sum,
  ``x [T, B, D] -> b [T, B, n_branch]``; the linear recurrence runs for all steps in one call.
* ``events_*`` — the same traces already multiplied by the first MLP layer, driven event by event:
  when every trace shares one decay ``kappa``, ``W_1b b_t`` obeys ``V_t = kappa V_{t-1} + W_eff x_t``
  with ``W_eff = W_1b . branch_sum . diag(w_s) . route`` (``[H, D]``), so only the non-zero inputs
  (spikes) cost work: ``O(nnz * H)`` instead of a dense ``[T B, D] x [D, H]`` product.
* ``memory_*`` — the memory / MLP recurrence given ``U_t = W_1b b_t + b_1``: a tile of up to 4
  batch elements keeps its memory and activations in small scratch arrays and runs the small
  matrix products of the recurrent MLP part every step (``[tile, M] x [M, H]`` etc.: BLAS for
  mid-sized ones, else axpy loops over contiguous weight rows that vectorise).

The backward of ``memory_*`` stores nothing extra: the forward keeps the hidden pre-activations
``z [L, T, B, H]`` and memory increments ``d [T, B, M]`` (what the weight gradients need anyway),
because recomputing them would repeat the expensive sequential matrix-vector products. It returns
the per-step gradients of every layer's output, so the weight gradients are a few large matrix
products done by torch.

Every kernel is an ``@njit(nogil=True)`` function over a range of batch elements ``[lo, lo + n)``;
:func:`run_batch_parallel` runs the ranges on ``numba.get_num_threads()`` threads. (Numba's
``parallel=True`` would cost 5-10 s of extra compilation per kernel and dtype.)
``fastmath={"contract"}`` only allows fused multiply-adds (NaN and inf keep their IEEE meaning).
"""

import numpy as np
from numba import njit

from . import elm_math
from ._parallel import run_ranges
from .elm_math import C_AMP, C_ONE, C_SLOPE, C_ZERO

_FAST = {"contract"}
_kernel = njit(nogil=True, cache=True, fastmath=_FAST)
ns = elm_math.compile_for("cpu")


def run_batch_parallel(kernel, batch: int, tile: int, *args) -> None:
    """Call ``kernel(*args, lo, n)`` for the batch tiles ``[lo, lo + n)`` of ``tile`` elements
    (``lo`` a multiple of ``tile``), runs of consecutive tiles claimed by up to ``numba.get_num_threads()``
    threads (``_parallel.run_ranges``; the kernels release the GIL)."""

    def tiles(*a) -> None:
        *kernel_args, first, stop = a
        for k in range(first, stop):
            lo = k * tile
            kernel(*kernel_args, lo, min(tile, batch - lo))

    run_ranges(tiles, -(-batch // tile), *args)


def batch_tile(batch: int, threads: int) -> int:
    """Batch elements per task of the memory kernels: up to 4 share every weight-row load."""
    return int(max(1, min(4, batch // max(threads, 1))))


def even_tile(batch: int, threads: int) -> int:
    """Batch elements per task when each thread should get one contiguous range."""
    return max(1, -(-batch // max(threads, 1)))


# ------------------------------------------------------------------------------------------------
# Synapse / branch traces (dense path)


@_kernel
def trace_forward(x, route, w, kappa, state, per_synapse, routed, out_b, finite, lo, n):
    """Traces and branch sums for every step, batch elements ``lo .. lo + n - 1``.

    ``x [T, B, D]``; ``route [S]`` input index of each synapse (read only when ``routed``);
    ``w [S]`` synaptic weights (mask included); ``kappa [K]`` decays, ``K = S`` with
    ``per_synapse`` (v1) else ``n_branch`` (v2); ``state [B, K]`` holds the initial traces and is
    overwritten with the final ones; ``out_b [T, B, n_branch]``; ``finite [B]`` receives
    ``sum(x * 0)`` over the inputs read (NaN iff one of them is NaN/inf).
    """
    T = x.shape[0]
    nb = out_b.shape[2]
    d = w.shape[0] // nb
    zero = kappa[0] - kappa[0]  # typed zero (an int literal would promote float32 to float64)
    for b in range(lo, lo + n):
        st = state[b]
        acc = zero
        for t in range(T):
            xr = x[t, b]
            br = out_b[t, b]
            for j in range(nb):
                tot = zero
                for r in range(d):
                    k = j * d + r
                    xv = xr[route[k]] if routed else xr[k]
                    acc += xv * zero
                    drive = w[k] * xv
                    if per_synapse:
                        st[k] = ns.trace_update(st[k], kappa[k], drive)
                        tot += st[k]
                    else:
                        tot += drive
                if per_synapse:
                    br[j] = tot
                else:
                    st[j] = ns.trace_update(st[j], kappa[j], tot)
                    br[j] = st[j]
        finite[b] = acc


@_kernel
def trace_backward(x, route, w, kappa, g_b, g_state, per_synapse, routed, need_dx, dw_b, d_state, dx,
                   lo, n):
    """Reverse-time sweep of :func:`trace_forward`.

    ``g_b [T, B, n_branch]`` and ``g_state [B, K]`` are the gradients of the branch sums and of the
    final traces. Writes ``dw_b [B, S]`` (per batch element, summed by the caller), ``d_state
    [B, K]`` (initial traces) and, with ``need_dx``, accumulates into the zeroed ``dx [T, B, D]``.
    """
    T = x.shape[0]
    nb = g_b.shape[2]
    S = w.shape[0]
    d = S // nb
    for b in range(lo, lo + n):
        c = g_state[b].copy()  # dL/d(trace) flowing back from later steps
        dw = np.zeros(S, w.dtype)
        for t in range(T - 1, -1, -1):
            xr = x[t, b]
            gr = g_b[t, b]
            for j in range(nb):
                if not per_synapse:
                    c[j] += gr[j]
                for r in range(d):
                    k = j * d + r
                    i = route[k] if routed else k
                    ck = c[k] + gr[j] if per_synapse else c[j]
                    dw[k] += ck * xr[i]
                    if need_dx:
                        dx[t, b, i] += ck * w[k]
                    if per_synapse:
                        c[k] = kappa[k] * ck
                if not per_synapse:
                    c[j] = kappa[j] * c[j]
        d_state[b] = c
        dw_b[b] = dw


# ------------------------------------------------------------------------------------------------
# Event-driven projected traces (uniform decay)


@_kernel
def events_forward(x, w_eff_t, bias, kappa_pow, v0, out_u, x_decayed, finite, lo, n):
    """``U_t = V_t + bias`` with ``V_t = kappa V_{t-1} + sum_{i: x_ti != 0} x_ti W_eff[:, i]``.

    ``w_eff_t [D, H]`` (``W_eff`` transposed: one contiguous row per input channel);
    ``kappa_pow [T + 1]`` holds ``kappa ** n``; ``v0 [B, H]`` the projected initial traces;
    ``out_u [T, B, H]``; ``x_decayed [B, D]`` receives ``sum_t kappa^(T-1-t) x_t`` (the final traces
    before routing and weighting), computed lazily per channel from the time of its last event.
    """
    T, _, D = x.shape
    H = w_eff_t.shape[1]
    kappa = kappa_pow[1]
    zero = kappa - kappa
    for b in range(lo, lo + n):
        v = v0[b].copy()
        last = np.full(D, -1, np.int64)
        acc_x = np.zeros(D, x.dtype)
        acc = zero
        for t in range(T):
            for h in range(H):
                v[h] *= kappa
            xr = x[t, b]
            for i in range(D):
                xv = xr[i]
                if xv != zero:  # NaN is != 0, so it reaches v and the finiteness sum
                    acc += xv * zero
                    wr = w_eff_t[i]
                    for h in range(H):
                        v[h] += xv * wr[h]
                    if last[i] >= 0:
                        acc_x[i] = acc_x[i] * kappa_pow[t - last[i]] + xv
                    else:
                        acc_x[i] = xv
                    last[i] = t
            ur = out_u[t, b]
            for h in range(H):
                ur[h] = v[h] + bias[h]
        for i in range(D):
            x_decayed[b, i] = acc_x[i] * kappa_pow[T - 1 - last[i]] if last[i] >= 0 else zero
        finite[b] = acc


@_kernel
def events_backward(x, g_u, kappa, tile, store_dp, dw_parts, dv0, dp, lo, n):
    """Reverse sweep of :func:`events_forward` (the ``x_decayed`` gradient is handled by the caller).

    ``g_u [T, B, H]``. Accumulates into ``dw_parts[lo // tile]`` (a zeroed ``[D + 1, H]`` partial
    ``dW_eff^T`` per task with the bias gradient in row ``D``, summed by the caller), writes
    ``dv0 [B, H]`` and, with ``store_dp``, the drive gradients ``dp [T, B, H]`` that give
    ``dx = dp @ W_eff``.
    """
    T, _, D = x.shape
    H = g_u.shape[2]
    zero = kappa - kappa
    acc = dw_parts[lo // tile]
    for b in range(lo, lo + n):
        c = np.zeros(H, g_u.dtype)  # dL/dV_t
        db = acc[D]
        for t in range(T - 1, -1, -1):
            gr = g_u[t, b]
            for h in range(H):
                c[h] = gr[h] + kappa * c[h]
                db[h] += gr[h]
            if store_dp:
                dp[t, b] = c
            xr = x[t, b]
            for i in range(D):
                xv = xr[i]
                if xv != zero:
                    ar = acc[i]
                    for h in range(H):
                        ar[h] += xv * c[h]
        for h in range(H):
            dv0[b, h] = kappa * c[h]


# ------------------------------------------------------------------------------------------------
# Memory / MLP recurrence


# np.dot calls the BLAS numpy/scipy ship; OpenBLAS computes a product with m*n*k <= 4 * 65536
# on the calling thread (no nested thread pool). Below BLAS_MIN_WORK the call overhead dominates.
BLAS_MIN_WORK = 4096
BLAS_MAX_WORK = 262144


@njit(cache=True, fastmath=_FAST)
def matmul_acc(z, coef, w):
    """``z += coef @ w`` for a tile: BLAS for mid-sized products, :func:`tile_axpy` otherwise."""
    work = coef.shape[0] * w.shape[0] * w.shape[1]
    if BLAS_MIN_WORK <= work <= BLAS_MAX_WORK:
        z += np.dot(coef, w)
    else:
        tile_axpy(z, w, coef)


@njit(cache=True, fastmath=_FAST)
def tile_axpy(z, w, coef):
    """``z[r] += sum_k coef[r, k] * w[k]`` for every row ``r`` of the tile.

    Four weight rows per pass: each pass loads them once for all tile rows and updates ``z[r]``
    with one load/store per four multiply-adds (the weight matrix streams from L2 once per tile).
    """
    n = z.shape[0]
    K = w.shape[0]
    W = w.shape[1]
    k = 0
    while k + 4 <= K:
        w0, w1, w2, w3 = w[k], w[k + 1], w[k + 2], w[k + 3]
        for r in range(n):
            c0, c1, c2, c3 = coef[r, k], coef[r, k + 1], coef[r, k + 2], coef[r, k + 3]
            zr = z[r]
            for j in range(W):
                zr[j] += c0 * w0[j] + c1 * w1[j] + c2 * w2[j] + c3 * w3[j]
        k += 4
    while k < K:
        w0 = w[k]
        for r in range(n):
            c0 = coef[r, k]
            zr = z[r]
            for j in range(W):
                zr[j] += c0 * w0[j]
        k += 1


@_kernel
def memory_forward(u, w_in_t, w_hid_t, b_hid, w_out_t, b_out, kappa, gain, m0, consts, act, store,
                   m_seq, z_seq, d_seq, lo, n):
    """Memory recurrence over ``u [T, B, H]`` (input part of the first layer, bias included) for the
    batch tile ``lo .. lo + n - 1``.

    Weights are passed transposed (rows contiguous along the output): ``w_in_t [M, H]`` (first
    layer, memory columns), ``w_hid_t [L-1, H, H]`` / ``b_hid [L-1, H]`` (further hidden layers),
    ``w_out_t [H, M]`` / ``b_out [M]``. ``kappa, gain [M]``; ``m0 [B, M]``; ``act`` an
    ``elm_math.ACT_*`` code. Writes ``m_seq [T, B, M]`` and, with ``store``, the hidden
    pre-activations ``z_seq [L, T, B, H]`` and increments ``d_seq [T, B, M]``.
    """
    T, _, H = u.shape
    M = kappa.shape[0]
    n_hid = w_hid_t.shape[0]
    zero, one = consts[C_ZERO], consts[C_ONE]
    m = m0[lo:lo + n].copy()
    mp = np.empty((n, M), u.dtype)
    z = np.empty((n, H), u.dtype)
    a = np.empty((n, H), u.dtype)
    zo = np.empty((n, M), u.dtype)
    for t in range(T):
        for r in range(n):
            for i in range(M):
                mp[r, i] = kappa[i] * m[r, i]
            z[r] = u[t, lo + r]
        matmul_acc(z, mp, w_in_t)
        for r in range(n):
            if store:
                z_seq[0, t, lo + r] = z[r]
            for j in range(H):
                a[r, j] = ns.activation(z[r, j], act, one, zero)
        for layer in range(n_hid):
            for r in range(n):
                z[r] = b_hid[layer]
            matmul_acc(z, a, w_hid_t[layer])
            for r in range(n):
                if store:
                    z_seq[layer + 1, t, lo + r] = z[r]
                for j in range(H):
                    a[r, j] = ns.activation(z[r, j], act, one, zero)
        for r in range(n):
            zo[r] = b_out
        matmul_acc(zo, a, w_out_t)
        for r in range(n):
            mr = m_seq[t, lo + r]
            for i in range(M):
                delta = ns.scaled_tanh(zo[r, i], consts)
                m[r, i] = ns.memory_update(mp[r, i], gain[i], delta)
                mr[i] = m[r, i]
                if store:
                    d_seq[t, lo + r, i] = delta


@_kernel
def memory_backward(g_m, m_seq, z_seq, d_seq, m0, w_in, w_hid, w_out, kappa, gain, consts, act,
                    du, dz_hid, dz_out, d_kappa_b, d_gain_b, dm0, lo, n):
    """Reverse-time sweep of :func:`memory_forward` (exact BPTT) for the batch tile ``lo .. lo + n - 1``.

    ``g_m [T, B, M]`` is the gradient of ``m_seq``. Weights in their natural layout: ``w_in [H, M]``,
    ``w_hid [L-1, H, H]``, ``w_out [M, H]``. Writes the gradients of each layer's pre-activation
    per step — ``du [T, B, H]`` (first layer, equal to ``dL/du``), ``dz_hid [L-1, T, B, H]``,
    ``dz_out [T, B, M]`` — and per batch element ``d_kappa_b, d_gain_b, dm0 [B, M]``.
    """
    T, _, M = m_seq.shape
    H = w_in.shape[0]
    n_hid = w_hid.shape[0]
    zero, one = consts[C_ZERO], consts[C_ONE]
    amp, slope = consts[C_AMP], consts[C_SLOPE]
    carry = np.zeros((n, M), m_seq.dtype)  # dL/dm_t through kappa m_t in the next step
    dk = np.zeros((n, M), m_seq.dtype)
    dg = np.zeros((n, M), m_seq.dtype)
    dmp = np.empty((n, M), m_seq.dtype)
    dzo = np.empty((n, M), m_seq.dtype)
    da = np.empty((n, H), m_seq.dtype)
    dz = np.empty((n, H), m_seq.dtype)
    for t in range(T - 1, -1, -1):
        for r in range(n):
            b = lo + r
            for i in range(M):
                dm = g_m[t, b, i] + carry[r, i]
                dv = d_seq[t, b, i]
                dg[r, i] += dm * dv
                dzo[r, i] = gain[i] * dm * ns.scaled_tanh_grad(dv, amp, slope)
                dmp[r, i] = dm  # m_t = mp_t + c dm_t: the direct path
            dz_out[t, b] = dzo[r]
        da[:] = zero
        matmul_acc(da, dzo, w_out)
        for layer in range(n_hid - 1, -1, -1):
            for r in range(n):
                zr = z_seq[layer + 1, t, lo + r]
                for j in range(H):
                    dz[r, j] = da[r, j] * ns.activation_grad(zr[j], act, one, zero)
                dz_hid[layer, t, lo + r] = dz[r]
            da[:] = zero
            matmul_acc(da, dz, w_hid[layer])
        for r in range(n):
            zr = z_seq[0, t, lo + r]
            for j in range(H):
                dz[r, j] = da[r, j] * ns.activation_grad(zr[j], act, one, zero)
            du[t, lo + r] = dz[r]
        matmul_acc(dmp, dz, w_in)
        for r in range(n):
            b = lo + r
            for i in range(M):
                m_prev = m_seq[t - 1, b, i] if t > 0 else m0[b, i]
                dk[r, i] += dmp[r, i] * m_prev
                carry[r, i] = kappa[i] * dmp[r, i]
    for r in range(n):
        dm0[lo + r] = carry[r]
        d_kappa_b[lo + r] = dk[r]
        d_gain_b[lo + r] = dg[r]
