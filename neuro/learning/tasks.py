"""Task sequences for continual learning: permuted inputs of one base dataset.

Task ``k`` shows the base dataset with its pixel positions shuffled by a fixed permutation
``perm_k`` (the same for every channel/polarity and every time step; PMNIST's protocol). Sources:

* ``digits`` — scikit-learn's 8x8 handwritten digits (1437 train / 360 test, the split of
  :mod:`neuro.datasets.digits`), a static image ``[1, 8, 8]`` presented for ``time_steps`` steps;
* ``digits_events`` — their event version (:func:`neuro.datasets.digits_frames`), frames
  ``[T, 2, 22, 22]``;
* ``mnist`` — MNIST from torchvision's ``MNIST/raw`` IDX files (:mod:`neuro.learning.mnist_idx`),
  static ``[1, 28, 28]``: permuted MNIST;
* ``nmnist`` — N-MNIST frames ``[T, 2, 34, 34]`` through :mod:`neuro.datasets` (tonic layout).

Static images are repeated over time as a constant input current (the paper's PMNIST encoding).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset, Subset, TensorDataset

SOURCES = ("digits", "digits_events", "mnist", "nmnist")


@dataclass
class TaskSource:
    """A base dataset of a task sequence.

    ``train``/``test`` yield ``(x, label)`` with ``x`` ``[C, H, W]`` (``static``) or
    ``[T, C, H, W]``; ``input_shape`` is ``(C, H, W)``; ``dt`` the time step in seconds.
    """

    name: str
    train: Dataset
    test: Dataset
    input_shape: tuple[int, ...]
    n_classes: int
    static: bool
    dt: float

    def to_sequence(self, x: torch.Tensor, time_steps: int) -> torch.Tensor:
        """A batch ``[B, ...]`` as the time-major input ``[T, B, C, H, W]`` of the network."""
        if self.static:
            return x.unsqueeze(0).expand(time_steps, *x.shape)
        return x.transpose(0, 1)


def permutations(n_tasks: int, n_positions: int, seed: int,
                 first_identity: bool = False) -> torch.Tensor:
    """``[n_tasks, n_positions]`` position permutations drawn from ``seed``."""
    g = torch.Generator().manual_seed(10_007 * int(seed) + 17)
    perms = torch.stack([torch.randperm(n_positions, generator=g) for _ in range(n_tasks)])
    if first_identity and n_tasks:
        perms[0] = torch.arange(n_positions)
    return perms


def permute_positions(x: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """``x [..., H, W]`` with its ``H*W`` positions reordered by ``perm``."""
    h, w = x.shape[-2:]
    return x.flatten(-2)[..., perm.to(x.device)].unflatten(-1, (h, w))


def _limit(data: Dataset, n: int | None, seed: int) -> Dataset:
    """A fixed random subset of ``n`` samples (all when ``n`` is None or too large)."""
    if n is None or n >= len(data):
        return data
    pick = np.random.default_rng(seed).permutation(len(data))[:n]
    return Subset(data, np.sort(pick).tolist())


def _static_digits() -> tuple[Dataset, Dataset]:
    from sklearn.datasets import load_digits

    from neuro.datasets.digits import split_indices

    digits = load_digits()
    images = torch.from_numpy(digits.images / 16.0).float().unsqueeze(1)
    labels = torch.from_numpy(digits.target.astype(np.int64))
    parts = []
    for split in ("train", "test"):
        idx = torch.from_numpy(split_indices(split))
        parts.append(TensorDataset(images[idx], labels[idx]))
    return parts[0], parts[1]


def load_source(name: str, *, root: str | None = None, time_window_us: int = 20_000,
                n_time_bins: int | None = None, cache_dir: str | None = None,
                train_samples: int | None = None, test_samples: int | None = None,
                seed: int = 0, progress: bool = False) -> TaskSource:
    """The base dataset ``name`` (see the module docstring), optionally subsampled."""
    if name == "digits":
        train, test = _static_digits()
        source = TaskSource(name, train, test, (1, 8, 8), 10, True, 1e-3)
    elif name == "digits_events":
        from neuro.datasets import DigitsFrames

        sets = [DigitsFrames(split, time_window_us=time_window_us, cache_dir=cache_dir,
                             progress=progress) for split in ("train", "test")]
        train, test = (TensorDataset(s.frame_set.frames, s.frame_set.labels) for s in sets)
        source = TaskSource(name, train, test, tuple(sets[0].frame_shape), 10, False,
                            time_window_us / 1e6)
    elif name == "mnist":
        from neuro.learning.mnist_idx import mnist_arrays

        if root is None:
            raise ValueError("permuted MNIST needs --data-root (the folder holding MNIST/raw)")
        train, test = (TensorDataset(*mnist_arrays(root, split)) for split in ("train", "test"))
        source = TaskSource(name, train, test, (1, 28, 28), 10, True, 1e-3)
    elif name == "nmnist":
        from neuro.datasets import load_dataset

        options = dict(root=root, duration_us=300_000, cache_dir=cache_dir, progress=progress)
        if n_time_bins is not None:
            options["time_window_us"] = 300_000 // n_time_bins
        else:
            options["time_window_us"] = time_window_us
        train, test = (load_dataset("nmnist", split, **options) for split in ("train", "test"))
        source = TaskSource(name, train, test, tuple(train.frame_shape), 10, False,
                            options["time_window_us"] / 1e6)
    else:
        raise ValueError(f"unknown task source {name!r}; valid: {', '.join(SOURCES)}")
    source.train = _limit(source.train, train_samples, seed)
    source.test = _limit(source.test, test_samples, seed + 1)
    return source


def describe(source: TaskSource, perms: Sequence[torch.Tensor]) -> str:
    """One line naming the source, the number of permuted tasks and the split sizes."""
    kind = "static image" if source.static else "event frames"
    return (f"{source.name}: {len(perms)} permuted tasks of {kind} {source.input_shape}, "
            f"{len(source.train)} train / {len(source.test)} test samples per task")
