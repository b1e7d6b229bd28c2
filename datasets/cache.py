"""HDF5 cache of binned event frames, keyed by dataset, split and transform parameters.

The cache folder is the ``cache_dir`` argument of the datasets, or ``$NEURO_CACHE_DIR`` when that
is not given (no caching when neither is set). One file per key,
``<cache_dir>/<dataset>-<split>-<hash>.h5``, where ``hash`` is the SHA-256 of the canonical JSON
of the parameters (the JSON itself is stored in the file and compared on open). Layout:

* ``frames``  — ``[sum of T_i, *frame_shape]`` ``int16`` counts, gzip + shuffle + Fletcher-32
  checksums on every chunk, samples stored one after the other;
* ``offsets`` — ``[N + 1]`` ``int64``: sample ``i`` is ``frames[offsets[i]:offsets[i + 1]]``;
* ``labels``  — ``[N]`` ``int64``;
* attributes ``format_version``, ``key`` (the JSON), ``complete``, and on each of the three
  datasets ``sha256``: the SHA-256 of its content (little-endian, row-major bytes).

A cache is written to a temporary file in the same folder and renamed into place only when
complete (``os.replace`` is atomic), so an interrupted run never leaves a half-written cache.
On open, the structure is validated, ``offsets`` and ``labels`` are compared with their SHA-256
(and labels must lie in ``[0, n_classes)`` when the caller knows ``n_classes``), and (by default)
every frame chunk is read once so its Fletcher-32 checksum and the SHA-256 of all frames are
verified; a file that fails any check is reported, deleted and rebuilt — never trusted.

Several processes may share a cache folder: building (and deleting a corrupt file) happens under
an exclusive lock file ``.<name>.lock`` next to the cache (:func:`neuro._io.file_lock`), and a
process that waited for the lock re-checks the file another process may just have built instead of
building it again. Temporary files of writers that died without cleaning up (``SIGKILL``) are
removed by the next builder (:func:`neuro._io.remove_stale_temporaries`).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import h5py
import numpy as np

from neuro._io import atomic_write_path, file_lock, open_hdf5, progress_enabled, remove_stale_temporaries

from .errors import CorruptFileError

FORMAT_VERSION = 2  # 2: a SHA-256 on every dataset
_SLAB_BYTES = 32 * 2**20  # verify / write in slabs of about this size


def resolve_cache_dir(cache_dir: os.PathLike | None) -> Path | None:
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

    ``cache[i]`` returns ``(frames [T_i, *frame_shape] int16, label)``. ``n_classes`` (if known)
    bounds the labels; ``verify`` reads every frame once to check its checksums and SHA-256.
    """

    def __init__(self, path: os.PathLike, params: Mapping, verify: bool = True,
                 n_classes: int | None = None) -> None:
        self.path = Path(path)
        self.key = cache_key(params)
        with _open(self.path) as f:
            self.offsets, self.labels, self.frame_shape = _validate(f, self.path, self.key, n_classes)
            if verify:
                _verify_chunks(f["frames"], self.path)
        self._file: h5py.File | None = None
        self._pid: int | None = None

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
        """Close the cache file if it is open (idempotent); it is reopened on the next read."""
        if self._file is not None:
            self._file.close()
            self._file = None


def open_or_build(cache_dir: os.PathLike, dataset: str, split: str, params: Mapping,
                  n_samples: int, sample: Callable[[int], tuple[np.ndarray, int]],
                  progress: bool = True, verify: bool = True,
                  n_classes: int | None = None) -> FrameCache:
    """Open the cache of ``params`` in ``cache_dir``, building it first if absent or corrupt.

    ``sample(i)`` returns ``(frames [T_i, *frame_shape], label)`` of sample ``i``; every sample must
    have the same frame shape. ``n_classes`` (if given) is the number of classes: a cached label
    outside ``[0, n_classes)`` makes the file invalid (and a sample with such a label an error).
    A valid cache is opened without a lock; checking again, deleting and building happen under
    the cache's lock file (module docstring), so concurrent processes build it once.
    """
    path = cache_path(cache_dir, dataset, split, params)
    if path.exists():
        try:
            return FrameCache(path, params, verify=verify, n_classes=n_classes)
        except CorruptFileError:
            pass  # checked again under the lock: another process may be rebuilding it right now
    with file_lock(lock_path(path)):
        remove_stale_temporaries(path, min_age_s=0)  # every writer holds this lock: none is live
        if path.exists():
            try:
                return FrameCache(path, params, verify=verify, n_classes=n_classes)
            except CorruptFileError as err:
                warnings.warn(f"rebuilding the frame cache: {err}", stacklevel=2)
                path.unlink(missing_ok=True)
        write_cache(path, params, (_checked(sample, i, n_classes) for i in range(n_samples)),
                    n_samples, desc=f"caching {dataset}/{split}", progress=progress)
        return FrameCache(path, params, verify=False, n_classes=n_classes)


def lock_path(path: os.PathLike) -> Path:
    """The lock file that guards building the cache ``path``: ``.<name>.lock`` next to it."""
    path = Path(path)
    return path.parent / f".{path.name}.lock"


def _checked(sample: Callable[[int], tuple[np.ndarray, int]], i: int,
             n_classes: int | None) -> tuple[np.ndarray, int]:
    frames, label = sample(i)
    if n_classes is not None and not 0 <= int(label) < n_classes:
        raise ValueError(f"sample {i} has label {label}, outside [0, {n_classes})")
    return frames, label


