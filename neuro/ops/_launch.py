"""Running neuro's Numba kernels on torch tensors: the one host-side launcher of every op.

* CPU (``numba`` backend): :func:`call_cpu` runs a kernel on numpy views of the tensors (no copy);
  :func:`run_cpu_chunks` splits a range of independent work items over ``numba.get_num_threads()``
  threads (GIL-free kernels, ``neuro.kernels._parallel``).
* CUDA (``cuda`` backend): :func:`launch_cuda` launches a ``numba.cuda`` kernel on torch's current
  stream of the tensors' device, without synchronising; with Numba's CUDA simulator
  (``NUMBA_ENABLE_CUDASIM=1``) the same kernel runs on numpy views of CPU tensors.
* Small helpers every op needs: :func:`placeholder` (a 1x1 array standing for an absent one, with a
  boolean flag telling the kernel), :func:`constants` (typed constants made once per dtype and
  device, so kernels never mix float64 literals into float32 arithmetic).
* :class:`NonFiniteFlag`: how the CUDA kernels report NaN/inf inputs or states without a host
  synchronisation, and :class:`NonFiniteError`, what every backend raises for them (the numerics
  contract in ``neuro.kernels``' docstring); :func:`check_numerics` waits and raises.

Ops stay free of launch details: they build their arrays and call one of these.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from neuro.backends import cuda_simulator_enabled
from neuro.ops._fast_launch import as_cuda_array, current_stream, launch_cuda_numba  # noqa: F401 (re-exported)
from neuro.ops._fast_launch import launch as fast_launch


def as_numpy(a: Any) -> Any:
    """A numpy view of a CPU tensor (detached), also inside (nested) tuples; anything else unchanged."""
    if isinstance(a, torch.Tensor):
        return a.detach().numpy()
    if isinstance(a, tuple):
        return tuple(map(as_numpy, a))
    return a


def placeholder(like: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """A 1x1 zero array standing for an absent input or output (the kernel gets a flag with it)."""
    return torch.zeros((1, 1), dtype=dtype or like.dtype, device=like.device)


def cached_tensors(maxsize: int | None = 128) -> Callable[[Callable], Callable]:
    """``functools.lru_cache`` for functions that make tensors kept across calls (constants,
    placeholders, connectivity tables), made outside inference mode: a tensor made under
    ``torch.inference_mode`` cannot be saved for backward, so a model's first call under inference
    mode used to break every training call after it ("Inference tensors cannot be saved for
    backward")."""
    def decorate(make: Callable) -> Callable:
        @functools.wraps(make)
        def outside_inference_mode(*args: Any) -> Any:
            with torch.inference_mode(False):
                return make(*args)

        return lru_cache(maxsize=maxsize)(outside_inference_mode)

    return decorate


@cached_tensors(maxsize=256)
def constants(values: tuple[float, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``values`` as a read-only 1-D tensor of ``dtype`` on ``device``, made once and reused."""
    return torch.tensor(values, dtype=dtype, device=device)


_numba_layer_started = False


def numba_threads() -> int:
    """``numba.get_num_threads()``, leaving torch's intra-op thread count as it was.

    The first call starts Numba's threading layer (so does a ``parallel=True`` kernel's first launch).
    Its OpenMP layer then sets OpenMP's thread count to Numba's, and torch reports and uses that count
    as its own: a user's ``torch.set_num_threads(1)`` silently became 2 (Numba's default on two cores)
    for every torch op after the first neuro CPU kernel. Starting the layer here, and putting torch's
    count back, keeps the user's setting. Every CPU launch of ``neuro.ops`` goes through this first.
    """
    global _numba_layer_started
    import numba

    if _numba_layer_started:
        return numba.get_num_threads()
    before = torch.get_num_threads()
    n = numba.get_num_threads()
    if torch.get_num_threads() != before:
        torch.set_num_threads(before)
    _numba_layer_started = True
    return n


@cached_tensors(maxsize=32)  # at most 32 layer shapes held at once
def constant_vector(n: int, value: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A read-only ``[n]`` tensor of ``value`` (the initial state of a scan started without one), made
    once per size, value, dtype and device — never written: kernels only read their initial states.

    A fresh fill right before a CPU kernel is not free even though the fill itself is: torch runs it
    on its OpenMP threads, which then spin for a few milliseconds and slow the kernel's second thread
    (measured: a 131,072-element fill before a 5.3 ms LIF forward made it 7.0 ms)."""
    return torch.full((n,), value, dtype=dtype, device=device)


def call_cpu(kernel: Callable, *args: Any) -> Any:
    """Call a CPU Numba kernel on numpy views of the tensor arguments (Numba's threading layer started
    through :func:`numba_threads`, for kernels that run ``prange`` loops)."""
    numba_threads()
    return kernel(*map(as_numpy, args))


def run_cpu_chunks(kernel: Callable, n_items: int, *args: Any, min_items_per_thread: int = 1) -> None:
    """Call ``kernel(*args, lo, hi)`` (numpy views of tensors) on ranges of ``range(n_items)``, one per
    thread of ``neuro.kernels._parallel``'s persistent pool; the kernel must release the GIL
    (``@njit(nogil=True)``). The thread count is torch's intra-op count (``torch.set_num_threads``),
    capped by Numba's, so the two libraries never run more threads than torch is allowed."""
    from neuro.kernels._parallel import run_ranges

    run_ranges(kernel, n_items, *map(as_numpy, args), min_items_per_thread=min_items_per_thread,
               threads=min(numba_threads(), torch.get_num_threads()))


def launch_cuda(kernel: Any, grid: Any, block: Any, args: Sequence[Any], shared_bytes: int = 0,
                device: torch.device | None = None) -> None:
    """Launch ``kernel[grid, block]`` on torch's current stream (or on the CUDA simulator).

    ``device`` defaults to the device of the first tensor argument. Tensors inside tuple arguments
    are converted too. The call returns as soon as the launch is queued; first it raises (without
    waiting) a non-finite value that an earlier, completed kernel on the device reported.

    On a GPU the launch goes through :mod:`neuro.ops._fast_launch` (the kernel's argument list built
    once per argument signature, only data pointers filled in per call); ``NEURO_CUDA_LAUNCH=numba``
    makes every launch go through Numba's own dispatcher instead.
    """
    if cuda_simulator_enabled():
        # numpy scalars warn where a GPU is silent: integer wrap-around (hashes), inf * 0 (checks);
        # the simulator runs threads, which np.errstate (thread-local) would not reach
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "(overflow|invalid value) encountered", RuntimeWarning)
            kernel[grid, block, 0, shared_bytes](*map(as_numpy, args))
        return
    if device is None:
        device = next(a.device for a in args if isinstance(a, torch.Tensor))
    non_finite_flag(device).poll()  # what an earlier kernel on this device reported
    fast_launch(kernel, grid, block, args, shared_bytes, device)


