r"""Activity regularisers on spike trains ``[T, B, *neurons]`` (padded steps masked by ``lengths``).

With :math:`n_{b,i} = \sum_{t<L_b} s_{t,b,i}` the spike count of neuron :math:`i` in sample
:math:`b` and :math:`r_{b,i} = n_{b,i} / L_b` its rate (spikes per step):

* :func:`rate_l1` — :math:`\langle r_{b,i} \rangle` (``reduction="sum"``:
  :math:`\sum_{t,b,i} s_{t,b,i}`, snnTorch's ``l1_rate_sparsity`` without its factor);
* :func:`rate_l2` — :math:`\langle r_{b,i}^2 \rangle`;
* :func:`count_lower_bound` — keeps neurons from falling silent:
  :math:`\langle [\nu_{low} - n_{b,i}]_+^p \rangle` per neuron (``per="neuron"``), or on the
  population mean :math:`\bar n_b = \langle n_{b,i} \rangle_i` (``per="population"``);
* :func:`count_upper_bound` — limits activity: :math:`\langle [\bar n_b - \nu_{up}]_+^p \rangle`
  (``per="population"``, the default) or per neuron.

:math:`\langle\cdot\rangle` averages over samples (and neurons). The SHD baselines (Cramer et
al. 2020; Zenke & Vogels 2021) use a per-neuron lower bound and a population upper bound with
:math:`p = 2`: ``reg = a * count_lower_bound(s, 1e-3 * T) + b * count_upper_bound(s, 0.1 * T)``
for example. Each function returns a scalar to add to the loss (multiply by your strength).
"""

from __future__ import annotations

import torch

from neuro.losses.readout import step_mask
from neuro.losses.spikes import _lengths, spike_counts

__all__ = ["rate_l1", "rate_l2", "count_lower_bound", "count_upper_bound"]


def _check(spikes: object) -> torch.Tensor:
    if not isinstance(spikes, torch.Tensor) or spikes.dim() < 3:
        shape = tuple(spikes.shape) if isinstance(spikes, torch.Tensor) else type(spikes).__name__
        raise ValueError(f"spikes must be [T, B, *neurons], got {shape}")
    return spikes


def _rates(spikes: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    counts = spike_counts(_check(spikes), lengths)
    L = _lengths(spikes, lengths).view(-1, *([1] * (counts.dim() - 1)))
    return counts / L


def rate_l1(spikes: torch.Tensor, lengths: torch.Tensor | None = None,
            reduction: str = "mean") -> torch.Tensor:
    """Mean firing rate (L1 of the rates; ``reduction="sum"``: the total spike count)."""
    if reduction == "sum":
        mask = step_mask(_check(spikes), lengths)
        return (spikes if mask is None else spikes * mask).sum()
    if reduction != "mean":
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    return _rates(spikes, lengths).mean()


def rate_l2(spikes: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared firing rate (L2 of the rates, spikes per step)."""
    return (_rates(spikes, lengths) ** 2).mean()


def _bound(spikes: torch.Tensor, threshold: float, lengths: torch.Tensor | None, p: float, per: str,
           sign: int) -> torch.Tensor:
    if per not in ("neuron", "population"):
        raise ValueError(f"per must be 'neuron' or 'population', got {per!r}")
    if not p > 0:
        raise ValueError(f"p must be positive, got {p}")
    counts = spike_counts(_check(spikes), lengths).flatten(1)  # [B, N]
    if per == "population":
        counts = counts.mean(1)
    return torch.relu(sign * (counts - threshold)).pow(p).mean()


def count_lower_bound(spikes: torch.Tensor, threshold: float, lengths: torch.Tensor | None = None,
                      p: float = 2.0, per: str = "neuron") -> torch.Tensor:
    """Penalty on spike counts below ``threshold`` (per neuron, or of the population mean)."""
    return _bound(spikes, threshold, lengths, p, per, -1)


def count_upper_bound(spikes: torch.Tensor, threshold: float, lengths: torch.Tensor | None = None,
                      p: float = 2.0, per: str = "population") -> torch.Tensor:
    """Penalty on spike counts above ``threshold`` (of the population mean, or per neuron)."""
    return _bound(spikes, threshold, lengths, p, per, 1)
