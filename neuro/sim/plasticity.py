r"""Plasticity rules for :class:`neuro.sim.Projection` (``Projection(..., plasticity=STDP(...))``).

Pair-based STDP with traces (Song, Miller & Abbott 2000; Brian2's classic STDP example). Every synapse
``k`` keeps a presynaptic trace :math:`x_k` and a postsynaptic trace :math:`y_k`, both decaying
exactly every step, :math:`x \leftarrow x\,e^{-dt/\tau_+}`, :math:`y \leftarrow y\,e^{-dt/\tau_-}`.

* Presynaptic event of synapse ``k`` (its source spiked at step ``t_pre`` and the spike reaches the
  synapse after the delay, at step ``t_pre + d_k``: the *axonal* delay convention, Brian2's
  ``on_pre`` with ``delay``): the weight is delivered (the value before this event's update), then
  depression :math:`w_k \mathrel{-}= A_- f_-(w_k)\, y_k`, then :math:`x_k \mathrel{+}= 1`
  (``pairing="all"``) or :math:`x_k = 1` (``pairing="nearest"``).
* Postsynaptic spike at step ``t`` (no dendritic delay): potentiation
  :math:`w_k \mathrel{+}= A_+ f_+(w_k)\, x_k`, then :math:`y_k \mathrel{+}= 1` (or ``= 1``).
* Within one step presynaptic events come first, so a pair with ``t_post = t_pre + d`` potentiates
  by :math:`A_+` (and does not depress). Weights are clipped to ``[w_min, w_max]`` after each update.

Weight dependence: ``"additive"`` (:math:`f_\pm = 1`, hard bounds) or ``"multiplicative"`` (soft
bounds: :math:`f_+ = (w_{max} - w) / w_{max}`, :math:`f_- = (w - w_{min}) / w_{max}`; with
``w_min = 0`` this is NEST's ``stdp_synapse`` with ``mu_plus = mu_minus = 1``).

For an isolated pair, :math:`\Delta t = t_{post} - (t_{pre} + d)`, the change is
:math:`A_+ e^{-\Delta t / \tau_+}` for :math:`\Delta t \ge 0` and :math:`-A_- e^{\Delta t/\tau_-}`
otherwise (additive rule, :func:`pair_curve`). ``A_+`` and ``A_-`` are in the projection's weight
units (both >= 0: ``A_minus`` is the size of the depression).

Where it runs: on ``backend="torch"`` (:mod:`neuro.sim.plastic_runner`, the dense reference, per
step, float32 or float64). The compiled CPU and CUDA simulation kernels do not implement plasticity
yet: a network with a plastic projection on those backends raises ``NotImplementedError``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

WEIGHT_DEPENDENCE = ("additive", "multiplicative")
PAIRING = ("all", "nearest")


class PlasticityRule:
    """Base class of the rules a :class:`~neuro.sim.Projection` accepts as ``plasticity``."""


@dataclass(frozen=True)
class STDP(PlasticityRule):
    """Pair-based STDP with exponential traces (module docstring for the equations).

    Args:
        tau_plus / tau_minus: trace time constants, seconds (> 0).
        A_plus / A_minus: potentiation / depression amplitudes per pair, weight units (>= 0).
        w_min / w_max: weight bounds (``w_min <= w_max``); weights are clipped to them.
        weight_dependence: ``"additive"`` (hard bounds) or ``"multiplicative"`` (soft bounds).
        pairing: ``"all"`` (all-to-all: traces add up) or ``"nearest"`` (traces reset to 1).
    """

    tau_plus: float = 20e-3
    tau_minus: float = 20e-3
    A_plus: float = 0.01
    A_minus: float = 0.0105
    w_min: float = 0.0
    w_max: float = 1.0
    weight_dependence: str = "additive"
    pairing: str = "all"

    def __post_init__(self):
        for key in ("tau_plus", "tau_minus"):
            value = getattr(self, key)
            if not (_real(value) and math.isfinite(value) and value > 0):
                raise ValueError(f"STDP {key} must be a positive number of seconds, got {value!r}")
            if value > 10.0:
                raise ValueError(f"STDP {key} = {value:g} s is implausibly long: neuro takes seconds "
                                 "(20 ms is 20e-3)")
        for key in ("A_plus", "A_minus"):
            value = getattr(self, key)
            if not (_real(value) and math.isfinite(value) and value >= 0):
                raise ValueError(f"STDP {key} must be a finite number >= 0 (A_minus is the size of the "
                                 f"depression), got {value!r}")
        for key in ("w_min", "w_max"):
            if not (_real(getattr(self, key)) and math.isfinite(getattr(self, key))):
                raise ValueError(f"STDP {key} must be a finite number, got {getattr(self, key)!r}")
        if self.w_min > self.w_max:
            raise ValueError(f"STDP needs w_min <= w_max, got {self.w_min} > {self.w_max}")
        if self.weight_dependence not in WEIGHT_DEPENDENCE:
            raise ValueError(f"STDP weight_dependence must be one of {WEIGHT_DEPENDENCE}, "
                             f"got {self.weight_dependence!r}")
        if self.weight_dependence == "multiplicative" and self.w_max <= 0:
            raise ValueError("multiplicative STDP needs w_max > 0 (f_+ = (w_max - w) / w_max)")
        if self.pairing not in PAIRING:
            raise ValueError(f"STDP pairing must be one of {PAIRING}, got {self.pairing!r}")

    def pair_curve(self, delta_t: np.ndarray, w: float | None = None) -> np.ndarray:
        """Weight change of one isolated pre/post pair vs ``delta_t = t_post - t_pre_arrival``
        (seconds), starting from weight ``w`` (default: mid-range), before clipping."""
        delta_t = np.asarray(delta_t, np.float64)
        w = 0.5 * (self.w_min + self.w_max) if w is None else float(w)
        f_plus, f_minus = 1.0, 1.0
        if self.weight_dependence == "multiplicative":
            f_plus, f_minus = (self.w_max - w) / self.w_max, (w - self.w_min) / self.w_max
        return np.where(delta_t >= 0, self.A_plus * f_plus * np.exp(-np.abs(delta_t) / self.tau_plus),
                        -self.A_minus * f_minus * np.exp(-np.abs(delta_t) / self.tau_minus))


def pair_curve(rule: STDP, delta_t: np.ndarray, w: float | None = None) -> np.ndarray:
    """:meth:`STDP.pair_curve` as a function."""
    return rule.pair_curve(delta_t, w)


def _real(value: object) -> bool:
    return isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
