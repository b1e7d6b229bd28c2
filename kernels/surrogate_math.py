"""Surrogate-gradient derivatives as scalar functions shared by the CPU and CUDA kernels.

Every surrogate is described by an integer kind and two coefficients ``(a, b)`` computed once by
:mod:`neuro.surrogate` in the kernel's dtype, so the kernels never mix float64 literals into
float32 arithmetic. With ``z = v - threshold`` the derivative used in place of ``H'(z)`` is:

=========  =====================================  ==========================
kind       derivative                             coefficients
=========  =====================================  ==========================
ATAN       a / (1 + (b z)^2)                      a = alpha/2, b = pi*alpha/2
FAST_SIG   a / (1 + b abs(z))^2   (SuperSpike)    a = 1, b = slope
SIGMOID    a * sig(b z) * (1 - sig(b z))          a = slope, b = slope
TRIANGLE   a * max(0, 1 - b abs(z))               a = slope, b = slope
STRAIGHT   a                                      a = 1
PW_QUAD    max(0, a abs(z) + b)  (SpikingJelly)   a = -alpha^2, b = alpha
ERF        a * exp(-(b z)^2)  (Gaussian)          a = alpha/sqrt(pi), b = alpha
LEAKY      a if z >= 0 else b (leaky ReLU)        a = k, b = leak
=========  =====================================  ==========================

``PW_QUAD`` is SpikingJelly's ``PiecewiseQuadratic`` (``alpha - alpha^2 |z|`` inside
``|z| <= 1/alpha``, else 0; the clamp at 0 decides the edge, where the value is 0 to rounding);
``ERF`` its ``Erf`` (the derivative of ``erfc(-alpha z) / 2``: a Gaussian, also
:class:`neuro.surrogate.Gaussian` with ``alpha = 1 / (sqrt(2) sigma)``); ``LEAKY`` its
``LeakyKReLU``. A kind the kernels do not know (``-1``: a user-defined surrogate) never reaches
these functions: the ops that accept one evaluate its torch ``derivative`` instead.
"""

import math
from functools import cache
from types import ModuleType

ATAN = 0
FAST_SIGMOID = 1
SIGMOID = 2
TRIANGLE = 3
STRAIGHT_THROUGH = 4
PIECEWISE_QUADRATIC = 5
ERF = 6
LEAKY_RELU = 7


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
    if kind == PIECEWISE_QUADRATIC:
        return max(zero, a * abs(z) + b)
    if kind == ERF:
        bz = b * z
        return a * math.exp(-(bz * bz))
    if kind == LEAKY_RELU:
        return a if z >= zero else b
    return a


def fill_row(kind, a, b, z, out, m, one, zero):
    """``out[j] = surrogate_grad(kind, a, b, z[j])`` for ``j < m``."""
    for j in range(m):
        out[j] = surrogate_grad(kind, a, b, z[j], one, zero)


def surrogate_grad_row(kind, a, b, z, out, m, one, zero):
    """:func:`fill_row` with the branch on ``kind`` outside the loop: each call passes a constant
    kind, so once the scalar function is inlined every loop is branch-free and vectorises."""
    if kind == ATAN:
        fill_row(ATAN, a, b, z, out, m, one, zero)
    elif kind == FAST_SIGMOID:
        fill_row(FAST_SIGMOID, a, b, z, out, m, one, zero)
    elif kind == SIGMOID:
        fill_row(SIGMOID, a, b, z, out, m, one, zero)
    elif kind == TRIANGLE:
        fill_row(TRIANGLE, a, b, z, out, m, one, zero)
    elif kind == PIECEWISE_QUADRATIC:
        fill_row(PIECEWISE_QUADRATIC, a, b, z, out, m, one, zero)
    elif kind == ERF:
        fill_row(ERF, a, b, z, out, m, one, zero)
    elif kind == LEAKY_RELU:
        fill_row(LEAKY_RELU, a, b, z, out, m, one, zero)
    else:
        fill_row(STRAIGHT_THROUGH, a, b, z, out, m, one, zero)


@cache
def compile_for(target: str) -> ModuleType:
    """``surrogate_grad``, ``fill_row`` and ``surrogate_grad_row`` compiled for ``target`` (``"cpu"``
    or ``"cuda"``).

    On the CPU ``surrogate_grad_row`` is a separate (not inlined) function compiled with Numba's
    ``error_model="numpy"``: its divisions then need no zero check, so its loops vectorise.
    """
    from ._jit import compile_math

    overrides = {}
    if target == "cpu":
        from numba import njit

        overrides["surrogate_grad_row"] = njit(cache=True, error_model="numpy")
    return compile_math((surrogate_grad, fill_row, surrogate_grad_row), target, jit_overrides=overrides)
