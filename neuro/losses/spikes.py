r"""Losses on output spike trains and membranes ``[T, B, C]`` (padded steps masked by ``lengths``).

With :math:`s_{t,b,c}` the output spikes, :math:`u_{t,b,c}` membranes, :math:`L_b` the valid
length (:math:`T` without ``lengths``), :math:`y_b` the labels and
:math:`n_{b,c} = \sum_{t<L_b} s_{t,b,c}` the counts:

* :func:`ce_count_loss` — cross-entropy of the counts, :math:`\mathrm{CE}(n_b, y_b)`;
* :func:`ce_rate_loss` — cross-entropy at every step, averaged over the valid steps,
  :math:`\frac{1}{L_b}\sum_{t<L_b} \mathrm{CE}(s_{t,b}, y_b)`;
* :func:`ce_membrane_loss` — cross-entropy of a membrane readout (``"max"``, ``"last"``,
  ``"mean"``, ``"sum_softmax"``: :mod:`neuro.losses.readout`);
* :func:`mse_count_loss` — squared error of the counts against target counts
  :math:`\rho_{on} L_b` for the label, :math:`\rho_{off} L_b` for the others, divided by
  :math:`L_b` (SLAYER's spike-count loss; snnTorch's ``mse_count_loss``);
* :func:`mse_membrane_loss` — squared error of the membrane against ``on_target`` for the label,
  ``off_target`` for the others, averaged over the valid steps (snnTorch's
  ``mse_membrane_loss``).

``num_classes`` (population coding) sums the outputs of each class first
(:func:`~neuro.losses.readout.group_classes`); ``weight`` weighs the classes as in
``torch.nn.functional.cross_entropy``; ``reduction`` is ``"mean"``, ``"sum"`` or ``"none"``
(one value per sample). With the same inputs these equal snnTorch's ``snntorch.functional``
losses (``tests/test_losses*.py``), whose counts targets snnTorch rounds down to whole spikes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from neuro.losses.readout import _check_sequence, group_classes, readout_logits, step_mask

__all__ = ["ce_count_loss", "ce_rate_loss", "ce_membrane_loss", "mse_count_loss", "mse_membrane_loss",
           "spike_counts", "reduce"]

REDUCTIONS = ("mean", "sum", "none")


def reduce(per_sample: torch.Tensor, reduction: str) -> torch.Tensor:
    """``per_sample [B]`` reduced by ``"mean"``, ``"sum"`` or ``"none"``."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if reduction == "none":
        return per_sample
    return per_sample.mean() if reduction == "mean" else per_sample.sum()


def spike_counts(spikes: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Spikes per neuron over the valid steps: ``[T, B, ...] -> [B, ...]``."""
    mask = step_mask(spikes, lengths)
    return (spikes if mask is None else spikes * mask).sum(0)


def _lengths(out: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    if lengths is None:
        return torch.full((out.shape[1],), out.shape[0], dtype=out.dtype, device=out.device)
    return lengths.to(device=out.device, dtype=out.dtype).clamp(min=1)


def _one_hot(labels: torch.Tensor, classes: int, on: float, off: float, like: torch.Tensor) -> torch.Tensor:
    if labels.dim() != 1:
        raise ValueError(f"labels must be [B] class indices, got shape {tuple(labels.shape)}")
    hot = F.one_hot(labels.long().to(like.device), classes).to(like.dtype)
    return off + (on - off) * hot


def ce_count_loss(spikes: torch.Tensor, labels: torch.Tensor, *, lengths: torch.Tensor | None = None,
                  num_classes: int | None = None, weight: torch.Tensor | None = None,
                  reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy of the spike counts of ``spikes [T, B, C]``."""
    _check_sequence(spikes, "spikes")
    counts = group_classes(spike_counts(spikes, lengths), num_classes)
    per = F.cross_entropy(counts, labels, weight=weight, reduction="none")
    if reduction == "mean" and weight is not None:  # as cross_entropy: weighted mean
        return per.sum() / weight.to(per)[labels].sum()
    return reduce(per, reduction)


def ce_rate_loss(spikes: torch.Tensor, labels: torch.Tensor, *, lengths: torch.Tensor | None = None,
                 num_classes: int | None = None, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy of the spikes at every step, averaged over each sample's valid steps."""
    _check_sequence(spikes, "spikes")
    grouped = group_classes(spikes, num_classes)
    T, B, C = grouped.shape
    per_step = F.cross_entropy(grouped.reshape(T * B, C), labels.repeat(T),
                               reduction="none").view(T, B)
    mask = step_mask(per_step.unsqueeze(-1), lengths)
    if mask is not None:
        per_step = per_step * mask.squeeze(-1)
    return reduce(per_step.sum(0) / _lengths(spikes, lengths), reduction)


def ce_membrane_loss(membrane: torch.Tensor, labels: torch.Tensor, readout: str = "max", *,
                     lengths: torch.Tensor | None = None, num_classes: int | None = None,
                     reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy of a membrane readout ``membrane [T, B, C]`` (``readout``: ``"max"``
    (snnTorch's ``ce_max_membrane_loss``), ``"last"``, ``"mean"`` or ``"sum_softmax"``)."""
    if readout == "count":
        raise ValueError("readout='count' reads spikes: use ce_count_loss")
    logits = group_classes(readout_logits(membrane, readout, lengths), num_classes)
    return reduce(F.cross_entropy(logits, labels, reduction="none"), reduction)


def mse_count_loss(spikes: torch.Tensor, labels: torch.Tensor, *, correct_rate: float = 1.0,
                   incorrect_rate: float = 0.0, lengths: torch.Tensor | None = None,
                   num_classes: int | None = None, reduction: str = "mean") -> torch.Tensor:
    """Squared error of the counts against ``correct_rate`` / ``incorrect_rate`` times the
    length (times the group size with ``num_classes``), divided by the length."""
    _check_sequence(spikes, "spikes")
    for name, value in (("correct_rate", correct_rate), ("incorrect_rate", incorrect_rate)):
        if not 0 <= value <= 1:
            raise ValueError(f"{name} must lie in [0, 1] (spikes per step), got {value}")
    counts = group_classes(spike_counts(spikes, lengths), num_classes)
    group = spikes.shape[-1] // counts.shape[-1]
    L = _lengths(spikes, lengths)[:, None]
    target = _one_hot(labels, counts.shape[-1], correct_rate * group, incorrect_rate * group,
                      counts) * L
    return reduce(((counts - target) ** 2).mean(-1) / L[:, 0], reduction)


def mse_membrane_loss(membrane: torch.Tensor, labels: torch.Tensor, *, on_target: float = 1.0,
                      off_target: float = 0.0, lengths: torch.Tensor | None = None,
                      reduction: str = "mean") -> torch.Tensor:
    """Squared error of ``membrane [T, B, C]`` against ``on_target`` (label) / ``off_target``
    (others) at every valid step, averaged over steps and outputs."""
    _check_sequence(membrane, "membrane")
    target = _one_hot(labels, membrane.shape[-1], on_target, off_target, membrane)
    err = ((membrane - target) ** 2).mean(-1)  # [T, B]
    mask = step_mask(err.unsqueeze(-1), lengths)
    if mask is not None:
        err = err * mask.squeeze(-1)
    return reduce(err.sum(0) / _lengths(membrane, lengths), reduction)
