r"""The Izhikevich neuron layer, stepped as NEST's ``izhikevich`` (identical spike times in float64).

Equations and units: :mod:`neuro.kernels.izhikevich_math`. Fused CPU/CUDA kernels and exact BPTT
through the surrogate come from the model-description machinery (:mod:`neuro.nn.custom`).
"""

from __future__ import annotations

from typing import Any

from neuro.functional.izhikevich import PRESETS, SPEC, IzhikevichState, preset_parameters
from neuro.nn import presets
from neuro.nn.custom import Number, Shape, SpecNeuron


class Izhikevich(SpecNeuron):
    r"""Izhikevich (2003) neurons: ``v' = v + h (0.04 v^2 + 5 v + 140 - u + x)``,
    ``u' = u + h a (b v - u)``, spike when ``v' >= v_th`` (30 mV), then ``v <- c``, ``u <- u + d``.

    ``x`` is the input current (NEST's pA), ``h = dt / time_unit`` (ms). ``forward(x[T, B, ...])``
    returns ``(spikes, IzhikevichState(v, u))``; the initial state is ``v = c``, ``u = b c``
    (Izhikevich's; NEST starts at ``v = -65``, ``u = 0``: pass a state to match it).

    Args:
        shape: feature shape of per-neuron / learned parameters.
        preset: a firing pattern of :data:`PRESETS` (``"regular_spiking"``,
            ``"intrinsically_bursting"``, ``"chattering"``, ``"fast_spiking"``,
            ``"low_threshold_spiking"``, ``"thalamo_cortical"``, ``"resonator"``) giving
            ``a, b, c, d``; explicit values override it. Default: regular spiking (NEST's).
        a, b, c, d: recovery rate, recovery sensitivity, reset potential (mV), recovery jump.
        v_th: spike cut-off (mV). sq, mn, bias: the quadratic's coefficients (0.04, 5, 140).
        time_unit: the model's time unit in seconds (1e-3: ms).
        **kwargs: the options of :class:`~neuro.nn.custom.SpecNeuron` (``dt``, ``threshold_op``,
            ``surrogate``, ``learn``, ``backend``, ...).
    """

    spec = SPEC
    state_type = IzhikevichState
    presets = PRESETS

    def __init__(self, shape: Shape = (), preset: str | None = None, *, a: Number | None = None,
                 b: Number | None = None, c: Number | None = None, d: Number | None = None,
                 v_th: Number = 30.0, sq: Number = 0.04, mn: Number = 5.0, bias: Number = 140.0,
                 time_unit: float = 1e-3, **kwargs: Any) -> None:
        values = preset_parameters(preset or "regular_spiking")
        values.update({k: v for k, v in dict(a=a, b=b, c=c, d=d).items() if v is not None})
        super().__init__(None, shape, v_th=v_th, sq=sq, mn=mn, bias=bias, time_unit=time_unit, **values,
                         **kwargs)
        self.preset = preset

    @classmethod
    def norse(cls, a: float, b: float, c: float, d: float, sq: float = 0.04, mn: float = 5.0,
              bias: float = 140.0, v_th: float = 30.0, tau_inv: float = 250.0, method: str = "super",
              alpha: float = 100.0, dt: float = 1e-3, **options: Any) -> Izhikevich:
        """Norse's ``IzhikevichCell`` / ``Izhikevich`` with an ``IzhikevichParameters``' fields:
        ``h = tau_inv dt``, spike on ``v > v_th`` with the SuperSpike surrogate (``method="super"``),
        reset through the spike (not detached). Norse squares ``v`` before scaling it (``sq v^2``,
        neuro and NEST ``(sq v) v``), so states agree to rounding."""
        return cls(a=a, b=b, c=c, d=d, sq=sq, mn=mn, bias=bias, v_th=v_th, time_unit=1.0 / tau_inv, dt=dt,
                   threshold_op=">", surrogate=presets._norse_surrogate(method, alpha), **options)

    def extra_repr(self) -> str:
        """The preset (when built from one), then the spec neuron's settings."""
        text = super().extra_repr()
        return f"preset={self.preset!r}, " + text if self.preset else text


