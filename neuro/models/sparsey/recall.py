r"""Recall: replay a stored code top-down to the input level.

Binary Hebbian learning is symmetric: ``w(j, i) = 1`` records that unit ``j`` (below) and cell ``i``
(above) were active together, which is also the top-down association from ``i`` back to ``j``. So the
bottom-up weights, read transposed, replay a code downwards:

* a unit ``j`` below (a cell of a mac one level down, or an input unit) gets the fraction
  ``f_j = s_j / n_j`` of the active cells above whose receptive field contains it (``n_j`` of them)
  that are connected to it, ``s_j = sum_{i active} w(j, i)``; ``f_j = 1`` means every one of them was
  learned while ``j`` was active;
* each CM below takes its cell of largest ``f`` (first on ties) if that reaches ``threshold``
  (default 1: full support), else stays off; a mac with no active cell above it stays off;
* at the input, the result is the map of ``f``: a stored item is recalled as the units at
  ``f >= threshold``. Crosstalk (another item reusing some of the same cells with other inputs)
  adds units only where every supporting cell was shared, which grows as the weights saturate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from neuro.kernels import sparsey_math as sm

if TYPE_CHECKING:
    from .network import SparseyNetwork


def _cols(codes: np.ndarray, k: int) -> np.ndarray:
    return np.arange(codes.shape[1]) * k + np.maximum(codes, 0)


def replay(net: SparseyNetwork, codes: torch.Tensor, level: int = -1, threshold: float = 1.0
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Replay the codes of ``level`` (flat codes ``[..., n_cm]``; other levels ignored) down to the
    input.

    Returns ``(fraction [..., *input_shape] float64, codes [..., n_cm])``: the fraction of the covering
    active level-1 cells connected to each input unit, and the codes reinstated at every level at and
    below ``level`` (levels above stay -1; a CM below ``threshold`` is -1).
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must lie in (0, 1], got {threshold!r}")
    lay = net.layout
    top = net._level(level)
    lead = codes.shape[:-1]
    cur = codes.reshape(-1, codes.shape[-1]).cpu().numpy().astype(np.int64).copy()
    keep = np.zeros(cur.shape[1], bool)
    keep[slice(*net.cm_range(top))] = True
    cur[:, ~keep] = -1
    w = net.weights.w.cpu().numpy()
    N = cur.shape[0]
    for li in range(top, 0, -1):
        frac = _fractions(lay, w, net.macs(li), cur, N)
        for m in net.macs(li - 1):
            q, k = int(lay.mi[m, sm.MI_Q]), int(lay.mi[m, sm.MI_K])
            cell0, cm0 = int(lay.mi[m, sm.MI_CELL]), int(lay.mi[m, sm.MI_CM])
            f = frac[:, cell0:cell0 + q * k].reshape(N, q, k)
            win = f.argmax(-1)
            win[f.max(-1) < threshold] = -1
            cur[:, cm0:cm0 + q] = win
    frac = _fractions(lay, w, net.macs(0), cur, N)[:, :lay.n_in]
    return (torch.from_numpy(frac).reshape(*lead, *net.input_shape),
            torch.from_numpy(cur.astype(np.int32)).reshape(*lead, cur.shape[1]))


def _fractions(lay, w, macs, cur, N) -> np.ndarray:
    """``[N, n_units]``: for every unit, the fraction of the active cells of ``macs`` whose receptive
    field contains it that are connected to it (0 where none covers it)."""
    score = np.zeros((N, lay.n_units), np.int64)
    norm = np.zeros((N, lay.n_units), np.int64)
    for m in macs:
        q, k, cm0 = int(lay.mi[m, sm.MI_Q]), int(lay.mi[m, sm.MI_K]), int(lay.mi[m, sm.MI_CM])
        code = cur[:, cm0:cm0 + q]
        active = code >= 0                                   # [N, Q]
        rows = np.nonzero(active.any(1))[0]
        if rows.size == 0:
            continue
        block = lay.weight_block(w, m, 0)                    # [R, Q K]
        src = lay.sources(m, 0)
        hits = block[:, _cols(code[rows], k)] * active[rows][None]        # [R, n, Q]
        score[rows[:, None], src[None, :]] += hits.sum(-1, dtype=np.int64).T
        norm[rows[:, None], src[None, :]] += active[rows].sum(1, keepdims=True)
    return np.where(norm > 0, score / np.maximum(norm, 1), 0.0)
