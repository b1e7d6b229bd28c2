"""A grid of runs (methods x shift rates x seeds) with a results folder, resumable.

Folder layout (``neuro homeostatic`` and ``benchmarks/homeostatic_shift.py``):

* ``grid.json`` — the :class:`GridSpec` (written first; a resumed grid must match it);
* ``runs/<method>__<rate>__seed<k>.json`` — one :class:`StreamResult` per finished run
  (written atomically when the run ends; a resumed grid skips them);
* ``summary.json`` / ``summary.csv`` / ``summary.md`` — per rate and method: mean, sd and the
  paired difference of the reference method to each other one with its 95 % CI;
* ``epochs.csv`` — every run's epochs in one table;
* ``accuracy.png`` (validation accuracy per epoch), ``online.png`` (online training accuracy),
  ``traces.png`` (the regulated variable), ``gaps.png`` (paired differences vs rate).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from neuro.models.homeostatic.analysis import plot_accuracy, plot_gaps, plot_traces, summary_rows
from neuro.models.homeostatic.config import StreamConfig
from neuro.models.homeostatic.data import ArraySet
from neuro.models.homeostatic.runner import StreamResult, StreamRun

__all__ = ["VARIANTS", "GridSpec", "load_records", "rate_label", "run_grid", "write_epochs", "write_report"]

#: learners beyond :data:`~neuro.models.homeostatic.config.METHODS`, usable by name in a grid
VARIANTS = {"homeostatic_loss": {"method": "homeostatic", "criterion": "loss"}}

Bar = Callable[..., Any]


def rate_label(rate: dict[str, Any]) -> str:
    """A short name of a rate entry (``{"gap": 600}`` -> ``"gap600"``)."""
    if rate.get("label"):
        return str(rate["label"])
    if rate.get("seasons"):
        return "seasonal"
    if rate.get("swaps_per_epoch"):
        return f"spe{rate['swaps_per_epoch']}"
    return f"gap{rate['gap']}" if rate.get("gap") else "noshift"


@dataclass
class GridSpec:
    """Methods x rates x seeds on one data set with one base configuration.

    ``rates``: entries of :class:`StreamConfig` overrides for the schedule (``{"gap": 600}``,
    ``{"swaps_per_epoch": 4}``, ``{"seasons": [[5000, 150], [5000, null]]}``, optionally with a
    ``"label"``); ``base``: the other :class:`StreamConfig` fields; ``dataset``: a name for the
    report; ``train_samples`` / ``val_samples``: subset sizes (None: all). ``variants``: extra
    learners by name, ``{"homeostatic_loss": {"method": "homeostatic", "criterion": "loss"}}``,
    usable in ``methods``.
    """

    methods: list = field(default_factory=lambda: ["homeostatic", "random", "constant"])
    rates: list = field(default_factory=lambda: [{"gap": 0}, {"gap": 600}])
    seeds: list = field(default_factory=lambda: [0, 1, 2])
    base: dict = field(default_factory=dict)
    dataset: str = "digits"
    train_samples: int | None = None
    val_samples: int | None = None
    reference: str = "homeostatic"
    variants: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.methods or not self.rates or not self.seeds:
            raise ValueError("methods, rates and seeds must be non-empty")
        labels = [rate_label(r) for r in self.rates]
        if len(set(labels)) != len(labels):
            raise ValueError(f"rate labels must be distinct, got {labels}")
        for r in self.rates:  # validate every combination up front
            self.config(self.methods[0], r, self.seeds[0])

    def config(self, method: str, rate: dict[str, Any], seed: int) -> StreamConfig:
        """The :class:`~neuro.models.homeostatic.config.StreamConfig` of one grid cell: ``base``, then the
        ``rate`` overrides (without its ``label``), then the learner (a ``variants`` entry or ``{"method":
        method}``), then ``seed``.
        """
        overrides = {k: v for k, v in rate.items() if k != "label"}
        learner = self.variants.get(method, {"method": method})
        return StreamConfig.from_dict({**self.base, **overrides, **learner, "seed": int(seed)})

    def runs(self) -> list[tuple[str, dict, int]]:
        """Every ``(method, rate, seed)`` cell of the grid, rates outermost and methods innermost."""
        return [(m, r, s) for r in self.rates for s in self.seeds for m in self.methods]

    def to_dict(self) -> dict[str, Any]:
        """The grid specification as a plain dict of its fields."""
        return asdict(self)


def _mean_gap(config: StreamConfig, epoch_size: int) -> float:
    """Average samples between swaps of a configuration (0: no shift), for ordering rates."""
    if config.gap:
        return float(config.gap)
    if config.swaps_per_epoch:
        return epoch_size / config.swaps_per_epoch
    if config.seasons:
        length = sum(n for n, _ in config.seasons)
        swaps = sum(len(range(g, n, g)) for n, g in config.seasons if g)
        return length / swaps if swaps else 0.0
    return 0.0


def _file(run_dir: Path, method: str, label: str, seed: int) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", label)
    return run_dir / "runs" / f"{method}__{safe}__seed{seed}.json"


def load_records(run_dir: Path) -> list[dict[str, Any]]:
    """Every finished run of a grid folder as a record (method, rate, gap, seed, result)."""
    records = []
    for path in sorted((Path(run_dir) / "runs").glob("*.json")):
        records.append(json.loads(path.read_text()))
    return records


def run_grid(spec: GridSpec, data: ArraySet, run_dir: Path, bar: Bar | None = None,
             log: Callable[[str], None] = print, rates: Sequence[str] | None = None,
             methods: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Run every missing run of ``spec`` on ``data`` into ``run_dir`` (only the rate labels
    ``rates`` / the ``methods`` if given, to split a grid over several sittings); returns every
    finished record of the folder."""
    from neuro._io import write_text

    run_dir = Path(run_dir)
    grid_file = run_dir / "grid.json"
    if grid_file.exists():
        saved = json.loads(grid_file.read_text())
        if saved != json.loads(json.dumps(spec.to_dict())):
            raise ValueError(f"{run_dir} holds another grid (grid.json differs); use a new folder")
    else:
        write_text(grid_file, json.dumps(spec.to_dict(), indent=1))
    todo = [(m, r, s) for m, r, s in spec.runs()
            if (rates is None or rate_label(r) in rates) and (methods is None or m in methods)]
    for k, (method, rate, seed) in enumerate(todo):
        label = rate_label(rate)
        path = _file(run_dir, method, label, seed)
        if path.exists():
            continue
        config = spec.config(method, rate, seed)
        clock = time.perf_counter()
        run = StreamRun(config, data)
        result = run.run(bar) if bar is not None else run.run()
        record = {"method": method, "rate": label, "gap": _mean_gap(config, run.epoch_size), "seed": seed,
                  "dataset": spec.dataset, "seconds": round(time.perf_counter() - clock, 2),
                  "result": result.to_dict()}
        write_text(path, json.dumps(record))
        s = result.summary()
        log(f"[{k + 1}/{len(todo)}] {method:11s} {label:10s} seed {seed}: val {s['val_acc_mean']:.3f} "
            f"online {s['train_acc_mean']:.3f} {result.variable} {s['value_mean']:.3g} "
            f"({record['seconds']:.0f} s)")
    return load_records(run_dir)


