"""Forward + backward time of the AM-SU layer vs the plain LIF layer of the same size.

Both layers get the same input ``[T, B, F]`` and learn tau_mem (so both compute coefficient
gradients); the AM-SU layer adds ``D`` astrocyte domains with all modulations on. Timed
interleaved round by round (median of rounds) in one process; the pure-torch reference of the
AM-SU scan is timed too for scale. CPU always, CUDA when a GPU is present. Results go to
``benchmarks/results/amsu_overhead_<device>.{json,md}`` with the hardware name. Timings on a
shared machine are preliminary.

    python benchmarks/amsu_overhead.py [--device cpu|cuda] [--rounds 9]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import harness
import torch

from neuro._io import atomic_write
from neuro.nn import AMSU, LIF

RESULTS = Path(__file__).resolve().parent / "results"
SHAPES = [  # (T, B, F, D)
    (200, 64, 64, 8),
    (100, 32, 512, 32),
    (500, 16, 256, 16),
]


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def fwd_bwd(layer, x):
    def call():
        layer.zero_grad(set_to_none=True)
        out, _ = layer(x)
        out.sum().backward()
    return call


def time_interleaved(fns: dict, device: str, rounds: int, warmup: int = 2) -> dict:
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            _sync(device)
            t0 = time.perf_counter()
            fn()
            _sync(device)
            samples[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in samples.items()}


def bench(device: str, rounds: int) -> dict:
    backend = "cuda" if device == "cuda" else "numba"
    rows = []
    for T, B, F, D in SHAPES:
        g = torch.Generator().manual_seed(0)
        x = (torch.rand(T, B, F, generator=g) * 0.3).to(device).requires_grad_()
        lif = LIF(F, learn_tau=True, backend=backend).to(device)
        amsu = AMSU(F, domains=D, learn_tau=True, kappa_gain=0.3, kappa_threshold=0.1,
                    kappa_current=0.1, backend=backend).to(device)
        ref = AMSU(F, domains=D, learn_tau=True, kappa_gain=0.3, kappa_threshold=0.1,
                   kappa_current=0.1, backend="torch").to(device)
        fns = {"lif": fwd_bwd(lif, x), "amsu": fwd_bwd(amsu, x)}
        if T * B * F <= 1_000_000:
            fns["amsu_torch_reference"] = fwd_bwd(ref, x)
        t = time_interleaved(fns, device, rounds)
        row = {"T": T, "B": B, "F": F, "D": D, **{f"{k}_ms": v * 1e3 for k, v in t.items()},
               "overhead_amsu_over_lif": t["amsu"] / t["lif"]}
        if "amsu_torch_reference" in t:
            row["speedup_kernel_over_torch"] = t["amsu_torch_reference"] / t["amsu"]
        rows.append(row)
        print(row, flush=True)
    return {"device": device, "hardware": harness.hardware(device), "rounds": rounds, "rows": rows}


def markdown(r: dict) -> str:
    lines = [f"# AM-SU vs LIF, forward + backward ({r['device']})", "",
             f"Hardware: {r['hardware']}; median of {r['rounds']} interleaved rounds. "
             "Preliminary (shared machine).", "",
             "| T | B | F | D | LIF ms | AM-SU ms | AM-SU / LIF | torch reference ms | kernel speed-up |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in r["rows"]:
        ref = row.get("amsu_torch_reference_ms")
        ref_ms = "" if ref is None else f"{ref:.1f}"
        speedup = "" if ref is None else f"{row['speedup_kernel_over_torch']:.1f}x"
        lines.append(f"| {row['T']} | {row['B']} | {row['F']} | {row['D']} | {row['lif_ms']:.2f} | "
                     f"{row['amsu_ms']:.2f} | {row['overhead_amsu_over_lif']:.2f} | {ref_ms} | "
                     f"{speedup} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    r = bench(args.device, args.rounds)
    stem = RESULTS / f"amsu_overhead_{args.device}"
    atomic_write(stem.with_suffix(".json"), lambda fh: fh.write(json.dumps(r, indent=1).encode()))
    atomic_write(stem.with_suffix(".md"), lambda fh: fh.write(markdown(r).encode()))
    print(markdown(r))


if __name__ == "__main__":
    main()
