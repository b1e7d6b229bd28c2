r"""Delta coding: spikes for changes of a time-varying signal ``x [T, B, ...]``.

* :func:`delta` — a spike where the step-to-step change reaches the threshold,
  :math:`s_t = [x_t - x_{t-1} \ge \vartheta]` (and :math:`-1` for
  :math:`x_t - x_{t-1} \le -\vartheta` with ``off_spikes``); :math:`x_{-1}` is 0, or :math:`x_0`
  with ``padding=True`` (snnTorch's ``spikegen.delta``).
* :func:`delta_modulation` — send-on-delta with a tracked reference (what event cameras and
  delta modulators do): a spike each time the signal moves a whole threshold away from the
  reference, which then moves by that threshold, :math:`n_t = \mathrm{trunc}((x_t - r_{t-1})/\vartheta)`,
  :math:`r_t = r_{t-1} + \vartheta n_t`. Slow drifts add up (which :func:`delta` misses) and
  :math:`r_0 + \vartheta \sum_{k \le t} n_k` stays within :math:`\vartheta` of :math:`x_t`.

Both give signed spikes (``+1`` on, ``-1`` off) or, with ``off_spikes="channels"``, two
non-negative channels ``[T, B, 2, ...]`` (ON then OFF, like event-camera polarities).
"""

from __future__ import annotations

import torch

from neuro.encoding.rate import _check_input

__all__ = ["delta", "delta_modulation"]

_OFF = (False, True, "channels")


def _previous(x: torch.Tensor, padding: bool) -> torch.Tensor:
    first = x[:1] if padding else torch.zeros_like(x[:1])
    return torch.cat([first, x[:-1]])


def _signed_output(on: torch.Tensor, off: torch.Tensor, off_spikes: bool | str) -> torch.Tensor:
    if off_spikes == "channels":
        return torch.stack([on, off], dim=2)
    return on - off if off_spikes else on


def _check(x: torch.Tensor, threshold: float, off_spikes: bool | str) -> None:
    _check_input(x)
    if x.dim() < 2:
        raise ValueError(f"delta coding takes a time-varying x [T, B, ...], got shape {tuple(x.shape)}")
    if not threshold > 0:
        raise ValueError(f"threshold must be positive, got {threshold}")
    if off_spikes not in _OFF:
        raise ValueError(f"off_spikes must be False, True (signed spikes) or 'channels', "
                         f"got {off_spikes!r}")


def delta(x: torch.Tensor, threshold: float = 0.1, padding: bool = False,
          off_spikes: bool | str = False) -> torch.Tensor:
    """Spikes where ``x [T, B, ...]`` changes by at least ``threshold`` from the previous step.

    ``off_spikes``: ``False`` (increases only), ``True`` (``-1`` for decreases) or
    ``"channels"`` (``[T, B, 2, ...]``: increases, decreases). Not differentiable.
    """
    _check(x, threshold, off_spikes)
    change = x - _previous(x, padding)
    on = (change >= threshold).to(x.dtype)
    off = (change <= -threshold).to(x.dtype) if off_spikes is not False else torch.zeros_like(on)
    return _signed_output(on, off, off_spikes)


def delta_modulation(x: torch.Tensor, threshold: float, padding: bool = True,
                     off_spikes: bool | str = True, max_events: int | None = None) -> torch.Tensor:
    """Send-on-delta spikes of ``x [T, B, ...]`` (see the module docstring).

    Args:
        threshold: the step of the reference (the signal resolution).
        padding: start the reference at ``x[0]`` (default; no spikes for the initial level) or,
            with ``False``, at 0.
        off_spikes: ``True`` (signed counts), ``False`` (increases only; the reference still
            follows decreases) or ``"channels"`` (``[T, B, 2, ...]``).
        max_events: at most this many threshold crossings per step (the reference then lags and
            catches up later); ``None``: as many as the change holds (counts can exceed 1).
    """
    _check(x, threshold, off_spikes)
    if max_events is not None and max_events < 1:
        raise ValueError(f"max_events must be >= 1 or None, got {max_events}")
    with torch.no_grad():
        reference = x[0].clone() if padding else torch.zeros_like(x[0])
        counts = []
        for x_t in x:
            n = torch.trunc((x_t - reference) / threshold)
            if max_events is not None:
                n = n.clamp(-max_events, max_events)
            reference = reference + n * threshold
            counts.append(n)
        n = torch.stack(counts)
    return _signed_output(n.clamp(min=0), (-n).clamp(min=0), off_spikes)
