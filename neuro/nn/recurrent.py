r"""Recurrent neuron layers and the one-step execution shared with graph cycles.

``Recurrent(neuron, recurrent)`` feeds a neuron layer its own output of the previous step through a
stateless layer (usually ``nn.Linear(N, N)``):

.. math::
    x'_t = x_t + W s_{t-1} + b, \qquad (s_t, \text{state}_t) = \text{neuron}(x'_t, \text{state}_{t-1})

with :math:`s_{-1} = 0`, so the first step receives :math:`W\cdot 0 + b = b` (snnTorch's
``RLeaky``/``RSynaptic`` convention). This is NIR's one-step semantics of a cycle
``neuron -> w_rec -> neuron``: the recurrent edge carries the value of the previous step, and before
the first step a stateless source outputs what it computes from a zero input.

Time has to be stepped (the input of step ``t`` depends on step ``t - 1``), so the neuron runs its
one-step form (:func:`neuro.functional.neuron_step`), which performs exactly the operations of the
fused scan kernels: a ``Recurrent`` layer and a NIR graph of the same cycle give identical spikes.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import nn

from neuro.nn.containers import TimeDistributed
from neuro.nn.neurons import NeuronBase, SpikingModule
from neuro.nn.recurrent_lif import can_fuse, fused_forward
from neuro.state import stateclass


def step_module(module: nn.Module, x_t: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
    """Advance any neuro layer by one step on ``x_t: [B, ...]``; returns ``(out_t, state)``.

    Neurons use their one-step form, stateless layers (plain or wrapped in ``TimeDistributed``) are
    applied directly, and other state-protocol modules (graphs, recurrent layers) run a length-1
    sequence.
    """
    if isinstance(module, NeuronBase):
        return module.step(x_t, state)
    if isinstance(module, TimeDistributed):
        return module.layer(x_t), None
    if isinstance(module, SpikingModule):
        out, new_state = module(x_t.unsqueeze(0), state)
        return out.squeeze(0), new_state
    return module(x_t), None


def rest_output(module: nn.Module, like: torch.Tensor) -> torch.Tensor:
    """What a stateful node outputs before the first step, for inputs shaped like ``like``.

    Spiking neurons have not fired (zeros); non-spiking ones (LI, CubaLI, Integrator) output their
    resting membrane ``v_leak``.
    """
    if isinstance(module, NeuronBase) and not module.model.spiking:
        return module.initial_state(like).v
    return torch.zeros_like(like)


@stateclass
class RecurrentState(NamedTuple):
    """State of :class:`Recurrent`: the neuron's state and its last output ``s``."""

    neuron: Any
    s: torch.Tensor


class Recurrent(SpikingModule):
    """A neuron layer with recurrent connections ``x_t + recurrent(s_{t-1})`` (see module docstring).

    Args:
        neuron: a neuro neuron module (``LIF``, ``CubaLIF``, ``IF``, ...), sequence form.
        recurrent: a stateless layer mapping the neuron's output back to its input shape, e.g.
            ``nn.Linear(N, N)``.

    ``forward(x[T, B, N], state=None) -> (spikes[T, B, N], RecurrentState)``. A spiking IF / LIF /
    CubaLIF / ALIF neuron with ``nn.Linear(N, N)`` and a kernel backend runs the whole sequence (and
    its BPTT) as one fused kernel (:mod:`neuro.nn.recurrent_lif`); ``backend="torch"`` steps in Python.
    """

    def __init__(self, neuron: NeuronBase, recurrent: nn.Module) -> None:
        super().__init__()
        if not isinstance(neuron, NeuronBase):
            raise TypeError(f"neuron must be a neuro neuron module (LIF, CubaLIF, ...), got "
                            f"{type(neuron).__name__}")
        if isinstance(recurrent, SpikingModule) and not isinstance(recurrent, TimeDistributed):
            raise TypeError("recurrent must be a stateless layer such as nn.Linear, got "
                            f"{type(recurrent).__name__}")
        self.neuron = neuron
        self.recurrent = recurrent.layer if isinstance(recurrent, TimeDistributed) else recurrent

    def forward(self, x: torch.Tensor, state: RecurrentState | None = None):
        """Spikes ``[T, B, ...]`` of the neuron driven by ``x [T, B, ...]`` plus the recurrent input of its
        previous output, and the :class:`RecurrentState` (neuron state, last output) after the last step;
        ``state=None`` starts from rest. LIF-family neurons with an ``nn.Linear`` run as one fused kernel.
        """
        if x.dim() < 2:
            raise ValueError(f"Recurrent expects [T, B, ...], got shape {tuple(x.shape)}")
        if state is None:
            neuron_state, s = None, rest_output(self.neuron, x[0])
        elif isinstance(state, RecurrentState):
            neuron_state, s = state
        else:
            raise TypeError(f"state must be a RecurrentState or None, got {type(state).__name__}")
        if can_fuse(self.neuron, self.recurrent, x):  # LIF family + nn.Linear: one kernel (recurrent_lif)
            spikes, neuron_state, s = fused_forward(self.neuron, self.recurrent, x, neuron_state, s)
            return spikes, RecurrentState(neuron_state, s)
        outputs = []
        for x_t in x.unbind(0):
            s, neuron_state = step_module(self.neuron, x_t + self.recurrent(s), neuron_state)
            outputs.append(s)
        return torch.stack(outputs), RecurrentState(neuron_state, s)
