r"""The astrocyte-modulated spiking unit (AM-SU) scan as scalar Numba-compilable steps.

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
module only adds the domain recurrence around it (:func:`modulated_step`,
:func:`modulated_backward`). The reverse-time scan walks back through the stored pre-reset
membrane ``h`` and astrocyte trace; per step and domain::

    dL/da_t   += (carry from t+1) + external gradient of a_t
    dL/ds_t[f] += (1 - gamma) inv_m dL/da_t                           (spike -> astrocyte)
    dL/dc_t    = sum_f [dL/dx'_f (kappa_g x_f + kappa_I) + dL/dth'_f kappa_th]
    dL/da_{t-1} = gamma dL/da_t + dL/dc_t * 2 a K^2 / (a^2 + K^2)^2

Two layouts of the same scan: ``*_task`` walks one domain of one sample (its members through the
CSR table ``ptr, idx``; one GPU thread each), ``*_sample`` walks all neurons of one sample in
order (contiguous memory, per-domain values in small scratch arrays; one CPU task each).

Arrays: ``x [T, B*F]`` (sample ``b``, neuron ``f`` at column ``b*F + f``); ``prm [9, F]`` LIF
coefficients per neuron (rows ``lif_math.P_*``); ``aprm [5, D]``; ``of [F]`` each neuron's domain;
states ``i, v [B*F]``, ``a [B*D]`` (domain ``d`` of sample ``b`` at ``k = b*D + d``). Optional
arrays are 1x1 placeholders with a boolean ``store_*`` / ``has_*`` flag, so the same code runs on
the CPU and on a GPU. ``consts = [0, 1, keep_reset, sg_a, sg_b]`` in the compute dtype.
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


def modulated_step(xt, i, v, g, cur, dth, prm, f, reset, ge, has_syn, one, zero):
    """The LIF step of neuron ``f`` on the modulated input ``g x + cur`` and threshold
    ``th + dth``; returns ``(i, h, v, s)``."""
    xe = g * xt + cur
    th = prm[lif_math.P_TH, f] + dth
    i_n, h, v_n, a_n, s = lif_forward_step(
        xe, i, v, zero, zero, prm[lif_math.P_ALPHA, f], prm[lif_math.P_GI, f],
        prm[lif_math.P_BETA, f], prm[lif_math.P_GV, f], prm[lif_math.P_C, f], th,
        prm[lif_math.P_VR, f], zero, zero, reset, ge, has_syn, False, True, one, zero)
    return i_n, h, v_n, s


def modulated_backward(gs, gv_ext, gi_ext, h, xt, g, cur, dth, kg, ki, kth, dv_c, di_c, prm, f,
                       consts, ge, sg_kind, reset, has_syn):
    """Reverse step of neuron ``f`` (``gs`` includes the astrocyte's share of the spike gradient).

    Returns ``(dx, dv_prev, di_prev, dc, dx', dh, di, dtheta, dv, s, x')``: ``dc`` is this
    neuron's contribution to ``dL/dc`` of its domain, ``dx'`` the gradient of the modulated input
    (coupling gradients ``dL/dkappa_g = dx' x c``, ``dL/dkappa_I = dx' c``); the rest feed
    :func:`neuron_param_grads`.
    """
    zero, one, keep, sg_a, sg_b = consts[0], consts[1], consts[2], consts[3], consts[4]
    xe = g * xt + cur
    th = prm[lif_math.P_TH, f] + dth
    s = fires(h, th, ge, one, zero)
    sg = surrogate_grad(sg_kind, sg_a, sg_b, h - th, one, zero)
    dxe, dv_p, di_p, da_p, dh, di, dtheta, dv, da = lif_backward_step(
        gs, gv_ext, gi_ext, zero, h, th, s, sg, dv_c, di_c, zero, zero,
        prm[lif_math.P_ALPHA, f], prm[lif_math.P_GI, f], prm[lif_math.P_BETA, f],
        prm[lif_math.P_GV, f], th, prm[lif_math.P_VR, f], zero, zero, keep, reset, has_syn, False,
        one, zero)
    return dxe * g, dv_p, di_p, dxe * (kg * xt + ki) + dtheta * kth, dxe, dh, di, dtheta, dv, s, xe


def neuron_param_grads(t, j, f, dh, di, dtheta, dv, s, xe, dth_prev, prm, v0, i0, h_seq, i_seq,
                       consts, ge, reset, has_syn, d_prm):
    """Add step ``t``'s LIF-coefficient gradients of neuron ``f`` (column ``j``) to ``d_prm``;
    ``dth_prev`` is the threshold modulation of step ``t - 1`` (to rebuild ``v_{t-1}``)."""
    zero, one = consts[0], consts[1]
    if t > 0:
        th_p = prm[lif_math.P_TH, f] + dth_prev
        h_p = h_seq[t - 1, j]
        s_p = fires(h_p, th_p, ge, one, zero)
        v_p = after_reset(h_p, th_p, s_p, prm[lif_math.P_VR, f], reset, one)
        i_p = i_seq[t - 1, j] if has_syn else zero
    else:
        v_p = v0[j]
        s_p = zero
        i_p = i0[j]
    i_t = i_seq[t, j] if has_syn else xe
    q0, q1, q2, q3, q4, q5, q6, q7, q8 = lif_param_grads(
        dh, di, dtheta, dv, zero, s, xe, i_t, i_p, v_p, s_p, zero, reset, has_syn, False, zero)
    d_prm[0, j] += q0
    d_prm[1, j] += q1
    d_prm[2, j] += q2
    d_prm[3, j] += q3
    d_prm[4, j] += q4
    d_prm[5, j] += q5
    d_prm[6, j] += q6
    d_prm[7, j] += q7
    d_prm[8, j] += q8


# --------------------------------------------------------------------------------------------
# Layout 1: one (sample, domain) task; members through the CSR table (GPU: one thread each)


def amsu_forward_task(k, x, prm, aprm, ptr, idx, inv_m, consts, ge, reset, has_syn, F, D,
                      a0, i_run, v_run, a_last, s_out, v_out, h_out, i_out, a_out,
                      store_v, store_h, store_i, store_a):
    """Forward scan of task ``k = b*D + d``; ``i_run``/``v_run`` hold the initial state and are
    advanced in place; ``a_last[k]`` receives the final astrocyte state."""
    T = x.shape[0]
    b = k // D
    d = k - b * D
    zero, one = consts[0], consts[1]
    a = a0[k]
    for t in range(T):
        c = calcium(a, aprm[A_K, d])
        g = one + aprm[A_KG, d] * c
        cur = aprm[A_KI, d] * c
        dth = aprm[A_KTH, d] * c
        cnt = zero
        for m in range(ptr[d], ptr[d + 1]):
            f = idx[m]
            j = b * F + f
            i_n, h, v_n, s = modulated_step(x[t, j], i_run[j], v_run[j], g, cur, dth, prm, f, reset,
                                            ge, has_syn, one, zero)
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
        gamma = aprm[A_GAMMA, d]
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
    b = k // D
    d = k - b * D
    zero, one = consts[0], consts[1]
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
        dth_prev = zero
        if need_pgrad and t > 0:
            dth_prev = kth * calcium(a_seq[t - 2, k] if t > 1 else a0[k], K)
        cnt = zero
        for m in range(lo, hi):
            f = idx[m]
            cnt += fires(h_seq[t, b * F + f], prm[lif_math.P_TH, f] + dth, ge, one, zero)
        da = da_c + (g_a[t, k] if has_g_a else zero)
        d_gamma += da * (a_prev - cnt * inv_m[d])
        dr = da * (one - gamma) * inv_m[d]
        dc = zero
        for m in range(lo, hi):
            f = idx[m]
            j = b * F + f
            xt = x[t, j]
            dxv, dv_p, di_p, dcn, dxe, dh, di, dtheta, dv, s, xe = modulated_backward(
                (g_s[t, j] if has_g_s else zero) + dr, g_v[t, j] if has_g_v else zero,
                g_i[t, j] if has_g_i else zero, h_seq[t, j], xt, g, cur, dth, kg, ki, kth, dv_c[j],
                di_c[j] if has_syn else zero, prm, f, consts, ge, sg_kind, reset, has_syn)
            dv_c[j] = dv_p
            if has_syn:
                di_c[j] = di_p
            dx[t, j] = dxv
            dc += dcn
            d_kg += dxe * xt * c
            d_ki += dxe * c
            d_kth += dtheta * c
            if need_pgrad:
                neuron_param_grads(t, j, f, dh, di, dtheta, dv, s, xe, dth_prev, prm, v0, i0, h_seq,
                                   i_seq, consts, ge, reset, has_syn, d_prm)
        dc_da, dc_dK = calcium_grads(a_prev, K, one)
        d_K += dc * dc_dK
        da_c = gamma * da + dc * dc_da
    d_a0[k] = da_c
    d_aprm[A_GAMMA, k] = d_gamma
    d_aprm[A_K, k] = d_K
    d_aprm[A_KG, k] = d_kg
    d_aprm[A_KTH, k] = d_kth
    d_aprm[A_KI, k] = d_ki


# --------------------------------------------------------------------------------------------
# Layout 2: one sample, neurons in memory order, per-domain values in scratch (CPU: one task each)


def domain_modulation(a, aprm, D, one, c_loc, g_loc, cur_loc, dth_loc):
    """Per domain: calcium of the astrocyte states ``a[d]`` and the three modulations."""
    for d in range(D):
        c = calcium(a[d], aprm[A_K, d])
        c_loc[d] = c
        g_loc[d] = one + aprm[A_KG, d] * c
        cur_loc[d] = aprm[A_KI, d] * c
        dth_loc[d] = aprm[A_KTH, d] * c


def amsu_forward_sample(b, x, prm, aprm, of, inv_m, consts, ge, reset, has_syn, F, D,
                        a0, i_run, v_run, a_last, s_out, v_out, h_out, i_out, a_out,
                        store_v, store_h, store_i, store_a, scratch, per_neuron):
    """Forward scan of sample ``b`` (same outputs as :func:`amsu_forward_task` for its domains);
    ``scratch [6, D]`` and ``per_neuron [3, F]`` work rows."""
    T = x.shape[0]
    zero, one = consts[0], consts[1]
    a_loc, c_loc, g_loc, cur_loc, dth_loc, cnt = (scratch[0], scratch[1], scratch[2], scratch[3],
                                                  scratch[4], scratch[5])
    g_n, cur_n, dth_n = per_neuron[0], per_neuron[1], per_neuron[2]
    for d in range(D):
        a_loc[d] = a0[b * D + d]
    for t in range(T):
        domain_modulation(a_loc, aprm, D, one, c_loc, g_loc, cur_loc, dth_loc)
        for d in range(D):
            cnt[d] = zero
        for f in range(F):  # the modulations of every neuron, so the next loop is contiguous
            d = of[f]
            g_n[f] = g_loc[d]
            cur_n[f] = cur_loc[d]
            dth_n[f] = dth_loc[d]
        base = b * F
        xr = x[t, base:base + F]
        sr = s_out[t, base:base + F]
        for f in range(F):
            j = base + f
            i_n, h, v_n, s = modulated_step(xr[f], i_run[j], v_run[j], g_n[f], cur_n[f],
                                            dth_n[f], prm, f, reset, ge, has_syn, one, zero)
            v_run[j] = v_n
            if has_syn:
                i_run[j] = i_n
            sr[f] = s
            if store_v:
                v_out[t, j] = v_n
            if store_h:
                h_out[t, j] = h
            if store_i:
                i_out[t, j] = i_n
        for f in range(F):
            cnt[of[f]] += sr[f]
        for d in range(D):
            gamma = aprm[A_GAMMA, d]
            a_loc[d] = gamma * a_loc[d] + (one - gamma) * (cnt[d] * inv_m[d])
            if store_a:
                a_out[t, b * D + d] = a_loc[d]
    for d in range(D):
        a_last[b * D + d] = a_loc[d]


def amsu_backward_sample(b, x, prm, aprm, of, inv_m, consts, ge, sg_kind, reset, has_syn,
                         need_pgrad, F, D, a0, i0, v0, h_seq, i_seq, a_seq, g_s, has_g_s, g_v,
                         has_g_v, g_i, has_g_i, g_a, has_g_a, dv_c, di_c, da_last, dx, d_a0, d_prm,
                         d_aprm, scratch):
    """Reverse-time scan of sample ``b`` (as :func:`amsu_backward_task` for its domains);
    ``scratch [10, D]`` work rows."""
    T = x.shape[0]
    zero, one = consts[0], consts[1]
    a_prev, c_loc, g_loc, cur_loc, dth_loc, cnt = (scratch[0], scratch[1], scratch[2], scratch[3],
                                                   scratch[4], scratch[5])
    da_loc, dr_loc, dc_loc, dth_prev = scratch[6], scratch[7], scratch[8], scratch[9]
    kb = b * D
    for d in range(D):
        da_loc[d] = da_last[kb + d]
        for r in range(N_ASTRO_PARAMS):
            d_aprm[r, kb + d] = zero
    for t in range(T - 1, -1, -1):
        for d in range(D):
            a_prev[d] = a_seq[t - 1, kb + d] if t > 0 else a0[kb + d]
            dth_prev[d] = zero
            if need_pgrad and t > 0:
                dth_prev[d] = aprm[A_KTH, d] * calcium(a_seq[t - 2, kb + d] if t > 1 else a0[kb + d],
                                                       aprm[A_K, d])
            cnt[d] = zero
            dc_loc[d] = zero
        domain_modulation(a_prev, aprm, D, one, c_loc, g_loc, cur_loc, dth_loc)
        for f in range(F):
            d = of[f]
            cnt[d] += fires(h_seq[t, b * F + f], prm[lif_math.P_TH, f] + dth_loc[d], ge, one, zero)
        for d in range(D):
            da = da_loc[d] + (g_a[t, kb + d] if has_g_a else zero)
            da_loc[d] = da
            d_aprm[A_GAMMA, kb + d] += da * (a_prev[d] - cnt[d] * inv_m[d])
            dr_loc[d] = da * (one - aprm[A_GAMMA, d]) * inv_m[d]
        for f in range(F):
            d = of[f]
            j = b * F + f
            xt = x[t, j]
            dxv, dv_p, di_p, dcn, dxe, dh, di, dtheta, dv, s, xe = modulated_backward(
                (g_s[t, j] if has_g_s else zero) + dr_loc[d], g_v[t, j] if has_g_v else zero,
                g_i[t, j] if has_g_i else zero, h_seq[t, j], xt, g_loc[d], cur_loc[d], dth_loc[d],
                aprm[A_KG, d], aprm[A_KI, d], aprm[A_KTH, d], dv_c[j], di_c[j] if has_syn else zero,
                prm, f, consts, ge, sg_kind, reset, has_syn)
            dv_c[j] = dv_p
            if has_syn:
                di_c[j] = di_p
            dx[t, j] = dxv
            dc_loc[d] += dcn
            c = c_loc[d]
            d_aprm[A_KG, kb + d] += dxe * xt * c
            d_aprm[A_KI, kb + d] += dxe * c
            d_aprm[A_KTH, kb + d] += dtheta * c
            if need_pgrad:
                neuron_param_grads(t, j, f, dh, di, dtheta, dv, s, xe, dth_prev[d], prm, v0, i0, h_seq,
                                   i_seq, consts, ge, reset, has_syn, d_prm)
        for d in range(D):
            dc_da, dc_dK = calcium_grads(a_prev[d], aprm[A_K, d], one)
            d_aprm[A_K, kb + d] += dc_loc[d] * dc_dK
            da_loc[d] = aprm[A_GAMMA, d] * da_loc[d] + dc_loc[d] * dc_da
    for d in range(D):
        d_a0[kb + d] = da_loc[d]


# The shared scalar steps; amsu_cpu / amsu_cuda rebind these names (retarget) to each target's
# compiled versions, and plain Python runs them as they are.
lif_forward_step = lif_math.lif_forward_step
lif_backward_step = lif_math.lif_backward_step
lif_param_grads = lif_math.lif_param_grads
fires = lif_math.fires
after_reset = lif_math.after_reset
surrogate_grad = surrogate_math.surrogate_grad
