"""LIF-family scans on NVIDIA GPUs with ``numba.cuda``: one thread per neuron, looping over time.

Consecutive threads handle consecutive neurons, so every access to a ``[T, N]`` array is
coalesced. The arithmetic is the ``lif_math`` code the CPU kernels compile, and the arguments are
those of ``lif_cpu`` except that absent arrays are passed as 1x1 placeholders with a boolean
``has_*`` flag (uniform branches cost nothing on a GPU). Import this module only when the CUDA
backend is requested (it needs ``numba-cuda``); with ``NUMBA_ENABLE_CUDASIM=1`` it runs on Numba's
CUDA simulator.
"""

from functools import lru_cache

from numba import cuda

from . import lif_math, surrogate_math
from ._jit import retarget
from ._cuda_device import device as _device

THREADS_PER_BLOCK = 128

# the simulator's jit takes no inlining options; on a GPU force NVVM inlining of the step functions
reset_factors = _device(lif_math.reset_factors)
fires = _device(lif_math.fires)
after_reset = retarget(lif_math.after_reset, _device, reset_factors=reset_factors)
threshold = _device(lif_math.threshold)
surrogate_grad = _device(surrogate_math.surrogate_grad)
forward_step = retarget(lif_math.lif_forward_step, _device, fires=fires, after_reset=after_reset,
                        threshold=threshold, reset_factors=reset_factors)
backward_step = retarget(lif_math.lif_backward_step, _device, reset_factors=reset_factors)
param_grads = _device(lif_math.lif_param_grads)


