"""One learner on one concept-shifting stream: :func:`run_stream` (and :class:`StreamRun`).

Protocol (Man, Damasio & Neven 2022, generalised; differences from the paper's code are marked):

1. Every epoch the training set is shuffled (seeded) and cut into minibatches of ``m`` samples;
   the remainder is dropped (as the paper). ``t`` counts samples since the start, across epochs.
2. A minibatch starting at ``t`` carries the labels of the stream's permutation after ``t``
   samples: swaps take effect at the first minibatch boundary at or after their time (the
   paper swaps after a minibatch update, too).
3. Predictions are made before the update (online, "prequential" training accuracy); the loss is
   the mean cross-entropy of the minibatch (the paper's :math:`\\eta/m \\sum g`).
4. Decision opportunities at every sample with ``t % lr_interval == 0`` and ``t >= warmup``
   (the paper counts ``i`` inside each epoch and needs ``i > n_memo``; here the count and the
   replay buffer run across epoch boundaries). The regulated methods ask their policy
   (:mod:`neuro.models.homeostatic.decision`) whether to apply the true label's change.
5. The optimiser steps once per minibatch with the regulated variable's value at that point.
6. After every epoch: validation accuracy under the current labels.

Fast and exact modes differ only in how they compute (identical decisions, tested): ``exact``
runs the paper's loops — one forward/backward per sample, accumulating the gradient, and the
replay evaluated one sample at a time; ``fast`` runs one forward for the minibatch, one backward
per segment between decision points (the prefix gradients the decisions need) and the replay in
one call per hypothesis.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from neuro.models.homeostatic.config import REGULATED, StreamConfig
from neuro.models.homeostatic.data import ArraySet
from neuro.models.homeostatic.decision import (
    AlwaysPolicy,
    DriftTriggered,
    HomeostaticPolicy,
    LookAhead,
    Opportunity,
    RandomPolicy,
    ReplayBuffer,
)
from neuro.models.homeostatic.models import HomeostaticMLP, HomeostaticSNN
from neuro.models.homeostatic.need import Need, Regulator
from neuro.models.homeostatic.stream import ConceptShiftStream, make_schedule
from neuro.models.homeostatic.variables import LearningRate, NeuronParameter

__all__ = ["StreamResult", "StreamRun", "build_model", "run_stream"]

Bar = Callable[..., Any]


def _no_bar(iterable, **_: Any):
    return iterable


def build_model(config: StreamConfig, data: ArraySet) -> nn.Module:
    """The MLP or SNN of ``config`` for ``data``, initialised from ``config.seed``."""
    g = torch.Generator().manual_seed(int(config.seed))
    if config.model == "mlp":
        if not data.static:
            raise ValueError(f"the MLP needs static inputs; {data.name} holds sequences (use model='snn')")
        bias = 1.0 if config.bias_std is None else config.bias_std
        model: nn.Module = HomeostaticMLP(data.in_features, data.n_classes, config.hidden, bias_std=bias,
                                          generator=g)
    else:
        bias = 0.0 if config.bias_std is None else config.bias_std
        model = HomeostaticSNN(data.in_features, data.n_classes, config.hidden, steps=config.steps,
                               static=data.static, neuron=config.neuron, tau_mem=config.tau_mem,
                               dt=config.dt, tau_adapt=config.tau_adapt, beta_adapt=config.beta_adapt,
                               bias_std=bias, backend=config.backend, generator=g)
    return model.to(getattr(torch, config.dtype))


@dataclass
class StreamResult:
    """What a run measured.

    ``history``: one dict per epoch (``epoch``, ``samples``, ``val_acc``, ``train_acc`` (online,
    before each update), ``loss``, ``value`` (regulated variable / learning rate at the end),
    ``value_mean``, ``opportunities``, ``taken``, ``swaps``, ``time_s``). ``trace_t`` /
    ``trace_value``: the variable after every minibatch; ``batch_correct``: online correct
    predictions per minibatch; ``decisions``: ``(t, taken)`` per opportunity; ``swaps``:
    ``(time, a, b)``.
    """

    config: dict
    variable: str
    history: list = field(default_factory=list)
    trace_t: list = field(default_factory=list)
    trace_value: list = field(default_factory=list)
    batch_correct: list = field(default_factory=list)
    decisions: list = field(default_factory=list)
    swaps: list = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The result as a plain dict of its fields (JSON-serialisable; :meth:`from_dict` reads it back)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> StreamResult:
        """Rebuild a result from the dict written by :meth:`to_dict`."""
        return cls(**values)

    def summary(self) -> dict[str, float]:
        """Mean validation / online accuracy over the epochs, final ones, mean variable value."""
        h = self.history
        if not h:
            raise ValueError("the run has no finished epoch")
        return {"val_acc_mean": sum(e["val_acc"] for e in h) / len(h),
                "train_acc_mean": sum(e["train_acc"] for e in h) / len(h),
                "val_acc_final": h[-1]["val_acc"],
                "value_mean": sum(self.trace_value) / len(self.trace_value),
                "value_final": self.trace_value[-1],
                "taken_fraction": (sum(d[1] for d in self.decisions) / len(self.decisions)
                                   if self.decisions else 0.0)}


class StreamRun:
    """A run in memory: model, optimiser, regulated variable, policy, stream, replay, result."""

    def __init__(self, config: StreamConfig, data: ArraySet) -> None:
        c = self.config = config
        self.dtype = getattr(torch, c.dtype)
        self.data = data.to(self.dtype)
        self.model = build_model(c, data)
        params = [p for p in self.model.parameters() if p.requires_grad]
        if c.method == "adam":
            self.optimizer: torch.optim.Optimizer = torch.optim.Adam(params, lr=c.adam_lr)
        else:
            self.optimizer = torch.optim.SGD(params, lr=c.lr)
        self.lr = LearningRate(self.optimizer)
        if c.regulate == "lr":
            self.variable = self.lr
            floor = 1e-8 if c.floor is None else c.floor
        else:
            self.variable = NeuronParameter(self.model.neurons, c.regulate)
            floor = (c.dt if c.regulate == "tau_adapt" else 0.0) if c.floor is None else c.floor
        self.regulator = self.policy = self.drift = None
        if c.method in REGULATED:
            step = c.step if c.step is not None else self.variable.get() / 10
            self.regulator = Regulator(self.variable, Need.threshold(c.need_threshold), step,
                                       floor=floor, ceiling=c.ceiling)
            if c.method == "homeostatic":
                self.policy = HomeostaticPolicy(self.regulator)
            elif c.method == "random":
                self.policy = RandomPolicy(c.random_p, seed=c.seed * 7919 + 1)
            else:
                self.policy = AlwaysPolicy()
        elif c.method == "drift":
            self.drift = DriftTriggered(self.lr, c.lr, c.drift_boost, c.drift_threshold, c.drift_fast,
                                        c.drift_slow, c.drift_decay, c.drift_cooldown)
        self.batches = len(self.data.y_train) // c.minibatch
        if self.batches == 0:
            raise ValueError(f"minibatch={c.minibatch} exceeds the {len(self.data.y_train)} training samples")
        self.epoch_size = self.batches * c.minibatch
        schedule = make_schedule(c.gap, c.swaps_per_epoch, self.epoch_size,
                                 [tuple(s) for s in c.seasons] if c.seasons else None)
        self.stream = ConceptShiftStream(self.data.n_classes, schedule, seed=c.seed)
        self.replay = ReplayBuffer(c.n_memo)
        self.lookahead = LookAhead(self.model, self.optimizer, self.variable, c.criterion,
                                   batched=c.mode == "fast")
        self.shuffle = torch.Generator().manual_seed(int(c.seed) * 1_000_003 + 11)
        self.t = 0
        self.result = StreamResult(c.to_dict(), self.variable.name)

    # -- one minibatch ---------------------------------------------------------------------------
    def _opportunity(self, t: int) -> bool:
        return self.policy is not None and t % self.config.lr_interval == 0 and t >= self.config.start

    def _grads(self) -> dict[str, torch.Tensor]:
        return {n: p.grad.detach().clone() for n, p in self.model.named_parameters() if p.grad is not None}

    def _decide(self, t: int, label: int, predicted: int, x: torch.Tensor,
                grads: dict[str, torch.Tensor] | None, perm: torch.Tensor) -> None:
        evaluate = None
        if self.policy.lookahead:
            rx, ry = self.replay.view()
            ry = perm[ry]  # the replayed samples under their current labels

            def evaluate(candidate: float) -> tuple[float, float]:
                return self.lookahead.scores(grads, rx, ry, candidate)

        taken = self.policy.decide(Opportunity(t, label, predicted, x, evaluate))
        if taken:
            self.regulator.apply(label, x)
        self.result.decisions.append((t, bool(taken)))

    def _fast_batch(self, x, y0, y, perm) -> tuple[torch.Tensor, torch.Tensor]:
        m, t0 = len(y), self.t
        positions = [p for p in range(m) if self._opportunity(t0 + p)]
        logits = self.model(x)
        losses = F.cross_entropy(logits, y, reduction="none")
        predicted = logits.detach().argmax(1)
        need_grads = self.policy is not None and self.policy.lookahead and positions
        snapshots: dict[int, dict[str, torch.Tensor]] = {}
        start = 0
        if need_grads:  # prefix gradients at the decision points, one backward per segment
            for p in positions:
                (losses[start:p + 1].sum() / m).backward(retain_graph=True)
                snapshots[p] = self._grads()
                start = p + 1
        if start < m:
            (losses[start:].sum() / m).backward()
        pushed = 0
        for p in positions:
            self.replay.extend(x[pushed:p], y0[pushed:p])
            pushed = p
            self._decide(t0 + p, int(y[p]), int(predicted[p]), x[p], snapshots.get(p), perm)
        self.replay.extend(x[pushed:], y0[pushed:])
        return losses.detach(), predicted

    def _exact_batch(self, x, y0, y, perm) -> tuple[torch.Tensor, torch.Tensor]:
        m, t0 = len(y), self.t
        losses, predicted = torch.empty(m, dtype=self.dtype), torch.empty(m, dtype=torch.long)
        for p in range(m):
            logits = self.model(x[p:p + 1])
            loss = F.cross_entropy(logits, y[p:p + 1])
            (loss / m).backward()
            losses[p], predicted[p] = loss.detach(), logits.detach().argmax(1)[0]
            if self._opportunity(t0 + p):
                grads = self._grads() if self.policy.lookahead else None
                self._decide(t0 + p, int(y[p]), int(predicted[p]), x[p], grads, perm)
            self.replay.extend(x[p:p + 1], y0[p:p + 1])
        return losses, predicted

    def train_batch(self, index: torch.Tensor) -> tuple[float, int]:
        """One minibatch of training-set rows ``index``; returns (summed loss, correct)."""
        x, y0 = self.data.x_train[index], self.data.y_train[index]
        perm = self.stream.permutation(self.t)
        y = perm[y0]
        self.optimizer.zero_grad(set_to_none=True)
        step = self._fast_batch if self.config.mode == "fast" else self._exact_batch
        losses, predicted = step(x, y0, y, perm)
        if not bool(torch.isfinite(losses).all()):
            raise FloatingPointError(f"the loss became non-finite at sample {self.t} (lr {self.lr.get():g})")
        self.optimizer.step()
        if self.drift is not None:
            self.drift.observe(losses)
        self.t += len(y)
        correct = int((predicted == y).sum())
        self.result.trace_t.append(self.t)
        self.result.trace_value.append(self.variable.get())
        self.result.batch_correct.append(correct)
        return float(losses.sum()), correct

    @torch.no_grad()
    def validate(self) -> float:
        """Validation accuracy under the current labels."""
        perm = self.stream.permutation(self.t)
        correct = 0
        for xs, ys in zip(self.data.x_val.split(500), self.data.y_val.split(500)):
            correct += int((self.model(xs).argmax(1) == perm[ys]).sum())
        return correct / len(self.data.y_val)

    def train_epoch(self, epoch: int, bar: Bar = _no_bar) -> dict[str, Any]:
        """Train one epoch of the stream (shuffled minibatches, decisions at each opportunity), validate,
        append the epoch's row to ``result.history`` and return it: ``epoch``, ``samples``, ``val_acc``,
        ``train_acc``, ``loss``, the regulated ``value`` (end and mean), ``opportunities``, ``taken``,
        ``swaps`` and ``time_s`` (wall seconds).
        """
        c, t_start, clock = self.config, self.t, time.perf_counter()
        n_dec, values = len(self.result.decisions), []
        order = torch.randperm(len(self.data.y_train), generator=self.shuffle)
        loss_sum = correct = 0
        batches = bar(range(self.batches), leave=False, unit="batch", desc=f"epoch {epoch + 1}/{c.epochs}")
        for b in batches:
            loss, ok = self.train_batch(order[b * c.minibatch:(b + 1) * c.minibatch])
            loss_sum, correct = loss_sum + loss, correct + ok
            values.append(self.variable.get())
        decisions = self.result.decisions[n_dec:]
        row = {"epoch": epoch + 1, "samples": self.t, "val_acc": self.validate(),
               "train_acc": correct / self.epoch_size, "loss": loss_sum / self.epoch_size,
               "value": self.variable.get(), "value_mean": sum(values) / len(values),
               "opportunities": len(decisions), "taken": sum(d[1] for d in decisions),
               "swaps": len(self.stream.swaps(self.t, t_start)),
               "time_s": round(time.perf_counter() - clock, 3)}
        self.result.history.append(row)
        return row

    def run(self, bar: Bar = _no_bar) -> StreamResult:
        """Train for ``config.epochs`` epochs; returns the :class:`StreamResult`."""
        epochs = bar(range(self.config.epochs), unit="epoch", desc=self.config.method)
        for epoch in epochs:
            row = self.train_epoch(epoch, bar)
            if hasattr(epochs, "set_postfix"):
                epochs.set_postfix(val=f"{row['val_acc']:.3f}", value=f"{row['value']:.3g}")
        self.result.swaps = [tuple(s) for s in self.stream.swaps(self.t)]
        return self.result


def run_stream(config: StreamConfig, data: ArraySet, bar: Bar = _no_bar) -> StreamResult:
    """Build and run one learner (:class:`StreamRun`); ``bar`` is tqdm-like (progress)."""
    return StreamRun(config, data).run(bar)
