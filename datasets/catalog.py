"""Datasets by name: ``load_dataset(name, split, **options)``.

:data:`DATASETS` maps a name to a function ``(split, **options) -> Dataset`` whose items are
``(frames [T, ...] float32 tensor, label)`` and which has ``frame_shape`` and ``n_classes``
attributes. To add a dataset, add one entry here (an immutable table, not a runtime registry).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from types import MappingProxyType

import torch

from .digits import DigitsFrames
from .tonic_datasets import EventFrames


def _digits(split: str, *, root=None, download: bool = False, **options) -> DigitsFrames:
    del root, download  # embedded: nothing to find or download
    return DigitsFrames(split, **options)


DATASETS: Mapping[str, Callable[..., torch.utils.data.Dataset]] = MappingProxyType({
    "digits_events": _digits,
    "nmnist": partial(EventFrames, "nmnist"),
    "shd": partial(EventFrames, "shd"),
    "ssc": partial(EventFrames, "ssc"),
    "dvs_gesture": partial(EventFrames, "dvs_gesture"),
    "ntidigits": partial(EventFrames, "ntidigits"),
})


def dataset_names() -> list[str]:
    return sorted(DATASETS)


def load_dataset(name: str, split: str = "train", **options) -> torch.utils.data.Dataset:
    """The ``split`` of dataset ``name`` as ``(frames, label)`` pairs; unknown names list the valid."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(dataset_names())}")
    return DATASETS[name](split, **options)
