"""Active dendrites on permuted event digits: 10 tasks, paired against the baselines, and ablations.

    python benchmarks/dendrites_continual.py --group ann|snn|ablation [--seeds 0 1 2] [--tasks 10]
        [--threads 1] [--work-dir DIR] [--collect] [--rerun-baselines]

Every run goes through the continual runner (``neuro.learning.run_continual``, what ``neuro
continual --method dendrites`` runs: checkpoints, resume, ``results.json``, the accuracy matrix)
on 10 permuted tasks of the embedded event digits (1437 train / 360 test samples per task), one
shared head, prototype contexts (no task label at inference), segments = number of tasks.

* ``ann`` — the non-spiking Active Dendrites Network (two dendritic layers of 800, k-WTA 5 %,
  feed-forward weight sparsity 0.5) against ReLU MLPs of the same size (800, 800) on the same
  time-averaged input: fine-tuning, EWC, GPM and HLOP. SGD with momentum 0.9, lr 0.03, 3 epochs
  per task, batch 32, for every method.
* ``snn`` — the spiking dendritic network (the gate modulating the input current of LIF neurons,
  800, 800, k-WTA 20 % of the currents per step) with the settings of
  ``benchmarks/continual_permuted.py`` (lr 0.1, no momentum, tau_mem 0.1 s, 2 epochs per task),
  against the spiking baselines committed in ``benchmarks/results/continual_digits_events{,_ewc0.5}.json``
  (same runner, seeds, permutations and settings); ``--rerun-baselines`` reruns them here instead.
* ``ablation`` — the non-spiking network without k-WTA (ReLU), k-WTA without dendrites, and a
  single segment per unit (the fast path), against the full network of ``ann``.

For each comparison: ACC and BWT per seed (GPM convention) and the paired difference
dendrites - baseline over seeds with its 95 % confidence interval (Student t, n - 1 degrees of
freedom). Writes ``benchmarks/results/dendrites/continual_<group>.{json,md,png}``.
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
from continual_permuted import PAPER_ROWS, SETTINGS
from scipy import stats

from neuro._io import write_text
from neuro.learning import ContinualConfig, run_continual
from neuro.learning.config import RUNTIME_FIELDS
from neuro.learning.plots import plot_method_comparison
from neuro.train.config import config_diff

OUT = harness.RESULTS / "dendrites"
SOURCE = "digits_events"

ANN = dict(network="ann", hidden=[800, 800], lr=0.03, momentum=0.9, epochs=3, batch_size=32,
           time_window_us=20_000, kwta=0.05, weight_sparsity=0.5, trace="rate",
           gpm_threshold=0.97, hlop_rows=PAPER_ROWS, hlop_lr=0.5, hlop_normalize=True,
           ewc_strength=1.0)
# k-WTA 20 % in the spiking network: on 5 tasks (seed 0, exploratory) 5 % gave ACC 70.5 % / BWT
# -16.9 %, 20 % gave 81.4 % / -2.6 % (k-WTA of the input currents per step; 40 of 800 driven
# neurons per step is too few for LIF units to integrate to threshold)
SNN = dict(SETTINGS[SOURCE], epochs=2, network="snn", kwta=0.2, weight_sparsity=0.5)
SNN_EWC = dict(SNN, ewc_strength=0.5)  # the stable strength of the committed EWC runs

# label -> (method, settings)
GROUPS = {
    "ann": {"dendrites": ("dendrites", ANN), "finetune": ("finetune", ANN), "ewc": ("ewc", ANN),
            "gpm": ("gpm", ANN), "hlop": ("hlop", ANN),
            # at lr 0.03 the plain ReLU MLP failed to train on some tasks (chance-level loss
            # after a task switch); a smaller step is the stable fine-tuning baseline
            "finetune lr 0.01": ("finetune", dict(ANN, lr=0.01))},
    "snn": {"dendrites": ("dendrites", SNN), "finetune": ("finetune", SNN),
            "ewc": ("ewc", SNN_EWC), "gpm": ("gpm", SNN), "hlop": ("hlop", SNN)},
    "ablation": {"dendrites": ("dendrites", ANN),
                 "no k-WTA": ("dendrites", dict(ANN, kwta=0.0)),
                 "k-WTA only": ("dendrites", dict(ANN, dendrite_segments=0)),
                 "one segment": ("dendrites", dict(ANN, dendrite_segments=1))},
}
COMMITTED = {"finetune": "continual_digits_events.json", "gpm": "continual_digits_events.json",
             "hlop": "continual_digits_events.json", "ewc": "continual_digits_events_ewc0.5.json"}


def config_of(method: str, settings: dict, seed: int, args) -> ContinualConfig:
    return ContinualConfig(method=method, source=SOURCE, seed=seed, n_tasks=args.tasks,
                           progress=not args.no_progress, **settings)


def committed_run(label: str, seed: int) -> dict | None:
    """A spiking baseline's stored run (``benchmarks/results``) for ``seed``, if present."""
    path = harness.RESULTS / COMMITTED[label]
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    for run in data["runs"].get(label, []):
        if run["seed"] == seed:
            return {**run, "source_file": f"benchmarks/results/{COMMITTED[label]}",
                    "settings": data["settings"]}
    return None


