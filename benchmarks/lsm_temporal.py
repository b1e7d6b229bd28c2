"""Where does a liquid beat its raw input? Temporal tasks, five readouts, paired over seeds.

Tasks (``neuro.tasks.reservoir_tasks``, 40 input channels, dt 1 ms, generated per seed):
delayed recall of a spike template 0-3 segments back and delayed XOR of two consecutive templates
(one stream of 1000 x 30 ms segments serves all six), the order of three sub-patterns (600
words, 6 classes), NARMA-10 on a Poisson rate code (1500 x 20 ms bins) and spike adding (600
trials of 200 ms). Methods (``neuro.models.lsm_temporal``): ``lsm`` (200-neuron Maass liquid, spike
counts over the readout's lookback window, best of 3 settings on validation), ``raw`` (the same window
counts of the input, 200 features), ``raw_history`` (input counts over the whole span the target
depends on, 200 features), ``esn`` (200 tanh units, untrained, best of 3 leak/input settings on validation),
``lstm`` (64 units, trained: the ceiling). A seed draws the task streams, the liquid and the ESN.

    NUMBA_NUM_THREADS=1 python benchmarks/lsm_temporal.py --seeds 0 1 2 3 4   # one JSON per seed
    python benchmarks/lsm_temporal.py --report                                 # table + plot

Writes ``benchmarks/results/lsm_temporal/seed_<k>.json``, ``results.md``, ``results.json`` and
``lsm_vs_raw.png``. Paired differences: mean over seeds with a 95 % Student-t interval.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import cpu_name  # noqa: E402

from neuro._io import pyplot, save_figure, write_text  # noqa: E402
from neuro.models.lsm_temporal import METHODS, ComparisonConfig, compare_on_task  # noqa: E402
from neuro.tasks.reservoir_tasks import (  # noqa: E402
    delayed_pattern_task,
    narma_task,
    order_task,
    spike_adding_task,
)

OUT = Path(__file__).resolve().parent / "results" / "lsm_temporal"
TASKS = ("recall0", "recall1", "recall2", "recall3", "xor0", "xor1", "order3", "narma10", "adding")
LABELS = {"recall0": "recall b[k] (no memory needed)", "recall1": "recall b[k-1]", "recall2": "recall b[k-2]",
          "recall3": "recall b[k-3]", "xor0": "XOR b[k]^b[k-1]", "xor1": "XOR b[k-1]^b[k-2]",
          "order3": "order of 3 sub-patterns", "narma10": "NARMA-10 (NRMSE)", "adding": "spike adding"}


def make_tasks(seed: int, small: bool = False) -> list:
    segments, words, values, trials = (300, 200, 400, 200) if small else (1000, 600, 1500, 600)
    tasks = [delayed_pattern_task("recall", d, n_segments=segments, seed=seed) for d in range(4)]
    tasks += [delayed_pattern_task("xor", d, n_segments=segments, seed=seed) for d in range(2)]
    tasks += [order_task(n_words=words, seed=seed), narma_task(n_values=values, seed=seed),
              spike_adding_task(n_trials=trials, seed=seed)]
    return tasks


def run_seed(seed: int, small: bool) -> dict:
    torch.manual_seed(seed)
    config = ComparisonConfig(lstm_epochs=10 if small else 40)
    cache: dict = {}
    out = {"seed": seed, "machine": cpu_name(), "date": time.strftime("%Y-%m-%d"), "tasks": {}}
    t0 = time.perf_counter()
    for task in make_tasks(seed, small):
        t1 = time.perf_counter()
        res = compare_on_task(task, seed, config, cache)
        res["seconds"] = time.perf_counter() - t1
        out["tasks"][task.name] = res
        print(f"seed {seed} {task.name:8s}", {m: round(res[m]["test"], 3) for m in METHODS},
              f"lsm {res['lsm']['input_scale']:g}/{res['lsm']['recurrent_scale']:g} "
              f"{res['lsm']['rate_hz']:.0f} Hz, {res['seconds']:.0f} s", flush=True)
    out["seconds"] = time.perf_counter() - t0
    return out


def t_interval(d: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95 % Student-t interval of paired differences."""
    from scipy import stats

    mean = float(d.mean())
    if d.size < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.975, d.size - 1)) * float(d.std(ddof=1)) / math.sqrt(d.size)
    return mean, mean - half, mean + half


