"""Backend selection: ``"auto" | "torch" | "numba" | "cuda"``.

* ``torch`` — the pure-torch reference (any device; the oracle the kernels are tested against).
* ``numba`` — fused ``@njit(parallel=True)`` kernels on CPU tensors.
* ``cuda`` — fused ``numba.cuda`` kernels on CUDA tensors (extra ``neuro[cuda]``). When Numba's CUDA
  simulator is enabled (``NUMBA_ENABLE_CUDASIM=1``, used by CI) the same kernels run, slowly, on
  CPU tensors so their logic is tested without a GPU.
* ``auto`` — ``cuda`` for CUDA tensors when numba-cuda is installed, ``numba`` for CPU tensors,
  else ``torch`` (with a warning saying why).

An explicit backend never falls back: if it cannot run, a clear error says what is missing.
"""

from __future__ import annotations

import importlib.util
import os
import warnings

import torch

BACKENDS = ("auto", "torch", "numba", "cuda")


def cuda_simulator_enabled() -> bool:
    """True when Numba's CUDA simulator is switched on (``NUMBA_ENABLE_CUDASIM=1``)."""
    if importlib.util.find_spec("numba") is not None:
        import numba

        return bool(numba.config.ENABLE_CUDASIM)
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"


def numba_cuda_installed() -> bool:
    """True when NVIDIA's ``numba-cuda`` package (the ``neuro[cuda]`` extra) is importable."""
    return importlib.util.find_spec("numba_cuda") is not None


def require_numba_cuda() -> None:
    """Raise an ImportError naming the extra when ``numba-cuda`` is missing."""
    if not numba_cuda_installed():
        raise ImportError("backend='cuda' needs the numba-cuda package: pip install 'neuro[cuda]'")


def cuda_kernels_usable() -> bool:
    """True when the CUDA kernels can run: numba-cuda and a GPU, or the CUDA simulator."""
    if not numba_cuda_installed():
        return False
    if cuda_simulator_enabled():
        return True
    from numba import cuda

    return bool(cuda.is_available())


def resolve_backend(backend: str, tensor: torch.Tensor, supported: tuple[str, ...] = BACKENDS[1:]) -> str:
    """Return the concrete backend for an op on ``tensor``; raise if an explicit one cannot run."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    on_gpu = tensor.device.type == "cuda"
    if backend == "auto":
        if on_gpu:
            if "cuda" in supported and cuda_kernels_usable():
                return "cuda"
            warnings.warn("backend='auto' uses the torch reference on CUDA tensors: "
                          "numba-cuda is not installed (pip install 'neuro[cuda]')", stacklevel=3)
            return "torch"
        if tensor.device.type == "cpu" and "numba" in supported:
            return "numba"
        return "torch"
    if backend not in supported:
        raise ValueError(f"backend={backend!r} is not available for this op; choose from {supported}")
    if backend == "numba" and tensor.device.type != "cpu":
        raise ValueError(f"backend='numba' runs on CPU tensors, but the input is on {tensor.device}; "
                         "use backend='cuda' or 'auto'")
    if backend == "cuda":
        require_numba_cuda()
        if not on_gpu and not cuda_simulator_enabled():
            raise ValueError(f"backend='cuda' needs CUDA tensors, but the input is on {tensor.device} "
                             "(only the Numba CUDA simulator, NUMBA_ENABLE_CUDASIM=1, runs it on CPU)")
        if on_gpu and not cuda_kernels_usable():
            raise RuntimeError("backend='cuda': numba-cuda cannot find a usable GPU "
                               "(check the driver and CUDA toolkit)")
    return backend


def available_backends() -> dict[str, bool]:
    """Which concrete backends can run on this machine."""
    return {"torch": True, "numba": importlib.util.find_spec("numba") is not None,
            "cuda": cuda_kernels_usable()}
