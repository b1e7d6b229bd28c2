"""Reusable CPU output buffers: large kernel outputs without page faults on every call.

glibc serves an allocation of 32 MiB or more (its largest mmap threshold) with a fresh ``mmap`` and
returns it with ``munmap`` when it is freed, so every call's large output is page-faulted and zeroed
by the operating system anew — measured on the 2-core Xeon of this project: 12,800 faults and ~5 ms
of system time for one 52 MB output, as long as the LIF forward kernel takes to write it.

:func:`empty` hands out outputs of the CPU kernels from a small cache instead: numpy arrays this
module allocated, wrapped without copy by ``torch.from_numpy``. A tensor made this way keeps its
array alive; once every tensor (and view) of it is gone, the array's reference count is back to the
cache's own and the next request of the same shape and dtype gets it again — already mapped, no
fault. Arrays in use are never handed out twice. The cache holds at most :func:`max_bytes` bytes of
arrays (default 1 GiB, ``NEURO_CPU_BUFFER_CACHE_MB`` or :func:`set_max_bytes`; 0 turns it off):
beyond it, free arrays are dropped oldest first, and requests that do not fit get a plain
``torch.empty``. Only requests of at least :data:`MIN_BYTES` use it (smaller blocks are reused by
glibc anyway).

Harmless by construction — the only visible differences: memory the cache holds stays resident
(like torch's CUDA caching allocator), and a tensor from the cache cannot be resized in place
(``resize_``), as any tensor made by ``torch.from_numpy``. The alternative for a whole process,
``mallopt(M_MMAP_THRESHOLD, ...)`` (``benchmarks/harness.keep_freed_memory``), affects every
library and is left to the user.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import OrderedDict

import numpy as np
import torch

#: requests smaller than this go to torch.empty
MIN_BYTES = 1 << 20
_NUMPY_OF = {torch.float32: np.float32, torch.float64: np.float64, torch.float16: np.float16,
             torch.int32: np.int32, torch.int64: np.int64, torch.uint8: np.uint8, torch.int16: np.int16}


def _default_max_bytes() -> int:
    try:
        return int(float(os.environ.get("NEURO_CPU_BUFFER_CACHE_MB", "1024")) * (1 << 20))
    except ValueError:
        return 1 << 30


_lock = threading.Lock()
_max_bytes = _default_max_bytes()
_arrays: OrderedDict[int, tuple[tuple, np.ndarray]] = OrderedDict()  # id -> (key, array), oldest first
_held = 0


def max_bytes() -> int:
    """The most bytes of arrays the cache keeps."""
    return _max_bytes


def set_max_bytes(n: int) -> None:
    """Set the cache's size limit (0: no cache; arrays already handed out stay valid)."""
    global _max_bytes
    if n < 0:
        raise ValueError(f"max_bytes must be >= 0, got {n}")
    with _lock:
        _max_bytes = int(n)
        _evict(0)


def held_bytes() -> int:
    """Bytes of arrays the cache holds now (in use or free)."""
    return _held


def _is_free(arr: np.ndarray) -> bool:
    """No tensor holds ``arr``: it has no more references than an array held by the cache alone
    (:data:`_FREE_REFS`, measured below the same way the callers pass it)."""
    return sys.getrefcount(arr) <= _FREE_REFS


def _calibrate() -> int:
    probe = {0: ((), np.empty(1))}
    for _, (_, arr) in probe.items():
        return sys.getrefcount(arr) + 1  # + 1: _is_free's own argument


_FREE_REFS = _calibrate()


def _evict(need: int) -> None:
    """Drop free arrays, oldest first, until ``need`` more bytes fit (lock held)."""
    global _held
    for key in list(_arrays):
        if _held + need <= _max_bytes:
            return
        arr = _arrays[key][1]
        if _is_free(arr):
            _held -= arr.nbytes
            del _arrays[key]
            del arr


def empty(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """An uninitialised CPU tensor of ``shape`` and ``dtype``, reusing a cached array when one is free."""
    np_dtype = _NUMPY_OF.get(dtype)
    nbytes = int(np.prod(shape)) * np.dtype(np_dtype).itemsize if np_dtype else 0
    if np_dtype is None or nbytes < MIN_BYTES or _max_bytes == 0:
        return torch.empty(shape, dtype=dtype)
    key = (tuple(shape), dtype)
    global _held
    with _lock:
        for k, (akey, arr) in _arrays.items():
            if akey == key and _is_free(arr):
                _arrays.move_to_end(k)
                return torch.from_numpy(arr)
        _evict(nbytes)
        if _held + nbytes > _max_bytes:
            return torch.empty(shape, dtype=dtype)
        arr = np.empty(shape, np_dtype)
        _arrays[id(arr)] = (key, arr)
        _held += nbytes
        return torch.from_numpy(arr)
