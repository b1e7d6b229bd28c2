r"""Needs: what perceived stimuli do to a regulated variable (Man, Damasio & Neven 2022).

A :class:`Need` maps a stimulus — its class label and, optionally, the input itself — to a signed
drive :math:`d \in \mathbb{R}` (usually :math:`\pm 1` or 0). A :class:`Regulator` turns the drive
into a change of its :class:`~neuro.models.homeostatic.variables.RegulatedVariable` :math:`v`:

.. math::

    v \leftarrow \operatorname{clip}\big(v + d\,\Delta,\ \text{floor},\ \text{ceiling}\big)
    \quad\text{(additive)},\qquad
    v \leftarrow \operatorname{clip}\big(v\,\rho^{d},\ \text{floor},\ \text{ceiling}\big)
    \quad\text{(multiplicative)}.

The paper's learner: :math:`v = \eta` (the learning rate), digits 5-9 excitatory (:math:`d = +1`),
0-4 inhibitory (:math:`d = -1`), :math:`\Delta = \eta_0 / 10`, floor :math:`10^{-8}`
(:meth:`Need.threshold`). Which changes are actually applied is decided elsewhere (the look-ahead
decision of :mod:`neuro.models.homeostatic.decision`, or a control): the regulator only computes
a :meth:`~Regulator.proposal` and :meth:`~Regulator.apply`\ s a change.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch

from neuro.models.homeostatic.variables import RegulatedVariable

__all__ = ["Need", "Regulator"]

Drive = Callable[[int, torch.Tensor | None], float]


class Need:
    """Stimulus -> signed drive. ``need(label, x=None) -> float``.

    Build one with :meth:`threshold` (the paper), :meth:`from_classes` (any class -> drive table)
    or :meth:`from_property` (any function of the input), or wrap ``fn(label, x) -> float``.
    """

    def __init__(self, fn: Drive, description: str = "custom") -> None:
        if not callable(fn):
            raise TypeError("fn must be callable as fn(label, x) -> float")
        self.fn, self.description = fn, description

    def __call__(self, label: int, x: torch.Tensor | None = None) -> float:
        return float(self.fn(int(label), x))

    def __repr__(self) -> str:
        return f"Need({self.description})"

    @classmethod
    def threshold(cls, threshold: int = 5, above: float = 1.0, below: float = -1.0) -> Need:
        """Classes ``>= threshold`` drive ``above`` (excitatory), the others ``below`` (the paper:
        5-9 raise the learning rate, 0-4 lower it)."""
        return cls(lambda label, x: above if label >= threshold else below,
                   f"label >= {threshold}: {above:+g}, else {below:+g}")

    @classmethod
    def from_classes(cls, drives: Mapping[int, float], default: float = 0.0) -> Need:
        """An explicit class -> drive table; classes not listed drive ``default``."""
        table = {int(k): float(v) for k, v in drives.items()}
        if not all(math.isfinite(v) for v in table.values()):
            raise ValueError(f"drives must be finite numbers, got {drives}")
        return cls(lambda label, x: table.get(label, default), f"table {table}, default {default:+g}")

    @classmethod
    def from_property(cls, fn: Callable[[torch.Tensor], float], description: str = "property") -> Need:
        """The drive as a function of the input alone (e.g. its brightness): the same for the
        predicted and the true class, so such a need is never "misperceived"."""
        return cls(lambda label, x: fn(x), description)


class Regulator:
    """Moves a regulated variable by the drive of each stimulus, inside ``[floor, ceiling]``.

    Args:
        variable: the :class:`RegulatedVariable`.
        need: the :class:`Need` (stimulus -> drive).
        step: :math:`\\Delta` (additive) or :math:`\\rho > 0` (multiplicative).
        floor, ceiling: clipping limits (default: the variable's bounds); the paper's floor for
            the learning rate is ``1e-8``.
        mode: ``"add"`` or ``"multiply"``.
    """

    def __init__(self, variable: RegulatedVariable, need: Need, step: float, *,
                 floor: float | None = None, ceiling: float | None = None,
                 mode: str = "add") -> None:
        if not isinstance(variable, RegulatedVariable):
            raise TypeError("variable must provide name, bounds, get() and set() (RegulatedVariable)")
        if mode not in ("add", "multiply"):
            raise ValueError(f"mode must be 'add' or 'multiply', got {mode!r}")
        if not (math.isfinite(step) and step > 0):
            raise ValueError(f"step must be a positive finite number, got {step!r}")
        low, high = variable.bounds
        self.floor = low if floor is None else float(floor)
        self.ceiling = high if ceiling is None else float(ceiling)
        if not low <= self.floor <= self.ceiling <= high:
            raise ValueError(f"need bounds[0] <= floor <= ceiling <= bounds[1]; got floor={self.floor}, "
                             f"ceiling={self.ceiling}, bounds of {variable.name}: {variable.bounds}")
        self.variable, self.need, self.step, self.mode = variable, need, float(step), mode
        self.applied = 0  # number of applied changes

    def clip(self, value: float) -> float:
        """``value`` limited to ``[floor, ceiling]``."""
        return min(max(value, self.floor), self.ceiling)

    def moved(self, value: float, drive: float) -> float:
        """``value`` after a stimulus of drive ``drive`` (clipped)."""
        if self.mode == "add":
            return self.clip(value + drive * self.step)
        return self.clip(value * self.step ** drive)

    def proposal(self, label: int, x: torch.Tensor | None = None) -> float:
        """The value the variable would take after stimulus ``(label, x)`` (nothing is changed)."""
        return self.moved(self.variable.get(), self.need(label, x))

    def apply(self, label: int, x: torch.Tensor | None = None) -> float:
        """Apply the change of stimulus ``(label, x)``; returns the new value."""
        value = self.proposal(label, x)
        self.variable.set(value)
        self.applied += 1
        return value
