"""Shared benchmark machinery: interleaved timing, peak memory, hardware description, results files.

Libraries are timed side by side in one process, interleaved round by round (so a noisy neighbour
hurts everyone equally), and the median of the rounds is reported.
"""

from __future__ import annotations

import ctypes
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed blocks (no mmap/trim for big tensors), as a caching allocator would.

    By default glibc returns every block of >= 32 MiB to the OS, so each large tensor is page-faulted
    and zeroed again on every call; this affects every library equally. Returns True on success.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    return (bool(libc.mallopt(M_MMAP_THRESHOLD, 1 << 30))
            and bool(libc.mallopt(M_TRIM_THRESHOLD, (1 << 31) - 1)))


def cpu_name() -> str:
    """The CPU model from ``/proc/cpuinfo``, else the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def device_name(device: str) -> str:
    """The GPU's name for ``device == "cuda"``, else the CPU model."""
    return torch.cuda.get_device_name() if device == "cuda" else cpu_name()


def hardware(device: str) -> str:
    """What a result was measured on: the GPU, or the CPU model and torch's thread count."""
    if device == "cuda":
        return device_name(device)
    return f"{cpu_name()}, {torch.get_num_threads()} threads"


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def time_interleaved(fns: dict[str, Callable[[], object]], device: str, rounds: int = 9,
                     warmup: int = 2) -> dict[str, float]:
    """Median seconds per call of every function, measured round-robin."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    sync(device)
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            sync(device)
            t0 = time.perf_counter()
            fn()
            sync(device)
            samples[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in samples.items()}


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def peak_memory(fn: Callable[[], object], device: str) -> float:
    """Extra memory (MiB) at the peak of one call beyond what was resident before it."""
    if device == "cuda":
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        fn()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    try:  # Linux: writing 5 to clear_refs resets the peak-RSS counter (VmHWM)
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return float("nan")
    base = _status_kib("VmRSS")
    fn()
    return (_status_kib("VmHWM") - base) / 1024


def write_results(name: str, payload: dict, markdown: str | None = None) -> Path:
    """Write ``benchmarks/results/<name>.json`` (and ``.md`` when given) atomically."""
    from neuro._io import atomic_write

    texts = [(".json", json.dumps(payload, indent=2))] + ([(".md", markdown)] if markdown else [])
    for suffix, text in texts:
        atomic_write(RESULTS / f"{name}{suffix}", lambda fh, text=text: fh.write(text.encode()))
    return RESULTS / f"{name}.json"
