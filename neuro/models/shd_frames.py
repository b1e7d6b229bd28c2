"""Spiking Heidelberg Digits / Spiking Speech Commands HDF5 files as binned frames for the delay recipe.

A file in the SHD/SSC format (Cramer et al. 2020) holds ``spikes/times`` (variable-length float
arrays, seconds), ``spikes/units`` (variable-length integer arrays, cochlear channel 0..699) and
``labels`` (one integer per sample). :class:`HeidelbergFrames` validates the structure when opened,
validates each sample when read, and bins it the way the SNN-delays recipe does: channels summed in
groups of ``pool`` (700 -> 140), time in bins of ``dt`` seconds (10 ms), counts per bin; samples
have their own length and :func:`collate_time_major` pads a batch to ``[T, B, C]``.

Reading is lazy (one sample per ``__getitem__``); the file handle is reopened in each process, so
the dataset works with ``DataLoader`` workers. The same files load through
``tonic.datasets.SHD``; this reader exists so that a training run needs no download logic.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence, Union

import h5py
import numpy as np
import torch

SHD_CHANNELS = 700


class HeidelbergFrames(torch.utils.data.Dataset):
    """Binned frames ``[T, channels // pool]`` (float32 counts) and integer labels of an SHD/SSC file.

    Args:
        path: the ``.h5`` file.
        dt: bin width in seconds. pool: channels summed per group.
        n_classes: labels must lie in ``[0, n_classes)`` (``None``: not checked).
        max_time: drop spikes at or after this time (seconds); ``None`` keeps all.
    """

    def __init__(self, path: Union[str, Path], dt: float = 0.01, pool: int = 5,
                 n_channels: int = SHD_CHANNELS, n_classes: Optional[int] = None,
                 max_time: Optional[float] = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"SHD/SSC file {self.path} does not exist (the files are at "
                                    "https://zenkelab.org/datasets/, e.g. shd_train.h5.zip; unzip them)")
        if not dt > 0:
            raise ValueError(f"dt must be positive (seconds), got {dt}")
        if pool < 1 or n_channels % pool:
            raise ValueError(f"pool must be a positive divisor of {n_channels}, got {pool}")
        self.dt, self.pool, self.n_channels = float(dt), int(pool), int(n_channels)
        self.n_classes, self.max_time = n_classes, max_time
        self._file: Optional[h5py.File] = None
        self._pid = -1
        f = self._open()
        for key in ("spikes/times", "spikes/units", "labels"):
            if key not in f:
                raise ValueError(f"{self.path} is not an SHD/SSC file: dataset '{key}' is missing "
                                 f"(found {sorted(_keys(f))})")
        times, units, labels = f["spikes/times"], f["spikes/units"], f["labels"]
        if not (times.ndim == units.ndim == labels.ndim == 1):
            raise ValueError(f"{self.path}: spikes/times, spikes/units and labels must be 1-D")
        if not len(times) == len(units) == len(labels):
            raise ValueError(f"{self.path}: {len(times)} spike-time arrays, {len(units)} unit arrays and "
                             f"{len(labels)} labels; the counts must match")
        if len(labels) == 0:
            raise ValueError(f"{self.path} holds no samples")
        self.labels = np.asarray(labels[()])
        if not np.issubdtype(self.labels.dtype, np.integer):
            raise ValueError(f"{self.path}: labels must be integers, got dtype {self.labels.dtype}")
        if self.labels.min() < 0 or (n_classes is not None and self.labels.max() >= n_classes):
            raise ValueError(f"{self.path}: labels must lie in [0, {n_classes}), got "
                             f"[{self.labels.min()}, {self.labels.max()}]")

    @property
    def n_inputs(self) -> int:
        return self.n_channels // self.pool

    def _open(self) -> h5py.File:
        if self._file is None or self._pid != os.getpid():
            try:
                self._file = h5py.File(self.path, "r")
            except OSError as err:
                raise ValueError(f"cannot read {self.path} as HDF5 (truncated or corrupt?): {err}") from None
            self._pid = os.getpid()
        return self._file

    def __getstate__(self):
        return {**self.__dict__, "_file": None, "_pid": -1}

    def __len__(self) -> int:
        return len(self.labels)

    def events(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Validated spike times (seconds) and channels of sample ``index``."""
        f = self._open()
        times = np.asarray(f["spikes/times"][index], dtype=np.float64)
        units = np.asarray(f["spikes/units"][index])
        if times.shape != units.shape or times.ndim != 1:
            raise ValueError(f"{self.path} sample {index}: {times.shape} spike times but {units.shape} units")
        if times.size and (not np.isfinite(times).all() or times.min() < 0):
            raise ValueError(f"{self.path} sample {index}: spike times must be finite and >= 0 seconds")
        if units.size and (not np.issubdtype(units.dtype, np.integer) or units.min() < 0
                           or units.max() >= self.n_channels):
            raise ValueError(f"{self.path} sample {index}: units must be integers in [0, {self.n_channels})")
        if self.max_time is not None:
            keep = times < self.max_time
            times, units = times[keep], units[keep]
        return times, units

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        times, units = self.events(index)
        bins = np.floor(times / self.dt).astype(np.int64)
        steps = int(bins.max()) + 1 if bins.size else 1
        frames = np.zeros((steps, self.n_inputs), np.float32)
        np.add.at(frames, (bins, units.astype(np.int64) // self.pool), 1.0)
        return torch.from_numpy(frames), int(self.labels[index])


def _keys(f: h5py.File) -> list[str]:
    names: list[str] = []
    f.visit(names.append)
    return names


def collate_time_major(batch: Sequence[tuple[torch.Tensor, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad ``[T_i, C]`` frames with zeros to the longest and stack time-major: ``([T, B, C], [B])``."""
    steps = max(frames.shape[0] for frames, _ in batch)
    x = torch.zeros(steps, len(batch), batch[0][0].shape[1])
    for b, (frames, _) in enumerate(batch):
        x[:frames.shape[0], b] = frames
    return x, torch.tensor([label for _, label in batch], dtype=torch.long)


def write_shd_file(path: Union[str, Path], times: Sequence[np.ndarray], units: Sequence[np.ndarray],
                   labels: Sequence[int]) -> None:
    """Write an SHD-format file (the keys of the released files; float32 seconds, uint16 units) atomically."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    float_vlen = h5py.vlen_dtype(np.dtype("float32"))
    unit_vlen = h5py.vlen_dtype(np.dtype("uint16"))
    with h5py.File(tmp, "w") as f:
        t = f.create_dataset("spikes/times", (len(times),), dtype=float_vlen)
        u = f.create_dataset("spikes/units", (len(units),), dtype=unit_vlen)
        for k, (ti, ui) in enumerate(zip(times, units)):
            t[k] = np.asarray(ti, np.float32)
            u[k] = np.asarray(ui, np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, np.uint16))
        f.create_dataset("extra/keys", data=np.array([f"class-{c}".encode() for c in sorted(set(labels))]))
    os.replace(tmp, path)
