r"""Adaptive exponential (AdEx) and exponential (ExpIF) integrate-and-fire neuron layers.

Equations, units and defaults (NEST's ``aeif`` parameters): :mod:`neuro.kernels.adex_math`; the
AdEx terms are those of :mod:`neuro.kernels.aeif_math`, shared with the astrocyte networks. Fused
CPU/CUDA kernels and exact BPTT come from :mod:`neuro.nn.custom`.
"""

from __future__ import annotations

from typing import Any

from neuro.functional.adex import ADEX, EXPIF, AdExState, ExpIFState
from neuro.nn import presets
from neuro.nn.custom import Number, Shape, SpecNeuron
from neuro.surrogate import Sigmoid


class AdEx(SpecNeuron):
    r"""Adaptive exponential integrate-and-fire neurons (Brette & Gerstner 2005), current input.

    ``C_m dV/dt = -g_L (V - E_L) + g_L Delta_T exp((V - V_th) / Delta_T) - w + x``,
    ``tau_w dw/dt = a (V - E_L) - w``, forward Euler at ``dt``; spike at ``V >= V_peak``, then
    ``V <- V_reset``, ``w <- w + b``. ``forward(x[T, B, ...])`` returns ``(spikes, AdExState(v, w))``,
    starting from ``V = E_L``, ``w = 0``.

    Args (NEST's units: mV, pF, nS, pA, ms; defaults NEST's ``aeif_cond_alpha``): ``C_m, g_L, E_L,
    V_th, Delta_T`` (> 0), ``tau_w, a, b, V_reset, V_peak``; ``time_unit`` the model's time unit
    in seconds (1e-3: ms). Euler needs a step well below the fastest time constant: ``dt = 1e-4``
    (0.1 ms, NEST's default resolution) follows the spike upswing; the default ``dt = 1e-3`` is
    coarse but stable at these defaults. Against NEST's RKF45 ``aeif_psc_delta`` the spike times drift
    by about 2 ms over 300 ms at ``dt = 1e-4``, 0.3 ms at ``1e-5`` (first order;
    ``benchmarks/results/adex_nest``). Other keyword arguments: :class:`~neuro.nn.custom.SpecNeuron`.
    """

    spec = ADEX
    state_type = AdExState

    def __init__(self, shape: Shape = (), *, C_m: Number = 281.0, g_L: Number = 30.0, E_L: Number = -70.6,
                 V_th: Number = -50.4, Delta_T: Number = 2.0, tau_w: Number = 144.0, a: Number = 4.0,
                 b: Number = 80.5, V_reset: Number = -60.0, V_peak: Number = 0.0, time_unit: float = 1e-3,
                 **kwargs: Any) -> None:
        super().__init__(None, shape, C_m=C_m, g_L=g_L, E_L=E_L, V_th=V_th, Delta_T=Delta_T, tau_w=tau_w,
                         a=a, b=b, V_reset=V_reset, V_peak=V_peak, time_unit=time_unit, **kwargs)


class ExpIF(SpecNeuron):
    r"""Exponential integrate-and-fire neurons (Fourcaud-Trocme et al. 2003), current input.

    ``C_m dV/dt = -g_L (V - E_L) + g_L Delta_T exp((V - V_th) / Delta_T) + x`` (the AdEx without
    adaptation), forward Euler at ``dt``; spike at ``V >= V_peak``, then ``V <- V_reset``.
    Arguments as :class:`AdEx` without ``tau_w, a, b``. Preset: :meth:`spikingjelly`.
    """

    spec = EXPIF
    state_type = ExpIFState

    def __init__(self, shape: Shape = (), *, C_m: Number = 281.0, g_L: Number = 30.0, E_L: Number = -70.6,
                 V_th: Number = -50.4, Delta_T: Number = 2.0, V_reset: Number = -60.0, V_peak: Number = 0.0,
                 time_unit: float = 1e-3, **kwargs: Any) -> None:
        super().__init__(None, shape, C_m=C_m, g_L=g_L, E_L=E_L, V_th=V_th, Delta_T=Delta_T, V_reset=V_reset,
                         V_peak=V_peak, time_unit=time_unit, **kwargs)

    @classmethod
    def spikingjelly(cls, tau: float = 2.0, delta_T: float = 1.0, theta_rh: float = 0.8,
                     v_threshold: float = 1.0, v_rest: float = 0.0, v_reset: float | None = -0.1,
                     surrogate_function: Any = None, detach_reset: bool = False, dt: float = 1e-3,
                     **options: Any) -> ExpIF:
        """SpikingJelly's ``EIFNode`` with its arguments and defaults: time in steps
        (``C_m = tau``, ``g_L = 1``, ``time_unit = dt``), spike on ``v >= v_threshold``, hard reset to
        ``v_reset``, ``Sigmoid(4)`` surrogate. Same equation, its sums grouped differently
        (SpikingJelly adds ``x + v_rest - v`` first): states agree to rounding."""
        if v_reset is None:
            raise ValueError("ExpIF resets to V_reset: SpikingJelly's soft reset (v_reset=None) is not "
                             "mapped")
        surrogate = presets._surrogate(surrogate_function, Sigmoid(4.0), "SpikingJelly",
                                       "surrogate.ATan(alpha) -> ATan(alpha), surrogate.Sigmoid(alpha) -> "
                                       "Sigmoid(alpha)")
        return cls(C_m=tau, g_L=1.0, E_L=v_rest, V_th=theta_rh, Delta_T=delta_T, V_reset=v_reset,
                   V_peak=v_threshold, time_unit=dt, dt=dt, threshold_op=">=", surrogate=surrogate,
                   detach_reset=detach_reset, **options)
