r"""Graded (rate-coded, non-spiking) neurons and sign-constrained synapses.

Small-circuit models such as NCAP (Bhattasali, Zador, Engel 2022) use neurons whose output is a
bounded rate rather than a spike, and synapses whose sign is fixed by the presynaptic cell type
(Dale's principle):

* graded activation: :math:`g(x) = \min(\max(x, \ell), h)`, by default :math:`\ell = 0, h = 1`;
* excitatory synapse: :math:`w^{+} = \max(w, 0)`; inhibitory synapse: :math:`w^{-} = \min(w, 0)`.

The sign is imposed **in the forward pass** on free raw parameters (a projection, not a
re-parametrisation): an optimiser or an evolution strategy may move a raw weight to the wrong side,
where it then acts as 0 (and its gradient is 0) until it comes back. ``sign`` values are
``EXCITATORY = +1``, ``INHIBITORY = -1`` and ``UNSIGNED = 0`` (no constraint).

:class:`Graded` is a stateless activation layer and :class:`SignedLinear` a stateless linear layer;
both act on any leading shape, so inside :class:`neuro.nn.Sequential` they are applied to all time
steps of ``[T, B, ...]`` at once.
"""

from __future__ import annotations

import torch
import torch.nn.functional as TF
from torch import nn

EXCITATORY = 1
INHIBITORY = -1
UNSIGNED = 0
_SIGN_NAMES = {"excitatory": EXCITATORY, "inhibitory": INHIBITORY, "unsigned": UNSIGNED,
               "+": EXCITATORY, "-": INHIBITORY}
INITS = ("uniform", "constant")

SignSpec = int | str | torch.Tensor


def graded(x: torch.Tensor, low: float = 0.0, high: float = 1.0) -> torch.Tensor:
    r"""The graded activation :math:`\min(\max(x, \mathrm{low}), \mathrm{high})` (default [0, 1])."""
    if not low < high:
        raise ValueError(f"graded needs low < high, got low={low}, high={high}")
    return x.clamp(min=low, max=high)


def excitatory(w: torch.Tensor) -> torch.Tensor:
    r"""An excitatory weight as used in the forward pass: :math:`\max(w, 0)`."""
    return w.clamp(min=0.0)


def inhibitory(w: torch.Tensor) -> torch.Tensor:
    r"""An inhibitory weight as used in the forward pass: :math:`\min(w, 0)`."""
    return w.clamp(max=0.0)


def sign_tensor(sign: SignSpec, shape: torch.Size | None = None) -> torch.Tensor:
    """``sign`` (``+1 / -1 / 0``, a name such as ``"excitatory"``, or a tensor of those) as an int8
    tensor, broadcast to ``shape`` when given."""
    if isinstance(sign, str):
        if sign not in _SIGN_NAMES:
            raise ValueError(f"sign must be one of {sorted(_SIGN_NAMES)} or +1/-1/0, got {sign!r}")
        sign = _SIGN_NAMES[sign]
    tensor = torch.as_tensor(sign)
    if tensor.is_floating_point() or tensor.is_complex():
        if not torch.equal(tensor, tensor.round()):
            raise ValueError("sign values must be +1 (excitatory), -1 (inhibitory) or 0 (unsigned)")
    tensor = tensor.to(torch.int8)
    if not bool(((tensor == 1) | (tensor == -1) | (tensor == 0)).all()):
        raise ValueError("sign values must be +1 (excitatory), -1 (inhibitory) or 0 (unsigned)")
    if shape is not None:
        try:
            tensor = tensor.expand(shape)
        except RuntimeError as err:
            raise ValueError(f"sign of shape {tuple(tensor.shape)} does not broadcast to the weight "
                             f"shape {tuple(shape)}") from err
    return tensor


def constrain_sign(w: torch.Tensor, sign: SignSpec) -> torch.Tensor:
    r"""``w`` with the sign constraint applied elementwise: :math:`\max(w,0)` where ``sign > 0``,
    :math:`\min(w,0)` where ``sign < 0``, ``w`` where ``sign == 0``. ``sign`` broadcasts to ``w``."""
    if isinstance(sign, (int, str)):
        value = sign if isinstance(sign, int) and sign in (-1, 0, 1) else int(sign_tensor(sign))
        return excitatory(w) if value > 0 else inhibitory(w) if value < 0 else w
    s = sign_tensor(sign).to(w.device)
    return torch.where(s > 0, excitatory(w), torch.where(s < 0, inhibitory(w), w))