def _markdown(rows: Sequence[dict], reference: str) -> str:
    head = f"| rate | method | n | mean | sd | {reference} - method [95% CI] |\n|---|---|---|---|---|---|\n"
    lines = []
    for r in rows:
        diff = ""
        if f"{reference}_minus" in r:
            diff = (f"{100 * r[f'{reference}_minus']:+.2f} "
                    f"[{100 * r['ci_low']:+.2f}, {100 * r['ci_high']:+.2f}]")
        sd = "" if math.isnan(r["sd"]) else f"{100 * r['sd']:.2f}"
        lines.append(f"| {r['rate']} | {r['method']} | {r['n']} | {100 * r['mean']:.2f} | {sd} | {diff} |")
    return head + "\n".join(lines) + "\n"


def write_epochs(path: Path, records: Sequence[dict]) -> None:
    """A compact CSV of every run's epochs (method, rate, gap, seed, epoch, accuracies, variable,
    opportunities, taken, swaps)."""
    from neuro._io import write_text

    buffer = io.StringIO()
    keys = ["epoch", "samples", "val_acc", "train_acc", "loss", "value", "value_mean", "opportunities",
            "taken", "swaps", "time_s"]
    writer = csv.writer(buffer)
    writer.writerow(["method", "rate", "gap", "seed", *keys])
    for r in records:
        for e in r["result"]["history"]:
            writer.writerow([r["method"], r["rate"], r["gap"], r["seed"], *(e[k] for k in keys)])
    write_text(path, buffer.getvalue())


