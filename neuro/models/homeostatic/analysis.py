"""Grids of runs: paired differences with confidence intervals, tables and plots.

A grid is a list of records ``{"method", "rate", "gap", "seed", "result": StreamResult.to_dict()}``
(``rate``: the schedule's label; ``gap``: its mean number of samples between swaps, 0 = no shift,
used to order the rates from none to fastest). Methods compared on the same ``(rate, seed)``
share the initialisation, the data order and the swaps, so their differences are paired:
:func:`paired_difference` gives the mean difference over seeds with a two-sided Student-t
confidence interval, :math:`\\bar d \\pm t_{0.975, n-1}\\, s_d/\\sqrt n`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from os import PathLike
from typing import Any

import numpy as np

__all__ = ["METRICS", "paired_difference", "plot_accuracy", "plot_gaps", "plot_traces",
           "summary_rows"]

#: summary metrics of :meth:`StreamResult.summary` compared between methods
METRICS = ("val_acc_mean", "train_acc_mean", "val_acc_final", "value_mean")
#: the same colour and order for a learner in every plot
COLORS = {"homeostatic": "tab:red", "homeostatic_loss": "tab:orange", "random": "tab:blue",
          "always": "tab:brown", "constant": "tab:gray", "adam": "tab:green", "drift": "tab:purple"}


def _summary(record: dict[str, Any]) -> dict[str, float]:
    from neuro.models.homeostatic.runner import StreamResult

    return StreamResult.from_dict(record["result"]).summary()


def _values(records: Sequence[dict], method: str, rate: str, metric: str) -> dict[int, float]:
    return {r["seed"]: _summary(r)[metric] for r in records if r["method"] == method and r["rate"] == rate}


def _grid(records: Sequence[dict]) -> tuple[list[str], list[str], dict[str, float]]:
    """Rates ordered from no shift to the fastest, methods in order of appearance, mean gaps."""
    gaps = {r["rate"]: r["gap"] for r in records}
    rates = sorted(gaps, key=lambda k: (gaps[k] != 0, -gaps[k]))
    order = list(COLORS)
    methods = sorted(dict.fromkeys(r["method"] for r in records),
                     key=lambda m: order.index(m) if m in order else len(order))
    return rates, methods, gaps


def _title(rate: str, gap: float) -> str:
    if not gap:
        return "no shift"
    return f"{rate}: {gap:.0f} samples/swap" if not rate.startswith("gap") else f"{gap:.0f} samples/swap"


def paired_difference(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> dict[str, float]:
    """Mean of ``a - b`` (paired) and its t confidence interval; ``n`` pairs (CI NaN if ``n < 2``)."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    n = d.size
    if n == 0:
        raise ValueError("no pairs to compare")
    mean = float(d.mean())
    if n < 2:
        return {"mean": mean, "low": math.nan, "high": math.nan, "n": 1}
    from scipy import stats

    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * float(d.std(ddof=1)) / math.sqrt(n)
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": n}


def summary_rows(records: Sequence[dict], metric: str = "val_acc_mean", reference: str = "homeostatic",
                 ) -> list[dict[str, Any]]:
    """Per (rate, method): mean and sd over seeds of ``metric`` and the paired difference
    ``reference - method`` with its 95 % CI."""
    rows = []
    rates, methods, gaps = _grid(records)
    for rate in rates:
        ref = _values(records, reference, rate, metric)
        for method in methods:
            vals = _values(records, method, rate, metric)
            if not vals:
                continue
            v = np.array(list(vals.values()))
            row = {"rate": rate, "gap": gaps[rate], "method": method, "metric": metric, "n": len(v),
                   "mean": float(v.mean()),
                   "sd": float(v.std(ddof=1)) if len(v) > 1 else math.nan}
            seeds = sorted(set(ref) & set(vals))
            if method != reference and seeds:
                diff = paired_difference([ref[s] for s in seeds], [vals[s] for s in seeds])
                row.update({f"{reference}_minus": diff["mean"], "ci_low": diff["low"],
                            "ci_high": diff["high"]})
            rows.append(row)
    return rows


def _by(records, method, rate):
    from neuro.models.homeostatic.runner import StreamResult

    return [StreamResult.from_dict(r["result"]) for r in records
            if r["method"] == method and r["rate"] == rate]


