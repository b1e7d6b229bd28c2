r"""Connection rules of projections: which (pre, post) pairs get a synapse.

Every rule is a small frozen object whose :meth:`connect` returns the local ``(pre, post)`` index
arrays of the synapses, drawn from the network's seeded generator:

* :class:`AllToAll` — every pair (dense).
* :class:`FixedProbability` — each pair independently with probability ``p`` (sparse random; the
  number of targets of each source is ``Binomial(n_post, p)`` and the targets are distinct).
* :class:`FixedInDegree` — every target receives exactly ``k`` distinct sources.
* :class:`DistanceProbability` — pair probability :math:`C \exp(-(D(a, b)/\lambda)^2)` from the
  groups' positions (Maass, Natschlaeger & Markram 2002; e.g. on a 3D grid).
* :class:`FromList` — explicit index lists.

``allow_self=False`` removes the synapses of a neuron onto itself when source and target are the
same population.

Size first: :meth:`Connector.expected_synapses` gives the number of synapses a rule will draw (exact
for :class:`AllToAll`, :class:`FixedInDegree` and :class:`FromList`, the mean for
:class:`FixedProbability`) without drawing anything, so a projection that cannot fit in memory fails
at once with its name and the size it needs (``Projection.synapses``) instead of allocating for
minutes (``AllToAll`` on 300,000 x 300,000 neurons is 9e10 synapses, over 2 TB).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_BLOCK = 1 << 22  # pairs evaluated at once by the dense rules


def _self_column(pre_ids: np.ndarray | None, post_ids: np.ndarray | None, rows: int,
                 transpose: bool = False) -> np.ndarray | None:
    """For each row, the column holding the same neuron (or -1); None when no row has one."""
    if pre_ids is None or post_ids is None:
        return None
    a, b = (post_ids, pre_ids) if transpose else (pre_ids, post_ids)
    where = {int(v): j for j, v in enumerate(b)}
    col = np.array([where.get(int(v), -1) for v in a], dtype=np.int64)
    return col if (col >= 0).any() else None


def _distinct_columns(rng: np.random.Generator, counts: np.ndarray, n_cols: int,
                      forbidden: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """``counts[r]`` distinct random columns per row ``r``, never ``forbidden[r]``."""
    rows = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    cols = rng.integers(0, n_cols, size=rows.size)
    while rows.size:
        bad = np.zeros(rows.size, bool)
        if forbidden is not None:
            bad |= cols == forbidden[rows]
        order = np.lexsort((cols, rows))
        dup = (rows[order][1:] == rows[order][:-1]) & (cols[order][1:] == cols[order][:-1])
        bad[order[1:][dup]] = True
        if not bad.any():
            break
        cols[bad] = rng.integers(0, n_cols, size=int(bad.sum()))
    return rows, cols


def _dense_mask(rng, n_pre: int, n_post: int, prob_block, self_col) -> tuple[np.ndarray, np.ndarray]:
    """Bernoulli draw of every pair, ``prob_block(lo, hi) -> [hi-lo, n_post]`` probabilities."""
    pre, post = [], []
    step = max(1, _BLOCK // max(n_post, 1))
    for lo in range(0, n_pre, step):
        hi = min(n_pre, lo + step)
        mask = rng.random((hi - lo, n_post)) < prob_block(lo, hi)
        if self_col is not None:
            r = np.nonzero(self_col[lo:hi] >= 0)[0]
            mask[r, self_col[lo:hi][r]] = False
        i, j = np.nonzero(mask)
        pre.append(i + lo)
        post.append(j)
    return np.concatenate(pre), np.concatenate(post)


class Connector:
    """Base of the connection rules."""

    allow_self: bool = True

    def connect(self, n_pre: int, n_post: int, rng: np.random.Generator,
                pre_ids: np.ndarray | None = None, post_ids: np.ndarray | None = None,
                pre_pos: np.ndarray | None = None, post_pos: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
        """Local ``(pre, post)`` indices; ``*_ids`` identify neurons when the groups are the same."""
        raise NotImplementedError

    def expected_synapses(self, n_pre: int, n_post: int) -> float | None:
        """How many synapses :meth:`connect` will return (exact or the mean; None: unknown before
        drawing), computed without allocating anything."""
        return None


@dataclass(frozen=True)
class AllToAll(Connector):
    """Every source to every target."""

    allow_self: bool = True

    def expected_synapses(self, n_pre: int, n_post: int) -> float:
        """Exactly ``n_pre * n_post`` (before removing self-connections)."""
        return float(n_pre) * float(n_post)

    def connect(self, n_pre, n_post, rng, pre_ids=None, post_ids=None, pre_pos=None, post_pos=None):
        """Every ``(pre, post)`` pair as local index arrays, without the self-pairs of a group connected to
        itself when ``allow_self`` is false.
        """
        self_col = None if self.allow_self else _self_column(pre_ids, post_ids, n_pre)
        return _dense_mask(rng, n_pre, n_post, lambda lo, hi: 2.0, self_col)


@dataclass(frozen=True)
class FixedProbability(Connector):
    """Each (source, target) pair independently with probability ``p``."""

    p: float
    allow_self: bool = True

    def __post_init__(self) -> None:
        if not (isinstance(self.p, (int, float)) and 0.0 <= self.p <= 1.0):
            raise ValueError(f"connection probability p must be in [0, 1], got {self.p!r}")

    def expected_synapses(self, n_pre: int, n_post: int) -> float:
        """The mean number of synapses, ``p * n_pre * n_post``."""
        return float(self.p) * float(n_pre) * float(n_post)

    def connect(self, n_pre, n_post, rng, pre_ids=None, post_ids=None, pre_pos=None, post_pos=None):
        """Draw each ``(pre, post)`` pair independently with probability ``p`` (a binomial count of distinct
        targets per source when ``p <= 0.25``, a dense Bernoulli mask above); returns local ``(pre, post)``
        index arrays.
        """
        self_col = None if self.allow_self else _self_column(pre_ids, post_ids, n_pre)
        if self.p > 0.25:  # dense enough that drawing every pair is cheaper than rejection
            return _dense_mask(rng, n_pre, n_post, lambda lo, hi: self.p, self_col)
        avail = np.full(n_pre, n_post, dtype=np.int64)
        if self_col is not None:
            avail -= self_col >= 0
        counts = rng.binomial(avail, self.p)
        return _distinct_columns(rng, counts, n_post, self_col)


@dataclass(frozen=True)
class FixedInDegree(Connector):
    """Every target receives exactly ``k`` distinct sources."""

    k: int
    allow_self: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, (int, np.integer)) or self.k < 0:
            raise ValueError(f"in-degree k must be a non-negative integer, got {self.k!r}")

    def expected_synapses(self, n_pre: int, n_post: int) -> float:
        """Exactly ``k * n_post``."""
        return float(self.k) * float(n_post)

    def connect(self, n_pre, n_post, rng, pre_ids=None, post_ids=None, pre_pos=None, post_pos=None):
        """For every target, ``k`` distinct random sources (no self-source when ``allow_self`` is false);
        returns local ``(pre, post)`` index arrays. Raises ``ValueError`` when fewer than ``k`` sources are
        available.
        """
        self_row = None if self.allow_self else _self_column(pre_ids, post_ids, n_post, transpose=True)
        avail = n_pre - (1 if self_row is not None else 0)
        if self.k > avail:
            raise ValueError(f"in-degree k={self.k} is impossible: only {avail} distinct sources "
                             "are available to each target")
        post, pre = _distinct_columns(rng, np.full(n_post, self.k, dtype=np.int64), n_pre, self_row)
        return pre, post


@dataclass(frozen=True)
class DistanceProbability(Connector):
    r"""Pair probability :math:`C \exp(-(D/\lambda)^2)` with ``D`` the Euclidean distance of positions."""

    C: float
    lam: float
    allow_self: bool = False

    def __post_init__(self) -> None:
        if not (isinstance(self.C, (int, float)) and 0.0 <= self.C <= 1.0):
            raise ValueError(f"distance-dependent connectivity needs 0 <= C <= 1, got C={self.C!r}")
        if not (isinstance(self.lam, (int, float)) and math.isfinite(self.lam) and self.lam > 0):
            raise ValueError(f"distance-dependent connectivity needs lambda > 0, got {self.lam!r}")

    def connect(self, n_pre, n_post, rng, pre_ids=None, post_ids=None, pre_pos=None, post_pos=None):
        """Draw each pair with probability ``C * exp(-d^2 / lam^2)`` from the squared distance ``d^2`` of
        their positions (``pre_pos``/``post_pos`` ``[n, dims]``, required); returns local ``(pre, post)``
        index arrays.
        """
        if pre_pos is None or post_pos is None:
            raise ValueError("DistanceProbability needs positions on both groups "
                             "(Population(..., grid=(nx, ny, nz)) or positions=...)")
        if pre_pos.shape[1] != post_pos.shape[1]:
            raise ValueError(f"positions of {pre_pos.shape[1]} and {post_pos.shape[1]} dimensions "
                             "cannot be compared")
        self_col = None if self.allow_self else _self_column(pre_ids, post_ids, n_pre)

        def prob(lo, hi):
            d2 = ((pre_pos[lo:hi, None, :] - post_pos[None, :, :]) ** 2).sum(-1)
            return self.C * np.exp(-d2 / self.lam ** 2)

        return _dense_mask(rng, n_pre, n_post, prob, self_col)


@dataclass(frozen=True, eq=False)
class FromList(Connector):
    """Explicit synapses: ``pre[k] -> post[k]`` (local indices; repeated pairs are separate synapses)."""

    pre: np.ndarray
    post: np.ndarray

    def expected_synapses(self, n_pre: int, n_post: int) -> float:
        """Exactly the length of the given ``pre`` list."""
        return float(np.size(self.pre))

    def connect(self, n_pre, n_post, rng, pre_ids=None, post_ids=None, pre_pos=None, post_pos=None):
        """The given ``(pre, post)`` lists as ``int64`` arrays, after checking they have equal lengths and are
        integer indices inside the groups (``ValueError`` otherwise); ``rng`` is unused.
        """
        pre, post = np.asarray(self.pre).ravel(), np.asarray(self.post).ravel()
        if pre.shape != post.shape:
            raise ValueError(f"FromList: pre and post have different lengths ({pre.size}, {post.size})")
        for name, idx, n in (("pre", pre, n_pre), ("post", post, n_post)):
            if idx.size and (not np.issubdtype(idx.dtype, np.integer) or idx.min() < 0 or idx.max() >= n):
                raise ValueError(f"FromList: {name} indices must be integers in [0, {n})")
        return pre.astype(np.int64), post.astype(np.int64)
