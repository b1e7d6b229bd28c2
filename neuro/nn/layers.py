r"""Small layers that NIR graphs need besides the LIF family: ``Scale``, ``Threshold``, ``SumPool2d``
and the ``Integrator`` (NIR ``I``).

* ``Scale``     — :math:`y_t = s \odot x_t` (NIR ``Scale``), per-feature or scalar ``s``.
* ``Threshold`` — :math:`y_t = H(x_t - \vartheta)` with ``>`` (NIR ``Threshold``) and a surrogate
  derivative for training.
* ``SumPool2d`` — sum (not mean) over each pooling window (NIR ``SumPool2d``), zero padding.
* ``Integrator``— :math:`v_t = v_{t-1} + r x_t`, output :math:`v_t` (NIR ``I``:
  :math:`\dot v = R I`, forward Euler with :math:`r = R\,dt`). It is the engine's LIF-family
  recurrence with no leak and no spike, so it runs on the same fused kernels.

``Scale``, ``Threshold`` and ``SumPool2d`` are stateless ``nn.Module``\ s acting on any leading
shape; inside :class:`neuro.nn.Sequential` they are applied to all time steps at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as TF
from torch import nn

from neuro.functional import lif as F
from neuro.nn.neurons import NeuronBase
from neuro.state import stateclass
from neuro.surrogate import Surrogate, get_surrogate, spike

Number = float | torch.Tensor


def _pair(value: int | Sequence[int], name: str) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    pair = tuple(int(v) for v in value)
    if len(pair) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return pair  # type: ignore[return-value]


class Scale(nn.Module):
    """Elementwise scaling ``y = x * scale`` (NIR ``Scale``); ``scale`` broadcasts to the features."""

    def __init__(self, scale: Number, learnable: bool = False) -> None:
        super().__init__()
        tensor = torch.as_tensor(scale, dtype=torch.get_default_dtype()).clone()
        if learnable:
            self.scale = nn.Parameter(tensor)
        else:
            self.register_buffer("scale", tensor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x * scale`` (scale cast to ``x``'s dtype and broadcast over the features; any shape, no state).
        """
        return x * self.scale.to(x.dtype)

    def extra_repr(self) -> str:
        """The scale (its shape when it has several values)."""
        s = self.scale
        return f"scale=<{tuple(s.shape)}>" if s.numel() > 1 else f"scale={float(s):g}"


class Threshold(nn.Module):
    """Heaviside ``y = H(x - threshold)`` with ``>`` (NIR ``Threshold``) and a surrogate gradient."""

    def __init__(self, threshold: Number = 1.0, surrogate: Surrogate | str = "atan") -> None:
        super().__init__()
        self.register_buffer("threshold", torch.as_tensor(threshold, dtype=torch.get_default_dtype())
                             .clone())
        self.surrogate = get_surrogate(surrogate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Spikes ``H(x - threshold)`` (strict ``>``) in ``x``'s dtype and shape, with the surrogate gradient
        in the backward pass.
        """
        theta = self.threshold.to(x.dtype).expand_as(x)
        return spike(x, theta, self.surrogate, ge=False)

    def extra_repr(self) -> str:
        """The threshold (its shape when it has several values)."""
        t = self.threshold
        return f"threshold=<{tuple(t.shape)}>" if t.numel() > 1 else f"threshold={float(t):g}"


class SumPool2d(nn.Module):
    """Sum over ``kernel_size`` windows of ``[N, C, H, W]`` (NIR ``SumPool2d``); zero padding."""

    def __init__(self, kernel_size: int | Sequence[int], stride: int | Sequence[int] | None = None,
                 padding: int | Sequence[int] = 0) -> None:
        super().__init__()
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride") if stride is not None else self.kernel_size
        self.padding = _pair(padding, "padding")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Window sums ``[N, C, H_out, W_out]`` of ``x [N, C, H, W]`` (time folded into ``N``; padding counts
        as zeros); raises ``ValueError`` for another rank.
        """
        if x.dim() != 4:
            raise ValueError(f"SumPool2d expects [N, C, H, W] (time folded into N), got shape "
                             f"{tuple(x.shape)}")
        # divisor 1: the average pool's window sum, exactly (padding counts as zeros)
        return TF.avg_pool2d(x, self.kernel_size, self.stride, self.padding, divisor_override=1)

    def extra_repr(self) -> str:
        """Kernel size, stride and padding."""
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


@stateclass
class IntegratorState(NamedTuple):
    """State of :class:`Integrator`: the integrated value ``v``."""

    v: torch.Tensor


#: the engine's recurrence with no leak (beta = 1), no synaptic current and no spike
INTEGRATOR = F.NeuronModel("I", has_syn=False, has_adapt=False, spiking=False, leaky=False,
                           state_type=IntegratorState)


class Integrator(NeuronBase):
    r"""Perfect integrator (NIR ``I``): :math:`v_t = v_{t-1} + r x_t`; the output is :math:`v_t`.

    NIR writes :math:`\dot v = R I`; forward Euler with step ``dt`` gives :math:`r = R\,dt`.
    Runs on the LIF-family kernels (``backend="auto"|"torch"|"numba"|"cuda"``).
    """

    model = INTEGRATOR

    def __init__(self, shape: int | Sequence[int] = (), r: Number = 1.0, dt: float = 1e-3,
                 record_states: bool = False, backend: str = "auto") -> None:
        super().__init__(shape, dt=dt, v_th=0.0, v_reset=0.0, v_leak=0.0, r=r, reset="none",
                         threshold_op=">", record_states=record_states, backend=backend)

    def extra_repr(self) -> str:
        """Shape, ``r`` (its shape when per-neuron), ``dt`` and backend."""
        r = self.physical("r")
        text = f"r=<{tuple(r.shape)}>" if isinstance(r, torch.Tensor) and r.numel() > 1 else \
            f"r={float(r):g}"
        return (f"shape={self.shape}, " if self.shape else "") + f"{text}, dt={self.dt:g}, " \
            f"backend={self.backend!r}"
