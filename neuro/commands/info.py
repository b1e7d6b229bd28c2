"""``neuro info``: versions, backends, Numba threads and CUDA / simulator status."""

from __future__ import annotations

import argparse
import importlib.metadata
import platform

HELP = "print versions, available backends, Numba threads and CUDA status"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def collect() -> dict:
    """Everything ``neuro info`` reports, as a dict."""
    import numba
    import torch

    from neuro import __version__
    from neuro.backends import available_backends, cuda_simulator_enabled, numba_cuda_installed

    info = {
        "neuro": __version__, "python": platform.python_version(), "platform": platform.platform(),
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "numpy": _version("numpy"), "numba": numba.__version__,
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "numba_threading_layer": numba.config.THREADING_LAYER,
        "numba_cuda": _version("numba-cuda"),
        "cuda_simulator": cuda_simulator_enabled(),
        "torch_cuda_available": torch.cuda.is_available(),
        "backends": available_backends(),
    }
    for extra in ("tonic", "nir", "nirtorch", "h5py", "matplotlib"):
        info[extra] = _version(extra)
    if numba_cuda_installed() and not cuda_simulator_enabled():
        from numba import cuda

        info["cuda_gpus"] = [str(g.name.decode() if isinstance(g.name, bytes) else g.name)
                             for g in cuda.gpus] if cuda.is_available() else []
    return info


def run(args: argparse.Namespace) -> int:
    info = collect()
    if args.json:
        import json

        print(json.dumps(info, indent=2))
        return 0
    width = max(map(len, info))
    for key, value in info.items():
        print(f"{key:<{width}}  {value}")
    return 0
