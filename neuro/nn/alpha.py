r"""The alpha-synapse LIF layer (snnTorch's ``Alpha``): a membrane following a difference of
exponentials of the input, with snnTorch's delayed, detached reset.

Equations: :mod:`neuro.kernels.alpha_math`. Fused CPU/CUDA kernels and exact BPTT come from
:mod:`neuro.nn.custom`; :meth:`AlphaLIF.snntorch` is spike- and gradient-identical to snnTorch.
"""

from __future__ import annotations

from typing import Any

from neuro.functional.alpha import AlphaLIFState, check_decays, decay_of
from neuro.kernels import alpha_math
from neuro.nn import presets
from neuro.nn.custom import Number, Shape, SpecNeuron


class AlphaLIF(SpecNeuron):
    r"""Alpha-synapse LIF neurons.

    ``e_t = alpha e_{t-1} + x_t``, ``i_t = beta i_{t-1} - x_t``, ``v_t = tau_a (e_t + i_t)`` with
    ``tau_a = log(alpha) / (log(beta) - log(alpha)) + 1``; spike when ``v_t > v_th``; the reset
    (``"zero"``: every state to 0, ``"subtract"``, ``"none"``) of a spike is applied at the next
    step and carries no gradient, as in snnTorch. ``forward(x[T, B, ...])`` returns
    ``(spikes, AlphaLIFState(e, i, v))`` from zeros.

    Args:
        shape: feature shape of per-neuron / learned parameters.
        alpha, beta: the decays of the two currents, ``0 < beta < alpha <= 1``; or give
            ``tau_decay`` / ``tau_rise`` (seconds): ``alpha = exp(-dt / tau_decay)``,
            ``beta = exp(-dt / tau_rise)``.
        v_th: threshold. reset: ``"zero"`` (snnTorch's default), ``"subtract"`` or ``"none"``.
        **kwargs: the options of :class:`~neuro.nn.custom.SpecNeuron`; the defaults are snnTorch's
            (``threshold_op=">"``, ``surrogate="atan"``, i.e. ``ATan(2)``).
    """

    state_type = AlphaLIFState

    def __init__(self, shape: Shape = (), alpha: Number | None = None, beta: Number | None = None, *,
                 tau_decay: float | None = None, tau_rise: float | None = None, v_th: Number = 1.0,
                 reset: str = "zero", threshold_op: str = ">", dt: float = 1e-3, **kwargs: Any) -> None:
        if alpha is None:
            alpha = decay_of(tau_decay, dt, "tau_decay") if tau_decay is not None else 0.9
        elif tau_decay is not None:
            raise ValueError("give alpha or tau_decay, not both")
        if beta is None:
            beta = decay_of(tau_rise, dt, "tau_rise") if tau_rise is not None else 0.8
        elif tau_rise is not None:
            raise ValueError("give beta or tau_rise, not both")
        check_decays(alpha, beta)
        factors = alpha_math.reset_factors(reset)
        if "learn" in kwargs and kwargs["learn"] is True:
            kwargs["learn"] = ("alpha", "beta", "v_th")
        self.reset = reset
        super().__init__(alpha_math.SPEC, shape, alpha=alpha, beta=beta, v_th=v_th, threshold_op=threshold_op,
                         dt=dt, **factors, **kwargs)

    @classmethod
    def snntorch(cls, alpha: Number, beta: Number, threshold: Number = 1.0, spike_grad: Any = None,
                 reset_mechanism: str = "zero", learn_alpha: bool = False, learn_beta: bool = False,
                 learn_threshold: bool = False, **options: Any) -> AlphaLIF:
        """snnTorch's ``Alpha`` with its arguments and defaults (``reset_mechanism="zero"``, ``>``,
        ``ATan(2)``; ``alpha``, ``beta``, ``threshold`` rounded as snnTorch stores them, in torch's
        default dtype); ``options``: ``shape``, ``backend``, ``record_states``."""
        options = presets._module_options("snnTorch", options)
        surrogate = presets._surrogate(spike_grad, presets.ATan(2.0), "snnTorch",
                                       "snntorch.surrogate.atan(alpha) -> ATan(alpha), fast_sigmoid(slope) "
                                       "-> FastSigmoid(slope), sigmoid(slope) -> Sigmoid(slope)")
        learn = tuple(n for n, flag in (("alpha", learn_alpha), ("beta", learn_beta),
                                        ("v_th", learn_threshold)) if flag)
        return cls(alpha=presets._as_stored(alpha), beta=presets._as_stored(beta),
                   v_th=presets._as_stored(threshold), reset=reset_mechanism, threshold_op=">",
                   surrogate=surrogate, learn=learn, **options)

    def extra_repr(self) -> str:
        """The reset mode, then the LIF settings without the ``subtract``/``zero`` flags the reset replaces.
        """
        parts = [p for p in super().extra_repr().split(", ") if not p.startswith(("subtract=", "zero="))]
        return f"reset={self.reset!r}, " + ", ".join(parts)
