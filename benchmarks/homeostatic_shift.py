"""Homeostatic (need-driven) learners vs controls under label-swap concept shift, MLP and SNN.

    python benchmarks/homeostatic_shift.py EXPERIMENT [--rates gap600,gap150] [--methods ...]
        [--threads 1] [--work-dir runs/homeostatic] [--report-only]

Experiments (:data:`EXPERIMENTS`), all on the embedded digits (sklearn's 8x8 images, 1437 train /
360 validation; epochs of 1430 samples in minibatches of 10) with the paper's protocol: a decision
opportunity every 10 samples, a replay buffer of 20, the need "labels 5-9 raise the learning rate,
0-4 lower it" by Delta = eta0 / 10, floor 1e-8:

* ``mlp_paper`` — the paper's ELU MLP (64-80-60-10, He init, N(0, 1) biases) at the paper's
  eta0 = 1e-3; learners: homeostatic (the paper: look-ahead on replay accuracy), homeostatic_loss
  (look-ahead on replay cross-entropy), random (p = 0.5), constant, Adam (1e-3), drift-triggered;
* ``mlp_lr1e-2`` — the same at eta0 = 1e-2 (sensitivity to eta0; Adam does not depend on it);
* ``mlp_seasonal`` — second-order shift at eta0 = 1e-3: seasons of 7150 samples (5 epochs)
  alternating a swap every 150 samples with no swaps;
* ``snn_paper`` — the LIF version (8 steps, tau_mem 10 ms, surrogate gradients) at eta0 = 3e-3,
  where its no-shift learning speed is close to the MLP's at 1e-3.

Shift rates are samples between swaps: none, 3000, 600 and 150 (with 60,000 MNIST samples per
epoch these are 20, 100 and 400 swaps per epoch; with the replay of 20 they are 150, 30 and 7.5
replay buffers between swaps). Seeds 0-2; runs sharing a seed share the initialisation, data order
and swaps, so differences are paired (t 95 % CIs over seeds).

Each experiment's grid folder (one JSON per run, resumable; ``--rates`` / ``--methods`` run a part)
is ``<work-dir>/<experiment>``; the report (summary tables, ``epochs.csv``, plots, the command
lines and timing) goes to ``benchmarks/results/homeostatic/<experiment>/``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

from neuro._io import write_text
from neuro.models.homeostatic import digits_set
from neuro.models.homeostatic.grid import VARIANTS, GridSpec, load_records, run_grid, write_report

GAPS = [{"gap": 0}, {"gap": 3000}, {"gap": 600}, {"gap": 150}]
ALL = ["homeostatic", "homeostatic_loss", "random", "constant", "adam", "drift"]
CORE = ["homeostatic", "homeostatic_loss", "random", "constant"]
MLP = {"model": "mlp", "epochs": 20, "minibatch": 10, "lr_interval": 10, "n_memo": 20}
EXPERIMENTS = {
    "mlp_paper": dict(methods=ALL, rates=GAPS, base={**MLP, "lr": 1e-3}),
    "mlp_lr1e-2": dict(methods=CORE + ["drift"], rates=GAPS, base={**MLP, "lr": 1e-2}),
    "mlp_seasonal": dict(methods=CORE, rates=[{"seasons": [[7150, 150], [7150, None]], "label": "seasonal"}],
                         base={**MLP, "lr": 1e-3}),
    "snn_paper": dict(methods=CORE, rates=[{"gap": 0}, {"gap": 3000}, {"gap": 600}, {"gap": 150}],
                      base={**MLP, "model": "snn", "epochs": 10, "steps": 8, "tau_mem": 10e-3, "lr": 3e-3}),
}
TITLES = {"mlp_paper": "MLP, eta0 = 1e-3 (the paper's)", "mlp_lr1e-2": "MLP, eta0 = 1e-2",
          "mlp_seasonal": "MLP, seasonal shift, eta0 = 1e-3", "snn_paper": "LIF SNN, eta0 = 3e-3"}
RESULTS = Path(__file__).resolve().parent / "results" / "homeostatic"


def spec_of(name: str) -> GridSpec:
    e = EXPERIMENTS[name]
    return GridSpec(methods=e["methods"], rates=e["rates"], seeds=[0, 1, 2], base=e["base"], dataset="digits",
                    variants={m: VARIANTS[m] for m in e["methods"] if m in VARIANTS})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", choices=sorted(EXPERIMENTS))
    parser.add_argument("--rates", default=None, help="comma list of rate labels to run now (gap600, ...)")
    parser.add_argument("--methods", default=None, help="comma list of learners to run now")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work-dir", type=Path, default=Path("runs/homeostatic"))
    parser.add_argument("--report-only", action="store_true", help="only rewrite the report")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    spec = spec_of(args.experiment)
    run_dir = args.work_dir / args.experiment
    clock = time.perf_counter()
    if args.report_only:
        records = load_records(run_dir)
    else:
        records = run_grid(spec, digits_set(), run_dir,
                           rates=args.rates.split(",") if args.rates else None,
                           methods=args.methods.split(",") if args.methods else None)
    out = RESULTS / args.experiment
    write_report(out, records, TITLES[args.experiment], spec.reference, extra_references=["homeostatic_loss"])
    seconds = sum(r["seconds"] for r in records)
    write_text(out / "README.md", (
        f"# {TITLES[args.experiment]}\n\nMade by `python benchmarks/homeostatic_shift.py {args.experiment}"
        f" --threads {args.threads}` (in parts with `--rates`), on a shared 2-core CPU "
        f"(NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS', 'default')}). {len(records)} runs, "
        f"{seconds / 60:.1f} min of run time in all.\n\nGrid: `grid.json`. Tables: `summary.md` "
        "(mean over seeds, paired differences with 95 % t CIs), `summary.csv`/`.json`, every epoch of "
        "every run in `epochs.csv`. Plots: `accuracy.png` (validation accuracy per epoch, mean +- sd "
        "over seeds), `online.png` (online training accuracy), `traces.png` (learning rate over "
        "samples), `gaps.png` / `gaps_homeostatic_loss.png` (that learner - each other one, paired, "
        "95 % CI, vs rate).\n"))
    write_text(out / "grid.json", json.dumps(spec.to_dict(), indent=1))
    print(f"{len(records)} runs in {run_dir}; report in {out} ({time.perf_counter() - clock:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
