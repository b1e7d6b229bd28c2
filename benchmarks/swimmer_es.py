"""Evolution strategies on the 6-link swimmer: NCAP vs its ablations vs an ES-trained MLP.

Configurations (all: antithetic OpenAI-ES, population 8, sigma 0.02, Adam lr 0.01, weight decay
0.005, 1000-step episodes, one episode per perturbation, rollouts on 2 worker processes):

* ``ncap``           shared weights (4 parameters), sign constraints, constant init (+1 / -1)
* ``ncap_nosign``    the paper's key ablation: the same ES without the sign constraints (constant
                     init then means random +-1 per weight, as in the paper's code)
* ``ncap_unshared``  one weight per synapse (30 parameters), sign constraints, constant init
* ``mlp``            24 -> 256 -> 256 -> 5 ReLU/tanh MLP (73,477 parameters) on the full observation
                     plus time, trained with the SAME ES (an ES baseline: the paper trained its MLPs
                     with PPO/DDPG, which does not fit this CPU budget)

``run`` trains the given configurations and seeds into ``--work`` (one resumable run folder each;
an existing folder is resumed, so a killed run continues), then evaluates the initial and the final
weights on 16 fixed episodes (the same start poses for every run). ``summarize`` collects everything
into ``--out``: learning curves (CSV + PNG), the return-vs-parameters plot and a JSON/Markdown
summary with paired differences (same ES seed, same episodes) and 95 % t-intervals over seeds.

    python benchmarks/swimmer_es.py run --configs ncap --seeds 0 1 2 --generations 30
    python benchmarks/swimmer_es.py summarize
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from neuro._io import pyplot, save_figure, write_text
from neuro.models.ncap.es import (
    EVAL_SEED0,
    ESConfig,
    flat_parameters,
    load_flat_,
    load_run,
    policy_from_spec,
    train_es,
)
from neuro.models.ncap.policies import parameter_count
from neuro.models.ncap.transfer import evaluate_policy

CONFIGS = {
    "ncap": {"policy": "ncap"},
    "ncap_nosign": {"policy": "ncap", "sign_constraints": False},
    "ncap_unshared": {"policy": "ncap", "weight_sharing": False},
    "mlp": {"policy": "mlp", "hidden": [256, 256]},
}
LABELS = {"ncap": "NCAP (4 params)", "ncap_nosign": "NCAP without sign constraints (4)",
          "ncap_unshared": "NCAP unshared (30)", "mlp": "MLP 73,477 params (ES baseline)"}
COLORS = {"ncap": "tab:blue", "ncap_nosign": "tab:red", "ncap_unshared": "tab:green", "mlp": "tab:gray"}
FINAL_EPISODES = 16
REPO = Path(__file__).resolve().parents[1]


def _t95(n: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.975, n - 1)) if n > 1 else math.nan


def mean_ci(values) -> dict:
    v = np.asarray(values, dtype=np.float64)
    half = _t95(v.size) * v.std(ddof=1) / math.sqrt(v.size) if v.size > 1 else math.nan
    return {"mean": float(v.mean()), "ci95": float(half), "n": int(v.size)}


def run(args: argparse.Namespace) -> None:
    seeds = [EVAL_SEED0 + k for k in range(FINAL_EPISODES)]
    for name in args.configs:
        for seed in args.seeds:
            folder = args.work / name / f"seed{seed}"
            config = ESConfig(**CONFIGS[name], seed=seed, generations=args.generations,
                              workers=args.workers, eval_episodes=4, eval_every=5)
            resume = (folder / "checkpoint.pt").exists()
            start = time.perf_counter()
            result = train_es(config, folder, resume=resume, progress=not args.no_progress)
            spec = config.policy_spec()
            initial = policy_from_spec(spec)
            final = load_flat_(policy_from_spec(spec), result.theta)
            r_initial = evaluate_policy(initial, spec, seeds, config.episode_steps, args.workers)
            r_final = evaluate_policy(final, spec, seeds, config.episode_steps, args.workers)
            info = {"config": name, "seed": seed, "parameters": parameter_count(final),
                    "generations": config.generations, "training_episodes": result.history[-1]["episodes"],
                    "env_steps": result.history[-1]["env_steps"],
                    "es_seconds": result.history[-1]["seconds"],
                    "initial_returns": r_initial.tolist(), "final_returns": r_final.tolist(),
                    "theta": flat_parameters(final).tolist() if parameter_count(final) <= 64 else None}
            write_text(folder / "final.json", json.dumps(info, indent=1))
            print(f"{name} seed {seed}: initial {r_initial.mean():.1f} -> final {r_final.mean():.1f} "
                  f"({info['training_episodes']} training episodes, {time.perf_counter() - start:.0f} s)",
                  flush=True)


def _collect(work: Path) -> tuple[dict, list]:
    finals, curves = {}, []
    for name in CONFIGS:
        for folder in sorted((work / name).glob("seed*")):
            if not (folder / "final.json").is_file():
                continue
            info = json.loads((folder / "final.json").read_text())
            finals.setdefault(name, []).append(info)
            for row in load_run(folder)["history"]:
                curves.append({"config": name, "seed": info["seed"], **{k: row[k] for k in (
                    "generation", "episodes", "env_steps", "pop_mean", "eval_mean", "seconds")}})
    return finals, curves


def summarize(args: argparse.Namespace) -> None:
    finals, curves = _collect(args.work)
    if not finals:
        sys.exit(f"no finished runs under {args.work}")
    out = args.out
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(curves[0]))
    writer.writeheader()
    writer.writerows(curves)
    write_text(out / "es_curves.csv", buffer.getvalue())

    summary = {"final_episodes": FINAL_EPISODES, "eval_seeds": [EVAL_SEED0, EVAL_SEED0 + FINAL_EPISODES - 1],
               "configs": {}}
    for name, runs in finals.items():
        runs = sorted(runs, key=lambda r: r["seed"])
        init = [np.mean(r["initial_returns"]) for r in runs]
        final = [np.mean(r["final_returns"]) for r in runs]
        summary["configs"][name] = {
            "label": LABELS[name], "parameters": runs[0]["parameters"], "seeds": [r["seed"] for r in runs],
            "training_episodes": runs[0]["training_episodes"], "env_steps": runs[0]["env_steps"],
            "es_seconds_per_run": float(np.mean([r["es_seconds"] for r in runs])),
            "initial": mean_ci(init), "final": mean_ci(final),
            "improvement": mean_ci(np.subtract(final, init)),
            "final_per_seed": [float(v) for v in final], "initial_per_seed": [float(v) for v in init],
            "theta_per_seed": [r["theta"] for r in runs] if runs[0]["theta"] is not None else None}
    if "ncap" in finals:
        ref = {r["seed"]: np.mean(r["final_returns"]) for r in finals["ncap"]}
        for name, runs in finals.items():
            if name == "ncap":
                continue
            paired = [ref[r["seed"]] - np.mean(r["final_returns"]) for r in runs if r["seed"] in ref]
            summary["configs"][name]["ncap_minus_this_final"] = mean_ci(paired)
    write_text(out / "es_summary.json", json.dumps(summary, indent=1))
    write_text(out / "es_summary.md", _markdown(summary))
    _plot_curves(curves, finals, out / "es_curves.png")
    _plot_params(summary, out / "return_vs_parameters.png")
    print(_markdown(summary))


def _markdown(summary: dict) -> str:
    lines = ["| configuration | parameters | training episodes | initial return | final return | "
             "final - initial | NCAP - this (paired) |", "|---|---|---|---|---|---|---|"]
    def fmt(s: dict) -> str:
        return f"{s['mean']:.1f} ± {s['ci95']:.1f}"

    for c in summary["configs"].values():
        paired = fmt(c["ncap_minus_this_final"]) if "ncap_minus_this_final" in c else "—"
        lines.append(f"| {c['label']} | {c['parameters']:,} | {c['training_episodes']} | {fmt(c['initial'])} "
                     f"| {fmt(c['final'])} | {fmt(c['improvement'])} | {paired} |")
    lines.append("")
    lines.append(f"Returns: mean over seeds of the mean over {summary['final_episodes']} fixed episodes "
                 "(1000 steps, max 1000); ± = 95 % t-interval over seeds.")
    return "\n".join(lines) + "\n"


def _plot_curves(curves: list, finals: dict, path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name in finals:
        rows = [r for r in curves if r["config"] == name and not math.isnan(r["eval_mean"])]
        seeds = sorted({r["seed"] for r in rows})
        episodes = sorted({r["episodes"] for r in rows})
        grid = np.array([[next(r["eval_mean"] for r in rows if r["seed"] == s and r["episodes"] == e)
                          for e in episodes] for s in seeds])
        ax.plot(episodes, grid.mean(0), "o-", ms=3, color=COLORS[name],
                label=f"{LABELS[name]}, {len(seeds)} seeds")
        ax.fill_between(episodes, grid.min(0), grid.max(0), color=COLORS[name], alpha=0.2)
    ax.set_xlabel("training episodes (1000 steps each)")
    ax.set_ylabel("return on 4 fixed eval episodes (max 1000)")
    ax.set_title("6-link swim, evolution strategies (band: min-max over seeds)", fontsize=10)
    ax.legend(fontsize=8, loc="center right")
    ax.set_ylim(bottom=0)
    fig.tight_layout()
    save_figure(fig, path)


def _plot_params(summary: dict, path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, c in summary["configs"].items():
        x = c["parameters"]
        ax.errorbar([x], [c["final"]["mean"]], yerr=[[c["final"]["ci95"]]], fmt="o", color=COLORS[name],
                    label=f"{LABELS[name]}: after {c['training_episodes']} episodes", capsize=3)
        ax.plot([x], [c["initial"]["mean"]], "o", mfc="none", color=COLORS[name])
    ax.set_xscale("log")
    ax.set_xlabel("learnable parameters")
    ax.set_ylabel(f"return ({summary['final_episodes']} fixed episodes)")
    ax.set_title("return vs parameters (filled: after ES, hollow: initial)", fontsize=10)
    ax.legend(fontsize=7, loc="center right")
    ax.set_ylim(0, 1000)
    fig.tight_layout()
    save_figure(fig, path)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="action", required=True)
    r = sub.add_parser("run")
    r.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    r.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    r.add_argument("--generations", type=int, default=30)
    r.add_argument("--workers", type=int, default=2)
    r.add_argument("--work", type=Path, default=REPO / "runs" / "swimmer_es")
    r.add_argument("--no-progress", action="store_true")
    s = sub.add_parser("summarize")
    s.add_argument("--work", type=Path, default=REPO / "runs" / "swimmer_es")
    s.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "swimmer")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    run(args) if args.action == "run" else summarize(args)


if __name__ == "__main__":
    main()
