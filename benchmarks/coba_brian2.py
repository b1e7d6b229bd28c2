"""COBA (Brette et al. 2007, benchmark 1), neuro vs Brian2: statistics over seeds and CPU timing.

The network of :func:`neuro.sim.examples.coba` (4000 LIF neurons, exponential conductance synapses
with reversal potentials, p = 0.02, 1 s) and the same network in Brian2
(``benchmarks/peers/brian2_coba.py``, started in Brian2's own interpreter, see
``peers/common.py: brian2_python``).

1. Statistics: mean firing rate and mean ISI CV over ``--seeds`` seeds (Brian2's numpy target;
   the statistics do not depend on the target), neuro in float32 and float64; the check is
   ``|neuro - Brian2| <= 10 %`` of Brian2's value for both. Different seeds draw different
   networks in the two simulators, so the comparison is between the distributions (means over seeds).
2. Timing, B4-style (``benchmarks/b4_cuba.py``): CPU time of the simulation loop of 1 s, one
   thread, median over ``--repeats`` runs (minimum in parentheses), build and compilation excluded
   (neuro: one warm-up step; Brian2 cython: code objects compiled first; Brian2 C++ standalone:
   the binary's own main-loop ``std::clock()``). ``--skip cython cpp_standalone`` leaves peers out.

3. NEST (``--nest``, needs nest-simulator): the same network exported with ``neuro.sim.to_nest``
   (``iaf_cond_exp``), each seed run in a spawned process (NEST's and Numba's OpenMP runtimes crash
   together); mean rate and ISI CV against neuro float64's, same seeds (so the same drawn synapses).
   ``--nest-only`` adds this section to the existing results without rerunning the rest.

Writes ``benchmarks/results/coba_brian2.json`` / ``.md``; ``tests/test_sim_conductance.py`` reads
them.

    python benchmarks/coba_brian2.py --seeds 10 --repeats 3 --nest
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from peers.common import PEERS, brian2_python, cpu_name, run_json, write_results
from tqdm import tqdm

from neuro.sim.examples import coba
from neuro.sim.stats import isi_cv

TOLERANCE = 0.10  # relative, on the means over seeds


def neuro_stats(seed: int, dtype: torch.dtype) -> dict:
    c = coba(seed=seed, dtype=dtype)
    c.net.run(1.0, progress=False)
    return {"seed": seed, "rate_hz": c.rate.mean_rate(), "isi_cv": isi_cv(c.spikes.times, c.spikes.indices),
            "spikes": c.spikes.num_spikes}


def nest_stats(seed: int) -> dict:
    """COBA exported to NEST and run there (call in a spawned process)."""
    import neuro.sim as sim

    c = coba(seed=seed, dtype=torch.float64)
    nest_net = sim.to_nest(c.net)
    t0 = time.perf_counter()
    nest_net.run(1.0)
    s = nest_net[c.spikes]
    return {"seed": seed, "rate_hz": nest_net[c.rate].mean_rate(), "isi_cv": isi_cv(s.times, s.indices),
            "spikes": int(s.num_spikes), "sim_s": time.perf_counter() - t0, "notes": nest_net.notes}


def nest_section(out: dict, seeds: range) -> list[str]:
    """Run NEST for ``seeds`` into ``out["nest"]``; the markdown lines of the comparison."""
    from neuro.astro.nest_reference import run_isolated

    rows = [run_isolated(nest_stats, s) for s in tqdm(seeds, desc="nest")]
    import nest  # noqa: F401 - only the version (no kernel run in this process)

    ours = out["neuro_float64"]
    if ours["seeds"] != len(rows):
        raise SystemExit("--nest needs the same number of seeds as the neuro float64 rows")
    out["nest"] = {"version": f"NEST {nest.__version__} iaf_cond_exp", "runs": rows, **summary(rows)}
    out["nest"]["vs_neuro_float64"] = within(out["nest"], ours)
    s, w = out["nest"], out["nest"]["vs_neuro_float64"]
    return ["", f"Exported to NEST ({s['version']}, neuro.sim.to_nest, same seeds and synapses as neuro "
            "float64):", "",
            "| simulator | mean rate (Hz) | std over seeds | mean ISI CV | rate diff | CV diff "
            "| within 10 % |",
            "|---|---|---|---|---|---|---|",
            f"| nest | {s['rate_mean_hz']:.3f} | {s['rate_std_hz']:.3f} | {s['isi_cv_mean']:.3f} | "
            f"{100 * w['rate_rel_diff']:.1f} % | {100 * w['isi_cv_rel_diff']:.1f} % | {w['ok']} |"]


def neuro_timing(dtype: torch.dtype, repeats: int) -> dict:
    c = coba(seed=1, dtype=dtype, backend="numba")
    c.net.run(c.net.dt, progress=False)  # compile the kernel, build the network
    times, cpus = [], []
    for _ in range(repeats):
        c.net.reset()
        t0, c0 = time.perf_counter(), time.process_time()
        c.net.run(1.0, progress=False)
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return {"simulator": f"neuro numba {str(dtype).replace('torch.', '')}", "sim_s": times, "cpu_s": cpus,
            "rate_hz": c.rate.mean_rate(), "synapses": int(c.net.compiled.row_ptr[-1])}


def summary(rows: list[dict]) -> dict:
    rates = [r["rate_hz"] for r in rows]
    std = statistics.stdev(rates) if len(rows) > 1 else 0.0
    return {"rate_mean_hz": statistics.mean(rates), "rate_std_hz": std,
            "isi_cv_mean": statistics.mean(r["isi_cv"] for r in rows), "seeds": len(rows)}


def within(ours: dict, theirs: dict) -> dict:
    """Relative differences of the means and whether both are within :data:`TOLERANCE`."""
    d_rate = abs(ours["rate_mean_hz"] - theirs["rate_mean_hz"]) / theirs["rate_mean_hz"]
    d_cv = abs(ours["isi_cv_mean"] - theirs["isi_cv_mean"]) / theirs["isi_cv_mean"]
    return {"rate_rel_diff": d_rate, "isi_cv_rel_diff": d_cv,
            "ok": bool(d_rate <= TOLERANCE and d_cv <= TOLERANCE)}


def fmt(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip", nargs="*", default=[], choices=["cython", "cpp_standalone"])
    ap.add_argument("--nest", action="store_true", help="also run the network exported to NEST")
    ap.add_argument("--nest-only", action="store_true", help="add the NEST section to the existing results")
    args = ap.parse_args()
    if args.nest_only:
        path = Path(__file__).resolve().parent / "results" / "coba_brian2.json"
        out = json.loads(path.read_text())
        md = path.with_suffix(".md").read_text().split("\nExported to NEST")[0].rstrip("\n")
        lines = nest_section(out, range(1, out["neuro_float64"]["seeds"] + 1))
        print("\n".join(lines))
        write_results("coba_brian2", out, md + "\n" + "\n".join(lines) + "\n")
        return
    exe = brian2_python()
    if exe is None:
        raise SystemExit("Brian2 is not importable: see benchmarks/peers/common.py: brian2_python")
    seeds = range(1, args.seeds + 1)
    peer = str(PEERS / "brian2_coba.py")
    out = {"machine": cpu_name(), "date": time.strftime("%Y-%m-%d"), "tolerance": TOLERANCE,
           "network": "Brette et al. 2007 COBA (Brian2 benchmark script), 4000 LIF, conductance exp "
                      "synapses, 1 s"}
    b2 = [run_json([exe, peer, "--target", "numpy", "--seed", str(s)]) for s in tqdm(seeds, desc="brian2")]
    out["brian2"] = {"version": b2[0]["simulator"], "runs": b2, **summary(b2)}
    for name, dtype in (("neuro_float32", torch.float32), ("neuro_float64", torch.float64)):
        rows = [neuro_stats(s, dtype) for s in tqdm(seeds, desc=name)]
        out[name] = {"runs": rows, **summary(rows)}
        out[name]["vs_brian2"] = within(out[name], out["brian2"])
    timing = [neuro_timing(dtype, args.repeats) for dtype in (torch.float32, torch.float64)]
    for target in ("cython", "cpp_standalone"):
        if target not in args.skip:
            cmd = [exe, peer, "--target", target, "--seed", "1", "--repeats", str(args.repeats)]
            timing.append(run_json(cmd))
    base = statistics.median(timing[0]["cpu_s"])
    for row in timing:
        row["ratio_vs_neuro_float32"] = statistics.median(row["cpu_s"]) / base
    out["timing"] = timing

    lines = [f"# COBA (Brette et al. 2007) statistics and CPU time, neuro vs Brian2 (1 s, 4000 neurons, "
             f"seeds 1..{args.seeds:d})", "", f"Machine: {out['machine']}, {out['date']}. Shared machine: "
             "timings are indicative.", "",
             "| simulator | mean rate (Hz) | std over seeds | mean ISI CV | rate diff | CV diff "
             "| within 10 % |",
             "|---|---|---|---|---|---|---|"]
    for key in ("brian2", "neuro_float32", "neuro_float64"):
        s = out[key]
        w = s.get("vs_brian2")
        diffs = (f"{100 * w['rate_rel_diff']:.1f} % | {100 * w['isi_cv_rel_diff']:.1f} % | {w['ok']}" if w
                 else "- | - | -")
        lines.append(f"| {key} | {s['rate_mean_hz']:.3f} | {s['rate_std_hz']:.3f} | {s['isi_cv_mean']:.3f} "
                     f"| {diffs} |")
    lines += ["", "CPU time of the 1 s simulation loop, one thread, median (min) over "
              f"{args.repeats} runs; ratio = CPU time / neuro float32's (> 1: neuro faster).", "",
              "| simulator | CPU time (s) | wall (s) | ratio | rate (Hz) |", "|---|---|---|---|---|"]
    for row in timing:
        wall = fmt(row["sim_s"]) if all(v == v for v in row["sim_s"]) else "-"
        lines.append(f"| {row['simulator']} | {fmt(row['cpu_s'])} | {wall} "
                     f"| {row['ratio_vs_neuro_float32']:.2f} | {row['rate_hz']:.2f} |")
    if args.nest:
        lines += nest_section(out, seeds)
    print("\n".join(lines))
    write_results("coba_brian2", out, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
