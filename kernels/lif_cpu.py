"""LIF-family scans on the CPU: GIL-free Numba kernels over chunks of neurons, serial over time.

Arrays are time-major ``[T, N]`` and C-contiguous. A task owns ``chunk`` consecutive neurons and
walks through time, so each step reads and writes one contiguous row slice per array and the inner
loop over the chunk vectorises (SIMD across neurons); :func:`scan_forward` / :func:`scan_backward`
split the chunks over ``numba.get_num_threads()`` threads (``kernels._parallel``).

Kernels are built per model structure (``has_syn``, ``has_adapt``, ``spiking`` are closure
constants, so dead arithmetic disappears); the reset mode, the comparison, the surrogate, which
sequences are recorded and which gradients are present are runtime arguments, which keeps the number
of compiled variants (and CI compile time) small. Absent arrays are passed as 1x1 placeholders.

Shared arguments: ``x [T, N]``; ``prm [9, P]`` coefficients (neuron ``n`` uses column ``n % P``, rows
``lif_math.P_*``); ``consts = [0, 1, keep_reset, sg_a, sg_b]`` in the compute dtype; initial states
``i0, v0, a0 [N]``; ``reset`` (``lif_math.RESET_*``); ``ge`` (fire on equality).
"""

from functools import lru_cache

import numpy as np
from numba import njit

from . import lif_math, surrogate_math
from ._jit import retarget
from ._parallel import run_ranges

_inline = njit(inline="always", cache=True)
reset_factors = _inline(lif_math.reset_factors)
fires = _inline(lif_math.fires)
after_reset = retarget(lif_math.after_reset, _inline, reset_factors=reset_factors)
threshold = _inline(lif_math.threshold)
surrogate_grad = _inline(surrogate_math.surrogate_grad)
forward_step = retarget(lif_math.lif_forward_step, _inline, fires=fires, after_reset=after_reset,
                        threshold=threshold, reset_factors=reset_factors)
backward_step = retarget(lif_math.lif_backward_step, _inline, reset_factors=reset_factors)
param_grads = _inline(lif_math.lif_param_grads)
surrogate_grad_row = retarget(surrogate_math.surrogate_grad_row, njit(cache=True, error_model="numpy"),
                              surrogate_grad=surrogate_grad)


@njit(inline="always", cache=True)
def _copy_row(src, dst):
    """``dst[:] = src`` as a plain loop (vectorises; Numba's slice assignment does not as well)."""
    for j in range(src.shape[0]):
        dst[j] = src[j]


