"""Sparse-tap delay kernels on NVIDIA GPUs with ``numba.cuda`` (layout: :mod:`.delay_math`).

* :func:`tap_gather` — one thread per output element ``(nb, o, e)``: consecutive threads read
  consecutive elements of the same input row (coalesced) and the same coefficient (broadcast).
* :func:`dot_kernel` — one block per tap ``(o, m)``: its threads stride over the row elements of
  every batch block and reduce in shared memory.

Import only when the CUDA backend is requested (needs ``numba-cuda``); with
``NUMBA_ENABLE_CUDASIM=1`` the kernels run on Numba's CUDA simulator.
"""

from functools import lru_cache

from numba import cuda

from . import delay_math
from ._jit import retarget
from ._cuda_device import device as _device

THREADS = 128
DOT_THREADS = 32

gather_sum = retarget(delay_math.gather_sum, _device)
dot_partial = retarget(delay_math.dot_partial, _device)
_window_start = _device(delay_math.window_start)
_taps_forward = retarget(delay_math.gauss_taps_forward, _device, window_start=_window_start)
_taps_backward = retarget(delay_math.gauss_taps_backward, _device, window_start=_window_start)


@cuda.jit
def gauss_taps_forward(weight, position, sig, half, K, W, consts, coef, delays):
    """Window taps, one thread per element (``delay_math.gauss_taps_forward``)."""
    e = cuda.grid(1)
    if e < weight.shape[0]:
        _taps_forward(e, weight, position, sig, half, K, W, consts, coef, delays)


@cuda.jit
def gauss_taps_backward(weight, position, sig, half, K, W, consts, gcoef, gw, gp, gs):
    """Per-element gradients of the window taps, one thread per element."""
    e = cuda.grid(1)
    if e < weight.shape[0]:
        _taps_backward(e, weight, position, sig, half, K, W, consts, gcoef, gw, gp, gs)


@cuda.jit
def tap_gather(src, conn, off, coef, r_per_syn, bc, consts, out):
    """``out[nb, o, e]`` with ``e = blockIdx.x * THREADS + threadIdx.x``, ``o = blockIdx.y``,
    ``nb = blockIdx.z``."""
    e = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    o = cuda.blockIdx.y
    nb = cuda.blockIdx.z
    if e < out.shape[2]:
        out[nb, o, e] = gather_sum(src, conn, off, coef, r_per_syn, bc, nb, o, e, consts[0])


def blocks_for(n: int) -> int:
    """Thread blocks of ``THREADS`` covering ``n`` elements."""
    return (n + THREADS - 1) // THREADS


def gather_grid(n_blocks: int, n_out: int, row_len: int) -> tuple[int, int, int]:
    """Launch grid of :func:`tap_gather` for an output ``[n_blocks, n_out, row_len]``."""
    return ((row_len + THREADS - 1) // THREADS, n_out, n_blocks)


@lru_cache(maxsize=None)
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
        acc = consts[0]
        for nb in range(src.shape[0]):
            acc += dot_partial(gout, src, row, off_m, bc, nb, o, tid, DOT_THREADS, length,
                               consts[0])
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