def write_cache(path: os.PathLike, params: Mapping, samples: Iterable[tuple[np.ndarray, int]],
                n_samples: int, desc: str = "caching frames", progress: bool = True) -> Path:
    """Write ``samples`` to ``path`` atomically (temporary file in the same folder + rename)."""
    from tqdm.auto import tqdm

    def write(tmp: str) -> None:
        with h5py.File(tmp, "w") as f:
            bar = tqdm(samples, total=n_samples, desc=desc, disable=not progress_enabled(progress),
                       unit="sample")
            _fill(f, params, bar)

    return atomic_write_path(path, write)


def _fill(f: h5py.File, params: Mapping, samples: Iterable[tuple[np.ndarray, int]]) -> None:
    """Write the datasets and attributes of the module docstring's layout into the open file."""
    offsets, labels = [0], []
    buffer: list[np.ndarray] = []
    frames = None
    digest = hashlib.sha256()  # of the frames, in the order they are stored
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
            _append(frames, buffer, digest)
    if frames is None:
        raise ValueError("cannot cache an empty dataset")
    _append(frames, buffer, digest)
    frames.attrs["sha256"] = digest.hexdigest()
    for name, values in (("offsets", offsets), ("labels", labels)):
        data = np.asarray(values, np.int64)
        f.create_dataset(name, data=data).attrs["sha256"] = _sha256(data)
    f.attrs["format_version"] = FORMAT_VERSION
    f.attrs["key"] = cache_key(params)
    f.attrs["complete"] = True


def _create_frames(f: h5py.File, frame_shape: tuple[int, ...]) -> h5py.Dataset:
    per_frame = int(np.prod(frame_shape)) * 2
    rows = int(max(1, min(1024, (256 * 1024) // max(per_frame, 1))))
    return f.create_dataset("frames", shape=(0, *frame_shape), maxshape=(None, *frame_shape),
                            dtype=np.int16, chunks=(rows, *frame_shape), compression="gzip",
                            compression_opts=1, shuffle=True, fletcher32=True)


def _sha256(data: np.ndarray, digest: hashlib._Hash | None = None) -> str:
    """SHA-256 of ``data``'s little-endian, row-major bytes (fed into ``digest`` if given)."""
    digest = hashlib.sha256() if digest is None else digest
    digest.update(np.ascontiguousarray(data, dtype=data.dtype.newbyteorder("<")).tobytes())
    return digest.hexdigest()


def _append(frames: h5py.Dataset, buffer: list[np.ndarray], digest) -> None:
    if not buffer:
        return
    block = np.concatenate(buffer)
    _sha256(block, digest)
    start = frames.shape[0]
    frames.resize(start + len(block), axis=0)
    frames[start:] = block
    buffer.clear()


def _open(path: Path) -> h5py.File:
    return open_hdf5(path, what="frame cache", error=CorruptFileError)


def _validate(f: h5py.File, path: Path, key: str, n_classes: int | None = None
              ) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Structure, SHA-256 of offsets and labels, label range; returns
    ``(offsets, labels, frame_shape)``."""
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
        stored = {name: f[name].attrs.get("sha256") for name in ("frames", "offsets", "labels")}
    except OSError as err:
        raise bad(f"unreadable ({err})") from err
    for name, value in stored.items():
        if not isinstance(value, str):
            raise bad(f"dataset '{name}' has no SHA-256")
    for name, data in (("offsets", offsets), ("labels", labels)):
        if _sha256(data) != stored[name]:
            raise bad(f"dataset '{name}' does not match its SHA-256 (changed after it was written)")
    if frames.dtype != np.int16 or offsets.dtype != np.int64 or labels.dtype != np.int64:
        raise bad("unexpected dtypes")
    if offsets.ndim != 1 or labels.ndim != 1 or len(offsets) != len(labels) + 1:
        raise bad(f"{len(offsets)} offsets for {len(labels)} labels")
    if offsets[0] != 0 or np.any(np.diff(offsets) < 0) or offsets[-1] != frames.shape[0]:
        raise bad("offsets do not index the frames")
    if len(labels) and (labels.min() < 0 or (n_classes is not None and labels.max() >= n_classes)):
        bound = "" if n_classes is None else f", {n_classes})"
        raise bad(f"labels range over [{labels.min()}, {labels.max()}], outside [0{bound or ', inf)'}")
    return offsets, labels, tuple(frames.shape[1:])


def _verify_chunks(frames: h5py.Dataset, path: Path) -> None:
    """Read every chunk once so HDF5 checks its Fletcher-32 checksum, and compare the SHA-256 of
    all frames with the stored one."""
    per_row = max(1, int(np.prod(frames.shape[1:])) * frames.dtype.itemsize)
    step = max(1, _SLAB_BYTES // per_row)
    digest = hashlib.sha256()
    try:
        for start in range(0, frames.shape[0], step):
            _sha256(frames[start:start + step], digest)
    except OSError as err:
        raise CorruptFileError(f"frame cache {path} failed its checksum ({err})") from err
    if digest.hexdigest() != frames.attrs["sha256"]:
        raise CorruptFileError(f"frame cache {path} is invalid: dataset 'frames' does not match its "
                               "SHA-256 (changed after it was written)")
