"""CUBA statistics, neuro vs Brian2: mean rate and ISI CV over several seeds (1 s each).

Writes ``benchmarks/results/cuba_rates.json`` / ``.md``; ``tests/test_sim_cuba.py`` checks neuro's
rate band against the Brian2 figures stored there. Brian2 runs in its own interpreter (see
``peers/common.py: brian2_python``) with the numpy code-generation target (the statistics do not
depend on the target).

    python benchmarks/cuba_rates.py --seeds 10
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from peers.common import PEERS, brian2_python, cpu_name, run_json, write_results
from tqdm import tqdm

from neuro.sim.examples import cuba
from neuro.sim.stats import isi_cv


def neuro_stats(seed: int, dtype: torch.dtype) -> dict:
    c = cuba(seed=seed, dtype=dtype)
    c.net.run(1.0, progress=False)
    return {"seed": seed, "rate_hz": c.rate.mean_rate(), "isi_cv": isi_cv(c.spikes.times, c.spikes.indices),
            "spikes": c.spikes.num_spikes}


def summary(rows: list[dict]) -> dict:
    rates = [r["rate_hz"] for r in rows]
    return {"rate_mean_hz": statistics.mean(rates), "rate_std_hz": statistics.stdev(rates),
            "isi_cv_mean": statistics.mean(r["isi_cv"] for r in rows), "seeds": len(rows)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    args = ap.parse_args()
    seeds = range(1, args.seeds + 1)
    out = {"machine": cpu_name(), "date": time.strftime("%Y-%m-%d"),
           "network": "Brian2 example CUBA, 4000 LIF, 1 s"}
    exe = brian2_python()
    if exe is None:
        raise SystemExit("Brian2 is not importable: see benchmarks/peers/common.py: brian2_python")
    b2 = [run_json([exe, str(PEERS / "brian2_cuba.py"), "--target", "numpy", "--seed", str(s)])
          for s in tqdm(seeds, desc="brian2")]
    out["brian2"] = {"version": b2[0]["simulator"], "runs": b2, **summary(b2)}
    for name, dtype in (("neuro_float32", torch.float32), ("neuro_float64", torch.float64)):
        rows = [neuro_stats(s, dtype) for s in tqdm(seeds, desc=name)]
        out[name] = {"runs": rows, **summary(rows)}
    lines = [f"# CUBA statistics, neuro vs Brian2 (1 s, 4000 neurons, seeds 1..{args.seeds:d})", "",
             f"Machine: {out['machine']}, {out['date']}.", "",
             "| simulator | mean rate (Hz) | std over seeds | mean ISI CV |", "|---|---|---|---|"]
    for key in ("brian2", "neuro_float32", "neuro_float64"):
        s = out[key]
        lines.append(f"| {key} | {s['rate_mean_hz']:.3f} | {s['rate_std_hz']:.3f} | {s['isi_cv_mean']:.3f} |")
    print("\n".join(lines))
    write_results("cuba_rates", out, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
