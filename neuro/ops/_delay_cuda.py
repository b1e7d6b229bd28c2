"""The GPU side of ``neuro.ops.delay``: which CUDA kernels run a delay, with what tiles, and when the
dense ``conv1d`` is cheaper.

Two kernel families (:mod:`neuro.kernels.delay_cuda`): the first **element** kernels (any
connectivity; the default) and the **tile** kernels (all-to-all taps in windows of consecutive
delays). ``NEURO_DELAY_CUDA_KERNEL=tile`` sends the sparse calls they apply to to the tile kernels;
they stay opt-in until they have been measured faster than the element kernels on a GPU (they were
written without one: Numba's CUDA simulator and PTX checks), then :data:`DEFAULT_KERNEL` becomes
``"tile"``.

**Cost model.** With the element kernels the dense path is taken when ``W * 8 >= K``
(:data:`ELEMENT_DENSE_ADVANTAGE`, the first design's value, unchanged). With the tile kernels
:data:`GPU_COST` holds the multiply-add rates the choice between the dense path (cuDNN ``conv1d``,
``K`` taps per synapse) and the tile kernels (``W`` taps) assumes; the dense rate depends
on the precision cuDNN may use (``torch.backends.cudnn.allow_tf32``). **None of these numbers has been
measured yet**: they are placeholders of the right order for an H100/H200-class card (fp32 FFMA peak
~67 TFLOP/s, TF32 tensor cores several times more), to be refitted from a ``bench_delays.py --device
cuda --methods auto,dense,sparse`` run (``benchmarks/gpu_check.sh``, stage b3): a rate is the case's
multiply-adds over its measured forward time. The sparse path wins when ``W * dense / tile < K``.
"""

from __future__ import annotations

import os
from types import MappingProxyType
from typing import NamedTuple

import torch

from neuro.backends import cuda_simulator_enabled
from neuro.ops._launch import constants, launch_cuda

KERNELS = ("element", "tile")
DEFAULT_KERNEL = "element"  # until the tile kernels are measured faster on a GPU (module docstring)
ENV_KERNEL = "NEURO_DELAY_CUDA_KERNEL"
ELEMENT_DENSE_ADVANTAGE = 8.0  # the element kernels' cost model (unmeasured, as before issue 20)
# multiply-adds per second (UNMEASURED placeholders, see the module docstring)
GPU_COST = MappingProxyType({"dense_fp32": 25e12, "dense_tf32": 75e12, "tile": 10e12})
W_MAX = 16  # longer windows take the element kernels (or, by cost, the dense path)


class TileConfig(NamedTuple):
    """Compile-time sizes of the tile kernels (``neuro.kernels.delay_cuda``): output steps per thread
    ``TT``, outputs per warp ``OW``, warps per block ``NW``, inputs per chunk ``IC``; for the
    coefficient gradient ``TT_DOT``, ``OW2`` outputs per warp, ``IC2`` inputs per block."""

    TT: int = 8
    OW: int = 4
    NW: int = 8
    TT_DOT: int = 8
    OW2: int = 2
    IC2: int = 4


TILE = TileConfig()
TILE_F64 = TileConfig(NW=4)  # float64: half the warps, so the coefficient gradient's sums fit
# the CUDA simulator runs one Python thread per GPU thread: one warp per block there
TILE_SIMULATOR = TileConfig(TT=4, OW=2, NW=1, TT_DOT=4, OW2=2, IC2=2)


def kernel_choice() -> str:
    """``$NEURO_DELAY_CUDA_KERNEL`` (:data:`DEFAULT_KERNEL` when unset)."""
    value = os.environ.get(ENV_KERNEL, DEFAULT_KERNEL)
    if value not in KERNELS:
        raise ValueError(f"${ENV_KERNEL} must be one of {KERNELS}, got {value!r}")
    return value


def dense_advantage() -> float:
    """How many times more multiply-adds per second the dense path does than the sparse kernels
    chosen (:func:`kernel_choice`): for the tile kernels at the precision cuDNN is allowed now."""
    if kernel_choice() == "element":
        return ELEMENT_DENSE_ADVANTAGE
    dense = GPU_COST["dense_tf32" if torch.backends.cudnn.allow_tf32 else "dense_fp32"]
    return dense / GPU_COST["tile"]


class TilePlan(NamedTuple):
    """Everything a tile launch needs: the config, window ``W``, elements per input ``eps``, the
    largest offset ``D``, inputs per gather chunk ``IC`` and per gradient block ``IC2``, the dtype
    width."""

    cfg: TileConfig
    W: int
    eps: int
    D: int
    IC: int
    IC2: int
    bits: int


