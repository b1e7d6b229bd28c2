"""``neuro continual``: permuted-task continual learning with HLOP, GPM, EWC or fine-tuning."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

HELP = ("continual learning on permuted tasks (hlop, gpm, ewc, finetune): accuracy matrix, "
        "ACC, BWT, checkpoints, --resume")

# flag -> (ContinualConfig field, parser, help); lists are JSON (e.g. --hidden '[256, 256]')
_OPTIONS = (
    ("--method", "method", str, "hlop | gpm | ewc | finetune"),
    ("--source", "source", str, "digits | digits_events | mnist | nmnist"),
    ("--tasks", "n_tasks", int, "number of permuted tasks"),
    ("--seed", "seed", int, "seed of permutations, initialisation and data order"),
    ("--training", "training", str, "bptt | online (eligibility traces)"),
    ("--epochs", "epochs", int, "epochs per task"),
    ("--batch-size", "batch_size", int, "mini-batch size"),
    ("--lr", "lr", float, "SGD learning rate"),
    ("--momentum", "momentum", float, "SGD momentum"),
    ("--hidden", "hidden", json.loads, "hidden layer sizes, JSON list"),
    ("--tau-mem", "tau_mem", float, "membrane time constant (s)"),
    ("--time-steps", "time_steps", int, "steps a static image is shown"),
    ("--time-window-us", "time_window_us", int, "event frame length (us)"),
    ("--train-samples", "train_samples", int, "use a random subset of N training samples"),
    ("--test-samples", "test_samples", int, "use a random subset of N test samples"),
    ("--hlop-rows", "hlop_rows", json.loads, "lateral rows added per task, JSON list of ints or "
                                             "per-layer lists (last entry repeats)"),
    ("--hlop-lr", "hlop_lr", json.loads, "Hebbian learning rate, number or per-layer list"),
    ("--hlop-iterations", "hlop_iterations", int, "inner Hebbian iterations per batch"),
    ("--hlop-lateral", "hlop_lateral", str, "matrix | quantized | neurons"),
    ("--trace", "trace", str, "presynaptic samples: rate | filtered | spikes"),
    ("--gpm-threshold", "gpm_threshold", json.loads, "GPM energy threshold, number or list"),
    ("--ewc-strength", "ewc_strength", float, "EWC lambda"),
    ("--data-root", "data_root", str, "folder with MNIST/raw or NMNIST/"),
    ("--cache-dir", "cache_dir", str, "HDF5 frame cache folder"),
    ("--device", "device", str, "cpu | cuda | cuda:N"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for flag, dest, kind, text in _OPTIONS:
        parser.add_argument(flag, dest=dest, type=kind, default=None, help=text)
    parser.add_argument("--hlop-normalize", dest="hlop_normalize", action="store_true",
                        default=None, help="Hebbian lr relative to the mean squared trace norm")
    parser.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                        help="no progress bars")
    parser.add_argument("--out", type=Path, default=None, help="run folder (new run)")
    parser.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR",
                        help="continue the run in RUN_DIR after its last finished task")


def _given(args: argparse.Namespace) -> dict[str, Any]:
    from neuro.learning import ContinualConfig

    names = {f.name for f in fields(ContinualConfig)}
    return {k: v for k, v in vars(args).items() if k in names and v is not None}


def run(args: argparse.Namespace) -> int:
    from neuro.datasets import CorruptFileError, DatasetNotFoundError
    from neuro.learning import ContinualConfig, run_continual
    from neuro.train import ConfigMismatch, load_checkpoint

    try:
        given = _given(args)
        if args.resume is not None:
            checkpoint = load_checkpoint(args.resume)
            if checkpoint.get("kind") != "continual":
                raise ValueError(f"{args.resume} holds a checkpoint of another kind of run "
                                 "(not `neuro continual`)")
            config = ContinualConfig.from_dict({**checkpoint["config"], **given})
            run_dir, resume = args.resume, True
        else:
            if args.out is None:
                raise ValueError("give --out RUN_DIR for a new run (or --resume RUN_DIR)")
            config = ContinualConfig(**given)
            run_dir, resume = args.out, False
        result = run_continual(config, run_dir, resume=resume)
    except (ValueError, FileNotFoundError, FileExistsError, ImportError, ConfigMismatch,
            DatasetNotFoundError, CorruptFileError) as err:
        print(f"neuro continual: error: {err}", file=sys.stderr)
        return 2
    except FloatingPointError as err:
        print(f"neuro continual: {err}. Finished tasks are kept in {run_dir}.", file=sys.stderr)
        return 3
    print(f"{config.method} on {config.n_tasks} permuted {config.source} tasks: "
          f"ACC {100 * result.acc:.2f}%  BWT {100 * result.bwt:+.2f}%; run folder {run_dir}")
    return 0
