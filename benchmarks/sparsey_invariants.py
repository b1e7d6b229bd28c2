"""Sparsey's behavioural invariants (spec section 1.6) measured: the one-mac fixture, the SISC curve,
fixed time per frame, capacity vs stored items for several Q, K and input sparsities.

    NUMBA_NUM_THREADS=1 python benchmarks/sparsey_invariants.py [--out benchmarks/results/sparsey]

Writes ``invariants.json``, ``invariants.md``, ``sisc.png``, ``capacity.png`` and ``fixed_time.png``.
"""

from __future__ import annotations

import argparse
import json
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
from neuro.models.sparsey import CSAParams, capacity_curve, one_mac_fixture, single_mac, sisc_curve  # noqa: E402
from neuro.models.sparsey.analysis import bits, random_inputs  # noqa: E402

SISC_SETTINGS = {"default (phi 0.9, s 60)": CSAParams(),
                 "phi 0.7, s 10": CSAParams(inflection=0.7, steepness=10.0),
                 "phi 0.5, s 28": CSAParams(inflection=0.5, steepness=28.0)}
COUNTS = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000]
CAPACITY = {"K": [dict(Q=8, K=k, s=6) for k in (8, 16, 32, 64)],
            "Q": [dict(Q=q, K=16, s=6) for q in (4, 8, 16)],
            "sparsity": [dict(Q=8, K=16, s=s) for s in (3, 6, 12)]}


def fixture(seeds: int) -> dict:
    rows = []
    for seed in range(seeds):
        r = one_mac_fixture(seed)
        partial = r["network"].recognise_items(bits(16, [(0, 1, 5)]))
        rows.append({"distinct": len({tuple(c) for c in r["learned"].tolist()}),
                     "exact": bool(torch.equal(r["recognised"], r["learned"])),
                     "G_learned": float(r["G_learned"].mean()), "G_novel": r["G_novel"],
                     "G_two_of_three": float(partial.familiarity[0, 0])})
    return {"seeds": seeds, "runs": rows}


def fixed_time(counts, rounds: int = 3) -> dict:
    rng = np.random.default_rng(0)
    n, s = 200, 8
    items = random_inputs(rng, max(counts), n, s)
    probe = random_inputs(rng, 2000, n, s)
    extra = random_inputs(rng, 500, n, s)
    net = single_mac(n, 8, 64, seed=0)
    res = {"count": [], "recognise_us": [], "learn_us": []}
    done = 0
    for c in counts:
        net.learn_items(items[done:c])
        done = c
        saved = net.state_dict()
        rec, learn = [], []
        for _ in range(rounds):
            t0 = time.perf_counter()
            net.recognise_items(probe)
            rec.append((time.perf_counter() - t0) / len(probe))
            t0 = time.perf_counter()
            net.learn_items(extra)
            learn.append((time.perf_counter() - t0) / len(extra))
            net.load_state_dict(saved)
        res["count"].append(c)
        res["recognise_us"].append(1e6 * float(np.median(rec)))
        res["learn_us"].append(1e6 * float(np.median(learn)))
    return res


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "sparsey"))
    p.add_argument("--trials", type=int, default=200, help="SISC trials per setting")
    p.add_argument("--seeds", type=int, default=3, help="capacity seeds per configuration")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    res: dict = {"hardware": cpu_name(), "fixture": fixture(10)}
    Q, K, s, n = 8, 8, 8, 64
    res["sisc"] = {"n": n, "s": s, "Q": Q, "K": K, "trials": args.trials, "chance": Q / K, "curves": {}}
    for name, csa in SISC_SETTINGS.items():
        trials = sisc_curve(n=n, s=s, Q=Q, K=K, trials=args.trials, csa=csa, seed=0, per_trial=True)
        res["sisc"]["curves"][name] = {"mean": trials.mean(0).tolist(),
                                       "ci95": (1.96 * trials.std(0, ddof=1) / np.sqrt(len(trials))).tolist()}
    res["capacity"] = {"n": 64, "counts": COUNTS, "panels": {}}
    for panel, configs in CAPACITY.items():
        rows = []
        for cfg in configs:
            runs = [capacity_curve(COUNTS, n=64, s=cfg["s"], Q=cfg["Q"], K=cfg["K"], seed=seed)
                    for seed in range(args.seeds)]
            rows.append({**cfg, **{key: np.mean([r[key] for r in runs], 0).tolist()
                                   for key in ("exact", "identified", "overlap", "saturation")}})
        res["capacity"]["panels"][panel] = rows
    res["fixed_time"] = fixed_time([10, 100, 1000, 10_000])
    write_text(out / "invariants.json", json.dumps(res, indent=2) + "\n")
    plot(res, out)
    write_text(out / "invariants.md", table(res))
    print(table(res))
    return 0


