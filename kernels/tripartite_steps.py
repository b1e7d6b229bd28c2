"""The per-step updates of the tripartite models and their block loops, for one Numba target.

``astrocyte_cpu`` and ``astrocyte_cuda`` take :func:`compile_for` of their target, so both run the
same ``astrocyte_math`` / ``aeif_math`` / ``rkf45_math`` code with the RKF45 integrator bound to
each model's derivative, and the same block loops (:func:`astrocyte_steps`, :func:`aeif_steps`; the
caller provides the RKF45 work table ``w``: a NumPy array on the CPU, a ``cuda.local.array`` on a
GPU).
"""

from functools import cache
from types import ModuleType, SimpleNamespace

from . import aeif_math, astrocyte_math, rkf45_math
from ._jit import compile_math

# the pure descriptions the block loops call; compile_for binds them to compiled versions
from .aeif_math import aeif_update
from .astrocyte_math import astrocyte_advance


def record_state(recorder, state, q, k):
    """``rec[r, j, q] = state[rows[r], q]`` after absolute step ``k`` when ``(k + 1) % every == 0``,
    at ``j = (k + 1) // every - 1 - offset``; ``recorder = (rec, rows, every, offset)``."""
    rec, rows, every, offset = recorder
    if (k + 1) % every == 0:
        j = (k + 1) // every - 1 - offset
        for r in range(rows.shape[0]):
            rec[r, j, q] = state[rows[r], q]


def astrocyte_steps(w, q, state, prm, dt, k0, n_steps, inputs, sic_out, recorder):
    """Advance astrocyte ``q`` by ``n_steps`` steps from absolute step ``k0`` (see
    ``astrocyte_cpu.astrocyte_block``); ``inputs = (ip3_ring, j_ring)``."""
    ip3_ring, j_ring = inputs
    R = ip3_ring.shape[0]
    for k in range(k0, k0 + n_steps):
        sic_out[k - k0, q] = astrocyte_advance(q, state, prm, dt, ip3_ring[k % R, q],
                                               j_ring[k % R, q], w)
        record_state(recorder, state, q, k)


def aeif_steps(w, q, state, prm, dt, k0, n_steps, inputs, spikes, recorder, status):
    """Advance neuron ``q`` by ``n_steps`` steps from absolute step ``k0`` (see
    ``astrocyte_cpu.aeif_block``); ``inputs = (ex_ring, in_ring, stim_ring, sic_ring)``. A neuron
    whose ``status`` is not OK stays silent."""
    ex_ring, in_ring, stim_ring, sic_ring = inputs
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
        record_state(recorder, state, q, k)


# A network's input rings: ``rings = (ex, in, stim, sic, ip3, jin)``, four ``[R, N]`` rows of the
# neurons' inputs and two ``[R, A]`` of the astrocytes'; ``ext``: the same six, external inputs
# ``[n_steps, N|A]`` of a chunk.


def ring_slot(ring, ext, s, j, q, clear):
    """Slot ``s`` of unit ``q``: zeroed (``clear``) or increased by the external input ``ext[j, q]``."""
    if clear:
        ring[s, q] = 0.0
    else:
        ring[s, q] += ext[j, q]


def ring_inputs(rings, ext, s, j, g, n_neurons, clear):
    """:func:`ring_slot` of every ring of unit ``g`` (``g < n_neurons``: neuron ``g``, else astrocyte
    ``g - n_neurons``)."""
    if g < n_neurons:
        ring_slot(rings[0], ext[0], s, j, g, clear)
        ring_slot(rings[1], ext[1], s, j, g, clear)
        ring_slot(rings[2], ext[2], s, j, g, clear)
        ring_slot(rings[3], ext[3], s, j, g, clear)
    else:
        ring_slot(rings[4], ext[4], s, j, g - n_neurons, clear)
        ring_slot(rings[5], ext[5], s, j, g - n_neurons, clear)


def add_synaptic(ex_ring, in_ring, s, q, weight, count):
    """``count`` spikes through a synapse of ``weight`` nS (negative: inhibitory, added as ``|weight|``)
    into slot ``s`` of neuron ``q``."""
    if weight > 0.0:
        ex_ring[s, q] += weight * count
    else:
        in_ring[s, q] += -weight * count


@cache
def compile_for(target: str) -> ModuleType:
    """Both models' steps and block loops compiled for ``target`` (``"cpu"`` or ``"cuda"``): a namespace
    with ``astrocyte_update``, ``astrocyte_advance``, ``aeif_update``, ``record_state``,
    ``astrocyte_steps``, ``aeif_steps`` and the ring helpers ``ring_inputs``, ``add_synaptic``."""
    astro = astrocyte_math.compile_for(target)
    neuron = aeif_math.compile_for(target)
    models = SimpleNamespace(astrocyte_update=astro.astrocyte_update,
                             astrocyte_advance=astro.astrocyte_advance, aeif_update=neuron.aeif_update)
    return compile_math((record_state, astrocyte_steps, aeif_steps, ring_slot, ring_inputs, add_synaptic),
                        target, models)
