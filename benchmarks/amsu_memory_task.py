"""Delayed cue recall with distractors: astrocyte-modulated SNN vs the same SNN without astrocytes.

Models (``RecallNet``: Linear -> hidden -> Linear -> LI readout, Adam, same trials per seed):

* ``lif``      — LIF hidden layer, learnable tau_mem initialised at 20 ms (the same SNN without
  astrocytes; 66 neurons so its parameter count is >= the AM-SU network's);
* ``lif_slow`` — the same with tau_mem initialised at the astrocytes' 100 ms (does a slow
  membrane alone give the memory?);
* ``alif``     — adaptive-threshold LIF (LSNN, Bellec et al. 2018; 64 neurons, tau_mem 20 ms and
  tau_adapt 100 ms, both learnable): a slow non-astrocytic state of the same time scale;
* ``amsu``     — AMSU hidden layer: 64 LIF neurons (tau_mem 20 ms, learnable) in 8 astrocyte
  domains (tau_astro 100 ms, K 0.02, couplings initialised N(0, 0.5^2), all learnable).

Every (delay, model, seed) run is appended to ``benchmarks/results/amsu_memory_task.json``;
``--report`` aggregates mean and spread and draws ``amsu_memory_task.png``. Example::

    python benchmarks/amsu_memory_task.py --T 100 400 --models lif lif_slow amsu --seeds 0 1 2
    python benchmarks/amsu_memory_task.py --report
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import harness
import numpy as np
import torch

from neuro._io import atomic_write
from neuro.nn import ALIF, AMSU, LIF
from neuro.tasks import DelayedRecall, RecallNet, parameter_count, train_recall

RESULTS = Path(__file__).resolve().parent / "results"
OUT = RESULTS / "amsu_memory_task.json"
HIDDEN, DOMAINS, HIDDEN_LIF = 64, 8, 66
MODELS = ("lif", "lif_slow", "alif", "amsu")


def build(kind: str, task: DelayedRecall, seed: int) -> RecallNet:
    torch.manual_seed(seed)
    if kind == "amsu":
        g = torch.Generator().manual_seed(seed)
        layer = AMSU(HIDDEN, domains=DOMAINS, tau_astro=0.1, K=0.02, learn_tau=True,
                     kappa_gain=torch.randn(DOMAINS, generator=g) * 0.5,
                     kappa_threshold=torch.randn(DOMAINS, generator=g) * 0.5,
                     kappa_current=torch.randn(DOMAINS, generator=g) * 0.5)
        return RecallNet(task, HIDDEN, layer)
    if kind == "alif":
        return RecallNet(task, HIDDEN, ALIF(HIDDEN, tau_adapt=0.1, beta_adapt=0.5, learn_tau=True))
    tau = {"lif": 20e-3, "lif_slow": 0.1}[kind]
    return RecallNet(task, HIDDEN_LIF, LIF(HIDDEN_LIF, tau_mem=tau, learn_tau=True))


def load_runs() -> list:
    return json.loads(OUT.read_text())["runs"] if OUT.exists() else []


def save_runs(runs: list) -> None:
    doc = {"hardware": harness.hardware("cpu"), "torch_threads": torch.get_num_threads(), "runs": runs}
    atomic_write(OUT, lambda fh: fh.write(json.dumps(doc, indent=1).encode()))


def run(T: int, kind: str, seed: int, steps: int, batch: int, lr: float) -> dict:
    task = DelayedRecall(T=T)
    model = build(kind, task, seed)
    from tqdm.auto import tqdm

    bar = tqdm(total=steps, desc=f"T={T} {kind} seed {seed}", leave=False)
    res = train_recall(model, steps, batch=batch, lr=lr, seed=seed,
                       on_step=lambda s, loss: (bar.update(1), bar.set_postfix(loss=f"{loss:.3f}")))
    bar.close()
    out = {"T": T, "delay": task.delay, "model": kind, "seed": seed, "steps": steps, "batch": batch,
           "lr": lr, "parameters": parameter_count(model), "accuracy": res["accuracy"],
           "final_loss": float(np.mean(res["loss"][-20:])), "loss": res["loss"],
           "train_seconds": res["seconds"]}
    if kind == "amsu":
        layer = model.net[1]
        out["tau_astro_ms"] = (layer.tau_astro.detach() * 1e3).tolist()
    return out


def report() -> str:
    runs = load_runs()
    lines = ["# Delayed cue recall with distractors: AM-SU vs LIF", "",
             f"Hardware: {harness.hardware('cpu')}. Chance = 0.25 (4 cues). "
             "Accuracy on 512 held-out trials.", "",
             "| T (delay) | model | params | seeds | accuracy mean ± std | min..max | final loss |",
             "|---|---|---|---|---|---|---|"]
    keys = sorted({(r["T"], r["model"]) for r in runs}, key=lambda k: (k[0], MODELS.index(k[1])))
    for T, kind in keys:
        sel = [r for r in runs if r["T"] == T and r["model"] == kind]
        acc = np.array([r["accuracy"] for r in sel])
        loss = np.array([r["final_loss"] for r in sel])
        lines.append(f"| {T} ({sel[0]['delay']}) | {kind} | {sel[0]['parameters']} | {len(sel)} | "
                     f"{acc.mean():.3f} ± {acc.std(ddof=1) if len(acc) > 1 else 0:.3f} | "
                     f"{acc.min():.3f}..{acc.max():.3f} | {loss.mean():.3f} |")
    lines.append("")
    lines.append(f"Training: Adam, {runs[0]['steps'] if runs else '?'} steps of batch "
                 f"{runs[0]['batch'] if runs else '?'}, same trials per seed for every model.")
    text = "\n".join(lines)
    atomic_write(RESULTS / "amsu_memory_task.md", lambda fh: fh.write((text + "\n").encode()))
    plot(runs)
    return text


def plot(runs: list) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    Ts = sorted({r["T"] for r in runs})
    fig, axes = plt.subplots(1, len(Ts), figsize=(6 * len(Ts), 4), squeeze=False)
    colors = {"lif": "tab:gray", "lif_slow": "tab:blue", "alif": "tab:green", "amsu": "tab:red"}
    for ax, T in zip(axes[0], Ts):
        for kind, color in colors.items():
            sel = [r for r in runs if r["T"] == T and r["model"] == kind]
            for i, r in enumerate(sel):
                smooth = np.convolve(r["loss"], np.ones(10) / 10, mode="valid")
                ax.plot(smooth, color=color, alpha=0.7, label=kind if i == 0 else None)
        ax.axhline(np.log(4), color="k", ls=":", lw=0.8, label="chance")
        ax.set_title(f"T = {T} steps")
        ax.set_xlabel("training step")
        ax.set_ylabel("cross-entropy (10-step mean)")
        ax.legend()
    fig.tight_layout()
    atomic_write(RESULTS / "amsu_memory_task.png", lambda fh: fig.savefig(fh, dpi=110, format="png"))
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--T", type=int, nargs="*", default=[100, 400])
    ap.add_argument("--models", nargs="*", default=["lif", "lif_slow", "amsu"])
    ap.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--report", action="store_true", help="only aggregate the stored runs")
    args = ap.parse_args()
    if not args.report:
        for T in args.T:
            for seed in args.seeds:
                for kind in args.models:
                    t0 = time.perf_counter()
                    r = run(T, kind, seed, args.steps, args.batch, args.lr)
                    runs = [x for x in load_runs()
                            if (x["T"], x["model"], x["seed"]) != (T, kind, seed)] + [r]
                    save_runs(runs)
                    print(f"T={T} {kind:8s} seed {seed}: accuracy {r['accuracy']:.3f} "
                          f"({time.perf_counter() - t0:.0f} s)", flush=True)
    print(report())


if __name__ == "__main__":
    main()
