"""Sparse-tap delay kernels on NVIDIA GPUs with ``numba.cuda`` (layout: :mod:`.delay_math`).

* :func:`tap_gather` — one thread per output element ``(nb, o, e)``: consecutive threads read
  consecutive elements of the same input row (coalesced) and the same coefficient (broadcast).
* :func:`dot_kernel` — one block per tap ``(o, m)``: its threads stride over the row elements of
  every batch block and reduce in shared memory.

Import only when the CUDA backend is requested (needs ``numba-cuda``); with
``NUMBA_ENABLE_CUDASIM=1`` the kernels run on Numba's CUDA simulator. Host side:
``neuro.ops.delay`` launches them on torch's current stream through ``neuro.ops._launch``.

Numerics: **deterministic, not bit-identical to** ``delay_cpu``; bounded. Each output is a sum of
``n`` products (``n = M`` taps for the forward and the input gradient, ``n = NB * L`` row elements
for a coefficient gradient). Here the taps are summed one after the other without contraction
(``-fma=0``) and a coefficient gradient by a fixed strided split and tree reduction; the CPU kernels
fuse four taps per pass with fused multiply-adds (``fastmath={"contract", "reassoc"}``, vectorised
reductions), and their sparse-input path scatters events in time order. Every such order computes a
sum of products within ``gamma_n * sum |c_m x_m|`` of the exact one (``gamma_n = n u / (1 - n u)``,
``u = 2^-24`` float32, ``2^-53`` float64), so elementwise::

    |y_cuda - y_cpu| <= 2 gamma_n * sum_m |c_m| |x_m|

(the right side is the same op applied to ``|c|`` and ``|x|``). The Gaussian tap coefficients
(``gauss_taps_forward``) run the same operations in the same order on both targets except ``exp``
(libdevice here, libm on the CPU: each within 2 ulp, so the two within ``8u`` relative; Numba types
``int - float32`` as float64, so float32 taps take their exponent and ``exp`` in float64); the window
normalisation over ``W`` taps adds ``2 gamma_W`` and the two roundings of ``w * (g / z)`` ``4u`` per
side: ``|coef_cuda - coef_cpu| <= (2W + 20) u |coef|`` to first order. Their gradients
(``gauss_taps_backward``) obey the same per-term bound against the sums of the terms' absolute values
(``(8W + 64) u`` times them). ``tests/test_kernel_bounds.py`` checks these bounds natively on a GPU
(and on the simulator, where they hold as well).
"""

from functools import cache

from numba import cuda

from . import delay_math
from .delay_math import K_ZERO

THREADS = 128
DOT_THREADS = 32

ns = delay_math.compile_for("cuda")


@cuda.jit
def gauss_taps_forward(weight, position, sig, half, K, W, consts, coef, delays):
    """Window taps, one thread per element (``delay_math.gauss_taps_forward``)."""
    e = cuda.grid(1)
    if e < weight.shape[0]:
        ns.gauss_taps_forward(e, weight, position, sig, half, K, W, consts, coef, delays)


@cuda.jit
def gauss_taps_backward(weight, position, sig, half, K, W, consts, gcoef, gw, gp, gs):
    """Per-element gradients of the window taps, one thread per element."""
    e = cuda.grid(1)
    if e < weight.shape[0]:
        ns.gauss_taps_backward(e, weight, position, sig, half, K, W, consts, gcoef, gw, gp, gs)


@cuda.jit
def tap_gather(src, conn, off, coef, r_per_syn, bc, consts, out):
    """``out[nb, o, e]`` with ``e = blockIdx.x * THREADS + threadIdx.x``, ``o = blockIdx.y``,
    ``nb = blockIdx.z``; ``consts`` is ``delay_math.TAP_CONSTS`` in the compute dtype."""
    e = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    o = cuda.blockIdx.y
    nb = cuda.blockIdx.z
    if e < out.shape[2]:
        out[nb, o, e] = ns.gather_sum(src, conn, off, coef, r_per_syn, bc, nb, o, e, consts[K_ZERO])


def blocks_for(n: int) -> int:
    """Thread blocks of ``THREADS`` covering ``n`` elements."""
    return (n + THREADS - 1) // THREADS


def gather_grid(n_blocks: int, n_out: int, row_len: int) -> tuple[int, int, int]:
    """Launch grid of :func:`tap_gather` for an output ``[n_blocks, n_out, row_len]``."""
    return ((row_len + THREADS - 1) // THREADS, n_out, n_blocks)


@cache
def dot_kernel(float_bits: int):
    """The coefficient-gradient kernel for float32 (``32``) or float64 (``64``) arrays.

    Launch with grid ``(M, O)`` and ``DOT_THREADS`` threads: block ``(m, o)`` writes ``grad[o, m]``.
    """
    from numba import float32, float64

    shared_type = float32 if float_bits == 32 else float64

    @cuda.jit
    def tap_dot(gout, src, conn, off, r_per_syn, bc, length, consts, grad):
        m = cuda.blockIdx.x
        o = cuda.blockIdx.y
        tid = cuda.threadIdx.x
        buf = cuda.shared.array(DOT_THREADS, dtype=shared_type)
        row = conn[o, m // r_per_syn]
        off_m = off[o, m]
        zero = consts[K_ZERO]
        acc = zero
        for nb in range(src.shape[0]):
            acc += ns.dot_partial(gout, src, row, off_m, bc, nb, o, tid, DOT_THREADS, length, zero)
        buf[tid] = acc
        cuda.syncthreads()
        step = DOT_THREADS // 2
        while step > 0:
            if tid < step:
                buf[tid] += buf[tid + step]
            cuda.syncthreads()
            step //= 2
        if tid == 0:
            grad[o, m] = buf[0]

    return tap_dot
