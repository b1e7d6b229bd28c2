"""One sparse distributed representation with the three views htm.core users know.

An :class:`SDR` is a set of active bits in a space of ``dimensions``. It is held in whichever view
was last assigned and converts lazily (each conversion is cached until the value changes):

* ``dense`` — a ``uint8`` array shaped ``dimensions`` (1 = active; C order);
* ``sparse`` — the sorted flat indices of the active bits (``int64``);
* ``coordinates`` — one index array per dimension, in parallel.

As in htm.core, after editing a returned array in place assign it back (``sdr.dense = d``) so the
other views are recomputed. Porting from htm.core (``htm.bindings.sdr.SDR``):

=================================  =========================================
htm.core                           neuro.sdr
=================================  =========================================
``SDR(dims)``                      ``SDR(dims)``
``getSum()``, ``getSparsity()``    ``sum``, ``sparsity`` (properties; the htm names also work)
``getOverlap(b)``                  ``overlap(b)`` (``getOverlap`` also works)
``randomize(s, rng)``              ``randomize(sparsity, seed)``
``addNoise(f, rng)``               ``add_noise(fraction, seed)`` (``addNoise`` also works)
``killCells(f, seed)``             ``kill_cells(fraction, seed)``
``X.intersection(A, B)``           ``X = intersection(A, B)`` or ``A & B``
``X.union(A, B)``                  ``X = union(A, B)`` or ``A | B``
``X.concatenate(A, B, axis)``      ``X = concatenate([A, B], axis)``
``reshape(dims)``                  ``reshape(dims)`` (in place, returns the SDR)
=================================  =========================================

Randomness: ``seed`` is an int, a ``numpy.random.Generator`` or None (fresh entropy).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

Seed = int | np.random.Generator | None
Dims = int | Sequence[int]


def _generator(seed: Seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _dims(dimensions: Dims) -> tuple[int, ...]:
    dims = (int(dimensions),) if np.ndim(dimensions) == 0 else tuple(int(d) for d in dimensions)
    if not dims or any(d < 1 for d in dims):
        raise ValueError(f"dimensions must be positive sizes, got {dimensions!r}")
    return dims


def _fraction(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return value


class SDR:
    """A sparse distributed representation over ``dimensions`` (module docstring).

    Args:
        dimensions: an int or a sequence of sizes.
        dense / sparse / coordinates: an optional initial value in one view (default all zeros).
    """

    def __init__(self, dimensions: Dims, *, dense=None, sparse=None, coordinates=None) -> None:
        self._dims = _dims(dimensions)
        self._size = int(math.prod(self._dims))
        self._dense: np.ndarray | None = None
        self._sparse: np.ndarray | None = np.zeros(0, np.int64)
        self._coords: tuple[np.ndarray, ...] | None = None
        given = [v is not None for v in (dense, sparse, coordinates)]
        if sum(given) > 1:
            raise ValueError("give at most one of dense, sparse, coordinates")
        if dense is not None:
            self.dense = dense
        elif sparse is not None:
            self.sparse = sparse
        elif coordinates is not None:
            self.coordinates = coordinates

    # -- shape ------------------------------------------------------------------------------------
    @property
    def dimensions(self) -> tuple[int, ...]:
        """Shape of the SDR, a tuple of ints (its ``size`` is their product)."""
        return self._dims

    @property
    def size(self) -> int:
        """Total number of bits."""
        return self._size

    def reshape(self, dimensions: Dims) -> SDR:
        """Change the dimensions in place (same total size); returns the SDR."""
        dims = _dims(dimensions)
        if math.prod(dims) != self._size:
            raise ValueError(f"cannot reshape an SDR of size {self._size} to {dims}")
        sparse = self.sparse
        self._dims, self._dense, self._coords, self._sparse = dims, None, None, sparse
        return self

    # -- views ------------------------------------------------------------------------------------
    def _set(self, dense=None, sparse=None, coords=None) -> None:
        self._dense, self._sparse, self._coords = dense, sparse, coords

    @property
    def dense(self) -> np.ndarray:
        """``uint8`` array shaped ``dimensions`` (assign any array: non-zero = active)."""
        if self._dense is None:
            flat = np.zeros(self._size, np.uint8)
            flat[self.sparse] = 1
            self._dense = flat.reshape(self._dims)
        return self._dense

    @dense.setter
    def dense(self, value) -> None:
        array = np.asarray(value)
        if array.size != self._size:
            raise ValueError(f"dense value has {array.size} bits, the SDR has {self._size}")
        self._set(dense=(array != 0).astype(np.uint8).reshape(self._dims))

    @property
    def sparse(self) -> np.ndarray:
        """Sorted flat indices of the active bits (``int64``)."""
        if self._sparse is None:
            if self._dense is not None:
                self._sparse = np.flatnonzero(self._dense).astype(np.int64)
            else:
                self._sparse = np.ravel_multi_index(self._coords, self._dims).astype(np.int64)
                self._sparse.sort()
        return self._sparse

    @sparse.setter
    def sparse(self, value) -> None:
        idx = np.asarray(value, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= self._size):
            raise ValueError(f"sparse indices must be in [0, {self._size}), got min {idx.min()}, "
                             f"max {idx.max()}")
        unique = np.unique(idx)
        if unique.size != idx.size:
            raise ValueError("sparse indices must not repeat")
        self._set(sparse=unique)

    @property
    def coordinates(self) -> tuple[np.ndarray, ...]:
        """One array of indices per dimension for the active bits (in the order of ``sparse``)."""
        if self._coords is None:
            self._coords = tuple(np.asarray(c, np.int64)
                                 for c in np.unravel_index(self.sparse, self._dims))
        return self._coords

    @coordinates.setter
    def coordinates(self, value) -> None:
        coords = [np.asarray(c, dtype=np.int64).reshape(-1) for c in value]
        if len(coords) != len(self._dims):
            raise ValueError(f"coordinates need {len(self._dims)} index arrays, got {len(coords)}")
        for axis, (c, d) in enumerate(zip(coords, self._dims)):
            if c.size and (c.min() < 0 or c.max() >= d):
                raise ValueError(f"coordinates of axis {axis} must be in [0, {d})")
        self.sparse = np.ravel_multi_index(tuple(coords), self._dims)

    def zero(self) -> SDR:
        """Deactivate every bit; returns the SDR."""
        self._set(sparse=np.zeros(0, np.int64))
        return self

    def at(self, coordinates: Sequence[int]) -> bool:
        """Whether the bit at ``coordinates`` is active."""
        return bool(self.dense[tuple(coordinates)])

    # -- statistics -------------------------------------------------------------------------------
    @property
    def sum(self) -> int:
        """Number of active bits."""
        return int(self.sparse.size)

    @property
    def sparsity(self) -> float:
        """Fraction of active bits."""
        return self.sum / self._size

    def getSum(self) -> int:  # noqa: N802 - htm.core's name
        """htm.core spelling of :attr:`sum`: the number of active bits."""
        return self.sum

    def getSparsity(self) -> float:  # noqa: N802 - htm.core's name
        """htm.core spelling of :attr:`sparsity`: the fraction of active bits."""
        return self.sparsity

    def overlap(self, other: SDR) -> int:
        """Number of bits active in both SDRs (same size required)."""
        self._same_size(other)
        return int(np.intersect1d(self.sparse, other.sparse, assume_unique=True).size)

    def getOverlap(self, other: SDR) -> int:  # noqa: N802 - htm.core's name
        """htm.core spelling of :meth:`overlap`: the number of bits active in both SDRs."""
        return self.overlap(other)

    # -- random changes ---------------------------------------------------------------------------
    def randomize(self, sparsity: float, seed: Seed = None) -> SDR:
        """Exactly ``round(size * sparsity)`` uniformly random active bits; returns the SDR."""
        k = int(round(self._size * _fraction("sparsity", sparsity)))
        rng = _generator(seed)
        self._set(sparse=np.sort(rng.choice(self._size, size=k, replace=False)).astype(np.int64))
        return self

    def add_noise(self, fraction: float, seed: Seed = None) -> SDR:
        """Move ``round(fraction * sum)`` active bits to random inactive positions (the sparsity is
        kept; the result overlaps the original in ``sum - moved`` bits); returns the SDR."""
        moved = int(round(_fraction("fraction", fraction) * self.sum))
        return self.move_bits(moved, seed)

    def addNoise(self, fraction: float, seed: Seed = None) -> SDR:  # noqa: N802 - htm.core's name
        """htm.core spelling of :meth:`add_noise`: moves ``round(fraction * sum)`` active bits; returns the
        SDR.
        """
        return self.add_noise(fraction, seed)

    def move_bits(self, count: int, seed: Seed = None) -> SDR:
        """Switch ``count`` random active bits off and ``count`` random inactive bits (of the
        original value) on; returns the SDR."""
        active = self.sparse
        count = int(count)
        if not 0 <= count <= min(active.size, self._size - active.size):
            raise ValueError(f"count must be in [0, {min(active.size, self._size - active.size)}] "
                             f"(active and inactive bits), got {count}")
        rng = _generator(seed)
        off = rng.choice(active, size=count, replace=False)
        inactive = np.setdiff1d(np.arange(self._size), active, assume_unique=True)
        on = rng.choice(inactive, size=count, replace=False)
        kept = np.setdiff1d(active, off, assume_unique=True)
        self._set(sparse=np.sort(np.concatenate([kept, on])).astype(np.int64))
        return self

    def kill_cells(self, fraction: float, seed: int = 0) -> SDR:
        """Deactivate a fixed random ``fraction`` of all cells: the same ``seed`` kills the same
        cells every time (htm.core's ``killCells``); returns the SDR."""
        k = int(round(_fraction("fraction", fraction) * self._size))
        dead = np.random.default_rng(seed).choice(self._size, size=k, replace=False)
        self._set(sparse=np.setdiff1d(self.sparse, dead, assume_unique=True))
        return self

    def subsample(self, count: int, seed: Seed = None) -> SDR:
        """A new SDR with ``count`` of this one's active bits, chosen at random (what a dendritic
        segment stores of a pattern)."""
        if not 0 <= int(count) <= self.sum:
            raise ValueError(f"count must be in [0, {self.sum}], got {count}")
        pick = _generator(seed).choice(self.sparse, size=int(count), replace=False)
        return SDR(self._dims, sparse=pick)

    # -- conversions and operators ----------------------------------------------------------------
    def copy(self) -> SDR:
        """A new SDR with the same dimensions and a copy of the active-bit indices."""
        return SDR(self._dims, sparse=self.sparse.copy())

    def to_torch(self, device=None):
        """The dense view as a ``torch.bool`` tensor shaped ``dimensions``."""
        import torch

        return torch.from_numpy(self.dense.astype(bool)).to(device)

    def _same_size(self, other: SDR) -> None:
        if not isinstance(other, SDR):
            raise TypeError(f"expected an SDR, got {type(other).__name__}")
        if other.size != self._size:
            raise ValueError(f"SDR sizes differ: {self._size} and {other.size}")

    def __or__(self, other: SDR) -> SDR:
        return union(self, other)

    def __and__(self, other: SDR) -> SDR:
        return intersection(self, other)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, SDR) and other.dimensions == self._dims
                and np.array_equal(other.sparse, self.sparse))

    __hash__ = None  # mutable

    def __len__(self) -> int:
        return self._size

    def __repr__(self) -> str:
        shown = ", ".join(str(i) for i in self.sparse[:16])
        more = ", ..." if self.sum > 16 else ""
        return f"SDR({', '.join(map(str, self._dims))}) [{shown}{more}]"


def _inputs(sdrs: Iterable[SDR]) -> list[SDR]:
    items = list(sdrs)
    if not items:
        raise ValueError("need at least one SDR")
    for s in items[1:]:
        items[0]._same_size(s)
    return items


def union(*sdrs: SDR) -> SDR:
    """Bits active in any input (the inputs' size; the first input's dimensions)."""
    items = _inputs(sdrs)
    return SDR(items[0].dimensions, sparse=np.unique(np.concatenate([s.sparse for s in items])))


def intersection(*sdrs: SDR) -> SDR:
    """Bits active in every input."""
    items = _inputs(sdrs)
    common = items[0].sparse
    for s in items[1:]:
        common = np.intersect1d(common, s.sparse, assume_unique=True)
    return SDR(items[0].dimensions, sparse=common)


def concatenate(sdrs: Sequence[SDR], axis: int = 0) -> SDR:
    """Join SDRs along ``axis`` (the other dimensions must agree), as ``numpy.concatenate``."""
    items = list(sdrs)
    if not items:
        raise ValueError("need at least one SDR")
    dense = np.concatenate([s.dense for s in items], axis=axis)
    return SDR(dense.shape, dense=dense)
