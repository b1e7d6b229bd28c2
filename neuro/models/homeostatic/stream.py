r"""Concept-shift streams: label swaps at scheduled sample counts, deterministic by seed.

The paper's shift (Man, Damasio & Neven 2022): pick two distinct classes at random and swap their
labels on every training and validation item. After swaps :math:`\tau_1, \dots, \tau_k` (each a
transposition of two current label values) an item of original class :math:`c` carries the label
:math:`\pi_k(c) = \tau_k(\pi_{k-1}(c))`, :math:`\pi_0 = \mathrm{id}`.

*When* swaps happen is a :class:`Schedule` over the global sample count :math:`t` (samples seen
since the start, across epochs); a swap at time :math:`t` applies to every sample after the
first :math:`t`. Schedules:

* :class:`Every` — every ``gap`` samples (the rate stated in samples between swaps);
* :class:`PerEpoch` — the paper's ``swapsperepoch``: ``k`` swaps at evenly spaced points inside
  each epoch of ``epoch_size`` samples (positions ``round(j * epoch_size / k)``, ``j = 1..k``);
* :class:`Piecewise` — the gap changes at given sample counts (second-order shift), and
  :class:`Seasonal` — seasons of different gaps repeating with a period ("seasonality");
* :class:`Never` — no shift.

:class:`ConceptShiftStream` draws the swapped pairs from ``numpy.random.default_rng(seed)`` in
time order, so the sequence is a function of the seed and the schedule alone, whatever order it
is queried in. It works on labels only, so it fits any classification set (``relabel``).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

__all__ = ["ConceptShiftStream", "Every", "Never", "PerEpoch", "Piecewise", "Schedule", "Seasonal",
           "Swap", "make_schedule"]


class Swap(NamedTuple):
    """A label swap at sample count ``time``: current labels ``a`` and ``b`` trade places."""

    time: int
    a: int
    b: int


class Schedule:
    """Swap times, strictly increasing positive sample counts: :meth:`times` iterates them."""

    def times(self) -> Iterator[int]:
        """Iterator over the swap times (strictly increasing positive sample counts, possibly infinite);
        subclasses implement it.
        """
        raise NotImplementedError

    def until(self, stop: int) -> list[int]:
        """Every swap time ``<= stop``."""
        return list(itertools.takewhile(lambda t: t <= stop, self.times()))

    def describe(self) -> str:
        """A short human-readable description of the schedule (here its ``repr``)."""
        return repr(self)


def _positive(name: str, value: int) -> int:
    if int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive whole number of samples, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Never(Schedule):
    """No swaps."""

    def times(self) -> Iterator[int]:
        """An empty iterator: this schedule never swaps."""
        return iter(())

    def describe(self) -> str:
        """``"no shift"``."""
        return "no shift"


@dataclass(frozen=True)
class Every(Schedule):
    """A swap every ``gap`` samples: at ``gap, 2 gap, ...`` (after ``offset``)."""

    gap: int
    offset: int = 0

    def __post_init__(self) -> None:
        _positive("gap", self.gap)
        if self.offset < 0:
            raise ValueError(f"offset must be >= 0, got {self.offset}")

    def times(self) -> Iterator[int]:
        """The infinite swap times ``offset + k * gap`` for ``k = 1, 2, ...``."""
        return (self.offset + k * self.gap for k in itertools.count(1))

    def describe(self) -> str:
        """``"a swap every <gap> samples"``."""
        return f"a swap every {self.gap} samples"


@dataclass(frozen=True)
class PerEpoch(Schedule):
    """``swaps_per_epoch`` swaps evenly spaced inside every epoch of ``epoch_size`` samples."""

    swaps_per_epoch: int
    epoch_size: int

    def __post_init__(self) -> None:
        _positive("swaps_per_epoch", self.swaps_per_epoch)
        _positive("epoch_size", self.epoch_size)
        if self.swaps_per_epoch > self.epoch_size:
            raise ValueError(f"swaps_per_epoch={self.swaps_per_epoch} exceeds epoch_size={self.epoch_size}")

    def times(self) -> Iterator[int]:
        """The infinite swap times: ``swaps_per_epoch`` swaps evenly spaced in each epoch of ``epoch_size``
        samples, the last at the epoch's end.
        """
        k, n = self.swaps_per_epoch, self.epoch_size
        within = [round(j * n / k) for j in range(1, k + 1)]
        return (e * n + p for e in itertools.count() for p in within)

    def describe(self) -> str:
        """``"<k> swaps per epoch of <n> samples"``."""
        return f"{self.swaps_per_epoch} swaps per epoch of {self.epoch_size} samples"


@dataclass(frozen=True)
class Piecewise(Schedule):
    """Second-order shift: ``segments = [(start, gap), ...]`` with increasing starts (the first at
    0); inside ``[start_i, start_{i+1})`` a swap every ``gap_i`` samples counted from ``start_i``
    (``gap = None``: no swaps in that segment)."""

    segments: tuple[tuple[int, int | None], ...]

    def __post_init__(self) -> None:
        segs = tuple((int(s), None if g is None else _positive("gap", g)) for s, g in self.segments)
        if not segs or segs[0][0] != 0 or any(b[0] <= a[0] for a, b in zip(segs, segs[1:])):
            raise ValueError(f"segments must start at 0 with strictly increasing starts, got {self.segments}")
        object.__setattr__(self, "segments", segs)

    def times(self) -> Iterator[int]:
        """Swap times segment by segment: from each segment's start, every ``gap`` samples until the next
        segment starts (none in a segment whose gap is ``None``).
        """
        for (start, gap), nxt in zip(self.segments, [s for s, _ in self.segments[1:]] + [None]):
            if gap is None:
                continue
            for t in itertools.count(start + gap, gap):
                if nxt is not None and t >= nxt:
                    break
                yield t

    def describe(self) -> str:
        """The segments, e.g. ``"from 0: no swaps; from 600: every 100"``."""
        return "; ".join(f"from {s}: " + ("no swaps" if g is None else f"every {g}")
                         for s, g in self.segments)


@dataclass(frozen=True)
class Seasonal(Schedule):
    """Seasonality: seasons of ``lengths[i]`` samples with gaps ``gaps[i]`` (``None``: calm),
    repeating forever; swaps evenly spaced inside each season, counted from its start."""

    lengths: tuple[int, ...]
    gaps: tuple[int | None, ...]

    def __post_init__(self) -> None:
        if len(self.lengths) != len(self.gaps) or not self.lengths:
            raise ValueError("lengths and gaps must be non-empty and of the same length")
        object.__setattr__(self, "lengths", tuple(_positive("season length", n) for n in self.lengths))
        object.__setattr__(self, "gaps", tuple(None if g is None else _positive("gap", g) for g in self.gaps))

    def times(self) -> Iterator[int]:
        """The infinite swap times of the repeating seasons: within a season of ``length`` samples a swap
        every ``gap`` samples (none in a calm season, ``gap`` ``None``).
        """
        start = 0
        for length, gap in itertools.cycle(zip(self.lengths, self.gaps)):
            if gap is not None:
                yield from range(start + gap, start + length, gap)
            start += length

    def describe(self) -> str:
        """The seasons, e.g. ``"seasons: 500 samples calm, 500 samples every 50 (repeating)"``."""
        parts = [f"{n} samples " + ("calm" if g is None else f"every {g}")
                 for n, g in zip(self.lengths, self.gaps)]
        return "seasons: " + ", ".join(parts) + " (repeating)"


def make_schedule(gap: int | None = None, swaps_per_epoch: int | None = None,
                  epoch_size: int | None = None,
                  seasons: Sequence[tuple[int, int | None]] | None = None) -> Schedule:
    """A schedule from simple options: ``gap`` (0 or None: no shift), or ``swaps_per_epoch`` with
    ``epoch_size``, or ``seasons`` as ``[(length, gap or None), ...]``; at most one of them."""
    given = [o for o in (gap, swaps_per_epoch, seasons) if o]
    if len(given) > 1:
        raise ValueError("give at most one of gap, swaps_per_epoch and seasons")
    if seasons:
        return Seasonal(tuple(n for n, _ in seasons), tuple(g for _, g in seasons))
    if swaps_per_epoch:
        if epoch_size is None:
            raise ValueError("swaps_per_epoch needs epoch_size")
        return PerEpoch(swaps_per_epoch, epoch_size)
    return Every(gap) if gap else Never()


class ConceptShiftStream:
    """The label mapping of a concept-shifting stream over time (see the module docstring).

    Args:
        n_classes: number of classes (>= 2).
        schedule: when the swaps happen (:class:`Schedule`).
        seed: seed of the swapped pairs.
    """

    def __init__(self, n_classes: int, schedule: Schedule, seed: int = 0) -> None:
        if n_classes < 2:
            raise ValueError(f"n_classes must be >= 2 to swap labels, got {n_classes}")
        if not isinstance(schedule, Schedule):
            raise TypeError(f"schedule must be a Schedule, got {type(schedule).__name__}")
        self.n_classes, self.schedule, self.seed = int(n_classes), schedule, int(seed)
        self._rng = np.random.default_rng(self.seed)
        self._times = schedule.times()
        self._swaps: list[Swap] = []
        self._swap_times: list[int] = []
        self._perms = [np.arange(self.n_classes)]  # _perms[k]: mapping after the first k swaps
        self._next: int | None = next(self._times, None)

    def _extend(self, t: int) -> None:
        """Draw every swap with time ``<= t`` not drawn yet."""
        while self._next is not None and self._next <= t:
            a, b = (int(v) for v in self._rng.choice(self.n_classes, 2, replace=False))
            self._swaps.append(Swap(self._next, a, b))
            self._swap_times.append(self._next)
            perm = self._perms[-1].copy()
            ia, ib = perm == a, perm == b
            perm[ia], perm[ib] = b, a
            self._perms.append(perm)
            following = next(self._times, None)
            if following is not None and following <= self._next:
                raise ValueError(f"schedule times must increase strictly ({following} after {self._next})")
            self._next = following

    def swaps(self, stop: int, start: int = -1) -> list[Swap]:
        """The swaps with ``start < time <= stop``."""
        self._extend(stop)
        lo, hi = bisect.bisect_right(self._swap_times, start), bisect.bisect_right(self._swap_times, stop)
        return self._swaps[lo:hi]

    def count(self, t: int) -> int:
        """Number of swaps with time ``<= t``."""
        self._extend(t)
        return bisect.bisect_right(self._swap_times, t)

    def permutation(self, t: int) -> torch.Tensor:
        """``[n_classes]`` long tensor: the current label of each original class after the first
        ``t`` samples."""
        return torch.from_numpy(self._perms[self.count(t)].copy())

    def relabel(self, labels: torch.Tensor, t: int) -> torch.Tensor:
        """Original ``labels`` as seen after ``t`` samples."""
        return self.permutation(t).to(labels.device)[labels]

    def describe(self) -> str:
        """The description of the stream's swap schedule (:meth:`Schedule.describe`)."""
        return self.schedule.describe()
