"""``neuro train``: train a model on an event dataset (also under ``torchrun`` for DDP)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

HELP = "train a spiking network on an event dataset (progress, checkpoints, --resume, torchrun)"

# CLI flag -> TrainConfig field, type and help; every default is None (= "not given")
_OPTIONS = (
    ("--dataset", "dataset", str, "dataset name (digits_events, nmnist, shd, ssc, dvs_gesture, "
                                  "ntidigits)"),
    ("--model", "model", str, "model name (csnn, snn, cuba_snn, rsnn, cuba_rsnn, delay_snn); "
                              "delay_snn on shd/ssc starts from the published recipe"),
    ("--loss", "loss", str, "count (spike counts) | max | last | mean | sum_softmax (LI readout "
                            "membrane)"),
    ("--epochs", "epochs", int, "number of epochs"),
    ("--batch-size", "batch_size", int, "batch size (per process under torchrun)"),
    ("--lr", "lr", float, "Adam learning rate"),
    ("--weight-decay", "weight_decay", float, "Adam weight decay"),
    ("--scheduler", "scheduler", str, "cosine | onecycle | none (per epoch)"),
    ("--max-lr", "max_lr", float, "peak learning rate of the onecycle schedule (default --lr)"),
    ("--grad-clip", "grad_clip", float, "clip the gradient norm to this value"),
    ("--seed", "seed", int, "seed of initialisation and data order"),
    ("--backend", "backend", str, "neuron kernels: auto | torch | numba | cuda"),
    ("--time-window-us", "time_window_us", float, "frame length in microseconds"),
    ("--n-time-bins", "n_time_bins", int, "fixed number of frames per sample"),
    ("--duration-us", "duration_us", float, "bin exactly [0, duration) microseconds"),
    ("--denoise-us", "denoise_us", float, "tonic Denoise filter time (cameras)"),
    ("--downsample", "downsample", float, "spatial / channel downsampling factor (<= 1)"),
    ("--max-len", "max_len", int, "crop / pad every sample to this many frames"),
    ("--train-samples", "train_samples", int, "use only the first N training samples"),
    ("--test-samples", "test_samples", int, "use only the first N test samples"),
    ("--device", "device", str, "auto | cpu | cuda | cuda:N"),
    ("--num-workers", "num_workers", int, "DataLoader worker processes"),
    ("--data-root", "data_root", str, "folder with the recorded datasets (default $NEURO_DATA)"),
    ("--cache-dir", "cache_dir", str, "HDF5 frame cache folder"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for flag, dest, kind, text in _OPTIONS:
        parser.add_argument(flag, dest=dest, type=kind, default=None, help=text)
    parser.add_argument("--crop", type=int, nargs=2, default=None, metavar=("W", "H"),
                        help="center crop (cameras)")
    parser.add_argument("--model-option", dest="model_options", action="append", default=None,
                        metavar="KEY=VALUE", help="model keyword argument, VALUE as JSON "
                        "(e.g. channels=[16,32]); repeatable")
    parser.add_argument("--include-incomplete", action="store_true", default=None,
                        help="keep the last, partly filled frame (every event counted)")
    parser.add_argument("--download", action="store_true", default=None,
                        help="let tonic download missing recorded datasets (needs internet)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                        help="no progress bars")
    parser.add_argument("--out", type=Path, default=None, help="run folder (new run)")
    parser.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR",
                        help="continue the run in RUN_DIR exactly where it stopped")


def _model_options(items: list[str]) -> dict[str, Any]:
    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--model-option expects KEY=VALUE, got {item!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def given_options(args: argparse.Namespace) -> dict[str, Any]:
    """The TrainConfig fields set on the command line."""
    from neuro.train import TrainConfig

    names = {f.name for f in fields(TrainConfig)}
    given = {k: v for k, v in vars(args).items() if k in names and v is not None}
    if "model_options" in given:
        given["model_options"] = _model_options(given["model_options"])
    return given


def _validate_names(given: dict[str, Any]) -> None:
    from neuro.datasets import dataset_names
    from neuro.train import LOSSES, model_names

    for key, valid in (("dataset", dataset_names()), ("model", model_names()),
                       ("loss", list(LOSSES))):
        if key in given and given[key] not in valid:
            raise ValueError(f"unknown {key} {given[key]!r}; valid: {', '.join(valid)}")


def run(args: argparse.Namespace) -> int:
    from neuro.datasets import CorruptFileError, DatasetNotFoundError
    from neuro.train import ConfigMismatch, TrainConfig, TrainingDiverged, load_checkpoint, train
    from neuro.train.config import with_recipe

    try:
        given = given_options(args)
        _validate_names(given)
        if args.resume is not None:
            if args.out is not None and args.out.resolve() != args.resume.resolve():
                raise ValueError("--resume continues RUN_DIR in place; drop --out")
            stored = load_checkpoint(args.resume)["config"]
            config = TrainConfig.from_dict({**stored, **given})
            run_dir, resume = args.resume, True
        else:
            if args.out is None:
                raise ValueError("give --out RUN_DIR for a new run (or --resume RUN_DIR)")
            config = TrainConfig(**with_recipe(given))
            run_dir, resume = args.out, False
        result = train(config, run_dir, resume=resume)
    except (ValueError, FileNotFoundError, FileExistsError, ImportError) as err:
        kind = "error" if not isinstance(err, (ConfigMismatch, DatasetNotFoundError,
                                              CorruptFileError)) else type(err).__name__
        print(f"neuro train: {kind}: {err}", file=sys.stderr)
        return 2
    except TrainingDiverged as err:
        print(f"neuro train: {err}. The last good checkpoint is kept in {run_dir}.", file=sys.stderr)
        return 3
    if result.history and int(os.environ.get("RANK", "0")) == 0:  # rank 0 reports under torchrun
        print(f"final test accuracy {result.test_accuracy:.2%}; run folder {run_dir}")
    return 0
