"""Levels of macs over receptive fields, packed into the kernels' arrays (band connectivity).

Unit space: the input units first (``C x H x W`` flattened, ``c * H * W + r * W + col``), then the
cells of every mac, level by level, row-major over each level's grid (cell ``q K + k`` of a mac is
cell ``k`` of CM ``q``). A mac's receptive field is a window of the grid below — pixels (all channels)
for level 1, macs (all their cells) above — centred on the mac's position: for ``g`` macs over ``n``
rows and a window of ``s`` rows, mac ``i`` starts at ``floor((i + 1/2) n / g - s / 2 + 1/2)``, clipped
to ``[0, n - s]``, so windows are evenly spaced, equally sized and overlap when ``g s > n``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from neuro.kernels import sparsey_math as sm
from neuro.ops.sparsey import SparseyTopology

from .config import Level

NEVER = 2.0  # freeze fraction that is never reached


def window_starts(n: int, g: int, size: int) -> np.ndarray:
    """First row (or column) of each of ``g`` evenly spaced windows of ``size`` over ``n``."""
    if size > n:
        raise ValueError(f"a receptive field of {size} does not fit in {n} rows/columns below")
    centre = (np.arange(g) + 0.5) * n / g
    return np.clip(np.floor(centre - size / 2 + 0.5).astype(np.int64), 0, n - size)


@dataclass
class Layout:
    """The topology of a network as numpy arrays (``SparseyTopology`` holds the same as tensors).

    ``windows[l]`` ``[M_l, 4]``: ``(row0, col0, rows, cols)`` of each mac's bottom-up window over the
    grid below; ``weight_size``: length of the flat weight array.
    """

    input_shape: tuple[int, int, int]
    levels: tuple[Level, ...]
    mi: np.ndarray
    mf: np.ndarray
    src: np.ndarray
    level_ranges: tuple[tuple[int, int], ...]
    windows: tuple[np.ndarray, ...]
    n_in: int
    n_units: int
    n_cm: int
    weight_size: int

    def tensors(self, device: torch.device | str = "cpu") -> SparseyTopology:
        """The layout as a :class:`~neuro.ops.sparsey.SparseyTopology` of torch tensors on ``device``."""
        return SparseyTopology(torch.from_numpy(self.mi).to(device), torch.from_numpy(self.mf).to(device),
                               torch.from_numpy(self.src).to(device), self.level_ranges, self.n_in,
                               self.n_units, self.n_cm)

    def sources(self, m: int, bundle: int = 0) -> np.ndarray:
        """Global unit indices of mac ``m``'s sources (bundle 0 U, 1 H, 2 D)."""
        return self.src[self.mi[m, sm.MI_U0 + 2 * bundle]:self.mi[m, sm.MI_U1 + 2 * bundle]]

    def weight_block(self, w: np.ndarray, m: int, bundle: int = 0) -> np.ndarray:
        """View ``[R, Q K]`` of mac ``m``'s weights of one bundle in the flat array ``w``."""
        n = int(self.mi[m, sm.MI_Q] * self.mi[m, sm.MI_K])
        rows = len(self.sources(m, bundle))
        off = int(self.mi[m, sm.MI_WU + bundle])
        return w[off:off + rows * n].reshape(rows, n)


