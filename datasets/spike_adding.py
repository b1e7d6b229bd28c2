"""Spike-train adding: a long-horizon synthetic task whose label depends on two brief, distant cues.

Each sample is ``steps`` time bins of ``values * group`` binary spike channels:

* background: every channel spikes independently with probability ``noise_rate`` per step;
* cue 1 (value ``a``): channel group ``a`` spikes with probability ``cue_rate`` for ``cue_steps``
  steps, starting uniformly in the first quarter of the sequence;
* cue 2 (value ``b``): the same for group ``b``, starting uniformly in the third quarter;
* label ``a + b`` (``2 * values - 1`` classes), read out at the **last** step.

So the first cue lies at least ``3/4 * steps - cue_steps`` steps and the second at least
``steps/4`` steps before the readout, with noise spikes in between: a model must hold two
values for hundreds of steps (the synthetic analogue of SHD-Adding). Chance level is the most
frequent sum, ``1 / values``. Sampling is deterministic for a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SpikeAdding:
    """Task definition (see the module docstring); :meth:`sample` draws a batch."""

    steps: int = 500
    values: int = 5
    group: int = 8
    cue_steps: int = 10
    cue_rate: float = 0.5
    noise_rate: float = 0.02

    def __post_init__(self) -> None:
        if self.values < 2 or self.group < 1:
            raise ValueError(f"need values >= 2 and group >= 1, got {self.values}, {self.group}")
        if not 0 < self.cue_steps < self.steps // 4:
            raise ValueError(f"cue_steps must be in 1 .. steps/4 - 1, got {self.cue_steps} "
                             f"for steps={self.steps}")
        for name in ("cue_rate", "noise_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be a probability, got {getattr(self, name)}")

    @property
    def channels(self) -> int:
        """Input channels: ``group`` channels per value, ``values * group``."""
        return self.values * self.group

    @property
    def num_classes(self) -> int:
        """Number of possible sums of two values, ``2 * values - 1``."""
        return 2 * self.values - 1

    @property
    def chance(self) -> float:
        """Accuracy of always answering the most frequent sum."""
        return 1.0 / self.values

    def sample(self, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x [steps, n, channels] float32 spikes, y [n] int64)``."""
        g = torch.Generator().manual_seed(seed)
        T, C, L = self.steps, self.channels, self.cue_steps
        x = torch.rand(T, n, C, generator=g) < self.noise_rate
        a = torch.randint(self.values, (n,), generator=g)
        b = torch.randint(self.values, (n,), generator=g)
        starts = (torch.randint(0, T // 4 - L + 1, (n,), generator=g),
                  torch.randint(T // 2, 3 * T // 4 - L + 1, (n,), generator=g))
        t = torch.arange(T)[:, None]
        group_of = torch.arange(C)[None, :] // self.group
        for value, start in zip((a, b), starts):
            active = (t >= start) & (t < start + L)  # [T, n]
            channel = group_of == value[:, None]  # [n, C]
            x |= active[:, :, None] & channel[None] & (torch.rand(T, n, C, generator=g) < self.cue_rate)
        return x.float(), a + b
