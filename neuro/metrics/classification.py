"""Predictions, accuracy, confusion matrices and firing rates (see :mod:`neuro.metrics`)."""

from __future__ import annotations

import torch

from neuro.losses.readout import LOSSES, group_classes, readout_logits
from neuro.losses.spikes import _lengths, spike_counts
from neuro.losses.temporal import first_spike_times

__all__ = ["READOUTS", "predict", "accuracy", "confusion_matrix", "firing_rates"]

READOUTS = LOSSES + ("rate", "first_spike")


def predict(out: torch.Tensor, readout: str = "count", lengths: torch.Tensor | None = None,
            num_classes: int | None = None) -> torch.Tensor:
    """Predicted classes ``[B]`` of an output sequence ``out [T, B, C]``.

    ``num_classes``: population coding (outputs summed per class first; for ``first_spike`` the
    earliest spike of the group).
    """
    if readout not in READOUTS:
        raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
    with torch.no_grad():
        if readout == "first_spike":
            times = first_spike_times(out, lengths)
            if num_classes is not None and num_classes != times.shape[-1]:
                if num_classes < 1 or times.shape[-1] % num_classes:
                    raise ValueError(f"num_classes={num_classes} must divide the number of outputs "
                                     f"({times.shape[-1]})")
                times = times.reshape(*times.shape[:-1], num_classes, -1).amin(-1)
            return times.argmin(-1)
        logits = readout_logits(out, "count" if readout == "rate" else readout, lengths)
        return group_classes(logits, num_classes).argmax(-1)


def accuracy(out: torch.Tensor, labels: torch.Tensor, readout: str = "count",
             lengths: torch.Tensor | None = None, num_classes: int | None = None) -> float:
    """Fraction of samples whose :func:`predict` equals ``labels``."""
    pred = predict(out, readout, lengths, num_classes)
    if labels.shape != pred.shape:
        raise ValueError(f"labels must be [B] = {tuple(pred.shape)}, got {tuple(labels.shape)}")
    return float((pred == labels.to(pred.device)).double().mean())


def confusion_matrix(predictions: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``[C, C]`` counts: row = true class, column = predicted class."""
    labels, predictions = labels.long().cpu().reshape(-1), predictions.long().cpu().reshape(-1)
    if labels.shape != predictions.shape:
        raise ValueError(f"labels and predictions differ in size: {labels.numel()} and "
                         f"{predictions.numel()}")
    for name, values in (("labels", labels), ("predictions", predictions)):
        if values.numel() and (int(values.min()) < 0 or int(values.max()) >= num_classes):
            raise ValueError(f"{name} must lie in [0, {num_classes}), got values in "
                             f"[{int(values.min())}, {int(values.max())}]")
    index = labels * num_classes + predictions
    return torch.bincount(index, minlength=num_classes ** 2).view(num_classes, num_classes)


def firing_rates(spikes: torch.Tensor, lengths: torch.Tensor | None = None,
                 dt: float | None = None) -> torch.Tensor:
    """Mean rate of each neuron over samples and valid steps: ``[T, B, *neurons] -> [*neurons]``
    (spikes per step, or per second with ``dt``)."""
    if not isinstance(spikes, torch.Tensor) or spikes.dim() < 2:
        raise ValueError("spikes must be [T, B, ...]")
    counts = spike_counts(spikes, lengths).sum(0)
    steps = _lengths(spikes, lengths).sum()
    rates = counts / steps
    return rates / dt if dt is not None else rates
