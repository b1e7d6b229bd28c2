"""Self-describing checkpoints and run files, written atomically (temporary file + rename).

A checkpoint is a plain dictionary readable with ``torch.load(path, weights_only=True)``:
``format``/``version``, ``epoch`` (completed epochs), ``config`` (the :class:`TrainConfig` as a
dict), ``model_spec`` (arguments of :func:`neuro.train.models.build_model`), ``model``,
``optimizer`` and ``scheduler`` state dicts, ``rng`` (torch, numpy and Python generator states)
and ``history`` (per-epoch metrics). :func:`load_model` rebuilds the trained model from it alone.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np
import torch

from neuro._io import atomic_write  # re-exported: the one atomic writer (temporary file + rename)

__all__ = ["CHECKPOINT_NAME", "FORMAT", "VERSION", "atomic_write", "load_checkpoint", "load_model",
           "read_metrics", "rng_state", "save_checkpoint", "set_rng_state", "write_metrics"]

FORMAT = "neuro-checkpoint"
VERSION = 1
CHECKPOINT_NAME = "checkpoint.pt"


def rng_state() -> dict[str, Any]:
    """The torch (CPU and CUDA), numpy and Python global generator states, as plain data."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"torch": torch.get_rng_state(),
             "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
             "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: os.PathLike, payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` (plus format tags) atomically with ``torch.save``."""
    data = {"format": FORMAT, "version": VERSION, **payload}
    return atomic_write(path, lambda fh: torch.save(data, fh))


def load_checkpoint(path: os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``); clear errors for missing/corrupt files."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for truncated or foreign files
        raise ValueError(f"{path} is not a readable neuro checkpoint (truncated or corrupt?): "
                         f"{err}") from err
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path} is not a neuro checkpoint (no format tag {FORMAT!r})")
    if data.get("version") != VERSION:
        raise ValueError(f"{path} has checkpoint version {data.get('version')}, expected {VERSION}")
    return data


def load_model(path: os.PathLike, map_location: Any = "cpu") -> torch.nn.Module:
    """The trained model of a checkpoint (or run folder), rebuilt from its ``model_spec``."""
    from neuro.train.models import build_from_spec

    data = load_checkpoint(path, map_location)
    model = build_from_spec(data["model_spec"])
    model.load_state_dict(data["model"])
    return model


def write_metrics(run_dir: os.PathLike, history: list[dict[str, Any]]) -> None:
    """``metrics.csv`` and ``metrics.json`` (one row/object per epoch), both written atomically."""
    run_dir = Path(run_dir)
    atomic_write(run_dir / "metrics.json", lambda fh: fh.write(json.dumps(history, indent=1).encode()))
    if not history:
        return
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(history[0]))
    writer.writeheader()
    writer.writerows(history)
    atomic_write(run_dir / "metrics.csv", lambda fh: fh.write(text.getvalue().encode()))


def read_metrics(run_dir: os.PathLike) -> Optional[list[dict[str, Any]]]:
    path = Path(run_dir) / "metrics.json"
    return json.loads(path.read_text()) if path.is_file() else None