def blocks_for(n: int) -> int:
    """Number of thread blocks covering ``n`` neurons."""
    return (n + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK


@lru_cache(maxsize=None)
def forward_kernel(has_syn: bool, has_adapt: bool, spiking: bool):
    """Forward scan for one model structure; outputs with a false ``store_*`` flag are skipped."""

    @cuda.jit
    def lif_scan_forward(x, prm, consts, i0, v0, a0, reset, ge, s_out, h_out, v_out, i_out, a_out,
                         i_last, v_last, a_last, store_s, store_h, store_v, store_i, store_a):
        n = cuda.grid(1)
        T, N = x.shape
        if n >= N:
            return
        p = n % prm.shape[1]
        zero, one = consts[0], consts[1]
        alpha, gi, beta, gv, c = prm[0, p], prm[1, p], prm[2, p], prm[3, p], prm[4, p]
        th, vr, rho, ba = prm[5, p], prm[6, p], prm[7, p], prm[8, p]
        i, v, a = i0[n], v0[n], a0[n]
        s = zero
        if reset == lif_math.RESET_SUBTRACT_DELAYED:
            s = fires(v, th, ge, one, zero)
        for t in range(T):
            i_n, h, v, a_n, s = forward_step(x[t, n], i, v, a, s, alpha, gi, beta, gv, c, th, vr,
                                             rho, ba, reset, ge, has_syn, has_adapt, spiking, one, zero)
            if has_syn:
                i = i_n
            if has_adapt:
                a = a_n
            if store_s:
                s_out[t, n] = s
            if store_h:
                h_out[t, n] = h
            if store_v:
                v_out[t, n] = v
            if store_i:
                i_out[t, n] = i
            if store_a:
                a_out[t, n] = a
        i_last[n] = i
        v_last[n] = v
        a_last[n] = a

    return lif_scan_forward


@lru_cache(maxsize=None)
def backward_kernel(has_syn: bool, has_adapt: bool, spiking: bool, need_pgrad: bool):
    """Reverse-time scan for one model structure (see ``lif_cpu.backward_kernel``)."""

    @cuda.jit
    def lif_scan_backward(x, prm, consts, i0, v0, a0, reset, ge, sg_kind, h_seq, i_seq, a_seq,
                          g_s, g_v, g_i, g_a, has_g_s, has_g_v, has_g_i, has_g_a,
                          g_i_last, g_v_last, g_a_last, dx, d_i0, d_v0, d_a0, d_prm):
        n = cuda.grid(1)
        T, N = x.shape
        if n >= N:
            return
        delayed = reset == lif_math.RESET_SUBTRACT_DELAYED
        p = n % prm.shape[1]
        zero, one, keep, sg_a, sg_b = consts[0], consts[1], consts[2], consts[3], consts[4]
        alpha, gi_, beta, gv_ = prm[0, p], prm[1, p], prm[2, p], prm[3, p]
        th, vr, rho, ba = prm[5, p], prm[6, p], prm[7, p], prm[8, p]
        dv_c, di_c, da_c, dh_n = g_v_last[n], g_i_last[n], g_a_last[n], zero
        q0 = q1 = q2 = q3 = q4 = q5 = q6 = q7 = q8 = zero
        for t in range(T - 1, -1, -1):
            a_prev = zero
            if has_adapt:
                a_prev = a_seq[t - 1, n] if t > 0 else a0[n]
            theta = threshold(th, ba, a_prev, has_adapt)
            h = h_seq[t, n]
            s = fires(h, theta, ge, one, zero) if spiking else zero
            gs = g_s[t, n] if has_g_s else zero
            gv = g_v[t, n] if has_g_v else zero
            gi = g_i[t, n] if has_g_i else zero
            ga = g_a[t, n] if has_g_a else zero
            sg = surrogate_grad(sg_kind, sg_a, sg_b, h - theta, one, zero) if spiking else zero
            dxv, dv_c, di_p, da_p, dh, di, dtheta, dv, da = backward_step(
                gs, gv, gi, ga, h, theta, s, sg, dv_c, di_c, da_c, dh_n, alpha, gi_, beta, gv_, th, vr,
                rho, ba, keep, reset, has_syn, has_adapt, one, zero)
            if has_syn:  # without a current / adaptation their final-state gradient passes through
                di_c = di_p
            if has_adapt:
                da_c = da_p
            dh_n = dh
            dx[t, n] = dxv
            if need_pgrad:
                if t > 0:
                    a_pp = zero
                    if has_adapt:
                        a_pp = a_seq[t - 2, n] if t > 1 else a0[n]
                    th_p = threshold(th, ba, a_pp, has_adapt)
                    h_p = h_seq[t - 1, n]
                    s_p = fires(h_p, th_p, ge, one, zero) if spiking else zero
                    v_p = after_reset(h_p, th_p, s_p, vr, reset, one)
                    i_p = i_seq[t - 1, n] if has_syn else x[t - 1, n]
                else:
                    v_p = v0[n]
                    s_p = fires(v_p, th, ge, one, zero) if delayed else zero
                    i_p = i0[n]
                i_t = i_seq[t, n] if has_syn else x[t, n]
                r0, r1, r2, r3, r4, r5, r6, r7, r8 = param_grads(
                    dh, di, dtheta, dv, da, s, x[t, n], i_t, i_p, v_p, s_p, a_prev,
                    reset, has_syn, has_adapt, zero)
                q0 += r0
                q1 += r1
                q2 += r2
                q3 += r3
                q4 += r4
                q5 += r5
                q6 += r6
                q7 += r7
                q8 += r8
        if delayed:  # the reset pending at t=0 was read from v0 through the surrogate
            ds = -(keep * th * dh_n)
            sg = surrogate_grad(sg_kind, sg_a, sg_b, v0[n] - th, one, zero) if spiking else zero
            dv_c += ds * sg
            q5 -= ds * sg
        d_v0[n] = dv_c
        d_i0[n] = di_c
        d_a0[n] = da_c
        if need_pgrad:
            d_prm[0, n] = q0
            d_prm[1, n] = q1
            d_prm[2, n] = q2
            d_prm[3, n] = q3
            d_prm[4, n] = q4
            d_prm[5, n] = q5
            d_prm[6, n] = q6
            d_prm[7, n] = q7
            d_prm[8, n] = q8

    return lif_scan_backward
