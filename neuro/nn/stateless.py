"""``Stateless``: a neuro module as a plain ``torch.nn`` layer (returns only its output).

neuro modules return ``(out, state)``, which ``torch.nn.Sequential`` cannot chain. Wrapped in
:class:`Stateless`, a neuron layer returns only its spikes (or membrane), so it sits in any torch
container::

    net = torch.nn.Sequential(torch.nn.Linear(784, 1000), Stateless(LIF.snntorch(beta=0.95)),
                              torch.nn.Linear(1000, 10), Stateless(LIF.snntorch(beta=0.95)))
    spikes = net(x)                       # x [T, B, 784] -> spikes [T, B, 10]

Each call starts from rest (the whole sequence is one call). With ``carry_state=True`` the final
state is kept and continues at the next call — for streaming chunks, or for Cell modules stepped
in a Python loop (snnTorch's ``init_hidden=True``); call :meth:`Stateless.reset` (or
:func:`reset_states` on the whole model) between sequences and :meth:`Stateless.detach` for
truncated BPTT. (In :class:`neuro.nn.Sequential`, which threads states itself, use the neuron
directly.)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from neuro.nn.neurons import SpikingModule
from neuro.state import detach_states

__all__ = ["Stateless", "reset_states"]


class Stateless(nn.Module):
    """Run ``module`` (``forward(x, state) -> (out, state)``) and return only ``out``.

    Args:
        module: a neuro module (a :class:`~neuro.nn.SpikingModule`: neuron, ``Sequential``,
            ``Recurrent``, ...).
        carry_state: keep the final state and continue from it at the next call (default: every
            call starts from rest).
    """

    def __init__(self, module: nn.Module, carry_state: bool = False) -> None:
        super().__init__()
        if not isinstance(module, SpikingModule):
            raise TypeError(f"Stateless wraps a neuro module (forward(x, state) -> (out, state)), got "
                            f"{type(module).__name__}; a plain torch layer needs no wrapper")
        self.module = module
        self.carry_state = carry_state
        self.state: Any = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``module(x, state)[0]``; ``state`` is ``None`` unless ``carry_state``."""
        result = self.module(x, self.state if self.carry_state else None)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise TypeError(f"Stateless expects {type(self.module).__name__} to return (out, state), "
                            f"got {type(result).__name__}; a plain torch layer needs no wrapper")
        out, state = result
        if self.carry_state:
            self.state = state
        return out

    def reset(self) -> None:
        """Forget the carried state (the next call starts from rest)."""
        self.state = None

    def detach(self) -> None:
        """Cut the carried state from the autograd graph (truncated BPTT)."""
        if self.state is not None:
            self.state = detach_states(self.state)

    def extra_repr(self) -> str:
        """``carry_state=True`` when the state is carried between calls, else empty."""
        return "carry_state=True" if self.carry_state else ""


def reset_states(model: nn.Module) -> None:
    """:meth:`Stateless.reset` on every :class:`Stateless` inside ``model``."""
    for module in model.modules():
        if isinstance(module, Stateless):
            module.reset()
