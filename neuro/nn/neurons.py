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
``learn_tau`` / ``learn_threshold``). Every module is a :class:`NeuronBase`, which documents the
arguments they share and how parameters are stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from neuro.backends import BACKENDS
from neuro.functional import lif as F
from neuro.nn import presets
from neuro.surrogate import Surrogate

Number = float | torch.Tensor
Shape = int | Sequence[int]


class SpikingModule(nn.Module):
    """Base class of modules following ``forward(x, state=None) -> (out, state)``."""


class _Physical:
    """``module.<name>``: the current value of a physical parameter (read-only, see NeuronBase)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, module: NeuronBase | None, owner: type | None = None) -> Any:
        if module is None:
            return self
        return module.physical(self.name)

    def __set__(self, module: NeuronBase, value: Any) -> None:
        raise AttributeError(f"{self.name} is set at construction (where it is validated); build a "
                             "new module, or load a state_dict for learned / per-neuron values")


class NeuronBase(SpikingModule):
    r"""Base of every LIF-family neuron module: parameters, state handling, functional dispatch.

    A subclass names its :class:`neuro.functional.NeuronModel` (``model``), which fixes the state
    layout and the physical parameters; ``single_step = True`` makes the one-step (cell) form.

    The arguments are shared by every neuron module (keyword-only in the subclasses).

    Args:
        shape: feature shape of per-neuron / learnable parameters (``()``: scalars broadcast).
        model_parameters: the model's own parameters (``tau_mem``, ``tau_syn``, ``w_in``, ...),
            given by the subclass constructors.
        dt: time step. v_th: threshold. v_reset: potential after a zero reset. v_leak: resting
            potential. r: input gain. integration: ``"euler"`` or ``"exact"`` decays.
            decay_input: scale the input by ``1 - decay``. beta: membrane decay given directly
            (replaces ``tau_mem``). alpha: synaptic decay given directly (replaces ``tau_syn``;
            models with a synaptic current only).
        reset: ``"subtract"``, ``"zero"``, ``"none"`` or ``"subtract_delayed"`` (snnTorch).
        threshold_op: ``">="`` or ``">"``. detach_reset: no gradient through the reset.
        surrogate: spike pseudo-derivative (:mod:`neuro.surrogate`, or its name). The fused
            kernels evaluate the built-in surrogates; a user-defined one needs ``backend="torch"``
            (or the Cell form), else construction fails naming the supported ones.
        learn_tau: learn the time constants the model reads (per neuron with ``shape``); a time
            constant replaced by ``beta``/``alpha`` is not read, so it is not learned (and
            ``learn_tau`` with nothing left to learn is an error). learn_threshold: learn ``v_th``.
        learn_beta, learn_alpha: learn the decay given as ``beta=`` / ``alpha=`` itself, clamped
            to ``[0, 1]`` when used (snnTorch's ``learn_beta`` / ``learn_alpha``).
        record_states: :meth:`forward` returns the state at every step instead of the final one.
        backend: ``"auto"``, ``"torch"``, ``"numba"`` or ``"cuda"`` (sequence form).

    **Input layout.** The sequence form takes ``[T, B, *features]`` with at least one feature
    dimension: a 2-D input is refused, because ``[B, N]`` (one step of a batch) and ``[T, B]``
    (a sequence of scalars) cannot be told apart — use ``x.unsqueeze(0)`` for one step,
    ``x.unsqueeze(-1)`` for scalar neurons, or the Cell form for step-by-step loops.

    **Parameters.** Every value is validated at construction (:class:`NeuronParameters` rules:
    time constants positive and finite, and at least ``dt`` for Euler decays; ``beta`` in
    ``[0, 1]``; everything else finite; the error names the parameter and the first bad index).
    It is then kept as what it is, by one rule (:meth:`_store`):

    * learned (``learn_tau``, ``learn_threshold``): an ``nn.Parameter`` expanded to ``shape``;
      time constants are learned as their logarithm, ``log_<name>`` (so they stay positive);
    * a fixed tensor (per-neuron values): a buffer ``<name>`` (follows ``.to()``, ``state_dict``);
    * a fixed number: a Python float. Numbers keep the kernels' scalar fast path, the precision
      they were given in whatever the module's dtype, decays computed on the host (the same
      coefficients on CPU and CUDA) and no host synchronisation per call.

    The ``state_dict`` thus holds exactly the learned and per-neuron values (``log_tau_mem``,
    ``v_th``, ...), as checkpoints always had. Read a value as ``module.<name>`` (e.g.
    ``lif.tau_mem``: the tensor ``exp(log_tau_mem)`` when learned) or :meth:`physical`; the whole
    record, tensors included, is :attr:`parameters_physical`.
    """

    model: F.NeuronModel
    single_step = False

    # read access to every physical parameter of the family; a model without one raises
    # AttributeError (``IF().tau_mem``)
    tau_mem = _Physical()
    tau_syn = _Physical()
    tau_adapt = _Physical()
    beta_adapt = _Physical()
    v_th = _Physical()
    v_reset = _Physical()
    v_leak = _Physical()
    r = _Physical()
    w_in = _Physical()

    def __init__(self, shape: Shape = (), model_parameters: Mapping[str, Number] | None = None, *,
                 dt: float = 1e-3, v_th: Number = 1.0, v_reset: Number = 0.0, v_leak: Number = 0.0,
                 r: Number = 1.0, integration: str = "euler", decay_input: bool = False,
                 beta: Number | None = None, alpha: Number | None = None,
                 reset: str = "subtract", threshold_op: str = ">=", detach_reset: bool = False,
                 surrogate: Surrogate | str = "atan", learn_tau: bool = False,
                 learn_threshold: bool = False, learn_beta: bool = False, learn_alpha: bool = False,
                 record_states: bool = False, backend: str = "auto") -> None:
        super().__init__()
        self._numbers: dict[str, float] = {}
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        values = dict(v_th=v_th, v_reset=v_reset, v_leak=v_leak, r=r, **(model_parameters or {}))
        if set(values) != set(self.model.parameter_names):  # a subclass passing the wrong names
            raise TypeError(f"{type(self).__name__} has the parameters {self.model.parameter_names}, "
                            f"got {sorted(values)}")
        record = F.NeuronParameters(dt=dt, integration=integration, decay_input=decay_input,
                                    beta=beta, alpha=alpha, **values)  # validates every value
        F.check_decays(self.model, record)  # tau >= dt for Euler decays
        self.shape = (shape,) if isinstance(shape, int) else tuple(shape)
        self.cfg = F.make_config(self.model, reset=reset, threshold_op=threshold_op,
                                 detach_reset=detach_reset, surrogate=surrogate)
        if not self.single_step:  # the sequence form runs the fused kernels unless backend="torch"
            F.check_kernel_surrogate(self.cfg.surrogate, backend, type(self).__name__)
        self.record_states = record_states
        self.backend = backend
        self._structure = dict(dt=dt, integration=integration, decay_input=decay_input, beta=beta,
                               alpha=alpha)
        learned_taus = self._learned_taus(record, learn_tau)
        self._store_direct_decays(dict(beta=(beta, learn_beta), alpha=(alpha, learn_alpha)))
        for name in self.model.parameter_names:
            learn = name in learned_taus or (learn_threshold and name == "v_th")
            self._store(name, values[name], learn)

    def _learned_taus(self, record: F.NeuronParameters, learn_tau: bool) -> tuple[str, ...]:
        """The time constants ``learn_tau`` learns: those the model reads and that no directly
        given decay replaces. Asking to learn none is an error (it used to create parameters that
        the output ignores)."""
        if not learn_tau:
            return ()
        replaced = F.replaced_taus(record)
        taus = tuple(t for t in self.model.taus if t not in replaced)
        if not taus:
            name = type(self).__name__
            if not self.model.taus:
                raise ValueError(f"learn_tau=True, but {name} has no time constant to learn")
            given = " and ".join(f"{d}=" for d, tau in F.DIRECT_DECAYS.items() if tau in replaced)
            raise ValueError(f"learn_tau=True learns time constants, but {name} was given {given}, "
                             f"so it reads no time constant ({', '.join(replaced)} unused): use "
                             f"learn_beta=True to learn the decay itself (snnTorch's learn_beta), or "
                             f"give tau_mem= instead of beta= to learn the time constant")
        return taus

    def _store_direct_decays(self, decays: Mapping[str, tuple[Number | None, bool]]) -> None:
        """Register ``beta``/``alpha`` as parameters when learned (snnTorch's learn_beta)."""
        for name, (value, learn) in decays.items():
            if value is not None and name == "alpha" and not self.model.has_syn:
                raise ValueError(f"alpha= is the synaptic decay, but {type(self).__name__} has no "
                                 "synaptic current (use CubaLIF or CubaLI)")
            if not learn:
                continue
            if value is None:
                raise ValueError(f"learn_{name}=True learns the decay given as {name}=, but none was "
                                 f"given; pass {name}=... (or learn the time constant "
                                 f"{F.DIRECT_DECAYS[name]} with learn_tau=True)")
            tensor = torch.as_tensor(value, dtype=torch.get_default_dtype())
            tensor = tensor.expand(self.shape).clone() if self.shape else tensor.clone()
            self.register_parameter(name, nn.Parameter(tensor))

    def _store(self, name: str, value: Number, learn: bool) -> None:
        """Keep a validated value: learned -> Parameter (taus as ``log_<name>``), fixed tensor ->
        buffer, fixed number -> float (see the class docstring)."""
        if learn:
            tensor = torch.as_tensor(value, dtype=torch.get_default_dtype())
            tensor = tensor.expand(self.shape).clone() if self.shape else tensor.clone()
            if name.startswith("tau_"):
                self.register_parameter("log_" + name, nn.Parameter(tensor.log()))
            else:
                self.register_parameter(name, nn.Parameter(tensor))
        elif isinstance(value, torch.Tensor):
            self.register_buffer(name, value.detach().to(torch.get_default_dtype()).clone())
        else:
            self._numbers[name] = float(value)

    @property
    def physical_names(self) -> tuple[str, ...]:
        """The physical parameters of this neuron (``self.model.parameter_names``)."""
        return self.model.parameter_names

    def physical(self, name: str) -> Number:
        """The current value of physical parameter ``name``: a float, a buffer, a Parameter, or
        ``exp(log_<name>)`` for a learned time constant (differentiable)."""
        if name not in self.model.parameter_names:
            raise AttributeError(f"{type(self).__name__} has no parameter {name!r} "
                                 f"(its parameters: {', '.join(self.model.parameter_names)})")
        if "log_" + name in self._parameters:
            return self._parameters["log_" + name].exp()
        for store in (self._parameters, self._buffers, self._numbers):
            if name in store:
                return store[name]
        raise AttributeError(f"{type(self).__name__}.{name} is not stored yet")

    @property
    def parameters_physical(self) -> F.NeuronParameters:
        """The current physical parameters (tensors where learned or per-neuron); not validated
        again (values are validated when set). A learned ``beta``/``alpha`` is clamped to
        ``[0, 1]`` (as snnTorch does)."""
        structure = dict(self._structure)
        for name in F.DIRECT_DECAYS:
            if name in self._parameters:
                structure[name] = self._parameters[name].clamp(0, 1)
        return F.NeuronParameters.unchecked(
            **structure, **{name: self.physical(name) for name in self.model.parameter_names})

    @property
    def dt(self) -> float:
        """The time step."""
        return self._structure["dt"]

    def initial_state(self, like: torch.Tensor):
        """Fresh state for one step of input shaped like ``like`` (``[B, *features]``)."""
        return F.initial_state(self.model, self.parameters_physical, like)

    def step(self, x_t: torch.Tensor, state=None):
        """One step in pure torch on ``x_t [B, *features]``: ``(out_t, state)`` (what the cells
        and :func:`neuro.nn.recurrent.step_module` run)."""
        return F.neuron_step(self.model, x_t, state, self.parameters_physical, self.cfg)

    def forward(self, x: torch.Tensor, state=None):
        """Run the neuron; ``state=None`` starts from rest (:meth:`initial_state`).

        * sequence form: ``x [T, B, *features] -> (out [T, B, *features], state)``, ``state`` the
          final state (``[B, *features]`` fields);
        * with ``record_states=True``: ``(out, trace)`` instead, ``trace`` the same state type
          holding every step (``[T, B, *features]`` fields, post-reset values);
          ``trace.last()`` is the final state, to continue from;
        * cell form (``single_step``): ``x [B, *features] -> (out [B, *features], state)``.

        ``out`` is the spikes, or the membrane for non-spiking models (LI, CubaLI, Integrator).
        """
        if self.single_step:
            return self.step(x, state)
        if isinstance(x, torch.Tensor) and x.dim() == 2:
            name = type(self).__name__
            raise ValueError(
                f"{name} runs whole sequences and takes x of shape [T, B, *features] (at least 3 "
                f"dims), got a 2-D tensor of shape {tuple(x.shape)}: [B, N] (one step of a batch) "
                f"and [T, B] (a sequence of scalar neurons) are ambiguous. For one step use "
                f"x.unsqueeze(0) or {name}Cell; for scalar neurons use x.unsqueeze(-1); to repeat a "
                f"static input over T steps use neuro.encoding.repeat(x, T)")
        p = self.parameters_physical
        if not self.record_states:
            return F.neuron_scan(self.model, x, state, p, self.cfg, backend=self.backend)
        out, _, trace = F.neuron_scan(self.model, x, state, p, self.cfg, record=True,
                                      backend=self.backend)
        return out, trace

    def extra_repr(self) -> str:
        """Every value the output depends on: a decay given as ``beta``/``alpha`` is shown in
        place of the time constant it replaces; learned values are marked."""
        p = self.parameters_physical
        replaced = F.replaced_taus(p)
        shown: list[tuple[str, Any]] = []
        for name in self.model.parameter_names:
            if (not self.model.spiking and name in ("v_th", "v_reset")) or name in replaced:
                continue
            shown.append((name, self.physical(name)))
        shown += [(d, getattr(p, d)) for d, tau in F.DIRECT_DECAYS.items() if tau in replaced
                  and tau in self.model.taus]
        parts = [f"shape={self.shape}"] if self.shape else []
        for name, value in shown:
            learned = name in self._parameters or "log_" + name in self._parameters
            if isinstance(value, torch.Tensor) and value.numel() > 1:
                text = f"{name}=<{tuple(value.shape)}>"
            else:
                text = f"{name}={float(value.detach() if isinstance(value, torch.Tensor) else value):g}"
            parts.append(text + " (learned)" * learned)
        parts.append(f"dt={self.dt:g}")
        if self._structure["integration"] != "euler":
            parts.append(f"integration={self._structure['integration']!r}")
        if self._structure["decay_input"]:
            parts.append("decay_input=True")
        if self.model.spiking:
            parts.append(f"reset={self.cfg.reset!r}, threshold_op={'>=' if self.cfg.ge else '>'!r}")
            if self.cfg.detach_reset:
                parts.append("detach_reset=True")
            parts.append(f"surrogate={self.cfg.surrogate!r}")
        if not self.single_step:
            parts.append(f"backend={self.backend!r}")
        return ", ".join(parts)


class IF(NeuronBase):
    """Integrate-and-fire: ``v_t = v_{t-1} + r x_t``, ``s_t = H(v_t - v_th)``, reset.

    Other (keyword) arguments: :class:`NeuronBase`. Preset: :meth:`spikingjelly`.
    """

    model = F.IF

    def __init__(self, shape: Shape = (), **kwargs: Any) -> None:
        super().__init__(shape, **kwargs)

    @classmethod
    def spikingjelly(cls, v_threshold: float = 1.0, v_reset: float | None = 0.0,
                     surrogate_function: Any = None, detach_reset: bool = False, **options: Any):
        """SpikingJelly's ``IFNode`` with its arguments and defaults (soft reset with
        ``v_reset=None``, ``>=``, default surrogate ``Sigmoid(4)``); ``options``: ``shape``,
        ``backend``, ``record_states`` (:mod:`neuro.nn.presets`)."""
        return cls(**presets.spikingjelly_if(v_threshold, v_reset, surrogate_function, detach_reset,
                                             **options))


class LIF(NeuronBase):
    """Leaky integrate-and-fire.

    ``v_t = beta v_{t-1} + (1 - beta) v_leak + g x_t``, ``s_t = H(v_t - v_th)``, reset, with
    ``beta = 1 - dt/tau_mem`` (Euler) or ``exp(-dt/tau_mem)``, ``g = r`` (or ``r (1 - beta)`` with
    ``decay_input``). ``beta=`` gives the decay directly (ports of snnTorch/SpikingJelly models).
    Other (keyword) arguments: :class:`NeuronBase`.

    **Porting.** ``LIF(beta=0.95)`` is *not* snnTorch's ``Leaky(beta=0.95)`` (neuro's defaults:
    immediate subtract reset, ``>=``, reset in the gradient). The presets reproduce each peer
    exactly, with the peer's own argument names and defaults: :meth:`snntorch`, :meth:`norse`,
    :meth:`spikingjelly` (:mod:`neuro.nn.presets`, ``docs/porting.md``).
    """

    model = F.LIF

    def __init__(self, shape: Shape = (), tau_mem: Number = 20e-3, beta: Number | None = None,
                 **kwargs: Any) -> None:
        super().__init__(shape, {"tau_mem": tau_mem}, beta=beta, **kwargs)

    @classmethod
    def snntorch(cls, beta: Number, threshold: Number = 1.0, spike_grad: Any = None,
                 reset_mechanism: str = "subtract", reset_delay: bool = True, learn_beta: bool = False,
                 learn_threshold: bool = False, **options: Any):
        """snnTorch's ``Leaky`` with its arguments and defaults: delayed, detached subtract reset,
        ``>``, ``ATan(2)``; ``options``: ``shape``, ``backend``, ``record_states``
        (``record_states=True`` gives snnTorch's ``mem`` sequence as ``trace.v``)."""
        return cls(**presets.snntorch_leaky(beta, threshold, spike_grad, reset_mechanism, reset_delay,
                                            learn_beta, learn_threshold, **options))

    @classmethod
    def norse(cls, tau_mem_inv: Number = 1.0 / 1e-2, v_leak: Number = 0.0, v_th: Number = 1.0,
              v_reset: Number = 0.0, method: str = "super", alpha: float = 100.0, dt: float = 1e-3,
              **options: Any):
        """Norse's ``LIFBoxCell`` (``LIFBoxParameters`` fields as arguments, Norse's defaults):
        Euler step, current input, ``>``, reset to ``v_reset`` (gradient through it)."""
        return cls(**presets.norse_lif_box(tau_mem_inv, v_leak, v_th, v_reset, method, alpha, dt,
                                           **options))

    @classmethod
    def spikingjelly(cls, tau: float = 2.0, decay_input: bool = True, v_threshold: float = 1.0,
                     v_reset: float | None = 0.0, surrogate_function: Any = None,
                     detach_reset: bool = False, **options: Any):
        """SpikingJelly's ``LIFNode`` with its arguments and defaults (``v_reset=None``: soft
        reset; ``>=``; default surrogate ``Sigmoid(4)``)."""
        return cls(**presets.spikingjelly_lif(tau, decay_input, v_threshold, v_reset,
                                              surrogate_function, detach_reset, **options))


class CubaLIF(NeuronBase):
    """Current-based LIF (NIR ``CubaLIF``).

    ``i_t = alpha i_{t-1} + g_i x_t``, ``v_t = beta v_{t-1} + (1 - beta) v_leak + g_v i_t``,
    spike and reset; ``alpha``, ``beta`` from ``tau_syn``, ``tau_mem`` (or given directly);
    ``g_i = w_in``, ``g_v = r`` (times ``1 - alpha`` / ``1 - beta`` with ``decay_input``).
    Other (keyword) arguments: :class:`NeuronBase`. Presets: :meth:`snntorch` (``Synaptic``),
    :meth:`norse` (``LIFCell``).
    """

    model = F.CUBA_LIF

    def __init__(self, shape: Shape = (), tau_mem: Number = 20e-3, tau_syn: Number = 5e-3,
                 w_in: Number = 1.0, beta: Number | None = None, alpha: Number | None = None,
                 **kwargs: Any) -> None:
        super().__init__(shape, {"tau_mem": tau_mem, "tau_syn": tau_syn, "w_in": w_in}, beta=beta,
                         alpha=alpha, **kwargs)

    @classmethod
    def snntorch(cls, alpha: Number, beta: Number, threshold: Number = 1.0, spike_grad: Any = None,
                 reset_mechanism: str = "subtract", reset_delay: bool = True, learn_alpha: bool = False,
                 learn_beta: bool = False, learn_threshold: bool = False, **options: Any):
        """snnTorch's ``Synaptic`` with its arguments and defaults (``syn = alpha syn + x``,
        ``mem = beta mem + syn``, delayed detached subtract reset, ``>``, ``ATan(2)``)."""
        return cls(**presets.snntorch_synaptic(alpha, beta, threshold, spike_grad, reset_mechanism,
                                               reset_delay, learn_alpha, learn_beta, learn_threshold,
                                               **options))

    @classmethod
    def norse(cls, tau_syn_inv: Number = 1.0 / 5e-3, tau_mem_inv: Number = 1.0 / 1e-2,
              v_leak: Number = 0.0, v_th: Number = 1.0, v_reset: Number = 0.0, method: str = "super",
              alpha: float = 100.0, dt: float = 1e-3, **options: Any):
        """Norse's current-based ``LIFCell`` / ``LIF`` (``LIFParameters`` fields as arguments,
        Norse's defaults). neuro's state ``i`` holds the current before its decay of the step."""
        return cls(**presets.norse_lif(tau_syn_inv, tau_mem_inv, v_leak, v_th, v_reset, method, alpha,
                                       dt, **options))


class ALIF(NeuronBase):
    """Adaptive-threshold LIF (Bellec et al. 2018, LSNN).

    LIF membrane; threshold ``theta_t = v_th + beta_adapt a_{t-1}``; adaptation
    ``a_t = rho a_{t-1} + (1 - rho) s_t`` with ``rho`` from ``tau_adapt``; subtract or zero reset.
    Other (keyword) arguments: :class:`NeuronBase`.
    """

    model = F.ALIF

    def __init__(self, shape: Shape = (), tau_mem: Number = 20e-3, tau_adapt: Number = 200e-3,
                 beta_adapt: Number = 0.2, beta: Number | None = None, **kwargs: Any) -> None:
        super().__init__(shape, {"tau_mem": tau_mem, "tau_adapt": tau_adapt,
                                 "beta_adapt": beta_adapt}, beta=beta, **kwargs)


class LI(NeuronBase):
    """Leaky integrator (non-spiking readout): ``v_t = beta v_{t-1} + (1 - beta) v_leak + g x_t``.

    The output is the membrane sequence. Other (keyword) arguments: :class:`NeuronBase`.
    Preset: :meth:`norse` (``LIBoxCell``).
    """

    model = F.LI

    def __init__(self, shape: Shape = (), tau_mem: Number = 20e-3, beta: Number | None = None,
                 **kwargs: Any) -> None:
        super().__init__(shape, {"tau_mem": tau_mem}, beta=beta, **kwargs)

    @classmethod
    def norse(cls, tau_mem_inv: Number = 1.0 / 1e-2, v_leak: Number = 0.0, dt: float = 1e-3,
              **options: Any):
        """Norse's ``LIBoxCell`` (``LIBoxParameters`` fields as arguments, Norse's defaults)."""
        return cls(**presets.norse_li_box(tau_mem_inv, v_leak, dt, **options))


class CubaLI(NeuronBase):
    """Current-based leaky integrator (NIR ``CubaLI``); the output is the membrane sequence.

    Other (keyword) arguments: :class:`NeuronBase`.
    """

    model = F.CUBA_LI

    def __init__(self, shape: Shape = (), tau_mem: Number = 20e-3, tau_syn: Number = 5e-3,
                 w_in: Number = 1.0, beta: Number | None = None, alpha: Number | None = None,
                 **kwargs: Any) -> None:
        super().__init__(shape, {"tau_mem": tau_mem, "tau_syn": tau_syn, "w_in": w_in}, beta=beta,
                         alpha=alpha, **kwargs)


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
