"""Redraw the figures of Ahmad & Hawkins (2016) from :mod:`neuro.sdr.theory`, with Monte-Carlo dots.

    python -m neuro.sdr.figures --out DIR [--trials 200000] [--seed 0] [--no-simulation]

writes ``effect_of_n.png``, ``effect_of_s.png``, ``unions.png``, ``noise.png`` and
``optimal_theta.png`` (log-scale probability axes, as the paper) and ``figures.json`` with every
plotted number. Lines are the exact formulas; dots are :mod:`neuro.sdr.montecarlo` estimates from
real patterns and segments (drawn where at least ~20 hits are expected with ``--trials``, or with
fewer trials where ``trials x work per trial`` would exceed :data:`MAX_WORK`; error bars are 95 %
Wilson intervals). Setups (the paper's):

* effect of n: ``s = 24``, ``theta = 12``, ``a`` in {64, 128, 256} and the dense case
  ``a = n / 4``, ``n = 300 ... 19,900`` in steps of 200 (the paper's figure labels the dense
  curve ``a = n/2``, but the numbers its plot script stores are those of ``a = 0.25 n``);
* effect of s: ``theta = s / 2``, ``s = 2 ... 30``, (a, n) in {(32, 2000), (32, 4000), (512, 16000),
  (4000, 16000)};
* unions: ``a = 200``, ``s = 25``, ``theta = 15``, ``M = 1 ... 19`` stored patterns,
  ``n`` in {1000, 10000, 20000}: the paper's estimate (segment of ``round(s_M)`` synapses), the
  exact average over the union's size and simulated unions of stored subsamples;
* noise: ``a = 128``, ``s = 30``, ``theta`` in {8, 12, 16}, ``v = round(f * 128)`` moved bits for
  the paper's 16 noise levels ``f = 0.047 ... 0.797``;
* optimal theta: the median false-match probability over the grid of
  :data:`neuro.sdr.theory.OPTIMAL_THETA_GRID` for ``theta = 3 ... 24``, the ``<= 1e-9`` region shaded.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from pathlib import Path

from neuro._io import pyplot, save_figure, write_text
from neuro.sdr import montecarlo as mc
from neuro.sdr import theory

NOISE_LEVELS = [0.046875, 0.1015625, 0.1484375, 0.203125, 0.25, 0.296875, 0.3515625, 0.3984375,
                0.453125, 0.5, 0.546875, 0.6015625, 0.6484375, 0.703125, 0.75, 0.796875]
MIN_EXPECTED_HITS = 20
#: cap on the work of one dot, ``trials * cost`` (cost: random draws and cell visits per trial); a
#: dot on a dense curve (``a = 4000``) gets fewer trials instead of hours of CPU
MAX_WORK = 100_000_000


def _simulate(p: float, trials: int, run: Callable[[int], mc.Estimate], cost: int = 1) -> dict | None:
    """A Monte-Carlo dot of ``min(trials, MAX_WORK // cost)`` trials when at least
    ``MIN_EXPECTED_HITS`` hits (and misses) are expected, else None."""
    trials = min(int(trials), MAX_WORK // max(1, int(cost)))
    if trials <= 0 or p * trials < MIN_EXPECTED_HITS or p > 1 - MIN_EXPECTED_HITS / trials:
        return None
    est = run(trials)
    lo, hi = est.interval()
    return {"p": est.p, "lo": lo, "hi": hi, "hits": est.hits, "trials": est.trials,
            "z": est.z(p)}


def _dots(ax, xs, sims, color) -> None:
    pts = [(x, s) for x, s in zip(xs, sims) if s is not None and s["hits"] > 0]
    if pts:
        x = [p[0] for p in pts]
        y = [p[1]["p"] for p in pts]
        err = [[p[1]["p"] - p[1]["lo"] for p in pts], [p[1]["hi"] - p[1]["p"] for p in pts]]
        ax.errorbar(x, y, yerr=err, fmt="o", ms=4, color=color, mfc="none", lw=0.8)


def effect_of_n(trials: int, seed: int) -> dict:
    ns = list(range(300, 20_000, 200))
    picks = set(ns[:: max(1, len(ns) // 6)])
    curves = {}
    for label, dense in (("a=64", 64), ("a=128", 128), ("a=256", 256), ("a=n/4", None)):
        actives = [n // 4 if dense is None else dense for n in ns]
        p = [theory.p_false_match(n, a, 24, 12) for n, a in zip(ns, actives)]
        sims = [_simulate(pi, trials, lambda t, n=n, a=a: mc.simulate_false_match(
                    n, a, 24, 12, trials=t, seed=seed + n), cost=2 * a + 24) if n in picks else None
                for n, a, pi in zip(ns, actives, p)]
        curves[label] = {"n": ns, "a": actives, "p": p, "simulated": sims}
    return {"s": 24, "theta": 12, "curves": curves}


def effect_of_s(trials: int, seed: int) -> dict:
    ss = list(range(2, 31, 2))
    curves = {}
    for a, n in ((32, 2000), (32, 4000), (512, 16000), (4000, 16000)):
        p = [theory.p_false_match(n, a, s, s // 2) for s in ss]
        sims = [_simulate(pi, trials, lambda t, s=s, a=a, n=n: mc.simulate_false_match(
                    n, a, s, s // 2, trials=t, seed=seed + s), cost=2 * a + s) for s, pi in zip(ss, p)]
        curves[f"a={a}, n={n}"] = {"s": ss, "p": p, "simulated": sims}
    return {"theta": "s/2", "curves": curves}


def unions(trials: int, seed: int) -> dict:
    ms = list(range(1, 20))
    curves = {}
    for n in (1000, 10_000, 20_000):
        estimate = [theory.p_false_match_union(n, 200, 25, 15, m) for m in ms]
        exact = [theory.p_false_match_union_exact(n, 200, 25, 15, m) for m in ms]
        sims = [_simulate(pe, trials, lambda t, m=m, n=n: mc.simulate_false_match(
                    n, 200, 25, 15, patterns=m, trials=t, seed=seed + m), cost=225 * m + 400)
                for m, pe in zip(ms, exact)]
        curves[f"n={n}"] = {"M": ms, "paper_estimate": estimate, "exact": exact,
                            "union_size": [theory.union_segment_size(n, 25, m) for m in ms],
                            "simulated": sims}
    return {"a": 200, "s": 25, "theta": 15, "curves": curves}


def noise(trials: int, seed: int) -> dict:
    vs = [round(f * 128) for f in NOISE_LEVELS]
    curves = {}
    for theta in (8, 12, 16):
        p = [theory.p_false_negative(128, 30, theta, v) for v in vs]
        sims = [_simulate(pi, trials, lambda t, v=v, th=theta: mc.simulate_false_negative(
                    128, 30, th, v, n=1024, trials=t, seed=seed + v), cost=2 * 128 + 30 + 2 * v)
                for v, pi in zip(vs, p)]
        curves[f"theta={theta}"] = {"noise": NOISE_LEVELS, "v": vs, "p": p, "simulated": sims}
    return {"a": 128, "s": 30, "curves": curves}


def optimal_theta() -> dict:
    thetas = list(range(3, 25))
    medians = theory.false_match_medians(thetas)
    grid = {k: list(v) for k, v in theory.OPTIMAL_THETA_GRID.items()}
    return {"theta": thetas, "median": [medians[t] for t in thetas], "grid": grid}


def _log_axes(ax, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_yscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(alpha=0.3, which="both", lw=0.4)
    ax.legend(fontsize=7)


def draw(data: dict, out: Path) -> list[Path]:
    """The five PNGs from the numbers of :func:`compute`."""
    plt = pyplot()
    paths = []

    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    for k, (label, c) in enumerate(data["effect_of_n"]["curves"].items()):
        ax.plot(c["n"], c["p"], color=f"C{k}", label=label)
        _dots(ax, c["n"], c["simulated"], f"C{k}")
    _log_axes(ax, "number of cells n", "probability of a false match",
              "Effect of n (s = 24, theta = 12)")
    paths.append(save_figure(fig, out / "effect_of_n.png"))

    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    for k, (label, c) in enumerate(data["effect_of_s"]["curves"].items()):
        ax.plot(c["s"], c["p"], color=f"C{k}", label=label)
        _dots(ax, c["s"], c["simulated"], f"C{k}")
    _log_axes(ax, "synapses on the segment s", "probability of a false match",
              "Effect of s (theta = s / 2)")
    paths.append(save_figure(fig, out / "effect_of_s.png"))

    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    for k, (label, c) in enumerate(data["unions"]["curves"].items()):
        ax.plot(c["M"], c["paper_estimate"], color=f"C{k}", label=f"{label}: round(s_M) estimate")
        ax.plot(c["M"], c["exact"], color=f"C{k}", ls="--", lw=0.9, label=f"{label}: exact")
        _dots(ax, c["M"], c["simulated"], f"C{k}")
    _log_axes(ax, "patterns stored on the segment M", "probability of a false match",
              "Unions (a = 200, s = 25, theta = 15)")
    paths.append(save_figure(fig, out / "unions.png"))

    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    for k, (label, c) in enumerate(data["noise"]["curves"].items()):
        shown = [(f, p) for f, p in zip(c["noise"], c["p"]) if p > 0]
        ax.plot([f for f, _ in shown], [p for _, p in shown], color=f"C{k}", label=label)
        _dots(ax, c["noise"], c["simulated"], f"C{k}")
    _log_axes(ax, "noise (fraction of the a = 128 active bits moved)",
              "probability of a false negative", "Noise robustness (s = 30)")
    paths.append(save_figure(fig, out / "noise.png"))

    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    opt = data["optimal_theta"]
    ax.plot(opt["theta"], opt["median"], "k-", marker=".", label="median over the grid")
    ax.axhspan(min(v for v in opt["median"] if v > 0) / 10, 1e-9, color="0.85",
               label="error <= 1e-9")
    _log_axes(ax, "synapses needed for a dendritic spike theta", "median false-match probability",
              "Optimal threshold")
    paths.append(save_figure(fig, out / "optimal_theta.png"))
    return paths


def compute(trials: int = 200_000, seed: int = 0) -> dict:
    """Every number of the five figures (``trials = 0``: theory only)."""
    return {"trials": trials, "seed": seed, "effect_of_n": effect_of_n(trials, seed),
            "effect_of_s": effect_of_s(trials, seed), "unions": unions(trials, seed),
            "noise": noise(trials, seed), "optimal_theta": optimal_theta()}


def worst_z(data: dict) -> float:
    """The largest ``|z|`` of a Monte-Carlo dot against its exact value."""
    zs = []

    def walk(node):
        if isinstance(node, dict):
            if "z" in node and "hits" in node:
                zs.append(abs(node["z"]))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(data)
    return max(zs, default=math.nan)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m neuro.sdr.figures", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the PNGs and figures.json")
    parser.add_argument("--trials", type=int, default=200_000, help="Monte-Carlo trials per dot")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-simulation", action="store_true", help="theory lines only")
    args = parser.parse_args(argv)
    data = compute(0 if args.no_simulation else args.trials, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    paths = draw(data, args.out)
    write_text(args.out / "figures.json", json.dumps(data, indent=1))
    print("\n".join(str(p) for p in paths))
    if not args.no_simulation:
        print(f"largest |z| of a Monte-Carlo dot against the exact value: {worst_z(data):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
