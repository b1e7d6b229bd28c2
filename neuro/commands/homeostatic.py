"""``neuro homeostatic``: homeostatic vs control learners on concept-shifting streams.

Runs a grid — methods x shift rates (samples between swaps) x seeds — of
:mod:`neuro.models.homeostatic` learners into a results folder (one JSON per finished run,
summary tables with paired differences and 95 % CIs, plots); ``--resume`` finishes an
interrupted grid. Data: the embedded digits (``digits``: sklearn's 8x8 images; ``digits_events``:
their event frames, for ``--model snn``) or MNIST / Fashion-MNIST from torchvision-layout IDX
files under ``--data-root`` (``MNIST/raw``, ``FashionMNIST/raw``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HELP = ("homeostatic (need-driven) learners vs controls on label-swap concept shift: grid of methods, "
        "shift rates and seeds, results folder, --resume")

DATASETS = ("digits", "digits_events", "mnist", "fashion_mnist")

# flag -> (StreamConfig field, type, help); defaults None = the StreamConfig default
_OPTIONS = (
    ("--model", "model", str, "mlp (the paper's ELU MLP) | snn (LIF/ALIF on the engine)"),
    ("--epochs", "epochs", int, "passes over the training set"),
    ("--minibatch", "minibatch", int, "minibatch size (the paper: 10)"),
    ("--lr", "lr", float, "initial SGD learning rate eta0 (the paper: 1e-3)"),
    ("--adam-lr", "adam_lr", float, "learning rate of the Adam baseline"),
    ("--step", "step", float, "regulation step Delta (default: a tenth of the initial value)"),
    ("--floor", "floor", float, "floor of the regulated variable (lr default 1e-8)"),
    ("--ceiling", "ceiling", float, "ceiling of the regulated variable"),
    ("--regulate", "regulate", str, "lr | tau_adapt | beta_adapt (the last two: --model snn --neuron alif)"),
    ("--need-threshold", "need_threshold", int, "labels >= this raise the variable, the others lower it"),
    ("--lr-interval", "lr_interval", int, "samples between decision opportunities (the paper: 10)"),
    ("--n-memo", "n_memo", int, "replay buffer size (the paper: 20)"),
    ("--warmup", "warmup", int, "samples before the first opportunity (default n-memo)"),
    ("--criterion", "criterion", str, "look-ahead score: accuracy (the paper) | loss"),
    ("--mode", "mode", str, "fast (batched) | exact (the paper's per-sample loops; same decisions)"),
    ("--random-p", "random_p", float, "probability of the random control"),
    ("--swaps-per-epoch", "swaps_per_epoch", int, "swaps per epoch instead of --gaps"),
    ("--hidden", "hidden", json.loads, "hidden sizes, JSON list (default [80, 60])"),
    ("--steps", "steps", int, "SNN: time steps a static image is shown"),
    ("--neuron", "neuron", str, "SNN: lif | alif"),
    ("--tau-mem", "tau_mem", float, "SNN: membrane time constant (s)"),
    ("--backend", "backend", str, "SNN: neuron kernels auto | torch | numba"),
    ("--dtype", "dtype", str, "float32 | float64"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default=None, help=f"one of {', '.join(DATASETS)} (default digits)")
    parser.add_argument("--methods", default=None,
                        help="comma list of homeostatic, homeostatic_loss (look-ahead on the replay "
                             "loss), random, always, constant, adam, drift "
                             "(default homeostatic,random,constant)")
    parser.add_argument("--gaps", default=None,
                        help="comma list of samples between swaps, 0 = no shift (default 0,600)")
    parser.add_argument("--seasons", type=json.loads, default=None,
                        help='second-order shift instead of --gaps: JSON [[length, gap or null], ...]')
    parser.add_argument("--seeds", default=None, help="comma list of seeds (default 0,1,2)")
    for flag, dest, kind, text in _OPTIONS:
        parser.add_argument(flag, dest=dest, type=kind, default=None, help=text)
    parser.add_argument("--train-samples", type=int, default=None, help="random subset of the training set")
    parser.add_argument("--val-samples", type=int, default=None, help="random subset of the validation set")
    parser.add_argument("--data-root", default=None, help="folder with MNIST/raw or FashionMNIST/raw "
                        "(default $NEURO_DATA)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", default=True,
                        help="no progress bars")
    parser.add_argument("--out", type=Path, default=None, help="results folder (new grid)")
    parser.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR",
                        help="finish the grid in RUN_DIR (its grid.json fixes every option)")


def _ints(text: str | None, default: list[int]) -> list[int]:
    return default if text is None else [int(v) for v in text.split(",") if v.strip()]


def load_data(name: str, root: str | None = None, model: str = "mlp"):
    """The :class:`~neuro.models.homeostatic.data.ArraySet` of ``name`` (MNIST-like sets from IDX
    files under ``root`` / ``$NEURO_DATA``)."""
    import os

    from neuro.models.homeostatic.data import ArraySet, digits_events_set, digits_set

    if name not in DATASETS:
        raise ValueError(f"--dataset must be one of {DATASETS}, got {name!r}")
    if name == "digits":
        return digits_set()
    if name == "digits_events":
        if model != "snn":
            raise ValueError("digits_events holds event sequences: use --model snn")
        return digits_events_set()
    import torch

    from neuro.learning.mnist_idx import mnist_arrays, read_idx

    root = root or os.environ.get("NEURO_DATA")
    if root is None:
        raise ValueError(f"{name} needs --data-root (or $NEURO_DATA) with torchvision's raw IDX files")
    if name == "mnist":
        (xt, yt), (xv, yv) = mnist_arrays(root, "train"), mnist_arrays(root, "test")
    else:
        raw = Path(root) / "FashionMNIST" / "raw"

        def split(prefix: str):
            found = []
            for stem in (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"):
                path = next((p for p in (raw / stem, raw / (stem + ".gz")) if p.is_file()), None)
                if path is None:
                    from neuro.datasets import DatasetNotFoundError

                    raise DatasetNotFoundError(f"Fashion-MNIST file {stem} (or .gz) is missing in {raw}")
                found.append(path)
            x = torch.from_numpy(read_idx(found[0], 3)).float().div_(255.0).unsqueeze(1)
            return x, torch.from_numpy(read_idx(found[1], 1).astype("int64"))

        (xt, yt), (xv, yv) = split("train"), split("t10k")
    return ArraySet(name, xt.flatten(1), yt, xv.flatten(1), yv, 10, True)


def _spec(args: argparse.Namespace):
    from neuro.models.homeostatic.grid import VARIANTS, GridSpec

    base: dict[str, Any] = {dest: getattr(args, dest) for _, dest, _, _ in _OPTIONS
                            if getattr(args, dest) is not None}
    if args.seasons is not None:
        if args.gaps is not None or args.swaps_per_epoch:
            raise ValueError("give --seasons or --gaps / --swaps-per-epoch, not both")
        rates = [{"seasons": args.seasons}]
    elif base.get("swaps_per_epoch"):
        rates = [{"swaps_per_epoch": base.pop("swaps_per_epoch")}]
    else:
        rates = [{"gap": g} for g in _ints(args.gaps, [0, 600])]
    methods = [m.strip() for m in (args.methods or "homeostatic,random,constant").split(",") if m.strip()]
    return GridSpec(methods=methods, rates=rates, seeds=_ints(args.seeds, [0, 1, 2]), base=base,
                    dataset=args.dataset or "digits", train_samples=args.train_samples,
                    val_samples=args.val_samples,
                    reference="homeostatic" if "homeostatic" in methods else methods[0],
                    variants={m: VARIANTS[m] for m in methods if m in VARIANTS})


def run(args: argparse.Namespace) -> int:
    from neuro.datasets import CorruptFileError, DatasetNotFoundError

    try:
        from neuro.models.homeostatic.grid import GridSpec, run_grid, write_report

        if args.resume is not None:
            spec = GridSpec(**json.loads((args.resume / "grid.json").read_text()))
            run_dir = args.resume
        else:
            if args.out is None:
                raise ValueError("give --out RUN_DIR for a new grid (or --resume RUN_DIR)")
            spec = _spec(args)
            run_dir = args.out
            if (run_dir / "grid.json").exists():
                raise ValueError(f"{run_dir} already holds a grid; use --resume {run_dir} or a new folder")
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        data = load_data(spec.dataset, args.data_root, spec.base.get("model", "mlp"))
        data = data.subset(spec.train_samples, spec.val_samples, seed=0)
        bar = None
        if args.progress:
            from tqdm.auto import tqdm

            bar = tqdm
        records = run_grid(spec, data, run_dir, bar)
        variable = {"lr": "learning rate"}.get(spec.base.get("regulate", "lr"), spec.base.get("regulate"))
        model = spec.base.get("model", "mlp").upper()
        tables = write_report(run_dir, records, f"{model} on {spec.dataset}", spec.reference, variable)
    except (ValueError, FileNotFoundError, ImportError, DatasetNotFoundError, CorruptFileError) as err:
        print(f"neuro homeostatic: error: {err}", file=sys.stderr)
        return 2
    except FloatingPointError as err:
        print(f"neuro homeostatic: {err}. Finished runs are kept in {run_dir}.", file=sys.stderr)
        return 3
    for row in tables["val_acc_mean"]:
        diff = row.get(f"{spec.reference}_minus")
        extra = "" if diff is None else (f"  {spec.reference} - {row['method']}: {100 * diff:+.2f} "
                                         f"[{100 * row['ci_low']:+.2f}, {100 * row['ci_high']:+.2f}]")
        print(f"{row['rate']:>10s} {row['method']:>11s}: val acc {100 * row['mean']:.2f}%{extra}")
    print(f"results folder {run_dir}")
    return 0
