"""HDF5 cache of binned event frames, keyed by dataset, split and transform parameters.

The cache folder is the ``cache_dir`` argument of the datasets, or ``$NEURO_CACHE_DIR`` when that
is not given (no caching when neither is set). One file per key,
``<cache_dir>/<dataset>-<split>-<hash>.h5``, where ``hash`` is the SHA-256 of the canonical JSON
of the parameters (the JSON itself is stored in the file and compared on open). Layout:

* ``frames``  — ``[sum of T_i, *frame_shape]`` ``int16`` counts, gzip + shuffle + Fletcher-32
  checksums on every chunk, samples stored one after the other;
* ``offsets`` — ``[N + 1]`` ``int64``: sample ``i`` is ``frames[offsets[i]:offsets[i + 1]]``;
* ``labels``  — ``[N]`` ``int64``;
* attributes ``format_version``, ``key`` (the JSON), ``complete``.

A cache is written to a temporary file in the same folder and renamed into place only when
complete (``os.replace`` is atomic), so an interrupted run never leaves a half-written cache.
On open, the structure is validated and (by default) every chunk is read once so its checksum is
verified; a file that fails any check is reported, deleted and rebuilt — never trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional

import h5py
import numpy as np

from neuro._io import atomic_write_path, open_hdf5

from .errors import CorruptFileError

FORMAT_VERSION = 1
_SLAB_BYTES = 32 * 2**20  # verify / write in slabs of about this size


def resolve_cache_dir(cache_dir: Optional[os.PathLike]) -> Optional[Path]:
    """``cache_dir`` if given, else ``$NEURO_CACHE_DIR`` if set, else None (no cache)."""
    if cache_dir is None:
        cache_dir = os.environ.get("NEURO_CACHE_DIR") or None
    return None if cache_dir is None else Path(cache_dir).expanduser()


def cache_key(params: Mapping) -> str:
    """Canonical JSON of the parameters that determine the frames (sorted keys, no spaces)."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)


def cache_path(cache_dir: os.PathLike, dataset: str, split: str, params: Mapping) -> Path:
    """Where the cache of ``dataset``/``split`` binned with ``params`` lives."""
    digest = hashlib.sha256(cache_key(params).encode()).hexdigest()[:16]
    return Path(cache_dir) / f"{dataset}-{split}-{digest}.h5"


class FrameCache:
    """Read access to a validated frame cache (one HDF5 handle per process, opened lazily).

    ``cache[i]`` returns ``(frames [T_i, *frame_shape] int16, label)``.
    """

    def __init__(self, path: os.PathLike, params: Mapping, verify: bool = True) -> None:
        self.path = Path(path)
        self.key = cache_key(params)
        with _open(self.path) as f:
            self.offsets, self.labels, self.frame_shape = _validate(f, self.path, self.key)
            if verify:
                _verify_chunks(f["frames"], self.path)
        self._file: Optional[h5py.File] = None
        self._pid: Optional[int] = None

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def lengths(self) -> np.ndarray:
        """Number of frames of every sample."""
        return np.diff(self.offsets)

    def _frames(self) -> h5py.Dataset:
        if self._file is None or self._pid != os.getpid():  # fresh handle in DataLoader workers
            self._file = _open(self.path)
            self._pid = os.getpid()
        return self._file["frames"]

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        index %= len(self)
        lo, hi = int(self.offsets[index]), int(self.offsets[index + 1])
        try:
            frames = self._frames()[lo:hi]
        except OSError as err:
            raise CorruptFileError(f"frame cache {self.path} is corrupt ({err}); delete it and it "
                                   "will be rebuilt") from err
        return frames, int(self.labels[index])

    def read_all(self) -> list[np.ndarray]:
        """Every sample's frames, read in one pass (for datasets that fit in memory)."""
        try:
            frames = self._frames()[()]
        except OSError as err:
            raise CorruptFileError(f"frame cache {self.path} is corrupt ({err}); delete it and it "
                                   "will be rebuilt") from err
        return [frames[lo:hi] for lo, hi in zip(self.offsets[:-1], self.offsets[1:])]

    def __getstate__(self) -> dict:  # picklable for DataLoader workers (the handle is reopened)
        state = self.__dict__.copy()
        state["_file"], state["_pid"] = None, None
        return state

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def open_or_build(cache_dir: os.PathLike, dataset: str, split: str, params: Mapping,
                  n_samples: int, sample: Callable[[int], tuple[np.ndarray, int]],
                  progress: bool = True, verify: bool = True) -> FrameCache:
    """Open the cache of ``params`` in ``cache_dir``, building it first if absent or corrupt.

    ``sample(i)`` returns ``(frames [T_i, *frame_shape], label)`` of sample ``i``; every sample must
    have the same frame shape.
    """
    path = cache_path(cache_dir, dataset, split, params)
    if path.exists():
        try:
            return FrameCache(path, params, verify=verify)
        except CorruptFileError as err:
            warnings.warn(f"rebuilding the frame cache: {err}", stacklevel=2)
            path.unlink(missing_ok=True)
    write_cache(path, params, (sample(i) for i in range(n_samples)), n_samples,
                desc=f"caching {dataset}/{split}", progress=progress)
    return FrameCache(path, params, verify=False)


