r"""Readout logits and classification losses on readout sequences ``out [T, B, C]`` (moved here
from :mod:`neuro.train.losses`, which re-exports them; padded steps are masked by ``lengths``).

Each loss turns the sequence into logits :math:`z \in \mathbb{R}^{B \times C}` and applies
cross-entropy :math:`-\log \mathrm{softmax}(z)_y`:

* ``count`` — spike counts of a spiking readout, :math:`z_c = \sum_t s_{t,c}` (snnTorch's
  ``ce_count_loss``); needs ``readout="spikes"``;
* ``max``   — maximum membrane of an LI readout over time, :math:`z_c = \max_t u_{t,c}`
  (the usual SHD choice; snnTorch's ``ce_max_membrane_loss``);
* ``last``  — membrane at the last valid step, :math:`z_c = u_{L-1,c}`;
* ``mean``  — mean membrane over the valid steps, :math:`z_c = \frac{1}{L}\sum_{t<L} u_{t,c}`;
* ``sum_softmax`` — summed per-step probabilities, :math:`z_c = \sum_{t<L} \mathrm{softmax}(u_t)_c`
  (the SNN-delays recipe's "sum" loss; cross-entropy then applies log-softmax to these sums,
  as the authors' code does).

The prediction is :math:`\arg\max_c z_c` for all of them.
"""

from __future__ import annotations

from types import MappingProxyType

import torch
import torch.nn.functional as F

__all__ = ["LOSSES", "READOUT_OF_LOSS", "step_mask", "group_classes", "readout_logits",
           "classification_loss"]

LOSSES = ("count", "max", "last", "mean", "sum_softmax")
READOUT_OF_LOSS = MappingProxyType({"count": "spikes", "max": "membrane", "last": "membrane",
                                    "mean": "membrane", "sum_softmax": "membrane"})


def step_mask(out: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor | None:
    """``[T, B, 1, ...]`` boolean mask of the valid steps of ``out [T, B, ...]`` (``None`` without
    ``lengths``): step ``t`` of sample ``b`` is valid when ``t < lengths[b]``."""
    if lengths is None:
        return None
    if lengths.dim() != 1 or lengths.shape[0] != out.shape[1]:
        raise ValueError(f"lengths must be [B] = [{out.shape[1]}], got shape {tuple(lengths.shape)}")
    steps = torch.arange(out.shape[0], device=out.device)[:, None]
    mask = steps < lengths.to(out.device)[None, :]
    return mask.view(*mask.shape, *([1] * (out.dim() - 2)))


def group_classes(x: torch.Tensor, num_classes: int | None) -> torch.Tensor:
    """Population readout: sum the ``C * k`` outputs of the last dimension in ``num_classes``
    contiguous groups of ``k`` (class ``c`` owns outputs ``c k ... c k + k - 1``, as snnTorch's
    ``population_code``); ``num_classes=None`` returns ``x``."""
    if num_classes is None or num_classes == x.shape[-1]:
        return x
    outputs = x.shape[-1]
    if num_classes < 1 or outputs % num_classes:
        raise ValueError(f"num_classes={num_classes} must divide the number of outputs ({outputs})")
    return x.reshape(*x.shape[:-1], num_classes, outputs // num_classes).sum(-1)


def _check_sequence(out: object, name: str = "readout") -> torch.Tensor:
    if not isinstance(out, torch.Tensor) or out.dim() != 3:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"{name} must be [T, B, classes], got shape {shape}")
    return out


def readout_logits(out: torch.Tensor, loss: str, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Logits ``[B, C]`` of the readout sequence ``out [T, B, C]`` for ``loss``."""
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; valid: {', '.join(LOSSES)}")
    _check_sequence(out)
    mask = step_mask(out, lengths)
    if loss == "count":
        return (out if mask is None else out * mask).sum(0)
    if loss == "sum_softmax":
        probs = torch.softmax(out, dim=-1)
        return (probs if mask is None else probs * mask).sum(0)
    if loss == "max":
        return (out if mask is None else out.masked_fill(~mask, float("-inf"))).max(0).values
    if loss == "last":
        if lengths is None:
            return out[-1]
        last = (lengths.to(out.device) - 1).clamp(min=0)
        return out[last, torch.arange(out.shape[1], device=out.device)]
    if mask is None:
        return out.mean(0)
    return (out * mask).sum(0) / mask.sum(0).clamp(min=1)


def classification_loss(out: torch.Tensor, labels: torch.Tensor, loss: str,
                        lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(cross-entropy, logits)`` of the readout sequence for ``loss``."""
    logits = readout_logits(out, loss, lengths)
    return F.cross_entropy(logits, labels), logits
