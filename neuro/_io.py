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

The temporary file's name carries the writer's process id (``.<name>.<pid>-<random>.tmp``), so a
temporary left behind by a killed writer (``SIGKILL``, power loss: no ``finally`` runs) can be
recognised and removed later: :func:`stale_temporaries` / :func:`remove_stale_temporaries`.
:func:`file_lock` is an advisory inter-process lock (``fcntl.flock`` on POSIX, ``msvcrt.locking``
on Windows) for writers that must not race, e.g. two processes building the same cache.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import time
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
        tmp = folder / f".{name}.{os.getpid()}-{secrets.token_hex(6)}.tmp"
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


def progress_enabled(requested: bool = True) -> bool:
    """Whether to draw progress bars: ``requested`` and stderr is a terminal (or a Jupyter
    notebook, where tqdm draws widgets). Redirected to a file, bars would write hundreds of lines
    of escape codes; callers print plain per-epoch lines instead."""
    if not requested:
        return False
    import sys

    stream = sys.stderr
    if stream is not None and hasattr(stream, "isatty") and stream.isatty():
        return True
    shell = type(sys.modules["IPython"].get_ipython()).__name__ if "IPython" in sys.modules else ""
    return shell == "ZMQInteractiveShell"  # a notebook kernel


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


def _temporary_pattern(name: str) -> re.Pattern:
    """Names of :func:`atomic_write` temporaries of ``name``: ``.<name>.<pid>-<hex>.tmp`` (this
    version) or ``.<name>.<hex>.tmp`` (earlier versions, no pid)."""
    return re.compile(rf"^\.{re.escape(name)}\.(?:(?P<pid>\d+)-)?[0-9a-f]+\.tmp$")


def process_alive(pid: int) -> bool:
    """Whether a process with id ``pid`` runs on this machine (``os.kill(pid, 0)``)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists but belongs to someone else
        return True
    except OSError:  # e.g. Windows: no signal 0; assume alive rather than delete a live file
        return True
    return True


def stale_temporaries(path: PathLike, min_age_s: float = 3600.0) -> list[Path]:
    """Temporary files of atomic writes to ``path`` whose writer is gone.

    A temporary is stale when the process id in its name no longer runs on this machine, or, for
    temporaries without a process id (older versions) or written from another machine sharing the
    folder, when it has not been modified for ``min_age_s`` seconds. Callers that hold a lock every
    writer of ``path`` takes (:func:`file_lock`) may pass ``min_age_s=0``: then no temporary can
    belong to a live writer.
    """
    path = Path(path)
    pattern = _temporary_pattern(path.name)
    found = []
    if not path.parent.is_dir():
        return found
    now = time.time()
    for entry in path.parent.iterdir():
        match = pattern.match(entry.name)
        if match is None or not entry.is_file():
            continue
        pid = None if match.group("pid") is None else int(match.group("pid"))
        if pid == os.getpid():  # this process's own writes are never stale
            continue
        if pid is not None and not process_alive(pid):
            found.append(entry)
            continue
        try:
            age = now - entry.stat().st_mtime
        except FileNotFoundError:  # removed meanwhile
            continue
        if age >= min_age_s:  # no pid, or a live pid (another machine's writer, or a reused id)
            found.append(entry)
    return sorted(found)


def remove_stale_temporaries(path: PathLike, min_age_s: float = 3600.0) -> list[Path]:
    """Delete :func:`stale_temporaries` of ``path``; returns the files removed."""
    removed = []
    for entry in stale_temporaries(path, min_age_s):
        with contextlib.suppress(FileNotFoundError):
            entry.unlink()
            removed.append(entry)
    return removed


@contextlib.contextmanager
def file_lock(path: PathLike, timeout: float | None = None, poll: float = 0.05) -> Iterator[Path]:
    """Hold an exclusive advisory lock on the file ``path`` for the duration of the block.

    The lock file is created when needed and deleted on release (so it leaves no trace); a process
    that obtains the lock on a file another holder has just deleted notices it (the path no longer
    names the locked file) and tries again, so two processes never hold the lock at once. Blocks
    until the lock is free, or raises :class:`TimeoutError` after ``timeout`` seconds. The kernel
    releases the lock of a killed holder, so a crash never leaves it locked (only, at worst, the
    empty file). Only processes that take the same lock are excluded.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            while not _try_lock(fd):
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(f"lock {str(path)!r} is held by another process (waited "
                                       f"{timeout:g} s)")
                time.sleep(poll)
            if _names_same_file(path, fd):
                break
            _unlock(fd)  # the holder before us deleted this file: lock the current one
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):  # Windows cannot delete an open file: it stays
            path.unlink()
        _unlock(fd)
        os.close(fd)


def _names_same_file(path: Path, fd: int) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _unlock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    fcntl.flock(fd, fcntl.LOCK_UN)


__all__ = ["PathLike", "atomic_write", "atomic_write_path", "file_lock", "open_hdf5", "process_alive",
           "progress_enabled", "pyplot", "remove_stale_temporaries", "save_figure", "stale_temporaries",
           "write_text"]
