"""Batching variable-length frame sequences into time-major tensors ``[T, B, ...]``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch


class FrameBatch(NamedTuple):
    """A time-major batch: ``frames [T, B, ...]``, ``labels [B]``, ``lengths [B]`` (valid steps)."""

    frames: torch.Tensor
    labels: torch.Tensor
    lengths: torch.Tensor


def pad_collate(samples: Sequence[tuple], max_len: int | None = None,
                pad_value: float = 0.0) -> FrameBatch:
    """Stack ``(frames [T_i, ...], label)`` samples into a :class:`FrameBatch`.

    Shorter sequences are padded at the end with ``pad_value`` up to the longest (or ``max_len``);
    longer ones are cropped to ``max_len``. ``lengths`` holds ``min(T_i, max_len)``, so losses can
    ignore the padding. Frames may be numpy arrays or tensors; the batch is float32.

    Use as ``DataLoader(..., collate_fn=pad_collate)`` or, with a fixed length,
    ``collate_fn=functools.partial(pad_collate, max_len=T)``.
    """
    if len(samples) == 0:
        raise ValueError("cannot collate an empty batch")
    seqs = [torch.as_tensor(np.asarray(f) if not isinstance(f, torch.Tensor) else f)
            for f, _ in samples]
    feature_shape = tuple(seqs[0].shape[1:])
    for k, s in enumerate(seqs):
        if s.dim() < 1 or tuple(s.shape[1:]) != feature_shape:
            raise ValueError(f"sample {k} has frames of shape {tuple(s.shape)}; every sample must be "
                             f"[T, {', '.join(map(str, feature_shape))}]")
    lengths = [len(s) for s in seqs]
    steps = max(lengths) if max_len is None else int(max_len)
    if steps <= 0:
        raise ValueError(f"max_len must be positive, got {max_len}")
    out = torch.full((steps, len(seqs), *feature_shape), float(pad_value), dtype=torch.float32)
    for b, s in enumerate(seqs):
        n = min(len(s), steps)
        out[:n, b] = s[:n].to(torch.float32)
    labels = torch.as_tensor([int(label) for _, label in samples], dtype=torch.long)
    return FrameBatch(out, labels, torch.as_tensor([min(n, steps) for n in lengths],
                                                    dtype=torch.long))
