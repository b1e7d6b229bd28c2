"""Sparse-tap delay kernels on the CPU: ``@njit(parallel=True)`` over (batch block, output block).

The sums and the layout are documented in :mod:`neuro.kernels.delay_math`. Each task owns a block
of ``ob`` outputs of one batch block and keeps their rows in an accumulator; taps are visited in
blocks of ``mb`` (consecutive synapses, i.e. a block of input rows that stays in L2 while every
output of the block reads it), and within a block four taps are fused into one vectorised pass
over the row (one accumulator load/store per four multiply-adds). Everything is float32 or float64
as given; no Python-float literal enters the arithmetic.
"""

import numpy as np
from numba import njit, prange

from . import delay_math

# contract: fuse multiply-adds; reassoc: vectorise the dot products of the coefficient gradient
_FAST = {"contract", "reassoc"}


@njit(parallel=True, cache=True, fastmath=_FAST)
def tap_gather(src, conn, off, coef, r_per_syn, bc, ob, mb, out):
    """``out[nb, o, e] = sum_m coef[o, m] * src[nb, conn[o, m // R], e + off[o, m] * bc]``.

    ``src [NB, rows, Lin]``, ``conn [O, F]`` int32, ``off`` int32 / ``coef`` ``[O, F * R]``,
    ``out [NB, O, L]`` (overwritten) with ``off * bc + L <= Lin``; ``ob`` outputs per task, ``mb``
    taps per cache block.
    """
    NB = src.shape[0]
    O, M = coef.shape
    L = out.shape[2]
    n_ob = (O + ob - 1) // ob
    for task in prange(NB * n_ob):
        nb = task // n_ob
        o0 = (task % n_ob) * ob
        o1 = min(O, o0 + ob)
        acc = np.zeros((o1 - o0, L), out.dtype)
        for m0 in range(0, M, mb):
            m1 = min(M, m0 + mb)
            for o in range(o0, o1):
                a = acc[o - o0]
                m = m0
                while m + 4 <= m1:
                    c0, c1, c2, c3 = coef[o, m], coef[o, m + 1], coef[o, m + 2], coef[o, m + 3]
                    x0 = src[nb, conn[o, m // r_per_syn], off[o, m] * bc:]
                    x1 = src[nb, conn[o, (m + 1) // r_per_syn], off[o, m + 1] * bc:]
                    x2 = src[nb, conn[o, (m + 2) // r_per_syn], off[o, m + 2] * bc:]
                    x3 = src[nb, conn[o, (m + 3) // r_per_syn], off[o, m + 3] * bc:]
                    for e in range(L):
                        a[e] += c0 * x0[e] + c1 * x1[e] + c2 * x2[e] + c3 * x3[e]
                    m += 4
                while m < m1:
                    c0 = coef[o, m]
                    x0 = src[nb, conn[o, m // r_per_syn], off[o, m] * bc:]
                    for e in range(L):
                        a[e] += c0 * x0[e]
                    m += 1
        for o in range(o0, o1):
            out[nb, o, :] = acc[o - o0]


@njit(parallel=True, cache=True, fastmath=_FAST)
def tap_dot(gout, src, conn, off, r_per_syn, bc, length, ob, mb, grad):
    """``grad[o, m] = sum_nb sum_e gout[nb, o, e] * src[nb, conn[o, m // R], e + off[o, m] * bc]``.

    ``gout [NB, O, >= length]`` (``e < length``), ``src [NB, rows, Lin]``, ``grad [O, M]``
    (overwritten). One task per block
    of ``ob`` outputs (it owns their rows of ``grad``); four taps share each pass over ``gout``.
    """
    NB = src.shape[0]
    O, M = grad.shape
    L = length
    n_ob = (O + ob - 1) // ob
    zero = np.zeros(1, grad.dtype)[0]
    for task in prange(n_ob):
        o0 = task * ob
        o1 = min(O, o0 + ob)
        for o in range(o0, o1):
            grad[o, :] = 0
        for nb in range(NB):
            for m0 in range(0, M, mb):
                m1 = min(M, m0 + mb)
                for o in range(o0, o1):
                    g = gout[nb, o]
                    m = m0
                    while m + 4 <= m1:
                        x0 = src[nb, conn[o, m // r_per_syn], off[o, m] * bc:]
                        x1 = src[nb, conn[o, (m + 1) // r_per_syn], off[o, m + 1] * bc:]
                        x2 = src[nb, conn[o, (m + 2) // r_per_syn], off[o, m + 2] * bc:]
                        x3 = src[nb, conn[o, (m + 3) // r_per_syn], off[o, m + 3] * bc:]
                        s0 = s1 = s2 = s3 = zero
                        for e in range(L):
                            ge = g[e]
                            s0 += ge * x0[e]
                            s1 += ge * x1[e]
                            s2 += ge * x2[e]
                            s3 += ge * x3[e]
                        grad[o, m] += s0
                        grad[o, m + 1] += s1
                        grad[o, m + 2] += s2
                        grad[o, m + 3] += s3
                        m += 4
                    while m < m1:
                        x0 = src[nb, conn[o, m // r_per_syn], off[o, m] * bc:]
                        s0 = zero
                        for e in range(L):
                            s0 += g[e] * x0[e]
                        grad[o, m] += s0
                        m += 1


@njit(parallel=True, cache=True)
def event_scatter(x, dst, delays_t, coef_t, r_per_syn, history, out):
    """Event-driven forward: every nonzero input ``x[t, b, i]`` adds its taps to later outputs.

    ``out[t - history + delay, b, dst[i, m // R]] += x[t, b, i] * coef_t[i, m]`` over the taps
    ``m`` leaving input ``i`` (transposed tables, see ``neuro.ops.delay``); ``x [T, B, I]``,
    ``out [T_out, B, O]`` (overwritten). Work is proportional to the number of spikes times the
    fan-out, so it beats :func:`tap_gather` on sparse spike trains. One task per sample, with a
    private ``[T_out, O]`` accumulator.
    """
    T, B, I = x.shape
    T_out, _, O = out.shape
    M = coef_t.shape[1]
    for b in prange(B):
        acc = np.zeros((T_out, O), out.dtype)
        for t in range(T):
            xr = x[t, b]
            for i in range(I):
                v = xr[i]
                if v != 0:
                    for m in range(M):
                        tt = t - history + delays_t[i, m]
                        if tt >= 0 and tt < T_out:
                            acc[tt, dst[i, m // r_per_syn]] += v * coef_t[i, m]
        out[:, b, :] = acc


ns = delay_math.compile_for("cpu")


@njit(parallel=True, cache=True)
def gauss_taps_forward(weight, position, sig, half, K, W, consts, coef, delays):
    """Window taps of every element (``delay_math.gauss_taps_forward``); flat ``[S]`` inputs."""
    for e in prange(weight.shape[0]):
        ns.gauss_taps_forward(e, weight, position, sig, half, K, W, consts, coef, delays)


@njit(parallel=True, cache=True)
def gauss_taps_backward(weight, position, sig, half, K, W, consts, gcoef, gw, gp, gs):
    """Per-element gradients of the window taps (``delay_math.gauss_taps_backward``)."""
    for e in prange(weight.shape[0]):
        ns.gauss_taps_backward(e, weight, position, sig, half, K, W, consts, gcoef, gw, gp, gs)


# The same loops without threads, for small problems: a parallel region costs tens of microseconds
# and leaves OpenMP threads spinning that delay the torch ops around it on small core counts.
tap_gather_serial = njit(cache=True, fastmath=_FAST)(tap_gather.py_func)
tap_dot_serial = njit(cache=True, fastmath=_FAST)(tap_dot.py_func)
event_scatter_serial = njit(cache=True)(event_scatter.py_func)
gauss_taps_forward_serial = njit(cache=True)(gauss_taps_forward.py_func)
gauss_taps_backward_serial = njit(cache=True)(gauss_taps_backward.py_func)
SERIAL_WORK = 1 << 23  # multiply-adds below which the serial kernels are used


def blocks_for(n_out: int, row_len: int, n_taps: int, itemsize: int, n_tasks_min: int = 8,
               cache_bytes: int = 256 * 1024) -> tuple[int, int]:
    """``(ob, mb)``: outputs per task and taps per cache block for rows of ``row_len`` elements."""
    ob = max(1, min(8, n_out // n_tasks_min if n_out >= n_tasks_min else 1))
    mb = max(4, (cache_bytes // max(1, row_len * itemsize)) // 4 * 4)
    return ob, min(mb, max(4, n_taps))