def one_run(group: str, label: str, seed: int, args) -> dict | None:
    method, settings = GROUPS[group][label]
    if group == "snn" and label != "dendrites" and not args.rerun_baselines:
        return committed_run(label, seed)
    config = config_of(method, settings, seed, args)
    slug = label.replace(" ", "_").replace("-", "")
    # the ablation group's full network is the ``ann`` group's run (same settings): reuse it
    prefix = "ann" if group == "ablation" and label == "dendrites" else group
    run_dir = Path(args.work_dir) / f"{prefix}-{slug}-seed{seed}"
    return run_or_reuse(config, run_dir, args.collect)


def run_or_reuse(config: ContinualConfig, run_dir: Path, collect: bool) -> dict | None:
    """The summary of the finished run in ``run_dir`` if its settings are ``config``'s; otherwise run
    it there (resuming a checkpoint) unless only collecting (then ``None``)."""
    done = run_dir / "results.json"
    if done.exists():
        stored = json.loads(done.read_text())
        if not config_diff(stored["config"], config.to_dict(), RUNTIME_FIELDS,
                           ContinualConfig().to_dict()):
            return stored
        raise SystemExit(f"{run_dir} holds a run with other settings; remove it")
    if collect:
        return None
    t0 = time.perf_counter()
    run_continual(config, run_dir, resume=(run_dir / "checkpoint.pt").exists())
    summary = json.loads(done.read_text())
    summary["wall_s"] = round(time.perf_counter() - t0, 1)
    return summary


def train_seconds(run: dict) -> float | None:
    if "history" in run:
        return round(sum(h["time_s"] for h in run["history"]), 1)
    return run.get("train_s")


def paired(a: list[float], b: list[float]) -> dict:
    """Mean paired difference a - b and its 95 % t interval (percent points)."""
    d = [100 * (x - y) for x, y in zip(a, b)]
    mean = statistics.mean(d)
    if len(d) < 2:
        return {"mean": mean, "lo": math.nan, "hi": math.nan, "n": len(d)}
    half = stats.t.ppf(0.975, len(d) - 1) * statistics.stdev(d) / math.sqrt(len(d))
    return {"mean": mean, "lo": mean - half, "hi": mean + half, "n": len(d)}


def _ms(values: list[float]) -> str:
    values = [100 * v for v in values]
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} +- {sd:.2f}"


