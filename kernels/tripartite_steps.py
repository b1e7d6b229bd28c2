"""The per-step updates of the tripartite models and their block loops, for one Numba target.

``astrocyte_cpu`` calls :func:`compile_steps` with ``njit`` and ``astrocyte_cuda`` with its CUDA
device decorator, so both targets run the same ``astrocyte_math`` / ``aeif_math`` /
``rkf45_math`` code with the RKF45 integrator bound to each model's derivative, and the same
block loops (:func:`astrocyte_steps`, :func:`aeif_steps`; the caller provides the RKF45 work
table ``w``: a NumPy array on the CPU, a ``cuda.local.array`` on a GPU).
"""

from typing import Any, Callable

from . import aeif_math, astrocyte_math, rkf45_math
from ._jit import retarget
# the pure descriptions the block loops call; compile_steps rebinds them to compiled versions
from .aeif_math import aeif_update
from .astrocyte_math import astrocyte_advance


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


def record_state(rec, rec_rows, state, q, k, rec_every, rec_offset):
    """``rec[r, j, q] = state[rec_rows[r], q]`` after absolute step ``k`` when ``(k + 1) %
    rec_every == 0``, at ``j = (k + 1) // rec_every - 1 - rec_offset``."""
    if (k + 1) % rec_every == 0:
        j = (k + 1) // rec_every - 1 - rec_offset
        for r in range(rec_rows.shape[0]):
            rec[r, j, q] = state[rec_rows[r], q]


def astrocyte_steps(w, q, state, prm, dt, k0, n_steps, ip3_ring, j_ring, sic_out, rec, rec_rows,
                    rec_every, rec_offset):
    """Advance astrocyte ``q`` by ``n_steps`` steps from absolute step ``k0`` (see
    ``astrocyte_cpu.astrocyte_block``)."""
    R = ip3_ring.shape[0]
    for k in range(k0, k0 + n_steps):
        sic_out[k - k0, q] = astrocyte_advance(q, state, prm, dt, ip3_ring[k % R, q],
                                               j_ring[k % R, q], w)
        record_state(rec, rec_rows, state, q, k, rec_every, rec_offset)


def aeif_steps(w, q, state, prm, dt, k0, n_steps, ex_ring, in_ring, stim_ring, sic_ring, spikes,
               rec, rec_rows, rec_every, rec_offset, status):
    """Advance neuron ``q`` by ``n_steps`` steps from absolute step ``k0`` (see
    ``astrocyte_cpu.aeif_block``); a neuron whose ``status`` is not OK stays silent."""
    p = q % prm.shape[1]
    R = ex_ring.shape[0]
    for i in range(aeif_math.N_ODE):
        w[rkf45_math.Y, i] = state[i, q]
    for k in range(k0, k0 + n_steps):
        if status[q] != aeif_math.OK:
            spikes[k - k0, q] = 0.0
            continue
        s = k % R
        count, st = aeif_update(w, state, q, prm, p, dt, ex_ring[s, q], in_ring[s, q],
                                stim_ring[s, q], sic_ring[s, q])
        spikes[k - k0, q] = count
        status[q] = st
        for i in range(aeif_math.N_ODE):
            state[i, q] = w[rkf45_math.Y, i]
        record_state(rec, rec_rows, state, q, k, rec_every, rec_offset)


def compile_steps(jit: Callable) -> tuple[Any, Any, Any, Any, Any]:
    """``(astrocyte_update, aeif_update, astrocyte_advance, astrocyte_steps, aeif_steps)``
    compiled with ``jit``."""
    astrocyte_update = _compile_model(jit, astrocyte_math.lr_rhs, astrocyte_math.astrocyte_update,
                                      sic_of=jit(astrocyte_math.sic_of))
    aeif_update = _compile_model(jit, aeif_math.aeif_rhs, aeif_math.aeif_update)
    astrocyte_advance = retarget(astrocyte_math.astrocyte_advance, jit,
                                 astrocyte_update=astrocyte_update)
    record = jit(record_state)
    return (astrocyte_update, aeif_update, astrocyte_advance,
            retarget(astrocyte_steps, jit, astrocyte_advance=astrocyte_advance, record_state=record),
            retarget(aeif_steps, jit, aeif_update=aeif_update, record_state=record))
