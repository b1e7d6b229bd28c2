"""Launching numba-cuda kernels on torch tensors with the parameter list built once per signature.

On every launch Numba's dispatcher types each argument (a torch tensor through its CUDA array
interface), wraps it in a device-array view and flattens it into the kernel's parameters (per array:
meminfo, parent, size, itemsize, data pointer, shape, strides in bytes): tens of microseconds for a
kernel with a dozen arrays, more than a small LIF scan runs on the GPU.

Here the first launch of a kernel with a new **signature** — each tensor's dtype, shape and strides,
each scalar's type and value, nested as the arguments are, plus the launch configuration and the
device — goes through Numba (which compiles the kernel if needed and launches it). The parameter
list Numba built for it (``_Kernel._prepare_args``) is kept as a template, with the positions of the
data pointers (:func:`pointer_slots`, checked against the list). A later launch with the same
signature copies the template, writes each tensor's ``data_ptr()`` into its slot and hands the list
to ``cuda.core.launch`` on torch's current stream — what Numba's ``_Kernel.launch`` does with the
list it rebuilds each time. Arguments the fast path does not know (a Numba device array other than a
mapped array, host arrays) send the launch through Numba. ``NEURO_CUDA_LAUNCH=numba`` turns the fast
path off. Also here (re-exported by ``neuro.ops._launch``): the Numba views of torch's stream and
tensors, and the plain Numba launch.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, NamedTuple

import torch

#: how many signatures each kernel keeps (least recently used dropped first)
MAX_SIGNATURES = 64
_OPEN, _CLOSE = "(", ")"


@lru_cache(maxsize=64)
def _numba_stream(handle: int):
    from numba import cuda

    return cuda.external_stream(handle)


def current_stream(device: torch.device):
    """torch's current CUDA stream on ``device`` as a Numba stream (cached per stream)."""
    return _numba_stream(torch.cuda.current_stream(device).cuda_stream)


def as_cuda_array(a: Any) -> Any:
    """A Numba device-array view of a CUDA tensor (no copy, no synchronisation), also inside (nested)
    tuples; others unchanged."""
    if isinstance(a, tuple):
        return tuple(map(as_cuda_array, a))
    if not isinstance(a, torch.Tensor):
        return a
    from numba import cuda

    return cuda.as_cuda_array(a.detach(), sync=False)


def launch_cuda_numba(kernel: Any, grid: Any, block: Any, args: Sequence[Any], shared_bytes: int,
                      device: torch.device) -> None:
    """Launch through Numba's dispatcher (tensors converted to Numba device arrays on every call): the
    reference path, and the one :func:`launch` takes for a new argument signature."""
    kernel[grid, block, current_stream(device), shared_bytes](*map(as_cuda_array, args))


class Unsupported(Exception):
    """An argument the fast path does not flatten (the launch goes through Numba)."""


class _Entry(NamedTuple):
    template: list        # Numba's parameter list of the first launch
    slots: tuple          # positions of the tensors' data pointers, in argument order
    kernel: Any           # the cuda.core kernel handle
    config: Any           # the cuda.core LaunchConfig
    keep: tuple           # constant array arguments (mapped flags) the template points into


def signature(args: Any, sig: list, ptrs: list) -> None:
    """Append the signature of ``args`` to ``sig`` and the tensors' data pointers to ``ptrs``."""
    for a in args:
        if isinstance(a, torch.Tensor):
            sig.append((a.dtype, a.shape, a.stride()))
            ptrs.append(a.data_ptr())
        elif isinstance(a, tuple):
            sig.append(_OPEN)
            signature(a, sig, ptrs)
            sig.append(_CLOSE)
        elif isinstance(a, (bool, int, float)):
            sig.append((type(a), a))
        elif _is_mapped(a):
            sig.append(("mapped", id(a)))
        else:
            raise Unsupported(type(a).__name__)


def _is_mapped(a: Any) -> bool:
    from numba.cuda.cudadrv.devicearray import MappedNDArray

    return isinstance(a, MappedNDArray)


def pointer_slots(argument_types: Any) -> tuple[list[int], int]:
    """``(positions, length)``: where Numba's flattened parameter list holds each array's data pointer
    (in argument order, tuples flattened) and how long the list is — the layout of
    ``_Kernel._prepare_args`` (an array: meminfo, parent, size, itemsize, data, shape, strides)."""
    from numba.cuda import types

    slots: list[int] = []

    def walk(ty: Any, pos: int) -> int:
        if isinstance(ty, types.Array):
            slots.append(pos + 4)
            return pos + 5 + 2 * ty.ndim
        if isinstance(ty, types.BaseTuple):
            for t in ty:
                pos = walk(t, pos)
            return pos
        if ty in (types.complex64, types.complex128):
            return pos + 2
        if isinstance(ty, (types.Integer, types.Float, types.Boolean, types.CPointer, types.NPDatetime,
                           types.NPTimedelta, types.Record, types.EnumMember)):
            return pos + 1
        raise Unsupported(str(ty))

    pos = 0
    for ty in argument_types:
        pos = walk(ty, pos)
    return slots, pos


