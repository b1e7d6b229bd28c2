"""Plots of continual-learning runs: accuracy matrices and ACC/BWT per method (Agg, atomic PNG)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from neuro._io import pyplot, save_figure
from neuro.learning.metrics import acc_bwt


def _draw_matrix(ax, matrix: np.ndarray, title: str):  # -> the AxesImage, for a colorbar
    shown = np.ma.masked_invalid(100 * matrix)
    image = ax.imshow(shown, vmin=0, vmax=100, cmap="viridis")
    n = matrix.shape[0]
    for i in range(n):
        for j in range(n):
            if not math.isnan(matrix[i, j]):
                value = 100 * matrix[i, j]
                ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=6,
                        color="white" if value < 60 else "black")
    ax.set_xticks(range(n), [str(j + 1) for j in range(n)], fontsize=7)
    ax.set_yticks(range(n), [str(i + 1) for i in range(n)], fontsize=7)
    ax.set(xlabel="tested on task", ylabel="after training task", title=title)
    return image


def plot_accuracy_matrix(matrix: torch.Tensor, path: os.PathLike, title: str = "") -> Path:
    """Heat map of one accuracy matrix ``A[trained, tested]`` (percent), with ACC and BWT."""
    plt = pyplot()
    m = matrix.detach().double().cpu().numpy()
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    image = _draw_matrix(ax, m, title)
    if not np.isnan(m[-1]).any():
        acc, bwt = acc_bwt(torch.from_numpy(m))
        ax.set_title(f"{title}\nACC {100 * acc:.2f}%  BWT {100 * bwt:+.2f}%", fontsize=9)
    fig.colorbar(image, ax=ax, label="test accuracy (%)")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_method_comparison(matrices: Mapping[str, torch.Tensor],
                           scores: Mapping[str, Sequence[tuple[float, float]]],
                           path: os.PathLike, title: str = "",
                           reference_bwt: float | None = None) -> Path:
    """One accuracy matrix per method (first seed) and ACC/BWT bars (mean +- std over seeds)."""
    plt = pyplot()
    methods = list(matrices)
    fig = plt.figure(figsize=(3.3 * len(methods), 6.4))
    n = len(methods)
    grid = fig.add_gridspec(2, 2 * n, height_ratios=[1.25, 1])  # matrices 2 cells, bars n cells
    for k, name in enumerate(methods):
        ax = fig.add_subplot(grid[0, 2 * k: 2 * k + 2])
        _draw_matrix(ax, matrices[name].double().cpu().numpy(), name)
    for col, (label, index) in enumerate((("ACC (%)", 0), ("BWT (%)", 1))):
        ax = fig.add_subplot(grid[1, col * n: (col + 1) * n])
        values = [[100 * s[index] for s in scores[m]] for m in methods]
        means = [np.mean(v) for v in values]
        stds = [np.std(v, ddof=1) if len(v) > 1 else 0.0 for v in values]  # sample std, as tables
        ax.bar(methods, means, yerr=stds, capsize=4, color=[f"C{i}" for i in range(len(methods))])
        for x, mean in enumerate(means):
            ax.text(x, mean, f"{mean:.1f}", ha="center", va="bottom" if mean >= 0 else "top",
                    fontsize=8)
        if index == 1 and reference_bwt is not None:
            ax.axhline(100 * reference_bwt, color="k", ls="--", lw=0.8,
                       label=f"{100 * reference_bwt:+.0f}% target")
            ax.legend(fontsize=7)
        ax.set_ylabel(label)
        ax.axhline(0, color="k", lw=0.5)
        ax.grid(axis="y", alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
