r"""Neuron modules built from a model description: user-defined neurons, compiled and trainable.

Describe the model once (:class:`NeuronSpec`: states, parameters, the scalar step in plain Python,
the threshold and the reset); :class:`SpecNeuron` compiles it for the Numba CPU and CUDA kernels,
runs the same code on torch tensors as the reference, and derives the gradients automatically (the
step is traced and its exact reverse-mode derivative generated, see
:mod:`neuro.kernels.neuron_spec`). The quadratic integrate-and-fire neuron of SpikingJelly's
``QIFNode``, trained like any neuro layer::

    from neuro.nn.custom import NeuronSpec, SpecNeuron

    def qif_step(s, x, p):                  # one step of the sub-threshold dynamics
        return {"v": s.v + (x + p.a0 * (s.v - p.v_rest) * (s.v - p.v_c)) / p.tau}

    QIF = NeuronSpec(
        "QIF", states={"v": "v_rest"},      # initial value: a number or a parameter's name
        parameters={"tau": 2.0, "a0": 1.0, "v_rest": 0.0, "v_c": 0.8, "v_th": 1.0, "v_reset": -0.1},
        step=qif_step,
        threshold=lambda s, p: s.v - p.v_th,            # spike when >= 0
        reset=lambda s, p: {"v": p.v_reset},
        positive=("tau",))

    layer = SpecNeuron(QIF, shape=128, learn=("tau", "v_th"))
    spikes, state = layer(x)                # x [T, B, 128]; fused kernels, exact BPTT

Inside the step, use the functions exported here (:func:`exp`, :func:`log`, :func:`sqrt`,
:func:`tanh`, :func:`minimum`, :func:`maximum`, :func:`heaviside`; ``abs`` and ``**`` work) instead
of ``math``'s or torch's, and no Python ``if`` on states or parameters (the error says so). Any
surrogate works on the kernels, a user-defined :class:`~neuro.surrogate.Surrogate` included.

The built-in models :class:`~neuro.nn.Izhikevich`, :class:`~neuro.nn.AdEx`,
:class:`~neuro.nn.ExpIF` and :class:`~neuro.nn.AlphaLIF` are specs on the same machinery.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from neuro.backends import BACKENDS
from neuro.functional import spec as F
from neuro.kernels.neuron_spec import NeuronSpec
from neuro.kernels.symbolic import exp, heaviside, log, maximum, minimum, sqrt, tanh
from neuro.nn.neurons import SpikingModule
from neuro.ops.spec import SpecConfig
from neuro.surrogate import Surrogate, get_surrogate

Number = float | torch.Tensor
Shape = int | Sequence[int]

__all__ = ["NeuronSpec", "SpecNeuron", "exp", "heaviside", "log", "maximum", "minimum", "sqrt", "tanh"]


class SpecNeuron(SpikingModule):
    r"""A neuron layer running a :class:`NeuronSpec` model on the fused kernels.

    ``forward(x[T, B, *features], state=None) -> (spikes[T, B, *features], state)``; with
    ``record_states=True`` the state at every step instead of the final one (``trace.last()`` is
    the final state). :meth:`step` runs one step in pure torch (custom loops, recurrence).

    Args:
        spec: the model (subclasses set it as a class attribute).
        shape: feature shape of per-neuron / learned parameters (``()``: scalars broadcast).
        dt: time step in seconds (``p.dt`` in the step).
        threshold_op: ``">="`` (spike when ``z >= 0``) or ``">"``.
        detach_reset: no gradient through the spike's effect on the reset.
        surrogate: spike pseudo-derivative (:mod:`neuro.surrogate`, a name, or your own subclass).
        learn: parameter names to learn (``True``: all), stored as ``nn.Parameter`` of ``shape``.
        record_states: ``forward`` returns the state at every step.
        backend: ``"auto"``, ``"torch"``, ``"numba"`` or ``"cuda"``.
        **parameters: values of the spec's parameters (numbers or per-neuron tensors); the spec's
            defaults fill the rest. Validated here (finite; > 0 for the spec's ``positive``).

    Parameters are kept by NeuronBase's rule: learned -> ``nn.Parameter``, a fixed tensor -> a
    buffer, a fixed number -> a float (scalar fast path, no host synchronisation per call). Read
    one as ``module.<name>``.
    """

    spec: NeuronSpec
    state_type: type | None = None

    def __init__(self, spec: NeuronSpec | None = None, shape: Shape = (), *, dt: float = 1e-3,
                 threshold_op: str = ">=", detach_reset: bool = False,
                 surrogate: Surrogate | str = "atan", learn: bool | Iterable[str] = (),
                 record_states: bool = False, backend: str = "auto", **parameters: Number) -> None:
        super().__init__()
        if spec is not None:
            self.spec = spec
        if not isinstance(getattr(self, "spec", None), NeuronSpec):
            raise TypeError(f"{type(self).__name__} needs a NeuronSpec, got {spec!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if threshold_op not in (">=", ">"):
            raise ValueError(f"threshold_op must be '>=' or '>', got {threshold_op!r}")
        if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not (math.isfinite(dt) and dt > 0):
            raise ValueError(f"dt must be a positive number of seconds, got {dt!r}")
        values = F.check_values(self.spec, parameters)
        names = tuple(self.spec.parameters) if learn is True else tuple(learn or ())
        unknown = set(names) - set(self.spec.parameters)
        if unknown:
            raise ValueError(f"learn names unknown parameters {sorted(unknown)}; {self.spec.name}'s "
                             f"parameters: {', '.join(self.spec.parameters)}")
        self.shape = (shape,) if isinstance(shape, int) else tuple(shape)
        self.cfg = SpecConfig(ge=threshold_op == ">=", detach_reset=detach_reset,
                              surrogate=get_surrogate(surrogate))
        self._dt = float(dt)
        self.record_states = record_states
        self.backend = backend
        self._numbers: dict[str, float] = {}
        for name, value in values.items():
            self._store(name, value, name in names)
        F.as_model(self.spec)  # trace the model now: a mistake in it fails at construction

    def _store(self, name: str, value: Number, learn: bool) -> None:
        if learn:
            t = torch.as_tensor(value, dtype=torch.get_default_dtype())
            t = t.expand(self.shape).clone() if self.shape else t.clone()
            self.register_parameter(name, nn.Parameter(t))
        elif isinstance(value, torch.Tensor):
            self.register_buffer(name, value.detach().to(torch.get_default_dtype()).clone())
        else:
            self._numbers[name] = float(value)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            numbers = self.__dict__.get("_numbers", {})
            if name in numbers:
                return numbers[name]
            raise

    @property
    def dt(self) -> float:
        """The time step (seconds)."""
        return self._dt

    @property
    def values(self) -> dict[str, Number]:
        """Every parameter's current value (floats, buffers or Parameters)."""
        return {name: getattr(self, name) for name in self.spec.parameters}

    def initial_state(self, like: torch.Tensor):
        """Fresh state for one step of input shaped like ``like`` (``[B, *features]``)."""
        return self._stype(*F.initial_state(self.spec, self.values, like))

    @property
    def _stype(self) -> type:
        return self.state_type or F.state_type(self.spec)

    def step(self, x_t: torch.Tensor, state=None):
        """One step in pure torch on ``x_t [B, *features]``: ``(spikes_t, state)``."""
        return F.spec_step(self.spec, x_t, state, self.values, self.dt, self.cfg, stype=self._stype)

    def forward(self, x: torch.Tensor, state=None):
        """``x [T, B, *features] -> (spikes, state)`` (``(spikes, trace)`` with ``record_states``)."""
        if isinstance(x, torch.Tensor) and x.dim() == 2:
            raise ValueError(
                f"{type(self).__name__} runs whole sequences and takes x of shape [T, B, *features], got a "
                f"2-D tensor of shape {tuple(x.shape)}: [B, N] and [T, B] are ambiguous; use "
                "x.unsqueeze(0) for one step (or .step()), x.unsqueeze(-1) for scalar neurons")
        if not self.record_states:
            return F.spec_scan(self.spec, x, state, self.values, self.dt, self.cfg, backend=self.backend,
                               stype=self._stype)
        out, _, trace = F.spec_scan(self.spec, x, state, self.values, self.dt, self.cfg, record=True,
                                    backend=self.backend, stype=self._stype)
        return out, trace

    def extra_repr(self) -> str:
        """The spec's name, shape, every parameter value (``(learned)`` when trained), ``dt``, the threshold
        comparison, the reset detachment, surrogate and backend.
        """
        parts = [f"{self.spec.name}"] if type(self) is SpecNeuron else []
        if self.shape:
            parts.append(f"shape={self.shape}")
        for name, value in self.values.items():
            learned = name in self._parameters
            if isinstance(value, torch.Tensor) and value.numel() > 1:
                text = f"{name}=<{tuple(value.shape)}>"
            else:
                text = f"{name}={float(value.detach() if isinstance(value, torch.Tensor) else value):g}"
            parts.append(text + " (learned)" * learned)
        parts.append(f"dt={self.dt:g}, threshold_op={'>=' if self.cfg.ge else '>'!r}")
        if self.cfg.detach_reset:
            parts.append("detach_reset=True")
        parts.append(f"surrogate={self.cfg.surrogate!r}, backend={self.backend!r}")
        return ", ".join(parts)


def spec_parameters(spec: NeuronSpec, given: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``given`` that are parameters of ``spec`` (helper for subclass signatures)."""
    return {k: v for k, v in given.items() if k in spec.parameters}
