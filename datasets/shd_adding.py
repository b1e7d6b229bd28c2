"""SHD-Adding (Spieler et al., ICLR 2024): two digits spoken one after the other, the label is their sum.

Built on any map-style dataset yielding ``(sample, label)`` where ``sample`` is either

* tonic events (a structured array with fields ``t`` in microseconds and ``x`` the channel, e.g.
  ``tonic.datasets.SHD``), binned into ``duration_ms / bin_ms`` frames of ``channels`` spike counts
  over the fixed window ``[0, duration_ms)`` (events at or after the end are dropped, as in the
  authors' loader), or
* frames already binned, ``[T, channels]`` (or ``[T, 1, channels]``), array or tensor.

Item ``i`` draws two indices ``j1, j2`` uniformly (numpy generator seeded with ``(seed, i)``, so
items are reproducible and a new ``seed`` gives new pairs, e.g. one per epoch), concatenates their
frames in time (``T`` doubles: 2 s at 2 ms bins -> 1000 steps) and labels the pair
``(y1 mod 10) + (y2 mod 10)`` — SHD's 20 classes are the digits 0-9 in English then German, so the
language is ignored — giving 19 classes (0..18). Use :func:`collate_time_major` in a DataLoader to
get ``x [T, B, channels]``, ``y [B]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

SHD_CHANNELS = 700


def bin_events(events: np.ndarray, bin_ms: float = 2.0, duration_ms: float = 1000.0,
               channels: int = SHD_CHANNELS) -> torch.Tensor:
    """Spike counts ``[round(duration_ms / bin_ms), channels]`` (float32) of tonic events in
    ``[0, duration)``."""
    if events.dtype.names is None or not {"t", "x"} <= set(events.dtype.names):
        raise ValueError(f"events must be a structured array with fields 't' (us) and 'x' (channel), "
                         f"got dtype {events.dtype}")
    if not (bin_ms > 0 and duration_ms >= bin_ms):
        raise ValueError(f"need bin_ms > 0 and duration_ms >= bin_ms, got {bin_ms}, {duration_ms}")
    steps = int(round(duration_ms / bin_ms))
    t = events["t"].astype(np.float64)
    x = events["x"].astype(np.int64)
    if t.size and (t.min() < 0 or not np.isfinite(t).all()):
        raise ValueError("event times must be finite and >= 0 (microseconds)")
    if x.size and (x.min() < 0 or x.max() >= channels):
        raise ValueError(f"event channels must be in 0..{channels - 1}, got {x.min()}..{x.max()}")
    step = np.floor(t / (bin_ms * 1000.0)).astype(np.int64)
    keep = step < steps
    counts = np.bincount(step[keep] * channels + x[keep], minlength=steps * channels)
    return torch.from_numpy(counts.reshape(steps, channels).astype(np.float32))


def to_frames(sample: Any, bin_ms: float = 2.0, duration_ms: float = 1000.0,
              channels: int = SHD_CHANNELS) -> torch.Tensor:
    """``[T, channels]`` float32 frames from tonic events or from already binned frames."""
    if isinstance(sample, np.ndarray) and sample.dtype.names is not None:
        return bin_events(sample, bin_ms, duration_ms, channels)
    frames = torch.as_tensor(sample)
    if frames.dim() < 2 or frames[0].numel() != channels:
        raise ValueError(f"frames must have shape [T, {channels}] (or [T, 1, {channels}]), "
                         f"got {tuple(frames.shape)}")
    return frames.reshape(frames.shape[0], channels).float()


class SHDAdding(torch.utils.data.Dataset):
    """Pairs of ``dataset`` samples concatenated in time, labelled ``(y1 mod m) + (y2 mod m)``.

    Args:
        dataset: map-style dataset of ``(events or frames, label)``, e.g. ``tonic.datasets.SHD``.
        length: number of pairs per epoch (the authors used 2000 batches of 8).
        bin_ms, duration_ms, channels: binning of event samples (ignored for frames).
        modulus: 10 for SHD (labels 0-19 = two languages x ten digits).
        seed: chooses the pairs; item ``i`` depends only on ``(seed, i)``.
    """

    def __init__(self, dataset: Sequence, length: int, *, bin_ms: float = 2.0, duration_ms: float = 1000.0,
                 channels: int = SHD_CHANNELS, modulus: int = 10, seed: int = 0) -> None:
        if len(dataset) == 0:
            raise ValueError("the base dataset is empty")
        if length < 1 or modulus < 1:
            raise ValueError(f"length and modulus must be >= 1, got {length}, {modulus}")
        self.dataset, self.length, self.modulus, self.seed = dataset, int(length), int(modulus), int(seed)
        self.bin_ms, self.duration_ms, self.channels = bin_ms, duration_ms, channels

    @property
    def num_classes(self) -> int:
        """Number of possible sums, ``2 * modulus - 1`` (sums 0 .. ``2 * (modulus - 1)``)."""
        return 2 * self.modulus - 1

    def __len__(self) -> int:
        return self.length

    def pair(self, index: int) -> tuple[int, int]:
        """The two base-dataset indices of item ``index``."""
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} pairs")
        j1, j2 = np.random.default_rng([self.seed, index]).integers(len(self.dataset), size=2)
        return int(j1), int(j2)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        frames, labels = [], []
        for j in self.pair(index):
            sample, label = self.dataset[j]
            frames.append(to_frames(sample, self.bin_ms, self.duration_ms, self.channels))
            labels.append(int(label) % self.modulus)
        return torch.cat(frames), labels[0] + labels[1]


def collate_time_major(batch: Sequence[tuple[torch.Tensor, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x [T, B, C], y [B])``; shorter samples are zero-padded at the end."""
    steps = max(x.shape[0] for x, _ in batch)
    x = torch.zeros(steps, len(batch), batch[0][0].shape[1])
    for b, (frames, _) in enumerate(batch):
        x[:frames.shape[0], b] = frames
    return x, torch.tensor([int(y) for _, y in batch])
