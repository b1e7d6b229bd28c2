r"""Readouts of Sparsey codes: code overlaps, the likelihood over stored items, a Hebbian class readout.

**Likelihood readout** (Rinkus & Leveille 2017). Stored items are codes in superposition. When one
code ``c`` is active, a stored code ``c_j`` is partially active in proportion to its intersection,
so ``L(j | c) = |c \cap c_j| / sum_i |c \cap c_i|`` is a distribution over every stored item (uniform
when ``c`` meets none) — a similarity model obtained for free from the codes.

**Hebbian class readout.** One node per class; single-pass Hebbian counts from the active cells of a
code to its label's node, ``n[i, y] += 1`` (``N_y``: examples of class ``y`` seen). A code's score for
class ``y`` sums a function of the weights of its active cells:

* ``scoring="log"`` (default): ``sum_{i in code} log((n[i, y] + a) / (N_y + 2 a))`` with ``a = 1`` —
  the log-probability that cell ``i`` is active in a code of class ``y`` (naive Bayes over the cells;
  a cell never seen with ``y`` counts against it);
* ``scoring="mean"``: ``sum_{i in code} n[i, y] / N_y``, the mean number of cells shared with the codes
  of class ``y``.

Cost per query: ``|code| x classes`` additions, independent of the number of stored examples (the
fixed-time property).
"""

from __future__ import annotations

import torch


def code_overlap(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cells two codes share: CMs where both chose the same winner (``-1`` never matches), summed over
    the last dimension (broadcasting)."""
    return ((a == b) & (a >= 0) & (b >= 0)).sum(-1)


def code_cells(codes: torch.Tensor, K: int) -> torch.Tensor:
    """Indices ``cm * K + winner`` of the active cells of flat codes ``[..., n_cm]`` (``-1`` where
    the CM's mac is off)."""
    cm = torch.arange(codes.shape[-1], device=codes.device)
    return torch.where(codes >= 0, cm * K + codes.long(), torch.full_like(codes, -1, dtype=torch.long))


class CodeMemory:
    """Stored codes ``[n, C]`` (int, one row per item) and optional labels, for the likelihood readout.

    Queries cost ``O(n C)``; the CSA that produced the codes does not depend on ``n``.
    """

    def __init__(self, codes: torch.Tensor, labels: torch.Tensor | None = None) -> None:
        if codes.dim() != 2:
            raise ValueError(f"codes must be [items, CMs], got {tuple(codes.shape)}")
        if labels is not None and labels.shape != codes.shape[:1]:
            raise ValueError(f"labels must be [{codes.shape[0]}], got {tuple(labels.shape)}")
        self.codes = codes
        self.labels = labels

    def overlaps(self, code: torch.Tensor) -> torch.Tensor:
        """``[..., n]`` cells shared by each query ``[..., C]`` with each stored code."""
        return code_overlap(code.unsqueeze(-2), self.codes)

    def likelihood(self, code: torch.Tensor) -> torch.Tensor:
        """The 2017 likelihood ``[..., n]`` over stored items (rows sum to 1)."""
        o = self.overlaps(code).double()
        total = o.sum(-1, keepdim=True)
        uniform = torch.full_like(o, 1.0 / o.shape[-1])
        return torch.where(total > 0, o / total.clamp(min=1), uniform)

    def nearest(self, code: torch.Tensor, chunk: int = 256) -> torch.Tensor:
        """Index of the stored code sharing most cells with each query ``[..., C]`` (the first on
        ties); queries are compared ``chunk`` at a time to bound memory."""
        flat = code.reshape(-1, code.shape[-1])
        best = [self.overlaps(flat[i:i + chunk]).argmax(-1) for i in range(0, len(flat), chunk)]
        out = torch.cat(best) if best else torch.zeros(0, dtype=torch.long)
        return out.reshape(code.shape[:-1])

    def predict(self, code: torch.Tensor) -> torch.Tensor:
        """Label of the nearest stored code (a nearest-neighbour classifier in code space)."""
        if self.labels is None:
            raise ValueError("this CodeMemory has no labels")
        return self.labels[self.nearest(code)]


class HebbianReadout:
    """Class nodes learned single-pass from codes (see the module docstring).

    Args:
        n_cm: CMs of the codes read out (e.g. a level's ``M_l * Q_l``).
        K: cells per CM.
        n_classes: number of class nodes.
        scoring: ``"log"`` or ``"mean"`` (module docstring).
    """

    SCORINGS = ("log", "mean")

    def __init__(self, n_cm: int, K: int, n_classes: int, scoring: str = "log") -> None:
        if min(n_cm, K, n_classes) < 1:
            raise ValueError(f"n_cm, K and n_classes must be >= 1, got {n_cm}, {K}, {n_classes}")
        if scoring not in self.SCORINGS:
            raise ValueError(f"scoring must be one of {self.SCORINGS}, got {scoring!r}")
        self.scoring = scoring
        self.K = K
        self.counts = torch.zeros(n_cm * K + 1, n_classes, dtype=torch.float64)   # last row: off CMs
        self.seen = torch.zeros(n_classes, dtype=torch.float64)

    def _rows(self, codes: torch.Tensor) -> torch.Tensor:
        if codes.shape[-1] * self.K + 1 != self.counts.shape[0]:
            raise ValueError(f"codes have {codes.shape[-1]} CMs, this readout was made for "
                             f"{(self.counts.shape[0] - 1) // self.K}")
        cells = code_cells(codes.cpu(), self.K)
        return torch.where(cells >= 0, cells, torch.full_like(cells, self.counts.shape[0] - 1))

    def learn(self, codes: torch.Tensor, labels: torch.Tensor) -> HebbianReadout:
        """Add ``codes [N, C]`` with ``labels [N]`` (one pass; may be called repeatedly)."""
        labels = labels.cpu().long()
        if labels.shape != codes.shape[:1]:
            raise ValueError(f"labels must be [{codes.shape[0]}], got {tuple(labels.shape)}")
        if labels.numel() and (labels.min() < 0 or labels.max() >= self.seen.numel()):
            raise ValueError(f"labels must lie in [0, {self.seen.numel() - 1}]")
        rows = self._rows(codes)
        cols = labels[:, None].expand_as(rows)
        self.counts.index_put_((rows.reshape(-1), cols.reshape(-1)),
                               torch.ones(rows.numel(), dtype=torch.float64), accumulate=True)
        self.counts[-1] = 0.0
        self.seen += torch.bincount(labels, minlength=self.seen.numel()).double()
        return self

    def weights(self) -> torch.Tensor:
        """``[cells + 1, classes]`` per-cell class weights of the scoring rule (last row: off CMs, 0)."""
        if self.scoring == "mean":
            w = self.counts / self.seen.clamp(min=1)
        else:
            w = torch.log((self.counts + 1.0) / (self.seen + 2.0))
        w[-1] = 0.0
        return w

    def scores(self, codes: torch.Tensor) -> torch.Tensor:
        """``[N, classes]`` class scores of ``codes [N, C]`` (module docstring)."""
        return self.weights()[self._rows(codes)].sum(-2)

    def predict(self, codes: torch.Tensor) -> torch.Tensor:
        """Predicted class ``[N]`` (int64) of ``codes [N, C]``: the argmax of :meth:`scores`."""
        return self.scores(codes).argmax(-1)
