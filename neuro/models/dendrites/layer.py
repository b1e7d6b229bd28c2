r"""The active-dendrite layer of Iyer et al. (2022) and its k-winners-take-all activation.

For an input :math:`x` and a context vector :math:`c \in \mathbb{R}^{d_c}`, unit :math:`j` of a
:class:`DendriticLayer` computes

.. math::

    \hat y_j = (W \odot M)_j \cdot x + b_j, \qquad
    a_{j,k} = u_{j,k} \cdot c \;(+\, \beta_{j,k}), \quad k = 1..S,

with a fixed random sparsity mask :math:`M` on the feed-forward weights (re-applied after every
optimiser step: :meth:`DendriticLayer.rezero_weights`) and ``S`` dendritic segments per unit
(weights :math:`u_{j,k}`, optionally sparse, optional bias :math:`\beta`). One segment is selected
per unit (``mode``):

* ``"bias"``: :math:`y_j = \hat y_j + \max_k a_{j,k}`;
* ``"max_gate"``: :math:`y_j = \hat y_j\,\sigma(\max_k a_{j,k})`;
* ``"abs_max_gate"`` (default): :math:`k^* = \arg\max_k |a_{j,k}|`,
  :math:`y_j = \hat y_j\,\sigma(a_{j,k^*})` — the sign is kept, so a strongly negative segment
  switches the unit off.

The selection is a gather of the winner, so gradients flow only through the winning segment.
``segments = 1`` skips the selection (a fast path: :math:`a_j` used directly); ``segments = 0`` is a
plain sparse linear layer (the "k-WTA without dendrites" ablation).

:class:`KWinners` keeps the :math:`k = \lceil p N \rceil` largest of :math:`N` units per sample and
zeroes the rest (no boosting; the same ``k`` in training and inference); gradients flow through the
winners only.

Initialisation (sparse-aware Kaiming-uniform): feed-forward weights
:math:`U(-\epsilon, \epsilon)`, :math:`\epsilon = 1/\sqrt{\rho_{in}\,\rho_W\,\text{fan\_in}}`
with the input density :math:`\rho_{in}` (1 for dense inputs, the k-WTA fraction after a k-WTA
layer) and the weight density :math:`\rho_W = 1 - \text{weight\_sparsity}`; segments likewise with
fan-in :math:`d_c`, the context density and the segment weight density.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

MODES = ("bias", "max_gate", "abs_max_gate")


def sparse_uniform_bound(fan_in: int, input_density: float = 1.0, weight_density: float = 1.0) -> float:
    r""":math:`1/\sqrt{\rho_{in}\,\rho_W\,\text{fan\_in}}` (module docstring)."""
    for name, value in (("input_density", input_density), ("weight_density", weight_density)):
        if not 0.0 < value <= 1.0:
            raise ValueError(f"{name} must be in (0, 1], got {value}")
    if fan_in < 1:
        raise ValueError(f"fan_in must be >= 1, got {fan_in}")
    return 1.0 / math.sqrt(input_density * weight_density * fan_in)


def random_mask(rows: int, columns: int, sparsity: float,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """``bool [rows, columns]``: each row keeps ``columns - round(sparsity * columns)`` random
    entries (exactly the same number of zeros per unit)."""
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    zeros = int(round(sparsity * columns))
    order = torch.rand(rows, columns, generator=generator).argsort(dim=1)
    return order >= zeros  # the `zeros` smallest keys of every row are pruned


def select_segment(activations: torch.Tensor, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The selected activation ``[..., units]`` and the winning segment index per unit.

    ``activations`` is ``[..., units, segments]``; the value is gathered at the winner, so only the
    winning segment receives a gradient.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    key = activations.abs() if mode == "abs_max_gate" else activations
    winner = key.argmax(dim=-1)
    return activations.gather(-1, winner.unsqueeze(-1)).squeeze(-1), winner


def modulate(y: torch.Tensor, selected: torch.Tensor, mode: str) -> torch.Tensor:
    """Apply the selected dendritic activation to the feed-forward output (module docstring)."""
    return y + selected if mode == "bias" else y * torch.sigmoid(selected)


class KWinners(nn.Module):
    """Keep the ``ceil(percent_on * N)`` largest values of the last dimension, zero the rest."""

    def __init__(self, units: int, percent_on: float) -> None:
        super().__init__()
        if not 0.0 < percent_on <= 1.0:
            raise ValueError(f"percent_on must be in (0, 1], got {percent_on}")
        self.units, self.percent_on = int(units), float(percent_on)
        self.k = max(1, math.ceil(self.percent_on * self.units - 1e-9))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [..., units]`` with all but the ``k`` largest values of the last dimension set to 0 (unchanged
        when ``k >= units``).
        """
        if x.shape[-1] != self.units:
            raise ValueError(f"KWinners over {self.units} units got {x.shape[-1]}")
        if self.k >= self.units:
            return x
        winners = x.topk(self.k, dim=-1).indices
        mask = torch.zeros_like(x, dtype=torch.bool).scatter_(-1, winners, True)
        return x * mask

    def extra_repr(self) -> str:
        """Units, fraction on and ``k``."""
        return f"units={self.units}, percent_on={self.percent_on}, k={self.k}"


