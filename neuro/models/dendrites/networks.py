r"""Active Dendrites Networks: the non-spiking MLP of Iyer et al. (2022) and a spiking variant.

:class:`DendriticMLP` — ``in -> [DendriticLayer -> k-WTA] x L -> Linear``: every hidden layer is a
:class:`~neuro.models.dendrites.layer.DendriticLayer` followed by k-winners-take-all (or ReLU when
``kwta = 0``: the "dendrites without k-WTA" ablation); one shared output head.

:class:`SpikingDendriticMLP` — the same gating on the engine's LIF neurons, time-major
``[T, B, ...]`` with explicit states. Hidden layer :math:`l` at step :math:`t`:

.. math::

    I_t = \mathrm{kWTA}\big((W \odot M)\,x_t + b\big) \odot \sigma(a_{k^*}(c)), \qquad
    v_t = \beta v_{t-1} + I_t,\quad s_t = H(v_t - \vartheta),\ v_t \leftarrow v_t - \vartheta s_t,

i.e. the selected dendritic segment gates (or, in ``bias`` mode, shifts) the input current of each
:class:`neuro.nn.LIF` neuron (:math:`\beta = e^{-dt/\tau_{mem}}`, threshold 1, subtractive reset,
ATan surrogate gradient), and k-WTA keeps the ``ceil(p N)`` largest gated currents per step. The
gate depends on the context only, so it is computed once per sequence. The readout is
``Linear -> LI`` (mean membrane over time = logits), as the continual runner's LIF MLP.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from neuro.models.dendrites.layer import DendriticLayer, KWinners, modulate
from neuro.nn import LI, LIF, SpikingModule


def _hidden(hidden: Sequence[int]) -> list[int]:
    sizes = [int(h) for h in hidden]
    if not sizes or any(h < 1 for h in sizes):
        raise ValueError(f"hidden must list positive layer sizes, got {list(hidden)}")
    return sizes


def _check_kwta(kwta: float) -> float:
    if not 0.0 <= float(kwta) <= 1.0:
        raise ValueError(f"kwta must be in [0, 1] (0: no k-WTA), got {kwta}")
    return float(kwta)


class DendriticMLP(nn.Module):
    """Non-spiking Active Dendrites Network (module docstring).

    Args:
        in_features, hidden, out_features: layer sizes (the paper: 784 -> [2048, 2048] -> 10).
        context_features: size of the context vector.
        segments: segments per hidden unit (the paper: the number of tasks; 0 = no dendrites).
        mode: segment selection (``"abs_max_gate"``, ``"max_gate"``, ``"bias"``).
        kwta: fraction of winners per hidden layer (the paper: 0.05); 0 uses ReLU instead.
        weight_sparsity: fraction of zero feed-forward weights (the paper: 0.5).
        dendrite_sparsity: fraction of zero segment weights (the paper: 0, dense).
        bias: feed-forward biases. context_density: fraction of non-zero context entries (init).
        generator: random masks and initial values.

    ``forward(x [..., in], context, context_index=None) -> logits [..., out]``
    (context forms: :class:`~neuro.models.dendrites.layer.DendriticLayer`).
    """

    def __init__(self, in_features: int, hidden: Sequence[int], out_features: int,
                 context_features: int, segments: int, mode: str = "abs_max_gate",
                 kwta: float = 0.05, weight_sparsity: float = 0.5, dendrite_sparsity: float = 0.0,
                 bias: bool = True, context_density: float = 1.0,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        sizes, self.kwta = _hidden(hidden), _check_kwta(kwta)
        layers, activations, n_in, density = [], [], int(in_features), 1.0
        for size in sizes:
            layers.append(DendriticLayer(n_in, size, context_features, segments, mode,
                                         weight_sparsity, dendrite_sparsity, bias=bias,
                                         input_density=density, context_density=context_density,
                                         generator=generator))
            activations.append(KWinners(size, self.kwta) if self.kwta else nn.ReLU())
            n_in, density = size, (self.kwta or 0.5)
        self.layers, self.activations = nn.ModuleList(layers), nn.ModuleList(activations)
        self.output = nn.Linear(n_in, int(out_features), bias=bias)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                context_index: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``[B, out]``: the dendritic hidden layers (each gated by ``context``, then k-WTA or ReLU)
        followed by the linear output layer.
        """
        for layer, activation in zip(self.layers, self.activations):
            x = activation(layer(x, context, context_index))
        return self.output(x)

    def rezero_weights(self) -> None:
        """Re-apply every layer's sparsity masks (after each optimiser step)."""
        for layer in self.layers:
            layer.rezero_weights()


