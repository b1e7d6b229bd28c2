r"""Groups of a simulated network: neuron populations and input sources, and views of them.

* :class:`Population` — ``n`` neurons of one engine model (``IF``, ``LIF``, ``CubaLIF``, ``ALIF``;
  equations in :mod:`neuro.functional.lif`) with physical parameters (scalars or one value per
  neuron), an absolute refractory period, named synaptic channels and a bias current.
* :class:`SpecPopulation` — ``n`` neurons of a :class:`~neuro.kernels.neuron_spec.NeuronSpec` model
  (AdEx, ExpIF, Izhikevich or user-defined; ``Population(n, "AdEx", params=...)`` makes one), in
  the model's own units.
* :class:`PoissonInput` — independent Poisson spike trains with a rate per source.
* :class:`SpikeSource` — spikes given as ``(times, indices)`` arrays or a tonic event stream.
* :class:`CurrentInput` — a current injected into neurons, constant or one value per step.

Synaptic channels. ``synapses={"exc": 5e-3, "inh": 10e-3}`` gives the population two exponential
current channels (``tau dg/dt = -g``, each incoming spike adds its weight to ``g``); ``None`` or
``0`` as a time constant makes a delta channel (the weight is added to the membrane input of the
next step). The membrane input is ``x = bias + sum_c kappa_c g_c (+ injected current)`` and enters
the engine step as ``v_t = beta v_{t-1} + gv x + (1 - beta) v_leak``. With ``integration="exact"``
and ``decay_input=True`` (the defaults here) ``kappa_c`` makes this the exact solution of

.. math:: \tau_m \dot v = (v_{leak} - v) + r \sum_c g_c, \qquad \tau_c \dot g_c = -g_c

over each step, as Brian2's ``method='exact'`` computes it: per unit of ``g_c`` the membrane gains
:math:`r \tau_c (e^{-dt/\tau_c} - e^{-dt/\tau_m}) / (\tau_c - \tau_m)`.

Conductance channels. ``synapses={"exc": Conductance(5e-3, E=0.0), "inh": Conductance(10e-3,
E=-80e-3)}`` makes ``g_c`` a conductance (same exponential decay, each spike adds its weight)
that drives the membrane with the current ``g_c (E_c - v)``:

.. math:: \tau_m \dot v = (v_{leak} - v) + r \Big(\text{bias} + \sum_c g_c (E_c - v)\Big)

Integration: the exact ``kappa`` form above assumes a current input, which a conductance input
is not (it depends on ``v``). Each step holds the conductance current at its start-of-step value
``g~_c (E_c - v_{t-1})`` (``g~`` includes the spikes arriving for this step) and integrates the
membrane over the step as for a constant current (exponential Euler with ``integration="exact"``,
forward Euler with ``"euler"``); the conductances decay exactly. The scheme is first order in
``dt`` (local error ``O(dt^2)``), like Brian2's ``method='euler'`` in the COBA benchmark script,
and needs a leaky membrane that takes its input as a current (``LIF``/``ALIF``,
``decay_input=True``). Units: with ``r = 1`` the weights are conductances relative to the leak
(``g r``, dimensionless, Brian2's COBA script), with ``r`` in ohms they are siemens.

Delta synapses: what a weight ``w`` does to ``v`` (``delta_synapse``). A delta channel adds each
arriving weight to the membrane input ``x`` of one step. With ``delta_synapse="current"`` (the
default, the engine's convention) the weight is a current held for that step, so ``v`` moves by
``g_v w`` with :math:`g_v = r (1 - e^{-dt/\tau_m})` (``decay_input=True``, the default; ``g_v = r``
with ``decay_input=False``). Example: ``dt = 0.1 ms``, ``tau_mem = 20 ms``, ``r = 1``: a 1 mV weight
moves ``v`` by 0.005 mV (4.99e-3 mV), whereas Brian2's ``on_pre="v += w"`` moves it by 1 mV. With
``delta_synapse="jump"`` the same weight moves ``v`` by exactly ``w`` (1 mV) whatever ``r``,
``tau_mem`` and ``decay_input`` are: Brian2's ``v += w`` and NEST's ``iaf_psc_delta``. A weight that
arrives while the neuron is refractory is lost (NEST's default). ``"jump"`` needs a membrane the
input reaches directly (not ``CubaLIF``, whose input is filtered by the synaptic current).

Refractoriness (``refractory`` seconds, Brian2's convention): after a spike at step ``k`` the
membrane is held for the steps ``k+1 .. k+R-1`` with ``R = refractory / dt``, so the next spike
can come ``refractory`` after the last one; channels keep integrating meanwhile.

Units. Every number is a plain float in SI units: seconds (``dt``, time constants, refractory
periods, delays), volts (``v_th``, ``v_reset``, ``v_leak``, voltages as weights) and, when the
input is a current, amperes with ``r`` in ohms (``r = 1``, the default, makes currents volts, as in
Brian2's CUBA example). Hertz for rates. Parameters outside plausible ranges raise an error that
names them (``check_ranges=False`` turns the checks off): membrane and synaptic time constants and
refractory periods above 1 s (``tau_mem=20`` is 20 *seconds*, 20 ms is ``20e-3``), adaptation time
constants above 10^4 s, and voltages of one population that differ by more than a factor 100
(``v_th=-50`` next to ``v_reset=-60e-3``: millivolts mixed with volts). NaN and infinite values are
rejected everywhere, when the object is made for numbers and arrays, at build for drawn values.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from neuro.functional import lif as F
from neuro.kernels import adex_math, izhikevich_math
from neuro.kernels.neuron_spec import NeuronSpec
from neuro.sim.values import Normal, Uniform, ValueSpec, is_scalar, resolve

MODELS = {"IF": F.IF, "LIF": F.LIF, "CubaLIF": F.CUBA_LIF, "ALIF": F.ALIF}
#: the built-in NeuronSpec models a Population accepts by name (their own units: see SpecPopulation)
SPEC_MODELS = {"AdEx": adex_math.ADEX, "ExpIF": adex_math.EXPIF, "Izhikevich": izhikevich_math.SPEC}
#: millivolt parameters of the built-in spec models: a magnitude below 1 (-0.07) is almost surely volts
SPEC_MILLIVOLTS = {"AdEx": ("E_L", "V_reset", "V_th"), "ExpIF": ("E_L", "V_reset", "V_th"),
                   "Izhikevich": ("c",)}
RESETS = ("zero", "subtract", "none")
# Population parameters that may vary per neuron (forwarded to NeuronParameters)
NEURON_PARAMS = ("tau_mem", "tau_syn", "tau_adapt", "beta_adapt", "v_th", "v_reset", "v_leak", "r", "w_in")
CURRENT_CHANNEL = "__current__"
DELTA_SYNAPSES = ("current", "jump")
CONDUCTANCE_SHAPES = ("exp", "alpha")
#: plausible upper bounds (seconds) of the time parameters: above them the value is almost surely in
#: the wrong unit (milliseconds given as seconds)
MAX_SECONDS = {"tau_mem": 1.0, "tau_syn": 1.0, "refractory": 1.0, "synapses": 1.0, "tau_adapt": 1e4}
#: adaptive_threshold.tau_theta (Diehl & Cook 2015 use 1e4 s): 1e7 given in milliseconds is caught
MAX_SECONDS["tau_theta"] = 1e5
#: voltages of one population further apart than this factor are almost surely mixed units (mV and V)
MAX_VOLTAGE_RATIO = 1e2
VOLTAGES = ("v_th", "v_reset", "v_leak")


def _check_count(n: object, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"{what} must be a positive integer, got {n!r}")
    return int(n)


class Group:
    """A group of network elements: a population of neurons (or of astrocytes, which send slow
    inward currents instead of spikes) or an input source."""

    n: int
    name: str
    positions: np.ndarray | None = None

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, key) -> View:
        return View(self, np.arange(self.n)[key])

    @property
    def group(self) -> Group:
        """The group itself (a :class:`View` returns the group it selects from)."""
        return self

    @property
    def indices(self) -> np.ndarray:
        """All neuron indices of the group, ``0 .. n - 1``."""
        return np.arange(self.n)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={self.n}, name={self.name!r})"


class View:
    """A subset of a group's elements (``pop[:3200]``, ``pop[[0, 5, 7]]``), usable wherever a group is."""

    def __init__(self, group: Group, indices: np.ndarray):
        idx = np.atleast_1d(np.asarray(indices))
        if idx.dtype == bool or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"a view of {group.name} needs a non-empty integer index or slice")
        if len(np.unique(idx)) != len(idx):
            raise ValueError(f"a view of {group.name} has repeated indices")
        self._group, self.indices = group, idx.astype(np.int64)
        self.n = len(idx)
        self.name = f"{group.name}[{len(idx)}]"

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, key) -> View:
        return View(self._group, self.indices[key])

    @property
    def group(self) -> Group:
        """The group this view selects neurons from."""
        return self._group

    @property
    def positions(self) -> np.ndarray | None:
        """Positions ``[len(view), dims]`` of the selected neurons, or ``None`` if the group has none."""
        pos = self._group.positions
        return None if pos is None else pos[self.indices]

    def __repr__(self) -> str:
        return f"View({self._group.name}, n={self.n})"


