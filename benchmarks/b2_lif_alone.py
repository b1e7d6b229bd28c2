"""B2: the LIF layer alone, forward and forward+backward, vs the peers and a device copy.

    python benchmarks/b2_lif_alone.py [--device cuda] [--keep-freed-memory] [--shapes T,B,N ...]
                                      [--dtype float32|bfloat16|float16] [--only neuro spikingjelly ...]
                                      [--machine NAME]

Prints times, neuron-steps/s, the forward's share of copy bandwidth and ratios to the fastest peer,
and the issue-18 targets (CPU: fwd+bwd >= 5x the fastest peer, forward >= 60 % of copy bandwidth;
GPU: forward >= 75 % of copy bandwidth, fwd and fwd+bwd <= 0.5x SpikingJelly's time); writes
``benchmarks/results/b2_lif_alone_<device>[_<dtype>][_keepfree].json``.
"""

from __future__ import annotations

import argparse
import os

import harness
import lif_peers
import torch


def _targets(device: str, row: dict) -> list[str]:
    """The issue-18 targets of one shape, as printable lines ("met" / "missed" with the figure)."""
    fwd, fb, frac = row["fwd_s"], row["fwd_bwd_s"], row["neuro_fwd_fraction_of_copy_bw"]
    lines = []

    def check(name: str, value: float, ok: bool) -> None:
        lines.append(f"  target {name}: {value:.2f} ({'met' if ok else 'missed'})")

    if device == "cpu":
        if row["speedup_fwd_bwd_vs_fastest_peer"] is not None:
            s = row["speedup_fwd_bwd_vs_fastest_peer"]
            check(f"fwd+bwd >= 5x faster than the fastest peer ({row['fastest_peer_fwd_bwd']})", s, s >= 5)
        check("forward >= 0.60 of copy bandwidth", frac, frac >= 0.6)
    else:
        check("forward >= 0.75 of copy bandwidth", frac, frac >= 0.75)
        if "spikingjelly" in fwd:
            for name, t in (("fwd", fwd), ("fwd+bwd", fb)):
                r = t["neuro"] / t["spikingjelly"]
                check(f"{name} <= 0.5x SpikingJelly's time", r, r <= 0.5)
    return lines


def run(device: str, shapes, rounds: int, dtype: torch.dtype = torch.float32, only=None) -> dict:
    libs = lif_peers.available(device)
    if only:
        libs = {k: v for k, v in libs.items() if k in only or k == "neuro"}
    rows = []
    for T, B, N in shapes:
        gen = torch.Generator(device=device).manual_seed(0)
        x = (torch.randn(T, B, N, device=device, generator=gen) * 0.3 + 0.1).to(dtype)  # ~5-6 % firing
        xg = x.clone().requires_grad_()
        g = torch.ones_like(x)
        steps = {name: build(device) for name, build in libs.items()}
        rate = float(steps["neuro"](x).mean())

        def fwd(step):
            def f():
                with torch.no_grad():
                    return step(x)
            return f

        def fwd_bwd(step):
            def f():
                xg.grad = None
                step(xg).backward(g)
            return f

        y = torch.empty_like(x)
        fwd_t = harness.time_interleaved({k: fwd(s) for k, s in steps.items()}, device, rounds)
        fb_t = harness.time_interleaved({k: fwd_bwd(s) for k, s in steps.items()}, device, rounds)
        copy_t = harness.time_interleaved({"copy": lambda: y.copy_(x)}, device, rounds)["copy"]
        mem = {k: harness.peak_memory(fwd_bwd(s), device) for k, s in steps.items()}
        size = x.numel()
        copy_bw = 2 * size * x.element_size() / copy_t
        fwd_bw = 2 * size * x.element_size() / fwd_t["neuro"]  # reads x, writes spikes
        peers_only = {k: v for k, v in fb_t.items() if k != "neuro"}
        best = min(peers_only, key=peers_only.get) if peers_only else None
        row = dict(shape=[T, B, N], firing_rate=rate, fwd_s=fwd_t, fwd_bwd_s=fb_t, copy_s=copy_t,
                   peak_extra_mib=mem, neuro_fwd_neuron_steps_per_s=size / fwd_t["neuro"],
                   neuro_fwd_bwd_neuron_steps_per_s=size / fb_t["neuro"],
                   neuro_fwd_fraction_of_copy_bw=fwd_bw / copy_bw,
                   fastest_peer_fwd_bwd=best,
                   speedup_fwd_bwd_vs_fastest_peer=(fb_t[best] / fb_t["neuro"]) if best else None)
        rows.append(row)
        print(f"\nT,B,N = {T},{B},{N}  (firing rate {rate:.3f})")
        print(f"  {'library':<14}{'fwd ms':>10}{'fwd+bwd ms':>12}{'peak MiB':>10}{'fwd+bwd vs neuro':>18}")
        for k in steps:
            print(f"  {k:<14}{fwd_t[k] * 1e3:>10.2f}{fb_t[k] * 1e3:>12.2f}{mem[k]:>10.0f}"
                  f"{fb_t[k] / fb_t['neuro']:>17.2f}x")
        speedup = row["speedup_fwd_bwd_vs_fastest_peer"]
        print(f"  copy {copy_t * 1e3:.2f} ms ({copy_bw / 1e9:.1f} GB/s); neuro forward = "
              f"{100 * fwd_bw / copy_bw:.0f} % of copy bandwidth"
              + (f"; fwd+bwd {speedup:.2f}x faster than {best}" if best else ""))
        row["targets"] = _targets(device, row)
        print("\n".join(row["targets"]))
    return dict(rows=rows)


def _shape(text: str) -> tuple:
    """``"T,B,N"`` -> ``(T, B, N)``, three positive integers."""
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"expected T,B,N (three positive integers), got {text!r}")
    return shape


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--shapes", nargs="+", type=_shape, metavar="T,B,N", default=None,
                        help="shapes to time (default: 100,32,4096 500,16,1024 on cpu; "
                             "500,16,16384 100,32,4096 on cuda)")
    parser.add_argument("--keep-freed-memory", action="store_true",
                        help="glibc keeps freed blocks (a caching CPU allocator) for every library")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"),
                        help="input dtype for every library (neuro: low-precision in/out, float32 state)")
    parser.add_argument("--machine", default="", metavar="NAME",
                        help="appended to the results file name (e.g. xeon_2c): one file per machine")
    parser.add_argument("--only", nargs="+", default=None, metavar="LIBRARY",
                        help="time only these libraries (and neuro)")
    args = parser.parse_args()
    if args.keep_freed_memory:
        harness.keep_freed_memory()
    shapes = args.shapes or ([(100, 32, 4096), (500, 16, 1024)] if args.device == "cpu"
                             else [(500, 16, 16384), (100, 32, 4096)])
    print(f"B2 on {harness.hardware(args.device)}, {args.dtype}")
    result = run(args.device, shapes, args.rounds, getattr(torch, args.dtype), args.only)
    result.update(hardware=harness.hardware(args.device), device=args.device, dtype=args.dtype,
                  keep_freed_memory=args.keep_freed_memory, torch=torch.__version__)
    tag = f"b2_lif_alone_{args.device}" + ("" if args.dtype == "float32" else f"_{args.dtype}") + (
        "_keepfree" if args.keep_freed_memory else "")
    tag += f"_{args.machine}" if args.machine else ""
    result["load_average_at_end"] = list(os.getloadavg())  # the machine may be shared
    print("wrote", harness.write_results(tag, result))


if __name__ == "__main__":
    main()
