r"""Classification losses on readout sequences ``out [T, B, C]`` (padded steps masked by ``lengths``).

Each loss turns the sequence into logits :math:`z \in \mathbb{R}^{B \times C}` and applies
cross-entropy :math:`-\log \mathrm{softmax}(z)_y`:

* ``count`` — spike counts of a spiking readout, :math:`z_c = \sum_t s_{t,c}` (snnTorch's
  ``ce_count_loss``); needs ``readout="spikes"``;
* ``max``   — maximum membrane of an LI readout over time, :math:`z_c = \max_t u_{t,c}`
  (the usual SHD choice);
* ``last``  — membrane at the last valid step, :math:`z_c = u_{L-1,c}`;
* ``mean``  — mean membrane over the valid steps, :math:`z_c = \frac{1}{L}\sum_{t<L} u_{t,c}`;
* ``sum_softmax`` — summed per-step probabilities, :math:`z_c = \sum_{t<L} \mathrm{softmax}(u_t)_c`
  (the SNN-delays recipe's "sum" loss; cross-entropy then applies log-softmax to these sums,
  as the authors' code does).

The prediction is :math:`\arg\max_c z_c` for all of them.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Optional

import torch
import torch.nn.functional as F

LOSSES = ("count", "max", "last", "mean", "sum_softmax")
READOUT_OF_LOSS = MappingProxyType({"count": "spikes", "max": "membrane", "last": "membrane",
                                    "mean": "membrane", "sum_softmax": "membrane"})


def _mask(out: torch.Tensor, lengths: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    if lengths is None:
        return None
    steps = torch.arange(out.shape[0], device=out.device)[:, None]
    return (steps < lengths.to(out.device)[None, :]).unsqueeze(-1)  # [T, B, 1]


def readout_logits(out: torch.Tensor, loss: str, lengths: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Logits ``[B, C]`` of the readout sequence ``out [T, B, C]`` for ``loss``."""
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; valid: {', '.join(LOSSES)}")
    if out.dim() != 3:
        raise ValueError(f"readout must be [T, B, classes], got shape {tuple(out.shape)}")
    mask = _mask(out, lengths)
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
                        lengths: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(cross-entropy, logits)`` of the readout sequence for ``loss``."""
    logits = readout_logits(out, loss, lengths)
    return F.cross_entropy(logits, labels), logits
