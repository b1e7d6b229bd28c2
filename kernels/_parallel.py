"""Run a GIL-free Numba kernel over index ranges on a persistent pool of threads.

Kernels compiled with ``@njit(nogil=True)`` take a ``[lo, hi)`` range of independent work items
(chunks of neurons, batch elements). Splitting the range over threads gives the parallelism of
``prange`` without Numba's parfor compilation, which costs several seconds per kernel variant.

One pool per process, created on first use: ``threads - 1`` workers, each blocked on its own queue
between calls (no spinning, so an idle pool takes no cycles from torch's OpenMP threads), the
calling thread taking the first range. Workers are daemon threads; after a ``fork`` the child starts
a fresh pool (the parent's threads do not exist there). The host side passes ``threads`` (torch's
intra-op thread count, capped by Numba's), so ``torch.set_num_threads`` governs both libraries and
their threads do not oversubscribe the cores.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable

import numba


def split(n_items: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ``(lo, hi)`` ranges covering ``range(n_items)`` as evenly as possible."""
    parts = max(1, min(parts, n_items))
    base, extra = divmod(n_items, parts)
    bounds, lo = [], 0
    for k in range(parts):
        hi = lo + base + (1 if k < extra else 0)
        bounds.append((lo, hi))
        lo = hi
    return bounds


class _Task:
    """One call's work shared by the workers: a countdown of unfinished ranges and the errors."""

    __slots__ = ("kernel", "args", "pending", "done", "errors", "lock")

    def __init__(self, kernel: Callable, args: tuple, n_workers: int) -> None:
        self.kernel, self.args = kernel, args
        self.pending = n_workers
        self.done = threading.Event()
        self.errors: list[BaseException] = []
        self.lock = threading.Lock()

    def run(self, lo: int, hi: int) -> None:
        try:
            self.kernel(*self.args, lo, hi)
        except BaseException as err:  # noqa: BLE001 - handed to the caller
            self.errors.append(err)

    def finish_one(self) -> None:
        with self.lock:
            self.pending -= 1
            if self.pending == 0:
                self.done.set()


class _Pool:
    """Worker threads fed through one ``SimpleQueue`` each (a blocking get: no spinning)."""

    def __init__(self) -> None:
        self.queues: list[queue.SimpleQueue] = []
        self.lock = threading.Lock()  # one call at a time uses the workers

    def _grow(self, n: int) -> None:
        while len(self.queues) < n:
            q: queue.SimpleQueue = queue.SimpleQueue()
            threading.Thread(target=_worker, args=(q,), daemon=True, name="neuro-kernels").start()
            self.queues.append(q)

    def run(self, kernel: Callable, ranges: list[tuple[int, int]], args: tuple) -> None:
        with self.lock:
            self._grow(len(ranges) - 1)
            task = _Task(kernel, args, len(ranges) - 1)
            for q, r in zip(self.queues, ranges[1:]):
                q.put((task, r))
            task.run(*ranges[0])
            task.done.wait()
        if task.errors:
            raise task.errors[0]


def _worker(q: queue.SimpleQueue) -> None:
    while True:
        task, (lo, hi) = q.get()
        task.run(lo, hi)
        task.finish_one()


_POOL: _Pool | None = None


def _reset_after_fork() -> None:
    global _POOL
    _POOL = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def run_ranges(kernel: Callable, n_items: int, *args, min_items_per_thread: int = 1,
               threads: int | None = None) -> None:
    """Call ``kernel(*args, lo, hi)`` on contiguous ranges of ``range(n_items)``, one per thread.

    ``threads`` defaults to ``numba.get_num_threads()``. The calling thread takes the first range;
    the others run on the pool's workers. A kernel's exception is re-raised here. A call made while
    another thread's call holds the pool (e.g. DataLoader workers running threads) runs its ranges on
    the calling thread instead of waiting.
    """
    global _POOL
    threads = numba.get_num_threads() if threads is None else max(1, threads)
    threads = min(threads, max(1, n_items // max(1, min_items_per_thread)))
    ranges = split(n_items, threads)
    if len(ranges) == 1:
        kernel(*args, *ranges[0])
        return
    pool = _POOL
    if pool is None:
        pool = _POOL = _Pool()
    if pool.lock.locked():  # busy (another thread's call): no nested waiting
        kernel(*args, 0, n_items)
        return
    pool.run(kernel, ranges, args)
