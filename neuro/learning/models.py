"""The network of a continual-learning run (:func:`lif_mlp`) and the method wrapped around it."""

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
