"""The fused path of :class:`neuro.nn.Recurrent`: a LIF-family neuron with an ``nn.Linear(N, N)``
recurrent layer runs as one kernel per sequence (``neuro.ops.rlif``) instead of a loop of steps.

``Recurrent.forward`` calls :func:`fused_forward` when :func:`can_fuse` holds: the neuron is a
spiking IF / LIF / CubaLIF / ALIF module (not the astrocyte-modulated layers) whose surrogate the
kernels evaluate, the input is ``[T, B, N]``, the recurrent layer is an ``nn.Linear(N, N)`` of the
input's dtype, and the neuron's backend is not ``"torch"`` (that runs the Python steps, the
reference). The results equal the stepped layer's up to the order of the recurrent sum
(``neuro.kernels.rlif_math`` states the bound; bit-identical when the sums are exact).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from neuro.functional.rlif import recurrent_neuron_scan
from neuro.nn.neurons import NeuronBase
from neuro.ops.spec import kernel_kind


def can_fuse(neuron: Any, recurrent: Any, x: torch.Tensor) -> bool:
    """Whether ``Recurrent(neuron, recurrent)`` can run ``x`` on the fused kernel."""
    if not isinstance(neuron, NeuronBase) or type(neuron).forward is not NeuronBase.forward:
        return False  # AM-SU layers and other NeuronBase forms step their own way
    model = neuron.model
    if not model.spiking or neuron.backend == "torch" or kernel_kind(neuron.cfg.surrogate) < 0:
        return False
    if not isinstance(recurrent, nn.Linear) or x.dim() != 3:
        return False
    N = x.shape[2]
    return (recurrent.in_features == recurrent.out_features == N and recurrent.weight.dtype == x.dtype
            and x.dtype in (torch.float32, torch.float64) and recurrent.weight.device == x.device)


def fused_forward(neuron: NeuronBase, recurrent: nn.Linear, x: torch.Tensor, neuron_state: Any,
                  s: torch.Tensor):
    """``(spikes, neuron_state, s_last)`` of the recurrent layer on the fused kernel."""
    return recurrent_neuron_scan(neuron.model, x, recurrent.weight, recurrent.bias, neuron_state, s,
                                 neuron.parameters_physical, neuron.cfg, backend=neuron.backend)