GroupLike = Group | View


def grid_positions(shape: Sequence[int], spacing: float = 1.0) -> np.ndarray:
    """Integer grid coordinates ``[prod(shape), len(shape)]`` (row-major order), times ``spacing``."""
    shape = tuple(_check_count(s, "grid size") for s in shape)
    return np.indices(shape).reshape(len(shape), -1).T.astype(np.float64) * spacing


def element_positions(n: int, positions: np.ndarray | None, grid: Sequence[int] | None
                      ) -> np.ndarray | None:
    """Validated ``[n, dims]`` coordinates from explicit ``positions`` or a ``grid`` shape (or None)."""
    if grid is not None:
        if positions is not None:
            raise ValueError("give positions or grid, not both")
        positions = grid_positions(grid)
    if positions is None:
        return None
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim == 1:
        positions = positions[:, None]
    if positions.shape[0] != n or not np.isfinite(positions).all():
        raise ValueError(f"positions must be a finite [n={n}, dims] array, got shape {positions.shape}")
    return positions


@dataclass(frozen=True)
class Conductance:
    """A conductance-based synaptic channel: ``synapses={"exc": Conductance(5e-3, E=0.0)}``.

    ``shape="exp"`` (default): each spike adds its weight to the conductance ``g`` (``tau dg/dt =
    -g``, exact decay). ``shape="alpha"``: a spike of weight ``w`` at time 0 gives
    ``g(t) = w (t / tau) e^{1 - t / tau}`` (peak ``w`` at ``t = tau``, NEST's ``*_cond_alpha``
    normalisation), integrated exactly with an auxiliary state per channel
    (``neuro.kernels.sim_math.shaped_drive``). Either way ``g`` drives the membrane with the
    current ``g (E - v)``. ``tau`` in seconds; ``E`` in the voltage
    unit of the population (volts for the LIF family, the model's own unit for a spec model,
    e.g. mV for AdEx). The weight's unit makes ``g (E - v)`` an input current: for the LIF family
    with ``r = 1`` (default) a conductance relative to the leak (``g r``, dimensionless, Brian2's
    COBA example), in siemens with ``r`` in ohms; nS for AdEx (pA = nS mV).
    """

    tau: float
    E: float
    shape: str = "exp"

    def __post_init__(self) -> None:
        if self.shape not in CONDUCTANCE_SHAPES:
            raise ValueError(f"Conductance.shape must be one of {CONDUCTANCE_SHAPES}, got {self.shape!r}")
        for key in ("tau", "E"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise ValueError(f"Conductance.{key} must be a finite number, got {value!r}")
        if self.tau <= 0:
            raise ValueError(f"Conductance.tau must be > 0 seconds, got {self.tau!r}")


@dataclass(frozen=True)
class AdaptiveThreshold:
    r"""Diehl & Cook's (2015) adaptive threshold, a :class:`Population` option:
    ``Population(n, "LIF", ..., adaptive_threshold=AdaptiveThreshold(theta_plus=0.05e-3, tau_theta=1e4))``.

    Each neuron fires when ``v > v_th + theta``; ``theta`` jumps by ``theta_plus`` (volts) at each of
    its spikes and decays with ``tau_theta`` (seconds), as in Brian2's ``dtheta/dt = -theta /
    tau_theta`` with ``theta += theta_plus`` on reset. After step ``t`` (spikes ``t_k <= t``)

    .. math:: \theta(t) = \theta_{init} e^{-t/\tau_\theta} + \theta_+ \sum_k e^{-(t - t_k)/\tau_\theta}

    and the threshold of step ``t`` uses ``theta`` decayed to ``t`` with the spikes before ``t``
    (Brian2's order: state update, threshold, reset). It runs as the engine's ALIF (``a_t = rho
    a_{t-1} + (1 - rho) s_t``, threshold ``v_th + b a_{t-1}``, ``rho = decay(tau_theta, dt)``) with
    ``theta_t = K a_t``, ``K = theta_plus / (1 - rho)`` and ``b = rho K``; ``StateMonitor(pop,
    "theta")`` and ``net.state()["theta"]`` give ``theta`` in volts.

    Precision: a very slow decay is lost in rounding when ``1 - rho`` nears the compute dtype's
    resolution; building raises an error when half an ulp of ``theta`` exceeds 0.1 % of one step's
    decay (float32 with ``dt = 0.5 ms`` allows ``tau_theta`` up to about 8 s: Diehl & Cook's 1e4 s
    needs ``Network(dtype=torch.float64)``).

    Args:
        theta_plus: threshold increase per spike, volts (> 0; the paper: 0.05 mV = 0.05e-3).
        tau_theta: decay time constant of ``theta``, seconds (the paper: 1e7 ms = 1e4 s).
        theta_init: initial ``theta`` in volts (scalar, per neuron, distribution or callable), e.g. a
            trained network's thresholds.
        keep_on_reset: ``False`` (default): ``net.reset()`` restores ``theta_init`` like every other
            state. ``True``: ``net.reset()`` keeps each neuron's current ``theta`` (Diehl & Cook keep
            ``theta`` across presentations while training) and resets the rest.
    """

    theta_plus: float
    tau_theta: float
    theta_init: ValueSpec = 0.0
    keep_on_reset: bool = False

    def __post_init__(self) -> None:
        for key in ("theta_plus", "tau_theta"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
                    or value <= 0:
                raise ValueError(f"AdaptiveThreshold.{key} must be a positive finite number "
                                 f"({'volts' if key == 'theta_plus' else 'seconds'}), got {value!r}")
        if not isinstance(self.keep_on_reset, bool):
            raise ValueError(f"AdaptiveThreshold.keep_on_reset must be True or False, "
                             f"got {self.keep_on_reset!r}")

    def rho(self, dt: float, integration: str = "exact") -> float:
        """The per-step decay of ``theta`` (the engine's ``rho``, float64)."""
        return float(F.decay(float(self.tau_theta), dt, integration, "adaptive_threshold.tau_theta"))

    def gain(self, rho: float) -> float:
        """``K = theta_plus / (1 - rho)``: ``theta = K a`` for the engine's adaptation ``a``."""
        return float(self.theta_plus) / (1.0 - rho)


def parse_synapses(synapses: Mapping | None, name: str) -> tuple[dict[str, float], dict[str, float]]:
    """``(time constants, reversal potentials)`` of a ``synapses=`` mapping: channel -> time constant
    in seconds (``None``/``0``: delta channel) or :class:`Conductance`; only conductance channels
    have a reversal potential. (Shapes: :func:`channel_shapes`.)"""
    synapses = {"input": None} if synapses is None else dict(synapses)
    if not synapses:
        raise ValueError(f"{name}: synapses must name at least one channel")
    taus, reversal = {}, {}
    for ch, tau in synapses.items():
        if not isinstance(ch, str) or not ch or ch == CURRENT_CHANNEL:
            raise ValueError(f"{name}: synaptic channel names must be non-empty strings, got {ch!r}")
        if isinstance(tau, Conductance):
            taus[ch], reversal[ch] = float(tau.tau), float(tau.E)
            continue
        if tau is not None and not (isinstance(tau, (int, float)) and not isinstance(tau, bool)
                                    and math.isfinite(tau) and tau >= 0):
            raise ValueError(f"synaptic time constant of channel {ch!r} must be >= 0 seconds "
                             f"(0 or None: delta channel) or a Conductance, got {tau!r}")
        taus[ch] = float(tau) if tau else 0.0
    return taus, reversal


def channel_shapes(synapses: Mapping | None) -> dict[str, str]:
    """The alpha-shaped channels of a ``synapses=`` mapping: ``{channel: "alpha"}``."""
    return {ch: "alpha" for ch, s in (synapses or {}).items()
            if isinstance(s, Conductance) and s.shape == "alpha"}


class Population(Group):
    """``n`` neurons of one LIF-family model (see the module docstring for the equations).

    With a :class:`~neuro.kernels.neuron_spec.NeuronSpec` model (``"AdEx"``, ``"ExpIF"``,
    ``"Izhikevich"`` or your own) ``Population(n, model, params=..., ...)`` makes a
    :class:`SpecPopulation` (its own arguments and units).

    Args:
        n: number of neurons.
        model: ``"LIF"`` (default), ``"IF"``, ``"CubaLIF"``, ``"ALIF"`` or a ``NeuronModel``.
        tau_mem, tau_syn, tau_adapt, beta_adapt, v_th, v_reset, v_leak, r, w_in: physical
            parameters of :class:`neuro.functional.lif.NeuronParameters` (seconds, volts or any
            consistent units), each a scalar or one value per neuron.
        integration: ``"exact"`` (default) or ``"euler"`` decays.
        decay_input: ``True`` (default): the membrane input is a current, ``gv = r (1 - beta)``;
            ``False``: it is added unscaled, ``gv = r``. Beware with delta channels: with the default,
            dt = 0.1 ms and tau_mem = 20 ms, a 1 mV weight moves ``v`` by only 0.005 mV (Brian2's
            ``v += w`` moves it by 1 mV); use ``delta_synapse="jump"`` for Brian2's semantics.
        delta_synapse: what a weight on a delta channel does (module docstring): ``"current"``
            (default: a current for one step, ``v`` moves by ``gv w`` — 0.005 mV for 1 mV with
            dt = 0.1 ms, tau_mem = 20 ms) or ``"jump"`` (``v`` moves by ``w``, Brian2's ``v += w``).
        reset: ``"zero"`` (``v = v_reset``, default), ``"subtract"`` or ``"none"``.
        threshold_op: spike when ``v > v_th`` (default, Brian2/NEST-like) or ``">="``.
        refractory: absolute refractory period in seconds (scalar or per neuron).
        synapses: channel name -> time constant in seconds (``None``/``0``: delta channel) or a
            :class:`Conductance` (reversal potential, module docstring). Default: one delta
            channel ``"input"``.
        bias: constant input current (scalar or per neuron).
        v_init, i_init, a_init: initial membrane, synaptic current (CubaLIF) and adaptation (ALIF):
            scalars, arrays, distributions or callables. ``v_init`` defaults to ``v_leak``.
        positions: ``[n, d]`` coordinates, or ``grid=(nx, ny, nz)`` for integer grid positions (used
            by distance-dependent connectivity).
        name: label used in errors, plots and monitors.
        check_ranges: reject implausible values (units; module docstring). NaN and inf are always
            rejected.
        adaptive_threshold: an :class:`AdaptiveThreshold` (Diehl & Cook 2015: ``v > v_th + theta``,
            ``theta += theta_plus`` at each spike, decaying with ``tau_theta``) for a ``"LIF"``
            population, which then runs as the engine's ALIF (``model`` becomes ``ALIF``; ``tau_adapt``,
            ``beta_adapt`` and ``a_init`` come from the option). Record ``"theta"`` (volts) with a
            StateMonitor or read ``net.state()["theta"]``; ``keep_on_reset=True`` keeps ``theta``
            across ``net.reset()``. Slow decays need float64 (see :class:`AdaptiveThreshold`).
    """

    #: Diehl & Cook's adaptive threshold (None: none), see :class:`AdaptiveThreshold`
    adaptive_threshold: AdaptiveThreshold | None = None

    def __new__(cls, n: int = 1, model: object = "LIF", *args, **kwargs):
        spec = isinstance(model, NeuronSpec) or (isinstance(model, str) and model in SPEC_MODELS)
        if cls is Population and spec:
            return super().__new__(SpecPopulation)  # then SpecPopulation.__init__ runs
        return super().__new__(cls)

    def __init__(self, n: int, model: str | F.NeuronModel = "LIF", *,
                 tau_mem: ValueSpec = 20e-3, tau_syn: ValueSpec = 5e-3, tau_adapt: ValueSpec = 200e-3,
                 beta_adapt: ValueSpec = 0.2, v_th: ValueSpec = 1.0, v_reset: ValueSpec = 0.0,
                 v_leak: ValueSpec = 0.0, r: ValueSpec = 1.0, w_in: ValueSpec = 1.0,
                 integration: str = "exact", decay_input: bool = True, reset: str = "zero",
                 threshold_op: str = ">", refractory: ValueSpec = 0.0,
                 synapses: Mapping[str, float | None] | None = None, bias: ValueSpec = 0.0,
                 v_init: ValueSpec | None = None, i_init: ValueSpec = 0.0, a_init: ValueSpec = 0.0,
                 positions: np.ndarray | None = None, grid: Sequence[int] | None = None,
                 name: str | None = None, delta_synapse: str = "current", check_ranges: bool = True,
                 adaptive_threshold: AdaptiveThreshold | None = None):
        self.n = _check_count(n, "Population size n")
        self.name = name or f"population{id(self) % 10000}"
        if adaptive_threshold is not None:
            model = self._adaptive_threshold_model(model, adaptive_threshold, a_init)
        if isinstance(model, str):
            if model not in MODELS:
                raise ValueError(f"model must be one of {sorted(MODELS)} (spiking LIF-family models), "
                                 f"got {model!r}")
            model = MODELS[model]
        if not isinstance(model, F.NeuronModel) or not model.spiking:
            raise ValueError(f"a simulated population needs a spiking model {sorted(MODELS)}, got {model!r}")
        self.model = model
        if integration not in ("exact", "euler"):
            raise ValueError(f"integration must be 'exact' or 'euler', got {integration!r}")
        if reset not in RESETS:
            raise ValueError(f"reset must be one of {RESETS}, got {reset!r}")
        if threshold_op not in (">", ">="):
            raise ValueError(f"{self.name}: threshold_op must be '>' or '>=', got {threshold_op!r}")
        self.integration, self.decay_input, self.reset, self.threshold_op = (
            integration, bool(decay_input), reset, threshold_op)
        if delta_synapse not in DELTA_SYNAPSES:
            raise ValueError(f"{self.name}: delta_synapse must be one of {DELTA_SYNAPSES}, "
                             f"got {delta_synapse!r}")
        if delta_synapse == "jump" and model.has_syn:
            raise ValueError(f"{self.name}: delta_synapse='jump' moves v directly, but the input of "
                             f"{model.name} "
                             "goes through its synaptic current i; use 'LIF' or 'IF' for voltage jumps")
        self.delta_synapse = delta_synapse
        self.params = dict(tau_mem=tau_mem, tau_syn=tau_syn, tau_adapt=tau_adapt, beta_adapt=beta_adapt,
                           v_th=v_th, v_reset=v_reset, v_leak=v_leak, r=r, w_in=w_in)
        for key, value in self.params.items():  # numbers and arrays are checked now, distributions at build
            _check_finite(value, self.n, f"{self.name}.{key}")
        self.refractory = refractory
        for key, value in (("refractory", refractory), ("bias", bias), ("v_init", v_init),
                           ("i_init", i_init), ("a_init", a_init)):
            if value is not None:
                _check_finite(value, self.n, f"{self.name}.{key}")
        self.synapses, self.reversal = parse_synapses(synapses, self.name)
        self.shapes = channel_shapes(synapses)
        if self.reversal and (model.has_syn or not model.leaky or not self.decay_input):
            raise ValueError(f"{self.name}: conductance channels {sorted(self.reversal)} drive the membrane "
                             f"with g (E - v), which needs a leaky membrane that integrates its input as a "
                             f"current ('LIF' or 'ALIF' with decay_input=True), not {model.name} with "
                             f"decay_input={self.decay_input}")
        self.bias, self.v_init, self.i_init, self.a_init = bias, v_init, i_init, a_init
        self.positions = element_positions(self.n, positions, grid)
        self.check_ranges = bool(check_ranges)
        if self.check_ranges:
            self._check_ranges()

    def _adaptive_threshold_model(self, model: object, option: object, a_init: ValueSpec) -> F.NeuronModel:
        """The engine model of a population with Diehl & Cook's adaptive threshold: ALIF (from LIF)."""
        if not isinstance(option, AdaptiveThreshold):
            raise TypeError(f"{self.name}: adaptive_threshold must be an AdaptiveThreshold(theta_plus=..., "
                            f"tau_theta=...), got {type(option).__name__}")
        if model not in ("LIF", F.LIF):
            name = getattr(model, "name", model)
            hint = ": an ALIF population already adapts its threshold (tau_adapt, beta_adapt)" * (
                name == "ALIF")
            raise ValueError(f"{self.name}: adaptive_threshold needs model='LIF' (it runs as the engine's "
                             f"ALIF), got {name!r}{hint}")
        if not (isinstance(a_init, numbers.Real) and a_init == 0):
            raise ValueError(f"{self.name}: with adaptive_threshold give the initial threshold as "
                             "AdaptiveThreshold(theta_init=...) (volts), not a_init")
        _check_finite(option.theta_init, self.n, f"{self.name}.adaptive_threshold.theta_init")
        self.adaptive_threshold = option
        return F.ALIF

    def _check_ranges(self) -> None:
        """Implausible values (module docstring, "Units") raise, naming the parameter."""
        times = {"refractory": self.refractory}
        if self.model.leaky:
            times["tau_mem"] = self.params["tau_mem"]
        if self.model.has_syn:
            times["tau_syn"] = self.params["tau_syn"]
        if self.model.has_adapt and self.adaptive_threshold is None:
            times["tau_adapt"] = self.params["tau_adapt"]
        if self.adaptive_threshold is not None:
            times["tau_theta"] = self.adaptive_threshold.tau_theta
            if self.adaptive_threshold.theta_plus > 1.0:
                raise ValueError(f"{self.name}.adaptive_threshold.theta_plus = "
                                 f"{self.adaptive_threshold.theta_plus:g} V is implausibly large: neuro "
                                 "takes volts, 0.05 mV is 0.05e-3 (check_ranges=False to allow it)")
        times.update({f"synapses[{ch!r}]": tau for ch, tau in self.synapses.items()})
        for key, spec in times.items():
            top = _largest(spec)
            limit = MAX_SECONDS[key.split("[")[0]]
            if top is not None and top > limit:
                raise ValueError(f"{self.name}.{key} = {top:g} s is implausibly long "
                                 f"(more than {limit:g} s): "
                                 "neuro takes plain SI units, seconds; 20 ms is 20e-3 "
                                 "(check_ranges=False to allow it)")
        volts = {key: _largest(self.params[key], magnitude=True) for key in VOLTAGES}
        if self.v_init is not None:
            volts["v_init"] = _largest(self.v_init, magnitude=True)
        known = {k: v for k, v in volts.items() if v}  # zero and unknown (drawn) values say nothing
        if len(known) > 1:
            (small, lo), (big, hi) = min(known.items(), key=lambda kv: kv[1]), max(known.items(),
                                                                                     key=lambda kv: kv[1])
            if hi > MAX_VOLTAGE_RATIO * lo:
                raise ValueError(f"{self.name}: {big} (|value| {hi:g}) and {small} (|value| {lo:g}) "
                                 "differ by "
                                 f"more than a factor {MAX_VOLTAGE_RATIO:g}: millivolts mixed with volts? "
                                 "neuro takes plain SI units (-50 mV is -50e-3; "
                                 "check_ranges=False to allow it)")

    @property
    def variables(self) -> tuple[str, ...]:
        """Names a StateMonitor can record: ``v``, ``i`` (CubaLIF), ``a`` (ALIF), ``g_<channel>``."""
        names = ["v"]
        if self.model.has_syn:
            names.append("i")
        if self.model.has_adapt:
            names.append("a")
        if self.adaptive_threshold is not None:
            names.append("theta")  # volts: K a (AdaptiveThreshold)
        return tuple(names + [f"g_{ch}" for ch in self.synapses])

    def neuron_parameters(self, dt: float, rng: np.random.Generator) -> F.NeuronParameters:
        """The engine's parameters at step ``dt`` (per-neuron values as float64 tensors)."""
        values = {}
        for key, spec in self.params.items():
            values[key] = float(spec) if is_scalar(spec) else torch.from_numpy(
                resolve(spec, self.n, f"{self.name}.{key}", rng))
        if self.adaptive_threshold is not None:  # ALIF with theta = K a and threshold v_th + rho K a_{t-1}
            rho = self.adaptive_threshold.rho(dt, self.integration)
            values["tau_adapt"] = float(self.adaptive_threshold.tau_theta)
            values["beta_adapt"] = rho * self.adaptive_threshold.gain(rho)
        return F.NeuronParameters(dt=dt, integration=self.integration, decay_input=self.decay_input,
                                  **values)


class SpecPopulation(Population):
    r"""``n`` neurons of a :class:`~neuro.kernels.neuron_spec.NeuronSpec` model: the built-in
    ``"AdEx"``, ``"ExpIF"`` (:mod:`neuro.kernels.adex_math`), ``"Izhikevich"``
    (:mod:`neuro.kernels.izhikevich_math`) or your own, run by the same step code as the trainable
    :class:`~neuro.nn.custom.SpecNeuron` modules. ``Population(n, model, ...)`` makes one.

    Each step, neuron ``n`` gets the input ``x = bias + sum_c g~_c`` (current channels; a
    conductance channel contributes ``g~_c (E_c - v)`` with ``v`` the voltage state at the start of
    the step), then the spec's ``step(s, x, p)``, ``threshold`` and ``reset`` run (see
    :mod:`neuro.kernels.sim_spec`). ``x`` is the spec's input: a current in the model's unit (pA
    for AdEx/ExpIF, the dimensionless current of Izhikevich's equations). Delta channels add each
    weight to ``x`` for one step: the model's step then moves ``v`` by ``h w / C_m`` for AdEx
    (``h = dt / 1 ms``), ``h w`` for Izhikevich — not by ``w``; ``delta_synapse="jump"`` exists
    for the LIF family only.

    Units: the spec's parameters, states, ``bias``, weights and reversal potentials are in the
    model's own units (AdEx/ExpIF: NEST's mV, pF, nS, pA, ms; Izhikevich: mV, ms); everything about
    time that the simulator handles is in seconds, as for every population: ``dt``, synaptic time
    constants, ``refractory`` and delays (the models convert with their ``time_unit``).

    Refractoriness (``refractory`` seconds, the LIF family's convention): while held, the voltage
    state keeps its value (after the reset: ``V_reset``, NEST's clamp), the other states follow the
    step (AdEx's ``w`` keeps adapting), no spike and no reset.

    Args:
        n: number of neurons.
        model: a NeuronSpec or the name of a built-in one.
        params: parameter values by name (scalars, one per neuron, distributions, callables); the
            spec's defaults fill the rest. Checked: finite, and > 0 for the spec's ``positive``.
        init: initial values of states by name (default: the spec's).
        voltage: the state that conductance channels read and refractoriness holds (default
            ``"v"`` when the model has it; ``None``: no conductance channels, nothing held).
        synapses: channel -> time constant in seconds (``None``/``0``: delta) or a
            :class:`Conductance` (``E`` in the model's voltage unit). Default: one delta channel.
        refractory: absolute refractory period in seconds (scalar or per neuron).
        bias: constant input (the model's current unit; scalar or per neuron).
        threshold_op: ``">="`` (default: spike when ``threshold(s, p) >= 0``, NEST's ``V >= V_peak``)
            or ``">"``.
        positions, grid, name, check_ranges: as for :class:`Population`.
    """

    def __init__(self, n: int, model: str | NeuronSpec, *, params: Mapping[str, ValueSpec] | None = None,
                 init: Mapping[str, ValueSpec] | None = None, voltage: str | None = "v",
                 synapses: Mapping[str, float | Conductance | None] | None = None,
                 refractory: ValueSpec = 0.0, bias: ValueSpec = 0.0, threshold_op: str = ">=",
                 positions: np.ndarray | None = None, grid: Sequence[int] | None = None,
                 name: str | None = None, check_ranges: bool = True, **lif_arguments):
        self.n = _check_count(n, "Population size n")
        self.name = name or f"population{id(self) % 10000}"
        if isinstance(model, str):
            if model not in SPEC_MODELS:
                raise ValueError(f"{self.name}: model must be a NeuronSpec or one of {sorted(SPEC_MODELS)}, "
                                 f"got {model!r}")
            model = SPEC_MODELS[model]
        if not isinstance(model, NeuronSpec):
            raise TypeError(f"{self.name}: model must be a NeuronSpec, got {type(model).__name__}")
        self.model = model
        if lif_arguments:
            raise TypeError(f"{self.name}: {sorted(lif_arguments)} are arguments of the LIF family; a "
                            f"{model.name} population takes its parameters as params={{...}} (its "
                            f"parameters: {', '.join(model.parameters)}) and initial states as "
                            f"init={{...}} (states: {', '.join(model.states)})")
        for what, given, known in (("parameter", params or {}, model.parameters),
                                   ("state", init or {}, model.states)):
            unknown = sorted(set(given) - set(known))
            if unknown:
                raise ValueError(f"{self.name}: {model.name} has no {what}(s) {unknown}; its {what}s: "
                                 f"{', '.join(known)}")
        self.params = {**model.parameters, **dict(params or {})}
        self.init = dict(init or {})
        for key, value in {**self.params, **{f"init[{k!r}]": v for k, v in self.init.items()}}.items():
            _check_finite(value, self.n, f"{self.name}.{key}")
        for key in model.positive:
            low = _smallest(self.params[key])
            if low is not None and low <= 0:
                raise ValueError(f"{self.name}.{key} must be > 0 (the {model.name} model's positive "
                                 f"parameters: {', '.join(model.positive)}), got {low:g}")
        if voltage is not None and voltage not in model.states:
            if voltage != "v":
                raise ValueError(f"{self.name}: voltage={voltage!r} is not a state of {model.name} "
                                 f"(states: {', '.join(model.states)})")
            voltage = None  # the default, for a model without a state "v"
        self.voltage = voltage
        if threshold_op not in (">", ">="):
            raise ValueError(f"{self.name}: threshold_op must be '>' or '>=', got {threshold_op!r}")
        self.threshold_op = threshold_op
        self.synapses, self.reversal = parse_synapses(synapses, self.name)
        self.shapes = channel_shapes(synapses)
        if self.reversal and voltage is None:
            raise ValueError(f"{self.name}: conductance channels {sorted(self.reversal)} need the voltage "
                             f"state: name it with voltage=... (states of {model.name}: "
                             f"{', '.join(model.states)})")
        self.refractory, self.bias = refractory, bias
        for key, value in (("refractory", refractory), ("bias", bias)):
            _check_finite(value, self.n, f"{self.name}.{key}")
        # what the LIF-family code paths read: no voltage jumps, no LIF initial values
        self.delta_synapse, self.reset = "current", "spec"
        self.v_init, self.i_init, self.a_init = None, 0.0, 0.0
        self.integration, self.decay_input = "spec", True
        self.positions = element_positions(self.n, positions, grid)
        self.check_ranges = bool(check_ranges)
        if self.check_ranges:
            self._check_ranges()

    def _check_ranges(self) -> None:
        """Time values the simulator handles are seconds: implausibly long ones raise; the built-in
        models' voltages are millivolts and their ``time_unit`` a plausible unit of time in seconds."""
        builtin = self.model.name if SPEC_MODELS.get(self.model.name) is self.model else None
        for key in SPEC_MILLIVOLTS.get(builtin, ()):
            top = _largest(self.params[key], magnitude=True)
            if top is not None and 0 < top < 1:
                raise ValueError(f"{self.name}.{key} = {top:g} in magnitude: {builtin} takes millivolts "
                                 "(NEST's units), not volts; -70 mV is -70.0 (check_ranges=False to allow "
                                 "it)")
        if "time_unit" in self.params and builtin:
            unit = _largest(self.params["time_unit"])
            if unit is not None and not 1e-6 <= unit <= 1.0:
                raise ValueError(f"{self.name}.time_unit = {unit:g} s is implausible (1e-3: the model's "
                                 "time is in ms; check_ranges=False to allow it)")
        times = {"refractory": self.refractory, **{f"synapses[{ch!r}]": t for ch, t in self.synapses.items()}}
        for key, spec in times.items():
            top = _largest(spec)
            limit = MAX_SECONDS[key.split("[")[0]]
            if top is not None and top > limit:
                raise ValueError(f"{self.name}.{key} = {top:g} s is implausibly long "
                                 f"(more than {limit:g} s): the simulator takes seconds, also for spec "
                                 "models (whose own parameters keep their units); 5 ms is 5e-3 "
                                 "(check_ranges=False to allow it)")

    @property
    def variables(self) -> tuple[str, ...]:
        """Names a StateMonitor can record: the model's states and ``g_<channel>``."""
        return tuple(self.model.states) + tuple(f"g_{ch}" for ch in self.synapses)

    def neuron_parameters(self, dt: float, rng: np.random.Generator) -> F.NeuronParameters:
        """Not defined: a spec population has the parameters of its model (:meth:`spec_values`)."""
        raise TypeError(f"{self.name} is a {self.model.name} population: its parameters are spec_values()")

    def spec_values(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Every parameter of the model, ``n`` float64 values each (drawn with ``rng``), validated."""
        values = {key: resolve(spec, self.n, f"{self.name}.{key}", rng) for key, spec in self.params.items()}
        for key in self.model.positive:
            if (values[key] <= 0).any():
                raise ValueError(f"{self.name}.{key} must be > 0, got {values[key].min():g}")
        return values


def _smallest(spec: object) -> float | None:
    """Smallest value of a number or an array (None for distributions and callables)."""
    values = _values(spec)
    return None if values is None or values.size == 0 else float(values.min())


def _values(spec: object) -> np.ndarray | None:
    """The numbers of a scalar or array spec as float64 (None for distributions and callables)."""
    if isinstance(spec, torch.Tensor):
        return spec.detach().cpu().numpy().astype(np.float64).ravel()
    if isinstance(spec, (np.ndarray, numbers.Real)) and not isinstance(spec, bool):
        try:
            return np.asarray(spec, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            return None
    return None


def _check_finite(spec: object, n: int, name: str) -> None:
    """Numbers and arrays must be finite (and arrays one per neuron): checked when set, so a NaN
    threshold or initial state never reaches a run (where it would silently stop all spiking)."""
    if isinstance(spec, (np.ndarray, torch.Tensor)) and spec.ndim > 0:
        resolve(spec, n, name)  # length and finiteness, naming the parameter
        return
    values = _values(spec)
    if values is not None and not np.isfinite(values).all():
        raise ValueError(f"{name} must be finite (not NaN or inf), got {float(values[0])!r}")


def _largest(spec: object, magnitude: bool = False) -> float | None:
    """Largest value (or magnitude) of a number, an array or a bounded distribution (None when
    unknown before drawing)."""
    values = _values(spec)
    if values is None and isinstance(spec, Uniform):
        values = np.array([spec.low, spec.high])
    elif values is None and isinstance(spec, Normal):
        values = np.array([spec.mean])
    if values is None or values.size == 0:
        return None
    return float(np.abs(values).max() if magnitude else values.max())


class PoissonInput(Group):
    """``n`` independent Poisson spike trains; ``rates`` in Hz (scalar, per source, or a distribution)."""

    def __init__(self, n: int, rates: ValueSpec, name: str | None = None):
        self.n = _check_count(n, "PoissonInput size n")
        self.name = name or f"poisson{id(self) % 10000}"
        self.rates = rates
        if not callable(rates) and not hasattr(rates, "sample"):
            values = resolve(rates, self.n, f"{self.name}.rates")
            if (values < 0).any():
                raise ValueError(f"{self.name}: rates must be >= 0 Hz")


class SpikeSource(Group):
    """``n`` sources that spike at given times: ``times`` (seconds) and source ``indices``.

    Spikes are placed on the step ``round(time / dt)``; several spikes of one source in one step
    count once (as in Brian2's SpikeGeneratorGroup, which refuses them). Replace the spikes between
    runs with :meth:`set_spikes` (for example one stimulus per run).
    """

    def __init__(self, n: int, times=(), indices=(), name: str | None = None):
        self.n = _check_count(n, "SpikeSource size n")
        self.name = name or f"spikes{id(self) % 10000}"
        self.set_spikes(times, indices)

    def set_spikes(self, times, indices) -> None:
        """Replace the spike list (seconds, source indices)."""
        to_numpy = lambda a: a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a  # noqa: E731
        t = np.asarray(to_numpy(times), dtype=np.float64).ravel()
        i = np.asarray(to_numpy(indices)).ravel()
        if t.shape != i.shape:
            raise ValueError(f"{self.name}: times and indices must have the same length, got "
                             f"{t.shape[0]} and {i.shape[0]}")
        if i.size and not np.issubdtype(i.dtype, np.integer):
            if not np.all(np.mod(i, 1) == 0):
                raise ValueError(f"{self.name}: indices must be integers")
        i = i.astype(np.int64)
        if not np.isfinite(t).all() or (t < 0).any():
            raise ValueError(f"{self.name}: spike times must be finite and >= 0 seconds")
        if i.size and (i.min() < 0 or i.max() >= self.n):
            raise ValueError(f"{self.name}: spike indices must be in [0, {self.n}), got "
                             f"[{i.min()}, {i.max()}]")
        self.times, self.spike_indices = t, i

    @classmethod
    def from_events(cls, events: np.ndarray, sensor_size: Sequence[int], time_unit: float = 1e-6,
                    t_start: float | None = None, name: str | None = None) -> SpikeSource:
        """A source with one element per sensor pixel and polarity, from a tonic event array.

        ``events`` is a structured array with fields ``t`` (in ``time_unit`` seconds, microseconds
        for tonic) and ``x`` (plus ``y``, ``p`` when present); ``sensor_size`` is tonic's
        ``(width, height, polarities)``. Element index ``(p * height + y) * width + x``; times are
        shifted so that ``t_start`` (default: the first event) is 0.
        """
        times, index, n = events_to_spikes(events, sensor_size, time_unit, t_start)
        return cls(n, times, index, name=name)


def events_to_spikes(events: np.ndarray, sensor_size: Sequence[int], time_unit: float = 1e-6,
                     t_start: float | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """``(times in seconds, element indices, element count)`` of a tonic structured event array."""
    names = getattr(getattr(events, "dtype", None), "names", None)
    if not names or "t" not in names or "x" not in names:
        raise ValueError("events must be a structured array with at least fields 't' and 'x' (tonic format)")
    size = tuple(int(s) for s in sensor_size) + (1,) * (3 - len(sensor_size))
    width, height, pols = size[:3]
    x = events["x"].astype(np.int64)
    y = events["y"].astype(np.int64) if "y" in names else np.zeros_like(x)
    p = events["p"].astype(np.int64) if "p" in names else np.zeros_like(x)
    if x.size and (x.min() < 0 or x.max() >= width or y.min() < 0 or y.max() >= height
                   or p.min() < 0 or p.max() >= pols):
        raise ValueError(f"events fall outside the sensor size {tuple(sensor_size)}")
    t = events["t"].astype(np.float64) * time_unit
    if t.size:
        t = t - (t.min() if t_start is None else t_start)
    return t, (p * height + y) * width + x, width * height * pols


class CurrentInput:
    """A current injected into the neurons of ``target`` (a Population or a view of one).

    ``values``: a scalar or ``[n_target]`` array (constant), or a ``[T, n_target]`` / ``[T]`` array of
    one value per step of length ``value_dt`` (default: the network's ``dt``; held between samples).
    The current adds to the membrane input ``x`` like the bias (zero after the last sample).
    """

    def __init__(self, target: GroupLike, values, value_dt: float | None = None,
                 name: str | None = None):
        if not isinstance(target.group, Population):
            raise TypeError(f"CurrentInput targets a Population (or a view of one), got {target!r}")
        self.target, self.name = target, name or f"current{id(self) % 10000}"
        arr = np.asarray(values.detach().cpu() if isinstance(values, torch.Tensor) else values,
                         dtype=np.float64)
        if arr.ndim == 0:
            arr = np.full((1, target.n), float(arr))
            self.constant = True
        elif arr.ndim == 1 and value_dt is None and arr.shape[0] == target.n:
            arr, self.constant = arr[None, :], True
        else:
            if arr.ndim == 1:
                arr = np.repeat(arr[:, None], target.n, axis=1)
            self.constant = False
        if arr.ndim != 2 or arr.shape[1] != target.n:
            raise ValueError(f"{self.name}: values must be a scalar, [{target.n}] or [T, {target.n}], "
                             f"got shape {np.shape(values)}")
        if not np.isfinite(arr).all():
            raise ValueError(f"{self.name}: values contain NaN or inf")
        if value_dt is not None and not (value_dt > 0 and math.isfinite(value_dt)):
            raise ValueError(f"{self.name}: value_dt must be a positive number of seconds")
        self.values, self.value_dt = arr, value_dt

    def per_step(self, dt: float, steps: int) -> np.ndarray:
        """``[steps, n_target]`` values on the network's time grid (constant inputs: 1 row)."""
        if self.constant:
            return self.values
        if self.value_dt is None:
            return self.values
        src = np.floor((np.arange(steps) * dt + 1e-9 * dt) / self.value_dt).astype(np.int64)
        keep = src < len(self.values)
        return self.values[src[keep]]
