"""``digits_events``: an embedded event dataset that needs no download.

The 1797 real handwritten digits of scikit-learn's ``load_digits`` (8x8 images, 16 grey levels,
the UCI "Optical Recognition of Handwritten Digits" test set, shipped inside scikit-learn) are
turned into event streams by the saccade simulator of :mod:`neuro.datasets.saccades`:

* each image is scaled to ``[0, 1]`` (``value / 16``), magnified 2x onto a 22x22 two-polarity
  sensor and moved along N-MNIST's three saccades (a triangle, 100 ms per leg, 300 ms in all);
* every pixel emits ON/OFF events when its log intensity ``log(I + 0.1)`` has changed by the
  contrast threshold 0.25 (3 % per-pixel mismatch) since its last event; crossings are timed
  between 1 ms samples by linear interpolation, then get 200 us Gaussian latency jitter and
  0.5 Hz/pixel background noise, and are rounded to integer microseconds;
* events use tonic's dtype (``x, y, t, p`` int64, ``p = 1`` ON), so ``tonic.transforms`` apply.

Everything is deterministic: sample ``i`` (its index in ``load_digits``) draws its mismatch, jitter
and noise from ``numpy.random.default_rng([seed, i])``. The split is fixed: a stratified 80/20
split of the 1797 samples with ``sklearn.model_selection.train_test_split(random_state=0)``
(1437 train, 360 test), independent of ``seed``. A sample has about 3500 events (2400-4500).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict
from typing import NamedTuple

import numpy as np
import torch

from .events import bin_events
from .saccades import SaccadeConfig, simulate_saccades

SPLITS = ("train", "test", "all")
CLASSES = tuple(str(d) for d in range(10))
N_TEST = 360


def split_indices(split: str) -> np.ndarray:
    """Indices into ``sklearn.datasets.load_digits()`` of the fixed ``train``/``test``/``all`` split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    targets = load_digits().target
    index = np.arange(len(targets))
    if split == "all":
        return index
    train, test = train_test_split(index, test_size=N_TEST, stratify=targets, random_state=0)
    return np.sort(train if split == "train" else test)


class DigitsEvents(torch.utils.data.Dataset):
    """Event streams of scikit-learn's handwritten digits (see the module docstring for how).

    Args:
        split: ``"train"`` (1437 samples), ``"test"`` (360) or ``"all"`` (1797).
        seed: simulation seed (threshold mismatch, jitter, noise).
        config: the saccade simulator's parameters.
        transform: applied to each event array (e.g. a ``tonic.transforms`` transform).

    ``dataset[i]`` is ``(events, label)``; ``events`` is a structured array sorted by ``t`` (us).
    Attributes: ``sensor_size`` ``(W, H, P)``, ``targets``, ``sample_ids``, ``duration_us``.
    """

    classes = CLASSES

    def __init__(self, split: str = "train", *, seed: int = 0,
                 config: SaccadeConfig = SaccadeConfig(),
                 transform: Callable | None = None) -> None:
        from sklearn.datasets import load_digits

        self.split, self.seed, self.config, self.transform = split, int(seed), config, transform
        self.sample_ids = split_indices(split)
        digits = load_digits()
        self.targets = digits.target[self.sample_ids].astype(np.int64)
        self.images = digits.images[self.sample_ids] / 16.0
        self._events, self.sensor_size = simulate_saccades(self.images, self.sample_ids,
                                                           self.seed, config)
        self.duration_us = config.duration_us

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        events = self._events[index].copy()
        if self.transform is not None:
            events = self.transform(events)
        return events, int(self.targets[index])

    def frames(self, index: int, time_window_us: int = 10_000) -> np.ndarray:
        """Event counts of sample ``index`` binned into ``[T, 2, H, W]`` (``T = 300 ms / window``)."""
        return bin_events(self._events[index], self.sensor_size, time_window_us, self.duration_us)


class FrameSet(NamedTuple):
    """Binned frames of a whole split, sample-major: ``frames [N, T, P, H, W]``, ``labels [N]``.

    ``frames.transpose(0, 1)`` gives the time-major ``[T, N, P, H, W]`` the networks take.
    """

    frames: torch.Tensor
    labels: torch.Tensor
    sensor_size: tuple[int, int, int]
    time_window_us: int

    def dataset(self) -> torch.utils.data.TensorDataset:
        """``TensorDataset`` of ``(frames [T, P, H, W], label)`` pairs (batch with ``pad_collate``)."""
        return torch.utils.data.TensorDataset(self.frames, self.labels)


def digits_frames(split: str = "train", *, time_window_us: int = 10_000, seed: int = 0,
                  config: SaccadeConfig = SaccadeConfig(),
                  cache_dir: os.PathLike | None = None, progress: bool = False) -> FrameSet:
    """The ``digits_events`` split binned into frames of ``time_window_us`` (counts, float32).

    With ``cache_dir`` (default ``$NEURO_CACHE_DIR`` if set) the frames are stored in (and later
    read from) an HDF5 frame cache keyed by the split, seed, window and simulator parameters
    (:mod:`neuro.datasets.cache`).
    """
    from .cache import resolve_cache_dir

    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    cache_dir = resolve_cache_dir(cache_dir)
    if cache_dir is None:
        data = DigitsEvents(split, seed=seed, config=config)
        stack = np.stack([data.frames(i, time_window_us) for i in range(len(data))])
        labels = data.targets
        sensor = data.sensor_size
    else:
        from .cache import open_or_build

        params = {"dataset": "digits_events", "split": split, "seed": int(seed),
                  "time_window_us": int(time_window_us), "saccades": asdict(config)}
        holder: dict = {}

        def sample(i: int):
            if "data" not in holder:  # simulate only when the cache must be built
                holder["data"] = DigitsEvents(split, seed=seed, config=config)
            data = holder["data"]
            return data.frames(i, time_window_us), int(data.targets[i])

        cache = open_or_build(cache_dir, "digits_events", split, params, len(split_indices(split)),
                              sample, progress=progress, n_classes=len(CLASSES))
        stack = np.stack(cache.read_all())
        labels = cache.labels
        sensor = config.sensor_size(8)
        cache.close()
    return FrameSet(torch.from_numpy(stack.astype(np.float32)), torch.from_numpy(labels.copy()),
                    sensor, int(time_window_us))


class DigitsFrames(torch.utils.data.Dataset):
    """``digits_events`` as ``(frames [T, 2, 22, 22] float32, label)`` pairs (counts per bin).

    Args: ``split``, ``time_window_us`` (default 10 ms -> ``T = 30``), ``seed``, ``cache_dir``
    (HDF5 frame cache), as in :func:`digits_frames`. Attributes: ``frame_shape``, ``n_classes``,
    ``sensor_size``, ``targets``, ``dt`` (frame length in seconds), ``frame_set`` (the whole split
    as a :class:`FrameSet`).
    """

    n_classes = len(CLASSES)
    classes = CLASSES

    def __init__(self, split: str = "train", *, time_window_us: int = 10_000, seed: int = 0,
                 cache_dir: os.PathLike | None = None, progress: bool = False) -> None:
        self.frame_set = digits_frames(split, time_window_us=time_window_us, seed=seed,
                                       cache_dir=cache_dir, progress=progress)
        self.sensor_size = self.frame_set.sensor_size
        self.frame_shape = tuple(self.frame_set.frames.shape[2:])
        self.targets = self.frame_set.labels.numpy()
        self.dt = time_window_us / 1e6

    def __len__(self) -> int:
        return len(self.frame_set.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.frame_set.frames[index], int(self.frame_set.labels[index])
