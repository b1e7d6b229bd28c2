"""Per-element values of a simulation: scalars, arrays, random distributions or callables.

Wherever a simulation object takes a number per neuron or per synapse (initial membrane, weights,
delays, refractory periods, rates), it accepts

* a scalar (the same for all),
* an array of the right length,
* a distribution (:class:`Uniform`, :class:`Normal`) drawn from the network's seeded generator,
* a callable ``f(rng, n) -> array`` for anything else.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

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
        """``n`` values drawn uniformly from ``[low, high)`` with ``rng``."""
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
        """``n`` values drawn from the normal distribution ``(mean, std)`` with ``rng``, clipped to ``[low,
        high]``.
        """
        return np.clip(rng.normal(self.mean, self.std, n), self.low, self.high)


ValueSpec = float | int | np.ndarray | torch.Tensor | Uniform | Normal | Callable


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


# -- memory: sizes are checked before large allocations, and out-of-memory errors name the object --
#: bytes every synapse keeps once the network is built (int32 target, weight, int32 delay, int32
#: projection id, float64 drawn weight): a lower bound, drawing needs several times more for a while
BYTES_PER_SYNAPSE = 24
#: bytes every neuron keeps in the compiled tables (9 coefficients, state, bias, initial values ...)
#: and its runner state: a lower bound as well
BYTES_PER_NEURON = 8 * 16


def format_bytes(n: float) -> str:
    """``n`` bytes as a short human-readable string (``"671 GiB"``)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PiB"  # pragma: no cover


def memory_limit() -> int | None:
    """Bytes of memory this process may use at most: the machine's physical memory, or the
    container's limit (cgroup ``memory.max``) when lower; None when unknown."""
    limits = []
    try:
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            text = f.read().strip()
        if text.isdigit():
            limits.append(int(text))
    except OSError:
        pass
    return min(limits) if limits else None


def check_allocation(nbytes: float, what: str, hint: str = "") -> None:
    """Raise a ``MemoryError`` naming ``what`` when ``nbytes`` exceed :func:`memory_limit`, before
    anything is allocated (a sure failure otherwise, after a long time or a killed process)."""
    limit = memory_limit()
    if limit is not None and nbytes > limit:
        raise MemoryError(f"{what} needs at least {format_bytes(nbytes)} of memory, more than the "
                          f"{format_bytes(limit)} this machine has{hint}")


def out_of_memory(err: MemoryError, what: str) -> MemoryError:
    """A ``MemoryError`` naming ``what`` in place of numpy's bare "Unable to allocate ..." (raise it
    ``from err``)."""
    return MemoryError(f"out of memory while {what}: {err}")
