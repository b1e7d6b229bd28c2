r"""The AdEx and exponential integrate-and-fire neurons as functions (equations:
:mod:`neuro.kernels.adex_math`, built on the AdEx terms of :mod:`neuro.kernels.aeif_math`).

:math:`C_m \dot V = -g_L(V - E_L) + g_L \Delta_T e^{(V - V_{th})/\Delta_T} - w + x`,
:math:`\tau_w \dot w = a(V - E_L) - w` (AdEx), forward Euler at ``dt``; spike at ``V >= V_peak``,
then ``V <- V_reset``, ``w <- w + b``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from neuro.functional.spec import Number, check_values, spec_scan, spec_step
from neuro.kernels import adex_math
from neuro.ops.spec import SpecConfig
from neuro.state import stateclass

ADEX = adex_math.ADEX
EXPIF = adex_math.EXPIF


@stateclass
class AdExState(NamedTuple):
    """State of the AdEx neuron: membrane ``v`` (mV) and adaptation current ``w`` (pA)."""

    v: torch.Tensor
    w: torch.Tensor


@stateclass
class ExpIFState(NamedTuple):
    """State of the exponential integrate-and-fire neuron: membrane ``v`` (mV)."""

    v: torch.Tensor


def adex_scan(x: torch.Tensor, state: AdExState | None = None, dt: float = 1e-3,
              cfg: SpecConfig | None = None, record: bool = False, backend: str = "auto",
              **parameters: Number):
    """AdEx neurons over ``x [T, B, *features]`` (input current, pA); ``parameters``: ``C_m, g_L,
    E_L, V_th, Delta_T, tau_w, a, b, V_reset, V_peak, time_unit`` (NEST's defaults)."""
    return spec_scan(ADEX, x, state, check_values(ADEX, parameters), dt, cfg, record, backend, AdExState)


def expif_scan(x: torch.Tensor, state: ExpIFState | None = None, dt: float = 1e-3,
               cfg: SpecConfig | None = None, record: bool = False, backend: str = "auto",
               **parameters: Number):
    """Exponential IF neurons over ``x [T, B, *features]``; ``parameters``: ``C_m, g_L, E_L, V_th,
    Delta_T, V_reset, V_peak, time_unit``."""
    return spec_scan(EXPIF, x, state, check_values(EXPIF, parameters), dt, cfg, record, backend, ExpIFState)


def adex_step(x: torch.Tensor, state: AdExState | None = None, dt: float = 1e-3,
              cfg: SpecConfig | None = None, **parameters: Number):
    """One AdEx step on ``x [B, *features]`` in pure torch."""
    return spec_step(ADEX, x, state, check_values(ADEX, parameters), dt, cfg, AdExState)


def expif_step(x: torch.Tensor, state: ExpIFState | None = None, dt: float = 1e-3,
               cfg: SpecConfig | None = None, **parameters: Number):
    """One exponential-IF step on ``x [B, *features]`` in pure torch."""
    return spec_step(EXPIF, x, state, check_values(EXPIF, parameters), dt, cfg, ExpIFState)
