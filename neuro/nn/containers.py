"""Containers: a ``Sequential`` that threads states, and stateless layers applied over time."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from neuro.nn.neurons import SpikingModule
from neuro.state import detach_states

__all__ = ["Sequential", "TimeDistributed", "detach_states"]


class TimeDistributed(SpikingModule):
    """Apply a stateless layer (``Linear``, ``Conv2d``, pooling...) to every step of ``[T, B, ...]``.

    Time is folded into the batch (``[T*B, ...]``), the layer runs once, and the result is unfolded,
    so a convolution over a whole sequence is a single call. Returns ``(out, None)``.
    """

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor, state: None = None):
        """The wrapped layer applied to every step of ``x [T, B, ...]`` at once (time folded into the batch):
        ``(out [T, B, ...], None)``; the layer keeps no state.
        """
        if x.dim() < 2:
            raise ValueError(f"TimeDistributed expects [T, B, ...], got shape {tuple(x.shape)}")
        y = self.layer(x.reshape(x.shape[0] * x.shape[1], *x.shape[2:]))
        return y.reshape(x.shape[0], x.shape[1], *y.shape[1:]), None


class Sequential(SpikingModule):
    """Chain of layers on time-major sequences; ``forward(x, state=None) -> (out, states)``.

    neuro modules receive their own entry of ``states`` (a list, one per layer, ``None`` for
    stateless layers); any other ``nn.Module`` is treated as stateless and applied to every time
    step at once through :class:`TimeDistributed`.
    """

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            [layer if isinstance(layer, SpikingModule) else TimeDistributed(layer) for layer in layers])

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> nn.Module:
        return self.layers[index]

    def forward(self, x: torch.Tensor, state: Sequence | None = None):
        """Run the layers in order on ``x [T, B, ...]``: returns the last layer's output and the list of the
        layers' new states (one entry per layer, ``None`` for stateless ones). ``state`` is such a list
        from a previous call, or ``None`` to start from rest.
        """
        if state is not None and len(state) != len(self.layers):
            raise ValueError(f"state has {len(state)} entries but the Sequential has "
                             f"{len(self.layers)} layers")
        states = []
        for k, layer in enumerate(self.layers):
            x, s = layer(x, None if state is None else state[k])
            states.append(s)
        return x, states
