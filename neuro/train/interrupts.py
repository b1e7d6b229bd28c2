"""Stopping a training run cleanly on SIGINT (Ctrl-C) or SIGTERM, with a resumable checkpoint.

:class:`StopRequest` installs handlers for the duration of a run (main thread only; elsewhere,
signals keep their handlers). The first signal only sets :attr:`StopRequest.signal`: the trainer
finishes or rolls back the batch in progress, writes a checkpoint at that exact position and
raises :class:`TrainingInterrupted`. A second signal raises :class:`StopNow` (a
:class:`KeyboardInterrupt`) at once: inside the rolled-back part of a batch the trainer still writes
the checkpoint of that batch's start; elsewhere the last checkpoint written is kept.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Any

SIGNALS = tuple(s for s in (getattr(signal, "SIGINT", None), getattr(signal, "SIGTERM", None))
                if s is not None)


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on request (signal or :class:`KeyboardInterrupt`) after writing a
    checkpoint that resumes exactly where it stopped. ``str(err)`` is one line saying how to resume.

    A :class:`KeyboardInterrupt` subclass, so code that stops on Ctrl-C keeps doing so.
    """

    def __init__(self, run_dir: Path, epoch: int, batch: int, batches: int, reason: str) -> None:
        self.run_dir, self.epoch, self.batch, self.batches = Path(run_dir), epoch, batch, batches
        self.reason = reason
        super().__init__(f"{reason}: stopped in epoch {epoch + 1} after batch {batch}/{batches}; "
                         f"resume with: neuro train --resume {run_dir}")

    def __str__(self) -> str:
        return str(self.args[0])


class StopNow(KeyboardInterrupt):
    """A second SIGINT/SIGTERM while a stop was already requested: stop at once."""


class StopRequest:
    """Context manager: the first SIGINT/SIGTERM is recorded in :attr:`signal` (a name, e.g.
    ``"SIGINT"``), a second one raises :class:`StopNow`. ``announce`` prints one line to stderr
    when the first signal arrives."""

    def __init__(self, announce: bool = True) -> None:
        self.signal: str | None = None
        self.announce = announce
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        """Whether a first SIGINT/SIGTERM has arrived (its name is in :attr:`signal`)."""
        return self.signal is not None

    def _handle(self, signum: int, frame) -> None:
        if self.signal is not None:
            raise StopNow(f"second {signal.Signals(signum).name}")
        self.signal = signal.Signals(signum).name
        if self.announce:
            print(f"\n{self.signal}: saving a checkpoint after the current batch (send it again to "
                  "stop at once, keeping the last checkpoint)", file=sys.stderr, flush=True)

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for s in SIGNALS:
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous.clear()