def chunk_for(T: int) -> int:
    """Neurons per task: the backward's ``[T, chunk]`` recompute buffers stay in L2."""
    return int(max(16, min(512, (65536 // max(T, 1)) // 16 * 16)))


@njit(cache=True)
def _local_params(prm, lo, m):
    """Copy the coefficient columns of neurons ``lo .. lo+m-1`` into a ``[9, m]`` array."""
    out = np.empty((lif_math.N_PARAMS, m), prm.dtype)
    P = prm.shape[1]
    for j in range(m):
        for q in range(lif_math.N_PARAMS):
            out[q, j] = prm[q, (lo + j) % P]
    return out


@lru_cache(maxsize=None)
def forward_kernel(has_syn: bool, has_adapt: bool, spiking: bool):
    """The forward scan for one model structure.

    Signature: ``(x, prm, consts, i0, v0, a0, reset, ge, chunk, s_out, v_out, i_out, a_out, i_last,
    v_last, a_last, store_v, store_i, store_a, finite, k_lo, k_hi)`` over chunks ``k_lo..k_hi-1``.
    Writes spikes ``s_out`` (if ``spiking``), the recorded sequences selected by ``store_*`` and the
    final state. Nothing is stored for backward (it recomputes the forward per chunk).
    ``finite[k]`` receives ``sum(x * 0)`` over chunk ``k``: NaN iff its input holds NaN/inf (one
    multiply-add per element instead of a separate pass over ``x``).
    """

    @njit(nogil=True, cache=True)
    def lif_scan_forward(x, prm, consts, i0, v0, a0, reset, ge, chunk, s_out, v_out, i_out, a_out,
                         i_last, v_last, a_last, store_v, store_i, store_a, finite, k_lo, k_hi):
        T, N = x.shape
        zero, one = consts[0], consts[1]
        delayed = reset == lif_math.RESET_SUBTRACT_DELAYED
        for k in range(k_lo, k_hi):
            lo = k * chunk
            m = min(chunk, N - lo)
            lp = _local_params(prm, lo, m)
            li = i0[lo:lo + m].copy()
            lv = v0[lo:lo + m].copy()
            la = a0[lo:lo + m].copy()
            ls = np.zeros(m, x.dtype)  # this step's spikes (the pending reset when delayed)
            if delayed:  # snnTorch: the pending reset is read from the stored membrane
                for j in range(m):
                    ls[j] = fires(lv[j], lp[lif_math.P_TH, j], ge, one, zero)
            lacc = np.zeros(m, x.dtype)  # per-lane sums of x * 0 (a scalar sum would not vectorise)
            sr = ls
            for t in range(T):
                xr = x[t, lo:lo + m]
                if spiking:  # written element by element: Numba's slice assignment is slower
                    sr = s_out[t, lo:lo + m]
                for j in range(m):
                    lacc[j] += xr[j] * zero
                    i_n, h, v_n, a_n, s = forward_step(
                        xr[j], li[j], lv[j], la[j], ls[j], lp[0, j], lp[1, j], lp[2, j], lp[3, j],
                        lp[4, j], lp[5, j], lp[6, j], lp[7, j], lp[8, j],
                        reset, ge, has_syn, has_adapt, spiking, one, zero)
                    lv[j] = v_n
                    ls[j] = s
                    sr[j] = s
                    if has_syn:
                        li[j] = i_n
                    if has_adapt:
                        la[j] = a_n
                if store_v:
                    _copy_row(lv, v_out[t, lo:lo + m])
                if store_i:
                    _copy_row(li, i_out[t, lo:lo + m])
                if store_a:
                    _copy_row(la, a_out[t, lo:lo + m])
            i_last[lo:lo + m] = li
            v_last[lo:lo + m] = lv
            a_last[lo:lo + m] = la
            finite[k] = lacc.sum()

    return lif_scan_forward


@lru_cache(maxsize=None)
def backward_kernel(has_syn: bool, has_adapt: bool, spiking: bool, need_pgrad: bool):
    """The reverse-time scan (exact BPTT through the surrogate) for one model structure.

    Signature: ``(x, prm, consts, i0, v0, a0, reset, ge, sg_kind, chunk, g_s, g_v, g_i, g_a, has_gs,
    has_gv, has_gi, has_ga, g_i_last, g_v_last, g_a_last, dx, d_i0, d_v0, d_a0, d_prm, k_lo, k_hi)``.
    Each chunk first recomputes its forward into ``[T, chunk]`` buffers (cache-resident, so backward
    needs no stored membrane), then walks back in time. With ``need_pgrad`` the per-neuron partial
    sums ``d_prm[q, n]`` (over time, not batch) are written.
    """
    keep_i = has_syn and need_pgrad

    @njit(nogil=True, cache=True)
    def lif_scan_backward(x, prm, consts, i0, v0, a0, reset, ge, sg_kind, chunk,
                          g_s, g_v, g_i, g_a, has_gs, has_gv, has_gi, has_ga,
                          g_i_last, g_v_last, g_a_last, dx, d_i0, d_v0, d_a0, d_prm, k_lo, k_hi):
        T, N = x.shape
        zero, one, keep, sg_a, sg_b = consts[0], consts[1], consts[2], consts[3], consts[4]
        delayed = reset == lif_math.RESET_SUBTRACT_DELAYED
        for k in range(k_lo, k_hi):
            lo = k * chunk
            m = min(chunk, N - lo)
            lp = _local_params(prm, lo, m)
            # 1) recompute: hb[t] = h_t, ab[t] = a_{t-1}, ib[t] = i_{t-1}
            hb = np.empty((T, m), x.dtype)
            ab = np.empty((T + 1, m) if has_adapt else (1, 1), x.dtype)
            ib = np.empty((T + 1, m) if keep_i else (1, 1), x.dtype)
            li = i0[lo:lo + m].copy()
            lv = v0[lo:lo + m].copy()
            la = a0[lo:lo + m].copy()
            ls = np.zeros(m, x.dtype)
            if has_adapt:
                ab[0] = la
            if keep_i:
                ib[0] = li
            if delayed:
                for j in range(m):
                    ls[j] = fires(lv[j], lp[lif_math.P_TH, j], ge, one, zero)
            for t in range(T):
                xr = x[t, lo:lo + m]
                hr = hb[t]
                for j in range(m):
                    i_n, h, v_n, a_n, s = forward_step(
                        xr[j], li[j], lv[j], la[j], ls[j], lp[0, j], lp[1, j], lp[2, j], lp[3, j],
                        lp[4, j], lp[5, j], lp[6, j], lp[7, j], lp[8, j],
                        reset, ge, has_syn, has_adapt, spiking, one, zero)
                    lv[j] = v_n
                    hr[j] = h
                    ls[j] = s
                    if has_syn:
                        li[j] = i_n
                    if has_adapt:
                        la[j] = a_n
                if has_adapt:
                    _copy_row(la, ab[t + 1])
                if keep_i:
                    _copy_row(li, ib[t + 1])
            # 2) reverse sweep
            dv_c = g_v_last[lo:lo + m].copy()
            di_c = g_i_last[lo:lo + m].copy()
            da_c = g_a_last[lo:lo + m].copy()
            dh_n = np.zeros(m, x.dtype)
            gp = np.zeros((lif_math.N_PARAMS, m), x.dtype)
            zrow = np.zeros(m, x.dtype)
            lsg = np.zeros(m, x.dtype)  # the surrogate derivative of this step (0: non-spiking)
            lz = np.empty(m, x.dtype)
            for t in range(T - 1, -1, -1):
                hr = hb[t]
                dxr = dx[t, lo:lo + m]
                gsr = g_s[t, lo:lo + m] if has_gs else zrow
                gvr = g_v[t, lo:lo + m] if has_gv else zrow
                gir = g_i[t, lo:lo + m] if has_gi else zrow
                gar = g_a[t, lo:lo + m] if has_ga else zrow
                if spiking:  # the surrogate derivative at h_t - theta_t, a row at a time
                    for j in range(m):
                        a_prev = ab[t, j] if has_adapt else zero
                        lz[j] = hr[j] - threshold(lp[lif_math.P_TH, j], lp[lif_math.P_BA, j],
                                                  a_prev, has_adapt)
                    surrogate_grad_row(sg_kind, sg_a, sg_b, lz, lsg, m, one, zero)
                for j in range(m):
                    th, vr, ba = lp[lif_math.P_TH, j], lp[lif_math.P_VR, j], lp[lif_math.P_BA, j]
                    a_prev = ab[t, j] if has_adapt else zero
                    theta = threshold(th, ba, a_prev, has_adapt)
                    ls[j] = fires(hr[j], theta, ge, one, zero) if spiking else zero
                    dxv, dv_p, di_p, da_p, dh, di, dtheta, dv, da = backward_step(
                        gsr[j], gvr[j], gir[j], gar[j], hr[j], theta, ls[j], lsg[j], dv_c[j],
                        di_c[j] if has_syn else zero, da_c[j] if has_adapt else zero, dh_n[j],
                        lp[0, j], lp[1, j], lp[2, j], lp[3, j], th, vr, lp[7, j], ba, keep,
                        reset, has_syn, has_adapt, one, zero)
                    dv_c[j] = dv_p
                    dh_n[j] = dh
                    dxr[j] = dxv
                    if has_syn:
                        di_c[j] = di_p
                    if has_adapt:
                        da_c[j] = da_p
                    if need_pgrad:
                        n = lo + j
                        # the previous step's membrane, spike and current
                        if t > 0:
                            th_p = threshold(th, ba, ab[t - 1, j] if has_adapt else zero, has_adapt)
                            h_p = hb[t - 1, j]
                            s_p = fires(h_p, th_p, ge, one, zero) if spiking else zero
                            v_p = after_reset(h_p, th_p, s_p, vr, reset, one)
                        else:
                            v_p = v0[n]
                            s_p = fires(v_p, th, ge, one, zero) if delayed else zero
                        i_p = ib[t, j] if keep_i else (x[t - 1, n] if t > 0 else i0[n])
                        i_t = ib[t + 1, j] if keep_i else x[t, n]
                        q = param_grads(dh, di, dtheta, dv, da, ls[j], x[t, n], i_t, i_p, v_p, s_p,
                                        a_prev, reset, has_syn, has_adapt, zero)
                        for r in range(lif_math.N_PARAMS):
                            gp[r, j] += q[r]
            for j in range(m):
                n = lo + j
                dv0 = dv_c[j]
                if delayed:  # the reset pending at t=0 was read from v0 through the surrogate
                    th = lp[lif_math.P_TH, j]
                    ds = -(keep * th * dh_n[j])
                    sg = surrogate_grad(sg_kind, sg_a, sg_b, v0[n] - th, one, zero) if spiking else zero
                    dv0 += ds * sg
                    gp[lif_math.P_TH, j] -= ds * sg
                d_v0[n] = dv0
                d_i0[n] = di_c[j]
                d_a0[n] = da_c[j]
                if need_pgrad:
                    for r in range(lif_math.N_PARAMS):
                        d_prm[r, n] = gp[r, j]

    return lif_scan_backward


def _chunks(x: np.ndarray) -> tuple[int, int]:
    T, N = x.shape
    chunk = chunk_for(T)
    return chunk, (N + chunk - 1) // chunk


def scan_forward(structure: tuple, x, prm, consts, i0, v0, a0, reset: int, ge: bool, s_out, v_out,
                 i_out, a_out, i_last, v_last, a_last) -> bool:
    """Run :func:`forward_kernel` over all chunks on several threads; ``None`` marks an absent
    output. Returns False when ``x`` holds NaN or inf."""
    chunk, n_chunks = _chunks(x)
    placeholder = np.zeros((1, 1), x.dtype)
    finite = np.empty(n_chunks, x.dtype)
    outs = [placeholder if o is None else o for o in (s_out, v_out, i_out, a_out)]
    run_ranges(forward_kernel(*structure), n_chunks, x, prm, consts, i0, v0, a0, reset, ge, chunk,
               *outs, i_last, v_last, a_last, v_out is not None, i_out is not None,
               a_out is not None, finite)
    return bool(np.isfinite(finite).all())


def scan_backward(structure: tuple, need_pgrad: bool, x, prm, consts, i0, v0, a0, reset: int,
                  ge: bool, sg_kind: int, grads, grads_last, dx, d_i0, d_v0, d_a0, d_prm) -> None:
    """Run :func:`backward_kernel` over all chunks on several threads; ``grads`` are the
    gradients of ``(spikes, v_seq, i_seq, a_seq)``, ``None`` where absent."""
    chunk, n_chunks = _chunks(x)
    placeholder = np.zeros((1, 1), x.dtype)
    present = [g is not None for g in grads]
    grads = [placeholder if g is None else g for g in grads]
    run_ranges(backward_kernel(*structure, need_pgrad), n_chunks, x, prm, consts, i0, v0, a0, reset,
               ge, sg_kind, chunk, *grads, *present, *grads_last, dx, d_i0, d_v0, d_a0,
               placeholder if d_prm is None else d_prm)