def _array_positions(args: Any, out: list, kinds: list) -> None:
    """The array arguments in flattening order: ``kinds`` gets "tensor" or "mapped" for each."""
    for a in args:
        if isinstance(a, tuple):
            _array_positions(a, out, kinds)
        elif isinstance(a, torch.Tensor):
            out.append(a)
            kinds.append("tensor")
        elif not isinstance(a, (bool, int, float)):
            out.append(a)
            kinds.append("mapped")


def _dims(d: Any) -> tuple:
    d = tuple(d) if isinstance(d, (tuple, list)) else (int(d),)
    return d + (1,) * (3 - len(d))


def _build(kernel: Any, grid: Any, block: Any, args: Any, shared: int, device: torch.device) -> _Entry | None:
    """Launch through Numba, then turn the parameter list Numba builds for these arguments into a
    template (None when they need anything but plain device pointers)."""
    from cuda.core import LaunchConfig
    from numba.cuda._compat import CUDA_CORE_GE_1_0

    converted = tuple(as_cuda_array(a) for a in args)
    stream = current_stream(device)
    kernel[grid, block, stream, shared](*converted)
    argtypes = tuple(kernel.typeof_pyval(a) for a in converted)
    compiled = kernel.overloads.get(argtypes)
    if compiled is None or getattr(compiled, "debug", False) or getattr(compiled, "cooperative", False):
        return None
    params: list = []
    retr: list = []
    for ty, val in zip(compiled.argument_types, converted):
        compiled._prepare_args(ty, val, stream, retr, params)
    slots, length = pointer_slots(compiled.argument_types)
    arrays: list = []
    kinds: list = []
    _array_positions(args, arrays, kinds)
    if retr or length != len(params) or len(slots) != len(arrays):
        return None
    tensor_slots = []
    for slot, arr, kind in zip(slots, arrays, kinds):
        if kind == "tensor":
            if params[slot] != arr.data_ptr():
                return None
            tensor_slots.append(slot)
    extra = {"is_cooperative": False} if CUDA_CORE_GE_1_0 else {"cooperative_launch": False}
    config = LaunchConfig(grid=_dims(grid), block=_dims(block), shmem_size=shared, **extra)
    handle = compiled._codelibrary.get_cufunc().kernel
    keep = tuple(a for a, k in zip(arrays, kinds) if k == "mapped")
    return _Entry(params, tuple(tensor_slots), handle, config, keep)


_STREAMS: dict[int, Any] = {}


def _core_stream(device: torch.device) -> Any:
    """torch's current stream on ``device`` as a cuda.core stream (cached per raw handle)."""
    raw = getattr(torch._C, "_cuda_getCurrentRawStream", None)  # CUDA builds of torch: no Stream object
    handle = raw(device.index) if raw is not None else torch.cuda.current_stream(device).cuda_stream
    stream = _STREAMS.get(handle)
    if stream is None:
        from numba.cuda.cudadrv import driver

        stream = _STREAMS[handle] = driver._to_core_stream(current_stream(device))
    return stream


def enabled() -> bool:
    """False when ``NEURO_CUDA_LAUNCH=numba`` asks for Numba's dispatcher on every launch."""
    return os.environ.get("NEURO_CUDA_LAUNCH", "fast") != "numba"


def launch(kernel: Any, grid: Any, block: Any, args: Any, shared: int, device: torch.device) -> None:
    """Launch ``kernel[grid, block]`` with ``args`` on torch's current stream of ``device``."""
    if device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    sig: list = [grid, block, shared, device.index]
    ptrs: list = []
    try:
        signature(args, sig, ptrs)
    except Unsupported:
        launch_cuda_numba(kernel, grid, block, args, shared, device)
        return
    if not enabled():
        launch_cuda_numba(kernel, grid, block, args, shared, device)
        return
    key = tuple(sig)
    entries = kernel.__dict__.get("_neuro_launches")
    if entries is None:
        entries = kernel.__dict__["_neuro_launches"] = OrderedDict()
    entry = entries.get(key)
    if entry is None:
        if key in entries:  # known to need Numba's path
            launch_cuda_numba(kernel, grid, block, args, shared, device)
            return
        entries[key] = _build(kernel, grid, block, args, shared, device)
        while len(entries) > MAX_SIGNATURES:
            entries.popitem(last=False)
        return
    entries.move_to_end(key)
    from cuda.core import launch as core_launch

    params = entry.template.copy()
    for slot, ptr in zip(entry.slots, ptrs):
        params[slot] = ptr
    core_launch(_core_stream(device), entry.config, entry.kernel, *params)
