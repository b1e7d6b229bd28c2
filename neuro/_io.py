"""File helpers every layer may use: atomic writes, figure saving, HDF5 opening with clear errors.

This module sits below everything else in ``neuro`` (it imports only the standard library at import
time; ``h5py`` and ``matplotlib`` are imported when a helper needs them), so ``neuro.datasets``,
``neuro.learning``, ``neuro.nir``, ``neuro.hw``, ``neuro.train`` and the benchmarks share one
implementation instead of reaching into each other.

Atomic writes: the content goes to a hidden temporary file in the destination folder
(``.<name>.<random>.tmp``), is flushed to disk (``fsync``) and renamed over the destination with
:func:`os.replace`, so readers see either the old file or the complete new one, never a half-written
one. If writing fails the temporary file is removed and the destination is left untouched. The
temporary file is created with mode ``0o666`` filtered by the process umask (like :func:`open`), so
the final file gets the permissions any other newly created file would get.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Union

if TYPE_CHECKING:  # imported lazily at run time
    import h5py

PathLike = Union[str, "os.PathLike[str]"]

_CREATE_ATTEMPTS = 100


def _create_temporary(folder: Path, name: str) -> tuple[int, Path]:
    """A new, empty hidden file next to the destination: ``(descriptor, path)``.

    ``os.open`` with ``O_EXCL`` and mode ``0o666`` lets the kernel apply the umask (and any default
    ACL of the folder) exactly as for an ordinary new file; ``tempfile.mkstemp`` would force 0600.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(_CREATE_ATTEMPTS):
        tmp = folder / f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file for {name!r} in {str(folder)!r}")


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


@contextlib.contextmanager
def _replacing(path: PathLike) -> Iterator[tuple[int, Path]]:
    """Yield ``(descriptor, temporary path)``; on normal exit rename the file to ``path``.

    The caller owns the descriptor (it must close it); on any exception the temporary file is
    removed and the exception propagates.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temporary(path.parent, path.name)
    try:
        yield fd, tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write(path: PathLike, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(file)`` on a binary file next to ``path``, fsync it and rename it to ``path``.

    ``write`` receives an open binary file object (e.g. ``lambda fh: torch.save(data, fh)``).
    Missing parent folders are created. Returns ``path`` as a :class:`~pathlib.Path`.
    """
    with _replacing(path) as (fd, _):
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
    return Path(path)


def atomic_write_path(path: PathLike, write: Callable[[str], Any]) -> Path:
    """Call ``write(tmp_path)`` for writers that need a file name (``h5py.File``, ``nir.write``),
    then fsync the result and rename it to ``path``.

    ``tmp_path`` exists (empty) when ``write`` is called and ends in ``.tmp``: writers that infer
    the format from the suffix must be told the format. Returns ``path`` as a :class:`~pathlib.Path`.
    """
    with _replacing(path) as (fd, tmp):
        os.close(fd)
        write(str(tmp))
        _fsync(tmp)
    return Path(path)


def write_text(path: PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, lambda fh: fh.write(text.encode()))


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend (figures are only written to files)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: PathLike, dpi: int = 110, close: bool = True, **savefig: Any) -> Path:
    """Write a matplotlib figure to ``path`` atomically and (by default) close it.

    The format is ``savefig["format"]`` if given, else the suffix of ``path`` (``png`` without
    one); other keywords (``bbox_inches`` ...) go to :meth:`matplotlib.figure.Figure.savefig`.
    """
    path = Path(path)
    savefig.setdefault("format", path.suffix.lstrip(".").lower() or "png")
    atomic_write(path, lambda fh: fig.savefig(fh, dpi=dpi, **savefig))
    if close:
        import matplotlib.pyplot as plt  # closing does not depend on (or change) the backend

        plt.close(fig)
    return path


def open_hdf5(path: PathLike, what: str = "HDF5 file", error: Callable[[str], Exception] = OSError,
              kind: str = "HDF5", hint: str = "truncated or corrupt?", mode: str = "r") -> h5py.File:
    """Open an existing HDF5 file with errors that name it.

    A missing ``path`` raises :class:`FileNotFoundError` ("``<what> '<path>' does not exist``"); a
    file ``h5py`` cannot open raises ``error(message)`` with the message
    "``<what> '<path>' is not a readable <kind> file (<reason>); <hint>``".
    ``what`` names the file's role (``"NIR file"``, ``"frame cache"``), ``kind`` its format.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {str(path)!r} does not exist")
    try:
        return h5py.File(path, mode)
    except OSError as err:
        raise error(f"{what} {str(path)!r} is not a readable {kind} file ({err}); {hint}") from err


__all__ = ["PathLike", "atomic_write", "atomic_write_path", "open_hdf5", "pyplot", "save_figure",
           "write_text"]
