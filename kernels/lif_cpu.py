"""LIF-family scans on the CPU: ``@njit(parallel=True)`` over chunks of neurons, serial over time.

Arrays are time-major ``[T, N]`` and C-contiguous. Each parallel task owns ``chunk`` consecutive
neurons and walks through time, so each step reads and writes one contiguous row slice per array
and the inner loop over the chunk vectorises (SIMD across neurons). The structural flags of the
model are closure constants of a kernel built per combination, so dead arithmetic and unused
state arrays disappear at compile time; outputs passed as ``None`` are not stored.

Arguments shared by both scans: ``x [T, N]``; ``prm [9, P]`` coefficients (neuron ``n`` uses column
``n % P``, rows in ``lif_math.P_*``); ``consts = [0, 1, keep_reset, sg_a, sg_b]`` in the compute
dtype; initial states ``i0, v0, a0 [N]``; ``ge`` (fire on equality).
"""

from functools import lru_cache

import numpy as np
from numba import njit, prange

from . import lif_math, surrogate_math
from ._jit import retarget

_inline = njit(inline="always", cache=True)
fires = _inline(lif_math.fires)
after_reset = _inline(lif_math.after_reset)
threshold = _inline(lif_math.threshold)
surrogate_grad = _inline(surrogate_math.surrogate_grad)
forward_step = retarget(lif_math.lif_forward_step, _inline, fires=fires, after_reset=after_reset,
                        threshold=threshold)
backward_step = _inline(lif_math.lif_backward_step)
surrogate_grad_row = retarget(surrogate_math.surrogate_grad_row, njit(cache=True),
                              surrogate_grad=surrogate_grad)
param_grads = _inline(lif_math.lif_param_grads)


@njit(cache=True)
def _local_params(prm, lo, m):
    """Copy the coefficient columns of neurons ``lo .. lo+m-1`` into a ``[9, m]`` array."""
    out = np.empty((lif_math.N_PARAMS, m), prm.dtype)
    P = prm.shape[1]
    for j in range(m):
        for q in range(lif_math.N_PARAMS):
            out[q, j] = prm[q, (lo + j) % P]
    return out


