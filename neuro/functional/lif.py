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
``tau_mem`` to port discrete-time models bit-exactly.

Tensors are time-major ``[T, B, *features]`` for scans and ``[B, *features]`` for steps.
Parameters are scalars or tensors broadcastable to ``features`` (per-neuron values).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import NamedTuple, Optional, Union

import torch

from neuro.kernels import lif_math
from neuro.ops.lif import LIFConfig, lif_scan, lif_step_reference
from neuro.surrogate import Surrogate, get_surrogate, spike
from neuro.validation import check_state, check_tensor

Number = Union[float, torch.Tensor]


def state_detach(self):
    """The same state with every tensor detached from the graph (truncated BPTT)."""
    return type(self)(*(t.detach() for t in self))


def state_to(self, *args, **kwargs):
    """The same state with every tensor moved/cast by ``Tensor.to``."""
    return type(self)(*(t.to(*args, **kwargs) for t in self))


def state_last(self):
    """The final state of a recorded state sequence (``[T, ...]`` fields -> ``[...]``)."""
    return type(self)(*(t[-1] for t in self))


class LIFState(NamedTuple):
    """State of ``IF`` / ``LIF``: membrane ``v``."""

    v: torch.Tensor
    detach = state_detach
    to = state_to
    last = state_last


class CubaLIFState(NamedTuple):
    """State of ``CubaLIF``: synaptic current ``i`` and membrane ``v``."""

    i: torch.Tensor
    v: torch.Tensor
    detach = state_detach
    to = state_to
    last = state_last


class ALIFState(NamedTuple):
    """State of ``ALIF``: membrane ``v`` and threshold adaptation ``a``."""

    v: torch.Tensor
    a: torch.Tensor
    detach = state_detach
    to = state_to
    last = state_last


class LIState(NamedTuple):
    """State of ``LI``: membrane ``v``."""

    v: torch.Tensor
    detach = state_detach
    to = state_to
    last = state_last


class CubaLIState(NamedTuple):
    """State of ``CubaLI``: synaptic current ``i`` and membrane ``v``."""

    i: torch.Tensor
    v: torch.Tensor
    detach = state_detach
    to = state_to
    last = state_last


@dataclass(frozen=True)
class NeuronModel:
    """Structure of one member of the LIF family."""

    name: str
    has_syn: bool
    has_adapt: bool
    spiking: bool
    leaky: bool
    state_type: type


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
    beta: Optional[Number] = None

    def __post_init__(self) -> None:
        if self.integration not in ("euler", "exact"):
            raise ValueError(f"integration must be 'euler' or 'exact', got {self.integration!r}")
        if not (isinstance(self.dt, (int, float)) and math.isfinite(self.dt) and self.dt > 0):
            raise ValueError(f"dt must be a positive number of seconds, got {self.dt!r}")

    def replace(self, **changes) -> "NeuronParameters":
        """A copy with some fields changed."""
        return replace(self, **changes)


def decay(tau: Number, dt: float, integration: str, name: str) -> Number:
    """Discrete decay of a time constant, validating ``tau > 0`` (and ``dt <= tau`` for Euler)."""
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
    alpha = decay(p.tau_syn, p.dt, p.integration, "tau_syn") if model.has_syn else 0.0
    gi = (p.w_in * (1 - alpha) if p.decay_input else p.w_in) if model.has_syn else 1.0
    gv = p.r * (1 - beta) if (p.decay_input and model.leaky) else p.r
    c = (1 - beta) * p.v_leak if model.leaky else 0.0
    th = p.v_th if model.spiking else 0.0
    rho = decay(p.tau_adapt, p.dt, p.integration, "tau_adapt") if model.has_adapt else 0.0
    ba = p.beta_adapt if model.has_adapt else 0.0
    rows = [alpha, gi, beta, gv, c, th, p.v_reset, rho, ba]
    tensors = [torch.as_tensor(r, dtype=dtype, device=device) for r in rows]
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


