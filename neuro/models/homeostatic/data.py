"""Classification sets as in-memory tensors for the concept-shift runner.

:class:`ArraySet` holds ``x_train [N, ...]``, ``y_train [N]``, ``x_val``, ``y_val``. Sources:

* :func:`digits_set` — scikit-learn's 8x8 handwritten digits (values / 16, 64 inputs), the fixed
  1437 / 360 split of :mod:`neuro.datasets.digits`: the paper's MLP on the embedded digits;
* :func:`digits_events_set` — their event version (:func:`neuro.datasets.digits_frames`):
  ``[N, T, 2, 22, 22]`` frames for the spiking network (``static = False``);
* :meth:`ArraySet.from_dataset` — any ``neuro.datasets`` (or torch) classification dataset
  yielding ``(x, label)``; MNIST / Fashion-MNIST are loaded by ``neuro homeostatic`` from their
  IDX files when present.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["ArraySet", "digits_events_set", "digits_set"]


@dataclass
class ArraySet:
    """A classification set in memory. ``static``: samples are images, not time sequences."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    n_classes: int
    static: bool = True

    def __post_init__(self) -> None:
        if len(self.x_train) != len(self.y_train) or len(self.x_val) != len(self.y_val):
            raise ValueError(f"{self.name}: inputs and labels differ in length")
        for y in (self.y_train, self.y_val):
            if y.dtype != torch.int64 or (len(y) and not 0 <= int(y.min()) <= int(y.max()) < self.n_classes):
                raise ValueError(f"{self.name}: labels must be int64 in [0, {self.n_classes})")

    @property
    def in_features(self) -> int:
        """Inputs per sample (per time step for sequences)."""
        shape = self.x_train.shape[1:] if self.static else self.x_train.shape[2:]
        return int(torch.tensor(shape).prod())

    def subset(self, train: int | None = None, val: int | None = None, seed: int = 0) -> ArraySet:
        """A random subset (``train`` / ``val`` samples; None keeps all), drawn from ``seed``."""
        g = torch.Generator().manual_seed(int(seed))

        def pick(x: torch.Tensor, y: torch.Tensor, n: int | None):
            if n is None or n >= len(y):
                return x, y
            idx = torch.randperm(len(y), generator=g)[:n].sort().values
            return x[idx], y[idx]

        xt, yt = pick(self.x_train, self.y_train, train)
        xv, yv = pick(self.x_val, self.y_val, val)
        return ArraySet(self.name, xt, yt, xv, yv, self.n_classes, self.static)

    def to(self, dtype: torch.dtype) -> ArraySet:
        """The same set with inputs of ``dtype``."""
        return ArraySet(self.name, self.x_train.to(dtype), self.y_train, self.x_val.to(dtype), self.y_val,
                        self.n_classes, self.static)

    @classmethod
    def from_dataset(cls, name: str, train: torch.utils.data.Dataset, val: torch.utils.data.Dataset,
                     n_classes: int, static: bool = True) -> ArraySet:
        """Stack every ``(x, label)`` pair of two datasets."""
        def stack(ds):
            xs, ys = zip(*(ds[i] for i in range(len(ds))))
            return torch.stack([torch.as_tensor(x, dtype=torch.float32) for x in xs]), \
                torch.as_tensor([int(y) for y in ys], dtype=torch.int64)

        return cls(name, *stack(train), *stack(val), int(n_classes), static)


def digits_set() -> ArraySet:
    """scikit-learn's digits as ``[N, 64]`` in ``[0, 1]`` (1437 train / 360 validation)."""
    from sklearn.datasets import load_digits

    from neuro.datasets.digits import split_indices

    digits = load_digits()
    x = torch.from_numpy(digits.data / 16.0).float()
    y = torch.from_numpy(digits.target).long()
    tr, va = (torch.from_numpy(split_indices(s)) for s in ("train", "test"))
    return ArraySet("digits", x[tr], y[tr], x[va], y[va], 10, True)


def digits_events_set(time_window_us: int = 30_000, cache_dir: str | None = None) -> ArraySet:
    """The event digits as ``[N, T, 2, 22, 22]`` frames (``T = 300 ms / window``)."""
    from neuro.datasets import digits_frames

    train = digits_frames("train", time_window_us=time_window_us, cache_dir=cache_dir)
    val = digits_frames("test", time_window_us=time_window_us, cache_dir=cache_dir)
    return ArraySet("digits_events", train.frames, train.labels.long(), val.frames, val.labels.long(),
                    10, False)
