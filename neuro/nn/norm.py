r"""Batch normalisation for time-major spiking networks ``[T, B, C, *spatial]``.

* :class:`StepBatchNorm` — one set of statistics per channel, over every step, sample and
  position: :math:`y = \gamma \frac{x - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}} + b`, with
  :math:`\mu_c, \sigma_c^2` taken over :math:`(t, b, \text{spatial})` (SpikingJelly's
  ``SeqToANNContainer(BatchNorm)``, the BatchNorm of the SNN-delays recipe).
* :class:`ThresholdBatchNorm` — tdBN (Zheng et al., AAAI 2021): the same statistics, with the scale
  initialised to :math:`\alpha V_{th}` so the normalised input is matched to the threshold of
  the next neuron layer (SpikingJelly's ``ThresholdDependentBatchNorm``).
* :class:`BatchNormThroughTime` — BNTT (Kim & Panda, 2021): separate statistics and scale for
  every step, :math:`y_t = \gamma_t \frac{x_t - \mu_{t,c}}{\sqrt{\sigma_{t,c}^2 + \epsilon}}`,
  no bias by default (snnTorch's ``BatchNormTT``, SpikingJelly's ``BatchNormThroughTime``).

All follow ``forward(x, state=None) -> (y, None)`` and track running statistics like
``torch.nn.BatchNorm`` (``eval()`` uses them).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from neuro.nn.neurons import SpikingModule

__all__ = ["StepBatchNorm", "ThresholdBatchNorm", "BatchNormThroughTime"]


def _check(x: torch.Tensor, channels: int, name: str) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() < 3:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} takes x of shape [T, B, C, *spatial], got {shape}")
    if x.shape[2] != channels:
        raise ValueError(f"{name} has {channels} channels, but x has {x.shape[2]} in dim 2 "
                         f"(x of shape {tuple(x.shape)}; channels come after [T, B])")


class StepBatchNorm(SpikingModule):
    """BatchNorm over channels with statistics over all steps, samples and positions of
    ``[T, B, C, *spatial]``.

    Args:
        channels: ``C``. eps, momentum, affine, track_running_stats: as ``torch.nn.BatchNorm1d``.

    The parameters live in ``self.bn`` (a ``BatchNorm1d``, so state dicts of the SNN-delays recipe
    load unchanged).
    """

    def __init__(self, channels: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True) -> None:
        super().__init__()
        self.channels = channels
        self.bn = nn.BatchNorm1d(channels, eps=eps, momentum=momentum, affine=affine,
                                 track_running_stats=track_running_stats)

    def forward(self, x: torch.Tensor, state: None = None):
        """``x [T, B, C, *spatial] -> (y, None)``, ``y`` of the same shape."""
        _check(x, self.channels, type(self).__name__)
        if x.dim() == 3:
            return self.bn(x.reshape(-1, x.shape[-1])).view_as(x), None
        # [T*B, C, L]: BatchNorm1d reduces over the batch and the length
        folded = x.reshape(x.shape[0] * x.shape[1], self.channels, -1)
        return self.bn(folded).view_as(x), None


class ThresholdBatchNorm(StepBatchNorm):
    r"""tdBN: :class:`StepBatchNorm` whose scale starts at ``alpha * v_th`` (Zheng et al. 2021).

    ``v_th`` is the threshold of the neuron layer that follows; ``alpha`` is 1, or
    :math:`1/\sqrt{2}` for the branches of a residual block, as in the paper.
    """

    def __init__(self, channels: int, alpha: float = 1.0, v_th: float = 1.0, eps: float = 1e-5,
                 momentum: float | None = 0.1, track_running_stats: bool = True) -> None:
        super().__init__(channels, eps=eps, momentum=momentum, affine=True,
                         track_running_stats=track_running_stats)
        self.alpha, self.v_th = float(alpha), float(v_th)
        nn.init.constant_(self.bn.weight, self.alpha * self.v_th)

    def extra_repr(self) -> str:
        """Channels, ``alpha`` and ``v_th``."""
        return f"channels={self.channels}, alpha={self.alpha:g}, v_th={self.v_th:g}"


class BatchNormThroughTime(SpikingModule):
    """BNTT: batch normalisation with statistics and scale of their own at every step.

    Args:
        channels: ``C``. num_steps: the number of steps ``T`` it has parameters for; shorter
            sequences use the first ones, longer ones are an error.
        eps, momentum, track_running_stats: as ``torch.nn.BatchNorm1d``. affine: learn the
            per-step scale ``weight [num_steps, C]`` (initialised to 1). bias: also learn a
            per-step shift (off in BNTT and its peers).

    All steps are normalised in one call (``torch.nn.functional.batch_norm`` over ``T * C``
    channels), equal to one ``BatchNorm`` per step.
    """

    def __init__(self, channels: int, num_steps: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, bias: bool = False, track_running_stats: bool = True) -> None:
        super().__init__()
        if num_steps < 1 or channels < 1:
            raise ValueError(f"channels and num_steps must be >= 1, got {channels}, {num_steps}")
        self.channels, self.num_steps = channels, num_steps
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(num_steps, channels)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_steps, channels)) if bias else None
        self.track_running_stats = track_running_stats
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_steps, channels))
            self.register_buffer("running_var", torch.ones(num_steps, channels))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def forward(self, x: torch.Tensor, state: None = None):
        """``x [T, B, C, *spatial] -> (y, None)`` with ``T <= num_steps``."""
        _check(x, self.channels, type(self).__name__)
        T, B = x.shape[:2]
        if T > self.num_steps:
            raise ValueError(f"BatchNormThroughTime has parameters for {self.num_steps} steps, but x "
                             f"has T = {T} (build it with num_steps >= {T})")
        n = T * self.channels
        # [B, T*C, L]: channel k*C + c of the folded input is step k, channel c
        folded = x.movedim(0, 1).reshape(B, n, -1)
        use_batch = self.training or not self.track_running_stats
        factor = 0.0
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            factor = (1.0 / float(self.num_batches_tracked) if self.momentum is None
                      else self.momentum)

        def first(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.view(-1)[:n]  # a view: running stats update in place

        y = F.batch_norm(folded, first(self.running_mean), first(self.running_var),
                         first(self.weight), first(self.bias), use_batch, factor, self.eps)
        return y.reshape(B, T, *x.shape[2:]).movedim(1, 0), None

    def extra_repr(self) -> str:
        """Channels, steps with their own statistics, ``eps``, momentum, affine weight and bias."""
        return (f"channels={self.channels}, num_steps={self.num_steps}, eps={self.eps}, "
                f"momentum={self.momentum}, affine={self.weight is not None}, "
                f"bias={self.bias is not None}")
