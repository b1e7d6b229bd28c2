"""Active dendrites with more tasks: 25, 50 and 100 permuted tasks at reduced epochs (not in CI).

    python benchmarks/dendrites_scaling.py [--tasks 25 50 100] [--epochs 1] [--seeds 0]
        [--methods dendrites finetune] [--segments tasks|10] [--threads 1] [--work-dir DIR]
        [--collect]

The non-spiking setting of ``benchmarks/dendrites_continual.py --group ann`` (two layers of 800,
k-WTA 5 %, weight sparsity 0.5, SGD momentum 0.9, lr 0.03, batch 32, prototype contexts) with
fewer epochs per task, against fine-tuning of the ReLU MLP of the same size. ``--segments
tasks`` gives every unit one segment per task (the paper's configuration; the segment weights
grow as tasks x units x 968); ``--segments 10`` keeps 10 whatever the number of tasks (the
request of nupic.research PR #598). The paper (permuted MNIST, 2048 units, 3 epochs, 8 seeds)
reports 92.1 % at 25 tasks, 87.0 % at 50 and 81.4 % at 100.

Writes ``benchmarks/results/dendrites/scaling_seg<segments>.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import harness
import torch
from dendrites_continual import ANN, SOURCE, run_or_reuse

from neuro._io import pyplot, save_figure, write_text
from neuro.learning import ContinualConfig

OUT = harness.RESULTS / "dendrites"
PAPER = {2: 97.5, 5: 96.4, 10: 94.6, 25: 92.1, 50: 87.0, 100: 81.4}


def one_run(method: str, tasks: int, seed: int, args) -> dict | None:
    segments = tasks if args.segments == "tasks" else int(args.segments)
    settings = dict(ANN, epochs=args.epochs)
    if method == "dendrites":
        settings["dendrite_segments"] = segments
    config = ContinualConfig(method=method, source=SOURCE, seed=seed, n_tasks=tasks,
                             progress=not args.no_progress, **settings)
    run_dir = Path(args.work_dir) / f"{method}-{tasks}tasks-seg{args.segments}-e{args.epochs}-seed{seed}"
    return run_or_reuse(config, run_dir, args.collect)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", type=int, default=[25, 50, 100])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--methods", nargs="+", default=["dendrites", "finetune"])
    parser.add_argument("--segments", default="tasks", help="'tasks' or a fixed number")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work-dir", default="/tmp/neuro_dendrites_scaling")
    parser.add_argument("--collect", action="store_true")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for tasks in args.tasks:
        for method in args.methods:
            for seed in args.seeds:
                run = one_run(method, tasks, seed, args)
                if run is None:
                    continue
                train_s = round(sum(h["time_s"] for h in run["history"]), 1)
                rows.append({"tasks": tasks, "method": method, "seed": seed, "acc": run["acc"],
                             "bwt": run["bwt"], "train_s": train_s,
                             "segments": (tasks if args.segments == "tasks" else int(args.segments))
                             if method == "dendrites" else None})
                print(f"{tasks:4d} tasks {method:10s} seed {seed}: ACC {100 * run['acc']:.2f}% "
                      f"BWT {100 * run['bwt']:+.2f}% ({train_s} s)", flush=True)
    lines = [f"# Active dendrites with more tasks (permuted {SOURCE}, {args.epochs} epoch(s) per task)",
             "", f"Hardware: {harness.hardware('cpu')} (shared machine). Command: `python "
             f"benchmarks/dendrites_scaling.py --tasks {' '.join(map(str, args.tasks))} --epochs "
             f"{args.epochs} --seeds {' '.join(map(str, args.seeds))} --segments {args.segments}`.",
             "", "| tasks | method | segments | ACC (%) | BWT (%) | train s | paper ACC (pMNIST) |",
             "|---|---|---|---|---|---|---|"]
    for tasks in args.tasks:
        for method in args.methods:
            sel = [r for r in rows if r["tasks"] == tasks and r["method"] == method]
            if not sel:
                continue
            acc = statistics.mean(100 * r["acc"] for r in sel)
            bwt = statistics.mean(100 * r["bwt"] for r in sel)
            paper = PAPER.get(tasks) if method == "dendrites" else None
            lines.append(f"| {tasks} | {method} | {sel[0]['segments'] or '-'} | {acc:.2f} | "
                         f"{bwt:+.2f} | {[r['train_s'] for r in sel]} | "
                         f"{'' if paper is None else paper} |")
    lines += ["", f"Settings: {json.dumps({k: v for k, v in ANN.items() if k != 'hlop_rows'})}, "
              f"epochs {args.epochs}, seeds {args.seeds}."]
    OUT.mkdir(parents=True, exist_ok=True)
    name = f"scaling_seg{args.segments}"
    write_text(OUT / f"{name}.json", json.dumps({"hardware": harness.hardware("cpu"),
                                                 "epochs": args.epochs, "segments": args.segments,
                                                 "runs": rows}, indent=1))
    write_text(OUT / f"{name}.md", "\n".join(lines) + "\n")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    for k, method in enumerate(args.methods):
        xs = sorted({r["tasks"] for r in rows if r["method"] == method})
        ys = [statistics.mean(100 * r["acc"] for r in rows if r["method"] == method and r["tasks"] == x)
              for x in xs]
        ax.plot(xs, ys, "o-", color=f"C{k}", label=method)
    ax.plot(list(PAPER), list(PAPER.values()), "k--", lw=0.8, label="paper, dendrites (pMNIST)")
    ax.set(xscale="log", xlabel="number of tasks", ylabel="ACC (%)",
           title=f"permuted {SOURCE}, {args.epochs} epoch(s) per task")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, OUT / f"{name}.png")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
