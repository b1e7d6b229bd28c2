r"""Online training with presynaptic eligibility traces (OTTT-style, Xiao et al. 2022).

The network is run one time step at a time with its state detached between steps, and each
step's loss :math:`L_t` is back-propagated at once (memory independent of :math:`T`). Every
synaptic layer's weight gradient uses the presynaptic trace instead of the instantaneous input:

.. math::

    \hat a_t = \lambda \hat a_{t-1} + x_t, \qquad
    \frac{\partial L_t}{\partial W} \approx \delta_t \hat a_t^\top,

with :math:`\delta_t = \partial L_t / \partial (W x_t)` through the step's spatial path and
:math:`\lambda = e^{-dt/\tau_{mem}}`. The forward values are unchanged; a forward hook adds
:math:`W(\hat a_t - x_t) - \mathrm{sg}[W(\hat a_t - x_t)]` (stop-gradient :math:`\mathrm{sg}`,
:math:`x_t` detached) to the layer output, which redirects only the weight gradient. Input
gradients still flow through :math:`W x_t`. HLOP/GPM weight projection composes with it: the
update :math:`\sum_t \delta_t \hat a_t^\top` is projected exactly like a BPTT gradient.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from neuro.learning.sites import find_sites


class EligibilityTraces:
    """Presynaptic-trace weight gradients for every Linear/Conv2d of ``model`` (module docstring).

    Args:
        model: the network, called one step at a time (``[1, B, ...]`` sequences or
            ``[B, ...]`` steps). decay: ``lambda``. layers: names of the layers (default all).

    Call :meth:`reset` before every new sequence; :meth:`remove` takes the hooks off.
    """

    def __init__(self, model: nn.Module, decay: float, layers: Sequence[str] | None = None) -> None:
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"trace decay must be in [0, 1], got {decay}")
        self.decay = float(decay)
        self.sites = find_sites(model, layers)
        self.traces: list[torch.Tensor | None] = [None] * len(self.sites)
        self._handles = []
        for i, site in enumerate(self.sites):
            site.layer._neuro_online_trace = True
            self._handles.append(site.layer.register_forward_hook(self._hook(i)))

    def reset(self) -> None:
        """Forget the traces (start of a new sequence)."""
        self.traces = [None] * len(self.sites)

    def remove(self) -> None:
        """Take the recording hooks off the model."""
        for handle in self._handles:
            handle.remove()
        for site in self.sites:
            site.layer._neuro_online_trace = False
        self._handles = []

    def _hook(self, i: int):
        site = self.sites[i]

        def hook(layer: nn.Module, inputs, output: torch.Tensor):
            x = inputs[0].detach()
            trace = self.traces[i]
            if trace is not None and trace.shape != x.shape:
                raise ValueError(f"{site.name}: input shape {tuple(x.shape)} differs from the "
                                 f"trace's {tuple(trace.shape)}; call reset() between sequences "
                                 "and run one time step per call")
            trace = x if trace is None else self.decay * trace + x
            self.traces[i] = trace
            if not torch.is_grad_enabled() or not layer.weight.requires_grad:
                return None
            delta = trace - x
            if site.kind == "linear":
                correction = F.linear(delta, layer.weight)
            else:
                correction = layer._conv_forward(delta, layer.weight, None)
            return output + (correction - correction.detach())
        return hook
