"""Surrogate gradients: one object serves the torch reference and the Numba kernels.

The forward pass of a spiking neuron is the Heaviside step ``s = H(v - theta)``; its derivative is
replaced in the backward pass by a smooth pseudo-derivative ``sigma'(z)`` of ``z = v - theta``.
Each surrogate below exposes

* ``derivative(z)`` — the torch implementation,
* ``kind`` and ``coefficients()`` — an integer and two numbers the kernels evaluate with the same
  formula (``neuro.kernels.surrogate_math``), so both backends compute the same gradients.

Formulas (``alpha``/``slope`` are the usual sharpness parameters):

* :class:`ATan` (SpikingJelly ``ATan``, snnTorch ``atan``): ``alpha/2 / (1 + (pi/2 alpha z)^2)``
* :class:`FastSigmoid` (SuperSpike; snnTorch ``fast_sigmoid``, Norse ``super``):
  ``1 / (1 + slope |z|)^2``
* :class:`Sigmoid` (snnTorch ``sigmoid``, SpikingJelly ``Sigmoid``):
  ``slope * sig(slope z) * (1 - sig(slope z))``
* :class:`Triangle`: ``slope * max(0, 1 - slope |z|)``
* :class:`StraightThrough`: ``1``
* :class:`PiecewiseQuadratic` (SpikingJelly ``PiecewiseQuadratic``):
  ``max(0, alpha - alpha^2 |z|)``
* :class:`Erf` (SpikingJelly ``Erf``): ``alpha / sqrt(pi) * exp(-(alpha z)^2)``, the derivative of
  ``erfc(-alpha z) / 2``; :class:`Gaussian` is the same curve as a normal density of width ``sigma``
* :class:`LeakyReLU` (SpikingJelly ``LeakyKReLU``): ``k`` for ``z >= 0``, ``leak`` below
* :class:`SoftSign` (SpikingJelly ``SoftSign``): ``alpha / 2 / (1 + alpha |z|)^2``

**Your own surrogate.** Subclass :class:`Surrogate` and define ``derivative(z)`` in torch (keep
``kind = -1``). Every op runs it on the torch reference; the fused kernels of the generic neuron
models (:mod:`neuro.nn.custom`: Izhikevich, AdEx, ExpIF, AlphaLIF, user-defined neurons) take it
too, evaluating ``derivative`` on the stored pre-spike values between their forward and backward
scans. The LIF-family kernels evaluate the built-in formulas only; there a user surrogate needs
``backend="torch"`` (construction says so, naming the built-ins).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType

import torch

from neuro.kernels import surrogate_math


@dataclass(frozen=True)
class Surrogate:
    """Base class; subclasses define ``kind`` and ``coefficients``."""

    kind = -1

    def coefficients(self) -> tuple[float, float]:
        """The two numbers ``(a, b)`` the kernels plug into the formula selected by ``kind``. The base class
        has none (a user surrogate with ``kind = -1`` is evaluated through ``derivative`` instead): raises
        ``NotImplementedError``.
        """
        raise NotImplementedError

    def derivative(self, z: torch.Tensor) -> torch.Tensor:
        """Pseudo-derivative of the Heaviside step at ``z = v - threshold``."""
        a, b = self.coefficients()
        if self.kind == surrogate_math.ATAN:
            return a / (1 + (b * z) ** 2)
        if self.kind == surrogate_math.FAST_SIGMOID:
            return a / (1 + b * z.abs()) ** 2
        if self.kind == surrogate_math.SIGMOID:
            sig = torch.sigmoid(b * z)
            return a * sig * (1 - sig)
        if self.kind == surrogate_math.TRIANGLE:
            return a * torch.clamp(1 - b * z.abs(), min=0)
        if self.kind == surrogate_math.PIECEWISE_QUADRATIC:
            return torch.clamp(a * z.abs() + b, min=0)
        if self.kind == surrogate_math.ERF:
            bz = b * z
            return a * torch.exp(-(bz * bz))
        if self.kind == surrogate_math.LEAKY_RELU:
            return torch.where(z >= 0, torch.full_like(z, a), torch.full_like(z, b))
        return torch.full_like(z, a)


@dataclass(frozen=True)
class ATan(Surrogate):
    """Arctangent surrogate, ``alpha / 2 / (1 + (pi / 2 * alpha * z)^2)``."""

    alpha: float = 2.0
    kind = surrogate_math.ATAN

    def coefficients(self) -> tuple[float, float]:
        """``(alpha / 2, pi / 2 * alpha)``: the height and the ``z`` scale of ``a / (1 + (b z)^2)``."""
        return self.alpha / 2, math.pi / 2 * self.alpha


@dataclass(frozen=True)
class FastSigmoid(Surrogate):
    """SuperSpike / fast sigmoid surrogate, ``1 / (1 + slope * |z|)^2``."""

    slope: float = 25.0
    kind = surrogate_math.FAST_SIGMOID

    def coefficients(self) -> tuple[float, float]:
        """``(1, slope)``: the height and the ``z`` scale of ``a / (1 + b |z|)^2``."""
        return 1.0, self.slope


SuperSpike = FastSigmoid


@dataclass(frozen=True)
class Sigmoid(Surrogate):
    """Logistic surrogate, ``slope * sig(slope * z) * (1 - sig(slope * z))``."""

    slope: float = 5.0
    kind = surrogate_math.SIGMOID

    def coefficients(self) -> tuple[float, float]:
        """``(slope, slope)``: the factor and the ``z`` scale of ``a * sig(b z) * (1 - sig(b z))``."""
        return self.slope, self.slope


@dataclass(frozen=True)
class Triangle(Surrogate):
    """Triangular surrogate of unit area, ``slope * max(0, 1 - slope * |z|)``."""

    slope: float = 1.0
    kind = surrogate_math.TRIANGLE

    def coefficients(self) -> tuple[float, float]:
        """``(slope, slope)``: the peak and the ``z`` scale of ``a * max(0, 1 - b |z|)``."""
        return self.slope, self.slope


@dataclass(frozen=True)
class StraightThrough(Surrogate):
    """Straight-through estimator: the step's derivative is taken as 1."""

    kind = surrogate_math.STRAIGHT_THROUGH

    def coefficients(self) -> tuple[float, float]:
        """``(1, 0)``: the constant pseudo-derivative ``a = 1`` (``b`` is unused)."""
        return 1.0, 0.0


