r"""Synaptic layers of a model and their presynaptic activity vectors.

A *site* is a layer whose weight multiplies presynaptic activity: ``nn.Linear`` (vectors of
``in_features``) or ``nn.Conv2d`` (unfolded im2col patches of ``C_in * kh * kw``, one vector per
output position, ordered like ``weight.reshape(C_out, -1)``). Activity is observed where time is
known: on the :class:`neuro.nn.TimeDistributed` wrapper of a layer (input ``[T, B, ...]``), or on
a bare layer, whose input is ``[T, B, n]`` for a 3-D linear input / ``[T, B, C, H, W]`` for a 5-D
conv input, and one time step (``[B, n]`` / ``[B, C, H, W]``) otherwise (step-by-step loops).

:class:`TraceRecorder` turns the observed activity into the samples that subspace methods learn
from:

* ``"rate"`` — the weighted firing rate of each sample over its time steps,
  :math:`\bar x = \sum_t \lambda^{T-1-t} x_t / \sum_t \lambda^{T-1-t}` (the paper's HLOP input;
  one vector per sample and conv position);
* ``"filtered"`` — the same normalised exponential trace at *every* step,
  :math:`\hat x_t = \sum_{s \le t} \lambda^{t-s} x_s / \sum_{s \le t} \lambda^{t-s}` (``T``
  vectors per sample). With :math:`\lambda` the postsynaptic membrane decay, a LIF membrane is
  :math:`v_t = W \sum_{s \le t} \lambda^{t-s} x_s` minus resets, so a weight change orthogonal to
  every :math:`\hat x_t` of old inputs leaves their membranes — hence spikes — unchanged; ``"rate"``
  is this trace's last step only;
* ``"spikes"`` — every time step's raw input is a sample (the paper's BPTT variant).

Traces accumulate across calls, so step-by-step loops (online training) give the same samples as
one sequence call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

TRACE_KINDS = ("rate", "filtered", "spikes")


@dataclass
class Site:
    """One synaptic layer: ``layer`` (Linear/Conv2d), where its input is observed, its fan-in."""

    name: str
    layer: nn.Module
    observed: nn.Module  # the TimeDistributed wrapper, or the layer itself
    sequence_wrapper: bool

    @property
    def kind(self) -> str:
        """``"conv"`` for an ``nn.Conv2d`` layer, else ``"linear"``."""
        return "conv" if isinstance(self.layer, nn.Conv2d) else "linear"

    @property
    def fan_in(self) -> int:
        """Inputs per output unit: ``in_features``, or ``in_channels * kh * kw`` for a convolution."""
        return int(self.layer.weight[0].numel())

    @property
    def weight(self) -> nn.Parameter:
        """The layer's weight parameter (the one whose updates are projected)."""
        return self.layer.weight

    def unfold(self, x: torch.Tensor) -> torch.Tensor:
        """im2col patches ``[N, L, C_in*kh*kw]`` of conv input ``x [N, C, H, W]``."""
        conv = self.layer
        if conv.padding_mode != "zeros":
            x = F.pad(x, conv._reversed_padding_repeated_twice, mode=conv.padding_mode)
            padding = 0
        else:
            padding = conv.padding
        return F.unfold(x, conv.kernel_size, dilation=conv.dilation, padding=padding,
                        stride=conv.stride).transpose(1, 2)

    def presynaptic(self, x: torch.Tensor) -> torch.Tensor:
        """Activity vectors ``[T, N, fan_in]`` of the observed input (``N`` = samples x positions)."""
        x = x.detach()
        if self.kind == "linear":
            if self.sequence_wrapper:
                x = x.reshape(x.shape[0], -1, x.shape[-1])
            elif x.dim() == 2:
                x = x.unsqueeze(0)
            elif x.dim() != 3:
                raise ValueError(f"{self.name}: cannot tell time from a {x.dim()}-D linear input; "
                                 "wrap the layer in neuro.nn.TimeDistributed")
            return x
        if self.sequence_wrapper or x.dim() == 5:
            steps = x.shape[0]
            patches = self.unfold(x.reshape(-1, *x.shape[2:]))
            return patches.reshape(steps, -1, patches.shape[-1])
        if x.dim() == 4:
            return self.unfold(x).reshape(1, -1, self.fan_in)
        raise ValueError(f"{self.name}: conv input must be [T, B, C, H, W] or [B, C, H, W], got "
                         f"{tuple(x.shape)}")


