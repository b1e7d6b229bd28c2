"""Per-element values of a simulation: scalars, arrays, random distributions or callables.

Wherever a simulation object takes a number per neuron or per synapse (initial membrane, weights,
delays, refractory periods, rates), it accepts

* a scalar (the same for all),
* an array of the right length,
* a distribution (:class:`Uniform`, :class:`Normal`) drawn from the network's seeded generator,
* a callable ``f(rng, n) -> array`` for anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Union

import numpy as np
import torch


@dataclass(frozen=True)
class Uniform:
    """Uniform values in ``[low, high)``."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not (np.isfinite(self.low) and np.isfinite(self.high)) or self.high < self.low:
            raise ValueError(f"Uniform needs finite low <= high, got ({self.low}, {self.high})")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.low + rng.random(n) * (self.high - self.low)


@dataclass(frozen=True)
class Normal:
    """Normal values with ``mean`` and standard deviation ``std`` (optionally clipped to ``[low, high]``)."""

    mean: float
    std: float
    low: float = -np.inf
    high: float = np.inf

    def __post_init__(self) -> None:
        if not np.isfinite(self.mean) or not np.isfinite(self.std) or self.std < 0:
            raise ValueError(f"Normal needs a finite mean and std >= 0, got ({self.mean}, {self.std})")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.clip(rng.normal(self.mean, self.std, n), self.low, self.high)


ValueSpec = Union[float, int, np.ndarray, torch.Tensor, Uniform, Normal, Callable]


def is_scalar(spec: ValueSpec) -> bool:
    """True when ``spec`` is one number (no per-element variation)."""
    if isinstance(spec, (int, float, np.floating, np.integer)):
        return True
    if isinstance(spec, (np.ndarray, torch.Tensor)):
        return spec.ndim == 0
    return False


def resolve(spec: ValueSpec, n: int, name: str, rng: np.random.Generator | None = None) -> np.ndarray:
    """``n`` float64 values of ``spec``; raises naming ``name`` on a wrong length or non-finite values."""
    drawn = isinstance(spec, (Uniform, Normal))
    if drawn or (callable(spec) and not isinstance(spec, (np.ndarray, torch.Tensor))):
        if rng is None:
            raise ValueError(f"{name}: a random or callable value needs the network's generator")
        values = spec.sample(rng, n) if isinstance(spec, (Uniform, Normal)) else spec(rng, n)
    else:
        values = spec
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, an array, a distribution or a callable, "
                        f"got {type(spec).__name__}") from None
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(f"{name} has shape {arr.shape}, expected ({n},) (one value per element)")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf values")
    return arr
