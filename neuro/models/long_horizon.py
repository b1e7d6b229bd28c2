"""ELM vs an LIF SNN vs an LSTM of the same size on a long-horizon task (spike-train adding).

All three read a ``[T, B, C]`` spike sequence and are trained with the same loop (Adam with cosine
decay, gradient clipping, cross-entropy on the output of the **last** step, as in the ELM paper):

* ``elm``: one ELM neuron (``neuro.nn.ELM``, ``memory <= 100`` units, tau_m log-spaced 1..1000 steps);
* ``lif``: ``Linear -> LIF -> Linear -> LI`` (``neuro.nn``; tau 20 steps, learnable), readout = LI
  membrane at the last step;
* ``lstm``: ``torch.nn.LSTM -> Linear``.

The SNN and LSTM hidden sizes are chosen so their trainable parameter counts are the closest to the
ELM's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from neuro.datasets.spike_adding import SpikeAdding
from neuro.nn import ELM, LI, LIF, Sequential
from neuro.nn.elm import num_trainable_parameters


class LastStep(nn.Module):
    """Wrap a sequence model (``[T, B, C] -> [T, B, K]``, optionally ``(out, state)``) to return
    ``out[-1]``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The wrapped model's output at the last step, ``[B, K]`` for ``x [T, B, C]`` (the state of an
        ``(out, state)`` output is dropped).
        """
        out = self.model(x)
        return (out[0] if isinstance(out, tuple) else out)[-1]


class _LSTMReadout(nn.Module):
    def __init__(self, inputs: int, hidden: int, classes: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(inputs, hidden)
        self.out = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.lstm(x)[0])


def build_elm(task: SpikeAdding, memory: int = 24, **kwargs) -> LastStep:
    return LastStep(ELM(task.channels, task.num_classes, memory, **kwargs))


def build_lif_snn(task: SpikeAdding, hidden: int) -> LastStep:
    return LastStep(Sequential(
        nn.Linear(task.channels, hidden), LIF(hidden, tau_mem=20e-3, dt=1e-3, learn_tau=True),
        nn.Linear(hidden, task.num_classes), LI(task.num_classes, tau_mem=20e-3, dt=1e-3, learn_tau=True)))


def build_lstm(task: SpikeAdding, hidden: int) -> LastStep:
    return LastStep(_LSTMReadout(task.channels, hidden, task.num_classes))


def matched_hidden(builder: Callable[[SpikeAdding, int], nn.Module], task: SpikeAdding, target: int) -> int:
    """The hidden size whose parameter count is closest to ``target`` (counts grow with the size)."""
    def count(h: int) -> int:
        return num_trainable_parameters(builder(task, h))

    lo, hi = 1, 4096
    while lo < hi:  # smallest size with count >= target
        mid = (lo + hi) // 2
        if count(mid) < target:
            lo = mid + 1
        else:
            hi = mid
    return min((h for h in (lo - 1, lo) if h >= 1), key=lambda h: abs(count(h) - target))


@dataclass
class TrainResult:
    """Trainable parameters, final test accuracy and the learning curve."""

    params: int
    accuracy: float
    steps: list = field(default_factory=list)
    accuracies: list = field(default_factory=list)
    seconds: float = 0.0


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 256) -> float:
    with torch.no_grad():
        hits = sum(int((model(x[:, i:i + batch]).argmax(-1) == y[i:i + batch]).sum())
                   for i in range(0, x.shape[1], batch))
    return hits / x.shape[1]


def train(model: nn.Module, task: SpikeAdding, steps: int, batch: int = 64, lr: float = 5e-3,
          seed: int = 0, test_size: int = 512, eval_every: int = 50,
          progress: Callable[[int, float], None] | None = None) -> TrainResult:
    """Adam with a cosine learning-rate decay to 0 on fresh batches from ``task`` (seed
    ``seed * 100003 + step``), gradient norm clipped to 1; accuracy on a fixed test set (seed
    ``10**9 + seed``, the same for every model)."""
    import time

    torch.manual_seed(seed)
    x_test, y_test = task.sample(test_size, seed=10**9 + seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)  # the ELM paper's schedule
    result = TrainResult(num_trainable_parameters(model), 0.0)
    start = time.perf_counter()
    for step in range(1, steps + 1):
        x, y = task.sample(batch, seed=seed * 100003 + step)
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        schedule.step()
        if step % eval_every == 0 or step == steps:
            result.steps.append(step)
            result.accuracies.append(accuracy(model, x_test, y_test))
            if progress is not None:
                progress(step, result.accuracies[-1])
    result.accuracy = result.accuracies[-1]
    result.seconds = time.perf_counter() - start
    return result


def compare(task: SpikeAdding, memory: int = 24, steps: int = 400, batch: int = 64, lr: float = 5e-3,
            seed: int = 0, eval_every: int = 50, test_size: int = 512,
            progress: Callable[[str, int, float], None] | None = None) -> dict[str, TrainResult]:
    """Train the three models with the same budget; returns ``{"elm"|"lif"|"lstm": TrainResult}``."""
    torch.manual_seed(seed)
    elm = build_elm(task, memory)
    target = num_trainable_parameters(elm)
    models = {"elm": elm,
              "lif": build_lif_snn(task, matched_hidden(build_lif_snn, task, target)),
              "lstm": build_lstm(task, matched_hidden(build_lstm, task, target))}
    results = {}
    for name, model in models.items():
        def report(step, acc, name=name):
            if progress is not None:
                progress(name, step, acc)
        results[name] = train(model, task, steps, batch, lr, seed, test_size, eval_every, progress=report)
    return results
