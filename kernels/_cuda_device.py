"""Decorators of neuro's CUDA code, and the arithmetic contract they compile under.

* :data:`device` — scalar device functions, force-inlined on a GPU (Numba's CUDA simulator rejects
  ``forceinline=``, so there they are plain device functions).
* Kernels use ``numba.cuda.jit`` as usual.

**No floating-point contraction.** NVVM's default (``-fma=1``) fuses ``a * b + c`` into one FMA
instruction, which rounds once instead of twice; the CPU kernels and the torch reference round
twice, so a contracted GPU kernel drifts from them in the last bits (measured on an H200 before this
rule: max |dv| 2-4e-15 in float64, ~1e-6 in float32 over 800,000 LIF neuron-steps). Importing this
module makes libNVVM compile every module whose code comes from ``neuro.kernels`` with ``-fma=0``
(each multiply and add rounds separately, as IEEE 754 arithmetic on the CPU does); other users'
Numba kernels in the same process keep NVVM's defaults. The kernels are memory-bound, so the cost of
unfused arithmetic does not show. ``tests/test_kernel_ptx.py`` checks the PTX for ``fma``.
"""

from __future__ import annotations

import numba
from numba import cuda

# Inlined on a GPU; Numba's CUDA simulator rejects ``forceinline=``.
device = (cuda.jit(device=True) if numba.config.ENABLE_CUDASIM
          else cuda.jit(device=True, forceinline=True))

# How neuro's functions appear in Numba's mangled LLVM symbols (module path "neuro.kernels").
_OWN_SYMBOL = "5neuro7kernels"


def _own_module(llvmir) -> bool:
    """True when the IR being compiled defines a kernel or device function of ``neuro.kernels``."""
    modules = [llvmir] if isinstance(llvmir, (str, bytes)) else list(llvmir)
    for mod in modules:
        text = mod.decode("utf8", "replace") if isinstance(mod, bytes) else str(mod)
        if _OWN_SYMBOL in text:
            return True
    return False


def _install_no_contraction() -> None:
    """Wrap ``numba.cuda.cudadrv.nvvm.compile_ir`` so neuro's modules compile with ``fma=0``.

    numba-cuda exposes no per-kernel switch for NVVM's ``-fma`` option (only ``fastmath``, which turns
    contraction on), so the one function that hands options to libNVVM is wrapped, once.
    """
    from numba.cuda.cudadrv import nvvm

    original = nvvm.compile_ir
    if getattr(original, "_neuro_no_contraction", False):
        return

    def compile_ir(llvmir, **options):
        if _own_module(llvmir) and not options.get("fastmath", False):
            options["fma"] = False
        return original(llvmir, **options)

    compile_ir._neuro_no_contraction = True  # type: ignore[attr-defined]
    compile_ir.original = original  # type: ignore[attr-defined]  (tests compare against NVVM's default)
    nvvm.compile_ir = compile_ir


if not numba.config.ENABLE_CUDASIM:
    _install_no_contraction()


@device
def report_non_finite(flag, code, total):
    """Write ``code`` into ``flag[0]`` when ``total`` (a sum of ``value * 0`` over what a thread
    read) is NaN, i.e. when one of those values was NaN or inf (the numerics contract)."""
    if total != total:
        flag[0] = code