class SpikingDendriticLayer(SpikingModule):
    """A :class:`DendriticLayer` gating the input current of LIF neurons (module docstring).

    Args: those of :class:`DendriticLayer` (``bias`` default False), ``kwta`` (0 = none) and the
    LIF's ``tau_mem`` (s), ``dt`` (s) and further keyword arguments of :class:`neuro.nn.LIF`
    (default ``integration="exact"``).

    ``forward(x [T, B, in], context, context_index=None, state=None) -> (spikes [T, B, out],
    state)``.
    """

    def __init__(self, in_features: int, out_features: int, context_features: int, segments: int,
                 mode: str = "abs_max_gate", kwta: float = 0.05, *, tau_mem: float = 20e-3,
                 dt: float = 1e-3, weight_sparsity: float = 0.5, dendrite_sparsity: float = 0.0,
                 bias: bool = False, input_density: float = 1.0, context_density: float = 1.0,
                 generator: torch.Generator | None = None, **neuron_options) -> None:
        super().__init__()
        self.dendrites = DendriticLayer(in_features, out_features, context_features, segments,
                                        mode, weight_sparsity, dendrite_sparsity, bias=bias,
                                        input_density=input_density,
                                        context_density=context_density, generator=generator)
        kwta = _check_kwta(kwta)
        self.kwta = KWinners(out_features, kwta) if kwta else None
        neuron_options.setdefault("integration", "exact")
        self.neuron = LIF(tau_mem=tau_mem, dt=dt, **neuron_options)

    def current(self, x: torch.Tensor, context: torch.Tensor | None = None,
                context_index: torch.Tensor | None = None) -> torch.Tensor:
        """The gated input current ``[T, B, out]`` (after k-WTA)."""
        d = self.dendrites
        y = d.feedforward(x)
        if d.segments:
            if context is None:
                raise ValueError("a dendritic layer needs a context (or segments=0)")
            y = modulate(y, d.dendritic_input(context, context_index), d.mode)  # [B, out] over T
        return self.kwta(y) if self.kwta is not None else y

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                context_index: torch.Tensor | None = None, state=None):
        """Spikes ``[T, B, out]`` of the LIF neurons driven by the gated current :meth:`current` of ``x [T, B,
        in]``, and the LIF state.
        """
        if x.dim() < 3:
            raise ValueError(f"expected a time-major input [T, B, in], got shape {tuple(x.shape)}")
        return self.neuron(self.current(x, context, context_index), state)


class SpikingDendriticMLP(SpikingModule):
    """Spiking Active Dendrites Network: ``[SpikingDendriticLayer] x L -> Linear -> LI``.

    Args: as :class:`DendriticMLP` (``bias`` default False, as the continual runner's LIF MLP),
    plus ``tau_mem`` and ``dt`` of every LIF and of the LI readout.

    ``forward(x [T, B, in], context, context_index=None, state=None) -> (membrane [T, B, out],
    states)``; the logits are the mean readout membrane over time.
    """

    def __init__(self, in_features: int, hidden: Sequence[int], out_features: int,
                 context_features: int, segments: int, mode: str = "abs_max_gate",
                 kwta: float = 0.05, *, tau_mem: float = 20e-3, dt: float = 1e-3,
                 weight_sparsity: float = 0.5, dendrite_sparsity: float = 0.0, bias: bool = False,
                 context_density: float = 1.0, generator: torch.Generator | None = None) -> None:
        super().__init__()
        sizes, kwta = _hidden(hidden), _check_kwta(kwta)
        layers, n_in, density = [], int(in_features), 1.0
        for size in sizes:
            layers.append(SpikingDendriticLayer(
                n_in, size, context_features, segments, mode, kwta, tau_mem=tau_mem, dt=dt,
                weight_sparsity=weight_sparsity, dendrite_sparsity=dendrite_sparsity, bias=bias,
                input_density=density, context_density=context_density, generator=generator))
            n_in, density = size, (kwta or 0.5)
        self.layers = nn.ModuleList(layers)
        self.output = nn.Linear(n_in, int(out_features), bias=bias)
        self.readout = LI(tau_mem=tau_mem, dt=dt, integration="exact")

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                context_index: torch.Tensor | None = None, state=None):
        """The LI readout membrane ``[T, B, out]`` (its time mean gives the logits) and the list of states:
        one per spiking layer, then the readout's.
        """
        states = list(state) if state is not None else [None] * (len(self.layers) + 1)
        new = []
        for layer, s in zip(self.layers, states):
            x, s = layer(x, context, context_index, s)
            new.append(s)
        out, s = self.readout(self.output(x), states[-1])
        return out, new + [s]

    def rezero_weights(self) -> None:
        """Re-apply every layer's sparsity masks (after each optimiser step)."""
        for layer in self.layers:
            layer.dendrites.rezero_weights()
