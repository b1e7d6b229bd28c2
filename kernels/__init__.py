"""Torch-free Numba kernels of neuro (installed as ``neuro.kernels``).

Each recurrence has one scalar step description shared by a CPU scan (``@njit(parallel=True)``,
or GIL-free ``@njit(nogil=True)`` kernels over chunks run on threads by ``_parallel``) and a CUDA
scan (``numba.cuda``), both working on plain ``[T, N]`` arrays.
"""

if __name__ != "neuro.kernels":  # the folder is named kernels/ but must never be imported as such
    raise ImportError(
        "the kernels/ folder of the neuro repository is the package 'neuro.kernels'; it was imported "
        f"as {__name__!r} because the repository root is on sys.path. Install neuro "
        "(pip install -e .) and import neuro.kernels; run tests with `pytest`, not `python -m pytest`."
    )
