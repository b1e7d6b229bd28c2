r"""Per-epoch learning-rate schedules, chosen per parameter group.

The trainer steps the schedule once per epoch. Epoch :math:`e` of :math:`E`, base rate
:math:`\eta` (the group's ``lr`` when the optimizer was built):

* ``none``     — :math:`\eta`;
* ``cosine``   — :math:`\eta\,(1 + \cos(\pi e / E)) / 2` (``CosineAnnealingLR``, ``eta_min = 0``);
* ``onecycle`` — ``OneCycleLR`` with ``total_steps = E`` stepped per epoch: peak
  :math:`\hat\eta = r\,\eta` (``r`` = ``peak_ratio``), start :math:`\hat\eta / 25`, cosine rise
  over the first 30 % to the peak, cosine fall to :math:`\hat\eta / 25 / 10^4`; Adam's
  :math:`\beta_1` cycles 0.95 -> 0.85 -> 0.95 against the rate (PyTorch's defaults).

A parameter group may carry ``"schedule"`` to override the run's schedule (e.g. the delay
positions of the SNN-delays recipe anneal with ``cosine`` while the weights follow ``onecycle``).
The values match PyTorch's schedulers (tested); being closed-form, the state is just the epoch.
"""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

SCHEDULES = ("cosine", "onecycle", "none")

# OneCycleLR's defaults
_PCT_START, _DIV, _FINAL_DIV, _BASE_MOMENTUM, _MAX_MOMENTUM = 0.3, 25.0, 1e4, 0.85, 0.95


def _cos(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def one_cycle(peak: float, step: int, total: int) -> tuple[float, float]:
    """``(lr, beta1)`` of ``OneCycleLR(max_lr=peak, total_steps=total)`` at ``step``."""
    initial = peak / _DIV
    phases = ((float(_PCT_START * total) - 1, initial, peak, _MAX_MOMENTUM, _BASE_MOMENTUM),
              (total - 1, peak, initial / _FINAL_DIV, _BASE_MOMENTUM, _MAX_MOMENTUM))
    start = 0.0
    for k, (end, lr0, lr1, m0, m1) in enumerate(phases):
        if step <= end or k == len(phases) - 1:
            pct = (step - start) / (end - start)
            return _cos(lr0, lr1, pct), _cos(m0, m1, pct)
        start = end
    raise AssertionError("unreachable")


class EpochSchedule(LRScheduler):
    """The schedule ``kind`` (or each group's ``"schedule"``) over ``epochs`` epochs."""

    def __init__(self, optimizer: Optimizer, kind: str, epochs: int, peak_ratio: float = 1.0) -> None:
        for group in optimizer.param_groups:
            if group.get("schedule", kind) not in SCHEDULES:
                raise ValueError(f"schedule must be one of {SCHEDULES}, got "
                                 f"{group.get('schedule', kind)!r}")
        if int(epochs) < 1 or not peak_ratio > 0:
            raise ValueError(f"need epochs >= 1 and peak_ratio > 0, got {epochs}, {peak_ratio}")
        self.kind, self.epochs, self.peak_ratio = kind, int(epochs), float(peak_ratio)
        super().__init__(optimizer)

    def retarget(self, epochs: int) -> None:
        """Continue with a schedule over ``epochs`` epochs (a resumed run extended or kept): the
        current epoch's rates become those of the new schedule at the epoch reached."""
        if int(epochs) < 1:
            raise ValueError(f"need epochs >= 1, got {epochs}")
        if int(epochs) == self.epochs:
            return
        self.epochs = int(epochs)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_lr(self) -> list[float]:
        """The learning rate of every parameter group at epoch ``last_epoch``: cosine decay to 0 over
        ``epochs``, one-cycle from ``base * peak_ratio`` (also setting ``beta1`` of groups with ``betas``),
        or constant, per the group's ``"schedule"`` or ``kind``.
        """
        epoch = self.last_epoch
        rates = []
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            kind = group.get("schedule", self.kind)
            if kind == "cosine":
                rates.append(base * (1 + math.cos(math.pi * epoch / self.epochs)) / 2)
            elif kind == "onecycle":  # past the last epoch (after training) it stays at the end
                lr, beta1 = one_cycle(base * self.peak_ratio, min(epoch, self.epochs - 1),
                                      self.epochs)
                if "betas" in group:
                    group["betas"] = (beta1, *group["betas"][1:])
                rates.append(lr)
            else:
                rates.append(base)
        return rates
