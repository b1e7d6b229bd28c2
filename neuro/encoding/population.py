r"""Population coding with Gaussian receptive fields.

Each input feature :math:`x_f` is seen by ``size`` neurons with centres :math:`\mu_k` evenly
spaced over ``[low, high]`` and width :math:`\sigma` (default: the spacing of the centres); neuron
:math:`(f, k)` responds with :math:`r_{f,k} = \exp(-\tfrac12 ((x_f - \mu_k)/\sigma)^2) \in (0, 1]`
(Bohte et al. 2002; the population encoders of PopSAN, Tang et al. 2020, which SpikingJelly ships
as ``PopSpikeEncoderDeterministic`` / ``PopSpikeEncoderRandom``). The responses are turned into
spikes by :class:`GaussianPopulation`:

* ``"deterministic"``: an integrate-and-fire neuron per field driven by :math:`r` (threshold
  0.999, subtract reset) — regular firing at a rate that grows with :math:`r`, with a
  straight-through gradient to the centres and widths (SpikingJelly's deterministic encoder);
* ``"rate"``: Bernoulli spikes with probability :math:`r` per step (:func:`neuro.encoding.rate`);
* ``"latency"``: one spike per field, earlier for larger :math:`r`
  (:func:`neuro.encoding.latency`);
* ``"response"``: the responses themselves, repeated over time (direct coding).

The responses are differentiable in the input, the centres and the widths (``learnable=True``
makes centres and widths parameters).
"""

from __future__ import annotations

import torch
from torch import nn

from neuro.encoding.latency import latency
from neuro.encoding.rate import _check_input, _check_steps, rate, repeat
from neuro.nn import IF, SpikingModule
from neuro.surrogate import StraightThrough

__all__ = ["gaussian_fields", "population", "GaussianPopulation"]

MODES = ("deterministic", "rate", "latency", "response")


def gaussian_fields(x: torch.Tensor, centers: torch.Tensor, std: torch.Tensor | float,
                    flatten: bool = True) -> torch.Tensor:
    """Responses of Gaussian fields: ``x [B, F]`` and ``centers`` ``[K]`` or ``[F, K]`` give
    ``[B, F, K]`` (``flatten``: ``[B, F * K]``, feature-major); ``std`` a number or broadcastable
    to ``centers``."""
    _check_input(x)
    if x.dim() < 1:
        raise ValueError("x must have a feature dimension ([..., F])")
    z = (x.unsqueeze(-1) - centers) / std
    response = torch.exp(-0.5 * z * z)
    return response.flatten(-2) if flatten else response


def _centers(size: int, low: float, high: float) -> torch.Tensor:
    if size < 2:
        raise ValueError(f"a population needs size >= 2 neurons per feature, got {size}")
    if not high > low:
        raise ValueError(f"high must be greater than low, got low={low}, high={high}")
    return torch.linspace(low, high, size)


def population(x: torch.Tensor, size: int, low: float = 0.0, high: float = 1.0,
               std: float | None = None, flatten: bool = True) -> torch.Tensor:
    """Gaussian receptive-field responses of ``x [..., F]`` for ``size`` evenly spaced centres
    over ``[low, high]`` (``std`` default: their spacing): ``[..., F * size]``."""
    centers = _centers(size, low, high).to(dtype=x.dtype, device=x.device)
    width = (high - low) / (size - 1) if std is None else std
    if not width > 0:
        raise ValueError(f"std must be positive, got {std}")
    return gaussian_fields(x, centers, width, flatten)


class GaussianPopulation(SpikingModule):
    """Population encoder: ``x [B, features] -> (spikes [T, B, features * size], None)``.

    Args:
        features: ``F``, the size of the input's last dimension.
        size: fields per feature. low, high: range of the centres. std: width (default: the
            spacing of the centres).
        num_steps: ``T``. mode: ``"deterministic"``, ``"rate"``, ``"latency"`` or ``"response"``
            (module docstring). learnable: make centres ``[F, size]`` and widths parameters.
        seed: seed of the generator of ``mode="rate"`` (``None``: torch's global generator).
    """

    def __init__(self, features: int, size: int, num_steps: int, low: float = 0.0, high: float = 1.0,
                 std: float | None = None, mode: str = "deterministic", learnable: bool = False,
                 seed: int | None = None) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.features, self.size, self.mode = features, size, mode
        self.num_steps = _check_steps(num_steps)
        centers = _centers(size, low, high).expand(features, size).clone()
        width = (high - low) / (size - 1) if std is None else float(std)
        if not width > 0:
            raise ValueError(f"std must be positive, got {std}")
        stds = torch.full((features, size), width)
        if learnable:
            self.centers, self.std = nn.Parameter(centers), nn.Parameter(stds)
        else:
            self.register_buffer("centers", centers)
            self.register_buffer("std", stds)
        # SpikingJelly's deterministic encoder: IF, threshold 0.999, soft reset, gradient passed on
        self.neuron = IF(v_th=0.999, reset="subtract", threshold_op=">=", detach_reset=True,
                         surrogate=StraightThrough())
        self.seed = seed
        self._generator: torch.Generator | None = None

    def response(self, x: torch.Tensor) -> torch.Tensor:
        """The field responses ``[B, features * size]`` of ``x [B, features]``."""
        if x.shape[-1] != self.features:
            raise ValueError(f"GaussianPopulation has {self.features} features, got x of shape "
                             f"{tuple(x.shape)}")
        return gaussian_fields(x, self.centers, self.std)

    def _generator_for(self, device: torch.device) -> torch.Generator | None:
        if self.seed is None:
            return None
        if self._generator is None or self._generator.device != device:
            self._generator = torch.Generator(device=device).manual_seed(self.seed)
        return self._generator

    def forward(self, x: torch.Tensor, state: None = None):
        """``x [B, features] -> (out [T, B, features * size], None)``."""
        if x.dim() < 2:
            raise ValueError(f"GaussianPopulation takes x of shape [B, features], got {tuple(x.shape)}")
        r = self.response(x)
        if self.mode == "response":
            return repeat(r, self.num_steps), None
        if self.mode == "rate":
            return rate(r, self.num_steps, generator=self._generator_for(r.device)), None
        if self.mode == "latency":
            return latency(r.detach().clamp(0, 1), self.num_steps, normalize=True, clip=True), None
        return self.neuron(repeat(r, self.num_steps))[0], None

    def extra_repr(self) -> str:
        """Input features, neurons per feature, steps and mode."""
        return (f"features={self.features}, size={self.size}, num_steps={self.num_steps}, "
                f"mode={self.mode!r}")
