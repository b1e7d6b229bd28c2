r"""The Expressive Leaky Memory (ELM) neuron as functions: a whole sequence or one step.

Equations in :mod:`neuro.ops.elm` (Spieler et al., ICLR 2024)::

    s_t = kappa_s s_{t-1} + w_s route(x_t)          b_t = branch_sum(s_t)
    m_t = kappa_m m_{t-1} + c 1.7159 tanh(2/3 MLP([b_t ; kappa_m m_{t-1}]))
    y_t = W_y m_t + b_y

The weights come as an :class:`neuro.ops.elm.ELMWeights` record (``neuro.nn.ELM.weights()``
builds it from the module's parameters). These functions check the input and the state against
the weights (clear errors naming the argument), start from zeros when ``state`` is ``None`` and run
the kernels (:func:`elm_scan`) or the pure-torch step (:func:`elm_step`), as
:func:`neuro.functional.neuron_scan` does for the LIF family.
"""

from __future__ import annotations

import torch

from neuro.ops import elm as ops
from neuro.ops.elm import ELMConfig, ELMScanResult, ELMState, ELMWeights
from neuro.validation import check_state, check_tensor

__all__ = ["ELMConfig", "ELMScanResult", "ELMState", "ELMWeights", "elm_initial_state", "elm_scan",
           "elm_step"]


def elm_initial_state(weights: ELMWeights, cfg: ELMConfig, like: torch.Tensor) -> ELMState:
    """All-zero traces and memory for a batch shaped like ``like`` (``[B, in_features]``)."""
    return ops.initial_state(weights, cfg, like.shape[0], like)


def _check_input(x: object, weights: ELMWeights, rank: int, layout: str,
                 in_features: int | None) -> torch.Tensor:
    x = check_tensor(x, "x", rank, layout)
    if x.dim() != rank:
        raise ValueError(f"x must have shape {layout}, got shape {tuple(x.shape)}")
    if in_features is not None and x.shape[-1] != in_features:
        raise ValueError(f"x has {x.shape[-1]} input channels (last dim) but the ELM was built with "
                         f"in_features={in_features}")
    if x.dtype != weights.w_syn.dtype:
        raise TypeError(f"x has dtype {x.dtype} but the ELM parameters are {weights.w_syn.dtype}")
    return x


def _check_elm_state(state: object, weights: ELMWeights, like: torch.Tensor) -> None:
    batch = like.shape[0]
    shapes = {"syn": (batch, weights.kappa_syn.shape[0]), "mem": (batch, weights.kappa_mem.shape[0])}
    check_state(state, ELMState, like, shapes)


def elm_scan(x: torch.Tensor, weights: ELMWeights, cfg: ELMConfig, state: ELMState | None = None,
             backend: str = "auto", in_features: int | None = None) -> ELMScanResult:
    """Run the ELM neuron over ``x [T, B, in_features]``: outputs ``y [T, B, d_out]``, memory
    ``mem [T, B, M]`` and the final :class:`ELMState` (``state=None``: zeros).

    ``in_features`` (the inputs the weights were built for) is checked when given: with a routing
    the weights alone cannot tell it. ``backend="torch"`` runs the reference loop.
    """
    _check_input(x, weights, 3, "[T, B, in_features]", in_features)
    if state is not None:
        _check_elm_state(state, weights, x[0])
    return ops.elm_scan(x, weights, cfg, state, backend)


def elm_step(x: torch.Tensor, weights: ELMWeights, cfg: ELMConfig, state: ELMState | None = None,
             in_features: int | None = None) -> tuple[torch.Tensor, ELMState]:
    """One ELM step in pure torch on ``x [B, in_features]``: ``(y [B, d_out], state)``."""
    _check_input(x, weights, 2, "[B, in_features]", in_features)
    if state is None:
        state = elm_initial_state(weights, cfg, x)
    else:
        _check_elm_state(state, weights, x)
    return ops.elm_step_reference(x, state, weights, cfg)
