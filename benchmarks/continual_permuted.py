"""Permuted-task continual learning: HLOP vs fine-tuning, EWC and GPM over several seeds.

    python benchmarks/continual_permuted.py [--source digits_events] [--seeds 0 1 2]
        [--methods finetune ewc gpm hlop] [--threads 1] [--data-root DIR] [--work-dir DIR]
        [--override JSON] [--collect]

10 permuted tasks of one base dataset (:mod:`neuro.learning.tasks`), an LIF MLP with two hidden
layers of 800 (HLOP's PMNIST network), SGD, BPTT. Every (method, seed) run keeps its checkpoint
and ``results.json`` in ``--work-dir`` (an interrupted benchmark resumes; finished runs are
reused). Writes ``benchmarks/results/continual_<source>.{json,md,png}``: ACC and BWT (GPM
convention) per run, mean +- std per method, the accuracy matrices and the hardware.

Settings per source are in :data:`SETTINGS` (the HLOP subspace schedule is the paper's PMNIST one:
[80, 200, 100] lateral rows, then +70 per layer for tasks 1-2, +50 for 3-5, +30 for 6-8, +10 for
task 9). ``--threads 1`` is advisable on a shared CPU (small matmuls oversubscribe otherwise).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import harness
import torch

from neuro.learning import ContinualConfig, run_continual
from neuro.learning.config import RUNTIME_FIELDS
from neuro.train.config import config_diff

PAPER_ROWS = ([[80, 200, 100]] + [[70, 70, 70]] * 2 + [[50, 50, 50]] * 3 + [[30, 30, 30]] * 3
              + [[10, 10, 10]])

# HLOP and GPM both learn from "filtered" traces (the presynaptic input low-pass filtered with the
# membrane decay, every step; see neuro.learning.sites); HLOP's Hebbian rate is normalised by the
# traces' mean squared norm (one rate for input pixels and hidden spikes).
COMMON = dict(hidden=[800, 800], lr=0.1, hlop_rows=PAPER_ROWS, hlop_lr=0.5, hlop_normalize=True,
              trace="filtered", gpm_threshold=0.97, ewc_strength=10.0)
SETTINGS = {
    # embedded event digits: 1437 train / 360 test per task, frames of 20 ms (T = 15)
    "digits_events": dict(COMMON, tau_mem=0.1, epochs=4, batch_size=32, time_window_us=20_000),
    # permuted MNIST (the paper: 1 epoch, batch 64, lr 0.1, T = 20; here T = 10 on CPU)
    "mnist": dict(COMMON, tau_mem=20e-3, dt=1e-3, epochs=1, batch_size=64, time_steps=10),
    # N-MNIST frames of 30 ms over the first 300 ms (T = 10)
    "nmnist": dict(COMMON, tau_mem=0.1, epochs=1, batch_size=64, time_window_us=30_000),
}
TARGET_BWT = -0.02


def effective_settings(source: str, args) -> dict:
    """The source's :data:`SETTINGS` with ``--override`` applied."""
    return dict(SETTINGS[source], **(json.loads(args.override) if args.override else {}))


def one_run(source: str, method: str, seed: int, args) -> dict | None:
    options = effective_settings(source, args)
    config = ContinualConfig(method=method, source=source, seed=seed, n_tasks=args.tasks,
                             data_root=args.data_root, cache_dir=args.cache_dir,
                             progress=not args.no_progress, **options)
    run_dir = Path(args.work_dir) / f"{source}-{method}-seed{seed}"
    done = run_dir / "results.json"
    if done.exists():
        stored = json.loads(done.read_text())
        if not config_diff(stored["config"], config.to_dict(), RUNTIME_FIELDS,
                           ContinualConfig().to_dict()):
            return stored
        raise SystemExit(f"{run_dir} holds a run with other settings; remove it or pick another "
                         "--work-dir")
    if args.collect:
        return None  # not finished: left out of the table
    t0 = time.perf_counter()
    resume = (run_dir / "checkpoint.pt").exists()
    run_continual(config, run_dir, resume=resume)
    summary = json.loads(done.read_text())
    summary["wall_s"] = round(time.perf_counter() - t0, 1)
    summary["resumed"] = resume
    return summary


