"""Transfer: the 6-link ES-trained shared-weight NCAP circuits run unmodified on 4 to 10 links.

Loads the ``ncap`` runs of ``benchmarks/swimmer_es.py`` (one circuit per ES seed, 4 weights each),
runs each on every body length and the untrained constant-init circuit on the same 8 fixed episodes
of 1000 steps, and writes ``transfer.json`` / ``transfer.md`` / ``transfer.png`` to ``--out``:
trained return per body (pooled over the circuits), as a ratio to the 6-link trained return and to
the untrained return on that body, and the paired difference trained - untrained (95 % t-interval
over episodes).

    python benchmarks/swimmer_transfer.py
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from neuro._io import pyplot, save_figure, write_text
from neuro.models.ncap.es import EVAL_SEED0, load_policy
from neuro.models.ncap.transfer import transfer_table

REPO = Path(__file__).resolve().parents[1]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=REPO / "runs" / "swimmer_es")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "swimmer")
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--links", type=int, nargs="+", default=list(range(4, 11)))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    folders = sorted((args.work / "ncap").glob("seed*"))
    if not folders:
        raise SystemExit(f"no ncap runs under {args.work}: run benchmarks/swimmer_es.py first")
    policies = [load_policy(f) for f in folders]
    roles = list(policies[0].circuit.params)
    weights = [{r: p.circuit.params[r].item() for r in roles} for p in policies]
    seeds = [EVAL_SEED0 + k for k in range(args.episodes)]
    start = time.perf_counter()
    rows = transfer_table(policies, args.links, reference=6, seeds=seeds, steps=args.steps)
    result = {"weights": weights[0], "weights_per_seed": weights, "runs": [str(f.relative_to(REPO))
              if f.is_relative_to(REPO) else str(f) for f in folders],
              "episodes": len(seeds), "steps": args.steps, "seeds": [seeds[0], seeds[-1]], "rows": rows,
              "seconds": time.perf_counter() - start}
    write_text(args.out / "transfer.json", json.dumps(result, indent=1))
    md = [f"ES-trained 6-link NCAP ({len(policies)} circuits, one per ES seed) on other bodies; "
          f"{len(seeds)} fixed episodes of {args.steps} steps; untrained = constant init on the same "
          "episodes.",
          "", "| links | trained | untrained | trained / trained(6) | trained / untrained | "
          "trained - untrained (95 % CI) |", "|---|---|---|---|---|---|"]
    for r in rows:
        md.append(f"| {r['n_links']} | {r['trained_mean']:.1f} | {r['untrained_mean']:.1f} | "
                  f"{r['ratio_to_reference']:.3f} | {r['ratio_to_untrained']:.3f} | "
                  f"{r['diff_mean']:+.1f} ± {r['diff_ci95']:.1f} |")
    write_text(args.out / "transfer.md", "\n".join(md) + "\n")
    print("\n".join(md))

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    n = [r["n_links"] for r in rows]
    ax.plot(n, [r["untrained_mean"] for r in rows], "s--", color="0.5", label="untrained (constant init)")
    ax.plot(n, [r["trained_mean"] for r in rows], "o-", color="tab:blue", label="ES-trained on 6 links")
    for k in range(len(policies)):
        ax.plot(n, [r["trained_per_policy"][k] for r in rows], ".", color="tab:blue", alpha=0.5)
    ax.axvline(6, color="k", lw=0.5, ls=":")
    ax.set_xlabel("links")
    ax.set_ylabel(f"return ({len(seeds)} episodes, max 1000)")
    ax.set_title("one 4-weight circuit, any body length (dots: each ES seed)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, args.out / "transfer.png")


if __name__ == "__main__":
    main()
