r"""The adaptive exponential (AdEx, Brette & Gerstner 2005) and exponential (ExpIF, Fourcaud-Trocme
et al. 2003) integrate-and-fire neurons as :class:`~neuro.kernels.neuron_spec.NeuronSpec` models,
built from the AdEx terms of NEST's ``aeif`` models in :mod:`aeif_math` (one copy of the maths,
shared with the astrocyte networks' ``aeif_cond_alpha_astro``).

Current-based, one forward-Euler step of ``h = dt / time_unit`` (ms by default) from the old values,
with ``V' = min(V, V_peak)`` in the derivative as NEST's ``aeif`` right-hand side::

    C_m dV/dt   = -g_L (V' - E_L) + g_L Delta_T exp((V' - V_th) / Delta_T) - w + x
    tau_w dw/dt = a (V' - E_L) - w                                    (AdEx only)
    V <- V + h dV/dt,   w <- w + h dw/dt
    spike if V >= V_peak:  V <- V_reset,  w <- w + b

Units as NEST's (mV, pF, nS, pA, ms); defaults are NEST's ``aeif_cond_alpha`` neuron parameters
(Brette & Gerstner's). NEST integrates its ``aeif`` models with adaptive RKF45 and conductance
synapses (``neuro.astro`` reproduces that); these training forms take the input as a current and
step with Euler at ``dt``, so they are cheap and differentiable step by step. ``Delta_T`` must be
positive (``Delta_T -> 0`` is the LIF: use :class:`~neuro.nn.LIF`).
"""

from __future__ import annotations

from functools import cache
from types import MappingProxyType, ModuleType

from .aeif_math import adaptation_rate, exp_spike_current, leak_current
from .neuron_spec import NeuronSpec
from .neuron_spec import compile_for as _compile_for
from .symbolic import minimum

#: NEST's ``aeif_cond_alpha`` defaults (the current-based parts)
ADEX_PARAMETERS = MappingProxyType({
    "C_m": 281.0, "g_L": 30.0, "E_L": -70.6, "V_th": -50.4, "Delta_T": 2.0, "tau_w": 144.0,
    "a": 4.0, "b": 80.5, "V_reset": -60.0, "V_peak": 0.0, "time_unit": 1e-3})
EXPIF_PARAMETERS = MappingProxyType({k: v for k, v in ADEX_PARAMETERS.items()
                                     if k not in ("tau_w", "a", "b")})
POSITIVE = ("C_m", "g_L", "Delta_T", "tau_w", "time_unit")


def membrane_rate(v, w, x, p):
    """``dV/dt`` (mV/ms) at the clamped membrane ``v`` with adaptation current ``w``."""
    return (leak_current(v, p.g_L, p.E_L) + exp_spike_current(v, p.g_L, p.Delta_T, p.V_th) - w + x) / p.C_m


def adex_step(s, x, p):
    """One Euler step of ``(V, w)`` (module docstring)."""
    v = minimum(s.v, p.V_peak)
    return {"v": s.v + p.h * membrane_rate(v, s.w, x, p),
            "w": s.w + p.h * adaptation_rate(v, s.w, p.a, p.E_L, p.tau_w)}


def expif_step(s, x, p):
    """One Euler step of ``V`` (no adaptation current)."""
    v = minimum(s.v, p.V_peak)
    return {"v": s.v + p.h * membrane_rate(v, 0.0, x, p)}


def peak_threshold(s, p):
    """Spike when ``V >= V_peak``."""
    return s.v - p.V_peak


def adex_reset(s, p):
    """``V <- V_reset``, ``w <- w + b``."""
    return {"v": p.V_reset, "w": s.w + p.b}


def expif_reset(s, p):
    """``V <- V_reset``."""
    return {"v": p.V_reset}


def step_in_model_time(p):
    """The step in model time units."""
    return {"h": p.dt / p.time_unit}


ADEX = NeuronSpec("AdEx", states={"v": "E_L", "w": 0.0}, parameters=ADEX_PARAMETERS, step=adex_step,
                  threshold=peak_threshold, reset=adex_reset, coefficients=step_in_model_time,
                  positive=POSITIVE, doc="adaptive exponential integrate-and-fire (current-based, Euler)")
EXPIF = NeuronSpec("ExpIF", states={"v": "E_L"}, parameters=EXPIF_PARAMETERS, step=expif_step,
                   threshold=peak_threshold, reset=expif_reset, coefficients=step_in_model_time,
                   positive=tuple(n for n in POSITIVE if n in EXPIF_PARAMETERS),
                   doc="exponential integrate-and-fire (current-based, Euler)")


@cache
def compile_for(target: str, model: str = "AdEx") -> ModuleType:
    """The AdEx (``model="AdEx"``) or ExpIF step compiled for ``target``."""
    return _compile_for({"AdEx": ADEX, "ExpIF": EXPIF}[model], target)
