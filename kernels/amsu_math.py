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
``lif_backward_step``): :func:`compile_for` compiles this module's functions against
``lif_math.compile_for(target)``, and this module only adds the domain recurrence around it
(:func:`modulated_step`, :func:`modulated_backward`). The reverse-time scan walks back through the
stored pre-reset membrane ``h`` and astrocyte trace; per step and domain::

    dL/da_t   += (carry from t+1) + external gradient of a_t
    dL/ds_t[f] += (1 - gamma) inv_m dL/da_t                           (spike -> astrocyte)
    dL/dc_t    = sum_f [dL/dx'_f (kappa_g x_f + kappa_I) + dL/dth'_f kappa_th]
    dL/da_{t-1} = gamma dL/da_t + dL/dc_t * 2 a K^2 / (a^2 + K^2)^2

Two layouts of the same scan: ``*_task`` walks one domain of one sample (its members through the
CSR table ``ptr, idx``; one GPU thread each), ``*_sample`` walks all neurons of one sample in
order (contiguous memory, per-domain values in small scratch arrays; one CPU task each).

Arrays: ``x [T, B*F]`` (sample ``b``, neuron ``f`` at column ``b*F + f``); ``prm [9, F]`` LIF
coefficients per neuron (rows ``lif_math.P_*``); ``aprm [5, D]``; ``tables = (ptr, idx, of)``
(``of [F]`` each neuron's domain), ``inv_m [D]``; states ``i, v [B*F]``, ``a [B*D]`` (domain ``d``
of sample ``b`` at ``k = b*D + d``). Tuples group what travels together: ``run = (i_run, v_run)``
(the running state, advanced in place), ``seqs = (s_out, h_out, v_out, i_out, a_out)`` with
``store = (store_s, store_h, store_v, store_i, store_a)`` (as ``lif_math.record_step``; the spikes are
always stored, ``a_out [T, B*D]`` is the astrocyte trace), ``state0 = (i0, v0, a0)``, ``saved = (h_seq,
i_seq, a_seq)``, ``grads = (g_s, g_v, g_i, g_a)`` with ``has_grads``, ``carry = (dv_c, di_c)``.
Optional arrays are 1x1 placeholders with a boolean flag, so the same code runs on the CPU and on a
GPU. ``consts = [0, 1, keep_reset, sg_a, sg_b]`` in the compute dtype; ``st`` is the neuron's
``lif_math.LIFStructure`` (no adaptation, spiking). Each forward returns ``(bad_x, bad_state)``:
sums of ``value * 0`` over the inputs and initial states it read, NaN iff one was NaN or inf.
"""

from functools import cache
from types import ModuleType
from typing import NamedTuple

from . import lif_math
from .lif_math import (
    LIFCarry,
    accumulate_column,
    after_reset,
    fires,
    lif_backward_step,
    lif_forward_step,
    lif_param_grads,
    load_coefficients,
    record_step,
    with_threshold,
)
from .surrogate_math import surrogate_grad

A_GAMMA, A_K, A_KG, A_KTH, A_KI = range(5)
N_ASTRO_PARAMS = 5


class Modulation(NamedTuple):
    """What a domain does to its neurons in one step: calcium ``c``, gain ``g = 1 + kappa_g c``,
    current ``cur = kappa_I c``, threshold shift ``dth = kappa_th c``, and the couplings."""

    c: float
    g: float
    cur: float
    dth: float
    kg: float
    ki: float
    kth: float


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


def modulation(a, aprm, d, one):
    """The :class:`Modulation` of domain ``d`` whose astrocyte state (of the previous step) is ``a``."""
    kg, ki, kth = aprm[A_KG, d], aprm[A_KI, d], aprm[A_KTH, d]
    c = calcium(a, aprm[A_K, d])
    return Modulation(c, one + kg * c, ki * c, kth * c, kg, ki, kth)


def astrocyte_update(a, count, gamma, inv_m, one):
    """``a_t = gamma a_{t-1} + (1 - gamma) * mean spike`` of a domain (``count`` spikes, ``inv_m =
    1 / size``)."""
    return gamma * a + (one - gamma) * (count * inv_m)


def modulated_step(xt, i, v, g, cur, dth, k, st, one, zero):
    """The LIF step of a neuron with coefficients ``k`` on the modulated input ``g x + cur`` and
    threshold ``th + dth``; returns ``(i, h, v, s)``."""
    i_n, h, v_n, a_n, s = lif_forward_step(g * xt + cur, i, v, zero, zero,
                                           with_threshold(k, k.th + dth), st, one, zero)
    return i_n, h, v_n, s


def neuron_forward(t, j, xt, g, cur, dth, k, st, run, seqs, store, one, zero):
    """:func:`modulated_step` of element ``j`` at step ``t``: advances ``run`` in place, writes the
    spike and the recorded sequences; returns the spike."""
    i_run, v_run = run
    i_n, h, v_n, s = modulated_step(xt, i_run[j], v_run[j], g, cur, dth, k, st, one, zero)
    v_run[j] = v_n
    if st.has_syn:
        i_run[j] = i_n
    # the astrocyte trace (seqs[4], per domain) is written by the domain's loop
    record_step(seqs, (store[0], store[1], store[2], store[3], False), t, j, s, h, v_n, i_n, zero)
    return s


def modulated_backward(gs, gv_ext, gi_ext, h, xt, md, dv_c, di_c, k, st, consts, sg_kind):
    """Reverse step of a neuron under the domain modulation ``md`` (``gs`` includes the astrocyte's
    share of the spike gradient).

    Returns ``(dx, carry, grads, dc, dx', s, x')``: the :class:`~lif_math.LIFCarry` into the previous
    step, the :class:`~lif_math.LIFStepGrads` for :func:`neuron_param_grads`, ``dc`` this neuron's
    contribution to ``dL/dc`` of its domain and ``dx'`` the gradient of the modulated input
    (coupling gradients ``dL/dkappa_g = dx' x c``, ``dL/dkappa_I = dx' c``).
    """
    zero, one, keep, sg_a, sg_b = consts[0], consts[1], consts[2], consts[3], consts[4]
    xe = md.g * xt + md.cur
    th = k.th + md.dth
    s = fires(h, th, st.ge, one, zero)
    sg = surrogate_grad(sg_kind, sg_a, sg_b, h - th, one, zero)
    dxe, back, g = lif_backward_step(gs, gv_ext, gi_ext, zero, h, th, s, sg,
                                     LIFCarry(dv_c, di_c, zero, zero), with_threshold(k, th), st,
                                     keep, one, zero)
    return dxe * md.g, back, g, dxe * (md.kg * xt + md.ki) + g.dtheta * md.kth, dxe, s, xe


def neuron_param_grads(t, j, g, s, xe, dth_prev, k, state0, saved, st, one, zero):
    """Step ``t``'s LIF-coefficient gradients of element ``j`` (a ``LIFCoefficients`` record);
    ``dth_prev`` is the threshold modulation of step ``t - 1`` (to rebuild ``v_{t-1}``)."""
    h_seq, i_seq, _ = saved
    if t > 0:
        th_p = k.th + dth_prev
        h_p = h_seq[t - 1, j]
        s_p = fires(h_p, th_p, st.ge, one, zero)
        v_p = after_reset(h_p, th_p, s_p, k.vr, st.reset, one)
        i_p = i_seq[t - 1, j] if st.has_syn else zero
    else:
        v_p = state0[1][j]
        s_p = zero
        i_p = state0[0][j]
    i_t = i_seq[t, j] if st.has_syn else xe
    return lif_param_grads(g, s, xe, i_t, i_p, v_p, s_p, zero, st, zero)


def neuron_backward(t, j, k, extra_gs, md, dth_prev, x, st, consts, sg_kind, need_pgrad, state0,
                    saved, grads, has_grads, carry, dx, d_prm):
    """Reverse step of element ``j`` (coefficients ``k``) at step ``t``: updates ``carry`` and
    ``dx`` in place, adds the coefficient gradients to ``d_prm`` (``need_pgrad``); returns
    ``(dc, dx', dtheta, x_t)`` for the domain's gradients."""
    zero, one = consts[0], consts[1]
    g_s, g_v, g_i, _ = grads
    has_g_s, has_g_v, has_g_i, _ = has_grads
    dv_c, di_c = carry
    xt = x[t, j]
    dxv, back, g, dc, dxe, s, xe = modulated_backward(
        (g_s[t, j] if has_g_s else zero) + extra_gs, g_v[t, j] if has_g_v else zero,
        g_i[t, j] if has_g_i else zero, saved[0][t, j], xt, md, dv_c[j],
        di_c[j] if st.has_syn else zero, k, st, consts, sg_kind)
    dv_c[j] = back.dv
    if st.has_syn:
        di_c[j] = back.di
    dx[t, j] = dxv
    if need_pgrad:
        accumulate_column(d_prm, j, neuron_param_grads(t, j, g, s, xe, dth_prev, k, state0, saved, st,
                                                       one, zero))
    return dc, dxe, g.dtheta, xt


# --------------------------------------------------------------------------------------------
# Layout 1: one (sample, domain) task; members through the CSR table (GPU: one thread each)


def amsu_forward_task(k, x, prm, aprm, tables, inv_m, consts, st, F, D, a0, run, a_last, seqs, store):
    """Forward scan of task ``k = b*D + d``: advances ``run`` of its members in place, writes
    ``a_last[k]``; returns ``(bad_x, bad_state)``."""
    T = x.shape[0]
    b = k // D
    d = k - b * D
    ptr, idx, _ = tables
    zero, one = consts[0], consts[1]
    a = a0[k]
    bad_state = a * zero
    for m in range(ptr[d], ptr[d + 1]):
        j = b * F + idx[m]
        bad_state += run[0][j] * zero + run[1][j] * zero
    bad_x = zero
    for t in range(T):
        md = modulation(a, aprm, d, one)
        cnt = zero
        for m in range(ptr[d], ptr[d + 1]):
            f = idx[m]
            j = b * F + f
            xt = x[t, j]
            bad_x += xt * zero
            cnt += neuron_forward(t, j, xt, md.g, md.cur, md.dth, load_coefficients(prm, f), st, run,
                                  seqs, store, one, zero)
        a = astrocyte_update(a, cnt, aprm[A_GAMMA, d], inv_m[d], one)
        if store[4]:
            seqs[4][t, k] = a
    a_last[k] = a
    return bad_x, bad_state


def amsu_backward_task(k, x, prm, aprm, tables, inv_m, consts, st, sg_kind, need_pgrad, F, D,
                       state0, saved, grads, has_grads, carry, da_last, dx, d_a0, d_prm, d_aprm):
    """Reverse-time scan of task ``k`` (exact BPTT through the surrogate).

    ``carry = (dv_c, di_c)`` start as the gradients of the final ``v``/``i`` and end as those of the
    initial state; ``d_prm [9, B*F]`` (zeroed by the caller) accumulates per-element LIF coefficient
    gradients when ``need_pgrad``; ``d_aprm [5, B*D]`` receives the task's astrocyte parameter
    gradients and ``d_a0[k]`` that of its initial astrocyte state.
    """
    T = x.shape[0]
    b = k // D
    d = k - b * D
    ptr, idx, _ = tables
    a0 = state0[2]
    a_seq = saved[2]
    zero, one = consts[0], consts[1]
    gamma, K = aprm[A_GAMMA, d], aprm[A_K, d]
    lo, hi = ptr[d], ptr[d + 1]
    da_c = da_last[k]
    d_gamma = zero
    d_K = zero
    d_kg = zero
    d_kth = zero
    d_ki = zero
    for t in range(T - 1, -1, -1):
        a_prev = a_seq[t - 1, k] if t > 0 else a0[k]
        md = modulation(a_prev, aprm, d, one)
        dth_prev = zero
        if need_pgrad and t > 0:
            dth_prev = md.kth * calcium(a_seq[t - 2, k] if t > 1 else a0[k], K)
        cnt = zero
        for m in range(lo, hi):
            f = idx[m]
            cnt += fires(saved[0][t, b * F + f], prm[lif_math.P_TH, f] + md.dth, st.ge, one, zero)
        da = da_c + (grads[3][t, k] if has_grads[3] else zero)
        d_gamma += da * (a_prev - cnt * inv_m[d])
        dr = da * (one - gamma) * inv_m[d]
        dc = zero
        for m in range(lo, hi):
            f = idx[m]
            dcn, dxe, dtheta, xt = neuron_backward(t, b * F + f, load_coefficients(prm, f), dr, md,
                                                   dth_prev, x, st, consts, sg_kind, need_pgrad,
                                                   state0, saved, grads, has_grads, carry, dx, d_prm)
            dc += dcn
            d_kg += dxe * xt * md.c
            d_ki += dxe * md.c
            d_kth += dtheta * md.c
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


def domain_rows(scratch):
    """The first six work rows of a per-domain scratch table: ``(state, calcium, gain, current,
    threshold shift, spike count)`` per domain."""
    return scratch[0], scratch[1], scratch[2], scratch[3], scratch[4], scratch[5]


def domain_modulation(a, aprm, D, one, c_loc, g_loc, cur_loc, dth_loc):
    """Per domain: calcium of the astrocyte states ``a[d]`` and the three modulations."""
    for d in range(D):
        md = modulation(a[d], aprm, d, one)
        c_loc[d] = md.c
        g_loc[d] = md.g
        cur_loc[d] = md.cur
        dth_loc[d] = md.dth


def amsu_forward_sample(b, x, prm, aprm, tables, inv_m, consts, st, F, D, a0, run, a_last, seqs,
                        store, scratch, per_neuron):
    """Forward scan of sample ``b`` (same outputs as :func:`amsu_forward_task` for its domains);
    ``scratch [6, D]`` and ``per_neuron [4, F]`` work rows. Returns ``(bad_x, bad_state)``."""
    T = x.shape[0]
    of = tables[2]
    zero, one = consts[0], consts[1]
    a_loc, c_loc, g_loc, cur_loc, dth_loc, cnt = domain_rows(scratch)
    g_n, cur_n, dth_n, lacc = per_neuron[0], per_neuron[1], per_neuron[2], per_neuron[3]
    base = b * F
    bad_state = zero
    for d in range(D):
        a_loc[d] = a0[b * D + d]
        bad_state += a_loc[d] * zero
    for f in range(F):  # per-lane sums of value * 0 (a scalar sum would not vectorise)
        lacc[f] = run[0][base + f] * zero + run[1][base + f] * zero
    for f in range(F):
        bad_state += lacc[f]
        lacc[f] = zero
    s_out = seqs[0]
    for t in range(T):
        domain_modulation(a_loc, aprm, D, one, c_loc, g_loc, cur_loc, dth_loc)
        for d in range(D):
            cnt[d] = zero
        for f in range(F):  # the modulations of every neuron, so the next loop is contiguous
            d = of[f]
            g_n[f] = g_loc[d]
            cur_n[f] = cur_loc[d]
            dth_n[f] = dth_loc[d]
        for f in range(F):
            xt = x[t, base + f]
            lacc[f] += xt * zero
            neuron_forward(t, base + f, xt, g_n[f], cur_n[f], dth_n[f], load_coefficients(prm, f), st,
                           run, seqs, store, one, zero)
        for f in range(F):
            cnt[of[f]] += s_out[t, base + f]
        for d in range(D):
            a_loc[d] = astrocyte_update(a_loc[d], cnt[d], aprm[A_GAMMA, d], inv_m[d], one)
            if store[4]:
                seqs[4][t, b * D + d] = a_loc[d]
    for d in range(D):
        a_last[b * D + d] = a_loc[d]
    bad_x = zero
    for f in range(F):
        bad_x += lacc[f]
    return bad_x, bad_state


def amsu_backward_sample(b, x, prm, aprm, tables, inv_m, consts, st, sg_kind, need_pgrad, F, D,
                         state0, saved, grads, has_grads, carry, da_last, dx, d_a0, d_prm, d_aprm,
                         scratch):
    """Reverse-time scan of sample ``b`` (as :func:`amsu_backward_task` for its domains);
    ``scratch [10, D]`` work rows."""
    T = x.shape[0]
    of = tables[2]
    a0 = state0[2]
    a_seq = saved[2]
    zero, one = consts[0], consts[1]
    a_prev, c_loc, g_loc, cur_loc, dth_loc, cnt = domain_rows(scratch)
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
            cnt[d] += fires(saved[0][t, b * F + f], prm[lif_math.P_TH, f] + dth_loc[d], st.ge, one, zero)
        for d in range(D):
            da = da_loc[d] + (grads[3][t, kb + d] if has_grads[3] else zero)
            da_loc[d] = da
            d_aprm[A_GAMMA, kb + d] += da * (a_prev[d] - cnt[d] * inv_m[d])
            dr_loc[d] = da * (one - aprm[A_GAMMA, d]) * inv_m[d]
        for f in range(F):
            d = of[f]
            c = c_loc[d]
            md = Modulation(c, g_loc[d], cur_loc[d], dth_loc[d], aprm[A_KG, d], aprm[A_KI, d],
                            aprm[A_KTH, d])
            dcn, dxe, dtheta, xt = neuron_backward(t, b * F + f, load_coefficients(prm, f), dr_loc[d], md,
                                                   dth_prev[d], x, st, consts, sg_kind, need_pgrad,
                                                   state0, saved, grads, has_grads, carry, dx, d_prm)
            dc_loc[d] += dcn
            d_aprm[A_KG, kb + d] += dxe * xt * c
            d_aprm[A_KI, kb + d] += dxe * c
            d_aprm[A_KTH, kb + d] += dtheta * c
        for d in range(D):
            dc_da, dc_dK = calcium_grads(a_prev[d], aprm[A_K, d], one)
            d_aprm[A_K, kb + d] += dc_loc[d] * dc_dK
            da_loc[d] = aprm[A_GAMMA, d] * da_loc[d] + dc_loc[d] * dc_da
    for d in range(D):
        d_a0[kb + d] = da_loc[d]


STEP_FUNCTIONS = (calcium, calcium_grads, modulation, astrocyte_update, modulated_step, neuron_forward,
                  modulated_backward, neuron_param_grads, neuron_backward, amsu_forward_task,
                  amsu_backward_task, domain_rows, domain_modulation, amsu_forward_sample,
                  amsu_backward_sample)


@cache
def compile_for(target: str) -> ModuleType:
    """This module's functions compiled for ``target`` (``"cpu"`` or ``"cuda"``) against
    ``lif_math.compile_for(target)``; one namespace holding both.

    On the CPU the per-sample bodies are separate functions (not inlined): ``amsu_cpu`` calls them
    from ``prange`` loops, whose parallel lowering mishandles a large inlined body.
    """
    from ._jit import compile_math

    overrides = {}
    if target == "cpu":
        from numba import njit

        overrides = {f.__name__: njit(cache=True) for f in (amsu_forward_sample, amsu_backward_sample)}
    return compile_math(STEP_FUNCTIONS, target, lif_math.compile_for(target), jit_overrides=overrides)
