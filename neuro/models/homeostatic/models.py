r"""The paper's MLP and its spiking version, both ``model(x [B, ...]) -> logits [B, classes]``.

:class:`HomeostaticMLP` — Man, Damasio & Neven's network, 784-80-60-10 on MNIST, here
``in_features``-80-60-``n_classes``:

.. math::

    h_1 = \mathrm{ELU}_\alpha(W_1 x + b_1),\quad h_2 = \mathrm{ELU}_\alpha(W_2 h_1 + b_2),\quad
    p = \mathrm{softmax}(W_3 h_2 + b_3),

with He-scaled normal weights :math:`W_l \sim \mathcal N(0, 2/\text{fan-in})` and
:math:`\mathcal N(0, 1)` biases (the paper's code); ``forward`` returns the logits
:math:`W_3 h_2 + b_3` (the softmax is in the cross-entropy, whose gradient is the paper's
:math:`p - y`).

:class:`HomeostaticSNN` — the same layer sizes on the engine's neurons (surrogate gradients,
fused kernels): ``Linear -> LIF (or ALIF) -> Linear -> LIF (or ALIF) -> Linear -> LI``, the
input shown for ``steps`` steps (a static image as a constant current) or given as a sequence,
logits = the LI readout membrane averaged over time. Hidden neurons:
:math:`v_t = \beta v_{t-1} + W x_t`, spike :math:`s_t = H(v_t - \vartheta_t)`, subtractive
reset, ATan surrogate; with ``neuron="alif"`` the threshold adapts,
:math:`\vartheta_t = 1 + \beta_a a_{t-1}`, :math:`a_t = \rho a_{t-1} + (1-\rho) s_t` — with
``tau_adapt`` and ``beta_adapt`` stored as tensors so a
:class:`~neuro.models.homeostatic.variables.NeuronParameter` can regulate them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["HomeostaticMLP", "HomeostaticSNN", "he_init"]


def he_init(layer: nn.Linear, generator: torch.Generator | None = None, bias_std: float = 1.0) -> None:
    """He-scaled normal weights ``N(0, 2 / fan_in)`` and ``N(0, bias_std^2)`` biases, in place."""
    with torch.no_grad():
        w = torch.randn(layer.weight.shape, generator=generator, dtype=torch.float64)
        layer.weight.copy_(w * math.sqrt(2.0 / layer.in_features))
        if layer.bias is not None:
            b = torch.randn(layer.bias.shape, generator=generator, dtype=torch.float64)
            layer.bias.copy_(b * bias_std)


def _linears(in_features: int, hidden: Sequence[int], n_classes: int) -> list[nn.Linear]:
    sizes = [int(in_features), *(int(h) for h in hidden), int(n_classes)]
    if any(s <= 0 for s in sizes):
        raise ValueError(f"in_features, hidden and n_classes must be positive, got {sizes}")
    return [nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])]


class HomeostaticMLP(nn.Module):
    """The paper's ELU MLP (see the module docstring); ``x [B, *features] -> logits [B, C]``.

    Args: ``in_features``; ``n_classes`` (10); ``hidden`` ((80, 60)); ``alpha`` (ELU, 1);
    ``bias_std`` (1, the paper); ``generator`` for the initialisation.
    """

    def __init__(self, in_features: int, n_classes: int = 10, hidden: Sequence[int] = (80, 60),
                 alpha: float = 1.0, bias_std: float = 1.0,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.layers = nn.ModuleList(_linears(in_features, hidden, n_classes))
        self.alpha = float(alpha)
        for layer in self.layers:
            he_init(layer, generator, bias_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, n_classes]`` of a batch ``x [B, *features]`` (flattened, ELU between the linear
        layers, none after the last).
        """
        h = x.flatten(1)
        for layer in self.layers[:-1]:
            h = nn.functional.elu(layer(h), self.alpha)
        return self.layers[-1](h)


class HomeostaticSNN(nn.Module):
    """Spiking version of the MLP on the engine's neurons (see the module docstring).

    Args:
        in_features: input size (per step). n_classes, hidden: as the MLP.
        steps: time steps a static input is shown (ignored for sequences).
        static: ``x`` is ``[B, *features]`` (repeated over ``steps``) if True, else a sequence
            ``[B, T, *features]``.
        neuron: ``"lif"`` or ``"alif"`` hidden neurons.
        tau_mem, dt: membrane time constant and step (exact decays, :math:`\\beta = e^{-dt/\\tau}`).
        tau_adapt, beta_adapt: ALIF adaptation (stored as tensors: regulatable).
        bias_std: initial bias spread (0: zero biases). backend: neuron kernels.
        generator: for the initialisation.

    ``neurons`` lists the hidden neuron modules.
    """

    def __init__(self, in_features: int, n_classes: int = 10, hidden: Sequence[int] = (80, 60), *,
                 steps: int = 10, static: bool = True, neuron: str = "lif", tau_mem: float = 10e-3,
                 dt: float = 1e-3, tau_adapt: float = 50e-3, beta_adapt: float = 0.2,
                 bias_std: float = 0.0, backend: str = "auto",
                 generator: torch.Generator | None = None) -> None:
        from neuro.nn import ALIF, LI, LIF, Sequential

        super().__init__()
        if neuron not in ("lif", "alif"):
            raise ValueError(f"neuron must be 'lif' or 'alif', got {neuron!r}")
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        self.steps, self.static = int(steps), bool(static)
        linears = _linears(in_features, hidden, n_classes)
        layers: list[nn.Module] = []
        self.neurons: list[nn.Module] = []
        for layer in linears[:-1]:
            he_init(layer, generator, bias_std)
            if neuron == "lif":
                cell = LIF(tau_mem=tau_mem, dt=dt, integration="exact", backend=backend)
            else:
                cell = ALIF(tau_mem=tau_mem, dt=dt, integration="exact", backend=backend,
                            tau_adapt=torch.tensor(float(tau_adapt)),
                            beta_adapt=torch.tensor(float(beta_adapt)))
            layers += [layer, cell]
            self.neurons.append(cell)
        he_init(linears[-1], generator, bias_std)
        layers += [linears[-1], LI(tau_mem=tau_mem, dt=dt, integration="exact", backend=backend)]
        self.net = Sequential(*layers)

    def sequence(self, x: torch.Tensor) -> torch.Tensor:
        """The time-major input ``[T, B, features]`` of a batch."""
        if self.static:
            flat = x.flatten(1)
            return flat.unsqueeze(0).expand(self.steps, *flat.shape)
        if x.dim() < 3:
            raise ValueError(f"a sequence input must be [B, T, ...], got shape {tuple(x.shape)}")
        return x.flatten(2).transpose(0, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, n_classes]``: the time mean of the leaky-integrator readout's ``[T, B, n_classes]``
        output, for the input sequence built by :meth:`sequence` from ``x``.
        """
        out, _ = self.net(self.sequence(x))
        return out.mean(0)
