"""``neuro continual``: permuted-task continual learning with HLOP, GPM, EWC or fine-tuning."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

HELP = ("continual learning on permuted tasks (hlop, gpm, ewc, finetune, dendrites): accuracy "
        "matrix, ACC, BWT, checkpoints, --resume")

# ContinualConfig field -> help, in --help order; the flag is the field with dashes ("--batch-size")
# except where _FLAGS renames it; values are strings unless listed in _INT, _FLOAT or _JSON
_HELP = {
    "method": "hlop | gpm | ewc | finetune | dendrites",
    "network": "snn (LIF MLP) | ann (ReLU MLP on the time-averaged input)",
    "source": "digits | digits_events | mnist | nmnist",
    "n_tasks": "number of permuted tasks",
    "seed": "seed of permutations, initialisation and data order",
    "training": "bptt | online (eligibility traces)",
    "epochs": "epochs per task",
    "batch_size": "mini-batch size",
    "lr": "SGD learning rate",
    "momentum": "SGD momentum",
    "hidden": "hidden layer sizes, JSON list",
    "tau_mem": "membrane time constant (s)",
    "time_steps": "steps a static image is shown",
    "time_window_us": "event frame length (us)",
    "train_samples": "use a random subset of N training samples",
    "test_samples": "use a random subset of N test samples",
    "hlop_rows": "lateral rows added per task, JSON list of ints or per-layer lists (last entry "
                 "repeats)",
    "hlop_lr": "Hebbian learning rate, number or per-layer list",
    "hlop_iterations": "inner Hebbian iterations per batch",
    "hlop_lateral": "matrix | quantized | neurons",
    "trace": "presynaptic samples: rate | filtered | spikes",
    "gpm_threshold": "GPM energy threshold, number or list",
    "ewc_strength": "EWC lambda",
    "dendrite_segments": "dendrites: segments per unit (default: one per task; 0: none)",
    "dendrite_mode": "dendrites: abs_max_gate | max_gate | bias",
    "kwta": "dendrites: fraction of k-WTA winners per layer (0: none)",
    "weight_sparsity": "dendrites: fraction of zero feed-forward weights",
    "data_root": "folder with MNIST/raw or NMNIST/",
    "cache_dir": "HDF5 frame cache folder",
    "device": "cpu | cuda | cuda:N",
}
_FLAGS = {"n_tasks": "--tasks", "dendrite_segments": "--segments"}
_INT = frozenset({"n_tasks", "seed", "epochs", "batch_size", "time_steps", "time_window_us",
                  "train_samples", "test_samples", "hlop_iterations", "dendrite_segments"})
_FLOAT = frozenset({"lr", "momentum", "tau_mem", "ewc_strength", "kwta", "weight_sparsity"})
_JSON = frozenset({"hidden", "hlop_rows", "hlop_lr", "gpm_threshold"})  # e.g. --hidden '[256, 256]'


def _parser(name: str):
    """How the command line value of field ``name`` is read."""
    if name in _JSON:
        return json.loads
    return int if name in _INT else float if name in _FLOAT else str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for name, text in _HELP.items():
        parser.add_argument(_FLAGS.get(name, "--" + name.replace("_", "-")), dest=name,
                            type=_parser(name), default=None, help=text)
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
    from neuro.learning.resume import load_run_checkpoint
    from neuro.train import ConfigMismatch

    try:
        given = _given(args)
        if args.resume is not None:
            checkpoint = load_run_checkpoint(args.resume)
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
