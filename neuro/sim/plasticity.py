r"""Plasticity rules for :class:`neuro.sim.Projection` (``Projection(..., plasticity=STDP(...))``).

Common conventions (all rules):

* **Delays: axonal.** A presynaptic spike of the source at step ``t_pre`` reaches synapse ``k`` after
  its delay, at step ``t_pre + d_k`` (Brian2's ``on_pre`` with ``delay``); that *arrival* is the
  presynaptic event of every rule. Postsynaptic spikes act at once (no dendritic delay).
* **Order within a step** (after the neurons' update of step ``t``): traces decay exactly
  (:math:`q \leftarrow q\,e^{-dt/\tau_q}`), then presynaptic events (the synapse delivers its
  current weight, the value before this event's update, then the rule updates), then postsynaptic
  spikes, then per-step updates (:class:`RewardSTDP`). A pair with ``t_post = t_pre + d`` is thus
  "pre before post", as in Brian2 (its ``pre`` pathway runs before ``post``).
* Weights are clipped to ``[w_min, w_max]`` after every update; amplitudes are in the projection's
  weight units; times in seconds, rates in Hz.

Rules:

* :class:`STDP` — pair-based STDP (Song, Miller & Abbott 2000). Traces :math:`x` (pre,
  :math:`\tau_+`) and :math:`y` (post, :math:`\tau_-`). Pre event: :math:`w \mathrel{-}= A_-
  f_-(w)\,y`, then :math:`x \mathrel{+}= 1` (``pairing="all"``) or :math:`x = 1` (``"nearest"``).
  Post spike: :math:`w \mathrel{+}= A_+ f_+(w)\,x`, then :math:`y \mathrel{+}= 1` (or ``= 1``).
  ``"additive"``: :math:`f_\pm = 1`; ``"multiplicative"`` (soft bounds): :math:`f_+ = (w_{max} -
  w)/w_{max}`, :math:`f_- = (w - w_{min})/w_{max}` (with ``w_min = 0``, NEST's ``stdp_synapse`` with
  ``mu_plus = mu_minus = 1``). Isolated pair, :math:`\Delta t = t_{post} - (t_{pre} + d)`:
  :math:`A_+ e^{-\Delta t/\tau_+}` for :math:`\Delta t \ge 0`, :math:`-A_- e^{\Delta t/\tau_-}` otherwise.
* :class:`TripletSTDP` — Pfister & Gerstner (2006), the minimal models' equations with both triplet
  terms. Traces :math:`r_1, r_2` (pre; :math:`\tau_+, \tau_x`) and :math:`o_1, o_2` (post;
  :math:`\tau_-, \tau_y`). Pre event: :math:`w \mathrel{-}= o_1 (A_2^- + A_3^- r_2)`, then
  :math:`r_1, r_2 \mathrel{+}= 1`. Post spike: :math:`w \mathrel{+}= r_1 (A_2^+ + A_3^+ o_2)`, then
  :math:`o_1, o_2 \mathrel{+}= 1` (the triplet traces enter with their values just before the spike).
  ``pairing="nearest"``: every trace is reset to 1 instead of incremented (the paper's
  nearest-spike model).
* :class:`RewardSTDP` — reward-modulated STDP (Izhikevich 2007's eligibility trace). The pair terms
  of :class:`STDP` (additive) drive an eligibility trace :math:`c` instead of the weight: pre event
  :math:`c \mathrel{-}= A_- y`, post spike :math:`c \mathrel{+}= A_+ x`, :math:`\tau_c \dot c = -c`;
  every step the weight follows the global neuromodulator :math:`M(t)` of a :class:`Neuromodulator`:
  :math:`\dot w = \eta\, c\, M`, i.e. :math:`w \leftarrow \mathrm{clip}(w + \eta\, c\, M(t)\, dt)`
  at the end of step ``t`` (``eta`` in 1/s, so the rule does not depend on ``dt``).
* :class:`InhibitorySTDP` — Vogels et al. (2011) inhibitory plasticity. Traces :math:`x` (pre) and
  :math:`y` (post), both :math:`\tau`. Pre event: :math:`w \mathrel{+}= \eta (y - \alpha)`, then
  :math:`x \mathrel{+}= 1`; post spike: :math:`w \mathrel{+}= \eta\, x`, then :math:`y \mathrel{+}= 1`;
  :math:`\alpha = 2 \rho_0 \tau` sets the target postsynaptic rate :math:`\rho_0`. Isolated pair:
  :math:`\eta (e^{-|\Delta t|/\tau} - \alpha)`.
* :class:`TsodyksMarkram` — short-term depression/facilitation (Tsodyks, Pawelzik & Markram 1998;
  Brian2's event-driven form). Per synapse :math:`\tau_f \dot u = U - u`, :math:`\tau_d \dot x = 1 -
  x` (:math:`u = U`, :math:`x = 1` at start). Pre event: the synapse delivers :math:`w\,u\,x`, then
  :math:`x \leftarrow x (1 - u)`, :math:`u \leftarrow u + U (1 - u)`. The weight :math:`w` is static
  or follows a long-term rule (``weight_rule=STDP(...)`` etc., delivered value from before that
  rule's update); ``proj.weights`` is :math:`w`, not the efficacy.

Where they run: every rule on ``backend="torch"`` (:mod:`neuro.sim.plastic_runner`, the dense
reference, per step, float32 or float64) and in the compiled CPU and CUDA simulation kernels
(``backend="numba"`` / ``"cuda"``; scalar updates in ``kernels/stdp_math.py``, equal to the torch
runner to rounding: identical spikes, weights within 1e-12 in float64). Brian2 is the oracle
(``benchmarks/stdp_brian2.py``, ``benchmarks/plasticity_brian2.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

WEIGHT_DEPENDENCE = ("additive", "multiplicative")
PAIRING = ("all", "nearest")


class PlasticityRule:
    """Base class of the rules a :class:`~neuro.sim.Projection` accepts as ``plasticity``."""


# -- validation shared by the rules -----------------------------------------------------------------
def _real(value: object) -> bool:
    return isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)


def _check_tau(owner: str, key: str, value: object, zero_ok: bool = False) -> None:
    ok = _real(value) and math.isfinite(value) and (value >= 0 if zero_ok else value > 0)
    if not ok:
        what = "a number of seconds >= 0" if zero_ok else "a positive number of seconds"
        raise ValueError(f"{owner} {key} must be {what}, got {value!r}")
    if value > 10.0:
        raise ValueError(f"{owner} {key} = {value:g} s is implausibly long: neuro takes seconds "
                         "(20 ms is 20e-3)")


def _check_nonnegative(owner: str, key: str, value: object, hint: str = "") -> None:
    if not (_real(value) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{owner} {key} must be a finite number >= 0{hint}, got {value!r}")


def _check_finite(owner: str, key: str, value: object) -> None:
    if not (_real(value) and math.isfinite(value)):
        raise ValueError(f"{owner} {key} must be a finite number, got {value!r}")


def _check_bounds(owner: str, w_min: object, w_max: object) -> None:
    _check_finite(owner, "w_min", w_min)
    _check_finite(owner, "w_max", w_max)
    if w_min > w_max:
        raise ValueError(f"{owner} needs w_min <= w_max, got {w_min} > {w_max}")


def _check_pairing(owner: str, pairing: object) -> None:
    if pairing not in PAIRING:
        raise ValueError(f"{owner} pairing must be one of {PAIRING}, got {pairing!r}")


def _times(name: str, values: np.ndarray | Sequence[float]) -> np.ndarray:
    arr = np.sort(np.asarray(values, np.float64).ravel())
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite spike times in seconds")
    return arr


def _events(pre: np.ndarray | Sequence[float], post: np.ndarray | Sequence[float]) -> list[tuple[float, int]]:
    """Pre arrivals (kind 0) and post spikes (kind 1) in time order, pre first at equal times."""
    return sorted([(float(t), 0) for t in _times("pre", pre)] + [(float(t), 1) for t in _times("post", post)])


# -- pair-based STDP --------------------------------------------------------------------------------
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
            _check_tau("STDP", key, getattr(self, key))
        for key in ("A_plus", "A_minus"):
            _check_nonnegative("STDP", key, getattr(self, key), " (A_minus is the size of the depression)")
        _check_bounds("STDP", self.w_min, self.w_max)
        if self.weight_dependence not in WEIGHT_DEPENDENCE:
            raise ValueError(f"STDP weight_dependence must be one of {WEIGHT_DEPENDENCE}, "
                             f"got {self.weight_dependence!r}")
        if self.weight_dependence == "multiplicative" and self.w_max <= 0:
            raise ValueError("multiplicative STDP needs w_max > 0 (f_+ = (w_max - w) / w_max)")
        _check_pairing("STDP", self.pairing)

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


# -- triplet STDP -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TripletSTDP(PlasticityRule):
    """Triplet STDP (Pfister & Gerstner 2006; module docstring for the equations).

    Defaults: the time constants and amplitudes of NESTML's ``stdp_triplet`` model (``nest/nestml``,
    ``doc/models_library/stdp_triplet_nn.rst``), amplitudes relative to ``w_max = 1``.

    Args:
        tau_plus / tau_x: presynaptic trace time constants of :math:`r_1` / :math:`r_2`, seconds.
        tau_minus / tau_y: postsynaptic trace time constants of :math:`o_1` / :math:`o_2`, seconds.
        A2_plus / A3_plus: pair / triplet potentiation amplitudes (>= 0, weight units).
        A2_minus / A3_minus: pair / triplet depression amplitudes (>= 0: sizes of the depression).
        w_min / w_max: weight bounds (hard, clipped after every update).
        pairing: ``"all"`` (all-to-all, traces add up) or ``"nearest"`` (traces reset to 1).
    """

    tau_plus: float = 16.8e-3
    tau_minus: float = 33.7e-3
    tau_x: float = 101e-3
    tau_y: float = 125e-3
    A2_plus: float = 7.5e-10
    A3_plus: float = 9.3e-3
    A2_minus: float = 7e-3
    A3_minus: float = 2.3e-4
    w_min: float = 0.0
    w_max: float = 1.0
    pairing: str = "all"

    def __post_init__(self):
        for key in ("tau_plus", "tau_minus", "tau_x", "tau_y"):
            _check_tau("TripletSTDP", key, getattr(self, key))
        for key in ("A2_plus", "A3_plus", "A2_minus", "A3_minus"):
            _check_nonnegative("TripletSTDP", key, getattr(self, key),
                               " (the minus amplitudes are sizes of the depression)")
        _check_bounds("TripletSTDP", self.w_min, self.w_max)
        _check_pairing("TripletSTDP", self.pairing)

    def pair_curve(self, delta_t: np.ndarray) -> np.ndarray:
        """Weight change of one isolated pair vs ``delta_t = t_post - t_pre_arrival`` (seconds): the
        pair terms only (:math:`A_2^+ e^{-\\Delta t/\\tau_+}` / :math:`-A_2^- e^{\\Delta t/\\tau_-}`)."""
        delta_t = np.asarray(delta_t, np.float64)
        return np.where(delta_t >= 0, self.A2_plus * np.exp(-np.abs(delta_t) / self.tau_plus),
                        -self.A2_minus * np.exp(-np.abs(delta_t) / self.tau_minus))

    def spike_train_change(self, pre: np.ndarray | Sequence[float], post: np.ndarray | Sequence[float],
                           w: float | None = None, clip: bool = True) -> float:
        """Weight change from weight ``w`` (default mid-range) under presynaptic arrival times
        ``pre`` and postsynaptic spike times ``post`` (seconds), event-driven in continuous time (an
        independent reference of the per-step runner); ``clip=False`` ignores the bounds."""
        w0 = 0.5 * (self.w_min + self.w_max) if w is None else float(w)
        lo, hi = (self.w_min, self.w_max) if clip else (-math.inf, math.inf)
        wt, last = w0, None
        r1 = r2 = o1 = o2 = 0.0
        for t, kind in _events(pre, post):
            if last is not None:
                gap = t - last
                r1, r2 = r1 * math.exp(-gap / self.tau_plus), r2 * math.exp(-gap / self.tau_x)
                o1, o2 = o1 * math.exp(-gap / self.tau_minus), o2 * math.exp(-gap / self.tau_y)
            last = t
            if kind == 0:
                wt = min(max(wt - o1 * (self.A2_minus + self.A3_minus * r2), lo), hi)
                r1, r2 = (1.0, 1.0) if self.pairing == "nearest" else (r1 + 1.0, r2 + 1.0)
            else:
                wt = min(max(wt + r1 * (self.A2_plus + self.A3_plus * o2), lo), hi)
                o1, o2 = (1.0, 1.0) if self.pairing == "nearest" else (o1 + 1.0, o2 + 1.0)
        return wt - w0

    def frequency_curve(self, delta_t: float, rates: np.ndarray, n_pairs: int = 60) -> np.ndarray:
        """The pairing protocol of Sjöström et al. (2001), the paper's Fig. 4: ``n_pairs`` pre/post
        pairs (``post = pre_arrival + delta_t``) repeated at each rate of ``rates`` (Hz); returns the
        weight change per rate (without the weight bounds)."""
        out = []
        for rate in np.asarray(rates, np.float64).ravel():
            if not (rate > 0 and math.isfinite(rate)):
                raise ValueError(f"frequency_curve rates must be positive (Hz), got {rate!r}")
            pre = np.arange(n_pairs) / rate
            out.append(self.spike_train_change(pre, pre + delta_t, clip=False))
        return np.asarray(out)


# -- the neuromodulator and reward-modulated STDP ---------------------------------------------------
class Neuromodulator:
    """A global scalar signal :math:`M(t)` (dopamine-like reward, or a homeostatic drive) that rules
    such as :class:`RewardSTDP` read every step.

    Set it between runs (``mod.value = 1.0``) or give it a per-step schedule
    (``mod.set_schedule(values, value_dt, start)``: ``values[k]`` holds on ``[start + k value_dt,
    start + (k+1) value_dt)``, like :class:`~neuro.sim.CurrentInput`; outside the schedule ``value``
    applies). The rule holds a reference to this object, so a change reaches the running network.

    Args:
        value: the constant value (any finite number).
        name: a label.
    """

    def __init__(self, value: float = 0.0, name: str = "modulator"):
        self.name = str(name)
        self.value = value
        self.schedule: np.ndarray | None = None
        self.value_dt = 0.0
        self.start = 0.0

    @property
    def value(self) -> float:
        """The value outside the schedule (a float; setting validates it)."""
        return self._value

    @value.setter
    def value(self, v: float) -> None:
        """Set the value outside the schedule; ``ValueError`` unless ``v`` is a finite real number."""
        if not (_real(v) and math.isfinite(v)):
            raise ValueError(f"Neuromodulator {self.name}: value must be a finite number, got {v!r}")
        self._value = float(v)

    def set_schedule(self, values: np.ndarray | Sequence[float], value_dt: float, start: float = 0.0) -> None:
        """One value per interval of ``value_dt`` seconds from network time ``start`` (seconds)."""
        arr = np.asarray(values, np.float64)
        if arr.ndim != 1 or not arr.size:
            raise ValueError(f"Neuromodulator {self.name}: values must be a non-empty 1-d array, "
                             f"got shape {arr.shape}")
        if not np.isfinite(arr).all():
            raise ValueError(f"Neuromodulator {self.name}: values contain NaN or inf")
        if not (_real(value_dt) and math.isfinite(value_dt) and value_dt > 0):
            raise ValueError(f"Neuromodulator {self.name}: value_dt must be a positive number of seconds, "
                             f"got {value_dt!r}")
        if not (_real(start) and math.isfinite(start) and start >= 0):
            raise ValueError(f"Neuromodulator {self.name}: start must be a time >= 0 in seconds, "
                             f"got {start!r}")
        self.schedule, self.value_dt, self.start = arr, float(value_dt), float(start)

    def clear_schedule(self) -> None:
        """Back to the constant ``value``."""
        self.schedule = None

    def at(self, t: float, dt: float = 0.0) -> float:
        """:math:`M` at network time ``t`` (seconds; ``dt``: the grid's step, for rounding)."""
        if self.schedule is not None and t + 1e-9 * dt >= self.start:
            k = int(math.floor((t - self.start + 1e-9 * dt) / self.value_dt))
            if k < self.schedule.size:
                return float(self.schedule[k])
        return self._value

    def __repr__(self) -> str:
        sched = "" if self.schedule is None else f", schedule of {self.schedule.size} x {self.value_dt:g} s"
        return f"Neuromodulator({self.name!r}, value={self._value:g}{sched})"


@dataclass(frozen=True)
class RewardSTDP(PlasticityRule):
    """Reward-modulated STDP: pair STDP drives an eligibility trace, a neuromodulator gates the weight
    (module docstring for the equations).

    Args:
        modulator: the :class:`Neuromodulator` :math:`M(t)` (shared by any number of projections).
        tau_plus / tau_minus: pair trace time constants, seconds.
        A_plus / A_minus: pair amplitudes added to the eligibility trace (>= 0).
        tau_c: eligibility trace time constant, seconds (Izhikevich 2007: 1 s).
        eta: learning rate, 1/s (:math:`\\dot w = \\eta\\, c\\, M`).
        w_min / w_max: weight bounds (hard).
        pairing: ``"all"`` or ``"nearest"`` (the pair traces).
    """

    modulator: Neuromodulator
    tau_plus: float = 20e-3
    tau_minus: float = 20e-3
    A_plus: float = 0.01
    A_minus: float = 0.0105
    tau_c: float = 1.0
    eta: float = 1.0
    w_min: float = 0.0
    w_max: float = 1.0
    pairing: str = "all"

    def __post_init__(self):
        if not isinstance(self.modulator, Neuromodulator):
            raise TypeError(f"RewardSTDP modulator must be a neuro.sim.Neuromodulator, "
                            f"got {type(self.modulator).__name__}")
        for key in ("tau_plus", "tau_minus", "tau_c"):
            _check_tau("RewardSTDP", key, getattr(self, key))
        for key in ("A_plus", "A_minus"):
            _check_nonnegative("RewardSTDP", key, getattr(self, key),
                               " (A_minus is the size of the depression)")
        _check_finite("RewardSTDP", "eta", self.eta)
        _check_bounds("RewardSTDP", self.w_min, self.w_max)
        _check_pairing("RewardSTDP", self.pairing)

    def eligibility_curve(self, delta_t: np.ndarray) -> np.ndarray:
        """Jump of the eligibility trace :math:`c` for one isolated pair vs ``delta_t = t_post -
        t_pre_arrival`` (seconds)."""
        return STDP(self.tau_plus, self.tau_minus, self.A_plus, self.A_minus, 0.0, 1.0).pair_curve(delta_t)

    def pair_change(self, delta_t: np.ndarray, modulator: float, duration: float, dt: float) -> np.ndarray:
        """Weight change (no clipping) after one isolated pair under a constant ``modulator`` value,
        ``duration`` seconds after the pair's second spike, on a grid of step ``dt`` (the runner's
        discrete sum :math:`\\eta M c_0\\, dt \\sum_{k=0}^{n-1} e^{-k\\,dt/\\tau_c}`)."""
        n = int(math.floor(duration / dt + 0.5))
        decay = math.exp(-dt / self.tau_c)
        total = (1.0 - decay ** n) / (1.0 - decay)
        return self.eta * float(modulator) * dt * total * self.eligibility_curve(delta_t)


# -- inhibitory plasticity --------------------------------------------------------------------------
@dataclass(frozen=True)
class InhibitorySTDP(PlasticityRule):
    """Inhibitory plasticity of Vogels et al. (2011) (module docstring for the equations).

    Args:
        tau: time constant of both traces, seconds (Vogels et al.: 20 ms).
        eta: learning rate, weight units per unit trace (>= 0).
        rho0: target postsynaptic rate, Hz (:math:`\\alpha = 2 \\rho_0 \\tau`).
        w_min / w_max: weight bounds (hard; inhibitory weights are magnitudes onto an inhibitory
            channel, so ``w_min = 0`` is the usual choice).
    """

    tau: float = 20e-3
    eta: float = 1e-3
    rho0: float = 5.0
    w_min: float = 0.0
    w_max: float = 1.0

    def __post_init__(self):
        _check_tau("InhibitorySTDP", "tau", self.tau)
        _check_nonnegative("InhibitorySTDP", "eta", self.eta)
        _check_nonnegative("InhibitorySTDP", "rho0", self.rho0, " (a rate in Hz)")
        if self.rho0 > 1e3:
            raise ValueError(f"InhibitorySTDP rho0 = {self.rho0:g} Hz is implausibly high (a rate in Hz)")
        _check_bounds("InhibitorySTDP", self.w_min, self.w_max)

    @property
    def alpha(self) -> float:
        """The depression per presynaptic spike in trace units, :math:`2 \\rho_0 \\tau`."""
        return 2.0 * self.rho0 * self.tau

    def pair_curve(self, delta_t: np.ndarray) -> np.ndarray:
        """Weight change of one isolated pair (symmetric in ``delta_t``), before clipping."""
        delta_t = np.asarray(delta_t, np.float64)
        return self.eta * (np.exp(-np.abs(delta_t) / self.tau) - self.alpha)


# -- short-term plasticity --------------------------------------------------------------------------
@dataclass(frozen=True)
class TsodyksMarkram(PlasticityRule):
    """Short-term depression and facilitation (Tsodyks–Markram; module docstring for the equations).

    Args:
        U: utilisation increment and resting value of :math:`u`, in ``(0, 1]``.
        tau_d: recovery time constant of the resources :math:`x`, seconds (> 0).
        tau_f: facilitation time constant of :math:`u`, seconds (>= 0; 0: no facilitation, ``u = U``
            at every spike).
        weight_rule: ``None`` (static weight) or a long-term rule (:class:`STDP`,
            :class:`TripletSTDP`, :class:`RewardSTDP`, :class:`InhibitorySTDP`) that changes ``w``.
    """

    U: float = 0.5
    tau_d: float = 200e-3
    tau_f: float = 50e-3
    weight_rule: PlasticityRule | None = None

    def __post_init__(self):
        if not (_real(self.U) and math.isfinite(self.U) and 0 < self.U <= 1):
            raise ValueError(f"TsodyksMarkram U must be in (0, 1], got {self.U!r}")
        _check_tau("TsodyksMarkram", "tau_d", self.tau_d)
        _check_tau("TsodyksMarkram", "tau_f", self.tau_f, zero_ok=True)
        if self.weight_rule is not None and (not isinstance(self.weight_rule, PlasticityRule)
                                             or isinstance(self.weight_rule, TsodyksMarkram)):
            raise TypeError("TsodyksMarkram weight_rule must be None or a long-term rule (STDP, TripletSTDP, "
                            f"RewardSTDP, InhibitorySTDP), got {type(self.weight_rule).__name__}")

    def efficacies(self, spike_times: np.ndarray | Sequence[float]) -> np.ndarray:
        """:math:`u x` at each presynaptic arrival of ``spike_times`` (seconds), starting at rest
        (multiply by ``w`` for the delivered weights)."""
        u, x, last, out = self.U, 1.0, None, []
        for t in _times("spike_times", spike_times):
            if last is not None:
                gap = t - last
                decay_f = math.exp(-gap / self.tau_f) if self.tau_f > 0 else 0.0
                u = self.U + (u - self.U) * decay_f
                x = 1.0 + (x - 1.0) * math.exp(-gap / self.tau_d)
            last = t
            out.append(u * x)
            x *= 1.0 - u
            u += self.U * (1.0 - u)
        return np.asarray(out)


#: The rule classes of this module.
RULES = (STDP, TripletSTDP, RewardSTDP, InhibitorySTDP, TsodyksMarkram)
