"""Surrogate-gradient derivatives as scalar functions shared by the CPU and CUDA kernels.

Every surrogate is described by an integer kind and two coefficients ``(a, b)`` computed once by
:mod:`neuro.surrogate` in the kernel's dtype, so the kernels never mix float64 literals into
float32 arithmetic. With ``z = v - threshold`` the derivative used in place of ``H'(z)`` is:

=========  =====================================  ==========================
kind       derivative                             coefficients
=========  =====================================  ==========================
ATAN       a / (1 + (b z)^2)                      a = alpha/2, b = pi*alpha/2
FAST_SIG   a / (1 + b |z|)^2   (SuperSpike)       a = 1, b = slope
SIGMOID    a * sig(b z) * (1 - sig(b z))          a = slope, b = slope
TRIANGLE   a * max(0, 1 - b |z|)                  a = slope, b = slope
STRAIGHT   a                                      a = 1
=========  =====================================  ==========================
"""

import math

ATAN = 0
FAST_SIGMOID = 1
SIGMOID = 2
TRIANGLE = 3
STRAIGHT_THROUGH = 4


def surrogate_grad(kind, a, b, z, one, zero):
    """d spike / d z under the surrogate ``kind`` (see module docstring)."""
    if kind == ATAN:
        bz = b * z
        return a / (one + bz * bz)
    if kind == FAST_SIGMOID:
        d = one + b * abs(z)
        return a / (d * d)
    if kind == SIGMOID:
        sig = one / (one + math.exp(-(b * z)))
        return a * sig * (one - sig)
    if kind == TRIANGLE:
        return a * max(zero, one - b * abs(z))
    return a


def surrogate_grad_row(kind, a, b, z, out, m, one, zero):
    """``out[j] = surrogate_grad(kind, a, b, z[j])`` for ``j < m``, with the branch on ``kind``
    outside the loop (so each loop vectorises when the scalar function is inlined)."""
    if kind == ATAN:
        for j in range(m):
            out[j] = surrogate_grad(ATAN, a, b, z[j], one, zero)
    elif kind == FAST_SIGMOID:
        for j in range(m):
            out[j] = surrogate_grad(FAST_SIGMOID, a, b, z[j], one, zero)
    elif kind == SIGMOID:
        for j in range(m):
            out[j] = surrogate_grad(SIGMOID, a, b, z[j], one, zero)
    elif kind == TRIANGLE:
        for j in range(m):
            out[j] = surrogate_grad(TRIANGLE, a, b, z[j], one, zero)
    else:
        for j in range(m):
            out[j] = a
