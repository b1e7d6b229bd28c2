"""Reading NIR files into plain dicts (validated, clear errors) and writing them atomically.

A NIR file is HDF5: ``/version`` (string) and ``/node`` (a ``NIRGraph``: ``type``, ``edges`` (E x 2
strings), ``nodes/<name>/...``, optional ``metadata``). Reading needs only ``h5py``, so a file can be
inspected and imported without the ``nir`` package; writing goes through ``nir.write`` into a
temporary file that is renamed into place (nothing half-written on disk).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np

from neuro._io import PathLike, open_hdf5
from neuro._io import atomic_write_path as atomic_write  # write(tmp_path), then rename; see neuro._io
from neuro.nir._deps import NIRError

__all__ = ["PathLike", "atomic_write", "read_nir_file"]


def _decode(value: Any) -> Any:
    if isinstance(value, bytes):
        try:
            return value.decode("utf8")
        except UnicodeDecodeError:  # binary data, not text: kept (the spec check reports it)
            return value
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
    handle = open_hdf5(path, what="NIR file", error=NIRError, kind="HDF5/NIR",
                       hint="it may be truncated or not a NIR file at all")
    with handle:
        if "node" not in handle or not isinstance(handle["node"], h5py.Group):
            raise NIRError(f"{str(path)!r} has no '/node' group: not a NIR file")
        version = _decode(handle["version"][()]) if "version" in handle else "unknown"
        tree = _read_group(handle["node"], "/node")
    if tree.get("type") != "NIRGraph":
        raise NIRError(f"{str(path)!r}: '/node/type' is {tree.get('type')!r}, expected 'NIRGraph'")
    return str(version), tree