def plot_accuracy(records: Sequence[dict], path: PathLike, title: str = "", key: str = "val_acc") -> None:
    """Accuracy (``key`` of the epoch history) vs epoch, one panel per rate, mean +- sd over seeds."""
    from neuro._io import pyplot, save_figure

    plt = pyplot()
    rates, methods, gaps = _grid(records)
    fig, axes = plt.subplots(1, len(rates), figsize=(max(3.6 * len(rates), 5.5), 3.4), sharey=True,
                             squeeze=False)
    for ax, rate in zip(axes[0], rates):
        for method in methods:
            runs = _by(records, method, rate)
            if not runs:
                continue
            acc = np.array([[e[key] for e in r.history] for r in runs])
            epochs = np.arange(1, acc.shape[1] + 1)
            line, = ax.plot(epochs, acc.mean(0), label=method, color=COLORS.get(method))
            if len(runs) > 1:
                ax.fill_between(epochs, acc.mean(0) - acc.std(0), acc.mean(0) + acc.std(0),
                                color=line.get_color(), alpha=0.15)
        _shade_seasons(ax, [r for r in records if r["rate"] == rate], per_epoch=True)
        ax.set_title(_title(rate, gaps[rate]), fontsize=9)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    names = {"val_acc": "validation accuracy", "train_acc": "online training accuracy"}
    axes[0][0].set_ylabel(names.get(key, key))
    axes[0][-1].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def _shade_seasons(ax, records: Sequence[dict], per_epoch: bool = False) -> None:
    """Shade the seasons with swaps of a seasonal schedule (the first record's); x in samples, or in
    epochs (``per_epoch``: epoch ``e`` ends at sample ``e * epoch size``)."""
    result = records[0]["result"]
    seasons = result["config"].get("seasons")
    if not seasons:
        return
    end = result["trace_t"][-1]
    scale = result["history"][0]["samples"] if per_epoch else 1
    start, k = 0, 0
    while start < end:
        length, gap = seasons[k % len(seasons)]
        if gap:
            ax.axvspan(start / scale, min(start + length, end) / scale, color="0.9", zorder=0)
        start, k = start + length, k + 1


def plot_traces(records: Sequence[dict], path: PathLike, title: str = "",
                methods: Sequence[str] | None = None,
                ylabel: str = "learning rate") -> None:
    """The regulated variable over samples, one panel per method, one line per rate (median over seeds);
    seasons with swaps shaded for a seasonal schedule."""
    from neuro._io import pyplot, save_figure

    plt = pyplot()
    rates, all_methods, gaps = _grid(records)
    methods = [m for m in (methods or all_methods) if m in all_methods]
    fig, axes = plt.subplots(1, len(methods), figsize=(max(3.8 * len(methods), 5.5), 3.4), sharey=True,
                             squeeze=False)
    for ax, method in zip(axes[0], methods):
        for rate in rates:
            runs = _by(records, method, rate)
            if not runs:
                continue
            values = np.array([r.trace_value for r in runs])
            ax.plot(np.array(runs[0].trace_t), np.median(values, 0), label=_title(rate, gaps[rate]), lw=1)
        _shade_seasons(ax, [r for r in records if r["method"] == method])
        ax.set_title(method)
        ax.set_xlabel("samples seen")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(ylabel + " (median over seeds)")
    axes[0][-1].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def plot_gaps(rows: Sequence[dict], path: PathLike, title: str = "", reference: str = "homeostatic") -> None:
    """Bar chart: ``reference - method`` (paired, 95 % CI) per rate, from :func:`summary_rows`."""
    from neuro._io import pyplot, save_figure

    plt = pyplot()
    rows = [r for r in rows if f"{reference}_minus" in r]
    rates = list(dict.fromkeys(r["rate"] for r in rows))
    gaps = {r["rate"]: r["gap"] for r in rows}
    methods = list(dict.fromkeys(r["method"] for r in rows))
    width = 0.8 / max(len(methods), 1)
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(rates) * max(1, len(methods) / 2), 3.4))
    for k, method in enumerate(methods):
        sel = {r["rate"]: r for r in rows if r["method"] == method}
        xs = [i + (k - (len(methods) - 1) / 2) * width for i, g in enumerate(rates) if g in sel]
        mean = np.array([sel[g][f"{reference}_minus"] for g in rates if g in sel])
        low = np.array([sel[g]["ci_low"] for g in rates if g in sel])
        high = np.array([sel[g]["ci_high"] for g in rates if g in sel])
        err = np.nan_to_num(np.vstack([mean - low, high - mean]))
        ax.bar(xs, 100 * mean, width, yerr=100 * err, capsize=3, label=f"{reference} - {method}",
               color=COLORS.get(method))
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(range(len(rates)), ["none" if not gaps[g] else f"{gaps[g]:.0f}" for g in rates])
    ax.set_xlabel("samples between swaps")
    ax.set_ylabel(f"paired difference, {rows[0]['metric'] if rows else ''} (points)")
    ax.legend(fontsize=8)
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    save_figure(fig, path)
