"""B4: the CUBA network, simulation time for 1 s of biological time, neuro vs Brian2 and NEST.

Side by side on one machine, every simulator on one thread: neuro (Numba CPU kernel, float32 and
float64), Brian2 (cython runtime and C++ standalone) and NEST 3 (``iaf_psc_exp``). Sizes: 4000
neurons (Brian2's example) and larger networks at the same expected in-degree (``p = 80 / n``).

The figure compared is the CPU time of the simulation loop: on a shared machine wall time also
counts the waits for a core, and Brian2's standalone binary itself reports its main-loop CPU time
(``std::clock()`` without OpenMP). Wall times are listed too. Build and compile times are excluded
(neuro: one warm-up step first; Brian2: code objects compiled before timing; NEST: ``Prepare``
first). Medians over ``--repeats`` runs, minimum in parentheses; ratio = peer CPU time / neuro
float32 CPU time at the same size (> 1: neuro is faster). neuro and Brian2's standalone binary, the
closest competitor, are also timed alternately ("interleaved" rows, compared with each other).

With ``--cuda`` (a GPU and numba-cuda) neuro's CUDA backend is timed at ``--cuda-sizes`` (default
4000, 64000, 256000) next to the CPU kernel; compare their wall times (CPU time means nothing for a
GPU run). ``--cuda-kernels events atomic`` times the deterministic event kernel and the first
(atomic) kernel (``NEURO_SIM_CUDA_KERNEL``; the atomic one only up to ``--atomic-max-n``),
``--cuda-launches grid block`` the event kernel's launch shapes (``NEURO_SIM_CUDA_LAUNCH``; block up
to ``--block-max-n``). The event kernel is bit-identical to the CPU kernel, so each CUDA row also
says whether its spike trains equal the CPU kernel's (same n, first repeat). A summary prints the
speed-up of every CUDA row over the single-thread CPU kernel against the targets (>= 30x at 256,000,
>= 10x at 64,000, >= 1x at 4,000). ``--big 1024000`` adds one CUDA run at that size (in-degree 80):
its rate and ISI CV, and its first ``--big-exact-steps`` steps compared spike for spike with the CPU
kernel's.

    python benchmarks/b4_cuba.py --sizes 4000 16000 --repeats 5
    python benchmarks/b4_cuba.py --sizes 4000 --skip cython cpp_standalone nest --cuda \
        --cuda-kernels events atomic
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from peers.common import PEERS, brian2_python, cpu_name, run_json, write_results

from neuro.sim.examples import cuba
from neuro.sim.stats import isi_cv

DURATION = 1.0  # s of biological time per run (--duration, for smoke tests of neuro alone)


TARGETS = {256000: 30.0, 64000: 10.0, 4000: 1.0}  # CUDA speed-up over the 1-thread CPU kernel (issue 20)


def spike_hash(spikes) -> str:
    """A digest of a spike monitor's ``(steps, indices)``: equal digests, equal spike trains."""
    h = hashlib.sha1(np.ascontiguousarray(spikes.steps, np.int64).tobytes())
    h.update(np.ascontiguousarray(spikes.indices, np.int64).tobytes())
    return h.hexdigest()[:16]


def time_neuro(n: int, dtype: torch.dtype, repeats: int, backend: str = "numba", device: str = "cpu",
               label: str = "") -> dict:
    c = cuba(n=n, p=80.0 / n, dtype=dtype, backend=backend, device=device)
    c.net.run(c.net.dt, progress=False)  # compile / load the cached kernel, build the network
    times, cpus = [], []
    for k in range(repeats):
        c.net.reset()
        if device != "cpu":
            torch.cuda.synchronize()
        t0, c0 = time.perf_counter(), time.process_time()
        c.net.run(DURATION, progress=False)
        if device != "cpu":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        if k == 0:
            rate, cv = c.rate.mean_rate(), isi_cv(c.spikes.times, c.spikes.indices)
            digest = spike_hash(c.spikes)
    name = f"neuro {backend} {str(dtype).replace('torch.', '')}" + (f" ({label})" if label else "")
    return {"simulator": name, "n": n, "sim_s": times, "cpu_s": cpus, "rate_hz": rate, "isi_cv": cv,
            "synapses": int(c.net.compiled.row_ptr[-1]), "spike_hash": digest}


