r"""LIF-family neurons as functions: physical parameters, states, one step and whole sequences.

Models (all share one recurrence, ``neuro.kernels.lif_math``):

* ``IF``       — :math:`v_t = v_{t-1} + r x_t`
* ``LIF``      — :math:`v_t = \beta v_{t-1} + (1-\beta) v_{leak} + g_v x_t`
* ``CubaLIF``  — :math:`i_t = \alpha i_{t-1} + g_i x_t`, then the LIF membrane driven by :math:`i_t`
  (NIR ``CubaLIF`` semantics: :math:`\tau_{syn}\dot i = -i + w_{in} x`,
  :math:`\tau_{mem}\dot v = (v_{leak} - v) + r i`)
* ``ALIF``     — LIF with threshold :math:`\vartheta_t = v_{th} + b\, a_{t-1}`,
  :math:`a_t = \rho a_{t-1} + (1-\rho) s_t` (Bellec et al. 2018 LSNN)
* ``LI`` / ``CubaLI`` — non-spiking leaky readouts (output = membrane)

followed by the spike :math:`s_t = H(v_t - \vartheta_t)` and the reset (subtract / zero / none /
snnTorch's delayed subtract). Discretisation with step ``dt``:

* ``integration="euler"`` (NIR paper, Norse): :math:`\beta = 1 - dt/\tau_{mem}`,
  :math:`\alpha = 1 - dt/\tau_{syn}`, :math:`\rho = 1 - dt/\tau_{adapt}`;
* ``integration="exact"``: :math:`\beta = e^{-dt/\tau_{mem}}` etc.

Input gains: with ``decay_input=False`` (snnTorch, SpikingJelly ``decay_input=False``) the input is
added unscaled, :math:`g_v = r`, :math:`g_i = w_{in}`; with ``decay_input=True`` (NIR, Norse) it is
a current, :math:`g_v = r (1-\beta)`, :math:`g_i = w_{in} (1-\alpha)` — with Euler exactly
:math:`v \mathrel{+}= dt/\tau\,((v_{leak} - v) + r I)`. ``beta=`` may be given instead of
``tau_mem`` (and ``alpha=`` instead of ``tau_syn``) to port discrete-time models bit-exactly.

Tensors are time-major ``[T, B, *features]`` for scans and ``[B, *features]`` for steps.
Parameters are scalars or tensors broadcastable to ``features`` (per-neuron values).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import NamedTuple

import torch

from neuro import surrogate as surrogate_module
from neuro.kernels import lif_math
from neuro.ops._launch import constant_vector, constants
from neuro.ops.lif import LIFConfig, lif_scan, lif_step_reference
from neuro.state import stateclass
from neuro.surrogate import Surrogate, get_surrogate, spike
from neuro.validation import check_parameter, check_state, check_tensor

Number = float | torch.Tensor


@stateclass
class LIFState(NamedTuple):
    """State of ``IF`` / ``LIF``: membrane ``v``."""

    v: torch.Tensor


@stateclass
class CubaLIFState(NamedTuple):
    """State of ``CubaLIF``: synaptic current ``i`` and membrane ``v``."""

    i: torch.Tensor
    v: torch.Tensor


@stateclass
class ALIFState(NamedTuple):
    """State of ``ALIF``: membrane ``v`` and threshold adaptation ``a``."""

    v: torch.Tensor
    a: torch.Tensor


@stateclass
class LIState(NamedTuple):
    """State of ``LI``: membrane ``v``."""

    v: torch.Tensor


@stateclass
class CubaLIState(NamedTuple):
    """State of ``CubaLI``: synaptic current ``i`` and membrane ``v``."""

    i: torch.Tensor
    v: torch.Tensor


#: every physical parameter of the family and the rule its values must satisfy
#: (:func:`neuro.validation.check_parameter`); ``beta`` and ``alpha`` are the optional directly
#: given membrane and synaptic decays
PARAMETER_RULES = MappingProxyType({
    "v_th": "finite", "v_reset": "finite", "v_leak": "finite", "r": "finite",
    "tau_mem": "positive", "tau_syn": "positive", "tau_adapt": "positive",
    "w_in": "finite", "beta_adapt": "finite", "beta": "unit", "alpha": "unit"})

#: the decays that may be given directly, and the time constant each replaces
DIRECT_DECAYS = MappingProxyType({"beta": "tau_mem", "alpha": "tau_syn"})


@dataclass(frozen=True)
class NeuronModel:
    """Structure of one member of the LIF family.

    The flags describe everything else once: the state layout (:attr:`state_fields`, which of
    ``i``, ``v``, ``a`` the state holds, in the order of ``state_type``'s fields) and the physical
    parameters the model reads (:attr:`parameter_names`).
    """

    name: str
    has_syn: bool
    has_adapt: bool
    spiking: bool
    leaky: bool
    state_type: type

    def __post_init__(self) -> None:
        if tuple(getattr(self.state_type, "_fields", ())) != self.state_fields:
            raise TypeError(f"the state type of {self.name} must be a NamedTuple with the fields "
                            f"{self.state_fields}, got {self.state_type!r}")

    @property
    def state_fields(self) -> tuple[str, ...]:
        """Names of the state's tensors: ``("i",)`` with a synapse, ``"v"``, ``("a",)`` with
        adaptation."""
        return ("i",) * self.has_syn + ("v",) + ("a",) * self.has_adapt

    @property
    def taus(self) -> tuple[str, ...]:
        """The time constants the model reads."""
        return (("tau_mem",) * self.leaky + ("tau_syn",) * self.has_syn
                + ("tau_adapt",) * self.has_adapt)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """The physical parameters of the model (those of :class:`NeuronParameters` it reads,
        ``v_th``/``v_reset`` included for non-spiking models, which ignore them)."""
        return (("v_th", "v_reset", "v_leak", "r") + self.taus + ("w_in",) * self.has_syn
                + ("beta_adapt",) * self.has_adapt)

    def make_state(self, values: Mapping[str, torch.Tensor]):
        """The state holding ``values[f]`` for each of :attr:`state_fields` (others are ignored)."""
        return self.state_type(*(values[f] for f in self.state_fields))

    def split_state(self, state) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor | None]:
        """``(i, v, a)`` of a state, ``None`` for the fields the model does not have."""
        fields = dict(zip(self.state_fields, state))
        return fields.get("i"), fields["v"], fields.get("a")


IF = NeuronModel("IF", False, False, True, False, LIFState)
LIF = NeuronModel("LIF", False, False, True, True, LIFState)
CUBA_LIF = NeuronModel("CubaLIF", True, False, True, True, CubaLIFState)
ALIF = NeuronModel("ALIF", False, True, True, True, ALIFState)
LI = NeuronModel("LI", False, False, False, True, LIState)
CUBA_LI = NeuronModel("CubaLI", True, False, False, True, CubaLIState)


@dataclass(frozen=True)
class NeuronParameters:
    """Physical parameters (seconds, volts or any consistent unit) of the LIF family.

    Args:
        tau_mem: membrane time constant (ignored by IF).
        tau_syn: synaptic-current time constant (CubaLIF, CubaLI).
        tau_adapt: threshold-adaptation time constant (ALIF).
        beta_adapt: threshold increase per unit of adaptation (ALIF).
        v_th: firing threshold. v_reset: potential after a zero reset. v_leak: resting potential.
        r: input-to-membrane gain (NIR ``r``). w_in: input-to-current gain (NIR ``w_in``).
        dt: time step. integration: ``"euler"`` or ``"exact"`` decays.
        decay_input: scale the input by ``(1 - decay)`` (current input) instead of adding it.
        beta: discrete membrane decay given directly (overrides ``tau_mem``), for bit-exact ports.
        alpha: discrete synaptic decay given directly (overrides ``tau_syn``; CubaLIF, CubaLI).

    Every value is a number or a per-neuron tensor, validated at construction
    (:data:`PARAMETER_RULES`): time constants positive and finite, ``beta``/``alpha`` in ``[0, 1]``
    (0: no memory, what ``tau_mem = dt`` gives with Euler; 1: no leak), everything else finite.
    The error names the parameter and the first bad index. Whether a time constant is at least
    ``dt`` (Euler decays must not be negative) depends on the model: :func:`check_decays`.
    """

    tau_mem: Number = 20e-3
    tau_syn: Number = 5e-3
    tau_adapt: Number = 200e-3
    beta_adapt: Number = 0.2
    v_th: Number = 1.0
    v_reset: Number = 0.0
    v_leak: Number = 0.0
    r: Number = 1.0
    w_in: Number = 1.0
    dt: float = 1e-3
    integration: str = "euler"
    decay_input: bool = False
    beta: Number | None = None
    alpha: Number | None = None

    def __post_init__(self) -> None:
        if self.integration not in ("euler", "exact"):
            raise ValueError(f"integration must be 'euler' or 'exact', got {self.integration!r}")
        # any real scalar (np.float32(1e-3), a 0-d array ...), stored as a Python float
        if isinstance(self.dt, bool) or not isinstance(self.dt, numbers.Real) \
                or not (math.isfinite(self.dt) and self.dt > 0):
            raise ValueError(f"dt must be a positive number of seconds, got {self.dt!r}")
        object.__setattr__(self, "dt", float(self.dt))
        for name, rule in PARAMETER_RULES.items():
            value = getattr(self, name)
            if value is not None or name not in DIRECT_DECAYS:
                check_parameter(value, name, rule)

    @classmethod
    def unchecked(cls, **fields) -> NeuronParameters:
        """A record built without validation, for values validated when they were set.

        The ``neuro.nn`` modules rebuild their record on every call from parameters checked at
        construction (learned ones included: a learned value that turns NaN is caught by the
        kernels); validating again would cost a pass, and on a GPU a host synchronisation, per call.
        """
        record = object.__new__(cls)
        for name, default in _FIELD_DEFAULTS:  # a constant tuple: torch.compile traces it
            object.__setattr__(record, name, fields.pop(name, default))
        if fields:
            raise TypeError(f"unknown neuron parameters {sorted(fields)}")
        return record

    def replace(self, **changes) -> NeuronParameters:
        """A copy with some fields changed."""
        return replace(self, **changes)


#: ``(name, default)`` of every field of :class:`NeuronParameters`
_FIELD_DEFAULTS = tuple((f.name, f.default) for f in dataclasses.fields(NeuronParameters))

#: the default parameters of the functional API (a frozen record, shared)
DEFAULT_PARAMETERS = NeuronParameters()


def decay(tau: Number, dt: float, integration: str, name: str) -> Number:
    """Discrete decay of a time constant, validating ``tau > 0`` (and ``dt <= tau`` for Euler)."""
    if isinstance(tau, numbers.Real):  # a number: checked in Python (no tensor, nothing to trace)
        if not (math.isfinite(tau) and tau > 0):
            raise ValueError(f"{name} must be positive and finite, got {tau}")
        if integration == "euler":
            if tau < dt:
                raise ValueError(f"{name}={float(tau)} is smaller than dt={dt}: the forward-Euler "
                                 f"decay 1 - dt/{name} would be negative; use a smaller dt or "
                                 "integration='exact'")
            return 1 - dt / tau
        return math.exp(-dt / tau)
    t = torch.as_tensor(tau)
    if not bool(torch.isfinite(t).all()) or bool((t <= 0).any()):
        raise ValueError(f"{name} must be positive and finite, got {tau}")
    if integration == "euler":
        if bool((t < dt).any()):
            raise ValueError(f"{name}={float(t.min())} is smaller than dt={dt}: the forward-Euler "
                             f"decay 1 - dt/{name} would be negative; use a smaller dt or "
                             "integration='exact'")
        return 1 - dt / tau
    return torch.exp(-dt / t) if isinstance(tau, torch.Tensor) else math.exp(-dt / tau)


def coefficients(model: NeuronModel, p: NeuronParameters, features: tuple[int, ...],
                 dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The ``[9, P]`` coefficient table of ``neuro.kernels.lif_math`` (differentiable in ``p``).

    ``P`` is 1 when every parameter is a scalar, else ``prod(features)``.
    """
    if p.beta is not None:
        beta = p.beta
    elif model.leaky:
        beta = decay(p.tau_mem, p.dt, p.integration, "tau_mem")
    else:
        beta = 1.0
    if not model.has_syn:
        alpha = 0.0
    elif p.alpha is not None:
        alpha = p.alpha
    else:
        alpha = decay(p.tau_syn, p.dt, p.integration, "tau_syn")
    gi = (p.w_in * (1 - alpha) if p.decay_input else p.w_in) if model.has_syn else 1.0
    gv = p.r * (1 - beta) if (p.decay_input and model.leaky) else p.r
    c = (1 - beta) * p.v_leak if model.leaky else 0.0
    th = p.v_th if model.spiking else 0.0
    rho = decay(p.tau_adapt, p.dt, p.integration, "tau_adapt") if model.has_adapt else 0.0
    ba = p.beta_adapt if model.has_adapt else 0.0
    rows = [alpha, gi, beta, gv, c, th, p.v_reset, rho, ba]
    if not any(isinstance(r, torch.Tensor) for r in rows):  # numbers: one table made once per device
        return constants(tuple(float(r) for r in rows), dtype, device).view(lif_math.N_PARAMS, 1)
    # numbers become cached device constants: no host-to-device copy (a synchronisation) per call
    tensors = [r.to(dtype=dtype, device=device) if isinstance(r, torch.Tensor)
               else constants((float(r),), dtype, device)[0] for r in rows]
    if all(t.dim() == 0 for t in tensors):
        return torch.stack(tensors).reshape(lif_math.N_PARAMS, 1)
    try:
        expanded = [t.expand(features) for t in tensors]
    except RuntimeError:
        shapes = {name: tuple(t.shape) for name, t in zip(
            ("alpha", "gi", "beta", "gv", "c", "v_th", "v_reset", "rho", "beta_adapt"), tensors)}
        raise ValueError(f"neuron parameters of shapes {shapes} do not broadcast to the feature "
                         f"shape {features} of the input") from None
    return torch.stack([t.reshape(-1) for t in expanded])


def check_parameter_shapes(model: NeuronModel, p: NeuronParameters, features: tuple[int, ...]) -> None:
    """Every per-neuron parameter ``model`` reads broadcasts to the input's ``features``; else a
    ``ValueError`` naming the parameter (``tau_mem``, not an internal coefficient)."""
    names = model.parameter_names + tuple(d for d in DIRECT_DECAYS if getattr(p, d) is not None)
    for name in names:
        value = getattr(p, name)
        if not isinstance(value, torch.Tensor) or value.dim() == 0:
            continue
        try:
            if torch.broadcast_shapes(value.shape, features) == tuple(features):
                continue
        except RuntimeError:
            pass
        raise ValueError(f"{name} has shape {tuple(value.shape)}, which does not match the feature "
                         f"shape {tuple(features)} of the input (give a number, or one value per "
                         f"neuron: a tensor of shape {tuple(features)})")


def replaced_taus(p: NeuronParameters) -> tuple[str, ...]:
    """The time constants that ``p`` does not use because their decay is given directly
    (``tau_mem`` with ``beta``, ``tau_syn`` with ``alpha``)."""
    return tuple(tau for d, tau in DIRECT_DECAYS.items() if getattr(p, d) is not None)


def kernel_surrogates() -> tuple[str, ...]:
    """Names of the surrogate classes the fused kernels evaluate: the built-ins of
    :mod:`neuro.surrogate` (the kernels implement each formula by its ``kind``)."""
    return tuple(sorted(name for name, obj in vars(surrogate_module).items()
                        if isinstance(obj, type) and issubclass(obj, Surrogate) and obj is not Surrogate
                        and obj.__name__ == name and getattr(obj, "kind", -1) >= 0))


def check_kernel_surrogate(surrogate: Surrogate, backend: str, where: str = "neuron_scan") -> None:
    """Fail early, naming the supported surrogates, when ``backend`` would run ``surrogate`` on the
    fused kernels but they cannot evaluate it (a user-defined :class:`~neuro.surrogate.Surrogate`
    subclass: its ``derivative`` is Python, the kernels know the built-in formulas only).

    ``backend="torch"`` (and the one-step cell modules) run any surrogate.
    """
    builtin = type(surrogate).__module__ == Surrogate.__module__ and getattr(surrogate, "kind", -1) >= 0
    if backend == "torch" or builtin:
        return
    raise ValueError(
        f"{where}: the user-defined surrogate {surrogate!r} runs on the pure-torch path only "
        f"(backend='torch', or the one-step Cell modules); backend={backend!r} runs the fused "
        f"kernels, which implement the built-in surrogates of neuro.surrogate: "
        f"{', '.join(kernel_surrogates())}")


def check_decays(model: NeuronModel, p: NeuronParameters) -> None:
    """The time constants ``model`` reads give valid decays at ``p.dt`` (Euler: ``tau >= dt``).

    ``tau_mem`` is not read when ``beta`` is given, nor ``tau_syn`` when ``alpha`` is.
    Raises ``ValueError`` naming the parameter.
    """
    for name in model.taus:
        if name not in replaced_taus(p):
            decay(getattr(p, name), p.dt, p.integration, name)


def initial_state(model: NeuronModel, p: NeuronParameters, like: torch.Tensor):
    """Fresh state for inputs shaped like ``like`` (``[B, *features]``): ``v = v_leak``, rest 0."""
    if isinstance(p.v_leak, torch.Tensor):
        v = torch.zeros_like(like) + p.v_leak.to(dtype=like.dtype, device=like.device)
    else:  # no host-to-device copy; + 0.0 keeps zeros + v_leak's sign of zero
        v = torch.full_like(like, float(p.v_leak) + 0.0)
    zeros = torch.zeros_like(like)
    return model.make_state({"i": zeros, "v": v, "a": zeros})


def _fresh_scan_state(model: NeuronModel, p: NeuronParameters, x0: torch.Tensor) -> tuple:
    """``(i, v, a)`` of a scan started without a state (as :func:`initial_state`; None for the fields the
    model lacks): shared read-only constants (``neuro.ops._launch.constant_vector``: no fill right before
    the kernel), or fresh tensors under ``torch.compile`` and for a per-neuron ``v_leak``."""
    if torch.compiler.is_compiling() or isinstance(p.v_leak, torch.Tensor):
        return model.split_state(initial_state(model, p, x0))
    n = x0.numel()
    zeros = constant_vector(n, 0.0, x0.dtype, x0.device).view(x0.shape)
    v = constant_vector(n, float(p.v_leak) + 0.0, x0.dtype, x0.device).view(x0.shape)
    return (zeros if model.has_syn else None, v, zeros if model.has_adapt else None)


def make_config(model: NeuronModel, reset: str = "subtract", threshold_op: str = ">=",
                detach_reset: bool = False, surrogate: Surrogate | str = "atan") -> LIFConfig:
    """The kernel configuration of ``model`` with these spike/reset options."""
    if threshold_op not in (">=", ">"):
        raise ValueError(f"threshold_op must be '>=' or '>', got {threshold_op!r}")
    return LIFConfig(reset=reset if model.spiking else "none", ge=threshold_op == ">=",
                     spiking=model.spiking, detach_reset=detach_reset,
                     surrogate=get_surrogate(surrogate), has_syn=model.has_syn,
                     has_adapt=model.has_adapt)


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    """fp16/bf16 inputs are integrated with an fp32 state."""
    return torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype


def neuron_scan(model: NeuronModel, x: torch.Tensor, state=None,
                params: NeuronParameters = DEFAULT_PARAMETERS, cfg: LIFConfig | None = None,
                record: bool = False, backend: str = "auto"):
    """Run ``model`` over a sequence ``x: [T, B, *features]``.

    Returns ``(out, state)`` — ``out`` is the spikes (the membrane for LI models) and ``state`` the
    final state — or, with ``record=True``, ``(out, state, trace)`` where ``trace`` is a state of
    ``[T, B, *features]`` sequences (post-reset values at every step).
    """
    check_tensor(x, "x", 2, "[T, B, *features]")
    cfg = cfg if cfg is not None else make_config(model)
    check_kernel_surrogate(cfg.surrogate, backend)
    T, batch_shape = x.shape[0], tuple(x.shape[1:])
    features = tuple(x.shape[2:])
    check_parameter_shapes(model, params, features)
    dtype = _compute_dtype(x)
    x0 = x[0].to(dtype)  # [B, *features]: the state's dtype; x itself is not converted here (lif_scan
    if state is None:    # reads fp16/bf16 directly on the GPU, converting per element)
        i0, v0, a0 = _fresh_scan_state(model, params, x0)
    else:
        check_state(state, model.state_type, x0, batch_shape)
        i0, v0, a0 = model.split_state(state)
    prm = coefficients(model, params, features, dtype, x.device)
    n = v0.numel()
    zeros = (torch.zeros_like(v0) if torch.compiler.is_compiling()  # absent i / a: read, never written
             else constant_vector(n, 0.0, v0.dtype, v0.device).view(v0.shape))
    res = lif_scan(x.reshape(T, n), prm, (zeros if i0 is None else i0).reshape(n), v0.reshape(n),
                   (zeros if a0 is None else a0).reshape(n), cfg,
                   record=record or not model.spiking, backend=backend)  # LI outputs its membrane
    shape = x.shape
    out = res.spikes if model.spiking else res.v_seq
    final = model.make_state({"i": res.i_last, "v": res.v_last, "a": res.a_last})
    final = final.map(lambda t: t.view(batch_shape))
    out = out.view(shape).to(x.dtype)
    if not record:
        return out, final
    trace = model.make_state({"i": res.i_seq, "v": res.v_seq, "a": res.a_seq})
    return out, final, trace.map(lambda t: t.view(shape))


def neuron_step(model: NeuronModel, x: torch.Tensor, state=None,
                params: NeuronParameters = DEFAULT_PARAMETERS, cfg: LIFConfig | None = None):
    """One step of ``model`` on ``x: [B, *features]`` in pure torch; returns ``(out, state)``.

    For custom loops and recurrent wiring; sequences should use :func:`neuron_scan` (fused kernels).
    """
    check_tensor(x, "x", 1, "[B, *features]")
    cfg = cfg if cfg is not None else make_config(model)
    check_parameter_shapes(model, params, tuple(x.shape[1:]))
    dtype = _compute_dtype(x)
    xc = x.to(dtype)
    if state is None:
        state = initial_state(model, params, xc)
    else:
        check_state(state, model.state_type, xc, tuple(x.shape))
    if not bool(torch.isfinite(xc).all()):
        raise ValueError("x contains NaN or inf values; spiking neurons need finite inputs")
    features = tuple(x.shape[1:])
    prm = coefficients(model, params, features, dtype, x.device)
    prm = prm.reshape(lif_math.N_PARAMS, *features) if prm.shape[1] > 1 else prm.reshape(
        lif_math.N_PARAMS, *([1] * len(features)))
    i, v, a = model.split_state(state)
    zeros = torch.zeros_like(v)
    s_prev = zeros
    if cfg.reset == "subtract_delayed":  # the pending reset is read from the stored membrane
        s_prev = spike(v, prm[lif_math.P_TH].expand_as(v), cfg.surrogate, cfg.ge)
    s, i_new, v_new, a_new = lif_step_reference(xc, zeros if i is None else i, v,
                                                zeros if a is None else a, s_prev, prm, cfg)
    out = s if model.spiking else v_new
    return out.to(x.dtype), model.make_state({"i": i_new, "v": v_new, "a": a_new})
