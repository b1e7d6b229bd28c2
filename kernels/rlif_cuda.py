"""The recurrent LIF layer on NVIDIA GPUs with ``numba.cuda``: one thread block per batch row, its
threads striding over the neurons, the whole time loop in one kernel.

Per step, thread 0 lists the neurons of the row that spiked at the previous step (ascending, into
a global scratch row ``idx[b]``), the block synchronises, and every thread sums the listed rows of
``W.T`` for its neurons (coalesced: consecutive threads read consecutive columns) and advances them
with ``lif_math``'s step; states live in the ``last`` arrays between steps. Backward: every thread
runs the LIF reverse step of its neurons, the block synchronises, then thread ``j`` sums
``W[n, j] dx'[n]`` over ``n`` ascending (coalesced rows of ``W``) for the spike gradient of the
step before. The sums run in ``rlif_cpu``'s order, so CUDA and CPU results are bit-identical (the
arithmetic is ``+ - *`` and comparisons; a ``Sigmoid`` / ``Erf`` surrogate's ``exp`` is within 2 ulp
between libdevice and libm). Import only for the CUDA backend; ``NUMBA_ENABLE_CUDASIM=1`` runs it on
the simulator. Non-finite inputs or states set ``flag[0]`` to ``codes[0]`` / ``codes[1]``.
"""

from __future__ import annotations

from functools import cache

from numba import cuda, int32

from . import lif_math, rlif_math
from ._cuda_device import report_non_finite

THREADS_PER_BLOCK = 256


