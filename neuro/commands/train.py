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
    ("--max-lr", "max_lr", float, "peak learning rate of the onecycle schedule (default: --lr)"),
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
    ("--data-root", "data_root", str, "folder with the recorded datasets (default: $NEURO_DATA)"),
    ("--cache-dir", "cache_dir", str, "HDF5 frame cache folder (default: $NEURO_CACHE_DIR if set)"),
)


def _with_default(dest: str, text: str) -> str:
    """``text`` plus the TrainConfig default of ``dest`` (options not given keep it; a model's
    recipe, e.g. delay_snn's, replaces it)."""
    from neuro.train import TrainConfig

    if "(default" in text:  # the text says it already
        return text
    default = getattr(TrainConfig, dest, None)
    shown = "not set" if default is None else default
    return f"{text} (default: {shown})"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (f"{HELP}. Defaults are TrainConfig's; a model with a published recipe "
                          "(delay_snn on shd/ssc) starts from its recipe instead. Ctrl-C / SIGTERM "
                          "save a checkpoint of the exact position and print how to resume.")
    for flag, dest, kind, text in _OPTIONS:
        parser.add_argument(flag, dest=dest, type=kind, default=None, help=_with_default(dest, text))
    parser.add_argument("--crop", type=int, nargs=2, default=None, metavar=("W", "H"),
                        help="center crop (cameras) (default: none)")
    parser.add_argument("--model-option", dest="model_options", action="append", default=None,
                        metavar="KEY=VALUE", help="model keyword argument, VALUE as JSON "
                        "(e.g. channels=[16,32]); repeatable (default: the model's own)")
    parser.add_argument("--include-incomplete", action="store_true", default=None,
                        help="keep the last, partly filled frame (every event counted) (default: "
                             "off)")
    parser.add_argument("--download", action="store_true", default=None,
                        help="let tonic download missing recorded datasets (needs internet) "
                             "(default: off)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                        help="no progress bars (bars are drawn only when stderr is a terminal; "
                             "otherwise one line per epoch)")
    parser.add_argument("--out", type=Path, default=None, help="run folder (new run)")
    parser.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR",
                        help="continue the run in RUN_DIR exactly where it stopped (also after "
                             "Ctrl-C); with a larger --epochs, extend it (the LR schedule is "
                             "recomputed for the new total)")


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


def _stored_config(run_dir: Path) -> tuple[dict[str, Any], bool]:
    """The configuration of the run in ``run_dir`` and whether it has a checkpoint to resume from
    (a run stopped before its first checkpoint has only ``config.json``: it starts again)."""
    from neuro.train import load_checkpoint
    from neuro.train.checkpoint import CHECKPOINT_NAME
    from neuro.train.trainer import CONFIG_NAME

    if not (run_dir / CHECKPOINT_NAME).is_file() and (run_dir / CONFIG_NAME).is_file():
        print(f"neuro train: {run_dir} has no checkpoint yet (stopped before its first one); "
              "starting it from the beginning", file=sys.stderr)
        return json.loads((run_dir / CONFIG_NAME).read_text()), False
    return load_checkpoint(run_dir, require=("config",))["config"], True


def run(args: argparse.Namespace) -> int:
    from neuro.datasets import CorruptFileError, DatasetNotFoundError
    from neuro.train import ConfigMismatch, TrainConfig, TrainingDiverged, train
    from neuro.train.config import with_recipe
    from neuro.train.interrupts import StopNow, TrainingInterrupted

    run_dir = args.resume if args.resume is not None else args.out
    try:
        given = given_options(args)
        _validate_names(given)
        if args.resume is not None:
            if args.out is not None and args.out.resolve() != args.resume.resolve():
                raise ValueError("--resume continues RUN_DIR in place; drop --out")
            stored, resume = _stored_config(args.resume)
            config = TrainConfig.from_dict({**stored, **given})
            run_dir = args.resume
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
    except TrainingInterrupted as err:
        print(f"neuro train: {err}", file=sys.stderr)
        return 130
    except StopNow:  # a second Ctrl-C / SIGTERM outside a batch: the last checkpoint stands
        from neuro.train.checkpoint import CHECKPOINT_NAME

        if run_dir is not None and (Path(run_dir) / CHECKPOINT_NAME).is_file():
            print(f"neuro train: stopped at once; the last checkpoint is kept; resume with: neuro "
                  f"train --resume {run_dir}", file=sys.stderr)
        else:
            print("neuro train: stopped at once, before the first checkpoint; nothing to resume",
                  file=sys.stderr)
        return 130
    if result.history and int(os.environ.get("RANK", "0")) == 0:  # rank 0 reports under torchrun
        print(f"final test accuracy {result.test_accuracy:.2%}; run folder {run_dir}")
    return 0
