"""The per-step updates of the tripartite models, compiled for one Numba target.

``astrocyte_cpu`` calls :func:`compile_steps` with ``njit`` and ``astrocyte_cuda`` with its CUDA
device decorator, so both targets run the same ``astrocyte_math`` / ``aeif_math`` /
``rkf45_math`` code with the RKF45 integrator bound to each model's derivative.
"""

from typing import Any, Callable

from . import aeif_math, astrocyte_math, rkf45_math
from ._jit import retarget


def _compile_model(jit: Callable, rhs_fn, update_fn, **helpers) -> Any:
    """The per-step update of one model with the RKF45 integrator bound to its derivative.

    The helpers are not cached on their own (the clones of one function share a name, which
    Numba's cache cannot tell apart); the cached kernels that call them embed them.
    """
    rhs = jit(rhs_fn)
    step = retarget(rkf45_math.rkf45_step, jit, rhs=rhs)
    hadjust = jit(rkf45_math.hadjust)
    evolve = retarget(rkf45_math.evolve_apply, jit, rhs=rhs, rkf45_step=step, hadjust=hadjust)
    return retarget(update_fn, jit, evolve_apply=evolve, **helpers)


def compile_steps(jit: Callable) -> tuple[Any, Any, Any]:
    """``(astrocyte_update, aeif_update, astrocyte_advance)`` compiled with ``jit``."""
    astrocyte_update = _compile_model(jit, astrocyte_math.lr_rhs, astrocyte_math.astrocyte_update,
                                      sic_of=jit(astrocyte_math.sic_of))
    aeif_update = _compile_model(jit, aeif_math.aeif_rhs, aeif_math.aeif_update)
    astrocyte_advance = retarget(astrocyte_math.astrocyte_advance, jit,
                                 astrocyte_update=astrocyte_update)
    return astrocyte_update, aeif_update, astrocyte_advance
