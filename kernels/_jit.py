"""Compile one pure-Python description of a step for several Numba targets."""

import types
from typing import Any, Callable


def retarget(fn: Callable, jit: Callable, **helpers: Any) -> Any:
    """Compile ``fn`` with ``jit`` after binding the global names in ``helpers`` to compiled helpers.

    The step functions in ``*_math`` modules call each other by global name; Numba needs those
    callees compiled for the same target (CPU ``njit`` or a CUDA device function), so each target
    compiles a clone of ``fn`` whose globals point at its own compiled helpers.

    Caveat of ``cache=True``: Numba keys a clone's on-disk cache by ``fn``'s source file and
    signature, not by the ``jit`` options, so after changing only the options (e.g.
    ``error_model``) in a calling module, delete ``kernels/__pycache__/*.nb[ic]`` once.
    """
    namespace = dict(fn.__globals__)
    namespace.update(helpers)
    clone = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__, fn.__closure__)
    clone.__module__ = fn.__module__
    clone.__qualname__ = fn.__qualname__
    return jit(clone)
