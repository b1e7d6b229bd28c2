"""Neuron modules of the LIF family: ``IF``, ``LIF``, ``CubaLIF``, ``ALIF``, ``LI``, ``CubaLI``.

Each comes in two forms sharing parameters and semantics (equations in
:mod:`neuro.functional.lif`):

* ``LIF(...)(x[T, B, ...], state=None) -> (spikes[T, B, ...], state)`` — whole sequences on the
  fused kernels (``backend="auto"|"torch"|"numba"|"cuda"``);
* ``LIFCell(...)(x[B, ...], state=None) -> (spikes[B, ...], state)`` — one step in pure torch,
  for custom loops and recurrent wiring.

``state=None`` starts from rest; pass the returned state to continue, ``state.detach()`` for
truncated BPTT. ``record_states=True`` makes the sequence modules return the state at every step
(``[T, B, ...]`` fields; ``trace.last()`` is the final state) instead of the final state.
Parameters are in physical units; ``shape`` gives per-neuron parameters (learnable with
``learn_tau`` / ``learn_threshold``).
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
from torch import nn

from neuro.backends import BACKENDS
from neuro.functional import lif as F
from neuro.surrogate import Surrogate

Number = Union[float, torch.Tensor]


class SpikingModule(nn.Module):
    """Base class of modules following ``forward(x, state=None) -> (out, state)``."""


class _Neuron(SpikingModule):
    """Shared machinery: parameter registration, state handling and dispatch to the functional API."""

    model: F.NeuronModel
    single_step = False
    _taus: tuple[str, ...] = ()
    _extra: tuple[str, ...] = ()

    def __init__(self, shape: Union[int, Sequence[int]], *, dt: float, v_th: Number, v_reset: Number,
                 v_leak: Number, r: Number, integration: str, decay_input: bool, reset: str,
                 threshold_op: str, detach_reset: bool, surrogate: Union[Surrogate, str],
                 learn_tau: bool, learn_threshold: bool, record_states: bool, backend: str,
                 beta: Optional[float] = None, **model_params: Number) -> None:
        super().__init__()
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.shape = (shape,) if isinstance(shape, int) else tuple(shape)
        self.cfg = F.make_config(self.model, reset=reset, threshold_op=threshold_op,
                                 detach_reset=detach_reset, surrogate=surrogate)
        self.record_states = record_states
        self.backend = backend
        self._static = F.NeuronParameters(dt=dt, integration=integration, decay_input=decay_input,
                                          beta=beta)
        values = dict(v_th=v_th, v_reset=v_reset, v_leak=v_leak, r=r, **model_params)
        for name in self._taus:
            if not (name == "tau_mem" and beta is not None):
                F.decay(values[name], dt, integration, name)  # validates tau > 0 (and >= dt for Euler)
        for name, value in values.items():
            learn = (learn_tau and name in self._taus) or (learn_threshold and name == "v_th")
            self._register(name, value, learn)

    def _register(self, name: str, value: Number, learn: bool) -> None:
        tensor = torch.as_tensor(value, dtype=torch.get_default_dtype())
        if learn:
            tensor = tensor.expand(self.shape).clone() if self.shape else tensor.clone()
            if name.startswith("tau_"):  # learn log(tau): time constants stay positive
                self.register_parameter("log_" + name, nn.Parameter(tensor.log()))
            else:
                self.register_parameter(name, nn.Parameter(tensor))
        elif isinstance(value, torch.Tensor):
            self.register_buffer(name, tensor.clone())
        else:
            self.__dict__["_const_" + name] = float(value)

    def _value(self, name: str) -> Number:
        if "log_" + name in self._parameters:
            return self._parameters["log_" + name].exp()
        if name in self._parameters:
            return self._parameters[name]
        if name in self._buffers:
            return self._buffers[name]
        if "_const_" + name in self.__dict__:
            return self.__dict__["_const_" + name]
        raise AttributeError(f"{type(self).__name__} has no parameter {name!r} yet")

    def _names(self) -> tuple[str, ...]:
        return ("v_th", "v_reset", "v_leak", "r") + self._taus + self._extra

    def __getattr__(self, name: str):
        if name in type(self)._physical_names():
            return self._value(name)
        return super().__getattr__(name)

    @classmethod
    def _physical_names(cls) -> tuple[str, ...]:
        return ("v_th", "v_reset", "v_leak", "r") + cls._taus + cls._extra

    @property
    def parameters_physical(self) -> F.NeuronParameters:
        """The current physical parameters (tensors where learnable or per-neuron)."""
        return self._static.replace(**{name: self._value(name) for name in self._names()})

    @property
    def dt(self) -> float:
        return self._static.dt

    def initial_state(self, like: torch.Tensor):
        """Fresh state for one step of input shaped like ``like`` (``[B, *features]``)."""
        return F.initial_state(self.model, self.parameters_physical, like)

    def forward(self, x: torch.Tensor, state=None):
        p = self.parameters_physical
        if self.single_step:
            return F.neuron_step(self.model, x, state, p, self.cfg)
        if not self.record_states:
            return F.neuron_scan(self.model, x, state, p, self.cfg, backend=self.backend)
        out, _, trace = F.neuron_scan(self.model, x, state, p, self.cfg, record=True,
                                      backend=self.backend)
        return out, trace

    def extra_repr(self) -> str:
        parts = [f"shape={self.shape}"] if self.shape else []
        for name in self._names():
            if not self.model.spiking and name in ("v_th", "v_reset"):
                continue
            value = self._value(name)
            if isinstance(value, torch.Tensor) and value.numel() > 1:
                parts.append(f"{name}=<{tuple(value.shape)}>")
            else:
                parts.append(f"{name}={float(value):g}")
        parts.append(f"dt={self.dt:g}")
        if self.model.spiking:
            parts.append(f"reset={self.cfg.reset!r}, threshold_op={'>=' if self.cfg.ge else '>'!r}")
        if not self.single_step:
            parts.append(f"backend={self.backend!r}")
        return ", ".join(parts)


_COMMON_DOC = """
    Common args: ``shape`` (feature shape of per-neuron / learnable parameters), ``dt``, ``v_th``,
    ``v_reset``, ``v_leak``, ``r``, ``integration`` (``"euler"``/``"exact"``), ``decay_input``,
    ``reset`` (``"subtract"``, ``"zero"``, ``"none"``, ``"subtract_delayed"``), ``threshold_op``
    (``">="``/``">"``), ``detach_reset``, ``surrogate``, ``learn_tau``, ``learn_threshold``,
    ``record_states``, ``backend``. See :mod:`neuro.functional.lif` for the equations.
