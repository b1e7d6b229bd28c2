"""B1, the Open Neuromorphic SNN library benchmark shape: ``Linear(n, n)`` + LIF, batch 16, T = 500.

    python benchmarks/b1_linear_lif.py [--device cuda] [--sizes 512 2048] [--tf32] [--keep-freed-memory]
                                       [--T 500] [--batch 16] [--only LIB ...]
                                       [--machine NAME]

Times forward and forward+backward of every library (same Linear, same LIF semantics as
``lif_peers.py``), the Linear layer alone, and the peak extra memory; prints ratios, the share the
LIF adds on top of the Linear and the issue-18 targets (CPU: faster than every peer, the LIF adds
<= 10 %; GPU: fwd+bwd <= 0.8x SpikingJelly at n = 512 and <= 1.0x above, the LIF adds <= 5 % at
n >= 4096, peak memory <= SpikingJelly's). Writes ``benchmarks/results/b1_linear_lif_<device>[...].json``.
"""

from __future__ import annotations

import argparse
import os

import harness
import lif_peers
import torch

T, B = 500, 16


def run(device: str, sizes, rounds: int, only=None) -> dict:
    libs = lif_peers.available(device)
    if only:
        libs = {k: v for k, v in libs.items() if k in only or k == "neuro"}
    rows = []
    for n in sizes:
        gen = torch.Generator(device=device).manual_seed(0)
        x = (torch.rand(T, B, n, device=device, generator=gen) < 0.2).float()
        linear = torch.nn.Linear(n, n, device=device)
        with torch.no_grad():
            linear.weight.mul_(3.0)
        steps = {name: build(device) for name, build in libs.items()}
        steps["linear_alone"] = lambda inp: inp
        with torch.no_grad():
            rate = float(steps["neuro"](linear(x)).mean())

        def fwd(step):
            def f():
                with torch.no_grad():
                    return step(linear(x))
            return f

        def fwd_bwd(step):
            def f():
                linear.zero_grad(set_to_none=True)
                step(linear(x)).sum().backward()
            return f

        fwd_t = harness.time_interleaved({k: fwd(s) for k, s in steps.items()}, device, rounds)
        fb_t = harness.time_interleaved({k: fwd_bwd(s) for k, s in steps.items()}, device, rounds)
        mem = {k: harness.peak_memory(fwd_bwd(s), device) for k, s in steps.items()}
        lin = fb_t["linear_alone"]
        row = dict(n=n, T=T, B=B, firing_rate=rate, fwd_s=fwd_t, fwd_bwd_s=fb_t, peak_extra_mib=mem,
                   neuro_lif_overhead_over_linear=(fb_t["neuro"] - lin) / lin)
        rows.append(row)
        print(f"\nn = {n}  (LIF firing rate {rate:.3f})")
        print(f"  {'library':<14}{'fwd ms':>10}{'fwd+bwd ms':>12}{'peak MiB':>10}{'fwd+bwd vs neuro':>18}")
        for k in steps:
            print(f"  {k:<14}{fwd_t[k] * 1e3:>10.2f}{fb_t[k] * 1e3:>12.2f}{mem[k]:>10.0f}"
                  f"{fb_t[k] / fb_t['neuro']:>17.2f}x")
        adds = 100 * row["neuro_lif_overhead_over_linear"]
        print(f"  the LIF adds {adds:.1f} % to the Linear alone (fwd+bwd)")
        row["targets"] = _targets(device, row)
        print("\n".join(row["targets"]))
    return dict(rows=rows)


def _targets(device: str, row: dict) -> list[str]:
    """The issue-18 targets of one size, as printable lines ("met" / "missed" with the figure)."""
    fb, mem, n = row["fwd_bwd_s"], row["peak_extra_mib"], row["n"]
    adds = row["neuro_lif_overhead_over_linear"]
    peers = {k: v for k, v in fb.items() if k not in ("neuro", "linear_alone")}
    lines = []

    def check(name: str, value: float, ok: bool) -> None:
        lines.append(f"  target {name}: {value:.3f} ({'met' if ok else 'missed'})")

    if device == "cpu":
        if peers:
            best = min(peers, key=peers.get)
            check(f"fwd+bwd faster than every peer (neuro / {best})", fb["neuro"] / peers[best],
                  fb["neuro"] < peers[best])
        check("the LIF adds <= 0.10 to the Linear alone", adds, adds <= 0.10)
    elif "spikingjelly" in fb:
        bound = 0.8 if n <= 512 else 1.0
        r = fb["neuro"] / fb["spikingjelly"]
        check(f"fwd+bwd <= {bound}x SpikingJelly's", r, r <= bound)
        if n >= 4096:
            check("the LIF adds <= 0.05 to the Linear alone", adds, adds <= 0.05)
        check("peak memory <= SpikingJelly's (neuro / SJ)", mem["neuro"] / mem["spikingjelly"],
              mem["neuro"] <= mem["spikingjelly"])
    return lines


def main() -> None:
    global T, B  # run() reads the shape from these module constants; --T and --batch set them
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", type=int, nargs="+")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--T", type=int, default=T, help=f"time steps (default {T})")
    parser.add_argument("--batch", type=int, default=B, help=f"batch size (default {B})")
    parser.add_argument("--tf32", action="store_true", help="allow TF32 matmuls (GPU)")
    parser.add_argument("--only", nargs="+", default=None, metavar="LIBRARY",
                        help="time only these libraries (and neuro, and the Linear alone)")
    parser.add_argument("--machine", default="", metavar="NAME",
                        help="appended to the results file name (e.g. xeon_2c): one file per machine")
    parser.add_argument("--keep-freed-memory", action="store_true",
                        help="glibc keeps freed blocks (a caching CPU allocator) for every library")
    args = parser.parse_args()
    T, B = args.T, args.batch
    if args.keep_freed_memory:
        harness.keep_freed_memory()
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    sizes = args.sizes or ([512, 2048] if args.device == "cpu" else [512, 4096, 16384])
    print(f"B1 on {harness.hardware(args.device)}, T = {T}, batch {B}")
    result = run(args.device, sizes, args.rounds, args.only)
    result.update(hardware=harness.hardware(args.device), device=args.device, tf32=args.tf32,
                  keep_freed_memory=args.keep_freed_memory, torch=torch.__version__)
    tag = f"b1_linear_lif_{args.device}" + ("_tf32" if args.tf32 else "") + (
        "_keepfree" if args.keep_freed_memory else "")
    tag += f"_{args.machine}" if args.machine else ""
    result["load_average_at_end"] = list(os.getloadavg())  # the machine may be shared
    print("wrote", harness.write_results(tag, result))


if __name__ == "__main__":
    main()
