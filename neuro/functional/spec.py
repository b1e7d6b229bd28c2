r"""Neuron models described by a :class:`~neuro.kernels.neuron_spec.NeuronSpec`, as functions.

``spec_scan(spec, x[T, B, *features], state, values, dt, cfg)`` runs a whole sequence on the fused
kernels (or the torch reference); ``spec_step`` one step in pure torch. ``values`` maps parameter
names to numbers or per-neuron tensors (broadcastable to ``features``; learned ones are tensors
that require grad); the spec's defaults fill the rest. The states are a ``NamedTuple`` of
``[B, *features]`` tensors (:func:`state_type`), the spec's ``states`` in order.

How a spec becomes kernel arguments (``neuro.ops.spec``): the coefficient table
``prm [P, C]`` stacks the parameters and then the spec's derived ``coefficients(p)`` (computed here
in torch, in the compute dtype, differentiable), ``C = 1`` when every value is a number and
``prod(features)`` otherwise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from functools import cache
from typing import NamedTuple

import torch

from neuro.kernels.neuron_spec import NeuronSpec, Record
from neuro.ops.spec import SpecConfig, as_model, constants, kc_values, spec_step_reference
from neuro.ops.spec import spec_scan as _op_scan
from neuro.state import stateclass
from neuro.validation import check_parameter, check_state, check_tensor

Number = float | torch.Tensor


@cache
def state_type(spec: NeuronSpec) -> type:
    """A state ``NamedTuple`` class with one field per state of ``spec`` (made once per spec)."""
    fields = [(name, torch.Tensor) for name in spec.states]
    name = re.sub(r"\W", "_", spec.name).strip("_") or "Neuron"
    cls = NamedTuple(f"{name}State", fields)  # type: ignore[misc]
    cls.__doc__ = f"State of the {spec.name} neuron: {', '.join(spec.states)} (each [B, *features])."
    return stateclass(cls)


def check_values(spec: NeuronSpec, values: Mapping[str, Number]) -> dict[str, Number]:
    """The spec's defaults updated by ``values``, every value validated (finite; > 0 for the
    spec's ``positive`` parameters). Errors name the parameter."""
    unknown = set(values) - set(spec.parameters)
    if unknown:
        raise TypeError(f"{spec.name} has no parameter(s) {sorted(unknown)}; its parameters: "
                        f"{', '.join(spec.parameters)}")
    merged = {**spec.parameters, **values}
    for name, value in merged.items():
        check_parameter(value, name, "positive" if name in spec.positive else "finite")
    return merged


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    return torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype


def coefficient_table(spec: NeuronSpec, values: Mapping[str, Number], dt: float,
                      features: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The ``[P, C]`` table of the kernels: parameters, then derived coefficients (differentiable)."""
    model = as_model(spec)
    tensors = {name: torch.as_tensor(values[name], dtype=dtype, device=device) for name in spec.parameters}
    if spec.coefficients is not None:
        derived = spec.coefficients(Record("parameter", {**tensors, "dt": float(dt)}))
        for name in model.coefficient_names:
            tensors[name] = torch.as_tensor(derived[name], dtype=dtype, device=device)
    rows = [tensors[name] for name in model.rows]
    if all(t.dim() == 0 for t in rows):
        return torch.stack(rows).reshape(len(rows), 1)
    expanded = []
    for name, t in zip(model.rows, rows):
        try:
            expanded.append(t.expand(features).reshape(-1))
        except RuntimeError:
            raise ValueError(f"{spec.name}: {name} has shape {tuple(t.shape)}, which does not broadcast to "
                             f"the feature shape {features} of the input") from None
    return torch.stack(expanded)


def initial_state(spec: NeuronSpec, values: Mapping[str, Number], like: torch.Tensor):
    """The spec's initial states for inputs shaped like ``like`` (``[B, *features]``)."""
    out = []
    record = Record("parameter", values)
    for init in spec.states.values():
        value = init(record) if callable(init) else values[init] if isinstance(init, str) else init
        t = torch.as_tensor(value, dtype=like.dtype, device=like.device).detach()
        out.append(torch.zeros_like(like) + t)
    return state_type(spec)(*out)


def _prepare(spec: NeuronSpec, x: torch.Tensor, state, values, batch_shape, stype):
    stype = stype or state_type(spec)
    if state is None:
        state = initial_state(spec, values, x)
        state = stype(*state)
    else:
        check_state(state, stype, x, batch_shape)
    return state, stype


def spec_scan(spec: NeuronSpec, x: torch.Tensor, state=None, values: Mapping[str, Number] | None = None,
              dt: float = 1e-3, cfg: SpecConfig | None = None, record: bool = False,
              backend: str = "auto", stype: type | None = None):
    """Run ``spec`` over ``x: [T, B, *features]``.

    Returns ``(spikes, state)`` — the final state — or with ``record=True``
    ``(spikes, state, trace)``, ``trace`` the states after every step (``[T, B, *features]``
    fields). ``values`` are validated by the caller (:func:`check_values`; the modules do it at
    construction); ``stype`` is the state class (default :func:`state_type`).
    """
    check_tensor(x, "x", 3, "[T, B, *features]")
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive number of seconds, got {dt!r}")
    cfg = cfg or SpecConfig()
    values = {**spec.parameters, **(values or {})}
    T, batch_shape, features = x.shape[0], tuple(x.shape[1:]), tuple(x.shape[2:])
    dtype = _compute_dtype(x)
    xc = x.to(dtype)
    state, stype = _prepare(spec, xc[0], state, values, batch_shape, stype)
    prm = coefficient_table(spec, values, dt, features, dtype, x.device)
    n = xc[0].numel()
    y0 = torch.stack([s.reshape(n) for s in state])
    res = _op_scan(spec, xc.reshape(T, n), prm, y0, cfg, dt, record=record, backend=backend)
    spikes = res.spikes.view(x.shape).to(x.dtype)
    final = stype(*(t.view(batch_shape) for t in res.last.unbind(0)))
    if not record:
        return spikes, final
    trace = stype(*(t.view(x.shape) for t in res.rec.unbind(0)))
    return spikes, final, trace


def spec_step(spec: NeuronSpec, x: torch.Tensor, state=None, values: Mapping[str, Number] | None = None,
              dt: float = 1e-3, cfg: SpecConfig | None = None, stype: type | None = None):
    """One step of ``spec`` on ``x: [B, *features]`` in pure torch: ``(spikes, state)`` (for custom
    loops and recurrent wiring; the same operations as one step of :func:`spec_scan`)."""
    check_tensor(x, "x", 1, "[B, *features]")
    cfg = cfg or SpecConfig()
    values = {**spec.parameters, **(values or {})}
    dtype = _compute_dtype(x)
    xc = x.to(dtype)
    state, stype = _prepare(spec, xc, state, values, tuple(x.shape), stype)
    if not bool(torch.isfinite(xc).all()):
        raise ValueError("x contains NaN or inf values; spiking neurons need finite inputs")
    model = as_model(spec)
    features = tuple(x.shape[1:])
    prm = coefficient_table(spec, values, dt, features, dtype, x.device)
    rows = [r.reshape(features) if prm.shape[1] > 1 else r.reshape((1,) * len(features)) for r in prm]
    kc = list(constants(kc_values(model, cfg, dt), dtype, x.device).unbind(0))
    new, s, _ = spec_step_reference(model, xc, list(state), rows, kc, cfg)
    return s.to(x.dtype), stype(*new)