class DendriticLayer(nn.Module):
    """Sparse feed-forward weights modulated by context-driven dendritic segments (module docstring).

    Args:
        in_features, out_features: feed-forward sizes.
        context_features: ``d_c``, the context vector's size.
        segments: ``S`` segments per unit (0: none; 1: the single-segment fast path).
        mode: ``"bias"``, ``"max_gate"`` or ``"abs_max_gate"``.
        weight_sparsity: fraction of feed-forward weights fixed at zero (per unit).
        dendrite_sparsity: fraction of segment weights fixed at zero.
        bias: feed-forward bias. segment_bias: a bias per segment.
        input_density, context_density: expected fraction of non-zero inputs / context entries
            (initialisation only).
        generator: random masks and initial values (default: torch's global generator).

    ``forward(x, context, context_index=None)``: ``x [..., in]``; ``context`` ``[d_c]`` (shared by
    all samples), ``[B, d_c]`` (broadcast against ``x`` from the right, e.g. ``x [T, B, in]``) or
    ``[U, d_c]`` with ``context_index [B]`` picking a row per sample (segment activations are then
    computed once per distinct context). Returns ``[..., out]`` (before any k-WTA).
    """

    def __init__(self, in_features: int, out_features: int, context_features: int, segments: int,
                 mode: str = "abs_max_gate", weight_sparsity: float = 0.5,
                 dendrite_sparsity: float = 0.0, bias: bool = True, segment_bias: bool = False,
                 input_density: float = 1.0, context_density: float = 1.0,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if int(segments) < 0:
            raise ValueError(f"segments must be >= 0, got {segments}")
        if min(in_features, out_features, context_features) < 1:
            raise ValueError("in_features, out_features and context_features must be >= 1")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.context_features, self.segments, self.mode = int(context_features), int(segments), mode
        self.weight_sparsity, self.dendrite_sparsity = float(weight_sparsity), float(dendrite_sparsity)

        self.weight = nn.Parameter(torch.empty(self.out_features, self.in_features))
        self.register_buffer("weight_mask", random_mask(self.out_features, self.in_features,
                                                        self.weight_sparsity, generator))
        self.bias = nn.Parameter(torch.empty(self.out_features)) if bias else None
        bound = sparse_uniform_bound(self.in_features, input_density, 1.0 - self.weight_sparsity)
        with torch.no_grad():
            self.weight.uniform_(-bound, bound, generator=generator)
            if self.bias is not None:
                b = 1.0 / math.sqrt(self.in_features)  # torch.nn.Linear's bias initialisation
                self.bias.uniform_(-b, b, generator=generator)
        if self.segments:
            shape = (self.out_features, self.segments, self.context_features)
            self.segment_weights = nn.Parameter(torch.empty(shape))
            mask = random_mask(self.out_features * self.segments, self.context_features,
                               self.dendrite_sparsity, generator).reshape(shape)
            self.register_buffer("segment_mask", mask)
            bound = sparse_uniform_bound(self.context_features, context_density,
                                         1.0 - self.dendrite_sparsity)
            with torch.no_grad():
                self.segment_weights.uniform_(-bound, bound, generator=generator)
            self.segment_bias = (nn.Parameter(torch.zeros(self.out_features, self.segments))
                                 if segment_bias else None)
        else:
            self.segment_weights, self.segment_mask, self.segment_bias = None, None, None
        self.rezero_weights()

    @torch.no_grad()
    def rezero_weights(self) -> None:
        """Re-apply the fixed sparsity masks (call after every optimiser step)."""
        self.weight.mul_(self.weight_mask)
        if self.segments and self.dendrite_sparsity > 0:
            self.segment_weights.mul_(self.segment_mask)

    def feedforward(self, x: torch.Tensor) -> torch.Tensor:
        r""":math:`\hat y = (W \odot M) x + b`. Multiplying by the mask here too gives masked
        weights a zero gradient, so momentum and Adam moments never move them."""
        return F.linear(x, self.weight * self.weight_mask, self.bias)

    def segment_activations(self, context: torch.Tensor) -> torch.Tensor:
        """``a [..., out, S]`` for a context ``[..., d_c]``."""
        if context.shape[-1] != self.context_features:
            raise ValueError(f"context has {context.shape[-1]} features, the layer expects "
                             f"{self.context_features}")
        weights = self.segment_weights
        if self.dendrite_sparsity > 0:
            weights = weights * self.segment_mask
        flat = weights.reshape(-1, self.context_features)
        a = F.linear(context, flat).unflatten(-1, (self.out_features, self.segments))
        return a if self.segment_bias is None else a + self.segment_bias

    def dendritic_input(self, context: torch.Tensor,
                        context_index: torch.Tensor | None = None) -> torch.Tensor:
        """The selected segment activation per unit, ``[..., out]`` (one row per context, or per
        sample with ``context_index``)."""
        a = self.segment_activations(context)
        if self.segments == 1:  # fast path: nothing to select
            selected = a.squeeze(-1)
        else:
            selected, _ = select_segment(a, self.mode)
        return selected if context_index is None else selected[context_index]

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                context_index: torch.Tensor | None = None) -> torch.Tensor:
        """The masked linear output ``[..., out]`` modulated by the selected dendritic segment per unit (gate
        or bias, ``mode``), for ``context`` rows (one per sample, or selected by ``context_index``).
        Without segments the plain linear output; raises ``ValueError`` if segments exist and ``context``
        is missing.
        """
        y = self.feedforward(x)
        if not self.segments:
            return y
        if context is None:
            raise ValueError("a dendritic layer needs a context (or segments=0)")
        return modulate(y, self.dendritic_input(context, context_index), self.mode)

    def extra_repr(self) -> str:
        """Sizes, segments, selection mode, sparsities and bias."""
        return (f"in={self.in_features}, out={self.out_features}, context={self.context_features}, "
                f"segments={self.segments}, mode={self.mode!r}, weight_sparsity="
                f"{self.weight_sparsity}, dendrite_sparsity={self.dendrite_sparsity}, "
                f"bias={self.bias is not None}")
