r"""The alpha-synapse LIF neuron of snnTorch (``snntorch.Alpha``) as a
:class:`~neuro.kernels.neuron_spec.NeuronSpec` (every reset mechanism in one model).

Two synaptic currents filter the input with decays ``alpha > beta``; the membrane is their scaled
sum, so a single input spike makes the membrane follow a difference of exponentials
``tau_a (alpha^t - beta^t)`` (an alpha-like kernel with a finite rise)::

    r_t      = H(v_{t-1} - v_th)                         (the previous step's spike, detached)
    e_t      = alpha e_{t-1} + x_t
    i_t      = beta i_{t-1} - x_t
    v_t      = tau_a (e_t + i_t),      tau_a = log(alpha) / (log(beta) - log(alpha)) + 1
    reset "subtract": e_t -= v_th r_t,  i_t -= (beta i_{t-1} - x_t) r_t,  v_t -= -i_{t-1} r_t
    reset "zero":     e_t -= e_t r_t,   i_t -= i_t r_t,                    v_t -= v_t r_t
    s_t      = H(v_t - v_th)           (``>``; the surrogate gives its gradient)

exactly snnTorch's operations and order (its reset is applied one step after the spike and is
detached from the graph), so spikes, states and gradients are snnTorch's. ``tau_a`` is computed
once per call in torch from ``alpha`` and ``beta`` in the compute dtype (a derived coefficient), as
snnTorch does.
"""

from __future__ import annotations

from functools import cache
from types import MappingProxyType, ModuleType

from .neuron_spec import NeuronSpec
from .neuron_spec import compile_for as _compile_for
from .symbolic import heaviside, log

PARAMETERS = MappingProxyType({"alpha": 0.9, "beta": 0.8, "v_th": 1.0})


def alpha_step(s, x, p):
    """One snnTorch step; the reset mechanism enters as 0/1 factors (``p.subtract``, ``p.zero``):
    ``y - (c r) * 1`` and ``y - 0`` are exactly ``y - c r`` and ``y``, so one compiled model computes
    every mechanism with snnTorch's values."""
    r = heaviside(s.v - p.v_th)  # snnTorch's mem_reset: the previous membrane, detached
    e = p.alpha * s.e + x
    i = p.beta * s.i - x
    v = p.tau_a * (e + i)
    e = e - p.v_th * r * p.subtract   # "subtract": e -= th r,  i -= (beta i - x) r,  v -= -i r
    i = i - (p.beta * s.i - x) * r * p.subtract
    v = v - (-s.i) * r * p.subtract
    e = e - e * r * p.zero            # "zero": every state -= itself * r
    i = i - i * r * p.zero
    v = v - v * r * p.zero
    return {"e": e, "i": i, "v": v}


def alpha_threshold(s, p):
    """Spike when ``v > v_th`` (``threshold_op=">"``, snnTorch's)."""
    return s.v - p.v_th


def alpha_coefficients(p):
    """snnTorch's ``tau_alpha``, the gain that makes the membrane's kernel peak near 1."""
    return {"tau_a": log(p.alpha) / (log(p.beta) - log(p.alpha)) + 1}


#: the reset factors ``(subtract, zero)`` of each mechanism
RESET_FACTORS = MappingProxyType({"zero": (0.0, 1.0), "subtract": (1.0, 0.0), "none": (0.0, 0.0)})

SPEC = NeuronSpec("AlphaLIF", states={"e": 0.0, "i": 0.0, "v": 0.0},
                  parameters={**PARAMETERS, "subtract": 0.0, "zero": 1.0}, step=alpha_step,
                  threshold=alpha_threshold, coefficients=alpha_coefficients, doc="snnTorch Alpha")


def reset_factors(reset: str) -> dict[str, float]:
    """``{"subtract": ..., "zero": ...}`` of snnTorch's ``reset_mechanism``."""
    if reset not in RESET_FACTORS:
        raise ValueError(f"reset must be one of {tuple(RESET_FACTORS)}, got {reset!r}")
    return dict(zip(("subtract", "zero"), RESET_FACTORS[reset]))


@cache
def compile_for(target: str) -> ModuleType:
    """The alpha-LIF step compiled for ``target``."""
    return _compile_for(SPEC, target)
