"""Many SDRs at once in torch: a dense ``bool`` tensor ``[B, *dimensions]`` on any device.

:class:`SDRBatch` is the batched form of :class:`neuro.sdr.SDR` used by the Monte-Carlo
estimators and by models: random patterns with an exact number of active bits per row, per-row
subsamples (a segment's synapses), noise that moves active bits, pairwise overlaps and overlap
matrices. Random draws take a ``torch.Generator`` (on the batch's device) so runs are repeatable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from neuro.sdr.sdr import SDR, Dims, _dims

Counts = int | torch.Tensor


def choose_rows(eligible: torch.Tensor, counts: Counts,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """A ``bool [B, N]`` mask with ``counts[b]`` bits chosen uniformly among row ``b``'s
    ``eligible`` bits (``counts`` an int or a ``[B]`` tensor, at most the eligible count)."""
    rows, size = eligible.shape
    counts = torch.as_tensor(counts, device=eligible.device).expand(rows).long()
    available = eligible.sum(1)
    if bool((counts > available).any()) or bool((counts < 0).any()):
        raise ValueError("cannot choose more bits than a row has eligible (or a negative count)")
    keys = torch.rand(rows, size, generator=generator, device=eligible.device)
    keys = torch.where(eligible, keys, torch.full_like(keys, -1.0))  # ineligible bits sort last
    top = int(counts.max()) if rows else 0
    if top == 0:
        return torch.zeros_like(eligible, dtype=torch.bool)
    order = keys.topk(top, dim=1).indices  # [B, top], the chosen bits first
    keep = torch.arange(top, device=eligible.device).unsqueeze(0) < counts.unsqueeze(1)
    out = torch.zeros_like(eligible, dtype=torch.bool)
    out.scatter_(1, order, keep)
    return out


class SDRBatch:
    """``B`` SDRs over the same ``dimensions``, held as ``dense`` ``bool [B, *dimensions]``."""

    def __init__(self, dense: torch.Tensor, dimensions: Dims | None = None) -> None:
        dense = torch.as_tensor(dense)
        if dense.dim() < 2:
            raise ValueError(f"dense must be [B, *dimensions], got shape {tuple(dense.shape)}")
        dims = tuple(dense.shape[1:]) if dimensions is None else _dims(dimensions)
        if math.prod(dims) != math.prod(dense.shape[1:]):
            raise ValueError(f"dimensions {dims} do not match the batch's {tuple(dense.shape[1:])}")
        self.dense = (dense != 0).reshape(dense.shape[0], *dims)

    # -- construction -----------------------------------------------------------------------------
    @classmethod
    def random(cls, batch: int, dimensions: Dims, *, active: int | None = None,
               sparsity: float | None = None, generator: torch.Generator | None = None,
               device=None) -> SDRBatch:
        """``batch`` uniformly random SDRs with exactly ``active`` (or ``round(size * sparsity)``)
        active bits each."""
        dims = _dims(dimensions)
        size = math.prod(dims)
        if (active is None) == (sparsity is None):
            raise ValueError("give exactly one of active and sparsity")
        k = int(round(size * float(sparsity))) if active is None else int(active)
        if not 0 <= k <= size:
            raise ValueError(f"active bits must be in [0, {size}], got {k}")
        device = generator.device if generator is not None and device is None else device
        eligible = torch.ones(int(batch), size, dtype=torch.bool, device=device)
        return cls(choose_rows(eligible, k, generator), dims)

    @classmethod
    def from_sdrs(cls, sdrs: Sequence[SDR], device=None) -> SDRBatch:
        """Stack a non-empty sequence of :class:`~neuro.sdr.sdr.SDR` of equal dimensions into one batch (on
        ``device``); raises ``ValueError`` on an empty sequence or mixed dimensions.
        """
        if not sdrs:
            raise ValueError("need at least one SDR")
        dims = sdrs[0].dimensions
        if any(s.dimensions != dims for s in sdrs):
            raise ValueError("all SDRs of a batch need the same dimensions")
        return cls(torch.stack([s.to_torch(device) for s in sdrs]), dims)

    def to_sdrs(self) -> list[SDR]:
        """The batch as a list of ``B`` :class:`~neuro.sdr.sdr.SDR` (numpy copies, in batch order)."""
        return [self[i] for i in range(len(self))]

    def __getitem__(self, index: int) -> SDR:
        return SDR(self.dimensions, dense=self.dense[index].cpu().numpy())

    def __len__(self) -> int:
        return int(self.dense.shape[0])

    # -- shape and statistics ---------------------------------------------------------------------
    @property
    def dimensions(self) -> tuple[int, ...]:
        """Shape of one SDR (the dense tensor's shape without the batch axis)."""
        return tuple(self.dense.shape[1:])

    @property
    def size(self) -> int:
        """Number of bits of one SDR, the product of ``dimensions``."""
        return int(math.prod(self.dimensions))

    @property
    def flat(self) -> torch.Tensor:
        """``bool [B, size]``."""
        return self.dense.reshape(len(self), -1)

    def sum(self) -> torch.Tensor:
        """Active bits per SDR, ``int64 [B]``."""
        return self.flat.sum(1)

    def sparsity(self) -> torch.Tensor:
        """Fraction of active bits per SDR, ``float64 [B]``."""
        return self.sum().double() / self.size

    def sparse(self) -> torch.Tensor:
        """``[B, k]`` sorted flat indices of the active bits when every row has ``k`` of them."""
        counts = self.sum()
        if len(self) and bool((counts != counts[0]).any()):
            raise ValueError("rows have different numbers of active bits; use .flat.nonzero()")
        k = int(counts[0]) if len(self) else 0
        return self.flat.nonzero()[:, 1].reshape(len(self), k)  # row-major: sorted per row

    # -- comparisons ------------------------------------------------------------------------------
    def _check(self, other: SDRBatch) -> None:
        if not isinstance(other, SDRBatch):
            raise TypeError(f"expected an SDRBatch, got {type(other).__name__}")
        if other.size != self.size:
            raise ValueError(f"SDR sizes differ: {self.size} and {other.size}")

    def overlap(self, other: SDRBatch) -> torch.Tensor:
        """Row-wise overlaps ``int64 [B]`` (a batch of one broadcasts)."""
        self._check(other)
        return (self.flat & other.flat).sum(1)

    def overlap_matrix(self, other: SDRBatch) -> torch.Tensor:
        """``int64 [B, B']``: overlap of every row of ``self`` with every row of ``other``
        (a float32 matrix product, exact below 2^24 bits)."""
        self._check(other)
        dtype = torch.float32 if self.size < 2 ** 24 else torch.float64
        return (self.flat.to(dtype) @ other.flat.to(dtype).T).round().long()

    def union(self, other: SDRBatch) -> SDRBatch:
        """Bitwise OR with another batch of the same size and length: a new :class:`SDRBatch` with this
        batch's ``dimensions``.
        """
        self._check(other)
        return SDRBatch(self.flat | other.flat, self.dimensions)

    def intersection(self, other: SDRBatch) -> SDRBatch:
        """Bitwise AND with another batch of the same size and length: a new :class:`SDRBatch` with this
        batch's ``dimensions``.
        """
        self._check(other)
        return SDRBatch(self.flat & other.flat, self.dimensions)

    __or__ = union
    __and__ = intersection

    # -- random changes ---------------------------------------------------------------------------
    def subsample(self, count: Counts, generator: torch.Generator | None = None) -> SDRBatch:
        """``count`` random active bits of each row (a dendritic segment's synapses)."""
        return SDRBatch(choose_rows(self.flat, count, generator), self.dimensions)

    def move_bits(self, count: Counts, generator: torch.Generator | None = None) -> SDRBatch:
        """Per row, switch ``count`` random active bits off and ``count`` random bits that were
        inactive on (htm.core's ``addNoise`` with an absolute count)."""
        flat = self.flat
        off = choose_rows(flat, count, generator)
        on = choose_rows(~flat, count, generator)
        return SDRBatch((flat & ~off) | on, self.dimensions)

    def add_noise(self, fraction: float, generator: torch.Generator | None = None) -> SDRBatch:
        """Move ``round(fraction * sum)`` active bits of every row (sparsity kept)."""
        if not 0.0 <= float(fraction) <= 1.0:
            raise ValueError(f"fraction must be in [0, 1], got {fraction}")
        counts = torch.round(self.sum().double() * float(fraction)).long()
        return self.move_bits(counts, generator)

    def __repr__(self) -> str:
        return f"SDRBatch(batch={len(self)}, dimensions={self.dimensions}, device={self.dense.device})"
