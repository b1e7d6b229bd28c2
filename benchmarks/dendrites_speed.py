"""Speed of the dendritic layer: the one-segment fast path against the general selection.

    python benchmarks/dendrites_speed.py [--threads 1] [--rounds 9]

nupic.research PR #495 ("OneSegmentDendriticLayer", reported 3-6x faster) asked for a single-segment
layer that skips the segment selection. Timed here (forward + backward, median of interleaved
rounds, :mod:`harness`): a ``DendriticLayer`` of 968 -> 800 units with a 968-d context and

* ``S = 10`` segments (the general path: ``argmax |a|``, gather);
* ``S = 1`` through the general selection (a gather over one segment);
* ``S = 1`` on the fast path (``a`` used directly, what the layer does for ``segments=1``);
* ``S = 0`` (no dendrites: a masked linear layer) and a plain ``torch.nn.Linear``,

for a context shared by the batch (continual learning: one prototype per batch) and per-sample
contexts (one-hot task IDs, as in the multi-task RL experiments). Writes
``benchmarks/results/dendrites/speed.{json,md}``.
"""

from __future__ import annotations

import argparse
import json

import harness
import torch

from neuro._io import write_text
from neuro.models.dendrites import DendriticLayer, modulate, select_segment

OUT = harness.RESULTS / "dendrites"


def general_path(layer: DendriticLayer, x, context):
    """The layer's output through the general selection, whatever its segment count."""
    selected, _ = select_segment(layer.segment_activations(context), layer.mode)
    return modulate(layer.feedforward(x), selected, layer.mode)


def cases(batch: int, per_sample: bool):
    torch.manual_seed(0)
    n_in, n_out, d_c = 968, 800, 968
    x = torch.randn(batch, n_in)
    context = torch.randn(batch, d_c) if per_sample else torch.randn(d_c)
    ten, one = DendriticLayer(n_in, n_out, d_c, 10), DendriticLayer(n_in, n_out, d_c, 1)
    plain, linear = DendriticLayer(n_in, n_out, d_c, 0), torch.nn.Linear(n_in, n_out)

    def step(fn, module):
        def run():
            module.zero_grad(set_to_none=True)
            fn().square().mean().backward()
        return run

    return {"S=10 (general)": step(lambda: ten(x, context), ten),
            "S=1 general selection": step(lambda: general_path(one, x, context), one),
            "S=1 fast path": step(lambda: one(x, context), one),
            "S=0 (masked linear)": step(lambda: plain(x), plain),
            "torch.nn.Linear": step(lambda: linear(x), linear)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {}
    for per_sample in (False, True):
        key = "per-sample contexts" if per_sample else "shared context"
        times = harness.time_interleaved(cases(args.batch, per_sample), "cpu", rounds=args.rounds)
        results[key] = {name: round(1e3 * t, 3) for name, t in times.items()}
        print(key, results[key], flush=True)
    lines = ["# Dendritic layer speed: one-segment fast path", "",
             f"Hardware: {harness.hardware('cpu')} (shared machine; medians of {args.rounds} "
             f"interleaved rounds). Command: `python benchmarks/dendrites_speed.py --threads "
             f"{args.threads}`. Layer 968 -> 800, context 968, batch {args.batch}, forward + backward.",
             "", "| layer | shared context (ms) | per-sample contexts (ms) |", "|---|---|---|"]
    for name in results["shared context"]:
        lines.append(f"| {name} | {results['shared context'][name]:.3f} | "
                     f"{results['per-sample contexts'][name]:.3f} |")
    for key in results:
        r = results[key]
        lines.append("")
        lines.append(f"{key}: S=1 fast path vs S=10: {r['S=10 (general)'] / r['S=1 fast path']:.2f}x; "
                     f"vs S=1 through the general selection: "
                     f"{r['S=1 general selection'] / r['S=1 fast path']:.2f}x.")
    OUT.mkdir(parents=True, exist_ok=True)
    write_text(OUT / "speed.json", json.dumps({"hardware": harness.hardware("cpu"),
                                               "batch": args.batch, "ms": results}, indent=1))
    write_text(OUT / "speed.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