def _value_markdown(rows: Sequence[dict]) -> str:
    head = "| rate | method | n | mean | sd |\n|---|---|---|---|---|\n"
    return head + "\n".join(f"| {r['rate']} | {r['method']} | {r['n']} | {r['mean']:.3g} | {r['sd']:.2g} |"
                             for r in rows) + "\n"


def write_report(run_dir: Path, records: Sequence[dict], title: str = "", reference: str = "homeostatic",
                 variable: str = "learning rate", extra_references: Sequence[str] = ()) -> dict[str, Any]:
    """Into ``run_dir``: summary tables (json, csv, md; accuracies in points in the md), ``epochs.csv``
    (:func:`write_epochs`) and the plots; ``extra_references``: more learners to compare with the
    others (``gaps_<name>.png`` and md sections)."""
    from neuro._io import write_text

    run_dir = Path(run_dir)
    write_epochs(run_dir / "epochs.csv", records)
    metrics = ("val_acc_mean", "train_acc_mean", "val_acc_final", "value_mean", "value_final",
               "taken_fraction")
    tables = {metric: summary_rows(records, metric, reference) for metric in metrics}
    methods = {r["method"] for r in records}
    extra = [m for m in extra_references if m in methods and m != reference]
    for other in extra:
        tables[f"val_acc_mean_vs_{other}"] = summary_rows(records, "val_acc_mean", other)
    write_text(run_dir / "summary.json", json.dumps(tables, indent=1))
    buffer = io.StringIO()
    fields_ = ["metric", "rate", "gap", "method", "n", "mean", "sd", f"{reference}_minus", "ci_low",
               "ci_high"]
    writer = csv.DictWriter(buffer, fields_, extrasaction="ignore")
    writer.writeheader()
    for metric in metrics:
        writer.writerows(tables[metric])
    write_text(run_dir / "summary.csv", buffer.getvalue())
    md = [f"# {title or 'Homeostatic learners under concept shift'}\n"]
    for metric, what in (("val_acc_mean", "validation accuracy, mean over epochs (%)"),
                         ("train_acc_mean", "online training accuracy, mean over epochs (%)"),
                         ("val_acc_final", "validation accuracy after the last epoch (%)")):
        md.append(f"\n## {what}\n\n" + _markdown(tables[metric], reference))
    for other in extra:
        md.append(f"\n## validation accuracy, mean over epochs (%), against {other}\n\n"
                  + _markdown(tables[f"val_acc_mean_vs_{other}"], other))
    md.append(f"\n## {variable}, mean over the run\n\n" + _value_markdown(tables["value_mean"]))
    md.append(f"\n## {variable} at the end\n\n" + _value_markdown(tables["value_final"]))
    taken = [r for r in tables["taken_fraction"] if r["mean"] > 0]
    if taken:
        md.append("\n## fraction of decision opportunities that changed the variable\n\n"
                  + _value_markdown(taken))
    write_text(run_dir / "summary.md", "".join(md))
    plot_accuracy(records, run_dir / "accuracy.png", title + " - validation accuracy")
    plot_accuracy(records, run_dir / "online.png", title + " - online training accuracy", key="train_acc")
    moving = ("homeostatic", "random", "always", "drift")
    regulated = [m for m in dict.fromkeys(r["method"] for r in records)
                 if any(q["method"] == m and q["result"]["config"]["method"] in moving for q in records)]
    plot_traces(records, run_dir / "traces.png", title, methods=regulated or None, ylabel=variable)
    plot_gaps(tables["val_acc_mean"], run_dir / "gaps.png", title, reference)
    for other in extra:
        plot_gaps(tables[f"val_acc_mean_vs_{other}"], run_dir / f"gaps_{other}.png", title, other)
    return tables


def result_of(record: dict[str, Any]) -> StreamResult:
    """The :class:`StreamResult` of a record."""
    return StreamResult.from_dict(record["result"])