def time_cuda(n: int, repeats: int, kernel: str, launch: str, device: str) -> dict:
    """The CUDA backend with one kernel and launch shape (``NEURO_SIM_CUDA_*`` while it builds)."""
    saved = {k: os.environ.get(k) for k in ("NEURO_SIM_CUDA_KERNEL", "NEURO_SIM_CUDA_LAUNCH")}
    os.environ["NEURO_SIM_CUDA_KERNEL"], os.environ["NEURO_SIM_CUDA_LAUNCH"] = kernel, launch
    try:
        return time_neuro(n, torch.float32, repeats, backend="cuda", device=device,
                          label=kernel if kernel == "atomic" else f"{kernel}, {launch}")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def big_run(n: int, exact_steps: int, device: str) -> list[dict]:
    """One 1-s CUDA run at ``n`` neurons (in-degree 80), and its first ``exact_steps`` steps against
    the CPU kernel's (identical spike trains expected: the event kernel is bit-identical)."""
    row = time_cuda(n, 1, "events", "grid", device)
    rows = [row]
    if exact_steps > 0:
        short = {}
        for backend, dev in (("cuda", device), ("numba", "cpu")):
            c = cuba(n=n, p=80.0 / n, dtype=torch.float32, backend=backend, device=dev)
            t0 = time.perf_counter()
            c.net.run(exact_steps * c.net.dt, progress=False)
            short[backend] = (spike_hash(c.spikes), c.spikes.num_spikes, time.perf_counter() - t0)
        rows.append({"simulator": f"exact check, first {exact_steps} steps", "n": n,
                     "sim_s": [short["cuda"][2]], "cpu_s": [short["numba"][2]], "rate_hz": float("nan"),
                     "isi_cv": float("nan"), "synapses": row["synapses"],
                     "spike_hash": short["cuda"][0], "identical": short["cuda"][0] == short["numba"][0],
                     "spikes": short["numba"][1]})
    return rows


