"""Reading NIR files into plain dicts (validated, clear errors) and writing them atomically.

A NIR file is HDF5: ``/version`` (string) and ``/node`` (a ``NIRGraph``: ``type``, ``edges`` (E x 2
strings), ``nodes/<name>/...``, optional ``metadata``). Reading needs only ``h5py``, so a file can be
inspected and imported without the ``nir`` package; writing goes through ``nir.write`` into a
temporary file that is renamed into place (nothing half-written on disk).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Union

import h5py
import numpy as np

from neuro.nir._deps import NIRError

PathLike = Union[str, "os.PathLike[str]"]


def _decode(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf8")
    if isinstance(value, np.ndarray) and value.dtype.kind in ("S", "O"):
        return np.vectorize(_decode, otypes=[object])(value) if value.size else value
    return value


def _read_group(group: h5py.Group, where: str) -> dict:
    out: dict = {}
    for key in group.keys():
        path = f"{where}/{key}"
        try:
            item = group[key]
            if isinstance(item, h5py.Group):
                out[key] = _read_group(item, path)
            else:
                out[key] = _decode(item[()])
        except (OSError, KeyError, RuntimeError) as err:
            raise NIRError(f"cannot read {path!r}: {err} (is the file truncated or corrupt?)") from err
    return out


def read_nir_file(path: PathLike) -> tuple[str, dict]:
    """``(version, graph dict)`` of a NIR file, with errors that name the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"NIR file {str(path)!r} does not exist")
    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise NIRError(f"{str(path)!r} is not a readable HDF5/NIR file ({err}); it may be truncated "
                       "or not a NIR file at all") from err
    with handle:
        if "node" not in handle or not isinstance(handle["node"], h5py.Group):
            raise NIRError(f"{str(path)!r} has no '/node' group: not a NIR file")
        version = _decode(handle["version"][()]) if "version" in handle else "unknown"
        tree = _read_group(handle["node"], "/node")
    if tree.get("type") != "NIRGraph":
        raise NIRError(f"{str(path)!r}: '/node/type' is {tree.get('type')!r}, expected 'NIRGraph'")
    return str(version), tree


def atomic_write(path: PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` and rename the result to ``path`` (removed again on failure)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
