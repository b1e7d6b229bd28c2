"""Input checks shared by the functional API and the modules: clear errors that name the argument."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

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


def check_state(state: object, expected_type: type, like: torch.Tensor,
                shape: Sequence[int] | Mapping[str, Sequence[int]], name: str = "state") -> None:
    """``state`` must be ``expected_type`` with tensors of ``shape`` and ``like``'s dtype/device.

    ``shape`` is one shape for every field, or ``{field: shape}`` when the fields differ.
    """
    if not isinstance(state, expected_type):
        raise TypeError(f"{name} must be a {expected_type.__name__} (or None to start fresh), "
                        f"got {type(state).__name__}")
    for field, value in zip(state._fields, state):
        label = f"{name}.{field}"
        want = tuple(shape[field]) if isinstance(shape, Mapping) else tuple(shape)
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{label} must be a torch.Tensor, got {type(value).__name__}")
        if tuple(value.shape) != want:
            hint = (" (a recorded state sequence? pass seq.last())"
                    if value.dim() == len(want) + 1 else "")
            raise ValueError(f"{label} has shape {tuple(value.shape)}, expected {want} to "
                             f"match the input{hint}")
        if value.dtype != like.dtype:
            raise TypeError(f"{label} has dtype {value.dtype}, expected {like.dtype} (the input's)")
        if value.device != like.device:
            raise ValueError(f"{label} is on {value.device}, expected {like.device} (the input's)")


#: what each kind of physical parameter must satisfy: (test on a float64 tensor, phrase for errors)
PARAMETER_RULES = {
    "finite": (torch.isfinite, "must be finite (not NaN or inf)"),
    "positive": (lambda t: torch.isfinite(t) & (t > 0), "must be positive and finite"),
    "unit": (lambda t: (t >= 0) & (t <= 1), "must lie in [0, 1]"),
}


def check_parameter(value: object, name: str, rule: str = "finite") -> None:
    """A physical parameter (a number or a per-neuron tensor) must satisfy ``rule``.

    Rules (:data:`PARAMETER_RULES`): ``"finite"``; ``"positive"`` (finite and > 0: time
    constants); ``"unit"`` (in ``[0, 1]``: decays). The error names the parameter and, for
    tensors, the first bad index (``tau_mem must be positive and finite, got tau_mem[2] = -1.0``).
    One pass over the values: call it when a parameter is set, not on every forward.
    """
    test, phrase = PARAMETER_RULES[rule]
    if isinstance(value, (int, float)) and not isinstance(value, bool):  # the common case, no torch
        number = float(value)
        ok = {"finite": math.isfinite(number), "positive": math.isfinite(number) and number > 0,
              "unit": 0 <= number <= 1}[rule]
        if not ok:
            raise ValueError(f"{name} {phrase}, got {value!r}")
        return
    if isinstance(value, torch.Tensor):
        values = value.detach()
    else:
        try:
            values = torch.as_tensor(value)
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(f"{name} must be a number or a tensor, got {type(value).__name__}") from None
    if values.dtype == torch.bool or values.is_complex() or not (
            values.dtype.is_floating_point or values.dtype in _INTEGER_DTYPES):
        raise TypeError(f"{name} must be a real number or tensor, got dtype {values.dtype}")
    bad = ~test(values.to(torch.float64))
    if not bool(bad.any()):
        return
    if values.dim() == 0:
        raise ValueError(f"{name} {phrase}, got {values.item()!r}")
    index = tuple(int(k) for k in torch.nonzero(bad)[0])
    where = ", ".join(str(k) for k in index)
    raise ValueError(f"{name} {phrase}, got {name}[{where}] = {values[index].item()!r}")


_INTEGER_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)
