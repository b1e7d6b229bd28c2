"""neuro.kernels._parallel: every item runs once, errors surface, and a slow thread takes fewer pieces."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from neuro.kernels import _parallel


def _count(hits: np.ndarray, lo: int, hi: int) -> None:
    hits[lo:hi] += 1


@pytest.mark.parametrize("threads", [1, 2, 3, 8])
@pytest.mark.parametrize("n_items", [0, 1, 5, 64, 1000])
def test_every_item_runs_exactly_once(n_items, threads):
    hits = np.zeros(n_items, np.int64)
    _parallel.run_ranges(_count, n_items, hits, threads=threads)
    assert (hits == 1).all()


def test_a_kernel_error_is_raised_and_stops_new_pieces():
    started = []

    def failing(lo: int, hi: int) -> None:
        started.append(lo)
        if lo == 0:
            raise RuntimeError("piece 0 failed")
        time.sleep(0.002)

    with pytest.raises(RuntimeError, match="piece 0 failed"):
        _parallel.run_ranges(failing, 200, threads=2)
    assert len(started) < 2 * _parallel.PIECES_PER_THREAD  # pieces after the error were not started


def test_a_slow_thread_takes_fewer_pieces():
    """What dynamic pieces are for: a worker sharing its core (here: sleeping 4x longer per piece) does
    less of the call instead of holding it up."""
    caller = threading.get_ident()
    by_thread: dict[int, int] = {}
    lock = threading.Lock()

    def piece(lo: int, hi: int) -> None:
        me = threading.get_ident()
        time.sleep(0.001 if me == caller else 0.004)
        with lock:
            by_thread[me] = by_thread.get(me, 0) + 1

    _parallel.run_ranges(piece, 2 * _parallel.PIECES_PER_THREAD, threads=2)
    worker = sum(n for t, n in by_thread.items() if t != caller)
    assert by_thread[caller] + worker == 2 * _parallel.PIECES_PER_THREAD
    assert by_thread[caller] > worker