def report(folder: Path) -> None:
    runs = [json.loads(p.read_text()) for p in sorted(folder.glob("seed_*.json"))]
    if not runs:
        raise SystemExit(f"no seed_*.json in {folder}: run with --seeds first")
    seeds = [r["seed"] for r in runs]
    summary: dict = {"seeds": seeds, "machine": runs[0]["machine"], "tasks": {}}
    lines = [f"# Liquid vs raw input on temporal tasks ({len(seeds)} seeds: {seeds})", "",
             "Test scores (mean ± sd over seeds): accuracy, or NRMSE for NARMA-10 (lower is better). "
             "`better by`: the liquid's advantage (accuracy difference, or NRMSE reduction) with a 95 % t "
             "interval over the paired seeds; **bold** when the interval excludes 0.", "",
             "| task | chance | lsm | raw | raw_history | esn | lstm (trained) | lsm better than raw by | "
             "than raw_history | than esn |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name in TASKS:
        per = [r["tasks"][name] for r in runs if name in r["tasks"]]
        if not per:
            continue
        kind = per[0]["task"]["kind"]
        sign = 1.0 if kind == "classification" else -1.0
        scores = {m: np.array([p[m]["test"] for p in per]) for m in METHODS}
        diffs = {}
        for other in ("raw", "raw_history", "esn", "lstm"):
            diffs[other] = t_interval(sign * (scores["lsm"] - scores[other]))
        summary["tasks"][name] = {
            "kind": kind, "chance": float(np.mean([p["task"]["chance"] for p in per])),
            "scores": {m: scores[m].tolist() for m in METHODS},
            "lsm_better_by": {k: {"mean": v[0], "low": v[1], "high": v[2]} for k, v in diffs.items()},
            "lsm_settings": [(p["lsm"]["input_scale"], p["lsm"]["recurrent_scale"], p["lsm"]["rate_hz"])
                             for p in per],
            "esn_settings": [(p["esn"]["input_scale"], p["esn"]["leak"]) for p in per]}

        def cell(d: tuple) -> str:
            text = f"{d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}]"
            return f"**{text}**" if d[1] > 0 or d[2] < 0 else text

        spread = {m: scores[m].std(ddof=1) if len(per) > 1 else 0.0 for m in METHODS}
        lines.append(f"| {LABELS[name]} | {summary['tasks'][name]['chance']:.2f} | "
                     + " | ".join(f"{scores[m].mean():.3f} ± {spread[m]:.3f}" for m in METHODS)
                     + f" | {cell(diffs['raw'])} | {cell(diffs['raw_history'])} | {cell(diffs['esn'])} |")
    first = runs[0]["tasks"]
    lines += ["", "Features: 200 per method for every ridge readout (lsm: 200 neurons x 1 window; raw: 40 "
              "inputs x 5 windows of the same lookback; raw_history: 40 x 5 windows over the task's memory "
              "span; esn: 200 units x 1 window).", "",
              "| task | readouts (train/val/test) | lookback (ms) | memory span (ms) | simulated (s) |",
              "|---|---|---|---|---|"]
    for name in TASKS:
        if name in first:
            t = first[name]["task"]
            lines.append(f"| {name} | {t['train']}/{t['val']}/{t['test']} | {t['lookback']} | "
                         f"{t['memory']} | {t['seconds_simulated']:.0f} |")
    lines += ["", f"Machine: {runs[0]['machine']}; wall time per seed (one thread on a shared machine): "
              + ", ".join(f"{r['seconds'] / 60:.1f} min" for r in runs) + ".", "",
              "Command: `NUMBA_NUM_THREADS=1 python benchmarks/lsm_temporal.py --seeds "
              + " ".join(map(str, seeds)) + "` then `python benchmarks/lsm_temporal.py --report`."]
    text = "\n".join(lines) + "\n"
    write_text(folder / "results.md", text)
    write_text(folder / "results.json", json.dumps(summary, indent=1))
    plot(summary, folder / "lsm_vs_raw.png")
    print(text)


def plot(summary: dict, path: Path) -> None:
    plt = pyplot()
    names = [n for n in TASKS if n in summary["tasks"]]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [len(names) - 1, 1]})
    colors = {"lsm": "tab:red", "raw": "tab:gray", "raw_history": "tab:olive", "esn": "tab:blue",
              "lstm": "tab:green"}
    for ax, group in ((axes[0], [n for n in names if n != "narma10"]), (axes[1], ["narma10"])):
        group = [n for n in group if n in names]
        x = np.arange(len(group))
        for j, m in enumerate(METHODS):
            vals = [np.array(summary["tasks"][n]["scores"][m]) for n in group]
            ax.bar(x + (j - 2) * 0.16, [v.mean() for v in vals], 0.16, color=colors[m], label=m,
                   yerr=[v.std(ddof=1) if v.size > 1 else 0 for v in vals], capsize=2)
        ax.set_xticks(x, group, rotation=30, ha="right")
        for k, n in enumerate(group):
            if summary["tasks"][n]["kind"] == "classification":
                ax.plot([k - 0.45, k + 0.45], [summary["tasks"][n]["chance"]] * 2, "k:", lw=1)
    axes[0].set_ylabel("test accuracy (dotted: chance)")
    axes[1].set_ylabel("test NRMSE (lower is better)")
    axes[0].legend(ncol=5, fontsize=8, loc="lower left")
    fig.suptitle(f"Liquid (200 LIF) vs its raw input, an ESN and a trained LSTM "
                 f"({len(summary['seeds'])} seeds, mean ± sd)")
    fig.tight_layout()
    save_figure(fig, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="*", default=[])
    ap.add_argument("--report", action="store_true", help="aggregate the seed files into the table and plot")
    ap.add_argument("--small", action="store_true", help="short streams (a smoke test, not for results)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    torch.set_num_threads(1)
    for seed in args.seeds:
        res = run_seed(seed, args.small)
        write_text(args.out / f"seed_{seed}.json", json.dumps(res, indent=1))
    if args.report:
        report(args.out)


if __name__ == "__main__":
    main()
