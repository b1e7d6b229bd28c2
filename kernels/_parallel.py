"""Run a GIL-free Numba kernel over index ranges on a persistent pool of threads.

Kernels compiled with ``@njit(nogil=True)`` take a ``[lo, hi)`` range of independent work items
(chunks of neurons, batch elements). Splitting the range over threads gives the parallelism of
``prange`` without Numba's parfor compilation, which costs several seconds per kernel variant.

One pool per process, created on first use: ``threads - 1`` workers, each blocked on its own queue
between calls (no spinning, so an idle pool takes no cycles from torch's OpenMP threads), the
calling thread working too.

Work is handed out in pieces, not one fixed range per thread: every participant claims the next
piece (about :data:`PIECES_PER_THREAD` per thread) until none is left. A thread that shares its
core pays for it with fewer pieces instead of holding everyone up: with one fixed range per thread,
a worker slowed to half speed made the whole call twice as long. Cores are shared more often than
not: torch's idle OpenMP threads spin for a few milliseconds after each parallel op (libgomp's
default wait policy; 0-5 ms of CPU measured here after an elementwise op), and other processes run.

Workers are daemon threads; after a ``fork`` the child starts a fresh pool (the parent's threads do
not exist there). The host side passes ``threads`` (torch's intra-op thread count, capped by
Numba's), so ``torch.set_num_threads`` governs both libraries and their threads do not oversubscribe
the cores.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable

import numba

#: pieces of work per thread a call is cut into (claimed dynamically, see the module docstring)
PIECES_PER_THREAD = 8


class _Task:
    """One call's work shared by the workers: the next unclaimed item, a countdown of workers still
    running, and the errors."""

    __slots__ = ("kernel", "args", "n_items", "grain", "next_lo", "pending", "done", "errors", "lock")

    def __init__(self, kernel: Callable, args: tuple, n_items: int, grain: int, n_workers: int) -> None:
        self.kernel, self.args = kernel, args
        self.n_items, self.grain, self.next_lo = n_items, grain, 0
        self.pending = n_workers
        self.done = threading.Event()
        self.errors: list[BaseException] = []
        self.lock = threading.Lock()

    def claim(self) -> tuple[int, int] | None:
        """The next piece ``(lo, hi)``, or None when every item is taken (or a piece failed)."""
        with self.lock:
            lo = self.next_lo
            if lo >= self.n_items or self.errors:
                return None
            self.next_lo = hi = min(self.n_items, lo + self.grain)
        return lo, hi

    def run(self) -> None:
        """Run pieces until none is left."""
        while (piece := self.claim()) is not None:
            try:
                self.kernel(*self.args, *piece)
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

    def run(self, kernel: Callable, n_items: int, grain: int, threads: int, args: tuple) -> None:
        with self.lock:
            self._grow(threads - 1)
            task = _Task(kernel, args, n_items, grain, threads - 1)
            for q in self.queues[:threads - 1]:
                q.put(task)
            task.run()
            task.done.wait()
        if task.errors:
            raise task.errors[0]


def _worker(q: queue.SimpleQueue) -> None:
    while True:
        task = q.get()
        task.run()
        task.finish_one()


_POOL: _Pool | None = None


def _reset_after_fork() -> None:
    global _POOL
    _POOL = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def run_ranges(kernel: Callable, n_items: int, *args, min_items_per_thread: int = 1,
               threads: int | None = None) -> None:
    """Call ``kernel(*args, lo, hi)`` on contiguous pieces covering ``range(n_items)`` on up to
    ``threads`` threads; the items must be independent (any thread may run any piece).

    ``threads`` defaults to ``numba.get_num_threads()``; fewer when there are fewer than
    ``min_items_per_thread`` items per thread. The calling thread works too, the others are the pool's
    workers; pieces of about ``n_items / (threads * PIECES_PER_THREAD)`` items are claimed
    dynamically. A kernel's exception is re-raised here (no new piece starts after one). A call made
    while another thread's call holds the pool (e.g. DataLoader workers running threads) runs all
    items on the calling thread instead of waiting.
    """
    global _POOL
    threads = numba.get_num_threads() if threads is None else max(1, threads)
    threads = min(threads, max(1, n_items // max(1, min_items_per_thread)))
    if threads <= 1 or n_items <= 1:
        kernel(*args, 0, n_items)
        return
    pool = _POOL
    if pool is None:
        pool = _POOL = _Pool()
    if pool.lock.locked():  # busy (another thread's call): no nested waiting
        kernel(*args, 0, n_items)
        return
    grain = max(1, -(-n_items // (threads * PIECES_PER_THREAD)))
    pool.run(kernel, n_items, grain, threads, args)
