"""Synthetic files in the recorded datasets' formats (tests, notebooks, pipelines without data)."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np


def write_shd_like_file(path: os.PathLike, n_samples: int = 8, n_classes: int = 20,
                        n_channels: int = 700, seed: int = 0,
                        max_time_s: float = 0.9) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Write random spikes in the layout of the Spiking Heidelberg Digits / Speech Commands files.

    Keys as on the SHD page: ``spikes/times`` (variable-length float16 seconds), ``spikes/units``
    (variable-length uint16 channels), ``labels`` (uint16), ``extra/speaker``, ``extra/keys``,
    ``extra/meta_info/{gender,age,body_height}``. The per-key dtypes are from memory of the real
    files [recall], not verified against a downloaded copy. Returns ``(times, units, label)`` per
    sample. The content is random: use it to test pipelines, not to learn anything.
    """
    rng = np.random.default_rng(seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = []
    with h5py.File(path, "w") as f:
        times = f.create_dataset("spikes/times", (n_samples,), dtype=h5py.vlen_dtype(np.float16))
        units = f.create_dataset("spikes/units", (n_samples,), dtype=h5py.vlen_dtype(np.uint16))
        labels = rng.integers(0, n_classes, n_samples).astype(np.uint16)
        for i in range(n_samples):
            k = int(rng.integers(50, 400))
            t = np.sort(rng.uniform(0.0, max_time_s, k)).astype(np.float16)
            u = rng.integers(0, n_channels, k).astype(np.uint16)
            times[i], units[i] = t, u
            samples.append((t, u, int(labels[i])))
        f.create_dataset("labels", data=labels)
        f.create_dataset("extra/speaker", data=rng.integers(0, 12, n_samples).astype(np.uint16))
        f.create_dataset("extra/keys", data=np.array([f"class-{c}".encode() for c in range(n_classes)]))
        f.create_dataset("extra/meta_info/gender", data=np.array([b"female", b"male"]))
        f.create_dataset("extra/meta_info/age", data=np.array([30, 40], np.uint16))
        f.create_dataset("extra/meta_info/body_height", data=np.array([170, 180], np.uint16))
    return samples