def initial_state(model: NeuronModel, p: NeuronParameters, like: torch.Tensor):
    """Fresh state for inputs shaped like ``like`` (``[B, *features]``): ``v = v_leak``, rest 0."""
    v = torch.zeros_like(like) + torch.as_tensor(p.v_leak, dtype=like.dtype, device=like.device)
    zeros = torch.zeros_like(like)
    if model.state_type in (CubaLIFState, CubaLIState):
        return model.state_type(zeros, v)
    if model.state_type is ALIFState:
        return ALIFState(v, zeros)
    return model.state_type(v)


def _split_state(model: NeuronModel, state) -> tuple[Optional[torch.Tensor], torch.Tensor,
                                                      Optional[torch.Tensor]]:
    if model.state_type in (CubaLIFState, CubaLIState):
        return state.i, state.v, None
    if model.state_type is ALIFState:
        return None, state.v, state.a
    return None, state.v, None


def _make_state(model: NeuronModel, i, v, a):
    if model.state_type in (CubaLIFState, CubaLIState):
        return model.state_type(i, v)
    if model.state_type is ALIFState:
        return ALIFState(v, a)
    return model.state_type(v)


def make_config(model: NeuronModel, reset: str = "subtract", threshold_op: str = ">=",
                detach_reset: bool = False, surrogate: "Surrogate | str" = "atan") -> LIFConfig:
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
                params: NeuronParameters = NeuronParameters(), cfg: Optional[LIFConfig] = None,
                record: bool = False, backend: str = "auto"):
    """Run ``model`` over a sequence ``x: [T, B, *features]``.

    Returns ``(out, state)`` — ``out`` is the spikes (the membrane for LI models) and ``state`` the
    final state — or, with ``record=True``, ``(out, state, trace)`` where ``trace`` is a state of
    ``[T, B, *features]`` sequences (post-reset values at every step).
    """
    check_tensor(x, "x", 2, "[T, B, *features]")
    cfg = cfg if cfg is not None else make_config(model)
    T, batch_shape = x.shape[0], tuple(x.shape[1:])
    features = tuple(x.shape[2:])
    dtype = _compute_dtype(x)
    xc = x.to(dtype)
    if state is None:
        state = initial_state(model, params, xc[0])
    else:
        check_state(state, model.state_type, xc, batch_shape)
    prm = coefficients(model, params, features, dtype, x.device)
    i0, v0, a0 = _split_state(model, state)
    zeros = torch.zeros_like(v0)
    n = v0.numel()
    res = lif_scan(xc.reshape(T, n), prm, (zeros if i0 is None else i0).reshape(n), v0.reshape(n),
                   (zeros if a0 is None else a0).reshape(n), cfg,
                   record=record or not model.spiking, backend=backend)  # LI outputs its membrane
    shape = x.shape
    out = res.spikes if model.spiking else res.v_seq
    final = _make_state(model, res.i_last.view(batch_shape) if model.has_syn else None,
                        res.v_last.view(batch_shape),
                        res.a_last.view(batch_shape) if model.has_adapt else None)
    out = out.view(shape).to(x.dtype)
    if not record:
        return out, final
    trace = _make_state(model, res.i_seq.view(shape) if model.has_syn else None,
                        res.v_seq.view(shape), res.a_seq.view(shape) if model.has_adapt else None)
    return out, final, trace


def neuron_step(model: NeuronModel, x: torch.Tensor, state=None,
                params: NeuronParameters = NeuronParameters(), cfg: Optional[LIFConfig] = None):
    """One step of ``model`` on ``x: [B, *features]`` in pure torch; returns ``(out, state)``.

    For custom loops and recurrent wiring; sequences should use :func:`neuron_scan` (fused kernels).
    """
    check_tensor(x, "x", 1, "[B, *features]")
    cfg = cfg if cfg is not None else make_config(model)
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
    i, v, a = _split_state(model, state)
    zeros = torch.zeros_like(v)
    s_prev = zeros
    if cfg.reset == "subtract_delayed":  # the pending reset is read from the stored membrane
        s_prev = spike(v, prm[lif_math.P_TH].expand_as(v), cfg.surrogate, cfg.ge)
    s, i_new, v_new, a_new = lif_step_reference(xc, zeros if i is None else i, v,
                                                zeros if a is None else a, s_prev, prm, cfg)
    out = s if model.spiking else v_new
    return out.to(x.dtype), _make_state(model, i_new if model.has_syn else None, v_new,
                                        a_new if model.has_adapt else None)