def tile_plan(all_to_all: bool, window: int, r_per_syn: int, max_delay: int,
              dtype: torch.dtype) -> TilePlan | None:
    """The tile kernels' plan for these taps, or ``None`` when they do not apply (another
    connectivity, a long window, tiles that do not fit in shared memory, or the element kernels
    requested)."""
    if not all_to_all or window > W_MAX or r_per_syn % window or kernel_choice() != "tile":
        return None
    from neuro.kernels import delay_cuda as dc

    bits = 64 if dtype == torch.float64 else 32
    cfg = TILE_SIMULATOR if cuda_simulator_enabled() else (TILE_F64 if bits == 64 else TILE)
    eps = r_per_syn // window
    IC = dc.gather_chunk(bits, cfg.TT, max_delay)
    row = dc.tile_steps(cfg.TT_DOT, max_delay) * dc.LANES * bits // 8  # one input of the dot's tile
    IC2 = max(1, min(cfg.IC2, dc.SHARED_BYTES // row))
    shared = dc.dot_shared(bits, cfg.TT_DOT, max_delay, IC2, cfg.NW, cfg.OW2, eps, window) * bits // 8
    if IC < 1 or shared > dc.SHARED_BYTES:
        return None
    return TilePlan(cfg, window, eps, max_delay, IC, IC2, bits)


def _consts(like: torch.Tensor) -> torch.Tensor:
    from neuro.kernels import delay_math

    return constants(delay_math.TAP_CONSTS, like.dtype, like.device)


class CudaRunner:
    """The CUDA kernels (``neuro.kernels.delay_cuda``) on torch's current stream."""

    @staticmethod
    def taps_forward(w, p, sig, half, K, W, consts, coef, delays) -> None:
        from neuro.kernels import delay_cuda

        launch_cuda(delay_cuda.gauss_taps_forward, delay_cuda.blocks_for(w.shape[0]), delay_cuda.THREADS,
                    (w, p, sig, half, K, W, consts, coef, delays))

    @staticmethod
    def taps_backward(w, p, sig, half, K, W, consts, g_coef, gw, gp, gs) -> None:
        from neuro.kernels import delay_cuda

        launch_cuda(delay_cuda.gauss_taps_backward, delay_cuda.blocks_for(w.shape[0]), delay_cuda.THREADS,
                    (w, p, sig, half, K, W, consts, g_coef, gw, gp, gs))

    @staticmethod
    def gather(src, conn, off, coef, r, bc, out) -> None:
        from neuro.kernels import delay_cuda

        grid = delay_cuda.gather_grid(out.shape[0], out.shape[1], out.shape[2])
        launch_cuda(delay_cuda.tap_gather, grid, delay_cuda.THREADS,
                    (src, conn, off, coef, r, bc, _consts(coef), out))

    @staticmethod
    def dot(gout, src, conn, off, r, bc, length, grad) -> None:
        from neuro.kernels import delay_cuda

        kernel = delay_cuda.dot_kernel(64 if grad.dtype == torch.float64 else 32)
        launch_cuda(kernel, (grad.shape[1], grad.shape[0]), delay_cuda.DOT_THREADS,
                    (gout, src, conn, off, r, bc, length, _consts(grad), grad))

    @staticmethod
    def tile_gather(plan: TilePlan, src, coef, off, out) -> None:
        """``out`` from window taps ``coef, off [O, M]`` on ``src`` (layout ``bc = 32``)."""
        from neuro.kernels import delay_cuda

        c = plan.cfg
        kernel = delay_cuda.tile_gather_kernel(plan.bits, plan.W, c.TT, c.OW, c.NW, plan.IC, plan.D)
        grid = delay_cuda.tile_gather_grid(out.shape[2] // delay_cuda.LANES, out.shape[1], out.shape[0],
                                           c.TT, c.OW, c.NW)
        launch_cuda(kernel, grid, delay_cuda.LANES * c.NW, (src, coef, off, plan.eps, _consts(coef), out))

    @staticmethod
    def tile_dot(plan: TilePlan, gout, src, off, n_steps: int, grad) -> None:
        """``grad [O, M]``, the correlation of ``gout`` with the window taps' inputs."""
        from neuro.kernels import delay_cuda

        c = plan.cfg
        kernel = delay_cuda.tile_dot_kernel(plan.bits, plan.W, c.TT_DOT, c.OW2, c.NW, plan.IC2, plan.eps,
                                            plan.D)
        grid = delay_cuda.dot_grid(src.shape[1], grad.shape[0], plan.IC2, c.OW2, c.NW)
        launch_cuda(kernel, grid, delay_cuda.LANES * c.NW, (gout, src, off, n_steps, _consts(grad), grad))
