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
``delay_cuda`` element by element with :func:`gather_sum`; both are tested against the torch
oracle (dense kernel + ``conv1d``) in ``neuro.ops.delay``.
"""

import math

# DCLS "gauss" version: sigma_eff = |sigma| + SIGMA_OFFSET, normalisation sum + NORM_EPS
SIGMA_OFFSET = 0.27
NORM_EPS = 1e-7
# taps farther than CUTOFF * sigma_eff from the centre are dropped: the dropped normalised mass is
# below 7e-6 for every sigma_eff >= 0.27 and every position (tests/test_delay_ops.py measures it)
CUTOFF = 5.0


def window_size(sigma_eff_max: float, kernel_size: int, cutoff: float = CUTOFF) -> int:
    """Taps per synapse of the truncated Gaussian: the integers strictly within ``cutoff * sigma``.

    An open interval of length ``2 R`` holds at most ``ceil(2 R)`` integers; the window never
    exceeds the ``kernel_size`` taps of the dense kernel.
    """
    return int(max(1, min(kernel_size, math.ceil(2.0 * cutoff * sigma_eff_max))))


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
