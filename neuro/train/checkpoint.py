"""Self-describing checkpoints and run files, written atomically (temporary file + rename).

A checkpoint is a plain dictionary readable with ``torch.load(path, weights_only=True)``:
``format``/``version``, ``epoch`` (completed epochs), ``config`` (the :class:`TrainConfig` as a
dict), ``model_spec`` (arguments of :func:`neuro.train.models.build_model`), ``model``,
``optimizer`` and ``scheduler`` state dicts, ``rng`` (torch, numpy and Python generator states)
and ``history`` (per-epoch metrics). :func:`load_model` rebuilds the trained model from it alone.

Integrity: :func:`save_checkpoint` stores ``content_sha256``, a SHA-256 over the whole payload
(every tensor's dtype, shape and bytes, every other value's type and ``repr``, in a fixed order;
:func:`content_hash`), and :func:`load_checkpoint` recomputes and compares it, so flipped bits in
tensor data are reported instead of loading a different weight. Files that are not checkpoints get
a :class:`CheckpointError` that says what was found (an empty file, random bytes, a damaged zip
archive, a pickle that refers to code such as ``os.system``: refused, nothing executed) and the
keys a caller needs are checked by name (``require=``). Version 1 files (no hash) still load.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import pickle
import pickletools
import random
import re
import warnings
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuro._io import atomic_write  # re-exported: the one atomic writer (temporary file + rename)

__all__ = ["CHECKPOINT_NAME", "FORMAT", "MODEL_KEYS", "TRAIN_KEYS", "VERSION", "CheckpointError",
           "atomic_write", "content_hash", "load_checkpoint", "load_model", "read_metrics", "rng_state",
           "save_checkpoint", "set_rng_state", "write_metrics"]

FORMAT = "neuro-checkpoint"
VERSION = 2  # 2: content_sha256
READABLE_VERSIONS = (1, 2)
CHECKPOINT_NAME = "checkpoint.pt"
HASH_KEY = "content_sha256"
#: what :func:`load_model` needs, and what resuming ``neuro train`` needs
MODEL_KEYS = ("model_spec", "model")
TRAIN_KEYS = ("epoch", "config", "model_spec", "model", "optimizer", "scheduler", "rng", "history")


class CheckpointError(ValueError):
    """A file is not a usable neuro checkpoint (unreadable, tampered with, foreign or incomplete)."""


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


def content_hash(payload: Mapping[str, Any]) -> str:
    """SHA-256 of a checkpoint payload: keys in sorted order, tensors as dtype, shape and bytes,
    other leaves as type name and ``repr`` (exact for Python's ints, floats and strings)."""
    digest = hashlib.sha256()
    _feed(digest, {k: v for k, v in payload.items() if k != HASH_KEY})
    return digest.hexdigest()


def _feed(digest, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        digest.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    elif isinstance(value, Mapping):
        digest.update(f"D{len(value)}".encode())
        for key in sorted(value, key=repr):
            _feed(digest, key)
            _feed(digest, value[key])
    elif isinstance(value, (list, tuple)):
        digest.update(f"{type(value).__name__[0]}{len(value)}".encode())
        for item in value:
            _feed(digest, item)
    else:
        digest.update(f"{type(value).__name__}:{value!r};".encode())


def save_checkpoint(path: os.PathLike, payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` (plus format tags and its :func:`content_hash`) atomically."""
    data = {"format": FORMAT, "version": VERSION, **payload}
    data[HASH_KEY] = content_hash(data)
    return atomic_write(path, lambda fh: torch.save(data, fh))


def load_checkpoint(path: os.PathLike, map_location: Any = "cpu",
                    require: Iterable[str] = ()) -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``) and verify its content hash.

    ``path`` is a checkpoint file or a run folder. Raises :class:`FileNotFoundError` when it is
    missing and :class:`CheckpointError` (a ``ValueError``) naming the file when it is not a
    readable neuro checkpoint, fails its hash, or lacks one of the keys in ``require``.
    """
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    _check_container(path)
    try:
        with warnings.catch_warnings():  # torch's note on foreign pickle protocols: we explain below
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for damaged or foreign files
        raise CheckpointError(f"{path} is not a readable neuro checkpoint: {_why(path, err)}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a neuro checkpoint (no format tag {FORMAT!r})")
    if data.get("version") not in READABLE_VERSIONS:
        raise CheckpointError(f"{path} has checkpoint version {data.get('version')!r}; this version "
                              f"of neuro reads {', '.join(map(str, READABLE_VERSIONS))}")
    if data["version"] >= 2:
        stored = data.get(HASH_KEY)
        if not isinstance(stored, str):
            raise CheckpointError(f"{path} has no content hash ({HASH_KEY!r}); it was not written "
                                  "by save_checkpoint or was edited")
        if content_hash(data) != stored:
            raise CheckpointError(f"{path} is damaged: its content does not match the SHA-256 stored "
                                  "when it was saved (bytes changed on disk or in transfer); use "
                                  "another copy")
    missing = [key for key in require if key not in data]
    if missing:
        raise CheckpointError(f"{path} is an incomplete checkpoint: it lacks {', '.join(map(repr, missing))}"
                              f" (it holds {', '.join(sorted(map(str, data)))})")
    return data


# ------------------------------------------------------------------- what a bad file holds
_ZIP_MAGIC = b"PK\x03\x04"
_ALLOWED_MODULES = ("torch", "collections", "builtins", "numpy", "_codecs")  # what checkpoints use


def _check_container(path: Path) -> None:
    """Reject what cannot be a ``torch.save`` file before torch parses it, saying what it is."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    if not head:
        raise CheckpointError(f"{path} is empty (0 bytes): not a checkpoint (an interrupted copy?)")
    if not (head.startswith(_ZIP_MAGIC) or head[:1] == b"\x80"):  # zip, or a bare pickle
        raise CheckpointError(f"{path} is not a checkpoint: neither a torch zip archive nor a pickle "
                              f"(it starts with bytes {head.hex(' ')})")


def _why(path: Path, err: Exception) -> str:
    """Why torch could not load ``path``, in our words (never torch's advice to retry with
    ``weights_only=False``): the code a pickle refers to, a damaged archive, or torch's reason."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                pickles = [n for n in archive.namelist() if n.endswith("data.pkl")]
                if not pickles:
                    return "a zip archive without a torch checkpoint in it (no data.pkl)"
                code = _code_references(archive.read(pickles[0]))
        elif path.read_bytes()[:4].startswith(_ZIP_MAGIC):
            return "a damaged zip archive (truncated or corrupt); use another copy"
        else:
            code = _code_references(path.read_bytes())
    except (OSError, zipfile.BadZipFile, RuntimeError):
        return "a damaged zip archive (truncated or corrupt); use another copy"
    if code:
        return (f"its pickle calls {', '.join(code)}, which no checkpoint needs; the file was refused "
                "and nothing was executed (it may be malicious)")
    text = str(err)
    if "weights_only" in text or "WeightsUnpickler" in text:
        detail = re.search(r"WeightsUnpickler error:\s*(.+?)\n", text)
        return ("its pickle holds something a checkpoint never contains"
                + (f" ({detail.group(1).strip()})" if detail else "")
                + "; the file was refused and nothing was executed")
    if isinstance(err, EOFError) or "central directory" in text or "failed reading" in text:
        return "it is truncated or damaged; use another copy"
    return f"{type(err).__name__}: {text.splitlines()[0] if text else 'no reason given'}"


def _code_references(data: bytes) -> list[str]:
    """``module.name`` of every global a pickle refers to outside the modules checkpoints use,
    found by reading its opcodes (nothing is unpickled)."""
    found: list[str] = []
    strings: list[Any] = []  # values pushed so far (strings matter: STACK_GLOBAL's operands)
    memo: dict[int, Any] = {}
    try:
        for op, arg, _ in pickletools.genops(data):
            name = None
            if op.name in ("GLOBAL", "INST"):
                name = str(arg).replace(" ", ".")
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                name = f"{strings[-2]}.{strings[-1]}"
            elif op.name == "MEMOIZE":
                memo[len(memo)] = strings[-1] if strings else None
            elif op.name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[int(arg)] = strings[-1] if strings else None
            elif op.name in ("GET", "BINGET", "LONG_BINGET"):
                strings.append(memo.get(int(arg)))
            elif isinstance(arg, str):
                strings.append(arg)
            if name is not None and name.split(".")[0] not in _ALLOWED_MODULES and name not in found:
                found.append(name)
    except (ValueError, pickle.UnpicklingError, EOFError):  # damaged beyond this point
        pass
    return found


def load_model(path: os.PathLike, map_location: Any = "cpu") -> torch.nn.Module:
    """The trained model of a checkpoint (or run folder), rebuilt from its ``model_spec``."""
    from neuro.train.models import build_from_spec

    data = load_checkpoint(path, map_location, require=MODEL_KEYS)
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


def read_metrics(run_dir: os.PathLike) -> list[dict[str, Any]] | None:
    path = Path(run_dir) / "metrics.json"
    return json.loads(path.read_text()) if path.is_file() else None
