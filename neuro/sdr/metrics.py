r"""Running statistics of an SDR over time (htm.core's ``Sparsity``, ``ActivationFrequency``,
``Overlap``).

Each metric is fed one SDR per time step (``add_data(sdr)``; an :class:`~neuro.sdr.SDRBatch` or a
``[B, ...]`` array adds its rows in order) and keeps exponential moving averages with a time
constant of ``period`` steps: the weight of a new sample is :math:`\max(1/t, 1/\text{period})`
at step :math:`t`, so the first ``period`` steps are a plain running mean.

* :class:`Sparsity` — fraction of active bits: latest value, min, max, mean and standard deviation.
* :class:`ActivationFrequency` — per-bit activation frequency :math:`f_i`;
  :meth:`~ActivationFrequency.entropy` is the binary entropy :math:`\sum_i H(f_i)` divided by its
  maximum for the same mean activity, :math:`N\,H(\bar f)`, with
  :math:`H(p) = -p \log_2 p - (1-p)\log_2(1-p)`: 1 when every bit is used equally often, near 0
  when a few bits carry all the activity.
* :class:`Overlap` — overlap of consecutive values normalised by the larger of their sums
  (1 = unchanged, 0 = disjoint): latest, min, max, mean, std.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from neuro.sdr.sdr import SDR, Dims, _dims


def _rows(value, size: int) -> Iterable[np.ndarray]:
    """The flat dense rows of an SDR, an SDRBatch or an array ``[..., size]``."""
    from neuro.sdr.batch import SDRBatch

    if isinstance(value, SDR):
        if value.size != size:
            raise ValueError(f"SDR size {value.size} differs from the metric's {size}")
        yield value.dense.reshape(-1).astype(bool)
        return
    if isinstance(value, SDRBatch):
        value = value.flat.cpu().numpy()
    array = np.asarray(value)
    if array.size % size:
        raise ValueError(f"cannot split an array of {array.size} bits into SDRs of {size}")
    yield from (array.reshape(-1, size) != 0)


class _Running:
    """Exponential moving mean and variance of a scalar (weight ``max(1/t, 1/period)``)."""

    def __init__(self, period: int) -> None:
        if int(period) < 1:
            raise ValueError(f"period must be >= 1, got {period}")
        self.period, self.samples = int(period), 0
        self.mean_value = self.mean_square = 0.0
        self.min_value, self.max_value, self.latest = math.inf, -math.inf, math.nan

    def add(self, x: float) -> None:
        self.samples += 1
        w = max(1.0 / self.samples, 1.0 / self.period)
        self.mean_value += w * (x - self.mean_value)
        self.mean_square += w * (x * x - self.mean_square)
        self.min_value, self.max_value = min(self.min_value, x), max(self.max_value, x)
        self.latest = x

    def std(self) -> float:
        return math.sqrt(max(self.mean_square - self.mean_value ** 2, 0.0))

    def summary(self) -> dict[str, float]:
        return {"latest": self.latest, "min": self.min_value, "max": self.max_value,
                "mean": self.mean_value, "std": self.std(), "samples": self.samples}


class Sparsity(_Running):
    """Sparsity of an SDR over time (module docstring)."""

    def __init__(self, dimensions: Dims, period: int = 1000) -> None:
        super().__init__(period)
        self.dimensions = _dims(dimensions)
        self.size = int(math.prod(self.dimensions))

    def add_data(self, value) -> None:
        """Record the sparsity (active bits / size) of each SDR in ``value``: an :class:`~neuro.sdr.sdr.SDR`,
        an :class:`~neuro.sdr.batch.SDRBatch` or an array ``[..., size]`` (one sample per row).
        """
        for row in _rows(value, self.size):
            self.add(float(row.sum()) / self.size)

    @property
    def sparsity(self) -> float:
        """The latest sparsity."""
        return self.latest

    def min(self) -> float:
        """Smallest sparsity recorded so far (``inf`` before any data)."""
        return self.min_value

    def max(self) -> float:
        """Largest sparsity recorded so far (``-inf`` before any data)."""
        return self.max_value

    def mean(self) -> float:
        """Moving mean of the sparsity (weight ``max(1/t, 1/period)``; 0 before any data)."""
        return self.mean_value


def binary_entropy(p: np.ndarray) -> np.ndarray:
    """:math:`H(p)` in bits, elementwise (0 at p = 0 and 1)."""
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -p * np.log2(p) - (1 - p) * np.log2(1 - p)
    return np.nan_to_num(h)


class ActivationFrequency:
    """Per-bit activation frequency and its normalised entropy (module docstring)."""

    def __init__(self, dimensions: Dims, period: int = 1000) -> None:
        if int(period) < 1:
            raise ValueError(f"period must be >= 1, got {period}")
        self.dimensions = _dims(dimensions)
        self.size = int(math.prod(self.dimensions))
        self.period, self.samples = int(period), 0
        self.frequency = np.zeros(self.dimensions)

    def add_data(self, value) -> None:
        """Update each bit's activation frequency with the SDRs in ``value`` (an :class:`~neuro.sdr.sdr.SDR`,
        an :class:`~neuro.sdr.batch.SDRBatch` or an array ``[..., size]``), one row at a time, with
        moving-average weight ``max(1/t, 1/period)``.
        """
        flat = self.frequency.reshape(-1)
        for row in _rows(value, self.size):
            self.samples += 1
            w = max(1.0 / self.samples, 1.0 / self.period)
            flat += w * (row - flat)

    @property
    def activation_frequency(self) -> np.ndarray:
        """Per-bit activation frequency in [0, 1], an array of shape ``dimensions`` (the live array, not a
        copy).
        """
        return self.frequency

    def min(self) -> float:
        """Lowest per-bit activation frequency."""
        return float(self.frequency.min())

    def max(self) -> float:
        """Highest per-bit activation frequency."""
        return float(self.frequency.max())

    def mean(self) -> float:
        """Mean activation frequency over the bits (equals the mean sparsity)."""
        return float(self.frequency.mean())

    def std(self) -> float:
        """Standard deviation of the activation frequency over the bits."""
        return float(self.frequency.std())

    def entropy(self) -> float:
        """``sum_i H(f_i) / (N H(mean f))`` in [0, 1] (0 before any activity)."""
        top = self.size * float(binary_entropy(self.mean()))
        return float(binary_entropy(self.frequency).sum()) / top if top > 0 else 0.0


class Overlap(_Running):
    """Normalised overlap of consecutive SDR values (module docstring)."""

    def __init__(self, dimensions: Dims, period: int = 1000) -> None:
        super().__init__(period)
        self.dimensions = _dims(dimensions)
        self.size = int(math.prod(self.dimensions))
        self._previous = None

    def add_data(self, value) -> None:
        """Record, for each SDR in ``value`` after the first ever seen, its overlap with the previous one
        divided by the larger of their active counts (1 when both are empty). ``value``: an
        :class:`~neuro.sdr.sdr.SDR`, an :class:`~neuro.sdr.batch.SDRBatch` or an array ``[..., size]``.
        """
        for row in _rows(value, self.size):
            if self._previous is not None:
                larger = max(int(row.sum()), int(self._previous.sum()))
                self.add(float((row & self._previous).sum()) / larger if larger else 1.0)
            self._previous = row.copy()

    @property
    def overlap(self) -> float:
        """The latest normalised overlap."""
        return self.latest

    def min(self) -> float:
        """Smallest normalised overlap recorded so far (``inf`` before any pair)."""
        return self.min_value

    def max(self) -> float:
        """Largest normalised overlap recorded so far (``-inf`` before any pair)."""
        return self.max_value

    def mean(self) -> float:
        """Moving mean of the normalised overlap (weight ``max(1/t, 1/period)``; 0 before any pair)."""
        return self.mean_value
