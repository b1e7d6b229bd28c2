r"""The look-ahead ingest-or-reject decision, its controls, and a drift-triggered baseline.

**Look-ahead (Man, Damasio & Neven 2022).** At a decision opportunity the learner holds the
gradient :math:`g` accumulated so far in the current minibatch (sum over the samples seen, the
current one included, divided by the minibatch size :math:`m`), a regulated variable at value
:math:`v` and a replay buffer :math:`R` of the last ``n_memo`` samples (before the current one),
labelled as they are *now*. It compares two hypothetical plain-SGD steps,

.. math::

    \text{leave it: } W_0 = W - \eta(v)\, g,\qquad
    \text{take it: } W_1 = W - \eta(v')\, g \text{ evaluated with the variable at } v',

where :math:`v' = \text{move}(v, \text{need}(\hat y))` uses the **predicted** class
:math:`\hat y` of the current sample and :math:`\eta(\cdot)` is the learning rate each parameter's
optimiser group has with the variable at that value (for a learning-rate variable
:math:`\eta(v') = v'`; for a neuron parameter the rate is unchanged and :math:`v'` acts in the
forward pass). If the replay accuracy of "take it" is **strictly** higher, the real change is
applied in the direction of the **true** label :math:`y` (:meth:`Regulator.apply`): a
misperceived stimulus moves the variable the wrong way. ``criterion="loss"`` compares the replay
cross-entropy instead (lower is better), a finer signal than the accuracy on 20 samples.

Controls, same opportunities: :class:`RandomPolicy` (apply with probability ``p``, the paper's
0.5), :class:`AlwaysPolicy` (ingest everything). :class:`DriftTriggered` is the practitioner's
baseline: raise the learning rate when the recent loss jumps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from neuro.models.homeostatic.need import Regulator
from neuro.models.homeostatic.variables import RegulatedVariable, temporarily

__all__ = ["AlwaysPolicy", "DriftTriggered", "HomeostaticPolicy", "LookAhead", "Opportunity",
           "RandomPolicy", "ReplayBuffer", "replay_score", "sgd_lookahead_parameters"]


class ReplayBuffer:
    """The last ``size`` samples (inputs and *original* labels), oldest first in :meth:`view`."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"replay size must be >= 1, got {size}")
        self.size = int(size)
        self.x: torch.Tensor | None = None
        self.y: torch.Tensor | None = None
        self.count = 0  # samples ever pushed

    def extend(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Append a chunk of samples (``x [k, ...]``, ``y [k]``)."""
        k = len(y)
        if k == 0:
            return
        if self.x is None:
            self.x = x.new_zeros((self.size, *x.shape[1:]))
            self.y = y.new_zeros((self.size,))
        if k >= self.size:
            x, y = x[-self.size:], y[-self.size:]
            self.count += k - self.size
            k = self.size
        rows = (self.count + torch.arange(k)) % self.size
        self.x[rows] = x.detach()
        self.y[rows] = y
        self.count += k

    def __len__(self) -> int:
        return min(self.count, self.size)

    def view(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, original labels)`` of the stored samples, oldest first."""
        if self.x is None:
            raise ValueError("the replay buffer is empty")
        n = len(self)
        rows = (self.count - n + torch.arange(n)) % self.size
        return self.x[rows], self.y[rows]


def sgd_lookahead_parameters(model: nn.Module, grads: Mapping[str, torch.Tensor],
                             optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """``{name: W - lr_group * g}`` for the parameters in ``grads``, each with the current learning
    rate of its optimiser group (a plain SGD step, whatever the optimiser)."""
    rate = {}
    for group in optimizer.param_groups:
        lr = group["lr"]
        lr = float(lr.item() if isinstance(lr, torch.Tensor) else lr)
        for p in group["params"]:
            rate[id(p)] = lr
    out = {}
    for name, p in model.named_parameters():
        if name in grads:
            out[name] = p.detach() - rate.get(id(p), 0.0) * grads[name]
    return out


@torch.no_grad()
def replay_score(model: nn.Module, params: Mapping[str, torch.Tensor], x: torch.Tensor,
                 y: torch.Tensor, criterion: str = "accuracy", batched: bool = True) -> float:
    """Accuracy (or minus the summed cross-entropy) of ``model`` with ``params`` on ``(x, y)``:
    higher is better. ``batched=False`` runs the samples one at a time (the paper's loop)."""
    if batched:
        logits = functional_call(model, dict(params), (x,))
    else:
        logits = torch.cat([functional_call(model, dict(params), (x[i:i + 1],)) for i in range(len(y))])
    if criterion == "accuracy":
        return float((logits.argmax(1) == y).sum()) / len(y)
    if criterion == "loss":
        return -float(F.cross_entropy(logits.double(), y, reduction="sum"))
    raise ValueError(f"criterion must be 'accuracy' or 'loss', got {criterion!r}")


@dataclass
class Opportunity:
    """One decision opportunity: sample time ``t``, its true and predicted labels and input, and
    ``evaluate(candidate) -> (score_leave, score_take)`` (the look-ahead; None for controls)."""

    t: int
    label: int
    predicted: int
    x: torch.Tensor
    evaluate: Callable[[float], tuple[float, float]] | None = None


class LookAhead:
    """The two hypothetical steps of the module docstring, as ``evaluate(candidate)``.

    Args: ``model``, ``optimizer``, ``variable`` (the regulated one), ``criterion``
    (``"accuracy"`` / ``"loss"``), ``batched`` (replay evaluated in one call, the fast mode, or
    sample by sample, the exact mode).
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, variable: RegulatedVariable,
                 criterion: str = "accuracy", batched: bool = True) -> None:
        if criterion not in ("accuracy", "loss"):
            raise ValueError(f"criterion must be 'accuracy' or 'loss', got {criterion!r}")
        self.model, self.optimizer, self.variable = model, optimizer, variable
        self.criterion, self.batched = criterion, batched

    def scores(self, grads: Mapping[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor,
               candidate: float) -> tuple[float, float]:
        """``(score of leave it, score of take it)`` on the replay samples ``(x, y)``."""
        leave = replay_score(self.model, sgd_lookahead_parameters(self.model, grads, self.optimizer),
                             x, y, self.criterion, self.batched)
        with temporarily(self.variable, candidate):
            params = sgd_lookahead_parameters(self.model, grads, self.optimizer)
            take = replay_score(self.model, params, x, y, self.criterion, self.batched)
        return leave, take


class HomeostaticPolicy:
    """Ingest (apply the true-label change) only if "take it" scores strictly higher."""

    name = "homeostatic"
    lookahead = True

    def __init__(self, regulator: Regulator) -> None:
        self.regulator = regulator
        self.last: tuple[float, float] | None = None  # scores of the last evaluated look-ahead

    def decide(self, op: Opportunity) -> bool:
        """Run the look-ahead ``op.evaluate`` on the regulator's proposed value and return ``True`` (ingest)
        only if "take it" scores strictly higher than "leave it". The scores are kept in ``last``; when the
        proposal equals the current value (e.g. at a bound) nothing is evaluated and the answer is
        ``False``.
        """
        candidate = self.regulator.proposal(op.predicted, op.x)
        if candidate == self.regulator.variable.get():  # e.g. at the floor: both steps identical
            self.last = None
            return False
        if op.evaluate is None:
            raise ValueError("the homeostatic policy needs the look-ahead (Opportunity.evaluate)")
        self.last = op.evaluate(candidate)
        return self.last[1] > self.last[0]


class RandomPolicy:
    """Apply the true-label change with probability ``p`` (the paper's control: 0.5)."""

    name = "random"
    lookahead = False

    def __init__(self, p: float = 0.5, seed: int = 0) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.p, self.rng = float(p), np.random.default_rng(seed)

    def decide(self, op: Opportunity) -> bool:
        """Ingest with probability ``p``, independent of ``op`` (drawn from the policy's own generator)."""
        return bool(self.rng.random() < self.p)


class AlwaysPolicy:
    """Apply every change (ingest everything)."""

    name = "always"
    lookahead = False

    def decide(self, op: Opportunity) -> bool:
        """Always ingest: returns ``True`` for every opportunity."""
        return True


class DriftTriggered:
    r"""Drift-triggered schedule: raise a variable when the recent loss jumps, then relax it back.

    Per-sample losses :math:`\ell` feed exponential averages with time constants ``fast`` and
    ``slow`` samples, :math:`\bar\ell \leftarrow \bar\ell + (\ell - \bar\ell)/\tau`, and a slow
    average of the squared deviation :math:`s^2 \leftarrow s^2 + ((\ell - \bar\ell_{slow})^2 - s^2)
    /\tau_{slow}`. The fast average of independent losses of spread :math:`s` fluctuates by
    :math:`s/\sqrt{2\tau_{fast} - 1}`, so a drift is detected when

    .. math:: \bar\ell_{fast} - \bar\ell_{slow} > z\, s / \sqrt{2\tau_{fast} - 1}

    (``threshold`` :math:`z`, after ``slow`` samples and at least ``cooldown`` samples after the
    previous detection): a test calibrated to the loss's own scale, as a practitioner would set it
    up. The variable then jumps to ``base * boost``; otherwise it relaxes towards ``base`` at every
    :meth:`observe`, :math:`v \leftarrow b + (v - b)\, e^{-k/\text{decay}}` for :math:`k` samples.
    """

    name = "drift"

    def __init__(self, variable: RegulatedVariable, base: float, boost: float = 10.0, threshold: float = 3.0,
                 fast: int = 20, slow: int = 500, decay: int = 500, cooldown: int = 100) -> None:
        if not (boost >= 1 and threshold > 0 and 1 <= fast < slow and decay > 0 and cooldown >= 0):
            raise ValueError("need boost >= 1, threshold > 0, 1 <= fast < slow, decay > 0, cooldown >= 0")
        self.variable, self.base, self.boost = variable, float(base), float(boost)
        self.threshold = float(threshold)
        self.fast, self.slow, self.decay, self.cooldown = fast, slow, decay, cooldown
        self.ema_fast = self.ema_slow = None
        self.var_slow = 0.0
        self.seen, self.last_jump = 0, -math.inf
        self.jumps: list[int] = []

    def observe(self, losses: torch.Tensor) -> bool:
        """Feed a minibatch's per-sample losses (in order); returns whether a drift was detected."""
        values = [float(v) for v in losses.detach().flatten()]
        for v in values:
            if self.ema_fast is None:
                self.ema_fast = self.ema_slow = v
            self.var_slow += ((v - self.ema_slow) ** 2 - self.var_slow) / self.slow
            self.ema_fast += (v - self.ema_fast) / self.fast
            self.ema_slow += (v - self.ema_slow) / self.slow
        self.seen += len(values)
        margin = self.threshold * math.sqrt(self.var_slow / (2 * self.fast - 1))
        jump = (self.seen >= self.slow and self.seen - self.last_jump >= self.cooldown
                and self.ema_fast - self.ema_slow > margin)
        if jump:
            self.last_jump = self.seen
            self.jumps.append(self.seen)
            self.variable.set(self.base * self.boost)
        else:
            relaxed = self.base + (self.variable.get() - self.base) * math.exp(-len(values) / self.decay)
            self.variable.set(relaxed)
        return jump
