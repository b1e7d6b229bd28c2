"""Synaptic delays as sparse taps: the index conventions and the scalar sums shared by all targets.

A delayed synaptic layer maps ``x[t, b, i]`` to::

    y[t, b, o] = sum_f sum_r coef[o, f*R + r] * x[t - delay[o, f*R + r], b, src[o, f]]

with ``x`` zero outside ``0 <= t < T``: every output ``o`` has ``F`` synapses (input ``src[o, f]``)
and every synapse ``R`` taps, each a coefficient at an integer delay in ``[0, D]``. A learnable
Gaussian delay (DCLS) is a synapse whose ``R`` taps are the truncated window of its normalised
Gaussian; an integer delay is a synapse with one tap whose coefficient is the weight.

Kernel layout ("batch blocks"): the batch is cut into ``NB`` blocks of ``BC`` samples and a
sequence is stored as ``[NB, channels, steps * BC]`` with the ``BC`` samples of a step adjacent,
so the sequence of one channel of one block is one contiguous row and a delay of ``d`` steps is
an offset of ``d * BC`` elements in that row. Inputs are padded on the left with ``D`` zero steps;
a tap then reads its row at offset ``off = D - delay`` (``off`` is the DCLS tap index for
``D = K - 1``) and the sum above becomes, per row element ``e``::

    out[nb, o, e] = sum_m coef[o, m] * src[nb, conn[o, m // R], e + off[o, m] * BC]

The same sum computes the gradient of the input from the gradient of the output with the
transposed connectivity and offsets ``D - off`` (see ``neuro.ops.delay``); the gradient of the
coefficients is the matching correlation::

    grad[o, m] = sum_nb sum_e gout[nb, o, e] * src[nb, conn[o, m // R], e + off[o, m] * BC]

``delay_cpu`` evaluates these sums row by row (vectorised over ``e``, four taps fused per pass),
``delay_cuda`` element by element with :func:`gather_sum`, or -- all-to-all taps in *windows* of
``W`` consecutive offsets (``off[o, e*W + j] = off[o, e*W] + j``: a Gaussian element's window, ``W = 1``
for integer delays) with ``BC = 32`` (a warp of samples) -- in register tiles of ``TT`` steps that read
``TT + W - 1`` inputs per element from shared memory (``delay_cuda.tile_*``). All are tested against
the torch oracle (dense kernel + ``conv1d``) in ``neuro.ops.delay``. The taps of a Gaussian element and
their gradients (:func:`gauss_taps_forward` / :func:`gauss_taps_backward`) are scalar code
compiled for both targets by :func:`compile_for`.
"""

import math
from functools import cache, lru_cache
from types import ModuleType

import numpy as np

from ._jit import compile_math

# DCLS "gauss" version: sigma_eff = |sigma| + SIGMA_OFFSET, normalisation sum + NORM_EPS
SIGMA_OFFSET = 0.27
NORM_EPS = 1e-7
# the sparse path keeps, per element, the W taps nearest to its centre, with W the smallest window
# whose dropped normalised Gaussian mass is at most TOLERANCE for every position
TOLERANCE = 5e-6


def dropped_mass(sigma_eff: float, window: int, offsets: int = 65) -> float:
    """Largest normalised Gaussian mass outside a centred window of ``window`` taps.

    The worst case over sub-step positions ``q = m + f`` (``f`` in ``[0, 1)``) on an unbounded
    tap lattice; a kernel edge only removes taps from both the dense and the sparse sum.
    """
    reach = int(np.ceil(12 * sigma_eff)) + window + 2
    n = np.arange(-reach, reach + 1, dtype=np.float64)
    worst = 0.0
    for f in np.linspace(0.0, 1.0, offsets, endpoint=False):
        g = np.exp(-0.5 * ((n - f) / sigma_eff) ** 2)
        start = np.round(f - (window - 1) / 2)  # as the taps are placed: round(q - (W - 1) / 2)
        inside = (n >= start) & (n < start + window)
        worst = max(worst, float(g[~inside].sum() / g.sum()))
    return worst


@lru_cache(maxsize=256)
def _window(sigma_key: float, tol: float) -> int:
    window = max(1, int(8 * sigma_key))  # the answer is always above 8 sigma (10 sigma at 1e-6)
    while dropped_mass(sigma_key, window) > tol:
        window += 1
    return window


def window_size(sigma_eff_max: float, kernel_size: int, tol: float = TOLERANCE) -> int:
    """Taps per element of the truncated Gaussian (never more than the ``kernel_size`` taps)."""
    if not sigma_eff_max > 0:
        return 1
    if 2 * sigma_eff_max > kernel_size:  # wide: the window would cover the kernel anyway
        return kernel_size
    key = float(np.ceil(sigma_eff_max * 1e6) / 1e6)  # round up: a wider sigma is the safe side
    return min(kernel_size, _window(key, float(tol)))


