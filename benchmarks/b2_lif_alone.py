"""B2: the LIF layer alone, forward and forward+backward, vs the peers and a device copy.

    python benchmarks/b2_lif_alone.py [--device cuda] [--keep-freed-memory] [--shapes T,B,N ...]

Prints times, neuron-steps/s, the forward's share of copy bandwidth and ratios to the fastest peer;
writes ``benchmarks/results/b2_lif_alone_<device>[_keepfree].json``.
"""

from __future__ import annotations

import argparse

import torch

import harness
import lif_peers


def run(device: str, shapes, rounds: int) -> dict:
    libs = lif_peers.available(device)
    rows = []
    for T, B, N in shapes:
        gen = torch.Generator(device=device).manual_seed(0)
        x = torch.randn(T, B, N, device=device, generator=gen) * 0.3 + 0.1  # ~5-6 % firing
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
        print(f"  copy {copy_t * 1e3:.2f} ms ({copy_bw / 1e9:.1f} GB/s); neuro forward = "
              f"{100 * fwd_bw / copy_bw:.0f} % of copy bandwidth; fwd+bwd {row['speedup_fwd_bwd_vs_fastest_peer']:.2f}x "
              f"faster than {best}")
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
    args = parser.parse_args()
    if args.keep_freed_memory:
        harness.keep_freed_memory()
    shapes = args.shapes or ([(100, 32, 4096), (500, 16, 1024)] if args.device == "cpu"
                             else [(500, 16, 16384), (100, 32, 4096)])
    result = run(args.device, shapes, args.rounds)
    result.update(hardware=harness.hardware(args.device), device=args.device,
                  keep_freed_memory=args.keep_freed_memory, torch=torch.__version__)
    tag = f"b2_lif_alone_{args.device}" + ("_keepfree" if args.keep_freed_memory else "")
    print("wrote", harness.write_results(tag, result))


if __name__ == "__main__":
    main()