def find_sites(model: nn.Module, names: Sequence[str] | None = None) -> list[Site]:
    """The Linear/Conv2d layers of ``model`` (in module order), or those named in ``names``."""
    from neuro.nn import TimeDistributed

    wrappers = {id(m.layer): m for m in model.modules() if isinstance(m, TimeDistributed)}
    sites = []
    for name, module in model.named_modules():
        if not isinstance(module, (nn.Linear, nn.Conv2d)):
            continue
        if names is not None and name not in names:
            continue
        if isinstance(module, nn.Conv2d) and module.groups != 1:
            raise ValueError(f"{name}: grouped convolutions (groups={module.groups}) are not "
                             "supported by subspace projection")
        wrapper = wrappers.get(id(module))
        sites.append(Site(name, module, wrapper if wrapper is not None else module,
                          wrapper is not None))
    if names is not None:
        missing = set(names) - {s.name for s in sites}
        if missing:
            valid = [n for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
            raise ValueError(f"no Linear/Conv2d layer named {sorted(missing)}; valid: {valid}")
    if not sites:
        raise ValueError("the model has no nn.Linear or nn.Conv2d layer to protect")
    return sites


class TraceRecorder:
    """Accumulates a site's presynaptic activity into Hebbian samples (module docstring).

    ``observe(v [T, N, n])`` may be called once per sequence or once per step; ``samples()``
    returns ``[S, n]`` and ``reset()`` starts the next sequence.
    """

    def __init__(self, kind: str = "rate", decay: float = 1.0,
                 max_samples: int | None = None) -> None:
        if kind not in TRACE_KINDS:
            raise ValueError(f"trace must be one of {TRACE_KINDS}, got {kind!r}")
        if not 0.0 < decay <= 1.0:
            raise ValueError(f"trace decay must be in (0, 1], got {decay}")
        self.kind, self.decay, self.max_samples = kind, float(decay), max_samples
        self.reset()

    def reset(self) -> None:
        """Forget the accumulated trace and samples: the next :meth:`observe` starts a new sequence."""
        self._sum: torch.Tensor | None = None
        self._norm = 0.0
        self._steps: list[torch.Tensor] = []

    def observe(self, v: torch.Tensor) -> None:
        """Accumulate presynaptic activity ``v [T, N, n]`` (a whole sequence or one step): ``spikes`` keeps
        every step's rows, ``filtered`` the normalised trace after every step, ``rate`` the decay-weighted
        sum over the sequence. A new batch size starts a new sequence.
        """
        if self.kind == "spikes":
            self._steps.append(v.reshape(-1, v.shape[-1]))
            return
        if self._sum is not None and self._sum.shape != v.shape[1:]:
            self.reset()  # a new batch size: a new sequence
        if self.kind == "filtered":
            for x_t in v:  # the normalised trace after every step is a sample
                self._sum = x_t.clone() if self._sum is None else self._sum * self.decay + x_t
                self._norm = self._norm * self.decay + 1.0
                self._steps.append(self._sum / self._norm)
            return
        steps = v.shape[0]
        w = self.decay ** torch.arange(steps - 1, -1, -1, dtype=v.dtype, device=v.device)
        part = torch.tensordot(w, v, dims=([0], [0]))
        carry = self.decay ** steps
        if self._sum is None:
            self._sum, self._norm = part, float(w.sum())
        else:
            self._sum = self._sum * carry + part
            self._norm = self._norm * carry + float(w.sum())

    def samples(self, generator: torch.Generator | None = None) -> torch.Tensor | None:
        """The Hebbian samples ``[S, n]`` recorded since :meth:`reset` (``None`` if none), randomly subsampled
        to ``max_samples`` rows with ``generator`` when there are more.
        """
        if self.kind in ("spikes", "filtered"):
            out = torch.cat(self._steps) if self._steps else None
        else:
            out = None if self._sum is None else self._sum / self._norm
        if out is not None and self.max_samples is not None and out.shape[0] > self.max_samples:
            pick = torch.randperm(out.shape[0], generator=generator)[: self.max_samples]
            out = out[pick.to(out.device)]
        return out
