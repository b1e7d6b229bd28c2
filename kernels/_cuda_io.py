"""Reading and writing low-precision tensors in ``numba.cuda`` kernels that compute in float32.

Mixed precision without an extra pass: a kernel reads its input in the tensor's own format, converts
each element to float32 as it loads it, computes and keeps its state in float32, and converts what it
writes back. Three element formats (``IO_FORMATS``):

* ``"native"``: the compute dtype itself (float32 or float64), no conversion.
* ``"float16"``: IEEE half; loads are exact (``cvt.f32.f16``), stores round to nearest even
  (``cvt.rn.f16.f32``), as torch's ``.to(torch.float16)``.
* ``"bfloat16"``: passed as ``int16`` bit patterns (torch exports no bfloat16 array interface); a
  load puts the 16 bits above 16 zero bits (exact), a store rounds to nearest even with torch's
  rule (``(u + 0x7FFF + ((u >> 16) & 1)) >> 16``, NaN -> ``0x7FC0``), so the results are those of
  torch's ``.to(torch.bfloat16)``.

:func:`accessors` gives a kernel factory the ``(load, store)`` pair of a format: ``load(a, t, n)``
returns ``a[t, n]`` as a compute value, ``store(a, t, n, value)`` writes one. On Numba's CUDA
simulator the bit casts use numpy views (libdevice exists only on a GPU).
"""

from __future__ import annotations

from functools import cache

import numba
import numpy as np
from numba.core.types import float16, float32, int16, int32, uint32

from ._cuda_device import device

IO_FORMATS = ("native", "float16", "bfloat16")

if numba.config.ENABLE_CUDASIM:

    @device
    def bf16_to_f32(bits):
        """The float32 value of a bfloat16 bit pattern (exact)."""
        return np.array([(int(bits) & 0xFFFF) << 16], np.uint32).view(np.float32)[0]

    @device
    def f32_to_bf16(value):
        """The bfloat16 bit pattern nearest to ``value`` (ties to even), as ``int16``."""
        if value != value:
            return np.int16(0x7FC0)
        u = int(np.array([value], np.float32).view(np.uint32)[0])
        r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF
        return np.array([r], np.uint16).view(np.int16)[0]

else:
    from numba.cuda import libdevice

    @device
    def bf16_to_f32(bits):
        """The float32 value of a bfloat16 bit pattern (exact; the sign-extended high bits of the
        ``int16`` shift out)."""
        return libdevice.int_as_float(int32(bits) << 16)

    @device
    def f32_to_bf16(value):
        """The bfloat16 bit pattern nearest to ``value`` (ties to even), as ``int16``."""
        if value != value:
            return int16(0x7FC0)
        u = uint32(libdevice.float_as_int(value))
        return int16((u + uint32(0x7FFF) + ((u >> uint32(16)) & uint32(1))) >> uint32(16))


@device
def _load_native(a, t, n):
    return a[t, n]


@device
def _store_native(a, t, n, value):
    a[t, n] = value


@device
def _load_f16(a, t, n):
    return float32(a[t, n])


@device
def _store_f16(a, t, n, value):
    a[t, n] = float16(value)


@device
def _load_bf16(a, t, n):
    return bf16_to_f32(a[t, n])


@device
def _store_bf16(a, t, n, value):
    a[t, n] = f32_to_bf16(value)


@cache
def accessors(io: str):
    """``(load, store)`` device functions of the element format ``io`` (one of :data:`IO_FORMATS`)."""
    table = {"native": (_load_native, _store_native), "float16": (_load_f16, _store_f16),
             "bfloat16": (_load_bf16, _store_bf16)}
    if io not in table:
        raise ValueError(f"io must be one of {IO_FORMATS}, got {io!r}")
    return table[io]
