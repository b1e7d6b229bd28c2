"""Input checks shared by the functional API and the modules: clear errors that name the argument."""

from __future__ import annotations

from typing import Sequence

import torch


def check_tensor(x: object, name: str, min_rank: int, layout: str) -> torch.Tensor:
    """``x`` must be a floating-point tensor of rank ``>= min_rank`` (``layout`` names the dims)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor {layout}, got {type(x).__name__}")
    if not x.dtype.is_floating_point:
        raise TypeError(f"{name} must be a floating-point tensor (float32/float64, or fp16/bf16), "
                        f"got dtype {x.dtype}; convert spikes with .float()")
    if x.dim() < min_rank:
        raise ValueError(f"{name} must have shape {layout} (at least {min_rank} dims), "
                         f"got shape {tuple(x.shape)}")
    if x.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)})")
    return x


def check_state(state: object, expected_type: type, like: torch.Tensor, shape: Sequence[int],
                name: str = "state") -> None:
    """``state`` must be ``expected_type`` with tensors of ``shape`` and ``like``'s dtype/device."""
    if not isinstance(state, expected_type):
        raise TypeError(f"{name} must be a {expected_type.__name__} (or None to start fresh), "
                        f"got {type(state).__name__}")
    for field, value in zip(state._fields, state):
        label = f"{name}.{field}"
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{label} must be a torch.Tensor, got {type(value).__name__}")
        if tuple(value.shape) != tuple(shape):
            hint = (" (a recorded state sequence? pass seq.last())"
                    if value.dim() == len(shape) + 1 else "")
            raise ValueError(f"{label} has shape {tuple(value.shape)}, expected {tuple(shape)} to "
                             f"match the input{hint}")
        if value.dtype != like.dtype:
            raise TypeError(f"{label} has dtype {value.dtype}, expected {like.dtype} (the input's)")
        if value.device != like.device:
            raise ValueError(f"{label} is on {value.device}, expected {like.device} (the input's)")
