"""B5: ELM / Branch-ELM on neuro's fused kernels vs the pure-torch reference loop, side by side.

Shapes (issue 6): ELM d_m = 100, d_in = 700, T = 500, B = 8 and 64, 20 outputs; Branch-ELM
d_tree = 100, d_brch = 15 (random routing). Input: Bernoulli spikes (``--density``, SHD-like).
Measured per configuration, in one process with interleaved repeats (medians):

* forward (no grad) and forward + backward (loss on the last step, the paper's protocol) of the
  reference (``backend="torch"``: a per-step loop like the authors' code) and of the kernels
  (``backend="numba"`` on CPU / ``"cuda"`` on GPU; CPU also with ``input_path="dense"``);
* peak memory of one forward + backward: on GPU ``torch.cuda.max_memory_allocated``; on CPU the
  growth of the peak resident set size (Linux ``VmHWM``, reset after a warm-up at T = 8) in a fresh
  subprocess;
* where the time goes: torch-profiler self time of the kernels' pieces (traces, first-layer
  matrix product, memory recurrence, readout, weight-gradient products).

Results go to ``benchmarks/results/b5_elm_<hardware>_<threads>t.md`` (and ``.json``).
Run: ``python benchmarks/b5_elm.py [--device cuda] [--batch 8 64] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import harness
import torch

from neuro.nn.elm import ELM, num_trainable_parameters

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = {
    "ELM": dict(),
    "Branch-ELM": dict(num_branches=100, synapses_per_branch=15, routing="random", routing_seed=0),
}


def build(model: str, device: str, backend: str, input_path: str = "auto") -> ELM:
    torch.manual_seed(0)
    return ELM(700, 20, 100, backend=backend, input_path=input_path, **MODELS[model]).to(device)


def make_input(T: int, B: int, density: float, device: str) -> torch.Tensor:
    gen = torch.Generator().manual_seed(1)
    return (torch.rand(T, B, 700, generator=gen) < density).float().to(device)


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def run_once(elm: ELM, x: torch.Tensor, phase: str) -> None:
    if phase == "fwd":
        with torch.no_grad():
            elm(x)
    else:
        y, _ = elm(x)
        y[-1].square().sum().backward()
        elm.zero_grad(set_to_none=True)


def timed(elm: ELM, x: torch.Tensor, phase: str, device: str) -> float:
    _sync(device)
    t0 = time.perf_counter()
    run_once(elm, x, phase)
    _sync(device)
    return time.perf_counter() - t0


def peak_memory_mib(model: str, impl: str, B: int, T: int, density: float, device: str) -> float:
    """Peak extra memory of one forward + backward (fresh subprocess on CPU)."""
    backend, path = impl.split(":")
    if device == "cuda":
        elm = build(model, device, backend, path)
        run_once(elm, make_input(8, B, density, device), "fwdbwd")
        x = make_input(T, B, density, device)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        run_once(elm, x, "fwdbwd")
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    cmd = [sys.executable, __file__, "--child", model, backend, path, str(B), str(T), str(density),
           str(torch.get_num_threads())]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _child(model: str, backend: str, path: str, B: str, T: str, density: str, threads: str) -> None:
    import numba

    torch.set_num_threads(int(threads))
    numba.set_num_threads(int(threads))
    B, T, density = int(B), int(T), float(density)
    elm = build(model, "cpu", backend, path)
    run_once(elm, make_input(8, B, density, "cpu"), "fwdbwd")
    x = make_input(T, B, density, "cpu")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS (VmHWM) to the current RSS
    base = _status_mib("VmRSS")
    run_once(elm, x, "fwdbwd")
    print(_status_mib("VmHWM") - base)


def _status_mib(key: str) -> float:
    return int(re.search(rf"{key}:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024


def breakdown(elm: ELM, x: torch.Tensor) -> dict[str, float]:
    """Self time (ms) of the pieces of one forward + backward, grouped."""
    from torch.profiler import ProfilerActivity, profile

    groups = {
        "traces (kernel)": ("TraceFunction", "EventTraceFunction"),
        "traces backward (kernel)": ("TraceFunctionBackward", "EventTraceFunctionBackward"),
        "memory recurrence (kernel)": ("MemoryFunction",),
        "memory backward (kernel)": ("MemoryFunctionBackward",),
        "matrix products (first layer, readout, weight grads)": ("aten::mm", "aten::addmm", "aten::bmm",
                                                                 "aten::matmul", "aten::linear"),
    }
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if x.is_cuda else [])
    with profile(activities=activities) as prof:
        run_once(elm, x, "fwdbwd")
        _sync(x.device.type)
    out = {name: 0.0 for name in groups}
    out["other torch ops"] = 0.0
    for ev in prof.key_averages():
        t = (ev.self_device_time_total if x.is_cuda and ev.self_device_time_total
             else ev.self_cpu_time_total) / 1e3
        for name, keys in groups.items():
            if ev.key in keys:
                out[name] += t
                break
        else:
            out["other torch ops"] += t
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--batch", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--T", type=int, default=500)
    parser.add_argument("--density", type=float, default=0.05)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch and numba CPU threads")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    if args.threads:
        import numba

        torch.set_num_threads(args.threads)
        numba.set_num_threads(args.threads)
    kernel = "cuda" if args.device == "cuda" else "numba"
    impls = ["torch:dense", f"{kernel}:auto"] + (["numba:dense"] if kernel == "numba" else [])
    hw = harness.device_name(args.device)
    load_before = os.getloadavg()[0]
    rows, details = [], {}
    for model in args.models:
        for B in args.batch:
            x = make_input(args.T, B, args.density, args.device)
            elms = {impl: build(model, args.device, *impl.split(":")) for impl in impls}
            params = num_trainable_parameters(elms[impls[0]])
            times = {(impl, ph): [] for impl in impls for ph in ("fwd", "fwdbwd")}
            for impl in impls:  # warm-up (compiles kernels, fills caches)
                for ph in ("fwd", "fwdbwd"):
                    run_once(elms[impl], make_input(16, B, args.density, args.device), ph)
            for _ in range(args.repeats):  # interleaved, so load changes hit every implementation
                for impl in impls:
                    for ph in ("fwd", "fwdbwd"):
                        times[(impl, ph)].append(timed(elms[impl], x, ph, args.device))
            med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
            mem = {impl: (None if args.no_memory else
                          peak_memory_mib(model, impl, B, args.T, args.density, args.device))
                   for impl in impls}
            bd = breakdown(elms[f"{kernel}:auto"], x)
            ref = "torch:dense"
            for impl in impls:
                rows.append(dict(model=model, B=B, impl=impl, params=params, fwd_ms=med[(impl, "fwd")],
                                 fwdbwd_ms=med[(impl, "fwdbwd")], peak_mib=mem[impl],
                                 speedup_fwd=med[(ref, "fwd")] / med[(impl, "fwd")],
                                 speedup_fwdbwd=med[(ref, "fwdbwd")] / med[(impl, "fwdbwd")]))
                print(json.dumps(rows[-1]), flush=True)
            details[f"{model} B={B}"] = bd
            print(model, B, "breakdown (ms):", json.dumps({k: round(v, 1) for k, v in bd.items()}),
                  flush=True)
    write_results(args, hw, rows, details, (load_before, os.getloadavg()[0]))
    return 0


def write_results(args, hw: str, rows: list, details: dict, load: tuple) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9]+", "_", hw).strip("_").lower() + f"_{torch.get_num_threads()}t"
    meta = dict(hardware=hw, device=args.device, torch=torch.__version__, threads=torch.get_num_threads(),
                T=args.T, density=args.density, repeats=args.repeats,
                date=time.strftime("%Y-%m-%d %H:%M"), load_average=load, cores=os.cpu_count())
    (out / f"b5_elm_{slug}.json").write_text(
        json.dumps(dict(meta=meta, rows=rows, breakdown=details), indent=1))
    lines = [f"# B5: ELM kernels vs the pure-torch reference loop — {hw}", "",
             f"{meta['date']}, torch {meta['torch']}, {meta['threads']} threads on {meta['cores']} cores "
             f"(1-min load average {load[0]:.1f} at the start, {load[1]:.1f} at the end: the machine was "
             f"shared, timings are preliminary), T = {args.T}, "
             f"Bernoulli spike input density {args.density}, medians of {args.repeats} interleaved repeats. "
             "Reference = `backend='torch'` (per-step loop like the authors' code). Speed-up = reference "
             "time / this time. Peak = extra memory of one forward+backward "
             + ("(torch.cuda.max_memory_allocated)." if args.device == "cuda" else
                "(growth of peak RSS, VmHWM, in a fresh process)."), "",
             "| model | B | implementation | params | fwd ms | fwd+bwd ms | peak MiB | speed-up fwd "
             "| speed-up fwd+bwd |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        peak = "-" if r["peak_mib"] is None else f"{r['peak_mib']:.0f}"
        lines.append(f"| {r['model']} | {r['B']} | {r['impl']} | {r['params']} | {r['fwd_ms']:.1f} | "
                     f"{r['fwdbwd_ms']:.1f} | {peak} | {r['speedup_fwd']:.1f}x | "
                     f"{r['speedup_fwdbwd']:.1f}x |")
    lines += ["",
              "## Where the time goes (kernel backend, one forward + backward, profiler self time, ms)", ""]
    names = list(next(iter(details.values())))
    lines.append("| configuration | " + " | ".join(names) + " |")
    lines.append("|---|" + "---|" * len(names))
    for conf, bd in details.items():
        lines.append(f"| {conf} | " + " | ".join(f"{bd[n]:.1f}" for n in names) + " |")
    (out / f"b5_elm_{slug}.md").write_text("\n".join(lines) + "\n")
    print("wrote", out / f"b5_elm_{slug}.md")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        _child(*sys.argv[2:])
        sys.exit(0)
    sys.exit(main())
