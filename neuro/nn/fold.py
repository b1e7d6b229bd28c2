r"""Fold inference-time BatchNorm into the preceding convolution or linear layer.

In eval mode ``BN(z) = gamma (z - mu) / sqrt(var + eps) + beta`` is affine per channel, so after
``z = W x + b`` it is the same layer with

.. math::
    W' = W \cdot s, \qquad b' = (b - \mu) s + \beta, \qquad s = \gamma / \sqrt{\sigma^2 + \epsilon}

(``s`` broadcast over each output channel). Export formats (NIR) and integer hardware have no
BatchNorm, so models are folded before export / quantisation.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from neuro.nn.containers import Sequential, TimeDistributed

_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
_FOLDABLE = (nn.Linear, nn.Conv1d, nn.Conv2d)


def _unwrap(m: nn.Module) -> nn.Module:
    return m.layer if isinstance(m, TimeDistributed) else m


def fold_into(layer: nn.Module, norm: nn.Module) -> nn.Module:
    """A copy of ``layer`` (Linear / Conv) with the eval-mode ``norm`` after it folded in."""
    if not isinstance(layer, _FOLDABLE) or not isinstance(norm, _NORMS):
        raise TypeError(f"cannot fold {type(norm).__name__} into {type(layer).__name__}")
    if norm.running_mean is None or norm.running_var is None:
        raise ValueError("BatchNorm without running statistics (track_running_stats=False) "
                         "cannot be folded")
    out_channels = layer.weight.shape[0]
    if norm.num_features != out_channels:
        raise ValueError(f"{type(norm).__name__}({norm.num_features}) does not follow a layer with "
                         f"{out_channels} output channels")
    folded = copy.deepcopy(layer)
    with torch.no_grad():
        scale = torch.rsqrt(norm.running_var + norm.eps)
        if norm.affine:
            scale = scale * norm.weight
        shift = -norm.running_mean * scale + (norm.bias if norm.affine else 0.0)
        shape = (-1,) + (1,) * (layer.weight.dim() - 1)
        folded.weight.copy_(layer.weight * scale.view(shape))
        bias = layer.bias if layer.bias is not None else torch.zeros_like(shift)
        folded.bias = nn.Parameter(bias * scale + shift)
    return folded


def fold_batch_norm(model: nn.Module) -> nn.Module:
    """``model`` with every ``Linear/Conv -> BatchNorm`` pair of a ``Sequential`` folded.

    Returns ``model`` itself when it has nothing to fold, else a folded copy (the original is
    untouched). A BatchNorm that does not follow a Linear/Conv raises a ValueError.
    """
    if not isinstance(model, Sequential):
        return model
    layers = list(model.layers)
    if not any(isinstance(_unwrap(m), _NORMS) for m in layers):
        return model
    out: list[nn.Module] = []
    for m in layers:
        inner = _unwrap(m)
        if isinstance(inner, _NORMS):
            if not out or not isinstance(_unwrap(out[-1]), _FOLDABLE):
                raise ValueError(f"{type(inner).__name__} must follow a Linear or Conv layer to be "
                                 "folded for export")
            out[-1] = fold_into(_unwrap(out[-1]), inner)
        else:
            out.append(fold_batch_norm(m) if isinstance(m, Sequential) else m)
    folded = Sequential(*[_unwrap(m) if isinstance(m, TimeDistributed) else m for m in out])
    return folded.train(model.training)
