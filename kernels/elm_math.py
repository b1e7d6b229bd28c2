r"""Scalar pieces of the Expressive Leaky Memory (ELM) neuron shared by the CPU and CUDA kernels.

ELM (Spieler et al., ICLR 2024), one step with input :math:`x_t`, synapse traces :math:`s`,
branch inputs :math:`b`, memory :math:`m` (all vectors, :math:`\odot` elementwise)::

    s_t   = kappa_s * s_{t-1} + w_s * route(x_t)            (v1: one trace per synapse)
    b_t   = branch_sum(s_t)
    mp_t  = kappa_m * m_{t-1}                                (decayed previous memory)
    z_t   = MLP([b_t ; mp_t])        hidden layers act = ReLU or SiLU, linear output layer
    dm_t  = A * tanh(S * z_t)        A = 1.7159, S = 2/3     (LeCun's scaled tanh)
    m_t   = mp_t + c * dm_t          c = lam * (1 - kappa_m)  (v1)  |  1 - exp(-dt lam / tau_m)  (v2)
    y_t   = W_y m_t + b_y

v2 keeps the traces on branches instead: ``b_t = kappa_b * b_{t-1} + branch_sum(w_s * route(x_t))``.

The kernels split the first MLP layer ``W_1 [b ; mp] + b_1`` into an input part
``U_t = W_1b b_t + b_1`` (computed for all steps at once, a matrix product outside the recurrence)
and the recurrent part ``W_1m mp_t``, so the sequential kernel only runs the small matrices.

Numba pitfall: float32 arithmetic mixed with Python float literals promotes to float64, so all
constants arrive in a ``consts`` array (``CONSTS`` in the compute dtype), read by name (``C_*``).
:func:`compile_for` compiles the scalar functions for ``"cpu"`` or ``"cuda"``.
"""

import math
from functools import cache
from types import ModuleType

from ._jit import compile_math

ACT_RELU = 0
ACT_SILU = 1

C_ZERO, C_ONE, C_AMP, C_SLOPE, C_TWO, C_SMALL, C_THIRD, C_TWO_15THS = range(8)
N_CONSTS = 8
TANH_AMPLITUDE = 1.7159
TANH_SLOPE = 2.0 / 3.0
TANH_SERIES_BELOW = 2.0 ** -10
CONSTS = (0.0, 1.0, TANH_AMPLITUDE, TANH_SLOPE, 2.0, TANH_SERIES_BELOW, 1.0 / 3.0, 2.0 / 15.0)


def activation(z, kind, one, zero):
    """Hidden-layer nonlinearity: ``max(z, 0)`` (ReLU) or ``z * sigmoid(z)`` (SiLU)."""
    if kind == ACT_SILU:
        return z / (one + math.exp(-z))
    return z if z > zero else zero


def activation_grad(z, kind, one, zero):
    """Derivative of :func:`activation` at the pre-activation ``z`` (ReLU: 0 at ``z = 0``)."""
    if kind == ACT_SILU:
        sig = one / (one + math.exp(-z))
        return sig * (one + z * (one - sig))
    return one if z > zero else zero


def tanh(y, one, two, small, third, two_15ths):
    """``tanh(y)`` through one ``exp`` (several times cheaper than libm's ``tanh`` on the CPU).

    ``1 - 2 / (exp(2|y|) + 1)`` with the sign of ``y``; below ``small`` (2^-10) the series
    ``y (1 - y^2/3 + 2 y^4/15)`` avoids the cancellation (truncation error < 1e-19 relative).
    NaN stays NaN, +-inf gives +-1.
    """
    ay = abs(y)
    if ay < small:
        y2 = y * y
        return y * (one - y2 * (third - y2 * two_15ths))
    t = one - two / (math.exp(two * ay) + one)
    return -t if y < -y else t


def scaled_tanh(z, c):
    """Memory increment ``A * tanh(S * z)`` (``c`` the ``consts`` array, indices ``C_*``)."""
    return c[C_AMP] * tanh(c[C_SLOPE] * z, c[C_ONE], c[C_TWO], c[C_SMALL], c[C_THIRD], c[C_TWO_15THS])


def scaled_tanh_grad(value, amp, slope):
    """Derivative of :func:`scaled_tanh` from its value ``d = A tanh(S z)``: ``S (A - d^2 / A)``."""
    return slope * (amp - value * value / amp)


def memory_update(mp, c, delta):
    """``m_t = kappa_m m_{t-1} + c * dm_t`` given the decayed memory ``mp``."""
    return mp + c * delta


def trace_update(s, kappa, drive):
    """Leaky trace ``s_t = kappa * s_{t-1} + drive_t``."""
    return kappa * s + drive


def branch_task(n, n_branches, batch, n_synapses):
    """``(b, j, d)``: the batch element and branch of flat task ``n`` (``b = -1`` past the last task)
    and the synapses per branch."""
    b = n // n_branches
    d = n_synapses // n_branches
    if b >= batch:
        return -1, 0, d
    return b, n - b * n_branches, d


def memory_vectors(sh, memory, hidden):
    """The five vectors of the CUDA memory kernels' dynamic shared memory ``sh``: three of ``memory``
    elements, then two of ``hidden`` (``elm_cuda.memory_shared_bytes``)."""
    m3 = 3 * memory
    return (sh[0:memory], sh[memory:2 * memory], sh[2 * memory:m3], sh[m3:m3 + hidden],
            sh[m3 + hidden:m3 + 2 * hidden])


@cache
def compile_for(target: str) -> ModuleType:
    """This module's scalar functions compiled for ``target`` (``"cpu"`` or ``"cuda"``)."""
    return compile_math((activation, activation_grad, tanh, scaled_tanh, scaled_tanh_grad, memory_update,
                         trace_update, branch_task, memory_vectors), target)
