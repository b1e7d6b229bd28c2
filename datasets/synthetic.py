"""Synthetic files in the recorded datasets' formats (tests, notebooks, pipelines without data)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np


def write_shd_file(path: os.PathLike, times: Sequence[np.ndarray], units: Sequence[np.ndarray],
                   labels: Sequence[int], n_classes: int | None = None,
                   speakers: Sequence[int] | None = None, time_dtype=np.float16) -> Path:
    """Write given spikes in the layout of the Spiking Heidelberg Digits / Speech Commands files.

    Keys as on the SHD page: ``spikes/times`` (variable-length float seconds, ``time_dtype``),
    ``spikes/units`` (variable-length uint16 channels), ``labels`` (uint16), ``extra/speaker``,
    ``extra/keys``, ``extra/meta_info/{gender,age,body_height}``. The per-key dtypes are from
    memory of the real files [recall], not verified against a downloaded copy. The file is written
    to a temporary name and renamed, so it is never half written.
    """
    if not len(times) == len(units) == len(labels):
        raise ValueError(f"{len(times)} spike-time arrays, {len(units)} unit arrays and "
                         f"{len(labels)} labels; the counts must match")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(labels)
    n_classes = int(max(labels, default=-1)) + 1 if n_classes is None else n_classes
    speakers = np.zeros(n, np.uint16) if speakers is None else np.asarray(speakers, np.uint16)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            t = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.dtype(time_dtype)))
            u = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.uint16))
            for i in range(n):
                t[i] = np.asarray(times[i], time_dtype)
                u[i] = np.asarray(units[i], np.uint16)
            f.create_dataset("labels", data=np.asarray(labels, np.uint16))
            f.create_dataset("extra/speaker", data=speakers)
            f.create_dataset("extra/keys", data=np.array([f"class-{c}".encode()
                                                          for c in range(n_classes)]))
            f.create_dataset("extra/meta_info/gender", data=np.array([b"female", b"male"]))
            f.create_dataset("extra/meta_info/age", data=np.array([30, 40], np.uint16))
            f.create_dataset("extra/meta_info/body_height", data=np.array([170, 180], np.uint16))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_shd_like_file(path: os.PathLike, n_samples: int = 8, n_classes: int = 20,
                        n_channels: int = 700, seed: int = 0,
                        max_time_s: float = 0.9) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Write random spikes in the layout of the SHD / SSC files (see :func:`write_shd_file`).

    Returns ``(times, units, label)`` per sample. The content is random: use it to test pipelines,
    not to learn anything.
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n_samples).astype(np.uint16)
    samples = []
    for i in range(n_samples):
        k = int(rng.integers(50, 400))
        t = np.sort(rng.uniform(0.0, max_time_s, k)).astype(np.float16)
        u = rng.integers(0, n_channels, k).astype(np.uint16)
        samples.append((t, u, int(labels[i])))
    speakers = rng.integers(0, 12, n_samples).astype(np.uint16)
    write_shd_file(path, [s[0] for s in samples], [s[1] for s in samples], labels, n_classes,
                   speakers)
    return samples
