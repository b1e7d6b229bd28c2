"""The recurrent LIF layer on the CPU: one fused time loop per batch row, GIL-free Numba kernels over
ranges of rows (``neuro.ops._launch.run_cpu_chunks``).

Per step a row gathers the neurons that spiked at the previous step, adds their rows of ``W.T`` (a
contiguous, vectorised axpy per spike: the recurrent matrix product, event-driven) to the bias, and
advances every neuron with ``lif_math``'s step. Backward walks back in time: the LIF reverse step of
every neuron, then the recurrence's spike gradient ``W.T dx'`` (an axpy per nonzero ``dx'``, rows of
``W``). The maths and the order of every sum: :mod:`neuro.kernels.rlif_math`.

Arrays are ``[T, B, N]`` (time-major, C-contiguous), states ``[B, N]``, ``prm [9, C]`` (neuron ``n``
uses column ``n % C``), ``consts = [0, 1, keep_reset, sg_a, sg_b]``. Kernels are built per model
structure (``has_syn``, ``has_adapt``: closure constants); reset, comparison and surrogate are
runtime arguments.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numba import njit

from . import lif_math, rlif_math

ns = rlif_math.compile_for("cpu")
LIFCarry, LIFStructure = lif_math.LIFCarry, lif_math.LIFStructure


@cache
def forward_kernel(has_syn: bool, has_adapt: bool):
    """Signature: ``(x, wt, bias, prm, consts, state0, s0, reset, ge, out, store, last, finite, b_lo,
    b_hi)``: ``wt = W.T`` contiguous; ``state0 = (i0, v0, a0)``; ``out = (s, h, i_seq, a_seq, xp)``
    ``[T, B, N]`` with ``store = (store_h, store_i, store_a, store_xp)`` (the spikes always);
    ``last = (i, v, a)`` final states; ``finite[b] = (sum x * 0, sum state * 0)`` of row ``b``."""

    @njit(nogil=True, cache=True)
    def rlif_forward(x, wt, bias, prm, consts, state0, s0, reset, ge, out, store, last, finite, b_lo, b_hi):
        T, B, N = x.shape
        C = prm.shape[1]
        zero, one = consts[0], consts[1]
        st = LIFStructure(has_syn, has_adapt, True, reset, ge)
        s_out, h_out, i_out, a_out, xp_out = out
        store_h, store_i, store_a, store_xp = store
        i0, v0, a0 = state0
        i_last, v_last, a_last = last
        idx = np.empty(N, np.int64)
        r = np.empty(N, x.dtype)
        for b in range(b_lo, b_hi):
            bad_x = zero
            bad_s = zero
            li = i0[b].copy()
            lv = v0[b].copy()
            la = a0[b].copy()
            ls = np.empty(N, x.dtype)  # the pending spike of the delayed reset
            for n in range(N):
                bad_s += li[n] * zero + lv[n] * zero + la[n] * zero + s0[b, n] * zero
                ls[n] = ns.pending_reset(lv[n], ns.load_coefficients(prm, n % C), st, one, zero)
            for t in range(T):
                count = ns.spike_list(s_out, t, b, s0, idx, N)
                for n in range(N):
                    r[n] = zero
                for q in range(count):  # the recurrent input, one row of W.T per spike
                    j = idx[q]
                    row = wt[j]
                    sj = ns.previous_spike(s_out, t, b, s0, j)
                    for n in range(N):
                        r[n] += row[n] * sj
                for n in range(N):
                    xv = x[t, b, n]
                    bad_x += xv * zero
                    xp = xv + (r[n] + bias[n])
                    i_n, h, v_n, a_n, s = ns.lif_forward_step(xp, li[n], lv[n], la[n], ls[n],
                                                              ns.load_coefficients(prm, n % C), st, one, zero)
                    lv[n] = v_n
                    ls[n] = s
                    s_out[t, b, n] = s
                    if has_syn:
                        li[n] = i_n
                    if has_adapt:
                        la[n] = a_n
                    if store_h:
                        h_out[t, b, n] = h
                    if store_i:
                        i_out[t, b, n] = li[n]
                    if store_a:
                        a_out[t, b, n] = la[n]
                    if store_xp:
                        xp_out[t, b, n] = xp
            for n in range(N):
                i_last[b, n] = li[n]
                v_last[b, n] = lv[n]
                a_last[b, n] = la[n]
            finite[b, 0] = bad_x
            finite[b, 1] = bad_s

    return rlif_forward


@cache
def backward_kernel(has_syn: bool, has_adapt: bool):
    """Signature: ``(w, prm, consts, state0, reset, ge, sg_kind, seqs, g_s, has_gs, g_s_last, grads,
    g_last, dxp, d_state0, d_s0, d_prm, need_pgrad, b_lo, b_hi)``: ``w`` the recurrent weight
    ``[N, N]``; ``seqs = (xp, h, i_seq, a_seq)`` from the forward; ``g_s [T, B, N]`` the spike
    output's gradient (``has_gs``), ``g_s_last [B, N]`` an extra gradient of the last spikes;
    ``grads = (g_v, g_i, g_a, has_gv, has_gi, has_ga)`` those of recorded state sequences;
    ``g_last = (gi, gv, ga)`` of the final state. Outputs: ``dxp [T, B, N]`` (the gradient of each
    step's total input), ``d_state0 = (di0, dv0, da0)``, ``d_s0 [B, N]`` and, with the runtime flag
    ``need_pgrad``, ``d_prm [9, B * N]``."""

    @njit(nogil=True, cache=True)
    def rlif_backward(w, prm, consts, state0, reset, ge, sg_kind, seqs, g_s, has_gs, g_s_last, grads, g_last,
                      dxp, d_state0, d_s0, d_prm, need_pgrad, b_lo, b_hi):
        T, B, N = dxp.shape
        C = prm.shape[1]
        zero, one, keep, sg_a, sg_b = consts[0], consts[1], consts[2], consts[3], consts[4]
        st = LIFStructure(has_syn, has_adapt, True, reset, ge)
        xp, h_seq, i_seq, a_seq = seqs
        gi_last, gv_last, ga_last = g_last
        di0, dv0, da0 = d_state0
        i0, v0, a0 = state0
        dv = np.empty(N, dxp.dtype)
        di = np.empty(N, dxp.dtype)
        da = np.empty(N, dxp.dtype)
        dh = np.empty(N, dxp.dtype)
        ds = np.empty(N, dxp.dtype)  # the recurrence's gradient of the spikes of the step before
        gp = np.empty((lif_math.N_PARAMS, N), dxp.dtype)
        for b in range(b_lo, b_hi):
            for n in range(N):
                dv[n] = gv_last[b, n]
                di[n] = gi_last[b, n]
                da[n] = ga_last[b, n]
                dh[n] = zero
                ds[n] = g_s_last[b, n]
                for q in range(lif_math.N_PARAMS):
                    gp[q, n] = zero
            for t in range(T - 1, -1, -1):
                for n in range(N):
                    k = ns.load_coefficients(prm, n % C)
                    g_spike = (g_s[t, b, n] + ds[n]) if has_gs else ds[n]
                    dxv, carry, d = ns.neuron_backward(t, b, n, g_spike, seqs, grads, state0,
                                                       LIFCarry(dv[n], di[n], da[n], dh[n]), k, st, keep,
                                                       sg_kind, sg_a, sg_b, need_pgrad, one, zero)
                    dxp[t, b, n] = dxv
                    dv[n] = carry.dv
                    di[n] = carry.di
                    da[n] = carry.da
                    dh[n] = carry.dh
                    if need_pgrad:
                        ns.accumulate_column(gp, n, d)
                for n in range(N):  # ds_{t-1} = W.T dx'_t, rows of W in ascending order
                    ds[n] = zero
                for m in range(N):
                    c = dxp[t, b, m]
                    if c != zero:
                        row = w[m]
                        for n in range(N):
                            ds[n] += row[n] * c
            for n in range(N):
                k = ns.load_coefficients(prm, n % C)
                dvv = dv[n]
                if reset == lif_math.RESET_SUBTRACT_DELAYED:  # the reset pending at t = 0, read from v0
                    d0 = ns.initial_reset_grad(v0[b, n], k.th, dh[n], keep, sg_kind, sg_a, sg_b, st, one,
                                               zero)
                    dvv += d0
                    gp[lif_math.P_TH, n] -= d0
                di0[b, n] = di[n]
                dv0[b, n] = dvv
                da0[b, n] = da[n]
                d_s0[b, n] = ds[n]
                if need_pgrad:
                    for q in range(lif_math.N_PARAMS):
                        d_prm[q, b * N + n] = gp[q, n]

    return rlif_backward
