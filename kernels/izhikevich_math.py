r"""The Izhikevich (2003) neuron as a :class:`~neuro.kernels.neuron_spec.NeuronSpec`, stepped as
NEST's ``izhikevich`` model (``consistent_integration=True``, its default).

With membrane ``v`` (mV), recovery ``u``, input current ``x`` (NEST's ``I_e`` plus the currents of
the step) and the step ``h = dt / time_unit`` (ms by default), one forward-Euler step from the old
values of both variables, in NEST's order of operations::

    v' = v + h * (sq * v * v + mn * v + bias - u + x)          (sq, mn, bias = 0.04, 5, 140)
    u' = u + h * a * (b * v - u)
    spike if v' >= v_th (30 mV):  v' <- c,  u' <- u' + d

The products and sums are evaluated left to right exactly as NEST's C++ (``0.04 * v * v`` is
``(0.04 v) v``), so with the same parameters, step and float64 the spike times and traces are
NEST's to the last bit. NEST's lower bound ``V_min`` (inactive by default) is not modelled.
:data:`PRESETS` are the firing patterns of Izhikevich (2003), Fig. 2.

Units: ``dt`` in seconds like every neuro module; ``time_unit`` is the model's unit of time in
seconds (1e-3: ms, NEST's and the paper's), so ``h = 1.0`` at ``dt = 1e-3`` and ``0.1`` at
``dt = 1e-4`` (these quotients are exact in binary64).
"""

from __future__ import annotations

from functools import cache
from types import MappingProxyType, ModuleType

from .neuron_spec import NeuronSpec
from .neuron_spec import compile_for as _compile_for

#: (a, b, c, d) of the firing patterns of Izhikevich (2003), Fig. 2
PRESETS = MappingProxyType({
    "regular_spiking": (0.02, 0.2, -65.0, 8.0),
    "intrinsically_bursting": (0.02, 0.2, -55.0, 4.0),
    "chattering": (0.02, 0.2, -50.0, 2.0),
    "fast_spiking": (0.1, 0.2, -65.0, 2.0),
    "low_threshold_spiking": (0.02, 0.25, -65.0, 2.0),
    "thalamo_cortical": (0.02, 0.25, -65.0, 0.05),
    "resonator": (0.1, 0.26, -65.0, 2.0),
})

#: parameter defaults: NEST's ``izhikevich`` (regular spiking)
PARAMETERS = MappingProxyType({"a": 0.02, "b": 0.2, "c": -65.0, "d": 8.0, "v_th": 30.0, "sq": 0.04,
                               "mn": 5.0, "bias": 140.0, "time_unit": 1e-3})


def izhikevich_step(s, x, p):
    """One NEST step of the sub-threshold dynamics (module docstring)."""
    v = s.v + p.h * (p.sq * s.v * s.v + p.mn * s.v + p.bias - s.u + x)
    u = s.u + p.h * p.a * (p.b * s.v - s.u)
    return {"v": v, "u": u}


def izhikevich_threshold(s, p):
    """Spike when ``v >= v_th``."""
    return s.v - p.v_th


def izhikevich_reset(s, p):
    """``v <- c``, ``u <- u + d``."""
    return {"v": p.c, "u": s.u + p.d}


def izhikevich_coefficients(p):
    """The step in model time units."""
    return {"h": p.dt / p.time_unit}


SPEC = NeuronSpec(
    "Izhikevich", states={"v": "c", "u": lambda p: p.b * p.c}, parameters=PARAMETERS,
    step=izhikevich_step, threshold=izhikevich_threshold, reset=izhikevich_reset,
    coefficients=izhikevich_coefficients, positive=("time_unit",),
    doc="Izhikevich (2003), NEST's izhikevich stepping")


@cache
def compile_for(target: str) -> ModuleType:
    """The Izhikevich step compiled for ``target`` (``neuron_spec.compile_for``)."""
    return _compile_for(SPEC, target)
