r"""Peer presets: the constructor arguments that make a neuro neuron compute what a peer's does.

Each function maps a peer neuron's own arguments (same names, same defaults) to keyword arguments
of :class:`~neuro.nn.LIF`, :class:`~neuro.nn.CubaLIF` or :class:`~neuro.nn.IF`; the classmethods
``LIF.snntorch``, ``LIF.norse``, ``LIF.spikingjelly``, ``CubaLIF.snntorch``, ``CubaLIF.norse``,
``LI.norse`` and ``IF.spikingjelly`` call them. What each peer computes, per step (``s`` spikes,
``H`` Heaviside):

* snnTorch ``Leaky(beta)``: :math:`u_t = \beta u_{t-1} + x_t - \vartheta\,s_{t-1}`,
  :math:`s_t = H(u_t - \vartheta)` with ``>``; the reset of a spike is applied one step later
  (``reset_delay=True``) and carries no gradient — neuro's ``reset="subtract_delayed"``,
  ``threshold_op=">"``, ``detach_reset=True``. ``beta`` and ``threshold`` are stored as
  tensors of torch's default dtype (float32), so the preset rounds them the same way.
  ``Synaptic(alpha, beta)`` adds :math:`i_t = \alpha i_{t-1} + x_t` driving :math:`u`.
* Norse ``LIFBoxCell`` (no synapse): forward Euler,
  :math:`v_t = v_{t-1} + dt\,\tau_{mem}^{-1}((v_{leak} - v_{t-1}) + x_t)`, ``>`` and a reset to
  ``v_reset`` through which the gradient flows — neuro's Euler LIF with ``decay_input=True``
  (``LIBoxCell``: the same membrane without spikes, neuro's ``LI``).
  Norse ``LIFCell`` / ``LIF`` (current based): the input jumps into the current first,
  :math:`i' = i + x_t`, the membrane integrates :math:`i'` and the current then decays — neuro's
  ``CubaLIF`` with ``decay_input=False``, ``w_in = 1`` and ``r = dt / \tau_{mem}``.
* SpikingJelly ``LIFNode(tau)``: :math:`H_t = V_{t-1} + (X_t - (V_{t-1} - V_{reset}))/\tau`
  (``decay_input=True``) or :math:`V_{t-1} - (V_{t-1} - V_{reset})/\tau + X_t`, ``>=``, then a
  hard reset to ``v_reset`` or, with ``v_reset=None``, a soft (subtract) reset — neuro's LIF with
  ``beta = 1 - 1/tau`` leaking towards ``v_leak = v_reset``. ``IFNode``: no leak.

Equality: snnTorch performs neuro's floating-point operations, so its ports are bit-identical in
float32 and float64. Norse and SpikingJelly order the same arithmetic differently
(``v + (x - v)/tau`` against ``beta v + g x``): spikes are identical in float64 and membranes
agree to rounding (a float32 run can flip a spike that lands within rounding of the threshold).
``docs/porting.md`` shows one tested example per peer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from neuro.surrogate import ATan, FastSigmoid, Sigmoid, Surrogate, Triangle, get_surrogate

Number = float | torch.Tensor

#: the options of the neuro module a preset passes through (everything else fixes the semantics)
MODULE_OPTIONS = ("shape", "backend", "record_states")

_SNNTORCH_RESETS = ("subtract", "zero", "none")


def _module_options(peer: str, options: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(options) - set(MODULE_OPTIONS))
    if unknown:
        raise TypeError(f"the {peer} preset takes the peer's own arguments plus {MODULE_OPTIONS}; "
                        f"got {unknown} (to change the semantics, build the module directly)")
    return options


def _as_stored(value: Number) -> Number:
    """A number rounded as the peer stores it (``torch.as_tensor``: torch's default dtype)."""
    return value if isinstance(value, torch.Tensor) else float(torch.as_tensor(value))


def _surrogate(spec: Surrogate | str | Callable | None, default: Surrogate, peer: str,
               hint: str) -> Surrogate:
    if spec is None:
        return default
    if isinstance(spec, (Surrogate, str)):
        return get_surrogate(spec)
    if type(spec).__module__.startswith("spikingjelly"):  # SpikingJelly's surrogate objects
        by_name = {"ATan": ATan, "Sigmoid": Sigmoid}
        if type(spec).__name__ in by_name and hasattr(spec, "alpha"):
            return by_name[type(spec).__name__](float(spec.alpha))
    raise TypeError(f"give the {peer} surrogate as its neuro.surrogate equivalent ({hint}); "
                    f"got {spec!r}")


def snntorch_leaky(beta: Number, threshold: Number = 1.0, spike_grad: Any = None,
                   reset_mechanism: str = "subtract", reset_delay: bool = True,
                   learn_beta: bool = False, learn_threshold: bool = False,
                   **options: Any) -> dict[str, Any]:
    """Arguments of ``LIF`` equal to snnTorch's ``Leaky`` (``spike_grad=None``: snnTorch's
    default ``atan``, ``ATan(2.0)``)."""
    return dict(beta=_as_stored(beta), learn_beta=learn_beta,
                **_snntorch_spiking(threshold, spike_grad, reset_mechanism, reset_delay,
                                    learn_threshold, "Leaky"),
                **_module_options("snnTorch", options))


def snntorch_synaptic(alpha: Number, beta: Number, threshold: Number = 1.0, spike_grad: Any = None,
                      reset_mechanism: str = "subtract", reset_delay: bool = True,
                      learn_alpha: bool = False, learn_beta: bool = False,
                      learn_threshold: bool = False, **options: Any) -> dict[str, Any]:
    """Arguments of ``CubaLIF`` equal to snnTorch's ``Synaptic``.

    snnTorch's delayed *zero* reset of ``Synaptic`` also discards the input of the step after a
    spike (``mem = (1 - reset) (beta mem + syn)``), which no neuro reset mode does: it is refused;
    ``reset_delay=False`` gives the plain zero reset.
    """
    if reset_mechanism == "zero" and reset_delay:
        raise ValueError("snnTorch's Synaptic with reset_mechanism='zero' and reset_delay=True zeroes "
                         "the membrane one step after a spike, input included, which no neuro reset "
                         "reproduces; use reset_mechanism='subtract' or 'none', or reset_delay=False")
    return dict(alpha=_as_stored(alpha), beta=_as_stored(beta), learn_alpha=learn_alpha,
                learn_beta=learn_beta, w_in=1.0, r=1.0,
                **_snntorch_spiking(threshold, spike_grad, reset_mechanism, reset_delay,
                                    learn_threshold, "Synaptic"),
                **_module_options("snnTorch", options))


def _snntorch_spiking(threshold: Number, spike_grad: Any, reset_mechanism: str, reset_delay: bool,
                      learn_threshold: bool, peer: str) -> dict[str, Any]:
    if reset_mechanism not in _SNNTORCH_RESETS:
        raise ValueError(f"reset_mechanism must be one of {_SNNTORCH_RESETS} (snnTorch's {peer}), "
                         f"got {reset_mechanism!r}")
    if reset_mechanism == "subtract" and not reset_delay:
        # snnTorch then fires on beta u + x - r th > th, r the (detached) spike of the stored,
        # already reset membrane: a second subtraction whenever it stays above threshold
        raise ValueError(f"snnTorch's {peer} with reset_mechanism='subtract' and reset_delay=False "
                         "subtracts the threshold again while the reset membrane stays above it, "
                         "which no neuro reset reproduces; use reset_delay=True (snnTorch's default) "
                         "or reset_mechanism='zero'")
    surrogate = _surrogate(spike_grad, ATan(2.0), "snnTorch",
                           "snntorch.surrogate.atan(alpha) -> ATan(alpha), fast_sigmoid(slope) -> "
                           "FastSigmoid(slope), sigmoid(slope) -> Sigmoid(slope)")
    # delayed resets read a detached spike; reset_delay=False resets with the spike itself (the
    # gradient flows through it)
    reset = "subtract_delayed" if reset_mechanism == "subtract" else reset_mechanism
    return dict(v_th=_as_stored(threshold), v_reset=0.0, reset=reset, threshold_op=">",
                detach_reset=reset_delay, surrogate=surrogate, learn_threshold=learn_threshold)


def _norse_surrogate(method: str, alpha: float) -> Surrogate:
    """Norse 1.1.0's threshold methods that neuro's kernels evaluate."""
    if method == "super":  # Norse 1.1.0's SuperSpike backward is 1 / (|z| + 1)^2: alpha is unused
        return FastSigmoid(1.0)
    if method == "triangle":  # alpha * relu(1 - |z|)
        if float(alpha) != 1.0:
            raise ValueError("Norse's triangle surrogate is alpha * max(0, 1 - |z|); neuro's Triangle "
                             f"matches it for alpha = 1 only, got alpha={float(alpha)}")
        return Triangle(1.0)
    raise ValueError(f"Norse method={method!r} has no neuro equivalent on the fused kernels; "
                     "supported: 'super' (SuperSpike), 'triangle' with alpha=1")


def norse_lif_box(tau_mem_inv: Number = 1.0 / 1e-2, v_leak: Number = 0.0, v_th: Number = 1.0,
                  v_reset: Number = 0.0, method: str = "super", alpha: float = 100.0,
                  dt: float = 1e-3, **options: Any) -> dict[str, Any]:
    """Arguments of ``LIF`` equal to Norse's ``LIFBoxCell(LIFBoxParameters(...), dt)`` (Norse's
    defaults: 10 ms membrane, 1 ms step)."""
    return dict(tau_mem=1.0 / _as_float(tau_mem_inv), dt=dt, integration="euler", decay_input=True,
                v_leak=_as_float(v_leak), v_th=_as_float(v_th), v_reset=_as_float(v_reset),
                reset="zero", threshold_op=">", detach_reset=False,
                surrogate=_norse_surrogate(method, alpha), **_module_options("Norse", options))


def norse_li_box(tau_mem_inv: Number = 1.0 / 1e-2, v_leak: Number = 0.0, dt: float = 1e-3,
                 **options: Any) -> dict[str, Any]:
    r"""Arguments of ``LI`` equal to Norse's ``LIBoxCell`` (non-spiking readout,
    :math:`v_t = v_{t-1} + dt\,\tau_{mem}^{-1}((v_{leak} - v_{t-1}) + x_t)`)."""
    return dict(tau_mem=1.0 / _as_float(tau_mem_inv), dt=dt, integration="euler", decay_input=True,
                v_leak=_as_float(v_leak), **_module_options("Norse", options))


def norse_lif(tau_syn_inv: Number = 1.0 / 5e-3, tau_mem_inv: Number = 1.0 / 1e-2,
              v_leak: Number = 0.0, v_th: Number = 1.0, v_reset: Number = 0.0, method: str = "super",
              alpha: float = 100.0, dt: float = 1e-3, **options: Any) -> dict[str, Any]:
    """Arguments of ``CubaLIF`` equal to Norse's current-based ``LIFCell`` / ``LIF``
    (``LIFParameters``; Norse's defaults: 5 ms synapse, 10 ms membrane, 1 ms step)."""
    tau_mem = 1.0 / _as_float(tau_mem_inv)
    return dict(tau_mem=tau_mem, tau_syn=1.0 / _as_float(tau_syn_inv), dt=dt, integration="euler",
                decay_input=False, w_in=1.0, r=dt / tau_mem, v_leak=_as_float(v_leak),
                v_th=_as_float(v_th), v_reset=_as_float(v_reset), reset="zero", threshold_op=">",
                detach_reset=False, surrogate=_norse_surrogate(method, alpha),
                **_module_options("Norse", options))


def _as_float(value: Number) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError("the Norse presets take one value per parameter (a number or a 1-element "
                             f"tensor), got shape {tuple(value.shape)}")
        return float(value)
    return float(value)


def spikingjelly_lif(tau: float = 2.0, decay_input: bool = True, v_threshold: float = 1.0,
                     v_reset: float | None = 0.0, surrogate_function: Any = None,
                     detach_reset: bool = False, **options: Any) -> dict[str, Any]:
    """Arguments of ``LIF`` equal to SpikingJelly's ``LIFNode`` (``surrogate_function=None``:
    SpikingJelly's default ``Sigmoid(alpha=4)``)."""
    if not float(tau) > 1.0:
        raise ValueError(f"tau must be > 1 (SpikingJelly's LIFNode: decay 1 - 1/tau), got {tau}")
    tau = float(tau)
    beta = 1.0 - 1.0 / tau
    leak = 0.0 if v_reset is None else float(v_reset)
    # decay_input: X / tau, written as the input gain r = 1/tau (not r (1 - beta), which rounds
    # differently); the leak (1 - beta) V_reset pulls towards V_reset as in SpikingJelly
    return dict(beta=beta, decay_input=False, r=1.0 / tau if decay_input else 1.0, v_leak=leak,
                **_spikingjelly_spiking(v_threshold, v_reset, surrogate_function, detach_reset),
                **_module_options("SpikingJelly", options))


def spikingjelly_if(v_threshold: float = 1.0, v_reset: float | None = 0.0,
                    surrogate_function: Any = None, detach_reset: bool = False,
                    **options: Any) -> dict[str, Any]:
    """Arguments of ``IF`` equal to SpikingJelly's ``IFNode``."""
    return dict(**_spikingjelly_spiking(v_threshold, v_reset, surrogate_function, detach_reset),
                **_module_options("SpikingJelly", options))


def _spikingjelly_spiking(v_threshold: float, v_reset: float | None, surrogate_function: Any,
                          detach_reset: bool) -> dict[str, Any]:
    surrogate = _surrogate(surrogate_function, Sigmoid(4.0), "SpikingJelly",
                           "surrogate.ATan(alpha) -> ATan(alpha), surrogate.Sigmoid(alpha) -> "
                           "Sigmoid(alpha); those two are also accepted as they are")
    return dict(v_th=float(v_threshold), v_reset=0.0 if v_reset is None else float(v_reset),
                reset="subtract" if v_reset is None else "zero", threshold_op=">=",
                detach_reset=detach_reset, surrogate=surrogate)
