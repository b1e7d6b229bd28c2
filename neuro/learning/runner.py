"""One continual-learning run in memory: data, model, method, per-task training and evaluation.

:class:`ContinualRun` holds what :func:`neuro.learning.continual.run_continual` iterates over:
the permuted task source, the network (:func:`neuro.learning.models.make_model`), the method (HLOP,
GPM, EWC, none, or the prototype contexts of active dendrites), the accuracy matrix
and the per-epoch history. Training a task is BPTT on whole sequences or online, step by step with
eligibility traces (:mod:`neuro.learning.online`); after a task the method consolidates (GPM's
bases, EWC's Fisher; HLOP learns its subspaces while training). After every epoch a
:class:`neuro.train.health.HealthCheck` warns (once per run and symptom) when a LIF layer stayed
silent or the loss sits at chance level, naming the layer and the likely cause.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from neuro.learning.config import ContinualConfig
from neuro.learning.models import make_method, make_model
from neuro.learning.tasks import TaskSource, load_source, permutations, permute_positions
from neuro.train.health import HealthCheck
from neuro.train.monitor import SpikeMonitor

Bar = Callable[..., Any]  # tqdm-like: bar(iterable, **kwargs) -> iterable with set_postfix


class ContinualRun:
    """State of one run: data, model, method, accuracy matrix (NaN until measured), history."""

    def __init__(self, config: ContinualConfig, run_dir: Path | None) -> None:
        self.config, self.run_dir = config, run_dir
        self.device = torch.device(config.device)
        c = config
        self.source: TaskSource = load_source(
            c.source, root=c.data_root, time_window_us=c.time_window_us, cache_dir=c.cache_dir,
            train_samples=c.train_samples, test_samples=c.test_samples, seed=c.seed,
            progress=c.progress)
        h, w = self.source.input_shape[-2:]
        self.perms = permutations(c.n_tasks, h * w, c.seed)
        self.dt = c.dt if c.dt is not None else self.source.dt
        self.steps = c.time_steps
        torch.manual_seed(c.seed)
        self.model = make_model(c, self.source.input_shape, self.source.n_classes,
                                self.dt).to(self.device)
        self.decay = math.exp(-self.dt / c.tau_mem)
        self.method = make_method(c, self.model, self.decay)
        self.matrix = torch.full((c.n_tasks, c.n_tasks), float("nan"), dtype=torch.float64)
        self.history: list[dict[str, Any]] = []
        self.tasks_done = 0
        self.health = HealthCheck(self.model, self.source.n_classes, where="neuro continual")

    # -- data -----------------------------------------------------------------------------------
    def loader(self, train: bool, task: int, epoch: int = 0) -> DataLoader:
        """Test data in order; training data shuffled with a seed of (run seed, task, epoch)."""
        data = self.source.train if train else self.source.test
        if not train:
            return DataLoader(data, batch_size=256, shuffle=False)
        g = torch.Generator().manual_seed(self.config.seed * 1_000_003 + task * 1009 + epoch)
        return DataLoader(data, batch_size=self.config.batch_size, shuffle=True, generator=g)

    def inputs(self, x: torch.Tensor, task: int) -> torch.Tensor:
        """Task ``task``'s permutation of a batch, as a ``[T, B, ...]`` input sequence."""
        x = permute_positions(x.to(self.device), self.perms[task])
        return self.source.to_sequence(x, self.steps)

    # -- training -------------------------------------------------------------------------------
    def _parameters(self, task: int) -> list[nn.Parameter]:
        if task > 0 and self.config.method in ("hlop", "gpm"):
            return self.method.protected_parameters()  # the paper: only >= 2-D weights later on
        return [p for p in self.model.parameters() if p.requires_grad]

    def _loss(self, out: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = out.mean(0)  # mean LI membrane over time
        loss = F.cross_entropy(logits, labels)
        if self.config.method == "ewc":
            loss = loss + self.method.penalty()
        return loss, logits

    def _bptt_batch(self, seq: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out, _ = self.model(seq)
        if self.config.method == "hlop":
            self.method.hebbian_step()
        loss, logits = self._loss(out, labels)
        loss.backward()
        return loss.detach(), logits.detach()

    def _online_batch(self, seq: torch.Tensor, labels: torch.Tensor,
                      traces) -> tuple[torch.Tensor, torch.Tensor]:
        from neuro.nn import detach_states

        traces.reset()
        state, outs = None, []
        steps = seq.shape[0]
        for t in range(steps):
            out, state = self.model(seq[t: t + 1], state)
            loss_t = F.cross_entropy(out[0], labels) / steps
            if self.config.method == "ewc":
                loss_t = loss_t + self.method.penalty() / steps
            loss_t.backward()
            state = detach_states(state)
            outs.append(out.detach())
        if self.config.method == "hlop":
            self.method.hebbian_step()
        out = torch.cat(outs)
        loss, logits = self._loss(out, labels)
        return loss.detach(), logits

    def train_task(self, task: int, bar: Bar) -> None:
        """``config.epochs`` epochs on task ``task``, then the method's consolidation."""
        c = self.config
        if c.method == "hlop":
            g = torch.Generator().manual_seed(c.seed * 7919 + task)
            self.method.begin_task(c.rows_for_task(task, len(self.method.sites)), g)
        if c.method == "dendrites":
            self._begin_dendritic_task(task)
        optimizer = torch.optim.SGD(self._parameters(task), lr=c.lr, momentum=c.momentum)
        traces = None
        if c.training == "online":
            from neuro.learning.online import EligibilityTraces

            traces = EligibilityTraces(self.model, self.decay)
        try:
            for epoch in range(c.epochs):
                self._train_epoch(task, epoch, optimizer, traces, bar)
        finally:
            if traces is not None:
                traces.remove()
        self._consolidate(task)

    def _train_epoch(self, task: int, epoch: int, optimizer: torch.optim.Optimizer, traces,
                     bar: Bar) -> None:
        c = self.config
        t0 = time.perf_counter()
        self.model.train()
        totals = torch.zeros(3, dtype=torch.float64)  # summed loss, correct, samples
        batches = bar(self.loader(True, task, epoch), leave=False, unit="batch",
                      desc=f"task {task + 1}/{c.n_tasks} epoch {epoch + 1}/{c.epochs}")
        with SpikeMonitor(self.model) as monitor:
            self._train_batches(task, batches, optimizer, traces, totals)
        self.history.append({"task": task, "epoch": epoch + 1,
                             "train_loss": float(totals[0] / totals[2]),
                             "train_acc": float(totals[1] / totals[2]),
                             "time_s": round(time.perf_counter() - t0, 3)})
        self.health.check(f"task {task + 1}, epoch {epoch + 1}", monitor.activity,
                          self.history[-1]["train_loss"], stacklevel=3)

    def _train_batches(self, task: int, batches, optimizer: torch.optim.Optimizer, traces,
                       totals: torch.Tensor) -> None:
        """One pass over ``batches``, summing loss, correct and samples into ``totals``."""
        for x, labels in batches:
            labels = labels.to(self.device)
            seq = self.inputs(x, task)
            optimizer.zero_grad(set_to_none=True)
            if traces is None:
                loss, logits = self._bptt_batch(seq, labels)
            else:
                loss, logits = self._online_batch(seq, labels, traces)
            if not bool(torch.isfinite(loss)):
                raise FloatingPointError(f"the loss became {float(loss)} on task {task}; lower --lr")
            optimizer.step()
            if self.config.method == "dendrites":
                self.model.rezero_weights()  # the fixed sparsity masks
            n = len(labels)
            totals += torch.tensor([float(loss) * n, float((logits.argmax(1) == labels).sum()), n],
                                   dtype=torch.float64)
            batches.set_postfix(loss=f"{totals[0] / totals[2]:.3f}", acc=f"{totals[1] / totals[2]:.1%}")

    @torch.no_grad()
    def _begin_dendritic_task(self, task: int) -> None:
        """Task ``task``'s prototype context: the mean of its (permuted) training inputs."""
        from neuro.models.dendrites import mean_input

        data = DataLoader(self.source.train, batch_size=256, shuffle=False)
        self.model.begin_task(task, mean_input(self.inputs(x, task) for x, _ in data))

    def _consolidate(self, task: int) -> None:
        if self.config.method == "gpm":
            self._consolidate_gpm(task)
        elif self.config.method == "ewc":
            self._consolidate_ewc(task)

    def _consolidate_gpm(self, task: int) -> None:
        """Grow GPM's bases from the representations of ``gpm_samples`` training samples."""
        c = self.config
        self.model.eval()
        xs = []
        count = 0
        for x, _ in self.loader(True, task, epoch=10_000):
            xs.append(x)
            count += len(x)
            if count >= c.gpm_samples:
                break
        x = torch.cat(xs)[: c.gpm_samples]
        batches = [self.inputs(part, task) for part in x.split(c.batch_size)]
        self.method.update(lambda seq: self.model(seq), batches)

    def _consolidate_ewc(self, task: int) -> None:
        """EWC's Fisher of the trained model on ``ewc_batches`` mini-batches; warns when SGD on the
        penalty would oscillate (``lr * strength * max Fisher > 2``)."""
        c = self.config
        self.model.eval()  # the Fisher of the trained model (no dropout/BN here anyway)
        loader = self.loader(True, task, epoch=20_000)

        def loss_of(batch):
            x, labels = batch
            out, _ = self.model(self.inputs(x, task))
            return F.cross_entropy(out.mean(0), labels.to(self.device)), len(labels)

        chosen = [b for _, b in zip(range(c.ewc_batches), loader)]
        self.method.consolidate(loss_of, chosen)
        stiffness = c.lr * c.ewc_strength * self.method.max_fisher()
        if stiffness > 2:
            warnings.warn(f"EWC: lr * strength * max Fisher = {stiffness:.3g} > 2 after task "
                          f"{task}; SGD on the penalty will oscillate and may diverge (lower "
                          "--ewc-strength or --lr)", RuntimeWarning, stacklevel=3)

    @torch.no_grad()
    def evaluate(self, task: int) -> float:
        """Test accuracy on task ``task`` (argmax of the mean readout membrane)."""
        self.model.eval()
        correct = total = 0
        for x, labels in self.loader(False, task):
            out, _ = self.model(self.inputs(x, task))
            correct += int((out.mean(0).argmax(1) == labels.to(self.device)).sum())
            total += len(labels)
        return correct / max(total, 1)
