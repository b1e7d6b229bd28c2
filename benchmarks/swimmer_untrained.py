"""The untrained NCAP circuit (constant init) against zero and random torques, and its gait.

16 fixed episodes of 1000 steps on the 6-link swim task (the same start poses for every policy:
paired comparisons), in this process so the random-torque generator is reproducible. Writes
``untrained.json`` and ``untrained.md`` to ``--out``: returns (mean, std, per episode), the ratios
NCAP / zero and NCAP / random, paired differences with 95 % t-intervals, and the gait of every NCAP
episode (lag of each joint behind the one in front by cross-correlation over steps 100-999, head
period by autocorrelation).

    python benchmarks/swimmer_untrained.py
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from neuro._io import write_text
from neuro.models.ncap.analysis import dominant_period, wave_lags
from neuro.models.ncap.env import SwimmerBatch, rollout
from neuro.models.ncap.es import EVAL_SEED0
from neuro.models.ncap.policies import build_policy

REPO = Path(__file__).resolve().parents[1]


def mean_ci(values) -> dict:
    from scipy import stats

    v = np.asarray(values, dtype=np.float64)
    half = float(stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return {"mean": float(v.mean()), "ci95": half}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=16)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--links", type=int, default=6)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "swimmer")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    seeds = [EVAL_SEED0 + k for k in range(args.episodes)]
    batch = SwimmerBatch(len(seeds), "swim", args.links)
    results, start = {}, time.perf_counter()
    for kind in ("ncap", "zero", "random"):
        policy = build_policy(kind, args.links, **({"seed": 0} if kind == "random" else {}))
        results[kind] = rollout(policy, seeds, args.steps, batch=batch, record=(kind == "ncap"))
    ncap = results["ncap"]
    lags = np.stack([wave_lags(ncap.joints[100:, b], max_lag=30) for b in range(len(seeds))])
    periods = [dominant_period(ncap.joints[100:, b, 0]) for b in range(len(seeds))]
    returns = {k: r.returns for k, r in results.items()}
    summary = {
        "links": args.links, "episodes": len(seeds), "steps": args.steps, "seeds": [seeds[0], seeds[-1]],
        "returns": {k: {"mean": float(v.mean()), "std": float(v.std(ddof=1)), "per_episode": v.tolist()}
                    for k, v in returns.items()},
        "ratio_ncap_to_zero": float(returns["ncap"].mean() / returns["zero"].mean())
        if returns["zero"].mean() > 0 else None,
        "ratio_ncap_to_random": float(returns["ncap"].mean() / returns["random"].mean()),
        "ncap_minus_zero": mean_ci(returns["ncap"] - returns["zero"]),
        "ncap_minus_random": mean_ci(returns["ncap"] - returns["random"]),
        "gait": {"lags_per_episode": lags.tolist(), "mean_lag_per_joint": lags.mean(0).tolist(),
                 "all_lags_positive": bool(np.all(lags > 0)), "head_period_per_episode": periods},
        "seconds": time.perf_counter() - start,
    }
    write_text(args.out / "untrained.json", json.dumps(summary, indent=1))
    r = summary["returns"]
    ratio_zero = summary["ratio_ncap_to_zero"]
    md = [f"Untrained NCAP (constant init) vs zero / random torques, {args.links} links, "
          f"{len(seeds)} episodes of {args.steps} steps (same start poses):", "",
          "| policy | return mean | std |", "|---|---|---|"]
    md += [f"| {k} | {v['mean']:.1f} | {v['std']:.1f} |" for k, v in r.items()]
    md += ["", f"NCAP / random = {summary['ratio_ncap_to_random']:.1f}x; NCAP / zero = "
           + (f"{ratio_zero:.1f}x" if ratio_zero is not None else "undefined (zero torque returns 0)")
           + f"; NCAP - random (paired) = {summary['ncap_minus_random']['mean']:.1f} ± "
           f"{summary['ncap_minus_random']['ci95']:.1f} (95 % CI).",
           f"Wave: lag of joint i behind joint i-1 (steps, mean over episodes) "
           f"{[round(v, 1) for v in summary['gait']['mean_lag_per_joint']]}, all positive: "
           f"{summary['gait']['all_lags_positive']}; head period {sorted(set(periods))} steps."]
    write_text(args.out / "untrained.md", "\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