class NonFiniteError(ValueError, FloatingPointError):
    """A kernel read NaN or inf in its input or state (the numerics contract of ``neuro.kernels``).

    Raised by every backend: at once by the torch and numba (CPU) backends, and for the cuda backend
    at the next CUDA op on the same device or by :func:`check_numerics` (at once under the CUDA
    simulator). A ``ValueError`` (bad input) and a ``FloatingPointError``.
    """


# Codes the CUDA kernels write into the flag: ``(input code, state code)`` per op, and what each names.
LIF_CODES = (1, 2)
AMSU_CODES = (3, 4)
SPEC_CODES = (21, 22)
RLIF_CODES = (23, 24)
NON_FINITE_SOURCES = {1: "LIF-family scan: input x", 2: "LIF-family scan: initial state (i0, v0, a0)",
                      3: "AM-SU scan: input x", 4: "AM-SU scan: initial state (i0, v0, a0)",
                      21: "neuron-model scan (neuro.ops.spec): input x",
                      22: "neuron-model scan (neuro.ops.spec): initial state",
                      23: "recurrent LIF scan: input x", 24: "recurrent LIF scan: initial state"}


class NonFiniteFlag:
    """A flag the CUDA kernels set when they read a NaN or inf input or state.

    Kernels write a nonzero code (which op saw it, :data:`NON_FINITE_SOURCES`) into ``flag[0]``;
    nothing waits for it. On a GPU the flag is pinned host memory mapped into the device's address
    space (``numba.cuda.mapped_array``): a kernel that reads a non-finite value writes its code
    straight into host memory, and :meth:`poll` (before each launch) reads it with a plain load — no
    copy, no event, nothing queued per call, so it also works inside CUDA-graph capture. Where mapped
    memory cannot be had, the flag is a device tensor that :meth:`after_launch` copies to pinned
    memory behind each launch, with an event telling :meth:`poll` when the copy is complete.
    :meth:`check` synchronises and raises at once. Under the CUDA simulator the flag lives on the CPU
    and :meth:`after_launch` raises at once. After raising, the flag is cleared, so the next clean
    call works.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._sim = device.type != "cuda"
        self._event: torch.cuda.Event | None = None
        self._host: torch.Tensor | None = None
        self.mapped = False
        if self._sim:
            self.flag: Any = torch.zeros(1, dtype=torch.int32)
            self._view = self.flag.numpy()
            return
        try:
            from numba import cuda

            with cuda.gpus[device.index]:
                self.flag = cuda.mapped_array(1, dtype="int32")
            self._view = np.ndarray.view(self.flag, np.ndarray)  # a plain numpy view of the host memory
            self._view[0] = 0
            self.mapped = True
        except Exception as err:  # noqa: BLE001 - no mapped memory here: the copying flag works anywhere
            warnings.warn(f"neuro: no mapped host memory for the non-finite flag ({err}); using a device "
                          "flag copied behind each launch", RuntimeWarning, stacklevel=2)
            self.flag = torch.zeros(1, dtype=torch.int32, device=device)
            self._view = None

    def poll(self) -> None:
        """Raise if a completed kernel reported a non-finite value (never waits)."""
        if self._view is not None:
            if self._view[0]:
                self._raise_if_set(int(self._view[0]))
        elif self._event is not None and self._event.query():
            self._raise_if_set(int(self._host[0]))

    def after_launch(self) -> None:
        """Simulator: raise at once. Copying flag: queue its copy to the host behind the kernels just
        launched. Mapped flag: nothing to do."""
        if self._sim:
            self._raise_if_set(int(self._view[0]))
            return
        if self.mapped or torch.cuda.is_current_stream_capturing():
            return
        if self._host is None:
            self._host = torch.zeros(1, dtype=torch.int32, pin_memory=True)
            self._event = torch.cuda.Event()
        self._host.copy_(self.flag, non_blocking=True)
        self._event.record(torch.cuda.current_stream(self.device))

    def check(self) -> None:
        """Wait for the queued kernels and raise if any reported a non-finite value."""
        if self._sim:
            self._raise_if_set(int(self._view[0]))
            return
        torch.cuda.synchronize(self.device)
        self._raise_if_set(int(self._view[0]) if self._view is not None else int(self.flag[0]))

    def _raise_if_set(self, code: int) -> None:
        if code:
            if self._view is not None:
                self._view[0] = 0
            else:
                self.flag.zero_()
                if self._host is not None:
                    self._host.zero_()
            raise NonFiniteError(
                f"a neuro CUDA kernel ({NON_FINITE_SOURCES.get(code, f'code {code}')}) read NaN or inf "
                "values; the outputs of that call are invalid")


_FLAGS: dict[torch.device, NonFiniteFlag] = {}


def non_finite_flag(device: torch.device | str) -> NonFiniteFlag:
    """The flag of ``device`` (one per device, shared by every op on it)."""
    flag = _FLAGS.get(device)  # type: ignore[call-overload]
    if flag is not None:
        return flag
    dev = torch.device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", torch.cuda.current_device())
    flag = _flag_of(dev)
    if isinstance(device, torch.device) and (device.type != "cuda" or device.index is not None):
        _FLAGS[device] = flag
    return flag


@cached_tensors(maxsize=None)
def _flag_of(device: torch.device) -> NonFiniteFlag:
    return NonFiniteFlag(device)


def check_numerics(device: torch.device | str | None = None) -> None:
    """Synchronise and raise :class:`NonFiniteError` if a neuro CUDA kernel on ``device`` (default:
    the current CUDA device, or the simulator's CPU flag) has read a NaN or inf since the last check."""
    if device is None:
        device = torch.device("cpu") if cuda_simulator_enabled() else torch.device(
            "cuda", torch.cuda.current_device())
    non_finite_flag(device).check()


def check_finite(what: str, *tensors: torch.Tensor) -> None:
    """Raise :class:`NonFiniteError` naming ``what`` if a tensor holds NaN or inf (one extra pass and a
    host synchronisation: for the torch reference backend, which has no kernel to check as it reads)."""
    for t in tensors:
        if not bool(torch.isfinite(t).all()):
            raise NonFiniteError(f"{what} contains NaN or inf values")