def gather_sum(src, conn, off, coef, r_per_syn, bc, nb, o, e, zero):
    """One output element ``out[nb, o, e]`` of the tap sum (module docstring)."""
    acc = zero
    for m in range(coef.shape[1]):
        acc += coef[o, m] * src[nb, conn[o, m // r_per_syn], e + off[o, m] * bc]
    return acc


def dot_partial(gout, src, row, off_m, bc, nb, o, start, stride, length, zero):
    """Part of ``grad[o, m]`` from block ``nb``: elements ``start, start + stride, ...`` below ``length``."""
    acc = zero
    base = off_m * bc
    for e in range(start, length, stride):
        acc += gout[nb, o, e] * src[nb, row, e + base]
    return acc


# The kernels' typed constants: ``consts = TAP_CONSTS`` in the compute dtype, read by name
# (a Python float literal would promote float32 arithmetic to float64).
K_ZERO, K_ONE, K_HALF, K_SIGMA_OFFSET, K_NORM_EPS = range(5)
TAP_CONSTS = (0.0, 1.0, 0.5, SIGMA_OFFSET, NORM_EPS)

# Gaussian taps of one element (flattened index ``e`` of ``[O, I, KC]``); ``sig`` has one entry or
# one per element.
# Forward: ``q = p + half``, ``s = |sigma| + 0.27``, window start ``n0 = clamp(rint(q - (W-1)/2),
# 0, K - W)``, ``g_j = exp(-((n0 + j - q) / s)^2 / 2)``, ``coef_j = w g_j / (sum g + eps)``.


def window_start(q, half_w, K, W):
    """First tap of the window around centre ``q`` (``half_w = (W - 1) / 2``)."""
    n0 = int(math.floor(q - half_w + 0.5))
    if (q - half_w + 0.5) == math.floor(q - half_w + 0.5) and n0 % 2 != 0:
        n0 -= 1  # round half to even, like torch.round
    return min(max(n0, 0), K - W)


def gauss_taps_forward(e, weight, position, sig, half, K, W, consts, coef, delays):
    """Write ``coef[e, :W]`` and ``delays[e, :W]`` of element ``e``."""
    hlf, offset, eps = consts[K_HALF], consts[K_SIGMA_OFFSET], consts[K_NORM_EPS]
    q = position[e] + half
    s = abs(sig[e % sig.shape[0]]) + offset
    n0 = window_start(q, (W - 1) * hlf, K, W)
    z = eps
    for j in range(W):
        u = ((n0 + j) - q) / s
        g = math.exp(-(hlf * u * u))
        coef[e, j] = g
        z += g
    w = weight[e]
    for j in range(W):
        coef[e, j] = w * (coef[e, j] / z)
        delays[e, j] = K - 1 - (n0 + j)


def gauss_taps_backward(e, weight, position, sig, half, K, W, consts, gcoef, gw, gp, gs):
    """Gradients of element ``e`` from ``gcoef[e, :W]``: ``gw[e]``, ``gp[e]``, ``gs[e]`` (d/d sigma)."""
    zero, one, hlf = consts[K_ZERO], consts[K_ONE], consts[K_HALF]
    offset, eps = consts[K_SIGMA_OFFSET], consts[K_NORM_EPS]
    q = position[e] + half
    sg = sig[e % sig.shape[0]]
    s = abs(sg) + offset
    n0 = window_start(q, (W - 1) * hlf, K, W)
    z = eps
    a = bq = bs = zq = zs = zero
    for j in range(W):
        u = ((n0 + j) - q) / s
        g = math.exp(-(hlf * u * u))
        gg = gcoef[e, j] * g
        z += g
        a += gg
        bq += gg * u
        bs += gg * u * u
        zq += g * u
        zs += g * u * u
    w = weight[e]
    gw[e] = a / z
    # d g_j / d q = g_j u_j / s and d g_j / d s = g_j u_j^2 / s; the normalisation adds -A Z' / Z
    gp[e] = (w / z) * (bq - a * zq / z) / s
    sign = one if sg > zero else (-one if sg < zero else zero)
    gs[e] = (w / z) * (bs - a * zs / z) / s * sign


@cache
def compile_for(target: str) -> ModuleType:
    """The scalar functions of this module compiled for ``target`` (``"cpu"`` or ``"cuda"``):
    ``gather_sum``, ``dot_partial``, ``window_start``, ``gauss_taps_forward``, ``gauss_taps_backward``."""
    return compile_math((gather_sum, dot_partial, window_start, gauss_taps_forward, gauss_taps_backward),
                        target)
