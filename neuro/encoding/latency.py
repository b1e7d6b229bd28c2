r"""Latency (time-to-first-spike) coding: stronger inputs fire earlier, once.

:func:`latency_times` gives the firing time of each input :math:`x \in [0, 1]` (differentiable):

* logarithmic / RC (default): the time a capacitor charged towards :math:`x` with time constant
  :math:`\tau` takes to reach the threshold :math:`\vartheta`,
  :math:`t(x) = \tau \ln\frac{x}{x - \vartheta}` (inputs at or below :math:`\vartheta` are
  clipped to :math:`\vartheta + \epsilon`: they fire last);
* linear: :math:`t(x) = \tau (1 - x)`, at most :math:`\tau (1 - \vartheta)`;

plus ``first_spike_time``. ``normalize=True`` scales the times so that the latest possible spike
(an input at the threshold) falls on step :math:`T - 1` (linear: :math:`\tau = T - 1 - t_0`).
:func:`latency` rounds them to steps and emits one spike per input; spikes after step
:math:`T - 1` are dropped, and ``clip=True`` drops the inputs below the threshold. These are
snnTorch's ``spikegen.latency`` (``bypass=True``) conventions — except that snnTorch normalises
the logarithmic code by the latest time *in the batch*, which equals neuro's per-input rule
whenever the batch holds an input at or below the threshold (image backgrounds do).

:func:`constant_current` runs a neuron driven by the input as a constant current (Norse's
``constant_current_lif_encode``; the first spike time is then the RC latency of a LIF), and
:func:`first_spike` keeps only the first spike of each neuron (Norse's ``spike_latency_encode``).
"""

from __future__ import annotations

import torch
from torch import nn

from neuro.encoding.rate import _check_input, _check_steps, repeat
from neuro.nn import LIF

__all__ = ["latency_times", "latency", "first_spike", "constant_current"]


def _check_latency(x: torch.Tensor, threshold: float, tau: float) -> None:
    _check_input(x)
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must lie in (0, 1), got {threshold}")
    if not tau > 0:
        raise ValueError(f"tau must be positive, got {tau}")
    if x.numel() and (bool((x < 0).any()) or bool((x > 1).any())):
        raise ValueError(f"latency coding takes x in [0, 1], got values in "
                         f"[{float(x.min()):g}, {float(x.max()):g}] (normalise the input first)")


def latency_times(x: torch.Tensor, num_steps: int | None = None, *, tau: float = 1.0,
                  threshold: float = 0.01, linear: bool = False, normalize: bool = False,
                  first_spike_time: int = 0, epsilon: float = 1e-7) -> torch.Tensor:
    """Firing time (in steps, real-valued, differentiable in ``x``) of each input in ``[0, 1]``.

    ``num_steps`` is needed with ``normalize=True``. See the module docstring for the codes.
    """
    _check_latency(x, threshold, tau)
    if normalize and num_steps is None:
        raise ValueError("normalize=True needs num_steps (the times are scaled into it)")
    if first_spike_time < 0 or (num_steps is not None and first_spike_time > num_steps - 1):
        raise ValueError(f"first_spike_time must be in [0, num_steps - 1], got {first_spike_time}")
    fst = first_spike_time
    if linear:
        if normalize:
            tau = num_steps - 1 - fst
        return torch.clamp_max(-tau * (x - 1), -tau * (threshold - 1)) + fst
    clipped = torch.clamp(x, min=threshold + epsilon)
    times = tau * torch.log(clipped / (clipped - threshold))
    if fst > 0:
        times = times + fst
    if normalize:
        # the latest possible time: an input at the threshold (evaluated with the same operations)
        low = torch.clamp(torch.zeros((), dtype=x.dtype, device=x.device), min=threshold + epsilon)
        latest = tau * torch.log(low / (low - threshold))
        times = (times - fst) * (num_steps - fst - 1) / latest + fst
    return times


def latency(x: torch.Tensor, num_steps: int, *, tau: float = 1.0, threshold: float = 0.01,
            linear: bool = False, normalize: bool = False, clip: bool = False,
            first_spike_time: int = 0, epsilon: float = 1e-7) -> torch.Tensor:
    """One spike per input at its rounded :func:`latency_times`: ``x [B, ...] -> [T, B, ...]``.

    Spikes later than step ``num_steps - 1`` are dropped; ``clip=True`` also drops the inputs
    below ``threshold``. Not differentiable (use :func:`latency_times` for a differentiable code).
    """
    _check_steps(num_steps)
    times = latency_times(x, num_steps, tau=tau, threshold=threshold, linear=linear,
                          normalize=normalize, first_spike_time=first_spike_time, epsilon=epsilon)
    steps = torch.round(times.detach()).long()
    keep = steps <= num_steps - 1
    if clip:
        keep = keep & (x >= threshold)
    spikes = torch.zeros(num_steps, *x.shape, dtype=x.dtype, device=x.device)
    spikes.scatter_(0, steps.clamp(0, num_steps - 1).unsqueeze(0), 1.0)
    return spikes * keep


def first_spike(spikes: torch.Tensor) -> torch.Tensor:
    """Keep only the first spike of each neuron of ``spikes [T, ...]`` (later ones set to 0).

    The gradient flows to the kept spikes (the mask is a constant).
    """
    _check_input(spikes, "spikes")
    fired = spikes.detach() != 0
    before = torch.cumsum(fired, dim=0) - fired.to(torch.long)  # spikes strictly before step t
    return spikes * (before == 0)


def constant_current(x: torch.Tensor, num_steps: int, neuron: nn.Module | None = None,
                     first_spike_only: bool = False) -> torch.Tensor:
    """Spikes of ``neuron`` driven by ``x [B, ...]`` as a constant input for ``num_steps`` steps.

    ``neuron`` is a neuro sequence neuron (default ``LIF.norse()``: Norse's default LIF, 10 ms
    membrane, 1 ms steps, so this equals Norse's ``constant_current_lif_encode``). With
    ``first_spike_only`` only the first spike of each neuron is kept (Norse's
    ``spike_latency_lif_encode``). Differentiable through the neuron's surrogate gradient.
    """
    if neuron is None:
        neuron = LIF.norse()
    drive = repeat(x, num_steps)
    if drive.dim() == 2:  # [T, B]: scalar inputs are neurons of one feature
        spikes = neuron(drive.unsqueeze(-1))[0].squeeze(-1)
    else:
        spikes = neuron(drive)[0]
    return first_spike(spikes) if first_spike_only else spikes