@dataclass(frozen=True)
class PiecewiseQuadratic(Surrogate):
    """SpikingJelly's ``PiecewiseQuadratic``: ``alpha - alpha^2 |z|`` for ``|z| <= 1/alpha``, else 0
    (a triangle of unit area; Esser et al. 2016, Wu et al. 2018 STBP)."""

    alpha: float = 1.0
    kind = surrogate_math.PIECEWISE_QUADRATIC

    def coefficients(self) -> tuple[float, float]:
        """``(-alpha^2, alpha)``: slope and intercept of ``max(0, a |z| + b)``."""
        return -(self.alpha ** 2), self.alpha


@dataclass(frozen=True)
class Erf(Surrogate):
    """SpikingJelly's ``Erf``: ``alpha / sqrt(pi) * exp(-(alpha z)^2)``, the derivative of
    ``erfc(-alpha z) / 2`` (a Gaussian of unit area)."""

    alpha: float = 2.0
    kind = surrogate_math.ERF

    def coefficients(self) -> tuple[float, float]:
        """``(alpha / sqrt(pi), alpha)``: the peak and the ``z`` scale of ``a * exp(-(b z)^2)``."""
        return self.alpha / math.sqrt(math.pi), self.alpha


@dataclass(frozen=True)
class Gaussian(Surrogate):
    """Normal density of width ``sigma``, ``exp(-z^2 / (2 sigma^2)) / (sqrt(2 pi) sigma)`` (unit
    area); :class:`Erf` with ``alpha = 1 / (sqrt(2) sigma)``."""

    sigma: float = 0.5
    kind = surrogate_math.ERF

    def coefficients(self) -> tuple[float, float]:
        """``(1 / (sqrt(2 pi) sigma), 1 / (sqrt(2) sigma))``: the normal density of width ``sigma`` written as
        the ``Erf`` formula ``a * exp(-(b z)^2)``.
        """
        return 1.0 / (math.sqrt(2.0 * math.pi) * self.sigma), 1.0 / (math.sqrt(2.0) * self.sigma)


@dataclass(frozen=True)
class LeakyReLU(Surrogate):
    """SpikingJelly's ``LeakyKReLU``: derivative ``k`` for ``z >= 0`` and ``leak`` below."""

    k: float = 1.0
    leak: float = 0.0
    kind = surrogate_math.LEAKY_RELU

    def coefficients(self) -> tuple[float, float]:
        """``(k, leak)``: the pseudo-derivative for ``z >= 0`` and for ``z < 0``."""
        return self.k, self.leak


@dataclass(frozen=True)
class SoftSign(Surrogate):
    """SpikingJelly's ``SoftSign``: ``alpha / 2 / (1 + alpha |z|)^2`` (the SuperSpike shape,
    scaled to unit area)."""

    alpha: float = 2.0
    kind = surrogate_math.FAST_SIGMOID

    def coefficients(self) -> tuple[float, float]:
        """``(alpha / 2, alpha)``: the height and the ``z`` scale of ``a / (1 + b |z|)^2``."""
        return self.alpha / 2, self.alpha


_BY_NAME = MappingProxyType({"atan": ATan, "fast_sigmoid": FastSigmoid, "superspike": FastSigmoid,
                             "sigmoid": Sigmoid, "triangle": Triangle,
                             "straight_through": StraightThrough,
                             "piecewise_quadratic": PiecewiseQuadratic, "erf": Erf,
                             "gaussian": Gaussian, "leaky_relu": LeakyReLU, "soft_sign": SoftSign})


def get_surrogate(spec: Surrogate | str) -> Surrogate:
    """Return ``spec`` itself or build the surrogate named by it with default sharpness."""
    if isinstance(spec, Surrogate):
        return spec
    if isinstance(spec, str) and spec.lower() in _BY_NAME:
        return _BY_NAME[spec.lower()]()
    raise ValueError(f"surrogate must be a neuro.surrogate.Surrogate or one of {sorted(_BY_NAME)}, "
                     f"got {spec!r}")


class _Spike(torch.autograd.Function):
    """``H(h - theta)`` with ``>=`` or ``>`` and the surrogate's derivative in backward."""

    @staticmethod
    def forward(ctx, h, theta, surrogate: Surrogate, ge: bool):  # type: ignore[override]
        ctx.save_for_backward(h, theta)
        ctx.surrogate = surrogate
        hit = (h > theta) | (h == theta) if ge else h > theta
        return hit.to(h.dtype)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        h, theta = ctx.saved_tensors
        g = grad * ctx.surrogate.derivative(h - theta)
        g_theta = -g
        if g_theta.shape != theta.shape:  # theta was broadcast against h
            g_theta = g_theta.sum_to_size(theta.shape)
        return g, g_theta, None, None


def spike(h: torch.Tensor, theta: torch.Tensor, surrogate: Surrogate, ge: bool = True) -> torch.Tensor:
    """Spike indicator ``H(h - theta)`` (as ``h``'s dtype) with surrogate gradients."""
    return _Spike.apply(h, theta, surrogate, ge)
