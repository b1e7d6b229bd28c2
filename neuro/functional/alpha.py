r"""The alpha-synapse LIF neuron (snnTorch's ``Alpha``) as functions (equations:
:mod:`neuro.kernels.alpha_math`).

:math:`e_t = \alpha e_{t-1} + x_t`, :math:`i_t = \beta i_{t-1} - x_t`,
:math:`v_t = \tau_\alpha (e_t + i_t)`, spike :math:`v_t > v_{th}`, with snnTorch's delayed,
detached reset (``"zero"``, ``"subtract"`` or ``"none"``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from neuro.functional.spec import Number, check_values, spec_scan, spec_step
from neuro.kernels import alpha_math
from neuro.ops.spec import SpecConfig
from neuro.state import stateclass

SPEC = alpha_math.SPEC


@stateclass
class AlphaLIFState(NamedTuple):
    """State of the alpha LIF: excitatory current ``e``, inhibitory current ``i``, membrane ``v``."""

    e: torch.Tensor
    i: torch.Tensor
    v: torch.Tensor


def check_decays(alpha: Number, beta: Number) -> None:
    """snnTorch's rule: ``0 < beta < alpha <= 1`` elementwise (``tau_a`` is undefined otherwise)."""
    a = torch.as_tensor(alpha, dtype=torch.float64)
    b = torch.as_tensor(beta, dtype=torch.float64)
    if not bool(((b > 0) & (b < a) & (a <= 1)).all()):
        raise ValueError(f"the alpha LIF needs 0 < beta < alpha <= 1 (alpha decays the excitatory current, "
                         f"beta the faster inhibitory one), got alpha={alpha}, beta={beta}")


def decay_of(tau: float, dt: float, name: str) -> float:
    """``exp(-dt / tau)`` of a time constant."""
    if not (isinstance(tau, (int, float)) and math.isfinite(tau) and tau > 0):
        raise ValueError(f"{name} must be a positive number of seconds, got {tau!r}")
    return math.exp(-dt / tau)


def alpha_lif_scan(x: torch.Tensor, state: AlphaLIFState | None = None, reset: str = "zero",
                   cfg: SpecConfig | None = None, record: bool = False, backend: str = "auto",
                   dt: float = 1e-3, **parameters: Number):
    """Alpha LIF neurons over ``x [T, B, *features]``; ``parameters``: ``alpha, beta, v_th``.
    ``cfg`` defaults to snnTorch's spike (``>``, ``ATan(2)``)."""
    values = check_values(SPEC, {**parameters, **alpha_math.reset_factors(reset)})
    check_decays(values["alpha"], values["beta"])
    return spec_scan(SPEC, x, state, values, dt, cfg or SpecConfig(ge=False), record, backend, AlphaLIFState)


def alpha_lif_step(x: torch.Tensor, state: AlphaLIFState | None = None, reset: str = "zero",
                   cfg: SpecConfig | None = None, dt: float = 1e-3, **parameters: Number):
    """One alpha-LIF step on ``x [B, *features]`` in pure torch."""
    values = check_values(SPEC, {**parameters, **alpha_math.reset_factors(reset)})
    check_decays(values["alpha"], values["beta"])
    return spec_step(SPEC, x, state, values, dt, cfg or SpecConfig(ge=False), AlphaLIFState)
