r"""The astrocyte-modulated spiking unit (AM-SU) scan: one task = one astrocyte domain of one sample.

Neurons ``f`` of a layer are partitioned into astrocyte domains ``d`` (CSR table ``ptr, idx``;
``inv_m[d] = 1 / |d|``). Each domain has an astrocyte state ``a >= 0`` and parameters (rows
``A_*`` of ``aprm``): decay ``gamma = exp(-dt / tau_astro)``, half-activation ``K``, and the
couplings ``kappa_g`` (synaptic efficacy), ``kappa_th`` (threshold) and ``kappa_I`` (slow current).
One step, with ``c`` the calcium-like Hill function of the previous astrocyte state::

    c_t    = a_{t-1}^2 / (a_{t-1}^2 + K^2)                            (cooperative, in [0, 1))
    x'_t   = (1 + kappa_g c_t) x_t + kappa_I c_t                       (tripartite synapse)
    th'_t  = th + kappa_th c_t
    s_t, v_t, i_t = LIF step of :mod:`neuro.kernels.lif_math` on (x'_t, th'_t)
    a_t    = gamma a_{t-1} + (1 - gamma) * mean_{f in d} s_t[f]       (slow domain activity)

The neuron step is ``lif_math.lif_forward_step`` itself (and the reverse step
``lif_backward_step``), compiled for each target with :func:`neuro.kernels._jit.retarget`; this
module only adds the domain recurrence around it. The reverse-time task walks back through the
stored pre-reset membrane ``h`` and astrocyte trace; per step and domain::

    dL/da_t   += (carry from t+1) + external gradient of a_t
    dL/ds_t[f] += (1 - gamma) inv_m dL/da_t                           (spike -> astrocyte)
    dL/dc_t    = sum_f [dL/dx'_f (kappa_g x_f + kappa_I) + dL/dth'_f kappa_th]
    dL/da_{t-1} = gamma dL/da_t + dL/dc_t * 2 a K^2 / (a^2 + K^2)^2

Arrays: ``x [T, B*F]`` (sample ``b``, neuron ``f`` at column ``b*F + f``); ``prm [9, P]`` LIF
coefficients (``f % P``); ``aprm [5, D]``; states ``i, v [B*F]``, ``a [B*D]`` (task ``k = b*D + d``).
Optional arrays are 1x1 placeholders with a boolean ``store_*`` / ``has_*`` flag, so the same code
runs on the CPU and on a GPU. ``consts = [0, 1, keep_reset, sg_a, sg_b]`` in the compute dtype.
"""

from . import lif_math, surrogate_math

A_GAMMA, A_K, A_KG, A_KTH, A_KI = range(5)
N_ASTRO_PARAMS = 5


def calcium(a, K):
    """Hill function ``a^2 / (a^2 + K^2)`` of the astrocyte state."""
    a2 = a * a
    return a2 / (a2 + K * K)


def calcium_grads(a, K, one):
    """``(dc/da, dc/dK)`` of :func:`calcium`."""
    q = a * a + K * K
    inv = one / (q * q)
    two = one + one
    return two * a * (K * K) * inv, -(two * K * (a * a) * inv)


def amsu_forward_task(k, x, prm, aprm, ptr, idx, inv_m, consts, ge, reset, has_syn, F, D,
                      a0, i_run, v_run, a_last, s_out, v_out, h_out, i_out, a_out,
                      store_v, store_h, store_i, store_a):
    """Forward scan of task ``k``; ``i_run``/``v_run`` hold the initial state and are advanced in
    place (they end as the final state); ``a_last[k]`` receives the final astrocyte state."""
    T = x.shape[0]
    P = prm.shape[1]
    b = k // D
    d = k - b * D
    zero, one = consts[0], consts[1]
    gamma, K = aprm[A_GAMMA, d], aprm[A_K, d]
    kg, kth, ki = aprm[A_KG, d], aprm[A_KTH, d], aprm[A_KI, d]
    a = a0[k]
    for t in range(T):
        c = calcium(a, K)
        g = one + kg * c
        cur = ki * c
        dth = kth * c
        cnt = zero
        for m in range(ptr[d], ptr[d + 1]):
            f = idx[m]
            j = b * F + f
            p = f % P
            xe = g * x[t, j] + cur
            th = prm[lif_math.P_TH, p] + dth
            i_n, h, v_n, a_n, s = lif_forward_step(
                xe, i_run[j], v_run[j], zero, zero, prm[lif_math.P_ALPHA, p], prm[lif_math.P_GI, p],
                prm[lif_math.P_BETA, p], prm[lif_math.P_GV, p], prm[lif_math.P_C, p], th,
                prm[lif_math.P_VR, p], zero, zero, reset, ge, has_syn, False, True, one, zero)
            v_run[j] = v_n
            if has_syn:
                i_run[j] = i_n
            s_out[t, j] = s
            cnt += s
            if store_v:
                v_out[t, j] = v_n
            if store_h:
                h_out[t, j] = h
            if store_i:
                i_out[t, j] = i_n
        a = gamma * a + (one - gamma) * (cnt * inv_m[d])
        if store_a:
            a_out[t, k] = a
    a_last[k] = a


