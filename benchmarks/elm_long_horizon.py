"""ELM vs an LIF SNN vs an LSTM of the same size on spike-train adding (``neuro.datasets.spike_adding``).

Trains the three models of :mod:`neuro.models.long_horizon` with the same budget and writes the
accuracies, parameter counts and learning curves to ``benchmarks/results/elm_long_horizon.{md,json,png}``.
Run: ``python benchmarks/elm_long_horizon.py [--steps 400] [--T 500] [--memory 24]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from neuro.datasets.spike_adding import SpikeAdding
from neuro.models.long_horizon import compare

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--T", type=int, default=500)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--memory", type=int, default=24)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    task = SpikeAdding(steps=args.T)
    bar = tqdm(total=3 * args.steps, desc="training elm, lif, lstm", unit="step")
    last = {}

    def progress(name: str, step: int, acc: float) -> None:
        bar.update(step - last.get(name, 0))
        last[name] = step
        bar.set_postfix_str(f"{name} acc {acc:.3f}")

    start = time.time()
    results = compare(task, memory=args.memory, steps=args.steps, batch=args.batch, lr=args.lr,
                      seed=args.seed, eval_every=25, progress=progress)
    bar.close()
    write(args, task, results, time.time() - start)
    return 0


def write(args, task: SpikeAdding, results: dict, seconds: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    labels = {"elm": f"ELM (d_m = {args.memory})", "lif": "LIF SNN (Linear-LIF-Linear-LI)", "lstm": "LSTM"}
    meta = dict(task=task.__dict__, chance=task.chance, steps=args.steps, batch=args.batch, lr=args.lr,
                seed=args.seed, torch=torch.__version__, threads=torch.get_num_threads(),
                wall_seconds=round(seconds), date=time.strftime("%Y-%m-%d %H:%M"))
    (out / "elm_long_horizon.json").write_text(json.dumps(
        dict(meta=meta, results={k: r.__dict__ for k, r in results.items()}), indent=1))
    lines = ["# Long-horizon spike-train adding: ELM vs LIF SNN vs LSTM", "",
             f"Task `SpikeAdding(steps={task.steps}, values={task.values}, group={task.group}, "
             f"cue_steps={task.cue_steps}, cue_rate={task.cue_rate}, noise_rate={task.noise_rate})`: "
             f"{task.channels} spike channels, {task.num_classes} classes, first cue >= "
             f"{3 * task.steps // 4 - task.cue_steps} steps and second cue >= {task.steps // 4} steps before "
             f"the readout (last step); chance {task.chance:.2f}.",
             f"Same budget for all: {args.steps} Adam steps (lr {args.lr} with cosine decay to 0, "
             f"gradient norm clipped to 1) of batch {args.batch}, "
             f"fresh samples each step, test set of 512. Seed {args.seed}. {meta['date']}, "
             f"torch {meta['torch']}, {meta['threads']} CPU threads, {meta['wall_seconds']} s in total.", "",
             "| model | trainable params | test accuracy | train time s |", "|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {labels[name]} | {r.params} | {r.accuracy:.3f} | {r.seconds:.0f} |")
    (out / "elm_long_horizon.md").write_text("\n".join(lines) + "\n\n![curves](elm_long_horizon.png)\n")
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, r in results.items():
        ax.plot(r.steps, r.accuracies, marker="o", ms=3, label=f"{labels[name]}, {r.params} params")
    ax.axhline(task.chance, color="grey", ls="--", lw=1, label="chance")
    ax.set_xlabel("training step")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"Spike-train adding, T = {task.steps}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "elm_long_horizon.png", dpi=120)
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