def normalise_shape(shape: Sequence[int]) -> tuple[int, int, int]:
    """``(n,)``, ``(H, W)`` or ``(C, H, W)`` as ``(C, H, W)``."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 1:
        shape = (1, 1, shape[0])
    elif len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"input_shape must be (n,), (H, W) or (C, H, W) of positive sizes, got {shape}")
    return shape


def build_layout(input_shape: Sequence[int], levels: Sequence[Level]) -> Layout:
    """Pack ``levels`` of macs over an input of ``input_shape`` (see the module docstring)."""
    if not levels:
        raise ValueError("a Sparsey network needs at least one level")
    for i, lv in enumerate(levels):
        if not isinstance(lv, Level):
            raise TypeError(f"levels[{i}] must be a Level, got {lv!r}")
    C, H, W = normalise_shape(input_shape)
    n_in = C * H * W
    # cell and CM offsets of every mac
    cell_off, cm_off, ranges = [], [], []
    unit, cm, m = n_in, 0, 0
    for lv in levels:
        ranges.append((m, m + lv.n_macs))
        for _ in range(lv.n_macs):
            cell_off.append(unit)
            cm_off.append(cm)
            unit += lv.cells
            cm += lv.Q
        m += lv.n_macs
    M = m
    below_shape = [(H, W)] + [lv.grid for lv in levels[:-1]]
    windows = []
    u_src: list[np.ndarray] = []
    for li, lv in enumerate(levels):
        rows, cols = below_shape[li]
        rh, rw = lv.rf if lv.rf is not None else (rows, cols)
        r0 = window_starts(rows, lv.grid[0], rh)
        c0 = window_starts(cols, lv.grid[1], rw)
        win = np.array([(r, c, rh, rw) for r in r0 for c in c0], np.int64)
        windows.append(win)
        for r, c, _, _ in win:
            rr, cc = np.meshgrid(np.arange(r, r + rh), np.arange(c, c + rw), indexing="ij")
            flat = (rr * cols + cc).ravel()
            if li == 0:
                units = (np.arange(C)[:, None] * H * W + flat[None, :]).ravel()
            else:
                lo = ranges[li - 1][0]
                cells = levels[li - 1].cells
                first = np.array([cell_off[lo + f] for f in flat])
                units = (first[:, None] + np.arange(cells)[None, :]).ravel()
            u_src.append(np.sort(units))
    h_src, d_src = [], []
    for li, lv in enumerate(levels):
        g_r, g_c = lv.grid
        m0 = ranges[li][0]
        for i in range(g_r):
            for j in range(g_c):
                if lv.horizontal is None:
                    h_src.append(np.zeros(0, np.int64))
                else:
                    rad = lv.horizontal
                    macs = [m0 + a * g_c + b for a in range(max(0, i - rad), min(g_r, i + rad + 1))
                            for b in range(max(0, j - rad), min(g_c, j + rad + 1))]
                    h_src.append(np.sort(np.concatenate([cell_off[x] + np.arange(lv.cells) for x in macs])))
                if not lv.top_down or li + 1 == len(levels):
                    d_src.append(np.zeros(0, np.int64))
                    continue
                up = levels[li + 1]
                ua = ranges[li + 1][0]
                above = [ua + x for x, (r, c, rh, rw) in enumerate(windows[li + 1])
                         if r <= i < r + rh and c <= j < c + rw]
                d_src.append(np.sort(np.concatenate([cell_off[x] + np.arange(up.cells) for x in above]))
                             if above else np.zeros(0, np.int64))
    mi = np.zeros((M, sm.MI_COLS), np.int64)
    mf = np.zeros((M, sm.MF_COLS), np.float64)
    src_parts, pos, w_off = [], 0, 0
    for li, lv in enumerate(levels):
        for m in range(*ranges[li]):
            p = lv.csa
            mi[m, [sm.MI_Q, sm.MI_K, sm.MI_CELL, sm.MI_CM]] = lv.Q, lv.K, cell_off[m], cm_off[m]
            for j, part in enumerate((u_src[m], h_src[m], d_src[m])):
                mi[m, sm.MI_U0 + 2 * j] = pos
                mi[m, sm.MI_U1 + 2 * j] = pos + len(part)
                mi[m, sm.MI_WU + j] = w_off
                pos += len(part)
                w_off += len(part) * lv.cells
                src_parts.append(part.astype(np.int64))
            mi[m, sm.MI_MIN] = lv.min_active
            mi[m, sm.MI_MAX] = lv.max_active if lv.max_active is not None else len(u_src[m])
            mi[m, [sm.MI_PERSIST, sm.MI_LU, sm.MI_LH, sm.MI_LD, sm.MI_GAMMA, sm.MI_LEVEL]] = (
                lv.persistence, p.lambda_u, p.lambda_h, p.lambda_d, p.gamma, li)
            mf[m, [sm.MF_GMINUS, sm.MF_CHI, sm.MF_STEEP, sm.MF_PHI]] = (p.g_minus, p.chi, p.steepness,
                                                                          p.inflection)
            mf[m, [sm.MF_THR0, sm.MF_THR1, sm.MF_THR2]] = p.backoff
            mf[m, sm.MF_FREEZE] = NEVER if lv.freeze is None else lv.freeze
    src = np.concatenate(src_parts) if src_parts else np.zeros(0, np.int64)
    return Layout((C, H, W), tuple(levels), mi, mf, src, tuple(ranges), tuple(windows), n_in, unit, cm,
                  w_off)
