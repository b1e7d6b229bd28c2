r"""A recurrently connected spiking layer over a one-step neuron cell.

.. math::

    I_t = W_{in} x_t + b + W_{rec} s_{t-1}, \qquad (s_t, \text{state}_t) = \text{cell}(I_t, \text{state}_{t-1})

with :math:`s_0 = 0`. The feed-forward part :math:`W_{in} x_t` is one matmul over the whole sequence;
the recurrence runs step by step on the cell (``LIFCell``, ``CubaLIFCell``, ``ALIFCell``...), so
its neuron dynamics are exactly those of :mod:`neuro.functional.lif`.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from neuro.nn.neurons import SpikingModule


class Recurrent(SpikingModule):
    """``[T, B, in_features] -> [T, B, out_features]`` spikes with all-to-all recurrent weights.

    Args:
        in_features: input size. out_features: number of neurons.
        cell: a one-step neuron module (e.g. ``LIFCell()``), applied to ``[B, out_features]``.
        bias: learn a bias on the input current.

    The state is ``(cell_state, last_spikes)``; ``None`` starts from rest.
    """

    spiking = True

    def __init__(self, in_features: int, out_features: int, cell: nn.Module,
                 bias: bool = True) -> None:
        super().__init__()
        if not getattr(cell, "single_step", False):
            raise TypeError(f"cell must be a one-step neuron module such as LIFCell, got "
                            f"{type(cell).__name__}")
        self.input = nn.Linear(in_features, out_features, bias=bias)
        self.recurrent = nn.Linear(out_features, out_features, bias=False)
        nn.init.orthogonal_(self.recurrent.weight, gain=0.5)
        self.cell = cell

    def forward(self, x: torch.Tensor, state: Optional[tuple] = None):
        if x.dim() != 3 or x.shape[-1] != self.input.in_features:
            raise ValueError(f"Recurrent expects [T, B, {self.input.in_features}], "
                             f"got shape {tuple(x.shape)}")
        current = self.input(x)
        cell_state, s = (None, torch.zeros_like(current[0])) if state is None else state
        out = []
        for i_t in current.unbind(0):  # unbind, not x[t]: keeps backward O(T)
            s, cell_state = self.cell(i_t + self.recurrent(s), cell_state)
            out.append(s)
        return torch.stack(out), (cell_state, s)