def cuda_summary(rows: list[dict]) -> list[str]:
    """Speed-up of every CUDA row over the CPU kernel at the same n (wall-time medians), the target,
    and whether its spike trains equal the CPU kernel's."""
    lines = ["", "| n | CUDA run | CUDA wall (s) | CPU kernel wall (s) | speed-up | target | "
             "spikes = CPU kernel |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        if not r["simulator"].startswith("neuro cuda"):
            continue
        cpu = [x for x in rows if x["n"] == r["n"] and x["simulator"] == "neuro numba float32 (vs cuda)"]
        if not cpu:
            continue
        speedup = med(cpu[0], "sim_s") / med(r, "sim_s")
        target = TARGETS.get(r["n"])
        verdict = "-" if target is None else f">= {target:g}x: {'met' if speedup >= target else 'MISSED'}"
        lines.append(f"| {r['n']} | {r['simulator']} | {med(r, 'sim_s'):.4f} | {med(cpu[0], 'sim_s'):.4f} | "
                     f"{speedup:.2f}x | {verdict} | {r['spike_hash'] == cpu[0]['spike_hash']} |")
    for r in rows:
        if r["simulator"].startswith("exact check"):
            lines.append(f"\n{r['n']} neurons, {r['simulator']}: CUDA and CPU kernel spike trains identical: "
                         f"{r['identical']} ({r['spikes']} spikes)")
    return lines


def standalone_run_time(project_dir: str) -> float:
    """Run a built Brian2 C++ standalone project's binary once; its main-loop CPU time (seconds,
    ``std::clock()`` in Brian2's network.cpp when OpenMP is off)."""
    results = Path(project_dir) / "results"
    subprocess.run(["./main", "--results_dir", f"{results}/"], cwd=project_dir, check=True,
                   capture_output=True)
    return float((results / "last_run_info.txt").read_text().split()[0])


def interleaved(n: int, repeats: int, project_dir: str, row: dict) -> tuple[dict, dict]:
    """neuro float32 and Brian2's standalone binary timed alternately (a shared machine's load
    then weighs on both alike)."""
    c = cuba(n=n, p=80.0 / n, dtype=torch.float32)
    c.net.run(c.net.dt, progress=False)
    ours, ours_cpu, theirs = [], [], []
    for _ in range(repeats):
        c.net.reset()
        t0, c0 = time.perf_counter(), time.process_time()
        c.net.run(DURATION, progress=False)
        ours.append(time.perf_counter() - t0)
        ours_cpu.append(time.process_time() - c0)
        theirs.append(standalone_run_time(project_dir))
    mine = {"simulator": "neuro numba float32 (interleaved)", "n": n, "sim_s": ours, "cpu_s": ours_cpu,
            "rate_hz": c.rate.mean_rate(), "isi_cv": isi_cv(c.spikes.times, c.spikes.indices),
            "synapses": int(c.net.compiled.row_ptr[-1])}
    return mine, dict(row, simulator=row["simulator"] + " (interleaved)", cpu_s=theirs,
                      sim_s=[float("nan")] * repeats)


def med(row: dict, key: str = "cpu_s") -> float:
    return statistics.median(row[key])


def main() -> None:
    global DURATION  # time_neuro() and interleaved() read it; --duration sets it
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[4000, 16000])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--nest-repeats", type=int, default=2, help="NEST is slow; fewer repeats")
    ap.add_argument("--skip", nargs="*", default=[], choices=["cython", "cpp_standalone", "nest"])
    ap.add_argument("--cuda", action="store_true", help="also time neuro's CUDA backend")
    ap.add_argument("--cuda-sizes", type=int, nargs="+", default=[4000, 64000, 256000])
    ap.add_argument("--cuda-device", default="cuda",
                    help="device of the CUDA backend's run ('cpu' under NUMBA_ENABLE_CUDASIM=1)")
    ap.add_argument("--cuda-kernels", nargs="+", default=["events"], choices=["events", "atomic"])
    ap.add_argument("--cuda-launches", nargs="+", default=["grid"], choices=["grid", "block"])
    ap.add_argument("--cuda-repeats", type=int, default=None, help="default: --repeats")
    ap.add_argument("--cpu-repeats", type=int, default=None,
                    help="repeats of the CPU kernel next to the CUDA runs (default: --repeats)")
    ap.add_argument("--atomic-max-n", type=int, default=64000, help="largest n timed with the atomic kernel")
    ap.add_argument("--block-max-n", type=int, default=16000, help="largest n timed with the block launch")
    ap.add_argument("--big", type=int, default=0, help="also one CUDA run at this n (e.g. 1024000)")
    ap.add_argument("--tag", default="", help="suffix of the results files' names")
    ap.add_argument("--big-exact-steps", type=int, default=200,
                    help="steps of the --big run compared spike for spike with the CPU kernel (0: none)")
    ap.add_argument("--duration", type=float, default=DURATION,
                    help="seconds of biological time (the peers always simulate 1 s: skip them otherwise)")
    args = ap.parse_args()
    DURATION = args.duration
    if not DURATION > 0:
        ap.error(f"--duration must be positive, got {DURATION}")
    if DURATION != 1.0 and set(args.skip) != {"cython", "cpp_standalone", "nest"}:
        ap.error("--duration other than 1 needs --skip cython cpp_standalone nest (the peers simulate 1 s)")

    rows = []
    exe = brian2_python()
    for n in args.sizes:
        rows.append(time_neuro(n, torch.float32, args.repeats))
        rows.append(time_neuro(n, torch.float64, args.repeats))
        for target in ("cython", "cpp_standalone"):
            if target in args.skip:
                continue
            if exe is None:
                print("Brian2 not importable: skipped (see peers/common.py)", file=sys.stderr)
                continue
            keep = ["--keep"] if target == "cpp_standalone" else []
            row = run_json([exe, str(PEERS / "brian2_cuba.py"), "--n", str(n), "--target", target,
                            "--repeats", str(args.repeats)] + keep)
            rows.append(row)
            if target == "cpp_standalone":
                rows.extend(interleaved(n, args.repeats, row["project_dir"], row))
                shutil.rmtree(row["project_dir"], ignore_errors=True)
        if "nest" not in args.skip:
            nest_cmd = [sys.executable, str(PEERS / "nest_cuba.py"), "--n", str(n), "--threads", "1"]
            nest_runs = [run_json(nest_cmd) for _ in range(args.nest_repeats)]
            row = dict(nest_runs[0])
            row["sim_s"] = [r["sim_s"] for r in nest_runs]
            row["cpu_s"] = [r["cpu_s"] for r in nest_runs]
            rows.append(row)
        rows.append(time_neuro(n, torch.float32, args.repeats))  # again: the machine is shared
        for r in rows[-1:]:
            r["simulator"] += " (rerun)"
    if args.cuda:
        cuda_reps = args.cuda_repeats or args.repeats
        for n in args.cuda_sizes:
            for kernel in args.cuda_kernels:
                if kernel == "atomic" and n > args.atomic_max_n:
                    continue
                for launch in (args.cuda_launches if kernel == "events" else ["grid"]):
                    if launch == "block" and n > args.block_max_n:
                        continue
                    try:
                        rows.append(time_cuda(n, cuda_reps, kernel, launch, args.cuda_device))
                    except Exception as err:  # noqa: BLE001 - e.g. a block launch short of registers
                        if kernel == "events" and launch == "grid":
                            raise
                        print(f"n={n} {kernel} {launch}: failed ({type(err).__name__}: {err})",
                              file=sys.stderr)
            rows.append(time_neuro(n, torch.float32, args.cpu_repeats or args.repeats, label="vs cuda"))
        if args.big:
            rows.extend(big_run(args.big, args.big_exact_steps, args.cuda_device))

    gpu = torch.cuda.get_device_name() if args.cuda and torch.cuda.is_available() else None
    header = [f"# B4: CUBA, {DURATION:g} s of biological time, simulation only "
              f"({time.strftime('%Y-%m-%d')})", "",
              f"CPU: {cpu_name()}" + (f"; GPU: {gpu}" if gpu else "") + ". Shared machine: preliminary.",
              "CPU time of the simulation loop (all single-threaded; Brian2's standalone binary reports its "
              "main-loop std::clock()), median over repeats (min in parentheses); ratio = peer CPU time / "
              "neuro float32 CPU time at the same n (> 1: neuro faster). Wall time is also given: on a "
              "loaded machine it includes waiting for a core.", "",
              "| n | simulator | CPU time (s) | ratio | wall (s) | rate (Hz) | ISI CV | synapses |",
              "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        own = "neuro numba float32" + (" (interleaved)" if "interleaved" in r["simulator"] else "")
        base = [x for x in rows if x["n"] == r["n"] and x["simulator"] == own]
        ratio = med(r) / med(base[0]) if base and "neuro" not in r["simulator"] else float("nan")
        header.append(f"| {r['n']} | {r['simulator']} | {med(r):.4f} ({min(r['cpu_s']):.4f}) | "
                      f"{ratio:.2f} | {med(r, 'sim_s'):.4f} | {r['rate_hz']:.2f} | {r['isi_cv']:.3f} | "
                      f"{r.get('synapses', '')} |")
    if args.cuda:
        header += cuda_summary(rows)
    text = "\n".join(header) + "\n"
    print(text)
    slug = "".join(ch if ch.isalnum() else "_" for ch in (gpu or cpu_name())).strip("_").lower()
    tag = f"_{args.tag}" if args.tag else ""
    write_results(f"b4_cuba_{slug}{tag}", {"cpu": cpu_name(), "gpu": gpu, "rows": rows}, text)


if __name__ == "__main__":
    main()
