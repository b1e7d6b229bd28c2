"""PNG plots of a run: training curves, a spike raster of one sample, event frames (Agg backend)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Optional, Sequence

import numpy as np
import torch

from neuro._io import pyplot, save_figure

_STANDARD = frozenset({"epoch", "train_loss", "train_acc", "test_loss", "test_acc", "spike_rate",
                       "lr", "epoch_time_s"})


def plot_curves(history: Sequence[Mapping[str, float]], path: os.PathLike) -> Path:
    """Loss and accuracy (train/test) and hidden spike rate per epoch, plus one panel per extra
    number a model logs (e.g. the delay network's ``sigma``)."""
    plt = pyplot()
    epochs = [h["epoch"] for h in history]
    extra = [k for k, v in history[0].items() if k not in _STANDARD and isinstance(v, (int, float))]
    fig, axes = plt.subplots(1, 3 + len(extra), figsize=(4 * (3 + len(extra)), 3.4))
    for key, style in (("train_loss", "-o"), ("test_loss", "-s")):
        axes[0].plot(epochs, [h[key] for h in history], style, label=key.split("_")[0])
    axes[0].set(title="loss", xlabel="epoch")
    for key, style in (("train_acc", "-o"), ("test_acc", "-s")):
        axes[1].plot(epochs, [100 * h[key] for h in history], style, label=key.split("_")[0])
    axes[1].set(title="accuracy (%)", xlabel="epoch")
    axes[2].plot(epochs, [100 * (h["spike_rate"] or 0) for h in history], "-o", color="C2")
    axes[2].set(title="spike rate (% of neuron-steps)", xlabel="epoch")
    for ax, key in zip(axes[3:], extra):
        ax.plot(epochs, [h[key] for h in history], "-o", color="C3")
        ax.set(title=key, xlabel="epoch")
    for ax in axes[:2]:
        ax.legend()
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_raster(inputs: torch.Tensor, layers: Mapping[str, torch.Tensor], readout: torch.Tensor,
                path: os.PathLike, dt: float, title: str = "") -> Path:
    """Raster of one sample: input events, the spikes of every spiking layer, readout traces.

    ``inputs`` is ``[T, ...]`` (counts), ``layers`` maps names to ``[T, ...]`` spikes and
    ``readout`` is ``[T, C]`` (membranes or spikes); neurons are flattened to one axis.
    """
    plt = pyplot()
    panels = [("input", inputs)] + list(layers.items())
    fig, axes = plt.subplots(len(panels) + 1, 1, figsize=(8, 1.9 * (len(panels) + 1)), sharex=True)
    def times(steps: int) -> np.ndarray:  # layers may run longer than the input (delays)
        return (np.arange(steps) + 0.5) * dt * 1e3

    for ax, (name, seq) in zip(axes, panels):
        flat = seq.detach().reshape(seq.shape[0], -1).cpu().numpy()
        t_idx, n_idx = np.nonzero(flat > 0)
        ax.scatter(times(len(flat))[t_idx], n_idx, s=1.5, marker="|", color="k", linewidths=0.6)
        ax.set_ylabel(f"{name}\n({flat.shape[1]})", fontsize=8)
        ax.set_ylim(-0.5, flat.shape[1] - 0.5)
        rate = 100 * float((flat > 0).mean())
        ax.text(1.0, 1.02, f"{rate:.1f}% active", transform=ax.transAxes, ha="right", fontsize=7)
    out = readout.detach().cpu().numpy()
    for c in range(out.shape[1]):
        axes[-1].plot(times(len(out)), out[:, c], lw=1, label=str(c))
    axes[-1].set_ylabel("readout", fontsize=8)
    axes[-1].set_xlabel("time (ms)")
    axes[-1].legend(ncol=min(10, out.shape[1]), fontsize=6, loc="upper left")
    if title:
        axes[0].set_title(title)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_frames(frames: torch.Tensor | np.ndarray, path: os.PathLike, n: int = 8,
                title: str = "", events: Optional[np.ndarray] = None) -> Path:
    """``n`` frames of ``[T, 2, H, W]`` (ON red, OFF blue), plus an x-t raster of ``events``."""
    plt = pyplot()
    frames = np.asarray(frames.detach().cpu() if isinstance(frames, torch.Tensor) else frames)
    picks = np.linspace(0, len(frames) - 1, min(n, len(frames))).astype(int)
    rows = 2 if events is not None else 1
    fig = plt.figure(figsize=(1.6 * len(picks), 1.9 * rows + (0.6 if events is not None else 0)))
    grid = fig.add_gridspec(rows, len(picks))
    vmax = max(float(frames.max()), 1.0)
    for k, t in enumerate(picks):
        ax = fig.add_subplot(grid[0, k])
        rgb = np.zeros(frames.shape[2:] + (3,))
        rgb[..., 0] = frames[t, 1] / vmax  # ON
        rgb[..., 2] = frames[t, 0] / vmax  # OFF
        ax.imshow(np.clip(rgb * 3, 0, 1), interpolation="nearest")
        ax.set_title(f"frame {t}", fontsize=7)
        ax.axis("off")
    if events is not None:
        ax = fig.add_subplot(grid[1, :])
        on = events["p"] == 1
        ax.scatter(events["t"][on] / 1e3, events["x"][on], s=0.5, color="C3", label="ON")
        ax.scatter(events["t"][~on] / 1e3, events["x"][~on], s=0.5, color="C0", label="OFF")
        ax.set(xlabel="time (ms)", ylabel="x (pixel)")
        ax.legend(loc="upper right", markerscale=8, fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)
