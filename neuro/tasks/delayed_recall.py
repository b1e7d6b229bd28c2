"""Delayed cue recall with distractors: a synthetic memory task for spiking networks.

A trial of ``T`` steps presents one of ``n_cues`` cues as Poisson spikes on that cue's input lines
for ``cue_steps`` steps, then a delay filled with background noise on every line and distractor
bursts (random patterns on separate distractor lines), and finally a recall window of
``recall_steps`` steps in which the "go" lines fire; the network must output the cue's class during
the recall window. A network without memory longer than the delay is at chance
(``1 / n_cues``).

Input lines (channels of ``x [T, B, n_inputs]``, spikes as 0/1 floats): ``n_cues * lines_per_cue``
cue lines, ``n_distractor`` distractor lines, ``lines_go`` go lines.

:class:`RecallNet` is the network used to compare hidden layers on the task (``Linear -> hidden
spiking layer -> Linear -> leaky-integrator readout``; logits = mean readout membrane over the
recall window) and :func:`train_recall` trains one with Adam on fresh trials.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from neuro.nn import LI, Sequential


@dataclass(frozen=True)
class DelayedRecall:
    """Task parameters (steps and per-step spike probabilities)."""

    T: int = 200
    n_cues: int = 4
    lines_per_cue: int = 4
    n_distractor: int = 8
    lines_go: int = 2
    cue_steps: int = 10
    recall_steps: int = 10
    cue_rate: float = 0.5
    noise_rate: float = 0.01
    distractor_rate: float = 0.5
    distractor_bursts: int = 3
    distractor_steps: int = 10

    def __post_init__(self) -> None:
        for name in ("T", "n_cues", "lines_per_cue", "lines_go", "cue_steps", "recall_steps",
                     "distractor_steps"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.n_distractor < 0 or self.distractor_bursts < 0:
            raise ValueError("n_distractor and distractor_bursts must be >= 0")
        if self.n_cues < 2:
            raise ValueError("n_cues must be >= 2 (a task with one class is trivial)")
        if self.cue_steps + self.recall_steps >= self.T:
            raise ValueError(f"T={self.T} leaves no delay after cue_steps={self.cue_steps} and "
                             f"recall_steps={self.recall_steps}")
        for name in ("cue_rate", "noise_rate", "distractor_rate"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} is a per-step spike probability in [0, 1], got {p}")

    @property
    def n_inputs(self) -> int:
        """Input lines: ``n_cues * lines_per_cue`` cue lines, then ``n_distractor`` distractor lines, then
        ``lines_go`` go lines.
        """
        return self.n_cues * self.lines_per_cue + self.n_distractor + self.lines_go

    @property
    def delay(self) -> int:
        """Steps between the end of the cue and the start of the recall window."""
        return self.T - self.cue_steps - self.recall_steps

    @property
    def recall_window(self) -> slice:
        """The last ``recall_steps`` steps, ``slice(T - recall_steps, T)``: when the go lines fire and the
        answer is read.
        """
        return slice(self.T - self.recall_steps, self.T)

    def sample(self, batch: int, generator: torch.Generator | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x [T, batch, n_inputs], labels [batch])`` of fresh random trials."""
        g = generator
        T, B = self.T, batch
        y = torch.randint(0, self.n_cues, (B,), generator=g)
        x = (torch.rand(T, B, self.n_inputs, generator=g) < self.noise_rate).float()
        n_cue_lines = self.n_cues * self.lines_per_cue
        cue_lines = torch.zeros(B, self.n_inputs, dtype=torch.bool)
        offsets = y[:, None] * self.lines_per_cue + torch.arange(self.lines_per_cue)
        cue_lines.scatter_(1, offsets, True)
        burst = torch.rand(self.cue_steps, B, self.n_inputs, generator=g) < self.cue_rate
        x[:self.cue_steps] = torch.maximum(x[:self.cue_steps], (burst & cue_lines).float())
        if self.n_distractor and self.distractor_bursts:
            lo, hi = self.cue_steps, self.T - self.recall_steps - self.distractor_steps
            for _ in range(self.distractor_bursts):
                start = torch.randint(lo, max(lo + 1, hi + 1), (B,), generator=g)
                pattern = torch.rand(B, self.n_distractor, generator=g) < 0.5
                for b in range(B):
                    s = int(start[b])
                    spikes = torch.rand(self.distractor_steps, self.n_distractor, generator=g) < \
                        self.distractor_rate
                    block = x[s:s + self.distractor_steps, b, n_cue_lines:n_cue_lines + self.n_distractor]
                    block.copy_(torch.maximum(block, (spikes & pattern[b]).float()))
        go = torch.rand(self.recall_steps, B, self.lines_go, generator=g) < self.cue_rate
        x[self.recall_window, :, self.n_inputs - self.lines_go:] = go.float()
        return x, y


class RecallNet(nn.Module):
    """``Linear(n_inputs, hidden) -> hidden_layer -> Linear(hidden, n_cues) -> LI`` readout.

    ``forward(x) -> logits [B, n_cues]``: the readout membrane averaged over the recall window.
    """

    def __init__(self, task: DelayedRecall, hidden: int, hidden_layer: nn.Module,
                 readout_tau: float = 5e-3) -> None:
        super().__init__()
        self.task = task
        self.net = Sequential(nn.Linear(task.n_inputs, hidden), hidden_layer,
                              nn.Linear(hidden, task.n_cues), LI(tau_mem=readout_tau))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, n_cues]`` of ``x [T, B, n_inputs]``: the LI readout membrane averaged over the task's
        recall window.
        """
        out, _ = self.net(x)
        return out[self.task.recall_window].mean(0)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def train_recall(model: RecallNet, steps: int, batch: int = 64, lr: float = 5e-3, seed: int = 0,
                 eval_batch: int = 512, on_step: Callable[[int, float], None] | None = None) -> dict:
    """Adam on fresh trials (seeded), then accuracy on ``eval_batch`` held-out trials.

    Returns ``{"loss": [...], "accuracy": float, "seconds": float}``.
    """
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    t0 = time.perf_counter()
    for step in range(steps):
        x, y = model.task.sample(batch, gen)
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if not math.isfinite(losses[-1]):
            raise FloatingPointError(f"training diverged at step {step} (loss {losses[-1]})")
        if on_step is not None:
            on_step(step, losses[-1])
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        eval_gen = torch.Generator().manual_seed(10_000 + seed)
        x, y = model.task.sample(eval_batch, eval_gen)
        accuracy = float((model(x).argmax(1) == y).float().mean())
    return {"loss": losses, "accuracy": accuracy, "seconds": seconds}