def _train_s(run: dict) -> float:
    return round(sum(h["time_s"] for h in run.get("history", [])), 1)


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def report(source: str, runs: dict, args) -> str:
    lines = [f"# Permuted {source}: {args.tasks} tasks, LIF MLP {SETTINGS[source]['hidden']}, "
             f"seeds {args.seeds}", "",
             f"Hardware: {harness.hardware('cpu')} (timings preliminary: shared machine).", "",
             "| method | ACC (%) mean +- std | BWT (%) mean +- std | per seed ACC / BWT (%) |",
             "|---|---|---|---|"]
    for method, items in runs.items():
        acc = _mean_std([100 * r["acc"] for r in items])
        bwt = _mean_std([100 * r["bwt"] for r in items])
        per = ", ".join(f"s{r['seed']}: {100 * r['acc']:.2f} / {100 * r['bwt']:+.2f}"
                        for r in items)
        lines.append(f"| {method} | {acc[0]:.2f} +- {acc[1]:.2f} | {bwt[0]:+.2f} +- {bwt[1]:.2f} "
                     f"| {per} |")
    lines += ["", "ACC = mean final accuracy over tasks; BWT = mean over tasks 1..N-1 of (final "
              "accuracy - accuracy right after training the task) (GPM convention).",
              f"Settings: {json.dumps(effective_settings(source, args))}"
              + (f" (defaults overridden by {args.override})" if args.override else ""),
              "Training time per run (s, sum of epochs; preliminary, shared machine): "
              + ", ".join(f"{m} {[_train_s(r) for r in items]}" for m, items in runs.items())]
    if args.note:
        lines += ["", args.note]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="digits_events", choices=sorted(SETTINGS))
    parser.add_argument("--methods", nargs="+", default=["finetune", "ewc", "gpm", "hlop"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--work-dir", default="/tmp/neuro_continual_runs")
    parser.add_argument("--override", default=None, help="JSON of ContinualConfig fields")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--name", default=None, help="results file stem")
    parser.add_argument("--note", default=None, help="a line appended to the markdown table")
    parser.add_argument("--collect", action="store_true",
                        help="only tabulate the finished runs in --work-dir (train nothing)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    runs: dict[str, list[dict]] = {}
    for method in args.methods:
        for seed in args.seeds:
            summary = one_run(args.source, method, seed, args)
            if summary is None:
                print(f"{method:9s} seed {seed}: not finished, left out", flush=True)
                continue
            runs.setdefault(method, []).append(summary)
            print(f"{method:9s} seed {seed}: ACC {100 * summary['acc']:.2f}%  BWT "
                  f"{100 * summary['bwt']:+.2f}%", flush=True)
    name = args.name or f"continual_{args.source}"
    table = report(args.source, runs, args)
    print(table)
    payload = {"hardware": harness.hardware("cpu"), "source": args.source, "tasks": args.tasks,
               "seeds": args.seeds, "settings": effective_settings(args.source, args),
               "override": args.override,
               "runs": {m: [{k: r[k] for k in ("seed", "acc", "bwt", "matrix")}
                            | {"train_s": _train_s(r)} for r in items]
                        for m, items in runs.items()},
               "mean": {m: {"acc": _mean_std([r["acc"] for r in items]),
                            "bwt": _mean_std([r["bwt"] for r in items])}
                        for m, items in runs.items()}}
    harness.write_results(name, payload)
    from neuro._io import atomic_write
    from neuro.learning.plots import plot_method_comparison

    atomic_write(harness.RESULTS / f"{name}.md", lambda fh: fh.write(table.encode()))
    matrices = {m: torch.tensor([[math.nan if v is None else v for v in row]
                                 for row in items[0]["matrix"]]) for m, items in runs.items()}
    scores = {m: [(r["acc"], r["bwt"]) for r in items] for m, items in runs.items()}
    plot_method_comparison(matrices, scores, harness.RESULTS / f"{name}.png",
                           title=f"permuted {args.source}, {args.tasks} tasks, seeds {args.seeds} "
                                 f"(matrices: seed {args.seeds[0]})", reference_bwt=TARGET_BWT)
    print(f"wrote {harness.RESULTS / name}.{{json,md,png}}")


if __name__ == "__main__":
    main()
