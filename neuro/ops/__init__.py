"""Torch ops: pure-torch references (the oracles) and autograd Functions over the kernels.

Re-exported here: :class:`NonFiniteError` (what every backend raises for NaN / inf inputs or states),
:func:`check_numerics` (synchronise and raise what a CUDA kernel reported; the CUDA backend never
waits on its own) and :func:`set_cpu_buffer_cache` (the size of the cache of large CPU kernel
outputs, :mod:`neuro.ops._buffers`; 0 turns it off).
"""

from neuro.ops._buffers import set_max_bytes as set_cpu_buffer_cache
from neuro.ops._launch import NonFiniteError, check_numerics

__all__ = ["NonFiniteError", "check_numerics", "set_cpu_buffer_cache"]
