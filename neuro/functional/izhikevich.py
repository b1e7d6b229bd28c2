r"""The Izhikevich neuron as functions (equations: :mod:`neuro.kernels.izhikevich_math`).

:math:`v' = v + h(0.04 v^2 + 5 v + 140 - u + x)`, :math:`u' = u + h\,a(b v - u)`, spike when
:math:`v' \ge 30` mV, then :math:`v \leftarrow c`, :math:`u \leftarrow u + d` — stepped as NEST's
``izhikevich`` (same operations, same order: identical spike times and traces in float64).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from neuro.functional.spec import Number, check_values, spec_scan, spec_step
from neuro.kernels import izhikevich_math
from neuro.ops.spec import SpecConfig
from neuro.state import stateclass

SPEC = izhikevich_math.SPEC
PRESETS = izhikevich_math.PRESETS


@stateclass
class IzhikevichState(NamedTuple):
    """State of the Izhikevich neuron: membrane ``v`` (mV) and recovery ``u``."""

    v: torch.Tensor
    u: torch.Tensor


def preset_parameters(preset: str) -> dict[str, float]:
    """``{a, b, c, d}`` of a named firing pattern (:data:`PRESETS`)."""
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    return dict(zip("abcd", PRESETS[preset]))


def izhikevich_scan(x: torch.Tensor, state: IzhikevichState | None = None, dt: float = 1e-3,
                    cfg: SpecConfig | None = None, record: bool = False, backend: str = "auto",
                    **parameters: Number):
    """Izhikevich neurons over ``x [T, B, *features]`` (input current, NEST's pA);
    ``parameters``: ``a, b, c, d, v_th, sq, mn, bias, time_unit`` (defaults: NEST's, regular
    spiking). Returns ``(spikes, state)`` or, with ``record``, ``(spikes, state, trace)``."""
    values = check_values(SPEC, parameters)
    return spec_scan(SPEC, x, state, values, dt, cfg, record, backend, IzhikevichState)


def izhikevich_step(x: torch.Tensor, state: IzhikevichState | None = None, dt: float = 1e-3,
                    cfg: SpecConfig | None = None, **parameters: Number):
    """One step on ``x [B, *features]`` in pure torch: ``(spikes, state)``."""
    return spec_step(SPEC, x, state, check_values(SPEC, parameters), dt, cfg, IzhikevichState)