def report(group: str, runs: dict[str, dict[int, dict]], args) -> tuple[str, dict]:
    ref = runs.get("dendrites", {})
    lines = [f"# Active dendrites, permuted {SOURCE}: {args.tasks} tasks, group `{group}`, "
             f"seeds {args.seeds}", "",
             f"Hardware: {harness.hardware('cpu')} (shared 2-core machine: training times are "
             "indicative only). Command: `python benchmarks/dendrites_continual.py --group "
             f"{group} --seeds {' '.join(map(str, args.seeds))}`.", "",
             "| method | ACC (%) mean +- std | BWT (%) mean +- std | per seed ACC / BWT (%) | "
             "train s per run |", "|---|---|---|---|---|"]
    for label, items in runs.items():
        seeds = sorted(items)
        per = ", ".join(f"s{s}: {100 * items[s]['acc']:.2f} / {100 * items[s]['bwt']:+.2f}"
                        for s in seeds)
        lines.append(f"| {label} | {_ms([items[s]['acc'] for s in seeds])} | "
                     f"{_ms([items[s]['bwt'] for s in seeds])} | {per} | "
                     f"{[train_seconds(items[s]) for s in seeds]} |")
    comparisons = {}
    lines += ["", "Paired differences dendrites - baseline over the common seeds (percent points, "
              "mean and 95 % t interval):", "", "| baseline | seeds | d ACC | d BWT |",
              "|---|---|---|---|"]
    for label, items in runs.items():
        if label == "dendrites":
            continue
        common = sorted(set(items) & set(ref))
        if not common:
            continue
        acc = paired([ref[s]["acc"] for s in common], [items[s]["acc"] for s in common])
        bwt = paired([ref[s]["bwt"] for s in common], [items[s]["bwt"] for s in common])
        comparisons[label] = {"seeds": common, "acc": acc, "bwt": bwt}
        lines.append(f"| {label} | {common} | {acc['mean']:+.2f} [{acc['lo']:+.2f}, {acc['hi']:+.2f}] | "
                     f"{bwt['mean']:+.2f} [{bwt['lo']:+.2f}, {bwt['hi']:+.2f}] |")
    settings = {label: {"method": m, **s} for label, (m, s) in GROUPS[group].items()}
    lines += ["", "ACC = mean final accuracy over the tasks; BWT = mean over tasks 1..N-1 of (final "
              "accuracy - accuracy right after training the task) (GPM convention).",
              "Settings per method: `" + json.dumps({k: {kk: vv for kk, vv in v.items()
                                                         if kk != "hlop_rows"}
                                                     for k, v in settings.items()}) + "`"]
    if group == "snn" and not args.rerun_baselines:
        lines += ["", "Spiking baselines: the committed runs of `benchmarks/continual_permuted.py` "
                  "(`benchmarks/results/continual_digits_events.json`, EWC at its stable strength "
                  "0.5 from `continual_digits_events_ewc0.5.json`), same runner, seeds, "
                  "permutations and settings; their training times were measured with 3-9 runs "
                  "in parallel."]
    if args.note:
        lines += ["", args.note]
    return "\n".join(lines) + "\n", comparisons


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--group", required=True, choices=sorted(GROUPS))
    parser.add_argument("--methods", nargs="+", default=None, help="labels of the group to run")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--work-dir", default="/tmp/neuro_dendrites_runs")
    parser.add_argument("--collect", action="store_true", help="tabulate finished runs only")
    parser.add_argument("--rerun-baselines", action="store_true",
                        help="snn: rerun the spiking baselines instead of the committed results")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--note", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    labels = args.methods or list(GROUPS[args.group])
    runs: dict[str, dict[int, dict]] = {}
    for label in labels:
        for seed in args.seeds:
            summary = one_run(args.group, label, seed, args)
            if summary is None:
                print(f"{label:12s} seed {seed}: not available, left out", flush=True)
                continue
            runs.setdefault(label, {})[seed] = summary
            print(f"{label:12s} seed {seed}: ACC {100 * summary['acc']:.2f}%  BWT "
                  f"{100 * summary['bwt']:+.2f}%", flush=True)
    table, comparisons = report(args.group, runs, args)
    print(table)
    name = f"continual_{args.group}"
    OUT.mkdir(parents=True, exist_ok=True)
    payload = {"hardware": harness.hardware("cpu"), "source": SOURCE, "tasks": args.tasks,
               "seeds": args.seeds, "group": args.group,
               "settings": {k: {"method": m, **s} for k, (m, s) in GROUPS[args.group].items()},
               "runs": {label: [{"seed": s, "acc": r["acc"], "bwt": r["bwt"], "matrix": r["matrix"],
                                 "train_s": train_seconds(r),
                                 **({"source_file": r["source_file"]} if "source_file" in r else {})}
                                for s, r in sorted(items.items())]
                        for label, items in runs.items()},
               "paired": comparisons}
    write_text(OUT / f"{name}.json", json.dumps(payload, indent=1))
    write_text(OUT / f"{name}.md", table)
    matrices = {label: torch.tensor([[math.nan if v is None else v for v in row]
                                     for row in items[min(items)]["matrix"]])
                for label, items in runs.items()}
    scores = {label: [(r["acc"], r["bwt"]) for r in items.values()] for label, items in runs.items()}
    plot_method_comparison(matrices, scores, OUT / f"{name}.png",
                           title=f"permuted {SOURCE}, {args.tasks} tasks, group {args.group}, seeds "
                                 f"{args.seeds} (matrices: first seed)")
    print(f"wrote {OUT / name}.{{json,md,png}}")


if __name__ == "__main__":
    main()
