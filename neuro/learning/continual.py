r"""Continual-learning runner: a task sequence, per-task training, the accuracy matrix, ACC and BWT.

``run_continual(ContinualConfig(...), run_dir)`` trains one LIF MLP on permuted tasks
(:mod:`neuro.learning.tasks`) one after the other with a method:

* ``finetune`` — plain SGD on each new task (the forgetting baseline);
* ``ewc`` — elastic weight consolidation (:mod:`neuro.learning.ewc`);
* ``gpm`` — gradient projection on SVD bases of stored activity (:mod:`neuro.learning.gpm`);
* ``hlop`` — projection on Hebbian lateral subspaces (:mod:`neuro.learning.hlop`);
* ``dendrites`` — an Active Dendrites Network with prototype contexts, no task label at inference
  (:mod:`neuro.models.dendrites`).

``network="ann"`` replaces the LIF MLP by a ReLU MLP of the same size on the time-averaged input
(and the spiking dendritic network by the non-spiking one).

After task :math:`k` it tests on tasks :math:`0..k`: :math:`A_{k,i}` is the test accuracy on task
:math:`i` after training task :math:`k`. With :math:`N` tasks (GPM's convention):

.. math::

    \mathrm{ACC} = \frac1N \sum_{i<N} A_{N-1,i}, \qquad
    \mathrm{BWT} = \frac{1}{N-1} \sum_{i<N-1} (A_{N-1,i} - A_{i,i}).

``run_dir`` receives ``checkpoint.pt`` after every task (model, method state, matrix, RNG;
atomic, ``torch.load(weights_only=True)``-readable; ``resume=True`` continues after the last
finished task), ``results.json`` and ``accuracy_matrix.png``. Training is BPTT on whole
sequences (``training="bptt"``) or online, step by step with eligibility traces
(``"online"``, :mod:`neuro.learning.online`).

This module ties the pieces together and re-exports their public names: the configuration
(:mod:`neuro.learning.config`), the network and the method (:mod:`neuro.learning.models`), one run
in memory (:mod:`neuro.learning.runner`), its checkpoints (:mod:`neuro.learning.resume`), ACC and
BWT (:mod:`neuro.learning.metrics`) and the plots (:mod:`neuro.learning.plots`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from neuro._io import write_text
from neuro.learning.config import METHODS, RUNTIME_FIELDS, TRAINING, ContinualConfig
from neuro.learning.metrics import acc_bwt
from neuro.learning.models import lif_mlp
from neuro.learning.plots import plot_accuracy_matrix
from neuro.learning.resume import check_resume, restore_run, save_run
from neuro.learning.runner import ContinualRun

__all__ = ["METHODS", "RUNTIME_FIELDS", "TRAINING", "ContinualConfig", "ContinualResult", "acc_bwt",
           "lif_mlp", "run_continual"]


@dataclass
class ContinualResult:
    """A finished (or resumed-to-the-end) task sequence: its accuracy matrix (row ``i`` = accuracy
    on every task after training task ``i``), per-task history and run folder."""

    config: ContinualConfig
    matrix: torch.Tensor  # [N, N], NaN above the diagonal
    history: list[dict[str, Any]]
    run_dir: Path | None

    @property
    def acc(self) -> float:
        """Mean final accuracy over all tasks."""
        return acc_bwt(self.matrix)[0]

    @property
    def bwt(self) -> float:
        """Backward transfer: mean change of each earlier task's accuracy since it was learned."""
        return acc_bwt(self.matrix)[1]

    def summary(self) -> dict[str, Any]:
        """Method, source, seed, ACC, BWT and the matrix (``None`` for unmeasured entries)."""
        return {"method": self.config.method, "source": self.config.source,
                "seed": self.config.seed, "acc": self.acc, "bwt": self.bwt,
                "matrix": [[None if math.isnan(v) else v for v in row]
                           for row in self.matrix.tolist()]}


def run_continual(config: ContinualConfig, run_dir: Path | None = None,
                  resume: bool = False, stop_after: int | None = None) -> ContinualResult:
    """Train ``config.n_tasks`` tasks in sequence and fill the accuracy matrix (module docstring).

    ``stop_after`` ends the run after that many finished tasks (the checkpoint allows resuming).
    """
    from tqdm.auto import tqdm

    run_dir = None if run_dir is None else Path(run_dir)
    checkpoint = None
    if resume:
        if run_dir is None:
            raise ValueError("resume needs the run folder")
        checkpoint = check_resume(run_dir, config)
    elif run_dir is not None and (run_dir / "checkpoint.pt").exists():
        raise FileExistsError(f"{run_dir} already holds a run; resume it or choose another folder")
    run = ContinualRun(config, run_dir)
    if checkpoint is not None:
        restore_run(run, checkpoint)
    bar = _progress_bar(tqdm, config.progress)
    tasks = bar(range(run.tasks_done, config.n_tasks), desc=f"{config.method} tasks",
                unit="task", initial=run.tasks_done, total=config.n_tasks)
    for task in tasks:
        if stop_after is not None and run.tasks_done >= stop_after:
            break
        run.train_task(task, bar)
        for seen in range(task + 1):
            run.matrix[task, seen] = run.evaluate(seen)
        run.tasks_done = task + 1
        if run_dir is not None:
            save_run(run)
        tasks.set_postfix(acc=f"{float(run.matrix[task, : task + 1].mean()):.1%}")
    result = ContinualResult(config, run.matrix, run.history, run_dir)
    if run_dir is not None and run.tasks_done == config.n_tasks:
        _write_outputs(result)
    return result


def _progress_bar(tqdm, enabled: bool):
    def bar(iterable, **kwargs):
        return tqdm(iterable, disable=not enabled, dynamic_ncols=True, **kwargs)
    return bar


def _write_outputs(result: ContinualResult) -> None:
    """``results.json`` (summary, configuration, history) and ``accuracy_matrix.png``."""
    summary = {**result.summary(), "config": result.config.to_dict(), "history": result.history}
    write_text(result.run_dir / "results.json", json.dumps(summary, indent=1))
    plot_accuracy_matrix(result.matrix, result.run_dir / "accuracy_matrix.png",
                         title=f"{result.config.method} on permuted {result.config.source}")
