r"""Spiking classifiers for event frames: a convolutional SNN and feed-forward / recurrent SNNs.

All take time-major input ``[T, B, *input_shape]`` and return the readout sequence
``[T, B, n_classes]``: the membrane of a non-spiking ``LI`` layer (``readout="membrane"``,
:math:`u_t = \beta u_{t-1} + W h_t`) or the spikes of a ``LIF`` layer (``readout="spikes"``).
Hidden neurons follow :mod:`neuro.functional.lif` with ``dt`` = the frame length, exact decays
:math:`\beta = e^{-dt/\tau_{mem}}` (:math:`\alpha = e^{-dt/\tau_{syn}}` for CubaLIF), threshold 1,
subtractive reset and the ATan surrogate gradient.

* :func:`conv_snn` — ``[Conv3x3 -> BatchNorm -> LIF -> AvgPool2]`` per entry of ``channels``, then
  ``Flatten -> Linear -> readout`` (frames ``[C, H, W]``: N-MNIST, DVS Gesture, the digits);
* :func:`dense_snn` — ``[Linear -> LIF/CubaLIF]`` per entry of ``hidden`` (``recurrent=True``: the
  hidden layers are :class:`neuro.nn.Recurrent`, :math:`I_t = W x_t + V s_{t-1}`), then
  ``Linear -> readout`` (channels ``[N]``: SHD, SSC, N-TIDIGITS).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

from neuro.nn import LI, LIF, CubaLIF, Recurrent, Sequential

READOUTS = ("membrane", "spikes")


def _readout(n_classes: int, readout: str, dt: float, tau_out: float, backend: str) -> nn.Module:
    if readout == "membrane":
        return LI(tau_mem=tau_out, dt=dt, integration="exact", backend=backend)
    if readout == "spikes":
        return LIF(tau_mem=tau_out, dt=dt, integration="exact", backend=backend)
    raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")


def conv_snn(input_shape: Sequence[int], n_classes: int, *, dt: float,
             channels: Sequence[int] = (16, 32), tau_mem: float = 20e-3, tau_out: float = 20e-3,
             readout: str = "membrane", batch_norm: bool = True, backend: str = "auto") -> Sequential:
    """Convolutional SNN for frames ``[C, H, W]`` (see the module docstring)."""
    if len(input_shape) != 3:
        raise ValueError(f"conv_snn needs frames [C, H, W], got input_shape {tuple(input_shape)}")
    c, h, w = (int(v) for v in input_shape)
    layers: list[nn.Module] = []
    for out_c in channels:
        layers.append(nn.Conv2d(c, out_c, 3, padding=1, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_c))
        layers += [LIF(tau_mem=tau_mem, dt=dt, integration="exact", backend=backend),
                   nn.AvgPool2d(2)]
        c, h, w = out_c, h // 2, w // 2
        if h == 0 or w == 0:
            raise ValueError(f"input {tuple(input_shape)} is too small for {len(channels)} poolings")
    layers += [nn.Flatten(), nn.Linear(c * h * w, n_classes),
               _readout(n_classes, readout, dt, tau_out, backend)]
    return Sequential(*layers)


def dense_snn(input_shape: Sequence[int], n_classes: int, *, dt: float,
              hidden: Sequence[int] = (256,), neuron: str = "lif", recurrent: bool = False,
              tau_mem: float = 20e-3, tau_syn: float = 5e-3, tau_out: float = 20e-3,
              readout: str = "membrane", backend: str = "auto") -> Sequential:
    """Feed-forward (or recurrent) SNN for channel input ``[N]`` (frames are flattened)."""
    if neuron not in ("lif", "cuba_lif"):
        raise ValueError(f"neuron must be 'lif' or 'cuba_lif', got {neuron!r}")
    n_in = int(math.prod(input_shape))
    layers: list[nn.Module] = [nn.Flatten()] if len(input_shape) > 1 else []
    common = dict(tau_mem=tau_mem, dt=dt, integration="exact")
    if neuron == "cuba_lif":
        common["tau_syn"] = tau_syn
    for size in hidden:
        layers.append(nn.Linear(n_in, size))
        cell = (CubaLIF(**common, backend=backend) if neuron == "cuba_lif"
                else LIF(**common, backend=backend))
        if recurrent:
            w_rec = nn.Linear(size, size, bias=False)
            nn.init.orthogonal_(w_rec.weight, gain=0.5)
            cell = Recurrent(cell, w_rec)
        layers.append(cell)
        n_in = size
    layers += [nn.Linear(n_in, n_classes), _readout(n_classes, readout, dt, tau_out, backend)]
    return Sequential(*layers)
