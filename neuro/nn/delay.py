"""Delay modules: learnable synaptic delays (``DelayLinear``) and fixed integer delays (``FixedDelay``).

Both follow ``forward(x[T, B, ...], state=None) -> (out, state)``; equations in
:mod:`neuro.functional.delay`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from neuro.backends import BACKENDS
from neuro.functional import delay as F
from neuro.functional.delay import METHODS, MODES
from neuro.kernels import delay_math
from neuro.nn.neurons import SpikingModule


class DelayLinear(SpikingModule):
    """A ``Linear`` layer whose synapses have learnable delays (DCLS, Hammouamri et al. 2024).

    ``[T, B, in_features] -> [T + extra_steps, B, out_features]``; each synapse has
    ``kernel_count`` elements with a weight and a continuous position, blurred over the
    ``kernel_size`` delay taps by a Gaussian of width ``|sigma| + 0.27`` (see
    :func:`neuro.functional.delay.delay_linear`). Parameters follow ``DCLS.Dcls1d``: ``weight``
    and ``position`` ``[out, in, kernel_count]`` (DCLS ``weight``, ``P[0]``), ``sigma`` (DCLS
    ``SIG``; a buffer unless ``learn_sigma``). The delay of an element is ``delays`` =
    ``K - 1 - (position + K // 2)`` steps.

    Training recipe: shrink ``sigma`` with :meth:`set_sigma` (``neuro.models.delay_snn`` has the
    schedule), call :meth:`clamp_positions_` after each optimiser step, and evaluate with
    ``mode = "round"`` (integer delays, the fast inference kernel).

    Args:
        kernel_size: number of delay taps ``K`` (delays ``0 .. K-1`` steps), e.g. 25 for SHD.
        kernel_count: elements per synapse.
        sigma: initial width parameter (default ``K // 2``, the recipe's start of training).
        extra_steps: output steps beyond the input (default ``(K - 1) // 2``, as in the recipe).
        mode: ``"gauss"`` or ``"round"``. method: ``"auto"``, ``"dense"``, ``"sparse"``.
        tol: largest Gaussian mass per element the sparse path may drop (window choice).
        init_positions: ``"uniform"`` over the whole delay range (the recipe) or ``"dcls"``
            (``N(0, 0.5)`` clamped, the ``Dcls1d`` default).
    """

    def __init__(self, in_features: int, out_features: int, kernel_size: int, kernel_count: int = 1,
                 sigma: float | None = None, learn_sigma: bool = False,
                 extra_steps: int | None = None, bias: bool = False, mode: str = "gauss",
                 method: str = "auto", tol: float = delay_math.TOLERANCE,
                 init_positions: str = "uniform", backend: str = "auto") -> None:
        super().__init__()
        K = F.check_kernel_size(kernel_size)
        for name, value in (("in_features", in_features), ("out_features", out_features),
                            ("kernel_count", kernel_count)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if init_positions not in ("uniform", "dcls"):
            raise ValueError(f"init_positions must be 'uniform' or 'dcls', got {init_positions!r}")
        self.in_features, self.out_features = in_features, out_features
        self.kernel_size, self.kernel_count = K, kernel_count
        self.extra_steps = (K - 1) // 2 if extra_steps is None else extra_steps
        self.mode, self.method, self.tol, self.backend = mode, method, tol, backend
        self._check_options()
        shape = (out_features, in_features, kernel_count)
        self.weight = nn.Parameter(torch.empty(shape))
        self.position = nn.Parameter(torch.empty(shape))
        sig = torch.tensor(float(K // 2 if sigma is None else sigma))
        if learn_sigma:
            self.sigma = nn.Parameter(sig)
        else:
            self.register_buffer("sigma", sig)
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.reset_parameters(init_positions)

    def _check_options(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")

    def reset_parameters(self, init_positions: str = "uniform") -> None:
        """Kaiming-uniform weights (as ``Dcls1d``) and positions over the delay range."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        lim = self.kernel_size // 2
        with torch.no_grad():
            if init_positions == "uniform":
                self.position.uniform_(-lim, lim)
            else:
                self.position.normal_(0.0, 0.5).clamp_(-lim, lim)
            if self.bias is not None:
                bound = 1 / math.sqrt(self.in_features * self.kernel_count)
                self.bias.uniform_(-bound, bound)

    def forward(self, x: torch.Tensor, state: None = None):
        """``y [T + extra_steps, B, out_features]`` of the whole sequence ``x [T, B, in_features]`` through
        the delayed synapses (Gaussian taps with ``mode="gauss"``, integer delays at the rounded positions
        with ``"round"``), and ``None``: the layer keeps no state, and a non-``None`` ``state`` raises
        ``ValueError``.
        """
        if state is not None:
            raise ValueError("DelayLinear processes whole sequences and keeps no state; pass state=None")
        self._check_options()
        y = F.delay_linear(x, self.weight, self.position, self.sigma, self.kernel_size,
                           self.extra_steps, mode=self.mode, method=self.method, tol=self.tol,
                           bias=self.bias, backend=self.backend)
        return y, None

    @torch.no_grad()
    def clamp_positions_(self) -> None:
        """Keep positions within the kernel, ``[-K//2, K//2]`` (call after each optimiser step)."""
        lim = self.kernel_size // 2
        self.position.clamp_(-lim, lim)

    @torch.no_grad()
    def set_sigma(self, value: float) -> None:
        """Set the Gaussian width parameter (the recipe shrinks it every epoch)."""
        self.sigma.fill_(float(value))

    @property
    def delays(self) -> torch.Tensor:
        """Continuous delays in steps, ``[out, in, kernel_count]`` (detached)."""
        return (self.kernel_size - 1 - (self.position.detach() + self.kernel_size // 2))

    def integer_delays(self) -> torch.Tensor:
        """The integer delays used in ``"round"`` mode (``int64``, clamped to ``[0, K-1]``)."""
        q = torch.round(self.position.detach() + self.kernel_size // 2).clamp(0, self.kernel_size - 1)
        return (self.kernel_size - 1 - q).long()

    @classmethod
    def from_delays(cls, weight: torch.Tensor, delays, kernel_size: int, **kwargs) -> DelayLinear:
        """A layer with integer ``delays [out, in]`` in ``[0, kernel_size)`` and ``weight [out, in]``.

        Its positions sit exactly on the delays, so ``mode="round"`` (the default here) applies
        them as integer delays and a small ``sigma`` starts training from them.
        """
        K = F.check_kernel_size(kernel_size)
        d, _ = F.check_integer_delays(delays, K - 1)
        weight = torch.as_tensor(weight, dtype=torch.get_default_dtype())
        if d.dim() != 2 or tuple(weight.shape) != tuple(d.shape):
            raise ValueError(f"weight and delays must both be [out, in], got {tuple(weight.shape)} "
                             f"and {tuple(d.shape)}")
        kwargs.setdefault("mode", "round")
        kwargs.setdefault("sigma", 0.0)
        layer = cls(d.shape[1], d.shape[0], K, **kwargs)
        with torch.no_grad():
            layer.weight.copy_(weight.unsqueeze(-1))
            layer.position.copy_((K - 1 - K // 2 - d.to(weight.dtype)).unsqueeze(-1))
        return layer

    @classmethod
    def from_dcls(cls, module: nn.Module, **kwargs) -> DelayLinear:
        """A copy of a ``DCLS.construct.modules.Dcls1d`` (gauss version, groups=1, no stride/padding)."""
        if getattr(module, "groups", 1) != 1 or tuple(getattr(module, "stride", (1,))) != (1,):
            raise ValueError("only Dcls1d layers with groups=1 and stride=1 can be converted")
        K = int(module.dilated_kernel_size[0])
        layer = cls(module.in_channels, module.out_channels, K, module.kernel_count,
                    sigma=float(module.SIG.detach().flatten()[0]), bias=module.bias is not None,
                    **kwargs)
        with torch.no_grad():
            layer.weight.copy_(module.weight)
            layer.position.copy_(module.P[0])
            if module.bias is not None:
                layer.bias.copy_(module.bias)
        sig = module.SIG.detach()[0].clone()
        if not bool((sig == sig.flatten()[0]).all()):  # per-synapse widths
            layer.sigma = nn.Parameter(sig) if isinstance(layer.sigma, nn.Parameter) else sig
        return layer

    def extra_repr(self) -> str:
        """Sizes, kernel size and count, current ``sigma``, extra steps, mode, method, bias and backend."""
        sig = float(self.sigma.flatten()[0]) if self.sigma.numel() else float("nan")
        return (f"{self.in_features}, {self.out_features}, kernel_size={self.kernel_size}, "
                f"kernel_count={self.kernel_count}, sigma={sig:g}, extra_steps={self.extra_steps}, "
                f"mode={self.mode!r}, method={self.method!r}, bias={self.bias is not None}, "
                f"backend={self.backend!r}")


class FixedDelay(SpikingModule):
    """Fixed integer delays: one per neuron (``delays [C]``) or one per synapse (``delays [O, I]``
    with ``weight [O, I]``, optionally learnable) — ``y_t = x_{t - d}`` / ``y_t[o] = sum_i
    w_oi x_{t - d_oi}[i]``.

    ``forward(x [T, B, C], state=None) -> (y [T, B, C or O], DelayState)``: the state holds the last
    ``max_delay`` input steps, so a sequence fed in pieces gives the same output as in one call.
    Runs on the sparse-tap kernels (``backend``); the NIR ``Delay`` node is the per-neuron form.
    """

    def __init__(self, delays, weight: torch.Tensor | None = None, max_delay: int | None = None,
                 learn_weight: bool = False, backend: str = "auto") -> None:
        super().__init__()
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        d, self.max_delay = F.check_integer_delays(delays, max_delay)
        if weight is None:
            if d.dim() != 1:
                raise ValueError(f"per-neuron delays must be 1-D [channels], got shape {tuple(d.shape)}; "
                                 "per-synapse delays [out, in] need a weight of the same shape")
            if learn_weight:
                raise ValueError("learn_weight needs a weight (per-synapse delays)")
        else:
            weight = torch.as_tensor(weight, dtype=torch.get_default_dtype())
            if d.dim() != 2 or tuple(weight.shape) != tuple(d.shape):
                raise ValueError(f"per-synapse delays and weight must both be [out, in], got "
                                 f"{tuple(d.shape)} and {tuple(weight.shape)}")
        self.register_buffer("delays", d.long())
        if weight is None:
            self.weight = None
        elif learn_weight:
            self.weight = nn.Parameter(weight.clone())
        else:
            self.register_buffer("weight", weight.clone())
        self.backend = backend

    def forward(self, x: torch.Tensor, state: F.DelayState | None = None):
        """``y [T, B, C or O]``, ``x [T, B, C]`` delayed per neuron (or per synapse and weighted), and the
        :class:`~neuro.functional.delay.DelayState` holding the last ``max_delay`` input steps
        (``state=None``: zeros before the first step).
        """
        return F.fixed_delay(x, self.delays, self.weight, state, self.max_delay, self.backend)

    def extra_repr(self) -> str:
        """Per-neuron or per-synapse, the delays' shape, ``max_delay`` and backend."""
        kind = "per-neuron" if self.weight is None else "per-synapse"
        return (f"{kind}, shape={tuple(self.delays.shape)}, max_delay={self.max_delay}, "
                f"backend={self.backend!r}")


def delay_layers(model: nn.Module) -> list[DelayLinear]:
    """Every :class:`DelayLinear` inside ``model``."""
    return [m for m in model.modules() if isinstance(m, DelayLinear)]

