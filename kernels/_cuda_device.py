"""The decorator for CUDA device functions, shared by every ``*_cuda`` kernel module."""

import numba
from numba import cuda

# Inlined on a GPU; Numba's CUDA simulator rejects ``forceinline=``.
device = (cuda.jit(device=True) if numba.config.ENABLE_CUDASIM
          else cuda.jit(device=True, forceinline=True))
