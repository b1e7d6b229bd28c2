"""Run a GIL-free Numba kernel over index ranges on several threads.

Kernels compiled with ``@njit(nogil=True)`` take a ``[lo, hi)`` range of independent work items
(chunks of neurons, batch elements). Splitting the range over ``numba.get_num_threads()`` Python
threads gives the parallelism of ``prange`` without Numba's parfor compilation, which costs several
seconds per kernel variant. Threads are created per call (no pool survives a ``fork``).
"""

from __future__ import annotations

import threading
from typing import Callable

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


def run_ranges(kernel: Callable, n_items: int, *args, min_items_per_thread: int = 1) -> None:
    """Call ``kernel(*args, lo, hi)`` on contiguous ranges of ``range(n_items)``, one per thread.

    The calling thread takes the first range. A kernel's exception is re-raised here.
    """
    threads = min(numba.get_num_threads(), max(1, n_items // max(1, min_items_per_thread)))
    ranges = split(n_items, threads)
    if len(ranges) == 1:
        kernel(*args, *ranges[0])
        return
    errors: list[BaseException] = []

    def work(lo: int, hi: int) -> None:
        try:
            kernel(*args, lo, hi)
        except BaseException as err:  # noqa: BLE001 - handed to the caller
            errors.append(err)

    workers = [threading.Thread(target=work, args=r) for r in ranges[1:]]
    for w in workers:
        w.start()
    work(*ranges[0])
    for w in workers:
        w.join()
    if errors:
        raise errors[0]
