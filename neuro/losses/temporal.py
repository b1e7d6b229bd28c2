r"""First-spike (temporal) losses.

:func:`first_spike_times` reads the step of each neuron's first spike from ``spikes [T, B, C]``;
a neuron that never fires gets ``no_spike`` (default: its length :math:`L_b`, later than any
spike; ``"last"``: :math:`L_b - 1`, snnTorch's convention). The step index is not differentiable,
so its gradient is a sign estimator: :math:`\partial t_{b,c} / \partial s_{t,b,c} = -1` at the
first spike (at the last valid step for a silent neuron) and 0 elsewhere — a larger spike (a
higher membrane, through the surrogate) means an earlier time (snnTorch's ``SpikeTime``).

* :func:`ce_temporal_loss` — cross-entropy of :math:`-t` (``inverse="negate"``) or
  :math:`1/(t + 1)` (``"reciprocal"``): the label neuron should fire first;
* :func:`mse_temporal_loss` — squared error between :math:`t / T` and target times
  (``on_target`` for the label, ``off_target`` for the others; negative targets count from the end:
  ``-1`` is the last step) or given ``target_times``; errors within ``tolerance`` steps count as 0.

Both equal snnTorch's ``ce_temporal_loss`` / ``mse_temporal_loss`` with ``no_spike="last"``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from neuro.losses.readout import _check_sequence, step_mask
from neuro.losses.spikes import _one_hot, reduce

__all__ = ["first_spike_times", "ce_temporal_loss", "mse_temporal_loss"]


class _FirstSpike(torch.autograd.Function):
    """First-spike step with the sign-estimator gradient (module docstring)."""

    @staticmethod
    def forward(ctx, spikes: torch.Tensor, valid: torch.Tensor, last: torch.Tensor,  # type: ignore[override]
                no_spike: torch.Tensor) -> torch.Tensor:
        fired = (spikes != 0) & valid
        any_fired = fired.any(0)
        first = fired.to(spikes.dtype).argmax(0)  # the first True (0 when none)
        where = torch.where(any_fired, first, last.expand_as(first))
        ctx.save_for_backward(where)
        ctx.steps = spikes.shape[0]
        return torch.where(any_fired, first.to(spikes.dtype), no_spike.to(spikes.dtype).expand_as(first))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (where,) = ctx.saved_tensors
        out = torch.zeros(ctx.steps, *grad.shape, dtype=grad.dtype, device=grad.device)
        out.scatter_(0, where.unsqueeze(0), -grad.unsqueeze(0))
        return out, None, None, None


def first_spike_times(spikes: torch.Tensor, lengths: torch.Tensor | None = None,
                      no_spike: str = "length") -> torch.Tensor:
    """First-spike step of each neuron: ``[T, B, ...] -> [B, ...]`` (real-valued, with the
    sign-estimator gradient). ``no_spike``: ``"length"`` (the sample's length) or ``"last"``
    (its last step)."""
    if not isinstance(spikes, torch.Tensor) or spikes.dim() < 2:
        raise ValueError("spikes must be [T, B, ...]")
    if no_spike not in ("length", "last"):
        raise ValueError(f"no_spike must be 'length' or 'last', got {no_spike!r}")
    T, B = spikes.shape[:2]
    tail = (1,) * (spikes.dim() - 2)
    L = (torch.full((B,), T, device=spikes.device) if lengths is None
         else lengths.to(spikes.device).long().clamp(1, T))
    mask = step_mask(spikes, lengths)
    valid = torch.ones_like(spikes, dtype=torch.bool) if mask is None else mask.expand_as(spikes)
    last = (L - 1).view(B, *tail)
    silent = (L if no_spike == "length" else L - 1).view(B, *tail)
    return _FirstSpike.apply(spikes, valid, last, silent)


def ce_temporal_loss(spikes: torch.Tensor, labels: torch.Tensor, inverse: str = "negate", *,
                     lengths: torch.Tensor | None = None, no_spike: str = "length",
                     reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy of the inverted first-spike times of ``spikes [T, B, C]``."""
    _check_sequence(spikes, "spikes")
    times = first_spike_times(spikes, lengths, no_spike)
    if inverse == "negate":
        logits = -times
    elif inverse == "reciprocal":
        logits = 1 / (times + 1)
    else:
        raise ValueError(f"inverse must be 'negate' or 'reciprocal', got {inverse!r}")
    return reduce(F.cross_entropy(logits, labels, reduction="none"), reduction)


class _Tolerance(torch.autograd.Function):
    """Times within ``tolerance`` of their target are set to it (forward only)."""

    @staticmethod
    def forward(ctx, times: torch.Tensor, target: torch.Tensor, tolerance: float):  # type: ignore[override]
        close = (times - target).abs() < tolerance
        return torch.where(close, target, times)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        return grad, None, None


def mse_temporal_loss(spikes: torch.Tensor, labels: torch.Tensor | None = None, *,
                      target_times: torch.Tensor | None = None, on_target: float = 0,
                      off_target: float = -1, tolerance: float = 0,
                      lengths: torch.Tensor | None = None, no_spike: str = "length",
                      reduction: str = "mean") -> torch.Tensor:
    """Squared error of first-spike times against targets, both divided by ``T``.

    Give ``labels`` (targets ``on_target`` / ``off_target``) or ``target_times [B, C]``.
    """
    _check_sequence(spikes, "spikes")
    T = spikes.shape[0]
    times = first_spike_times(spikes, lengths, no_spike)
    if (labels is None) == (target_times is None):
        raise ValueError("give either labels or target_times")
    if target_times is None:
        target = _one_hot(labels, spikes.shape[-1], on_target, off_target, times)
    else:
        target = target_times.to(times)
    target = torch.where(target < 0, target + T, target)
    if tolerance:
        times = _Tolerance.apply(times, target, tolerance)
    return reduce(((times / T - target / T) ** 2).mean(-1), reduction)
