"""Checkpoints of continual-learning runs: written after every task, checked and restored on resume.

``<run_dir>/checkpoint.pt`` is a :func:`neuro.train.checkpoint.save_checkpoint` file (atomic,
``torch.load(weights_only=True)``-readable) with ``kind = "continual"``, the configuration, the
number of finished tasks, the model and method states, the accuracy matrix, the history and the
random generator states.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from neuro.learning.config import RUNTIME_FIELDS, ContinualConfig
from neuro.learning.runner import ContinualRun
from neuro.train.checkpoint import CHECKPOINT_NAME, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from neuro.train.config import config_diff
from neuro.train.trainer import ConfigMismatch

KIND = "continual"


def save_run(run: ContinualRun) -> Path:
    """Write the checkpoint of ``run`` (after its last finished task) into ``run.run_dir``."""
    return save_checkpoint(run.run_dir / CHECKPOINT_NAME, {
        "kind": KIND, "config": run.config.to_dict(), "tasks_done": run.tasks_done,
        "model": run.model.state_dict(),
        "method": {} if run.method is None else run.method.state_dict(),
        "matrix": run.matrix, "history": run.history, "rng": rng_state()})


def restore_run(run: ContinualRun, checkpoint: dict[str, Any]) -> None:
    """Load a checkpoint of :func:`save_run` into a freshly built ``run`` (random states included)."""
    run.model.load_state_dict(checkpoint["model"])
    if run.method is not None:
        run.method.load_state_dict(checkpoint["method"])
    run.matrix = checkpoint["matrix"].to(torch.float64)
    run.history = list(checkpoint["history"])
    run.tasks_done = int(checkpoint["tasks_done"])
    set_rng_state(checkpoint["rng"])


def load_run_checkpoint(run_dir: os.PathLike) -> dict[str, Any]:
    """The checkpoint in ``run_dir``; :class:`ValueError` if it belongs to another kind of run."""
    checkpoint = load_checkpoint(Path(run_dir) / CHECKPOINT_NAME)
    if checkpoint.get("kind") != KIND:
        raise ValueError(f"{run_dir} holds a checkpoint of another kind of run (not `neuro continual`)")
    return checkpoint


def check_resume(run_dir: os.PathLike, config: ContinualConfig) -> dict[str, Any]:
    """The checkpoint in ``run_dir`` if ``config`` matches its configuration (runtime options
    :data:`~neuro.learning.config.RUNTIME_FIELDS` may differ), else :class:`ConfigMismatch`."""
    checkpoint = load_run_checkpoint(run_dir)
    differences = config_diff(checkpoint["config"], config.to_dict(), RUNTIME_FIELDS,
                              ContinualConfig().to_dict())
    if differences:
        raise ConfigMismatch(f"cannot resume {run_dir}: the configuration differs from the "
                             "checkpoint's:\n  " + "\n  ".join(differences))
    return checkpoint