def amsu_backward_task(k, x, prm, aprm, ptr, idx, inv_m, consts, ge, sg_kind, reset, has_syn,
                       need_pgrad, F, D, a0, i0, v0, h_seq, i_seq, a_seq, g_s, has_g_s, g_v,
                       has_g_v, g_i, has_g_i, g_a, has_g_a, dv_c, di_c, da_last, dx, d_a0, d_prm,
                       d_aprm):
    """Reverse-time scan of task ``k`` (exact BPTT through the surrogate).

    ``dv_c``/``di_c`` start as the gradients of the final ``v``/``i`` and end as those of the
    initial state; ``d_prm [9, B*F]`` (zeroed by the caller) accumulates per-element LIF
    coefficient gradients when ``need_pgrad``; ``d_aprm [5, B*D]`` receives the task's astrocyte
    parameter gradients and ``d_a0[k]`` that of its initial astrocyte state.
    """
    T = x.shape[0]
    P = prm.shape[1]
    b = k // D
    d = k - b * D
    zero, one, keep, sg_a, sg_b = consts[0], consts[1], consts[2], consts[3], consts[4]
    gamma, K = aprm[A_GAMMA, d], aprm[A_K, d]
    kg, kth, ki = aprm[A_KG, d], aprm[A_KTH, d], aprm[A_KI, d]
    lo, hi = ptr[d], ptr[d + 1]
    da_c = da_last[k]
    d_gamma = zero
    d_K = zero
    d_kg = zero
    d_kth = zero
    d_ki = zero
    for t in range(T - 1, -1, -1):
        a_prev = a_seq[t - 1, k] if t > 0 else a0[k]
        c = calcium(a_prev, K)
        g = one + kg * c
        cur = ki * c
        dth = kth * c
        c_pp = zero  # calcium of step t-1, to rebuild v_{t-1} for the coefficient gradients
        if need_pgrad and t > 0:
            c_pp = calcium(a_seq[t - 2, k] if t > 1 else a0[k], K)
        cnt = zero
        for m in range(lo, hi):
            f = idx[m]
            cnt += fires(h_seq[t, b * F + f], prm[lif_math.P_TH, f % P] + dth, ge, one, zero)
        r = cnt * inv_m[d]
        da = da_c + (g_a[t, k] if has_g_a else zero)
        d_gamma += da * (a_prev - r)
        dr = da * (one - gamma) * inv_m[d]
        dc = zero
        for m in range(lo, hi):
            f = idx[m]
            j = b * F + f
            p = f % P
            alpha, gi, beta, gv = (prm[lif_math.P_ALPHA, p], prm[lif_math.P_GI, p],
                                   prm[lif_math.P_BETA, p], prm[lif_math.P_GV, p])
            th0, vr = prm[lif_math.P_TH, p], prm[lif_math.P_VR, p]
            xt = x[t, j]
            xe = g * xt + cur
            th = th0 + dth
            h = h_seq[t, j]
            s = fires(h, th, ge, one, zero)
            sg = surrogate_grad(sg_kind, sg_a, sg_b, h - th, one, zero)
            gs = (g_s[t, j] if has_g_s else zero) + dr
            dxe, dv_p, di_p, da_unused, dh, di, dtheta, dv, da_n = lif_backward_step(
                gs, g_v[t, j] if has_g_v else zero, g_i[t, j] if has_g_i else zero, zero, h, th,
                s, sg, dv_c[j],
                di_c[j] if has_syn else zero, zero, zero,
                alpha, gi, beta, gv, th, vr, zero, zero, keep, reset, has_syn, False, one, zero)
            dv_c[j] = dv_p
            if has_syn:
                di_c[j] = di_p
            dx[t, j] = dxe * g
            dc += dxe * (kg * xt + ki) + dtheta * kth
            d_kg += dxe * xt * c
            d_ki += dxe * c
            d_kth += dtheta * c
            if need_pgrad:
                if t > 0:
                    th_p = th0 + kth * c_pp
                    h_p = h_seq[t - 1, j]
                    s_p = fires(h_p, th_p, ge, one, zero)
                    v_p = after_reset(h_p, th_p, s_p, vr, reset, one)
                    i_p = i_seq[t - 1, j] if has_syn else zero
                else:
                    v_p = v0[j]
                    s_p = zero
                    i_p = i0[j]
                i_t = i_seq[t, j] if has_syn else xe
                q0, q1, q2, q3, q4, q5, q6, q7, q8 = lif_param_grads(
                    dh, di, dtheta, dv, zero, s, xe, i_t, i_p, v_p, s_p, zero, reset, has_syn, False,
                    zero)
                d_prm[0, j] += q0
                d_prm[1, j] += q1
                d_prm[2, j] += q2
                d_prm[3, j] += q3
                d_prm[4, j] += q4
                d_prm[5, j] += q5
                d_prm[6, j] += q6
                d_prm[7, j] += q7
                d_prm[8, j] += q8
        dc_da, dc_dK = calcium_grads(a_prev, K, one)
        d_K += dc * dc_dK
        da_c = gamma * da + dc * dc_da
    d_a0[k] = da_c
    d_aprm[A_GAMMA, k] = d_gamma
    d_aprm[A_K, k] = d_K
    d_aprm[A_KG, k] = d_kg
    d_aprm[A_KTH, k] = d_kth
    d_aprm[A_KI, k] = d_ki


# The shared scalar steps; amsu_cpu / amsu_cuda rebind these names (retarget) to each target's
# compiled versions, and plain Python runs them as they are.
lif_forward_step = lif_math.lif_forward_step
lif_backward_step = lif_math.lif_backward_step
lif_param_grads = lif_math.lif_param_grads
fires = lif_math.fires
after_reset = lif_math.after_reset
surrogate_grad = surrogate_math.surrogate_grad
