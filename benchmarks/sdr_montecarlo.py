"""Monte-Carlo checks of the SDR formulas at small probabilities, the kernels' speed, the paper's figures.

    python benchmarks/sdr_montecarlo.py [--trials 10000000] [--figure-trials 200000] [--seed 0]
        [--skip-figures] [--reuse-cases]

1. Small-probability checks that CI cannot afford (P between 1e-5 and 1e-3): every estimate from
   real patterns and segments (:mod:`neuro.sdr.montecarlo`) against the exact value, as z-scores
   and 95 % Wilson intervals; the 2015 paper's set of 500 stored vectors against its union bound
   and the simulated numbers of its README (0.1346, 2.85e-3, 1.7e-5).
2. Speed: trials per CPU second of the Numba kernels and of the torch reference (one thread).
3. ``python -m neuro.sdr.figures`` into ``benchmarks/results/dendrites/sdr_figures/``.

Writes ``benchmarks/results/dendrites/sdr_montecarlo.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import harness

from neuro._io import write_text
from neuro.sdr import montecarlo as mc
from neuro.sdr import theory

OUT = harness.RESULTS / "dendrites"

# (name, exact value, simulation(trials, seed))
CASES = [
    ("effect of n: n=300 a=64 s=24 theta=12", lambda: theory.p_false_match(300, 64, 24, 12),
     lambda t, s: mc.simulate_false_match(300, 64, 24, 12, trials=t, seed=s)),
    ("effect of n: n=700 a=128 s=24 theta=12", lambda: theory.p_false_match(700, 128, 24, 12),
     lambda t, s: mc.simulate_false_match(700, 128, 24, 12, trials=t, seed=s)),
    ("unions: n=1000 a=200 s=25 theta=15 M=1", lambda: theory.p_false_match(1000, 200, 25, 15),
     lambda t, s: mc.simulate_false_match(1000, 200, 25, 15, trials=t, seed=s)),
    ("noise: a=128 s=30 theta=8 v=64 (50 %)", lambda: theory.p_false_negative(128, 30, 8, 64),
     lambda t, s: mc.simulate_false_negative(128, 30, 8, 64, n=1024, trials=t, seed=s)),
    ("noise: a=128 s=30 theta=12 v=38 (30 %)", lambda: theory.p_false_negative(128, 30, 12, 38),
     lambda t, s: mc.simulate_false_negative(128, 30, 12, 38, n=1024, trials=t, seed=s)),
    ("noise: a=128 s=30 theta=16 v=26 (20 %)", lambda: theory.p_false_negative(128, 30, 16, 26),
     lambda t, s: mc.simulate_false_negative(128, 30, 16, 26, n=1024, trials=t, seed=s)),
]
README = {4: 0.1346, 5: 2.85e-3, 6: 1.7e-5}


def small_probabilities(trials: int, seed: int) -> list[dict]:
    rows = []
    for k, (name, exact, run) in enumerate(CASES):
        p = exact()
        t0 = time.perf_counter()
        est = run(trials, seed + k)
        lo, hi = est.interval()
        rows.append({"case": name, "exact": p, "simulated": est.p, "hits": est.hits,
                     "trials": est.trials, "z": est.z(p), "ci95": [lo, hi],
                     "seconds": round(time.perf_counter() - t0, 2)})
        print(f"{name:42s} exact {p:.4e}  simulated {est.p:.4e}  z {est.z(p):+.2f}", flush=True)
    for theta in (4, 5, 6):
        exact, bound = theory.p_match_any(100, 7, theta, 500), theory.union_bound(100, 7, theta, 500)
        t0 = time.perf_counter()
        est = mc.simulate_match_any(100, 7, theta, 500, trials=trials, seed=seed + 10 + theta)
        lo, hi = est.interval()
        rows.append({"case": f"500 stored vectors: n=100 w=7 theta={theta}", "exact": exact,
                     "bound": bound, "readme_simulated": README[theta], "simulated": est.p,
                     "hits": est.hits, "trials": est.trials, "z": est.z(exact), "ci95": [lo, hi],
                     "below_bound": est.p <= bound + 4 * est.se,
                     "seconds": round(time.perf_counter() - t0, 2)})
        print(f"match any theta={theta}: exact {exact:.4e} bound {bound:.4e} simulated {est.p:.4e} "
              f"(README {README[theta]:.3g})", flush=True)
    return rows


def speed(seed: int) -> list[dict]:
    """Trials per CPU second (and per wall second): n = 2000, a = 32, s = 16, theta = 8 (false match),
    both backends on one thread (``NUMBA_NUM_THREADS=1``, ``torch.set_num_threads(1)``)."""
    import numba
    import torch

    numba.set_num_threads(1)
    torch.set_num_threads(1)
    out = []
    mc.simulate_false_match(2000, 32, 16, 8, trials=1000, seed=seed)  # compile / load the cache
    for backend, trials in (("numba", 2_000_000), ("torch", 40_000)):
        t0, c0 = time.perf_counter(), time.process_time()
        mc.simulate_false_match(2000, 32, 16, 8, trials=trials, seed=seed, backend=backend)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        out.append({"backend": backend, "trials": trials, "wall_s": round(wall, 3),
                    "cpu_s": round(cpu, 3), "trials_per_cpu_second": round(trials / cpu)})
        print(f"{backend}: {trials / cpu:,.0f} trials per CPU second ({wall:.1f} s wall)", flush=True)
    return out


def report(rows: list[dict], rates: list[dict], args) -> str:
    lines = ["# SDR formulas vs Monte-Carlo at small probabilities", "",
             f"Hardware: {harness.hardware('cpu')} (shared machine). Command: "
             f"`python benchmarks/sdr_montecarlo.py --trials {args.trials} --seed {args.seed}`.", "",
             "Every trial builds real patterns and segments (neuro.sdr.montecarlo, Numba kernels); "
             "z = (simulated - exact) / sqrt(exact (1 - exact) / trials).", "",
             "| case | exact | simulated | 95 % interval | hits / trials | z |", "|---|---|---|---|---|---|"]
    for r in rows:
        extra = (f" (bound {r['bound']:.4g}; README simulated {r['readme_simulated']:.3g})"
                 if "bound" in r else "")
        lines.append(f"| {r['case']}{extra} | {r['exact']:.4e} | {r['simulated']:.4e} | "
                     f"[{r['ci95'][0]:.3e}, {r['ci95'][1]:.3e}] | {r['hits']} / {r['trials']} | "
                     f"{r['z']:+.2f} |")
    lines += ["", "Speed (false match, n = 2000, a = 32, s = 16, theta = 8)"
              + (", re-measured by a later `--reuse-cases` run (the rows above are the stored run's)"
                 if args.reuse_cases else "") + ":", ""]
    lines += [f"- {r['backend']}: {r['trials_per_cpu_second']:,} trials per CPU second, one thread "
              f"({r['trials']} trials: {r['cpu_s']} s CPU, {r['wall_s']} s wall on the shared "
              "machine)" for r in rates]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000_000)
    parser.add_argument("--figure-trials", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-figures", action="store_true")
    parser.add_argument("--reuse-cases", action="store_true",
                        help="take the small-probability rows from the existing sdr_montecarlo.json")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.reuse_cases:
        stored = json.loads((OUT / "sdr_montecarlo.json").read_text())
        rows, args.trials = stored["cases"], stored["trials"]
    else:
        rows = small_probabilities(args.trials, args.seed)
    rates = speed(args.seed)
    payload = {"hardware": harness.hardware("cpu"), "trials": args.trials, "seed": args.seed,
               "cases": rows, "speed": rates}
    write_text(OUT / "sdr_montecarlo.json", json.dumps(payload, indent=1))
    write_text(OUT / "sdr_montecarlo.md", report(rows, rates, args))
    if not args.skip_figures:
        from neuro.sdr.figures import main as figures

        figures(["--out", str(Path(OUT / "sdr_figures")), "--trials", str(args.figure_trials),
                 "--seed", str(args.seed)])
    print(f"wrote {OUT}/sdr_montecarlo.{{json,md}}")


if __name__ == "__main__":
    main()