def threads_for(n: int, simulator: bool = False) -> int:
    """Threads per block for rows of ``n`` neurons: up to :data:`THREADS_PER_BLOCK`, whole warps on a
    GPU (the CUDA simulator runs one Python thread per CUDA thread: no more than ``n`` there)."""
    if simulator:
        return max(1, min(n, THREADS_PER_BLOCK))
    return min(THREADS_PER_BLOCK, (n + 31) // 32 * 32)

ns = rlif_math.compile_for("cuda")
LIFCarry, LIFStructure = lif_math.LIFCarry, lif_math.LIFStructure


@cache
def forward_kernel(has_syn: bool, has_adapt: bool):
    """Grid ``(B,)``, block :func:`threads_for`. Signature: ``(x, wt, bias, prm, consts, state0,
    s0, reset, ge, out, store, last, pend, idx, flag, codes)`` (``rlif_cpu.forward_kernel``'s, with
    ``last`` holding the running state, ``pend [B, N]`` the pending spike of the delayed reset and
    ``idx [B, N]`` int64 scratch)."""

    @cuda.jit
    def rlif_forward(x, wt, bias, prm, consts, state0, s0, reset, ge, out, store, last, pend, idx, flag,
                     codes):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        T, B, N = x.shape
        C = prm.shape[1]
        zero, one = consts[0], consts[1]
        st = LIFStructure(has_syn, has_adapt, True, reset, ge)
        s_out, h_out, i_out, a_out, xp_out = out
        store_h, store_i, store_a, store_xp = store
        i0, v0, a0 = state0
        i_l, v_l, a_l = last
        count = cuda.shared.array(1, int32)
        bad = zero
        for n in range(tid, N, cuda.blockDim.x):
            i_l[b, n] = i0[b, n]
            v_l[b, n] = v0[b, n]
            a_l[b, n] = a0[b, n]
            bad += i0[b, n] * zero + v0[b, n] * zero + a0[b, n] * zero + s0[b, n] * zero
            pend[b, n] = ns.pending_reset(v0[b, n], ns.load_coefficients(prm, n % C), st, one, zero)
        report_non_finite(flag, codes[1], bad)
        bad = zero
        for t in range(T):
            cuda.syncthreads()  # the spikes of step t - 1 are written
            if tid == 0:
                count[0] = ns.spike_list(s_out, t, b, s0, idx[b], N)
            cuda.syncthreads()
            m = count[0]
            for n in range(tid, N, cuda.blockDim.x):
                xv = x[t, b, n]
                bad += xv * zero
                xp = xv + (ns.recurrent_sum(wt, idx[b], m, s_out, t, b, s0, n, zero) + bias[n])
                i_n, h, v_n, a_n, s = ns.lif_forward_step(xp, i_l[b, n], v_l[b, n], a_l[b, n], pend[b, n],
                                                          ns.load_coefficients(prm, n % C), st, one, zero)
                v_l[b, n] = v_n
                pend[b, n] = s
                s_out[t, b, n] = s
                if has_syn:
                    i_l[b, n] = i_n
                if has_adapt:
                    a_l[b, n] = a_n
                if store_h:
                    h_out[t, b, n] = h
                if store_i:
                    i_out[t, b, n] = i_l[b, n]
                if store_a:
                    a_out[t, b, n] = a_l[b, n]
                if store_xp:
                    xp_out[t, b, n] = xp
        report_non_finite(flag, codes[0], bad)

    return rlif_forward


@cache
def backward_kernel(has_syn: bool, has_adapt: bool):
    """Grid ``(B,)``, block :func:`threads_for`. Signature: ``rlif_cpu.backward_kernel``'s (without the
    row range) plus the scratch ``carry = (dv, di, da, dh, ds)`` ``[B, N]`` arrays."""

    @cuda.jit
    def rlif_backward(w, prm, consts, state0, reset, ge, sg_kind, seqs, g_s, has_gs, g_s_last, grads, g_last,
                      dxp, d_state0, d_s0, d_prm, need_pgrad, carry):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        T, B, N = dxp.shape
        C = prm.shape[1]
        zero, one, keep, sg_a, sg_b = consts[0], consts[1], consts[2], consts[3], consts[4]
        st = LIFStructure(has_syn, has_adapt, True, reset, ge)
        gi_last, gv_last, ga_last = g_last
        di0, dv0, da0 = d_state0
        i0, v0, a0 = state0
        dv, di, da, dh, ds = carry
        for n in range(tid, N, cuda.blockDim.x):
            dv[b, n] = gv_last[b, n]
            di[b, n] = gi_last[b, n]
            da[b, n] = ga_last[b, n]
            dh[b, n] = zero
            ds[b, n] = g_s_last[b, n]
            if need_pgrad:
                for q in range(lif_math.N_PARAMS):
                    d_prm[q, b * N + n] = zero
        for t in range(T - 1, -1, -1):
            cuda.syncthreads()  # ds of this step is complete
            for n in range(tid, N, cuda.blockDim.x):
                k = ns.load_coefficients(prm, n % C)
                g_spike = (g_s[t, b, n] + ds[b, n]) if has_gs else ds[b, n]
                dxv, c, d = ns.neuron_backward(t, b, n, g_spike, seqs, grads, state0,
                                               LIFCarry(dv[b, n], di[b, n], da[b, n], dh[b, n]), k, st, keep,
                                               sg_kind, sg_a, sg_b, need_pgrad, one, zero)
                dxp[t, b, n] = dxv
                dv[b, n] = c.dv
                di[b, n] = c.di
                da[b, n] = c.da
                dh[b, n] = c.dh
                if need_pgrad:
                    ns.accumulate_column(d_prm, b * N + n, d)
            cuda.syncthreads()  # every dx' of this step is written
            for j in range(tid, N, cuda.blockDim.x):
                acc = zero
                for m in range(N):
                    c = dxp[t, b, m]
                    if c != zero:
                        acc += w[m, j] * c
                ds[b, j] = acc
        cuda.syncthreads()
        for n in range(tid, N, cuda.blockDim.x):
            k = ns.load_coefficients(prm, n % C)
            dvv = dv[b, n]
            if reset == lif_math.RESET_SUBTRACT_DELAYED:
                d0 = ns.initial_reset_grad(v0[b, n], k.th, dh[b, n], keep, sg_kind, sg_a, sg_b, st, one, zero)
                dvv += d0
                if need_pgrad:
                    d_prm[lif_math.P_TH, b * N + n] -= d0
            di0[b, n] = di[b, n]
            dv0[b, n] = dvv
            da0[b, n] = da[b, n]
            d_s0[b, n] = ds[b, n]

    return rlif_backward
