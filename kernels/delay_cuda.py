"""Sparse-tap delay kernels on NVIDIA GPUs with ``numba.cuda`` (layout: :mod:`.delay_math`).

Two families, chosen by ``neuro.ops._delay_cuda`` (``NEURO_DELAY_CUDA_KERNEL``; cost table ``GPU_COST``
there): the element kernels are the default until the tile kernels have been measured faster on a
GPU (they were written without one; Numba's CUDA simulator and PTX checks).

**Tile kernels** (opt-in; all-to-all connectivity, the ``DelayLinear`` layer; :func:`tile_gather_kernel`,
:func:`tile_dot_kernel`). The batch block is a warp: ``LANES = 32`` samples of one time step are
adjacent (``bc = 32``), so a warp reads one 128-byte line per step of an input row. Taps come in
*windows*: ``W`` consecutive delays per element (the truncated Gaussian, ``W = 1`` for integer delays),
so an element reads ``TT + W - 1`` steps for ``TT x W`` multiply-adds.

* Forward and input gradient (:func:`tile_gather_kernel`): a block owns ``(batch block, TT output
  steps, NW * OW outputs)``; each thread (one lane, one warp) keeps ``OW x TT`` accumulators in
  registers. The inputs are visited in chunks of ``IC``: the warps copy the chunk's rows for steps
  ``t0 .. t0 + TT + D`` (``D`` the largest delay) into shared memory (coalesced, bank-conflict free:
  lane = bank), then every warp reads, per element of its outputs, a window of ``TT + W - 1`` values
  into registers and adds ``TT x W`` products. Global traffic: each input row once per block,
  reused by ``NW * OW`` outputs; the coefficients are warp-uniform (broadcast) loads.
* Coefficient gradient (:func:`tile_dot_kernel`): a block owns ``(NW * OW2 outputs, IC2 inputs)``
  and loops over every batch block and time tile: the inputs' tile in shared memory, the outputs'
  gradient ``TT`` steps in registers, and per lane ``OW2 x IC2 x EPS x W`` partial sums in
  registers; a fixed-order tree over the 32 lanes in shared memory ends it.

Every sum runs in a fixed order (no atomics), so results are identical from run to run. The
products are accumulated with **explicit fused multiply-adds** (``cuda.fma``: one rounding per
product and sum): these kernels are bound by arithmetic issue, where an unfused multiply and add
would double the instructions, and the delay family is bounded, not bit-identical, on every target
(the CPU kernels contract too, ``fastmath={"contract"}``); an FMA's rounding is within the bound below
(``tests/test_delay_gpu_design.py`` checks the PTX: FMAs only where written, no float atomics, no
local memory). Shared memory stays within the 48 KiB a block gets without opting in; a shape whose
tile does not fit (float64 at ``D = 249``) takes the element kernels below.

**Element kernels** (any connectivity; the first GPU design, the default):

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

from numba import cuda, float32, float64

from . import delay_math
from .delay_math import K_ZERO

THREADS = 128
DOT_THREADS = 32
LANES = 32  # samples of a batch block in the tile kernels: one warp
SHARED_BYTES = 48 * 1024  # what a block may use without opting in

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


# --------------------------------------------------------------------------------------------
# Tile kernels (module docstring). Every size is a compile-time constant, so the loops over them
# unroll and the register tiles (``cuda.local.array`` indexed by unrolled loop counters) stay in
# registers; ``tests/test_delay_gpu_design.py`` compiles them to PTX and finds no local memory.


def tile_steps(TT: int, D: int) -> int:
    """Steps of an input row a gather tile holds: ``TT`` output steps plus the largest delay ``D``."""
    return TT + D


def gather_chunk(float_bits: int, TT: int, D: int) -> int:
    """Inputs per shared-memory chunk of :func:`tile_gather_kernel` (0: the tile does not fit)."""
    return min(8, SHARED_BYTES // (tile_steps(TT, D) * LANES * float_bits // 8))


@cache
def tile_gather_kernel(float_bits: int, W: int, TT: int, OW: int, NW: int, IC: int, D: int):
    """``out[nb, o, (t, l)] = sum_m coef[o, m] * src[nb, m // (EPS*W), (t + off[o, m], l)]`` for
    all-to-all taps in windows of ``W`` consecutive offsets (``off[o, e*W + j] = off[o, e*W] + j``).

    ``src [NB, I, steps_in * 32]``, ``coef, off [O, I * EPS * W]`` (``EPS`` elements per input, a
    runtime argument), ``out [NB, O, steps_out * 32]`` (overwritten), offsets in ``[0, D]``. Launch:
    grid ``(ceil(steps_out / TT), ceil(O / (NW * OW)), NB)``, block ``32 * NW``; signature
    ``(src, coef, off, eps, consts, out)``.
    """
    dt = float32 if float_bits == 32 else float64
    STEPS = tile_steps(TT, D)
    XW = TT + W - 1
    OB = NW * OW

    @cuda.jit
    def tile_gather(src, coef, off, eps, consts, out):
        tile = cuda.shared.array((IC, STEPS, LANES), dt)
        acc = cuda.local.array((OW, TT), dt)
        xv = cuda.local.array(XW, dt)
        cw = cuda.local.array(W, dt)
        lane = cuda.threadIdx.x % LANES
        warp = cuda.threadIdx.x // LANES
        t0 = cuda.blockIdx.x * TT
        o0 = cuda.blockIdx.y * OB + warp * OW
        nb = cuda.blockIdx.z
        n_in = src.shape[1]
        n_out = out.shape[1]
        steps_in = src.shape[2] // LANES
        steps_out = out.shape[2] // LANES
        zero = consts[K_ZERO]
        for k in range(OW):
            for r in range(TT):
                acc[k, r] = zero
        for i0 in range(0, n_in, IC):
            for row in range(warp, IC * STEPS, NW):  # copy the chunk: a warp per row segment
                ii = row // STEPS
                s = row - ii * STEPS
                v = zero
                if i0 + ii < n_in and t0 + s < steps_in:
                    v = src[nb, i0 + ii, (t0 + s) * LANES + lane]
                tile[ii, s, lane] = v
            cuda.syncthreads()
            for ii in range(min(IC, n_in - i0)):
                for c in range(eps):
                    m0 = ((i0 + ii) * eps + c) * W
                    for k in range(OW):
                        o = min(o0 + k, n_out - 1)  # surplus warps compute a copy, never stored
                        s0 = off[o, m0]
                        for q in range(XW):
                            xv[q] = tile[ii, s0 + q, lane]
                        for j in range(W):
                            cw[j] = coef[o, m0 + j]
                        for j in range(W):
                            for r in range(TT):
                                acc[k, r] = cuda.fma(cw[j], xv[r + j], acc[k, r])
            cuda.syncthreads()
        for k in range(OW):
            o = o0 + k
            if o < n_out:
                for r in range(TT):
                    if t0 + r < steps_out:
                        out[nb, o, (t0 + r) * LANES + lane] = acc[k, r]

    return tile_gather


def tile_gather_grid(steps_out: int, n_out: int, n_blocks: int, TT: int, OW: int, NW: int) -> tuple:
    """Launch grid of :func:`tile_gather_kernel`."""
    return (-(-steps_out // TT), -(-n_out // (NW * OW)), n_blocks)


def dot_shared(float_bits: int, TT: int, D: int, IC2: int, NW: int, OW2: int, EPS: int, W: int) -> int:
    """Shared-memory elements of :func:`tile_dot_kernel`: the larger of the input tile and the
    lanes' partial sums (the same memory, used one after the other)."""
    return max(IC2 * tile_steps(TT, D) * LANES, NW * OW2 * IC2 * EPS * W * LANES)


@cache
def tile_dot_kernel(float_bits: int, W: int, TT: int, OW2: int, NW: int, IC2: int, EPS: int, D: int):
    """``grad[o, m] = sum_nb sum_(t, l) gout[nb, o, (t, l)] * src[nb, i, (t + off[o, m], l)]`` for the
    all-to-all window taps of :func:`tile_gather_kernel` (``m = (i * EPS + c) * W + j``).

    ``gout [NB, O, >= n_steps * 32]`` (steps ``< n_steps`` used), ``grad [O, I * EPS * W]``
    (overwritten). Launch: grid ``(ceil(I / IC2), ceil(O / (NW * OW2)))``, block ``32 * NW``;
    signature ``(gout, src, off, n_steps, consts, grad)``.
    """
    dt = float32 if float_bits == 32 else float64
    STEPS = tile_steps(TT, D)
    XW = TT + W - 1
    OB = NW * OW2
    NA = IC2 * EPS * W  # partial sums per output
    SH = dot_shared(float_bits, TT, D, IC2, NW, OW2, EPS, W)

    @cuda.jit
    def tile_dot(gout, src, off, n_steps, consts, grad):
        shm = cuda.shared.array(SH, dt)
        part = cuda.local.array((OW2, NA), dt)
        gr = cuda.local.array((OW2, TT), dt)
        xv = cuda.local.array(XW, dt)
        lane = cuda.threadIdx.x % LANES
        warp = cuda.threadIdx.x // LANES
        i0 = cuda.blockIdx.x * IC2
        o0 = cuda.blockIdx.y * OB + warp * OW2
        n_in = src.shape[1]
        n_out = grad.shape[0]
        steps_in = src.shape[2] // LANES
        zero = consts[K_ZERO]
        n_ic = min(IC2, n_in - i0)
        for k in range(OW2):
            for a in range(NA):
                part[k, a] = zero
        for nb in range(src.shape[0]):
            for t0 in range(0, n_steps, TT):
                for row in range(warp, IC2 * STEPS, NW):
                    ii = row // STEPS
                    s = row - ii * STEPS
                    v = zero
                    if ii < n_ic and t0 + s < steps_in:
                        v = src[nb, i0 + ii, (t0 + s) * LANES + lane]
                    shm[(ii * STEPS + s) * LANES + lane] = v
                for k in range(OW2):
                    o = min(o0 + k, n_out - 1)
                    for r in range(TT):
                        gr[k, r] = gout[nb, o, (t0 + r) * LANES + lane] if t0 + r < n_steps else zero
                cuda.syncthreads()
                for ii in range(IC2):
                    if ii < n_ic:
                        for c in range(EPS):
                            m0 = ((i0 + ii) * EPS + c) * W
                            for k in range(OW2):
                                o = min(o0 + k, n_out - 1)
                                s0 = off[o, m0]
                                for q in range(XW):
                                    xv[q] = shm[(ii * STEPS + s0 + q) * LANES + lane]
                                for j in range(W):
                                    for r in range(TT):
                                        a = (ii * EPS + c) * W + j
                                        part[k, a] = cuda.fma(gr[k, r], xv[r + j], part[k, a])
                cuda.syncthreads()
        # the 32 lanes' partial sums of every tap: a fixed-order tree in shared memory
        for k in range(OW2):
            for a in range(NA):
                shm[((warp * OW2 + k) * NA + a) * LANES + lane] = part[k, a]
        cuda.syncthreads()
        half = LANES // 2
        while half > 0:
            if lane < half:
                for k in range(OW2):
                    for a in range(NA):
                        base = ((warp * OW2 + k) * NA + a) * LANES
                        shm[base + lane] += shm[base + lane + half]
            cuda.syncthreads()
            half //= 2
        for idx in range(lane, OW2 * NA, LANES):
            k = idx // NA
            a = idx - k * NA
            o = o0 + k
            ii = a // (EPS * W)
            if o < n_out and ii < n_ic:
                grad[o, i0 * EPS * W + a] = shm[((warp * OW2 + k) * NA + a) * LANES]

    return tile_dot


def dot_grid(n_in: int, n_out: int, IC2: int, OW2: int, NW: int) -> tuple:
    """Launch grid of :func:`tile_dot_kernel`."""
    return (-(-n_in // IC2), -(-n_out // (NW * OW2)))
