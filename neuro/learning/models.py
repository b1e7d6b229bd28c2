"""The network of a continual-learning run (:func:`make_model`: :func:`lif_mlp`, :func:`ann_mlp` or an
Active Dendrites Network) and the method wrapped around it (:func:`make_method`)."""

from __future__ import annotations

import math

from torch import nn

from neuro.learning.config import ContinualConfig


def lif_mlp(input_shape: tuple[int, ...], n_classes: int, hidden: list[int], dt: float,
            tau_mem: float) -> nn.Module:
    r"""``Flatten -> [Linear -> LIF] x len(hidden) -> Linear -> LI`` without biases (HLOP's MLP).

    LIF: :math:`v_t = \beta v_{t-1} + W x_t`, :math:`\beta = e^{-dt/\tau_{mem}}`, threshold 1,
    subtractive reset, ATan surrogate; readout LI membrane with the same :math:`\beta`.
    """
    from neuro.nn import LI, LIF, Sequential

    layers: list[nn.Module] = [nn.Flatten()]
    n_in = int(math.prod(input_shape))
    for size in hidden:
        layers += [nn.Linear(n_in, size, bias=False),
                   LIF(tau_mem=tau_mem, dt=dt, integration="exact")]
        n_in = size
    layers += [nn.Linear(n_in, n_classes, bias=False), LI(tau_mem=tau_mem, dt=dt,
                                                          integration="exact")]
    return Sequential(*layers)


class TimeAveragedMLP(nn.Module):
    """A non-spiking MLP on the input averaged over time and standardised per sample (zero mean,
    unit variance over its features): ``forward(x [T, B, ...], state=None) -> (logits [1, B,
    classes], None)``, the runner's interface (a one-step "sequence")."""

    def __init__(self, layers: nn.Sequential) -> None:
        super().__init__()
        self.layers = layers

    def forward(self, x, state=None):
        """Logits ``[1, B, classes]`` of the MLP on ``x [T, B, ...]`` averaged over time, flattened and
        standardised per sample; the state is always ``None``.
        """
        z = x.float().mean(0).flatten(1)
        z = (z - z.mean(1, keepdim=True)) / z.std(1, keepdim=True).clamp(min=1e-12)
        return self.layers(z).unsqueeze(0), None


def ann_mlp(input_shape: tuple[int, ...], n_classes: int, hidden: list[int]) -> nn.Module:
    """``Flatten -> [Linear -> ReLU] x len(hidden) -> Linear`` without biases, on the time-averaged
    input standardised per sample: the non-spiking baseline of the same size as :func:`lif_mlp`."""
    layers: list[nn.Module] = [nn.Flatten()]
    n_in = int(math.prod(input_shape))
    for size in hidden:
        layers += [nn.Linear(n_in, size, bias=False), nn.ReLU()]
        n_in = size
    layers.append(nn.Linear(n_in, n_classes, bias=False))
    return TimeAveragedMLP(nn.Sequential(*layers))


def make_model(config: ContinualConfig, input_shape: tuple[int, ...], n_classes: int,
               dt: float) -> nn.Module:
    """The network of ``config``: :func:`lif_mlp` or :func:`ann_mlp` (``config.network``), or for
    ``method="dendrites"`` an Active Dendrites Network with prototype contexts
    (:mod:`neuro.models.dendrites`; segments default to one per task)."""
    c = config
    if c.method != "dendrites":
        if c.network == "ann":
            return ann_mlp(input_shape, n_classes, c.hidden)
        return lif_mlp(input_shape, n_classes, c.hidden, dt, c.tau_mem)
    from neuro.models.dendrites import DendriticMLP, PrototypeNetwork, SpikingDendriticMLP

    features = int(math.prod(input_shape))
    options = dict(segments=c.n_tasks if c.dendrite_segments is None else c.dendrite_segments,
                   mode=c.dendrite_mode, kwta=c.kwta, weight_sparsity=c.weight_sparsity)
    if c.network == "ann":
        network = DendriticMLP(features, c.hidden, n_classes, features, **options)
    else:
        network = SpikingDendriticMLP(features, c.hidden, n_classes, features, tau_mem=c.tau_mem,
                                      dt=dt, **options)
    return PrototypeNetwork(network, c.n_tasks, features, spiking=c.network == "snn")


def make_method(config: ContinualConfig, model: nn.Module, decay: float) -> nn.Module | None:
    """The continual-learning method of ``config.method`` attached to ``model``; None for
    ``finetune``. ``decay`` is the membrane decay per step, used by the presynaptic traces."""
    c = config
    if c.method == "hlop":
        from neuro.learning.hlop import HLOP

        return HLOP(model, lr=c.hlop_lr, momentum=c.hlop_momentum, iterations=c.hlop_iterations,
                    lateral=c.hlop_lateral, spike_steps=c.hlop_spike_steps,
                    normalize=c.hlop_normalize, trace=c.trace, trace_decay=decay)
    if c.method == "gpm":
        from neuro.learning.gpm import GPM

        return GPM(model, threshold=c.gpm_threshold, trace=c.trace, trace_decay=decay)
    if c.method == "ewc":
        from neuro.learning.ewc import EWC

        return EWC(model, c.ewc_strength)
    return None