"""


def _common(kwargs: dict) -> dict:
    """Defaults of the options every neuron shares."""
    defaults = dict(dt=1e-3, v_th=1.0, v_reset=0.0, v_leak=0.0, r=1.0, integration="euler",
                    decay_input=False, reset="subtract", threshold_op=">=", detach_reset=False,
                    surrogate="atan", learn_tau=False, learn_threshold=False, record_states=False,
                    backend="auto")
    unknown = set(kwargs) - set(defaults)
    if unknown:
        raise TypeError(f"unexpected keyword arguments {sorted(unknown)}; valid: {sorted(defaults)}")
    return {**defaults, **kwargs}


class IF(_Neuron):
    """Integrate-and-fire: ``v_t = v_{t-1} + r x_t``, ``s_t = H(v_t - v_th)``, reset."""

    model = F.IF

    def __init__(self, shape: Union[int, Sequence[int]] = (), **kwargs) -> None:
        super().__init__(shape, **_common(kwargs))


class LIF(_Neuron):
    """Leaky integrate-and-fire.

    ``v_t = beta v_{t-1} + (1 - beta) v_leak + g x_t``, ``s_t = H(v_t - v_th)``, reset, with
    ``beta = 1 - dt/tau_mem`` (Euler) or ``exp(-dt/tau_mem)``, ``g = r`` (or ``r (1 - beta)`` with
    ``decay_input``). ``beta=`` gives the decay directly (ports of snnTorch/SpikingJelly models).
    """

    model = F.LIF
    _taus = ("tau_mem",)

    def __init__(self, shape: Union[int, Sequence[int]] = (), tau_mem: Number = 20e-3,
                 beta: Optional[float] = None, **kwargs) -> None:
        super().__init__(shape, tau_mem=tau_mem, beta=beta, **_common(kwargs))


class CubaLIF(_Neuron):
    """Current-based LIF (NIR ``CubaLIF``).

    ``i_t = alpha i_{t-1} + g_i x_t``, ``v_t = beta v_{t-1} + (1 - beta) v_leak + g_v i_t``,
    spike and reset; ``alpha``, ``beta`` from ``tau_syn``, ``tau_mem``; ``g_i = w_in``,
    ``g_v = r`` (times ``1 - alpha`` / ``1 - beta`` with ``decay_input``).
    """

    model = F.CUBA_LIF
    _taus = ("tau_mem", "tau_syn")
    _extra = ("w_in",)

    def __init__(self, shape: Union[int, Sequence[int]] = (), tau_mem: Number = 20e-3,
                 tau_syn: Number = 5e-3, w_in: Number = 1.0, beta: Optional[float] = None,
                 **kwargs) -> None:
        super().__init__(shape, tau_mem=tau_mem, tau_syn=tau_syn, w_in=w_in, beta=beta,
                         **_common(kwargs))


class ALIF(_Neuron):
    """Adaptive-threshold LIF (Bellec et al. 2018, LSNN).

    LIF membrane; threshold ``theta_t = v_th + beta_adapt a_{t-1}``; adaptation
    ``a_t = rho a_{t-1} + (1 - rho) s_t`` with ``rho`` from ``tau_adapt``; subtract or zero reset.
    """

    model = F.ALIF
    _taus = ("tau_mem", "tau_adapt")
    _extra = ("beta_adapt",)

    def __init__(self, shape: Union[int, Sequence[int]] = (), tau_mem: Number = 20e-3,
                 tau_adapt: Number = 200e-3, beta_adapt: Number = 0.2, beta: Optional[float] = None,
                 **kwargs) -> None:
        super().__init__(shape, tau_mem=tau_mem, tau_adapt=tau_adapt, beta_adapt=beta_adapt,
                         beta=beta, **_common(kwargs))


class LI(_Neuron):
    """Leaky integrator (non-spiking readout): ``v_t = beta v_{t-1} + (1 - beta) v_leak + g x_t``.

    The output is the membrane sequence.
    """

    model = F.LI
    _taus = ("tau_mem",)

    def __init__(self, shape: Union[int, Sequence[int]] = (), tau_mem: Number = 20e-3,
                 beta: Optional[float] = None, **kwargs) -> None:
        super().__init__(shape, tau_mem=tau_mem, beta=beta, **_common(kwargs))


class CubaLI(_Neuron):
    """Current-based leaky integrator (NIR ``CubaLI``); the output is the membrane sequence."""

    model = F.CUBA_LI
    _taus = ("tau_mem", "tau_syn")
    _extra = ("w_in",)

    def __init__(self, shape: Union[int, Sequence[int]] = (), tau_mem: Number = 20e-3,
                 tau_syn: Number = 5e-3, w_in: Number = 1.0, beta: Optional[float] = None,
                 **kwargs) -> None:
        super().__init__(shape, tau_mem=tau_mem, tau_syn=tau_syn, w_in=w_in, beta=beta,
                         **_common(kwargs))


class IFCell(IF):
    """One step of :class:`IF` on ``[B, ...]`` (pure torch)."""

    single_step = True


class LIFCell(LIF):
    """One step of :class:`LIF` on ``[B, ...]`` (pure torch)."""

    single_step = True


class CubaLIFCell(CubaLIF):
    """One step of :class:`CubaLIF` on ``[B, ...]`` (pure torch)."""

    single_step = True


class ALIFCell(ALIF):
    """One step of :class:`ALIF` on ``[B, ...]`` (pure torch)."""

    single_step = True


class LICell(LI):
    """One step of :class:`LI` on ``[B, ...]`` (pure torch)."""

    single_step = True


class CubaLICell(CubaLI):
    """One step of :class:`CubaLI` on ``[B, ...]`` (pure torch)."""

    single_step = True


for _cls in (IF, LIF, CubaLIF, ALIF, LI, CubaLI):
    _cls.__doc__ = (_cls.__doc__ or "") + _COMMON_DOC
del _cls