def write_cache(path: os.PathLike, params: Mapping, samples: Iterable[tuple[np.ndarray, int]],
                n_samples: int, desc: str = "caching frames", progress: bool = True) -> Path:
    """Write ``samples`` to ``path`` atomically (temporary file in the same folder + rename)."""
    from tqdm.auto import tqdm

    def write(tmp: str) -> None:
        with h5py.File(tmp, "w") as f:
            _fill(f, params, tqdm(samples, total=n_samples, desc=desc, disable=not progress,
                                  unit="sample"))

    return atomic_write_path(path, write)


def _fill(f: h5py.File, params: Mapping, samples: Iterable[tuple[np.ndarray, int]]) -> None:
    """Write the datasets and attributes of the module docstring's layout into the open file."""
    offsets, labels = [0], []
    buffer: list[np.ndarray] = []
    frames = None
    for frame_seq, label in samples:
        frame_seq = np.asarray(frame_seq)
        if frames is None:
            frames = _create_frames(f, frame_seq.shape[1:])
        elif frame_seq.shape[1:] != frames.shape[1:]:
            raise ValueError(f"sample {len(labels)} has frames of shape {frame_seq.shape[1:]}"
                             f", expected {frames.shape[1:]}")
        buffer.append(np.clip(frame_seq, -32768, 32767).astype(np.int16))
        offsets.append(offsets[-1] + len(frame_seq))
        labels.append(int(label))
        if sum(b.nbytes for b in buffer) >= _SLAB_BYTES:
            _append(frames, buffer)
    if frames is None:
        raise ValueError("cannot cache an empty dataset")
    _append(frames, buffer)
    f.create_dataset("offsets", data=np.asarray(offsets, np.int64))
    f.create_dataset("labels", data=np.asarray(labels, np.int64))
    f.attrs["format_version"] = FORMAT_VERSION
    f.attrs["key"] = cache_key(params)
    f.attrs["complete"] = True


def _create_frames(f: h5py.File, frame_shape: tuple[int, ...]) -> h5py.Dataset:
    per_frame = int(np.prod(frame_shape)) * 2
    rows = int(max(1, min(1024, (256 * 1024) // max(per_frame, 1))))
    return f.create_dataset("frames", shape=(0, *frame_shape), maxshape=(None, *frame_shape),
                            dtype=np.int16, chunks=(rows, *frame_shape), compression="gzip",
                            compression_opts=1, shuffle=True, fletcher32=True)


def _append(frames: h5py.Dataset, buffer: list[np.ndarray]) -> None:
    if not buffer:
        return
    block = np.concatenate(buffer)
    start = frames.shape[0]
    frames.resize(start + len(block), axis=0)
    frames[start:] = block
    buffer.clear()


def _open(path: Path) -> h5py.File:
    return open_hdf5(path, what="frame cache", error=CorruptFileError)


def _validate(f: h5py.File, path: Path, key: str) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Structural checks; returns ``(offsets, labels, frame_shape)``."""
    def bad(why: str) -> CorruptFileError:
        return CorruptFileError(f"frame cache {path} is invalid: {why}")

    try:
        if f.attrs.get("format_version") != FORMAT_VERSION:
            raise bad(f"format version {f.attrs.get('format_version')!r}, expected {FORMAT_VERSION}")
        if not f.attrs.get("complete", False):
            raise bad("not marked complete")
        if f.attrs.get("key") != key:
            raise bad("its parameters differ from the requested ones")
        for name in ("frames", "offsets", "labels"):
            if name not in f or not isinstance(f[name], h5py.Dataset):
                raise bad(f"dataset '{name}' is missing")
        frames = f["frames"]
        offsets, labels = f["offsets"][()], f["labels"][()]
    except OSError as err:
        raise bad(f"unreadable ({err})") from err
    if frames.dtype != np.int16 or offsets.dtype != np.int64 or labels.dtype != np.int64:
        raise bad("unexpected dtypes")
    if offsets.ndim != 1 or labels.ndim != 1 or len(offsets) != len(labels) + 1:
        raise bad(f"{len(offsets)} offsets for {len(labels)} labels")
    if offsets[0] != 0 or np.any(np.diff(offsets) < 0) or offsets[-1] != frames.shape[0]:
        raise bad("offsets do not index the frames")
    return offsets, labels, tuple(frames.shape[1:])


def _verify_chunks(frames: h5py.Dataset, path: Path) -> None:
    """Read every chunk once so HDF5 checks its Fletcher-32 checksum."""
    per_row = max(1, int(np.prod(frames.shape[1:])) * frames.dtype.itemsize)
    step = max(1, _SLAB_BYTES // per_row)
    try:
        for start in range(0, frames.shape[0], step):
            frames[start:start + step]
    except OSError as err:
        raise CorruptFileError(f"frame cache {path} failed its checksum ({err})") from err
