"""Encoders as modules: ``forward(x, state=None) -> (spikes [T, B, ...], None)``.

They hold their settings and, for the random ones, their own seeded generator (one stream per
module, created on the input's device at the first call; :meth:`RateEncoder.reseed` restarts it),
and fit as the first layer of a :class:`neuro.nn.Sequential` or as a dataset transform.
"""

from __future__ import annotations

from typing import Any

import torch

from neuro.encoding.delta import delta, delta_modulation
from neuro.encoding.latency import latency
from neuro.encoding.rate import _check_steps, rate
from neuro.nn import SpikingModule

__all__ = ["RateEncoder", "LatencyEncoder", "DeltaEncoder"]


class RateEncoder(SpikingModule):
    """:func:`neuro.encoding.rate` as a module.

    Args:
        num_steps: ``T`` for static inputs (``None``: inputs are already ``[T, B, ...]``).
        seed: seed of the module's generator (``None``: torch's global generator).
        options: ``gain``, ``offset``, ``counts``, ``signed``, ``first_spike_time``,
            ``straight_through`` (see :func:`~neuro.encoding.rate`).
    """

    def __init__(self, num_steps: int | None, seed: int | None = None, **options: Any) -> None:
        super().__init__()
        self.num_steps = None if num_steps is None else _check_steps(num_steps)
        self.options = options
        self.seed = seed
        self._generator: torch.Generator | None = None
        rate(torch.zeros(1, 1), num_steps or 1, **options)  # reject bad options at construction

    def reseed(self, seed: int | None) -> None:
        """Restart the random stream from ``seed``."""
        self.seed, self._generator = seed, None

    def forward(self, x: torch.Tensor, state: None = None):
        """``x [B, ...]`` (or ``[T, B, ...]`` when ``num_steps`` is None) ``-> (spikes, None)``."""
        generator = None
        if self.seed is not None:
            if self._generator is None or self._generator.device != x.device:
                self._generator = torch.Generator(device=x.device).manual_seed(self.seed)
            generator = self._generator
        return rate(x, self.num_steps, generator=generator, **self.options), None

    def extra_repr(self) -> str:
        """Steps, seed and the encoder's keyword options."""
        options = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return f"num_steps={self.num_steps}, seed={self.seed}{options}"


class LatencyEncoder(SpikingModule):
    """:func:`neuro.encoding.latency` as a module (``options``: ``tau``, ``threshold``,
    ``linear``, ``normalize``, ``clip``, ``first_spike_time``, ``epsilon``)."""

    def __init__(self, num_steps: int, **options: Any) -> None:
        super().__init__()
        self.num_steps = _check_steps(num_steps)
        self.options = options
        latency(torch.zeros(1, 1), num_steps, **options)  # reject bad options at construction

    def forward(self, x: torch.Tensor, state: None = None):
        """``x [B, ...]`` in ``[0, 1]`` ``-> (spikes [T, B, ...], None)``."""
        return latency(x, self.num_steps, **self.options), None

    def extra_repr(self) -> str:
        """Steps and the encoder's keyword options."""
        return f"num_steps={self.num_steps}" + "".join(f", {k}={v!r}" for k, v in self.options.items())


class DeltaEncoder(SpikingModule):
    """:func:`neuro.encoding.delta` (``modulation=False``) or
    :func:`neuro.encoding.delta_modulation` (``modulation=True``) as a module."""

    def __init__(self, threshold: float, modulation: bool = False, **options: Any) -> None:
        super().__init__()
        self.threshold, self.modulation, self.options = threshold, modulation, options
        self._encode(torch.zeros(2, 1, 1))  # reject bad options at construction

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        fn = delta_modulation if self.modulation else delta
        return fn(x, self.threshold, **self.options)

    def forward(self, x: torch.Tensor, state: None = None):
        """``x [T, B, ...] -> (spikes, None)``."""
        return self._encode(x), None

    def extra_repr(self) -> str:
        """Threshold, modulation and the encoder's keyword options."""
        options = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return f"threshold={self.threshold}, modulation={self.modulation}{options}"