def plot(res: dict, out: Path) -> None:
    plt = pyplot()
    sisc = res["sisc"]
    fig, ax = plt.subplots(figsize=(5.5, 4))
    o = np.arange(sisc["s"] + 1) / sisc["s"]
    for name, c in sisc["curves"].items():
        m, e = np.array(c["mean"]), np.array(c["ci95"])
        ax.plot(o, m, marker="o", label=name)
        ax.fill_between(o, m - e, m + e, alpha=0.2)
    ax.axhline(sisc["chance"], color="grey", ls=":", label=f"chance Q/K = {sisc['chance']:g}")
    ax.set(xlabel=f"input overlap with the learned input (fraction of {sisc['s']} bits)",
           ylabel=f"code intersection (cells of Q = {sisc['Q']})",
           title=f"SISC: one mac Q={sisc['Q']} K={sisc['K']}, {sisc['trials']} trials (95% CI)")
    ax.legend(fontsize=8)
    save_figure(fig, out / "sisc.png")
    panels = res["capacity"]["panels"]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), sharey=True)
    for ax, (panel, rows) in zip(axes, panels.items()):
        for r in rows:
            label = f"Q={r['Q']} K={r['K']} s={r['s']}/64"
            line, = ax.plot(res["capacity"]["counts"], r["exact"], marker="o", label=label)
            ax.plot(res["capacity"]["counts"], r["identified"], ls="--", color=line.get_color())
        ax.set(xscale="log", xlabel="stored items", title=f"varying {panel}")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("retrieval: exact code (solid), identified (dashed)")
    save_figure(fig, out / "capacity.png")
    ft = res["fixed_time"]
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.plot(ft["count"], ft["recognise_us"], marker="o", label="recognition (max-V)")
    ax.plot(ft["count"], ft["learn_us"], marker="s", label="learning (probabilistic)")
    ax.set(xscale="log", xlabel="stored items", ylabel="time per frame (us)", ylim=(0, None),
           title="Fixed time per frame: one mac Q=8 K=64, 200 inputs")
    ax.legend()
    save_figure(fig, out / "fixed_time.png")


def table(res: dict) -> str:
    fx = res["fixture"]["runs"]
    lines = [f"# Sparsey invariants ({res['hardware']})", "",
             "`NUMBA_NUM_THREADS=1 python benchmarks/sparsey_invariants.py`", "",
             f"1. One-mac fixture (Q=5, K=8, 16 bits, 4 learned 3-bit inputs), {len(fx)} seeds: "
             f"{sum(r['distinct'] == 4 for r in fx)}/{len(fx)} with 4 distinct codes, "
             f"{sum(r['exact'] for r in fx)}/{len(fx)} reinstated exactly by max-V, "
             f"G learned {np.mean([r['G_learned'] for r in fx]):.3f}, G novel (unused bits) "
             f"{np.mean([r['G_novel'] for r in fx]):.3f}, G with 2 of 3 bits "
             f"{np.mean([r['G_two_of_three'] for r in fx]):.3f}.", ""]
    sisc = res["sisc"]
    lines += [f"2. SISC (one mac Q={sisc['Q']} K={sisc['K']}, {sisc['s']} of {sisc['n']} bits, "
              f"{sisc['trials']} trials; chance {sisc['chance']:g}): mean code intersection (cells) per "
              "input overlap 0..8", "",
              "| setting | " + " | ".join(str(i) for i in range(sisc["s"] + 1)) + " |",
              "|---" * (sisc["s"] + 2) + "|"]
    for name, c in sisc["curves"].items():
        lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in c["mean"]) + " |")
    ft = res["fixed_time"]
    lines += ["", "3. Fixed time (one mac Q=8 K=64, 200 inputs, 8 active): us per frame", "",
              "| stored | " + " | ".join(str(c) for c in ft["count"]) + " |",
              "|---" * (len(ft["count"]) + 1) + "|",
              "| recognition | " + " | ".join(f"{v:.1f}" for v in ft["recognise_us"]) + " |",
              "| learning | " + " | ".join(f"{v:.1f}" for v in ft["learn_us"]) + " |", "",
              "4. Capacity (one mac over 64 inputs; exact code / identified, mean of seeds)", "",
              "| Q | K | s | " + " | ".join(str(c) for c in res["capacity"]["counts"]) + " |",
              "|---" * (len(res["capacity"]["counts"]) + 3) + "|"]
    for rows in res["capacity"]["panels"].values():
        for r in rows:
            cells = (f"{e:.2f} / {i:.2f}" for e, i in zip(r["exact"], r["identified"]))
            lines.append(f"| {r['Q']} | {r['K']} | {r['s']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