def signed_init_(w: torch.Tensor, sign: SignSpec, mode: str = "uniform", scale: float = 1.0,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Initialise ``w`` in place according to its sign pattern.

    ``mode="uniform"``: :math:`U(0, s)` excitatory, :math:`U(-s, 0)` inhibitory, :math:`U(-s, s)`
    unsigned. ``mode="constant"``: :math:`+s` excitatory, :math:`-s` inhibitory and, for unsigned
    weights, :math:`\pm s` with equal probability (NCAP's "constant init" without sign constraints).
    """
    if mode not in INITS:
        raise ValueError(f"mode must be one of {INITS}, got {mode!r}")
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    s = sign_tensor(sign, w.shape).to(w.device)
    with torch.no_grad():
        u = torch.rand(w.shape, generator=generator, dtype=w.dtype).to(w.device)
        if mode == "uniform":
            value = torch.where(s > 0, u, torch.where(s < 0, -u, 2 * u - 1)) * scale
        else:
            coin = torch.where(u < 0.5, torch.ones_like(u), -torch.ones_like(u))
            value = torch.where(s == 0, coin, s.to(w.dtype)) * scale
        w.copy_(value)
    return w


class Graded(nn.Module):
    r"""Stateless graded neuron: :math:`y = \min(\max(x, \mathrm{low}), \mathrm{high})`."""

    def __init__(self, low: float = 0.0, high: float = 1.0) -> None:
        super().__init__()
        if not low < high:
            raise ValueError(f"Graded needs low < high, got low={low}, high={high}")
        self.low, self.high = float(low), float(high)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` clipped to ``[low, high]`` elementwise (any shape; no state)."""
        return graded(x, self.low, self.high)

    def extra_repr(self) -> str:
        """The clipping range ``low``, ``high``."""
        return f"low={self.low:g}, high={self.high:g}"


class SignedLinear(nn.Module):
    r"""Linear layer :math:`y = x (\mathrm{sign}\text{-}\mathrm{constrained}\ W)^\top + b` with fixed
    synapse signs.

    ``sign`` is ``"excitatory"`` / ``"inhibitory"`` / ``"unsigned"`` (every synapse), a tensor of
    shape ``[in_features]`` (Dale's principle: the sign of each presynaptic neuron) or
    ``[out_features, in_features]`` (one sign per synapse), with values +1 / -1 / 0. The raw
    parameter ``raw_weight`` is free; :attr:`weight` is the constrained weight used in the forward
    pass. ``constrained=False`` keeps the sign pattern for initialisation only (the ablation of the
    constraint). ``init`` is ``"uniform"`` or ``"constant"`` (see :func:`signed_init_`).
    """

    def __init__(self, in_features: int, out_features: int, sign: SignSpec = "excitatory",
                 bias: bool = False, constrained: bool = True, init: str = "uniform",
                 scale: float = 1.0, generator: torch.Generator | None = None) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.in_features, self.out_features = in_features, out_features
        self.constrained = bool(constrained)
        self.register_buffer("sign", sign_tensor(sign, torch.Size([out_features, in_features])).clone())
        self.raw_weight = nn.Parameter(torch.empty(out_features, in_features))
        signed_init_(self.raw_weight, self.sign, init, scale, generator)
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    @property
    def weight(self) -> torch.Tensor:
        """The weight used in the forward pass (sign-constrained when ``constrained``)."""
        return constrain_sign(self.raw_weight, self.sign) if self.constrained else self.raw_weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [..., in_features] -> [..., out_features]`` through the sign-constrained weights (cast to
        ``x``'s dtype) and the optional bias.
        """
        if x.shape[-1] != self.in_features:
            raise ValueError(f"SignedLinear expects x[..., {self.in_features}], got {tuple(x.shape)}")
        return TF.linear(x, self.weight.to(x.dtype), None if self.bias is None else self.bias.to(x.dtype))

    def extra_repr(self) -> str:
        """Sizes, bias and whether the signs are constrained."""
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, constrained={self.constrained}")


__all__ = ["EXCITATORY", "INHIBITORY", "INITS", "UNSIGNED", "Graded", "SignedLinear", "constrain_sign",
           "excitatory", "graded", "inhibitory", "sign_tensor", "signed_init_"]
