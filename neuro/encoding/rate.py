r"""Direct and rate coding: a static or time-varying input to ``[T, B, ...]`` spike trains.

* :func:`repeat` — direct ("constant current") coding: the input itself at every step.
* :func:`rate` — each step draws a spike with probability
  :math:`p = \mathrm{clip}(g\,x + o, 0, 1)` (Bernoulli; snnTorch's ``spikegen.rate``,
  SpikingJelly's ``PoissonEncoder``, Norse's ``poisson_encode`` with :math:`g = f_{max}\,dt`), or
  a Poisson count with mean :math:`\max(g\,x + o, 0)` (``counts=True``: several spikes per bin).
  ``signed=True`` encodes :math:`|g x + o|` and gives the spikes the sign of :math:`g x + o`
  (Norse's ``signed_poisson_encode``). ``straight_through=True`` makes the spike train
  differentiable with :math:`\partial s / \partial p = 1` (the peers' encoders have no gradient).

Random draws use ``generator`` (a ``torch.Generator`` on the input's device) or, when it is
``None``, torch's global generator — with the same global seed the spikes then equal snnTorch's.
"""

from __future__ import annotations

import torch

__all__ = ["repeat", "rate"]


def _check_input(x: object, name: str = "x") -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.dtype.is_floating_point:
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype} (use .float())")
    return x


def _check_steps(num_steps: object) -> int:
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f"num_steps must be a positive int, got {num_steps!r}")
    return num_steps


def repeat(x: torch.Tensor, num_steps: int) -> torch.Tensor:
    """``x [B, ...]`` seen at each of ``num_steps`` steps: ``[T, B, ...]`` (a view, no copy).

    Direct coding, as the snnTorch tutorials feed static images; put a layer first and repeat its
    output (``repeat(fc(x), T)``) to compute the layer once.
    """
    _check_input(x)
    return x.expand(_check_steps(num_steps), *x.shape)


def rate(x: torch.Tensor, num_steps: int | None = None, *, gain: float = 1.0, offset: float = 0.0,
         counts: bool = False, signed: bool = False, first_spike_time: int = 0,
         straight_through: bool = False, generator: torch.Generator | None = None) -> torch.Tensor:
    """Rate-coded spikes of ``x``.

    Args:
        x: ``[B, ...]`` static input (then give ``num_steps``), or ``[T, B, ...]`` time-varying
            input (``num_steps=None``: one draw per given step).
        num_steps: number of steps ``T`` for a static input.
        gain, offset: the spike probability per step is ``gain * x + offset`` (clipped to
            ``[0, 1]``; with ``counts`` the Poisson mean, clipped below at 0).
        counts: draw Poisson counts (0, 1, 2, ...) per step instead of at most one spike.
        signed: encode the magnitude and give each spike the sign of ``gain * x + offset``.
        first_spike_time: no spikes before this step (the first steps are silent).
        straight_through: gradient of the spikes with respect to the probability (or mean) set to 1.
        generator: random generator on ``x``'s device (``None``: torch's global one).

    Returns:
        ``[T, B, ...]`` spikes in ``x``'s dtype.
    """
    _check_input(x)
    if num_steps is None:
        if x.dim() < 2:
            raise ValueError("a time-varying x must be [T, B, ...]; for a static x give num_steps")
        level = x * gain + offset
    else:
        level = (x * gain + offset).expand(_check_steps(num_steps), *x.shape)
    if not 0 <= first_spike_time < level.shape[0]:
        raise ValueError(f"first_spike_time must be in [0, T) = [0, {level.shape[0]}), "
                         f"got {first_spike_time}")
    magnitude = level.abs() if signed else level
    if counts:
        p = magnitude.clamp(min=0)
        drawn = torch.poisson(p.contiguous(), generator=generator)
    else:
        p = magnitude.clamp(0, 1)
        drawn = torch.bernoulli(p, generator=generator)
    spikes = p + (drawn - p).detach() if straight_through else drawn
    if signed:
        spikes = spikes * torch.sign(level).detach()
    if first_spike_time:
        spikes = torch.cat([torch.zeros_like(spikes[:first_spike_time]), spikes[first_spike_time:]])
    return spikes
