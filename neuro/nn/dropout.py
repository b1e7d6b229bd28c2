r"""Dropout for sequences: one mask per sequence, shared by every step.

Ordinary dropout draws a new mask at every step, which for a spiking network is noise on the input
current rather than the removal of a unit; :class:`SequenceDropout` (SpikingJelly's
``layer.Dropout`` in multi-step mode, the dropout of the SNN-delays recipe) drops the same units
for the whole sequence: :math:`y_{t,b,\dots} = x_{t,b,\dots}\, m_{b,\dots} / (1 - p)`,
:math:`m \sim \text{Bernoulli}(1 - p)`.
"""

from __future__ import annotations

import torch

from neuro.nn.neurons import SpikingModule

__all__ = ["SequenceDropout"]


class SequenceDropout(SpikingModule):
    """Dropout with one mask per sequence, shared by all steps of ``[T, B, ...]``.

    Args:
        p: probability of dropping a unit, in ``[0, 1)``.
        generator: optional ``torch.Generator`` for reproducible masks (on the input's device).

    Identity in ``eval()`` mode (and for ``p = 0``). ``forward(x, state=None) -> (y, None)``.
    """

    def __init__(self, p: float, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p
        self.generator = generator

    def forward(self, x: torch.Tensor, state: None = None):
        """``x [T, B, ...] -> (y, None)``: one mask over ``[B, ...]`` for every step."""
        if not self.training or self.p == 0:
            return x, None
        if x.dim() < 2:
            raise ValueError(f"SequenceDropout takes x of shape [T, B, ...], got {tuple(x.shape)}")
        keep = x.new_full(x.shape[1:], 1 - self.p)
        mask = torch.bernoulli(keep, generator=self.generator) / (1 - self.p)
        return x * mask, None

    def extra_repr(self) -> str:
        """The drop probability ``p``."""
        return f"p={self.p}"
