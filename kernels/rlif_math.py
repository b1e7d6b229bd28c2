r"""The recurrent LIF layer's step: a LIF-family neuron fed its own spikes of the previous step
through a weight matrix, as scalar functions shared by ``rlif_cpu`` and ``rlif_cuda``.

For batch row ``b`` and neuron ``n`` (``W [N, N]``, ``bias [N]``, ``s_{-1}`` the given previous
output, 0 from rest)::

    r_t[n]  = (sum over j with s_{t-1}[j] != 0, ascending, of W[n, j] s_{t-1}[j]) + bias[n]
    x'_t[n] = x_t[n] + r_t[n]
    (i, h, v, a, s)_t = lif_forward_step(x'_t, ...)           (``lif_math``, unchanged)

which is ``neuro.nn.Recurrent``'s ``x_t + recurrent(s_{t-1})`` with ``recurrent = nn.Linear(N, N)``
(NIR's one-step cycle semantics). Spikes are 0 or 1, so ``W[n, j] s_j`` is ``W[n, j]`` or 0 and the
recurrent sum only visits the neurons that spiked (event-driven); a given previous output ``s_{-1}``
that is not 0/1 is weighted, as the matrix product would. Backward (exact BPTT) adds to the
spike gradient of step ``t - 1`` the recurrence's share ``ds_{t-1}[j] = sum_n W[n, j] dx'_t[n]``
(ascending ``n``); ``dW`` and ``dbias`` are one matrix product of ``dx'`` with the shifted spikes,
done by the host.

**Against the Python-stepped layer.** Every operation is the Python layer's except the order of
the recurrent sum, which torch's matrix product chooses (blocked, vectorised). Where every partial
sum is exact — e.g. weights on a grid of ``2^-k`` with few enough spiking inputs — the two are
bit-identical (spikes, states, and gradients up to autograd's own summation order). Otherwise the
sums differ by rounding: ``|r_fused - r_torch| <= (m - 1) u sum_j |W[n, j]|`` for ``m`` spiking
inputs and unit roundoff ``u`` (``2^-24`` float32, ``2^-53`` float64), and a neuron within that
distance of its threshold can fire one step apart. CPU and CUDA kernels sum in the same order:
they are bit-identical to each other.
"""

from __future__ import annotations

from functools import cache
from types import ModuleType

from . import lif_math
from ._jit import compile_math
from .lif_math import fires, lif_backward_step, lif_param_grads, pending_reset, previous_membrane, threshold
from .surrogate_math import surrogate_grad


def spike_list(s, t, b, s0, idx, N):
    """Write into ``idx`` the neurons of row ``b`` that spiked at step ``t - 1`` (``s0`` at t = 0),
    ascending; returns their number."""
    count = 0
    for j in range(N):
        if previous_spike(s, t, b, s0, j) != 0:
            idx[count] = j
            count += 1
    return count


def previous_spike(s, t, b, s0, j):
    """The output of neuron ``(b, j)`` at step ``t - 1`` (``s0`` at t = 0)."""
    return s[t - 1, b, j] if t > 0 else s0[b, j]


def recurrent_sum(wt, idx, count, s, t, b, s0, n, zero):
    """``sum_k W[n, j_k] s_{t-1}[j_k]`` over the listed neurons ``j_k = idx[k]``, in list order, from
    ``wt = W.T`` (a spike is 1, so its term is ``W[n, j]`` exactly; another value is weighted)."""
    r = zero
    for k in range(count):
        j = idx[k]
        r += wt[j, n] * previous_spike(s, t, b, s0, j)
    return r


def neuron_backward(t, b, n, g_spike, seqs, grads, state0, carry, k, st, keep, sg_kind, sg_a, sg_b,
                    need_pgrad, one, zero):
    """The reverse step of neuron ``(b, n)`` at step ``t`` (``lif_cuda``'s, on ``[T, B, N]`` arrays).

    ``seqs = (xp, h, i_seq, a_seq)`` (the total input, the pre-reset membrane, current, adaptation
    of the forward; absent ones 1x1x1), ``grads = (g_v, g_i, g_a, has_gv, has_gi, has_ga)``,
    ``state0 = (i0, v0, a0)`` ``[B, N]``; ``g_spike`` the spike gradient of this step (output plus
    recurrence). Returns ``(dx', carry, coefficient gradients)``.
    """
    xp, h_seq, i_seq, a_seq = seqs
    g_v, g_i, g_a, has_gv, has_gi, has_ga = grads
    i0, v0, a0 = state0
    a_prev = zero
    if st.has_adapt:
        a_prev = a_seq[t - 1, b, n] if t > 0 else a0[b, n]
    theta = threshold(k.th, k.ba, a_prev, st.has_adapt)
    h = h_seq[t, b, n]
    s = fires(h, theta, st.ge, one, zero)
    sg = surrogate_grad(sg_kind, sg_a, sg_b, h - theta, one, zero)
    gv = g_v[t, b, n] if has_gv else zero
    gi = g_i[t, b, n] if has_gi else zero
    ga = g_a[t, b, n] if has_ga else zero
    dxv, back, g = lif_backward_step(g_spike, gv, gi, ga, h, theta, s, sg, carry, k, st, keep, one, zero)
    carry = lif_math.LIFCarry(back.dv, back.di if st.has_syn else carry.di,
                              back.da if st.has_adapt else carry.da, back.dh)
    d = lif_math.LIFCoefficients(zero, zero, zero, zero, zero, zero, zero, zero, zero)
    if need_pgrad:
        if t > 0:
            a_pp = zero
            if st.has_adapt:
                a_pp = a_seq[t - 2, b, n] if t > 1 else a0[b, n]
            v_p, s_p = previous_membrane(h_seq[t - 1, b, n], k, a_pp, st, one, zero)
            i_p = i_seq[t - 1, b, n] if st.has_syn else xp[t - 1, b, n]
        else:
            v_p = v0[b, n]
            s_p = pending_reset(v_p, k, st, one, zero)
            i_p = i0[b, n]
        i_t = i_seq[t, b, n] if st.has_syn else xp[t, b, n]
        d = lif_param_grads(g, s, xp[t, b, n], i_t, i_p, v_p, s_p, a_prev, st, zero)
    return dxv, carry, d


STEP_FUNCTIONS = (previous_spike, spike_list, recurrent_sum, neuron_backward)


@cache
def compile_for(target: str) -> ModuleType:
    """The recurrent helpers compiled for ``target`` with ``lif_math``'s step functions."""
    return compile_math(STEP_FUNCTIONS, target, lif_math.compile_for(target))
