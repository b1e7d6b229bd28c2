r"""Astrocyte-modulated spiking units (AM-SU) as functions: states, astrocyte coefficients, scan.

A LIF (or CubaLIF) layer whose neurons are grouped into astrocyte domains (equations in
:mod:`neuro.nn.astro` and :mod:`neuro.kernels.amsu_math`). Per domain ``d`` and step ``t``::

    c_t      = a_{t-1}^2 / (a_{t-1}^2 + K_d^2)
    x'_t[n]  = (1 + kappa_g[d] c_t) x_t[n] + kappa_I[d] c_t
    th'_t[n] = v_th[n] + kappa_th[d] c_t
    s_t, v_t = LIF (or CubaLIF) step on x'_t with threshold th'_t
    a_t      = gamma_d a_{t-1} + (1 - gamma_d) mean_{n in d} s_t[n]      gamma_d = exp(-dt / tau_astro[d])

:func:`amsu_scan` does the argument and state handling (shapes, dtypes, fresh states, fp16/bf16
inputs integrated in fp32) and runs :func:`neuro.ops.amsu.amsu_scan` on the chosen backend, as
:func:`neuro.functional.neuron_scan` does for the LIF family.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from neuro.functional.lif import (
    DEFAULT_PARAMETERS,
    NeuronModel,
    NeuronParameters,
    coefficients,
    initial_state,
)
from neuro.ops import amsu as ops
from neuro.ops.amsu import AMSUConfig, Domains
from neuro.state import stateclass
from neuro.validation import check_state, check_tensor

__all__ = ["AMSUConfig", "AMSUState", "AstroParameters", "CubaAMSUState", "Domains",
           "amsu_initial_state", "amsu_scan", "amsu_state_type", "astro_coefficients"]


@stateclass
class AMSUState(NamedTuple):
    """State of an AM-SU LIF layer: membrane ``v [B, *features]`` and astrocytes ``a [B, D]``."""

    v: torch.Tensor
    a: torch.Tensor


@stateclass
class CubaAMSUState(NamedTuple):
    """State of an AM-SU CubaLIF layer: current ``i``, membrane ``v`` and astrocytes ``a [B, D]``."""

    i: torch.Tensor
    v: torch.Tensor
    a: torch.Tensor


class AstroParameters(NamedTuple):
    """Per-domain astrocyte parameters, ``[D]`` tensors: time constant ``tau_astro`` (unit of
    ``dt``), calcium half-activation ``K`` and the couplings ``kappa_*`` (``None``: not acting)."""

    tau_astro: torch.Tensor
    K: torch.Tensor
    kappa_gain: torch.Tensor | None = None
    kappa_threshold: torch.Tensor | None = None
    kappa_current: torch.Tensor | None = None


def amsu_state_type(model: NeuronModel) -> type:
    """The state type of an AM-SU layer of ``model`` (``LIF`` or ``CubaLIF``)."""
    if model.has_adapt or not model.spiking:
        raise ValueError(f"AM-SU layers are built on LIF or CubaLIF neurons, not {model.name}")
    return CubaAMSUState if model.has_syn else AMSUState


def astro_coefficients(astro: AstroParameters, dt: float, dtype: torch.dtype,
                       device: torch.device) -> torch.Tensor:
    """The kernels' ``[5, D]`` table, rows ``gamma, K, kappa_g, kappa_th, kappa_I``
    (``gamma = exp(-dt / tau_astro)``; differentiable in ``astro``)."""
    zeros = torch.zeros(astro.tau_astro.shape[0], dtype=dtype, device=device)

    def row(value: torch.Tensor | None) -> torch.Tensor:
        return zeros if value is None else value.to(dtype)

    gamma = torch.exp(-dt / astro.tau_astro.to(dtype))
    return torch.stack([gamma, astro.K.to(dtype), row(astro.kappa_gain), row(astro.kappa_threshold),
                        row(astro.kappa_current)]).to(device)


def amsu_initial_state(model: NeuronModel, params: NeuronParameters, like: torch.Tensor,
                       n_domains: int):
    """Fresh state for one step shaped like ``like`` (``[B, *features]``): neurons at rest
    (:func:`neuro.functional.initial_state`), astrocytes at 0."""
    neurons = initial_state(model, params, like)
    return amsu_state_type(model)(*neurons, like.new_zeros((like.shape[0], n_domains)))


def _check_amsu_state(state: object, state_type: type, like: torch.Tensor, n_domains: int) -> None:
    shapes = {f: tuple(like.shape) for f in state_type._fields}
    shapes["a"] = (like.shape[0], n_domains)
    check_state(state, state_type, like, shapes)
    if bool((state.a < 0).any()):
        raise ValueError("state.a (astrocyte activity) must be >= 0")


def amsu_scan(model: NeuronModel, x: torch.Tensor, domains: Domains, astro: AstroParameters,
              state=None, params: NeuronParameters = DEFAULT_PARAMETERS,
              cfg: AMSUConfig | None = None, record: bool = False, backend: str = "auto"):
    """Run an AM-SU layer of ``model`` (LIF or CubaLIF) over ``x: [T, B, *features]``.

    ``domains`` partitions the ``prod(features)`` neurons; ``state=None`` starts from rest.
    Returns ``(spikes, state)`` with the final state, or with ``record=True``
    ``(spikes, state, trace)``, ``trace`` the same state type holding every step
    (``[T, B, *features]`` / ``[T, B, D]`` fields).
    """
    state_type = amsu_state_type(model)
    cfg = cfg if cfg is not None else AMSUConfig(has_syn=model.has_syn)
    if cfg.has_syn != model.has_syn:
        raise ValueError(f"cfg.has_syn={cfg.has_syn} does not match the {model.name} model")
    check_tensor(x, "x", 3, "[T, B, *features]")
    features = tuple(x.shape[2:])
    n = int(np.prod(features))
    if n != domains.n:
        raise ValueError(f"x has features {features} ({n} neurons), the domains cover {domains.n}")
    dtype = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
    xc = x.to(dtype)
    T, B = x.shape[:2]
    if state is None:
        state = amsu_initial_state(model, params, xc[0], domains.D)
    else:
        _check_amsu_state(state, state_type, xc[0], domains.D)
    prm = coefficients(model, params, features, dtype, x.device)
    aprm = astro_coefficients(astro, params.dt, dtype, x.device)
    i0 = state.i if model.has_syn else torch.zeros_like(state.v)
    res = ops.amsu_scan(xc.reshape(T, B, n), prm, aprm, domains, i0.reshape(B, n),
                        state.v.reshape(B, n), state.a, cfg, record=record, backend=backend)
    out = res.spikes.view(x.shape).to(x.dtype)
    neurons, seq = (B,) + features, (T, B) + features
    final = state_type(*((res.i_last.view(neurons),) if model.has_syn else ()),
                       res.v_last.view(neurons), res.a_last)
    if not record:
        return out, final
    trace = state_type(*((res.i_seq.view(seq),) if model.has_syn else ()), res.v_seq.view(seq),
                       res.a_seq)
    return out, final, trace
