"""DistributedDataParallel plumbing for runs under ``torchrun`` (gloo on CPU, nccl on GPU)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the run; ``enabled`` is False for a plain single-process run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    enabled: bool = False

    @property
    def is_main(self) -> bool:
        """Whether this process has rank 0 (the one that logs and writes checkpoints)."""
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group torchrun set up (``gloo`` for CPU devices, ``nccl`` for CUDA)."""
    if not launched_by_torchrun():
        return DistInfo()
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)),
                    True)


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> CUDA if available else CPU; under torchrun each rank takes GPU ``LOCAL_RANK``."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} requested but torch sees no CUDA GPU")
        if device.index is None:
            device = torch.device("cuda", local_rank if launched_by_torchrun() else 0)
        torch.cuda.set_device(device)
    return device


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def _comm_device() -> torch.device:
    """Where collectives need their tensors: the current GPU for nccl, the CPU for gloo."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_sum(values: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum of ``values`` over the ranks (a CPU copy; unchanged when not distributed)."""
    if not info.enabled:
        return values.clone()
    values = values.to(_comm_device())
    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values.cpu()


def broadcast_buffers(model: torch.nn.Module, info: DistInfo) -> None:
    """Copy rank 0's buffers (e.g. BatchNorm running statistics, which each rank updates from its
    own last batches) to every rank, so evaluation and checkpoints agree."""
    if not info.enabled:
        return
    for buffer in model.buffers():
        dist.broadcast(buffer.data, src=0)


def all_finite(flag: bool, info: DistInfo) -> bool:
    """True when ``flag`` holds on every rank (so all ranks stop together on a NaN loss)."""
    if not info.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=_comm_device())
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item() > 0)


def agree(flags: list[bool], info: DistInfo) -> list[bool]:
    """Each flag ANDed over the ranks, in one all-reduce (unchanged when not distributed): the
    trainer's per-batch "loss finite" and "no stop requested"."""
    if not info.enabled:
        return list(flags)
    t = torch.tensor([1.0 if f else 0.0 for f in flags], device=_comm_device())
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return [bool(v > 0) for v in t.tolist()]


def shutdown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
