"""B3: learnable synaptic delays, neuro.nn.DelayLinear vs DCLS 0.1.1 ``Dcls1d`` side by side.

Shapes (spec §2.6 and issue 5): ``B, T, 700 -> 256, K`` with ``(T, K) = (100, 25)`` and
``(250, 250)``; ``B = 32`` on the CPU (``--batch 256`` for the GPU sizes). Three regimes:

* ``sigma-large`` — start of training (sigma = K // 2): DCLS builds the dense kernel; neuro's
  ``method="auto"`` picks the dense conv too (the Gaussian covers the kernel);
* ``sigma-small`` — end of training (sigma = 0.23, sigma_e = 0.5): neuro runs the sparse-tap
  kernels on a 5-tap window, DCLS still the dense kernel;
* ``integer`` — inference with rounded delays: neuro's integer-delay kernel (``mode="round"``),
  DCLS its evaluation path (dense conv of the triangle kernel at sigma 0, as SNN-delays does).

For each: forward time (autograd on; ``no_grad`` for ``integer``), forward+backward time (input,
weights and positions; ``integer``: input and weights) and the peak memory of one call above the
level before it (CUDA: ``max_memory_allocated``; CPU: peak resident set size, measured in a fresh
subprocess per implementation after a small warm-up, because a warm process serves allocations
from memory it already holds). Times: medians of interleaved repetitions in one process. Writes
``benchmarks/results/delays_<device>_b<B>.json``, a markdown table and a PNG of the speed-ups.

Precision is pinned (``--precision``, default ``fp32``): on the GPU, TF32 is switched off for cuDNN's
convolutions and cuBLAS's matrix products (``torch.backends.cudnn.allow_tf32 = False``,
``torch.backends.cuda.matmul.allow_tf32 = False``) unless ``--precision tf32``, so DCLS and neuro
compute in the same precision; each case records ``max_rel_diff``, the largest difference of the
forward outputs over the largest DCLS output (the target: <= 1e-5 at the same precision).
``--methods auto,dense,sparse`` also times neuro with each path forced (``neuro:dense``,
``neuro:sparse``): the data to refit the GPU cost model (``neuro.ops._delay_cuda.GPU_COST``).
Run: ``python benchmarks/bench_delays.py [--device cuda]``.
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
from datetime import datetime, timezone
from pathlib import Path

import harness
import torch
import torch.nn.functional as F
from tqdm import tqdm

from neuro.nn import DelayLinear
from neuro.ops.delay import choose_method, gaussian_window

RESULTS = Path(__file__).resolve().parent / "results"
FEATURES = (700, 256)  # input and output features (--features, for smoke tests)


def _kib(field: str) -> int:
    return int(re.search(rf"{field}:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))


class PeakMemory:
    """Peak memory (MiB) used above the level at entry."""

    def __init__(self, device: str) -> None:
        self.device = device

    def __enter__(self):
        if self.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.start = torch.cuda.memory_allocated()
        else:
            Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
            self.start = _kib("VmRSS") * 1024
        return self

    def __exit__(self, *exc) -> None:
        if self.device == "cuda":
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated()
        else:
            peak = _kib("VmHWM") * 1024
        self.mib = (peak - self.start) / 2**20


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def make_pair(I: int, O: int, K: int, device: str):
    from DCLS.construct.modules import Dcls1d

    torch.manual_seed(0)
    dcls = Dcls1d(I, O, kernel_count=1, dilated_kernel_size=K, bias=False, version="gauss").to(device)
    with torch.no_grad():
        dcls.P.uniform_(-(K // 2), K // 2)
    ours = DelayLinear.from_dcls(dcls).to(device)
    return dcls, ours


def runners(dcls, ours, x, K: int, regime: str, methods: tuple = ("auto",)):
    """``{impl: (forward, forward_backward)}`` closures for one regime (``neuro:<method>`` for every
    method other than ``auto``)."""
    pad = (K - 1, (K - 1) // 2)
    sigma = float(K // 2) if regime == "sigma-large" else 0.23
    with torch.no_grad():
        dcls.SIG.fill_(0.0 if regime == "integer" else sigma)
    ours.set_sigma(sigma)
    ours.mode = "round" if regime == "integer" else "gauss"
    dcls.version = dcls.DCK.version = "max" if regime == "integer" else "gauss"
    p_saved = dcls.P.detach().clone()
    if regime == "integer":
        with torch.no_grad():
            dcls.P.round_()

    def dcls_fwd():
        return dcls(F.pad(x.permute(1, 2, 0), pad)).permute(2, 0, 1)

    def ours_fwd(method: str = "auto"):
        ours.method = method
        return ours(x)[0]

    def fwd(f):
        def run():
            if regime == "integer":
                with torch.no_grad():
                    return f()
            return f()
        return run

    def fwd_bwd(f):
        def run():
            f().sum().backward()
        return run

    def restore():
        dcls.P.data.copy_(p_saved)

    fns = {"DCLS": (fwd(dcls_fwd), fwd_bwd(dcls_fwd)), "neuro": (fwd(ours_fwd), fwd_bwd(ours_fwd))}
    for method in methods:
        if method != "auto":
            def forced(m=method):
                return ours_fwd(m)

            fns[f"neuro:{method}"] = (fwd(forced), fwd_bwd(forced))
    return fns, restore


def measure(fn, device: str) -> float:
    """Seconds of one call."""
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


def peak_memory(name: str, B: int, T: int, K: int, regime: str, kind: str, device: str) -> float:
    """Peak MiB of one call of ``name``'s ``kind`` (in a fresh process on the CPU)."""
    if device == "cpu":
        cmd = [sys.executable, __file__, "--memory-probe", f"{name},{B},{T},{K},{regime},{kind}",
               "--features", *map(str, FEATURES)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        return float(out.strip().splitlines()[-1])
    return _probe(name, B, T, K, regime, kind, device)


def _probe(name: str, B: int, T: int, K: int, regime: str, kind: str, device: str) -> float:
    small = _setup(8, 12, K, regime, device, n_in=16, n_out=8)  # loads / compiles the kernels
    small[0][name][0 if kind == "fwd" else 1]()
    fns, _, _ = _setup(B, T, K, regime, device)
    with PeakMemory(device) as mem:
        fns[name][0 if kind == "fwd" else 1]()
    return mem.mib


def _setup(B: int, T: int, K: int, regime: str, device: str, n_in: int | None = None,
           n_out: int | None = None, methods: tuple = ("auto",)):
    n_in, n_out = n_in or FEATURES[0], n_out or FEATURES[1]
    dcls, ours = make_pair(n_in, n_out, K, device)
    x = (torch.rand(T, B, n_in, device=device) < 0.05).float().requires_grad_()
    fns, restore = runners(dcls, ours, x, K, regime, methods)
    return fns, (x, dcls, ours), restore


def output_difference(fns: dict) -> dict:
    """``{impl: max |y_impl - y_DCLS| / max |y_DCLS|}`` of the forward outputs (no gradients)."""
    with torch.no_grad():
        ref = fns["DCLS"][0]().float()
        scale = float(ref.abs().max()) or 1.0
        return {name: float((f[0]().float() - ref).abs().max()) / scale for name, f in fns.items()
                if name != "DCLS"}


def bench_case(B: int, T: int, K: int, regime: str, device: str, reps: int, memory: bool = True,
               methods: tuple = ("auto",)) -> dict:
    fns, (x, dcls, ours), restore = _setup(B, T, K, regime, device, methods=methods)
    out = {"B": B, "T": T, "in": FEATURES[0], "out": FEATURES[1], "K": K, "regime": regime}
    for name, diff in output_difference(fns).items():
        out[f"{name}_max_rel_diff"] = diff
    out["max_rel_diff"] = out["neuro_max_rel_diff"]
    for kind, idx in (("fwd", 0), ("fwd_bwd", 1)):
        times = {name: [] for name in fns}
        for name in fns:  # warm-up (compilation, allocator)
            fns[name][idx]()
        for _ in range(reps):
            for name in fns:
                for p in (x, dcls.weight, dcls.P, ours.weight, ours.position):
                    p.grad = None
                times[name].append(measure(fns[name][idx], device))
        for name in fns:
            out[f"{name}_{kind}_ms"] = 1e3 * statistics.median(times[name])
            measured = memory and name in ("DCLS", "neuro")
            out[f"{name}_{kind}_peak_mib"] = (peak_memory(name, B, T, K, regime, kind, device) if measured
                                              else float("nan"))
        out[f"speedup_{kind}"] = out[f"DCLS_{kind}_ms"] / out[f"neuro_{kind}_ms"]
    ours.method = "auto"
    restore()
    backend = "cuda" if device == "cuda" else "numba"
    window = 1 if regime == "integer" else gaussian_window(ours.sigma, ours.weight, K)
    out["neuro_method"] = f"{choose_method(window, K, backend)} (W={window})"
    return out


def _cuda_kernels(device: str) -> str:
    """neuro's sparse GPU kernel family in use (``"-"`` on the CPU)."""
    if device != "cuda":
        return "-"
    from neuro.ops._delay_cuda import kernel_choice

    return kernel_choice()


def write_results(rows: list, meta: dict, tag: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    base = RESULTS / f"delays_{tag}"
    payload = json.dumps({"meta": meta, "results": rows}, indent=1)
    tmp = base.with_suffix(".json.tmp")
    tmp.write_text(payload)
    os.replace(tmp, base.with_suffix(".json"))
    lines = [f"# B3 delays: neuro DelayLinear vs DCLS {meta['dcls']} on {meta['hardware']}", "",
             f"{meta['date']}, torch {meta['torch']}, {meta['threads']} threads, precision "
             f"{meta['precision']}, neuro GPU kernels {meta['cuda_kernels']}, medians of {meta['reps']} "
             "interleaved repetitions. Times in ms, peak memory in MiB above the start; max rel diff = "
             "max |y_neuro - y_DCLS| / max |y_DCLS| (forward). Preliminary: shared machine.", "",
             "| B, T, K | regime | neuro path | fwd DCLS | fwd neuro | speed-up | fwd+bwd DCLS | "
             "fwd+bwd neuro | speed-up | peak fwd DCLS / neuro | peak fwd+bwd DCLS / neuro | max rel diff |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['B']}, {r['T']}, {r['K']} | {r['regime']} | {r['neuro_method']} | "
            f"{r['DCLS_fwd_ms']:.1f} | {r['neuro_fwd_ms']:.1f} | {r['speedup_fwd']:.1f}x | "
            f"{r['DCLS_fwd_bwd_ms']:.1f} | {r['neuro_fwd_bwd_ms']:.1f} | {r['speedup_fwd_bwd']:.1f}x | "
            f"{r['DCLS_fwd_peak_mib']:.0f} / {r['neuro_fwd_peak_mib']:.0f} | "
            f"{r['DCLS_fwd_bwd_peak_mib']:.0f} / {r['neuro_fwd_bwd_peak_mib']:.0f} | "
            f"{r['max_rel_diff']:.1e} |")
    forced = sorted({k.split("_")[0] for r in rows for k in r
                     if k.startswith("neuro:") and k.endswith("fwd_ms")})
    if forced:
        lines += ["", "Forced paths (cost-model data): " + ", ".join(forced), "",
                  "| B, T, K | regime | " + " | ".join(f"{f} fwd / fwd+bwd" for f in forced) + " |",
                  "|---|---|" + "---|" * len(forced)]
        for r in rows:
            nan = float("nan")
            cells = [f"{r.get(f + '_fwd_ms', nan):.1f} / {r.get(f + '_fwd_bwd_ms', nan):.1f}" for f in forced]
            lines.append(f"| {r['B']}, {r['T']}, {r['K']} | {r['regime']} | " + " | ".join(cells) + " |")
    tmp = base.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, base.with_suffix(".md"))
    plot(rows, meta, base.with_suffix(".png"))
    return base


def plot(rows: list, meta: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"K={r['K']}\n{r['regime']}" for r in rows]
    xs = range(len(rows))
    fig, ax = plt.subplots(figsize=(1.4 * len(rows) + 2, 3.5))
    ax.bar([x - 0.2 for x in xs], [r["speedup_fwd"] for r in rows], 0.4, label="forward")
    ax.bar([x + 0.2 for x in xs], [r["speedup_fwd_bwd"] for r in rows], 0.4, label="forward+backward")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xticks(list(xs), labels, fontsize=8)
    ax.set_ylabel("speed-up over DCLS")
    ax.set_yscale("log")
    ax.set_title(f"B3 delays, B={rows[0]['B']}, {meta['hardware']}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def main() -> None:
    global FEATURES  # _setup() and bench_case() read it; --features sets it
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--batch", type=int, default=None, help="default: 32 on cpu, 256 on cuda")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--reps-k250", type=int, default=3)
    parser.add_argument("--shapes", default="25,250", help="which K to run (T = 100 for 25, 250 for 250)")
    parser.add_argument("--tag", default=None, help="results file suffix (default: the device)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurements")
    parser.add_argument("--features", type=int, nargs=2, default=FEATURES, metavar=("IN", "OUT"),
                        help="input and output features (default: 700 256)")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "tf32"],
                        help="GPU: allow TF32 in cuDNN convolutions and cuBLAS products (default: fp32, "
                             "TF32 off for DCLS and neuro alike)")
    parser.add_argument("--methods", default="auto",
                        help="neuro paths to time: auto (the cost model's), plus dense and/or sparse forced")
    parser.add_argument("--cuda-kernel", default=None, choices=["element", "tile"],
                        help="neuro's sparse GPU kernels ($NEURO_DELAY_CUDA_KERNEL; default: the library's, "
                             "element until the tile kernels are measured faster)")
    parser.add_argument("--memory-probe", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cuda_kernel:  # also seen by the memory probes (subprocesses inherit the environment)
        os.environ["NEURO_DELAY_CUDA_KERNEL"] = args.cuda_kernel
    tf32 = args.precision == "tf32"
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    methods = tuple(m for m in args.methods.split(",") if m)
    if "auto" not in methods or not set(methods) <= {"auto", "dense", "sparse"}:
        parser.error(f"--methods must list auto and optionally dense, sparse; got {args.methods!r}")
    FEATURES = tuple(args.features)
    if min(FEATURES) < 1:
        parser.error(f"--features must be positive, got {args.features}")
    if args.memory_probe:  # internal: one peak-memory measurement in this fresh process
        name, B, T, K, regime, kind = args.memory_probe.split(",")
        print(_probe(name, int(B), int(T), int(K), regime, kind, args.device))
        return
    import DCLS

    B = args.batch or (256 if args.device == "cuda" else 32)
    meta = {"hardware": harness.device_name(args.device), "device": args.device, "torch": torch.__version__,
            "threads": torch.get_num_threads(), "dcls": getattr(DCLS, "__version__", "0.1.1"),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "reps": args.reps,
            "reps_k250": args.reps_k250, "batch": B, "features": list(FEATURES),
            "precision": args.precision if args.device == "cuda" else "fp32 (CPU)",
            "cuda_kernels": _cuda_kernels(args.device)}
    cases = [(T, K, regime) for K, T in ((25, 100), (250, 250)) if str(K) in args.shapes.split(",")
             for regime in ("sigma-large", "sigma-small", "integer")]
    rows = []
    for T, K, regime in tqdm(cases, desc="B3 cases"):
        reps = args.reps if K <= 25 else args.reps_k250
        row = bench_case(B, T, K, regime, args.device, reps, memory=not args.no_memory, methods=methods)
        rows.append(row)
        tqdm.write(f"K={K} {regime}: fwd {row['speedup_fwd']:.1f}x, fwd+bwd {row['speedup_fwd_bwd']:.1f}x "
                   f"faster than DCLS, peak {row['DCLS_fwd_bwd_peak_mib']:.0f} -> "
                   f"{row['neuro_fwd_bwd_peak_mib']:.0f} MiB, max rel diff {row['max_rel_diff']:.1e}")
        write_results(rows, meta, args.tag or f"{args.device}_b{B}")
    print((RESULTS / f"delays_{args.tag or f'{args.device}_b{B}'}.md").read_text())


if __name__ == "__main__":
    main()
