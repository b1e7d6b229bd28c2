"""PNG plots of a run: training curves, a spike raster of one sample, event frames (Agg backend)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from neuro._io import pyplot, save_figure

_STANDARD = frozenset({"epoch", "train_loss", "train_acc", "test_loss", "test_acc", "spike_rate",
                       "lr", "epoch_time_s"})


def plot_curves(history: Sequence[Mapping[str, float]], path: os.PathLike) -> Path:
    """Loss and accuracy (train/test) and hidden spike rate per epoch, plus one panel per extra
    number a model logs (e.g. the delay network's ``sigma``). Epochs are whole-number ticks."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    epochs = [h["epoch"] for h in history]
    extra = [k for k, v in history[0].items() if k not in _STANDARD and isinstance(v, (int, float))]
    fig, axes = plt.subplots(1, 3 + len(extra), figsize=(4 * (3 + len(extra)), 3.4))
    for key, style in (("train_loss", "-o"), ("test_loss", "-s")):
        axes[0].plot(epochs, [h[key] for h in history], style, label=key.split("_")[0])
    axes[0].set(title="loss", ylabel="cross-entropy (nats)")
    for key, style in (("train_acc", "-o"), ("test_acc", "-s")):
        axes[1].plot(epochs, [100 * h[key] for h in history], style, label=key.split("_")[0])
    axes[1].set(title="accuracy", ylabel="accuracy (%)")
    axes[2].plot(epochs, [100 * (h["spike_rate"] or 0) for h in history], "-o", color="C2")
    axes[2].set(title="spike rate (training)", ylabel="spikes per neuron and step (%)")
    for ax, key in zip(axes[3:], extra):
        ax.plot(epochs, [h[key] for h in history], "-o", color="C3")
        ax.set(title=key, ylabel=key)
    for ax in axes[:2]:
        ax.legend()
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


_MAX_ROWS = 80  # neurons drawn per layer panel


def _active_rows(flat: np.ndarray, limit: int = _MAX_ROWS) -> np.ndarray:
    """Indices of the neurons to draw: those that spiked, or, when more did, ``limit`` of them
    spread evenly over the range of spike counts (from the busiest to the quietest, so the picture
    shows the variety rather than only saturated neurons), ordered by first spike then count."""
    counts = (flat > 0).sum(0)
    active = np.flatnonzero(counts)
    if len(active) > limit:
        by_count = active[np.argsort(-counts[active], kind="stable")]
        active = by_count[np.linspace(0, len(by_count) - 1, limit).round().astype(int)]
    first = np.argmax(flat[:, active] > 0, axis=0)
    return active[np.lexsort((-counts[active], first))]


def _input_panel(ax, inputs: np.ndarray, events: np.ndarray | None, dt: float,
                 sensor: tuple[int, int, int] | None) -> str:
    """Input events at their own time resolution (when given) or the frames as blocks."""
    steps = len(inputs)
    if events is not None and len(events):
        width, height = (sensor[0], sensor[1]) if sensor else (int(events["x"].max()) + 1,
                                                                int(events["y"].max()) + 1)
        pixel = events["y"] * width + events["x"]
        on = events["p"] > 0
        ax.scatter(events["t"][on] / 1e3, pixel[on], s=1.0, marker=".", color="C3", lw=0,
                   label="ON event")
        ax.scatter(events["t"][~on] / 1e3, pixel[~on], s=1.0, marker=".", color="C0", lw=0,
                   label="OFF event")
        for k in range(steps + 1):
            ax.axvline(k * dt * 1e3, color="0.8", lw=0.5, zorder=0)
        ax.set_ylim(-0.5, width * height - 0.5)
        ax.legend(loc="upper right", fontsize=7, markerscale=6, framealpha=0.9)
        return (f"input: {len(events)} events\n(pixel y*{width}+x;\ngrey: frame edges)")
    flat = inputs.reshape(steps, -1)
    rows = _active_rows(flat, 4 * _MAX_ROWS)
    ax.imshow(flat[:, rows].T, aspect="auto", cmap="Greys", interpolation="nearest",
              extent=(0, steps * dt * 1e3, len(rows) - 0.5, -0.5), vmin=0)
    return f"input: {len(rows)} of {flat.shape[1]}\nchannels with events\n(darker: more events)"


def plot_raster(inputs: torch.Tensor, layers: Mapping[str, torch.Tensor], readout: torch.Tensor,
                path: os.PathLike, dt: float, title: str = "", events: np.ndarray | None = None,
                sensor_size: tuple[int, int, int] | None = None,
                predicted: int | None = None) -> Path:
    """Raster of one sample: input events, the spikes of every spiking layer, readout traces.

    ``inputs`` is ``[T, ...]`` (counts per frame of ``dt`` s); ``events`` (optional, a structured
    array with ``t`` in us, ``x``, ``y``, ``p``) draws the input at the events' own time resolution
    with the frame edges. ``layers`` maps readable names to ``[T, ...]`` spikes: each panel shows up
    to 100 of the neurons that spiked (the most active, ordered by first spike), one black cell per
    spike and step. ``readout`` is ``[T, C]`` (membranes or spikes), drawn per step with the
    ``predicted`` class highlighted.
    """
    plt = pyplot()
    panels = list(layers.items())
    heights = [2.2] + [1.6] * len(panels) + [2.0]
    fig, axes = plt.subplots(len(heights), 1, figsize=(10, sum(heights) + 0.6), sharex=True,
                             gridspec_kw={"height_ratios": heights})

    def ms(steps: int) -> np.ndarray:  # left edges of the steps; layers may run longer (delays)
        return np.arange(steps + 1) * dt * 1e3

    ins = inputs.detach().reshape(inputs.shape[0], -1).cpu().numpy()
    axes[0].set_ylabel(_input_panel(axes[0], ins, events, dt, sensor_size), fontsize=8)
    for ax, (name, seq) in zip(axes[1:], panels):
        flat = seq.detach().reshape(seq.shape[0], -1).cpu().numpy()
        rows = _active_rows(flat)
        n_active = int(((flat > 0).sum(0) > 0).sum())
        if len(rows):
            ax.imshow((flat[:, rows] > 0).T, aspect="auto", cmap="Greys", interpolation="nearest",
                      extent=(0, len(flat) * dt * 1e3, len(rows) - 0.5, -0.5), vmin=0, vmax=1)
        else:
            ax.text(0.5, 0.5, "no spike", transform=ax.transAxes, ha="center", va="center")
        ax.set_ylabel(name.replace(": ", ":\n", 1) + f"\n{n_active}/{flat.shape[1]} spiked",
                      fontsize=8)
        ax.set_yticks([])
        rate = 100 * float((flat > 0).mean())
        shown = (f"{len(rows)} of them shown, busiest to quietest" if n_active > len(rows) else
                 "all of them shown")
        ax.text(1.0, 1.02, f"{n_active} neurons spiked ({shown}); {rate:.1f}% of neuron-steps "
                "are spikes; black: a spike in that step", transform=ax.transAxes, ha="right",
                fontsize=7)
    out = readout.detach().cpu().numpy()
    edges = ms(len(out))
    for c in range(out.shape[1]):
        top = predicted is not None and c == predicted
        axes[-1].stairs(out[:, c], edges, lw=2.2 if top else 0.9, alpha=1.0 if top else 0.6,
                        color=f"C{c % 10}", label=f"class {c}" + (" (predicted)" if top else ""),
                        baseline=None)
    axes[-1].set_ylabel("readout\n(per class)", fontsize=8)
    axes[-1].set_xlabel("time (ms)")
    axes[-1].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False,
                    title="readout", title_fontsize=7)
    if title:
        axes[0].set_title(title)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_frames(frames: torch.Tensor | np.ndarray, path: os.PathLike, n: int = 8,
                title: str = "", events: np.ndarray | None = None) -> Path:
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
