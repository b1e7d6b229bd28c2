r"""Synaptic and axonal delays as functions, on time-major sequences.

* :func:`delay_linear` — learnable delays (DCLS, Hammouamri et al. 2024): every synapse ``(o, i)``
  has ``KC`` elements, each a weight :math:`w` at a continuous position :math:`p` blurred by a
  Gaussian of width :math:`\sigma_e = |\sigma| + 0.27` over the ``K`` delay taps,

  .. math::  y_t[o] = \sum_i \sum_{n=0}^{K-1} \Big(\sum_k w_{oik}\,
             \frac{g_{oik}[n]}{\sum_{n'} g_{oik}[n'] + 10^{-7}}\Big)\, x_{t-(K-1-n)}[i],
             \qquad g[n] = e^{-(n - p - \lfloor K/2 \rfloor)^2 / 2\sigma_e^2}

  so an element at position :math:`p` delays its input by :math:`K - 1 - \lfloor K/2 \rfloor - p`
  steps (``p`` in ``[-K//2, K//2]`` spans delays ``K-1 .. 0``). ``[T, B, I] -> [T + extra, B, O]``
  with ``extra = (K - 1) // 2`` by default (the DCLS recipe's right padding). ``mode="round"``
  uses the integer delays of the rounded positions (inference, :math:`\sigma \to 0`).
* :func:`fixed_delay` — fixed integer delays, one per neuron
  (:math:`y_t[c] = x_{t - d_c}[c]`) or one per synapse of a weight matrix
  (:math:`y_t[o] = \sum_i w_{oi} x_{t - d_{oi}}[i]`), with a streaming state holding the last
  ``max_delay`` input steps, so a sequence can be fed in pieces.

Both run on the sparse-tap kernels of ``neuro.kernels.delay_*`` (``backend="numba"|"cuda"``) or on
the dense torch oracle (``backend="torch"``); see :mod:`neuro.ops.delay`.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from neuro.kernels import delay_math
from neuro.ops.delay import (
    METHODS,
    MODES,
    Taps,
    delay_conv,
    delay_taps,
    dense_connectivity,
    one_to_one_connectivity,
)
from neuro.state import stateclass
from neuro.validation import check_tensor

Number = float | torch.Tensor


def _check_finite(x: torch.Tensor, name: str) -> None:
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or inf values")


def check_kernel_size(kernel_size: object) -> int:
    """``kernel_size`` (number of delay taps ``K``, delays ``0 .. K-1``) must be an integer >= 1."""
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 1:
        raise ValueError(f"kernel_size (the number of delay taps K; delays 0..K-1 steps) must be an "
                         f"integer >= 1, got {kernel_size!r}")
    return kernel_size


def delay_linear(x: torch.Tensor, weight: torch.Tensor, position: torch.Tensor, sigma: Number,
                 kernel_size: int, extra_steps: int | None = None, mode: str = "gauss",
                 method: str = "auto", tol: float = delay_math.TOLERANCE,
                 bias: torch.Tensor | None = None, backend: str = "auto") -> torch.Tensor:
    """Learnable synaptic delays (module docstring) on ``x [T, B, I]``.

    Args:
        weight, position: ``[O, I, KC]`` (DCLS ``weight`` and ``P[0]``).
        sigma: Gaussian width parameter (scalar or broadcastable to ``[O, I, KC]``).
        kernel_size: ``K``, the number of delay taps.
        extra_steps: output steps after the input's end (default ``(K - 1) // 2``).
        mode: ``"gauss"`` (training) or ``"round"`` (integer delays at the rounded positions).
        method: ``"dense"`` (conv1d), ``"sparse"`` (kernels on the few taps around each position
            that hold all but ``tol`` of its Gaussian)
            or ``"auto"`` (cheaper of the two).
        bias: optional ``[O]`` added at every output step.
    """
    check_tensor(x, "x", 3, "[T, B, in_features]")
    K = check_kernel_size(kernel_size)
    if x.dim() != 3:
        raise ValueError(f"x must have shape [T, B, in_features], got {tuple(x.shape)}")
    if weight.dim() != 3 or position.shape != weight.shape:
        raise ValueError(f"weight and position must both be [out, in, kernel_count]; got "
                         f"{tuple(weight.shape)} and {tuple(position.shape)}")
    if x.shape[2] != weight.shape[1]:
        raise ValueError(f"x has {x.shape[2]} input features but the weights expect {weight.shape[1]}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    extra = (K - 1) // 2 if extra_steps is None else extra_steps
    if isinstance(extra, bool) or not isinstance(extra, int) or extra < 0:
        raise ValueError(f"extra_steps must be a non-negative integer, got {extra_steps!r}")
    if not 0 < tol < 1:
        raise ValueError(f"tol must be in (0, 1), got {tol}")
    _check_finite(x, "x")
    return delay_conv(x, weight, position, sigma, K, extra, mode=mode, method=method,
                      backend=backend, tol=tol, bias=bias)


@stateclass
class DelayState(NamedTuple):
    """Streaming state of :func:`fixed_delay`: the last ``max_delay`` input steps ``[D, B, I]``."""

    history: torch.Tensor


def check_integer_delays(delays: object, max_delay: int | None = None) -> tuple[torch.Tensor, int]:
    """Integer delays in ``[0, max_delay]`` (``max_delay`` defaults to the largest delay)."""
    if not isinstance(delays, torch.Tensor):
        delays = torch.as_tensor(delays)
    if delays.dtype.is_floating_point:
        if not bool(torch.isfinite(delays).all()) or not bool((delays == delays.round()).all()):
            raise ValueError("delays must be whole numbers of time steps (round them first)")
        delays = delays.long()
    elif delays.dtype == torch.bool or delays.dtype.is_complex:
        raise TypeError(f"delays must be integers, got dtype {delays.dtype}")
    if delays.numel() == 0:
        raise ValueError("delays is empty")
    low, high = int(delays.min()), int(delays.max())
    if max_delay is None:
        max_delay = max(high, 0)
    if isinstance(max_delay, bool) or not isinstance(max_delay, int) or max_delay < 0:
        raise ValueError(f"max_delay must be a non-negative integer, got {max_delay!r}")
    if low < 0 or high > max_delay:
        raise ValueError(f"delays must lie in [0, {max_delay}] steps, got values in [{low}, {high}]")
    return delays.to(torch.int32), max_delay


def fixed_delay(x: torch.Tensor, delays: torch.Tensor, weight: torch.Tensor | None = None,
                state: DelayState | None = None, max_delay: int | None = None,
                backend: str = "auto") -> tuple[torch.Tensor, DelayState]:
    """Fixed integer delays on ``x [T, B, C]`` (module docstring); returns ``(y, state)``.

    ``delays [C]`` delays each channel (``y [T, B, C]``); ``delays [O, I]`` with ``weight [O, I]``
    is a delayed linear map (``y [T, B, O]``). ``state`` continues a stream (``None``: zeros before
    the first step); the returned state holds the last ``max_delay`` input steps.
    """
    check_tensor(x, "x", 3, "[T, B, channels]")
    if x.dim() != 3:
        raise ValueError(f"x must have shape [T, B, channels], got {tuple(x.shape)}")
    d, D = check_integer_delays(delays, max_delay)
    T, B, C = x.shape
    if weight is None:
        if d.dim() != 1 or d.shape[0] != C:
            raise ValueError(f"per-neuron delays must have shape [{C}] (one per input channel), "
                             f"got {tuple(d.shape)}; per-synapse delays [out, in] need a weight")
        conn = one_to_one_connectivity(C, x.device)
        taps = Taps(torch.ones(C, 1, dtype=x.dtype, device=x.device), d.view(C, 1).to(x.device), 1)
    else:
        if d.dim() != 2 or tuple(weight.shape) != tuple(d.shape) or d.shape[1] != C:
            raise ValueError(f"per-synapse delays and weight must both be [out, {C}], got "
                             f"{tuple(d.shape)} and {tuple(weight.shape)}")
        _check_finite(weight, "weight")
        conn = dense_connectivity(C, d.shape[0], x.device)
        taps = Taps(weight.to(x.dtype), d.to(x.device).contiguous(), 1)
    if state is None:
        history = x.new_zeros(D, B, C)
    else:
        if not isinstance(state, DelayState):
            raise TypeError(f"state must be a DelayState (or None), got {type(state).__name__}")
        history = state.history
        if tuple(history.shape) != (D, B, C) or history.dtype != x.dtype or history.device != x.device:
            raise ValueError(f"state.history must be [{D}, {B}, {C}] {x.dtype} on {x.device} (the last "
                             f"max_delay input steps), got {tuple(history.shape)} {history.dtype}")
    _check_finite(x, "x")
    full = torch.cat([history, x]) if D > 0 else x
    y = delay_taps(full, taps, conn, D, 0, backend, history=D)
    return y, DelayState(full[full.shape[0] - D:])
