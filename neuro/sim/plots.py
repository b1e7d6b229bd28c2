"""Raster and population-rate plots of simulation monitors (matplotlib, to file).

Figures are made with ``matplotlib.figure.Figure`` and its default Agg canvas, without pyplot, so
plotting never changes the global backend (in a notebook the returned figure displays inline).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from neuro.sim.monitors import RateMonitor, SpikeMonitor

PathLike = str | Path


def _figure(size):
    from matplotlib.figure import Figure

    return Figure(figsize=size)


def _save(fig, path: PathLike | None) -> None:
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")  # written whole, then renamed
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
        tmp.replace(path)


def raster_plot(monitors: SpikeMonitor | Sequence[SpikeMonitor], path: PathLike | None = None,
                t_range: tuple[float, float] | None = None, max_neurons: int | None = None,
                title: str | None = None):
    """Spike raster (time vs neuron index) of one or several spike monitors, stacked vertically.

    Returns the figure; with ``path`` it is also written to that file.
    """
    monitors = [monitors] if isinstance(monitors, SpikeMonitor) else list(monitors)
    fig = _figure((8, 4))
    ax = fig.add_subplot(111)
    offset = 0
    for m in monitors:
        t, i = m.times, m.indices
        n = m.source.group.n if max_neurons is None else min(max_neurons, m.source.group.n)
        keep = i < n
        if t_range is not None:
            keep &= (t >= t_range[0]) & (t < t_range[1])
        ax.scatter(t[keep], i[keep] + offset, s=1.0, marker=".", linewidths=0, label=m.source.name)
        offset += n
    ax.set_xlabel("time (s)")
    ax.set_ylabel("neuron")
    ax.set_ylim(-0.5, offset - 0.5)
    if len(monitors) > 1:
        ax.legend(loc="upper right", markerscale=10, fontsize="small")
    if title:
        ax.set_title(title)
    _save(fig, path)
    return fig


def rate_plot(monitors: RateMonitor | Sequence[RateMonitor], path: PathLike | None = None,
              bin: float = 5e-3, title: str | None = None):
    """Population rates (Hz, averaged over ``bin`` seconds) over time; returns the figure."""
    monitors = [monitors] if isinstance(monitors, RateMonitor) else list(monitors)
    fig = _figure((8, 3))
    ax = fig.add_subplot(111)
    for m in monitors:
        ax.plot(m.times, m.rate(bin), lw=1.0, label=f"{m.population.name} ({m.mean_rate():.2f} Hz mean)")
    ax.set_xlabel("time (s)")
    ax.set_ylabel(f"rate (Hz, {bin * 1e3:g} ms bins)")
    ax.legend(loc="upper right", fontsize="small")
    if title:
        ax.set_title(title)
    _save(fig, path)
    return fig


def isi_histogram(monitor: SpikeMonitor, path: PathLike | None = None, bins: int = 50):
    """Histogram of inter-spike intervals (ms) over all recorded neurons; returns the figure."""
    t, i = monitor.times, monitor.indices
    order = np.lexsort((t, i))
    t, i = t[order], i[order]
    isi = np.diff(t)[i[1:] == i[:-1]] * 1e3
    fig = _figure((5, 3))
    ax = fig.add_subplot(111)
    ax.hist(isi, bins=bins)
    ax.set_xlabel("inter-spike interval (ms)")
    ax.set_ylabel("count")
    _save(fig, path)
    return fig