def chunk_for(T: int) -> int:
    """Neurons per parallel task: the backward's ``[T, chunk]`` recompute buffers stay in L2."""
    return int(max(16, min(512, (65536 // max(T, 1)) // 16 * 16)))


@lru_cache(maxsize=None)
def forward_kernel(reset: int, has_syn: bool, has_adapt: bool, spiking: bool):
    """The forward scan compiled for one model structure.

    Signature: ``(x, prm, consts, i0, v0, a0, ge, chunk, s_out, v_out, i_out, a_out, i_last, v_last,
    a_last, finite)``; ``s_out`` (spikes) and the recorded state sequences ``v_out``, ``i_out``,
    ``a_out`` may be ``None``. Nothing is stored for backward: it recomputes the forward per chunk.
    ``finite[k]`` receives ``sum(x * 0)`` over chunk ``k``: NaN iff the chunk's input holds NaN/inf
    (a check that costs one multiply-add per element instead of a separate pass over ``x``).
    """
    delayed = reset == lif_math.RESET_SUBTRACT_DELAYED

    @njit(parallel=True, cache=True)
    def lif_scan_forward(x, prm, consts, i0, v0, a0, ge, chunk, s_out, v_out, i_out, a_out,
                         i_last, v_last, a_last, finite):
        T, N = x.shape
        zero, one = consts[0], consts[1]
        for k in prange((N + chunk - 1) // chunk):
            lo = k * chunk
            m = min(chunk, N - lo)
            lp = _local_params(prm, lo, m)
            li = i0[lo:lo + m].copy()
            lv = v0[lo:lo + m].copy()
            la = a0[lo:lo + m].copy()
            ls = np.zeros(m, x.dtype)
            if delayed:  # snnTorch: the pending reset is read from the stored membrane
                for j in range(m):
                    ls[j] = fires(lv[j], lp[lif_math.P_TH, j], ge, one, zero)
            sr = ls  # row view of the spike output (scratch when spikes are not stored)
            acc = zero
            for t in range(T):
                xr = x[t, lo:lo + m]
                if s_out is not None:
                    sr = s_out[t, lo:lo + m]
                for j in range(m):
                    acc += xr[j] * zero
                    i_n, h, v_n, a_n, s = forward_step(
                        xr[j], li[j], lv[j], la[j], ls[j], lp[0, j], lp[1, j], lp[2, j], lp[3, j],
                        lp[4, j], lp[5, j], lp[6, j], lp[7, j], lp[8, j],
                        reset, ge, has_syn, has_adapt, spiking, one, zero)
                    lv[j] = v_n
                    if has_syn:
                        li[j] = i_n
                    if has_adapt:
                        la[j] = a_n
                    if delayed:
                        ls[j] = s
                    if s_out is not None:
                        sr[j] = s
                if v_out is not None:
                    v_out[t, lo:lo + m] = lv
                if i_out is not None:
                    i_out[t, lo:lo + m] = li
                if a_out is not None:
                    a_out[t, lo:lo + m] = la
            i_last[lo:lo + m] = li
            v_last[lo:lo + m] = lv
            a_last[lo:lo + m] = la
            finite[k] = acc

    return lif_scan_forward


@lru_cache(maxsize=None)
def backward_kernel(reset: int, has_syn: bool, has_adapt: bool, spiking: bool, need_pgrad: bool):
    """The reverse-time scan (exact BPTT through the surrogate) for one model structure.

    Signature: ``(x, prm, consts, i0, v0, a0, ge, sg_kind, chunk, g_s, g_v, g_i, g_a, g_i_last,
    g_v_last, g_a_last, dx, d_i0, d_v0, d_a0, d_prm)``; ``g_*`` sequences may be ``None``. Each task first
    recomputes its chunk's forward into ``[T, chunk]`` buffers (cache-resident, so backward needs no
    stored membrane), then walks back in time. With ``need_pgrad`` the per-neuron partial sums
    ``d_prm[q, n]`` (over time, not batch) are written.
    """
    delayed = reset == lif_math.RESET_SUBTRACT_DELAYED
    keep_i = has_syn and need_pgrad

    @njit(parallel=True, cache=True)
    def lif_scan_backward(x, prm, consts, i0, v0, a0, ge, sg_kind, chunk, g_s, g_v, g_i, g_a,
                          g_i_last, g_v_last, g_a_last, dx, d_i0, d_v0, d_a0, d_prm):
        T, N = x.shape
        zero, one, keep, sg_a, sg_b = consts[0], consts[1], consts[2], consts[3], consts[4]
        for k in prange((N + chunk - 1) // chunk):
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
                    if has_syn:
                        li[j] = i_n
                    if has_adapt:
                        la[j] = a_n
                    if delayed:
                        ls[j] = s
                if has_adapt:
                    ab[t + 1] = la
                if keep_i:
                    ib[t + 1] = li
            # 2) reverse sweep
            dv_c = g_v_last[lo:lo + m].copy()
            di_c = g_i_last[lo:lo + m].copy()
            da_c = g_a_last[lo:lo + m].copy()
            dh_n = np.zeros(m, x.dtype)
            gp = np.zeros((lif_math.N_PARAMS, m), x.dtype)
            zrow = np.zeros(m, x.dtype)
            lth = np.empty(m, x.dtype)  # theta_t, s_t and the surrogate derivative of this step
            ls = np.zeros(m, x.dtype)
            lsg = np.zeros(m, x.dtype)
            lz = np.empty(m, x.dtype)
            for t in range(T - 1, -1, -1):
                hr = hb[t]
                dxr = dx[t, lo:lo + m]
                gsr = g_s[t, lo:lo + m] if g_s is not None else zrow
                gvr = g_v[t, lo:lo + m] if g_v is not None else zrow
                gir = g_i[t, lo:lo + m] if g_i is not None else zrow
                gar = g_a[t, lo:lo + m] if g_a is not None else zrow
                if spiking:
                    for j in range(m):
                        a_prev = ab[t, j] if has_adapt else zero
                        lth[j] = threshold(lp[lif_math.P_TH, j], lp[lif_math.P_BA, j], a_prev, has_adapt)
                        ls[j] = fires(hr[j], lth[j], ge, one, zero)
                        lz[j] = hr[j] - lth[j]
                    surrogate_grad_row(sg_kind, sg_a, sg_b, lz, lsg, m, one, zero)
                for j in range(m):
                    th, vr, ba = lp[lif_math.P_TH, j], lp[lif_math.P_VR, j], lp[lif_math.P_BA, j]
                    a_prev = ab[t, j] if has_adapt else zero
                    theta = lth[j] if spiking else th
                    h = hr[j]
                    s = ls[j]
                    dxv, dv_p, di_p, da_p, dh, di, dtheta, dv, da = backward_step(
                        gsr[j] if g_s is not None else zero, gvr[j] if g_v is not None else zero,
                        gir[j] if g_i is not None else zero, gar[j] if g_a is not None else zero,
                        h, theta, s, lsg[j], dv_c[j], di_c[j] if has_syn else zero,
                        da_c[j] if has_adapt else zero, dh_n[j] if delayed else zero,
                        lp[0, j], lp[1, j], lp[2, j], lp[3, j], th, vr, lp[7, j], ba, keep,
                        reset, has_syn, has_adapt, one, zero)
                    dv_c[j] = dv_p
                    if has_syn:
                        di_c[j] = di_p
                    if has_adapt:
                        da_c[j] = da_p
                    if delayed:
                        dh_n[j] = dh
                    dxr[j] = dxv
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
                        q = param_grads(dh, di, dtheta, dv, da, s, x[t, n], i_t, i_p, v_p, s_p, a_prev,
                                        reset, has_syn, has_adapt, zero)
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
