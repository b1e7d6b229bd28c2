"""A small reader of MNIST's IDX files in torchvision's layout (no torchvision needed).

Files: ``<root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte`` (optionally ``.gz``), as
torchvision's ``MNIST(root, download=True)`` leaves them. IDX format: a big-endian header — two zero
bytes, a type code (``0x08`` = unsigned byte), the number of dimensions, then one uint32 per
dimension — followed by the data. Headers, sizes and label ranges are checked; a truncated or
foreign file raises :class:`neuro.datasets.CorruptFileError`.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from types import MappingProxyType

import numpy as np
import torch

from neuro._io import atomic_write
from neuro.datasets import CorruptFileError, DatasetNotFoundError

PathLike = str | os.PathLike
FILES = MappingProxyType({"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")})
URL = "https://ossci-datasets.s3.amazonaws.com/mnist/ (torchvision's mirror)"


def read_idx(path: PathLike, expected_dims: int | None = None) -> np.ndarray:
    """The uint8 array stored in an IDX file (``.gz`` read transparently)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as err:
        raise CorruptFileError(f"{path}: cannot read IDX file ({err})") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise CorruptFileError(f"{path}: not an IDX file (bad magic number)")
    if raw[2] != 0x08:
        raise CorruptFileError(f"{path}: IDX type code {raw[2]:#04x} is not unsigned byte (0x08)")
    dims = raw[3]
    if expected_dims is not None and dims != expected_dims:
        raise CorruptFileError(f"{path}: {dims}-D IDX data, expected {expected_dims}-D")
    header = 4 + 4 * dims
    if len(raw) < header:
        raise CorruptFileError(f"{path}: truncated IDX header")
    shape = tuple(int(v) for v in np.frombuffer(raw, ">u4", dims, 4))
    size = int(np.prod(shape)) if shape else 0
    if len(raw) - header != size:
        raise CorruptFileError(f"{path}: IDX header announces {size} bytes of data for shape "
                               f"{shape}, the file holds {len(raw) - header} (truncated?)")
    return np.frombuffer(raw, np.uint8, size, header).reshape(shape).copy()


def _find(raw: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (raw / name).is_file():
            return raw / name
    return None


def mnist_arrays(root: PathLike, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(images [N, 1, 28, 28] float32 in [0, 1], labels [N] int64)`` of MNIST ``split``."""
    if split not in FILES:
        raise ValueError(f"MNIST split must be 'train' or 'test', got {split!r}")
    raw = Path(root) / "MNIST" / "raw"
    found = [_find(raw, stem) for stem in FILES[split]]
    if any(f is None for f in found):
        missing = [stem for stem, f in zip(FILES[split], found) if f is None]
        raise DatasetNotFoundError(f"MNIST {split} files {missing} (or .gz) are missing in {raw}; "
                                   f"put torchvision's MNIST/raw files there (from {URL})")
    images = read_idx(found[0], 3)
    labels = read_idx(found[1], 1)
    if len(images) != len(labels):
        raise CorruptFileError(f"{found[0]} has {len(images)} images but {found[1]} has "
                               f"{len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise CorruptFileError(f"{found[1]}: label {labels.max()} outside 0-9")
    x = torch.from_numpy(images).float().div_(255.0).unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))


def write_idx(path: PathLike, array: np.ndarray) -> Path:
    """Write a uint8 array as an IDX file (``.gz`` compressed when the name ends so); for tests."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    payload = header + array.tobytes()
    if str(path).endswith(".gz"):
        payload = gzip.compress(payload)
    return atomic_write(path, lambda fh: fh.write(payload))
