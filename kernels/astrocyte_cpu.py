"""Tripartite-synapse models on the CPU: ``@njit(parallel=True)`` over units, serial over steps.

``astrocyte_block`` advances one Li-Rinzel astrocyte (:mod:`neuro.kernels.astrocyte_math`) and
``aeif_block`` one NEST ``aeif_cond_alpha_astro`` neuron (:mod:`neuro.kernels.aeif_math`) by a
block of simulation steps whose inputs are known; ``ns`` (``tripartite_steps.compile_for("cpu")``)
holds the single-step functions a compiled simulation loop can call (``ns.astrocyte_update`` /
``ns.aeif_update``; ``astrocyte_advance`` wraps the former with the state-table handling: one
astrocyte, one step). ``astrocyte_phase`` and
``deliver_sic`` are the astrocyte part of one step of ``neuro.sim``'s loop (``sim_cpu``).
Units are independent within such a block (a network couples them only through delays of at
least one block), so each parallel task owns one unit and keeps its ODE variables in a small work
table (:mod:`neuro.kernels.rkf45_math`).

Conventions shared by the block functions (all arrays float64 unless stated):

* ``state[N_STATE, N]`` is updated in place; ``prm[:, q % P]`` holds unit ``q``'s parameters.
* The block covers absolute steps ``k0 .. k0 + n_steps - 1``; the input of absolute step ``k`` is
  read from row ``k % R`` of the ``[R, N]`` input rings (pass ``R = n_steps, k0 = 0`` for plain
  ``[n_steps, N]`` inputs). Inputs are not modified.
* Per-step outputs (``sic_out``, ``spikes``) are ``[n_steps, N]``, indexed relative to ``k0``.
* ``recorder = (rec, rows, every, offset)``: ``rec[r, j, q]`` receives state row ``rows[r]`` after
  every absolute step ``k`` with ``(k + 1) % every == 0``, at ``j = (k + 1) // every - 1 - offset``
  (a recorder sampling every ``every`` steps, like NEST's multimeter).

``network_run`` runs both populations in parallel over units, slice by slice, and couples them
through delayed spikes and SICs (NEST's scheme, in compiled code); a population without
connections is a network whose single slice is the whole block.
"""

import numpy as np
from numba import njit, prange

from . import aeif_math, astrocyte_math, rkf45_math, tripartite_steps

PARALLEL_MIN_UNITS = 32  # smaller networks run their slices on one thread


ns = tripartite_steps.compile_for("cpu")
# one astrocyte, one step: what neuro.sim's compiled loops call (``sim_cpu``)
astrocyte_advance = ns.astrocyte_advance


@njit(cache=True)
def astrocyte_block(q, state, prm, dt, k0, n_steps, inputs, sic_out, recorder):
    """Advance astrocyte ``q`` by ``n_steps`` steps from absolute step ``k0``.

    ``inputs = (ip3_ring, j_ring)``: ``ip3_ring[k % R, q]`` is the summed weight of the spikes
    reaching it at the end of step ``k``, ``j_ring`` the calcium current arriving then (used during
    step ``k + 1``); ``sic_out[k - k0, q]``: the SIC emitted after step ``k``.
    """
    w = np.empty((rkf45_math.ROWS, astrocyte_math.N_ODE), np.float64)
    ns.astrocyte_steps(w, q, state, prm, dt, k0, n_steps, inputs, sic_out, recorder)


@njit(cache=True)
def aeif_block(q, state, prm, dt, k0, n_steps, inputs, spikes, recorder, status):
    """Advance neuron ``q`` by ``n_steps`` steps from absolute step ``k0``.

    ``inputs = (ex_ring, in_ring, stim_ring, sic_ring)``: excitatory / inhibitory (absolute) weights
    arriving at the end of step ``k``, and the stimulus current and SIC arriving then (used during
    step ``k + 1``). ``spikes[k - k0, q]`` counts the spikes of step ``k``. ``status[q]`` (int64)
    becomes ``aeif_math.UNSTABLE`` when ``V`` or ``w`` leave NEST's sanity bounds; the neuron then
    stops.
    """
    w = np.empty((rkf45_math.ROWS, aeif_math.N_ODE), np.float64)
    ns.aeif_steps(w, q, state, prm, dt, k0, n_steps, inputs, spikes, recorder, status)


@njit(parallel=True, cache=True)
def network_run(k_start, n_steps, slice_steps, dt, neurons, astrocytes, rings, ext, tables, spikes,
                recorders, status):
    """Simulate ``n_steps`` steps from absolute step ``k_start`` in slices of ``slice_steps``
    (the network's minimum delay) and deliver the outputs of each slice through the rings.

    ``neurons = (state, prm)``, ``astrocytes = (state, prm)``; ``rings`` and ``ext`` as in
    ``tripartite_steps`` (``ext``: this chunk's fixed external inputs, added to the rings as their
    slice begins); ``recorders``: one recorder per population; ``spikes[n_steps, N]``.
    ``tables = (nn, na, an)``: CSR tables over sources ``(ptr, target, weight, delay)``, neuron ->
    neuron (weight in nS, negative = inhibitory), neuron -> astrocyte (IP3 weight), astrocyte ->
    neuron (SIC weight); delays in steps, ``slice_steps <= d <= R - slice_steps``.
    """
    nstate, nprm = neurons
    astate, aprm = astrocytes
    ex_ring, in_ring, stim_ring, sic_ring, ip3_ring, jin_ring = rings
    (nn_ptr, nn_tgt, nn_w, nn_d), (na_ptr, na_tgt, na_w, na_d), (an_ptr, an_tgt, an_w, an_d) = tables
    nrec, arec = recorders
    R = ex_ring.shape[0]
    N = nstate.shape[1]
    A = astate.shape[1]
    sic_tmp = np.zeros((slice_steps, A), np.float64)
    spk_tmp = np.zeros((slice_steps, N), np.float64)
    neuron_in = (ex_ring, in_ring, stim_ring, sic_ring)
    astro_in = (ip3_ring, jin_ring)
    k0 = k_start
    end = k_start + n_steps
    while k0 < end:
        D = min(slice_steps, end - k0)
        for k in range(k0, k0 + D):
            for g in range(N + A):
                ns.ring_inputs(rings, ext, k % R, k - k_start, g, N, False)
        if N + A < PARALLEL_MIN_UNITS:  # a thread launch per slice costs more than it saves
            for q in range(N):
                aeif_block(q, nstate, nprm, dt, k0, D, neuron_in, spk_tmp, nrec, status)
            for a in range(A):
                astrocyte_block(a, astate, aprm, dt, k0, D, astro_in, sic_tmp, arec)
        else:
            for q in prange(N):  # units are independent within a slice
                aeif_block(q, nstate, nprm, dt, k0, D, neuron_in, spk_tmp, nrec, status)
            for a in prange(A):
                astrocyte_block(a, astate, aprm, dt, k0, D, astro_in, sic_tmp, arec)
        for k in range(k0, k0 + D):
            for g in range(N + A):
                ns.ring_inputs(rings, ext, k % R, k - k_start, g, N, True)
        for k in range(k0, k0 + D):
            for j in range(N):
                c = spk_tmp[k - k0, j]
                spikes[k - k_start, j] = c
                if c == 0.0:
                    continue
                for e in range(nn_ptr[j], nn_ptr[j + 1]):
                    ns.add_synaptic(ex_ring, in_ring, (k + nn_d[e]) % R, nn_tgt[e], nn_w[e], c)
                for e in range(na_ptr[j], na_ptr[j + 1]):
                    ip3_ring[(k + na_d[e]) % R, na_tgt[e]] += na_w[e] * c
            for a in range(A):
                v = sic_tmp[k - k0, a]
                for e in range(an_ptr[a], an_ptr[a + 1]):
                    sic_ring[(k + an_d[e]) % R, an_tgt[e]] += an_w[e] * v
        k0 += D


# the astrocyte phase of neuro.sim's simulation loop (kernels/sim_cpu.py)

@njit(inline="always", cache=True)
def _astrocyte_step(q, t, dt, astate, aprm, ip3_buf, mask, awork):
    """Step ``t`` of astrocyte ``q``: integrate, then add the IP3 of ring slot ``t + 1``."""
    slot = (t + 1) & mask
    ip3_in = ip3_buf[slot, q]
    ip3_buf[slot, q] = 0.0
    ns.astrocyte_advance(q, astate, aprm, dt, ip3_in, 0.0, awork[q])


@njit(parallel=True, cache=True)
def astrocyte_phase(t, dt, astate, aprm, ip3_buf, mask, awork):
    """Step ``t`` of every astrocyte (independent of each other: in parallel when there are many)."""
    A = astate.shape[1]
    if A < PARALLEL_MIN_UNITS:  # a parallel region per step costs more than a few astrocytes
        for q in range(A):
            _astrocyte_step(q, t, dt, astate, aprm, ip3_buf, mask, awork)
    else:
        for q in prange(A):
            _astrocyte_step(q, t, dt, astate, aprm, ip3_buf, mask, awork)


@njit(cache=True)
def deliver_sic(t, astate, ptr, col, weight, delay, mask, buf):
    """Add ``weight * SIC`` of every astrocyte with a non-zero SIC after step ``t`` to the neurons'
    buffer slot ``t + 1 + delay``."""
    for q in range(astate.shape[1]):
        sic = astate[astrocyte_math.S_SIC, q]
        if sic != 0.0:
            for k in range(ptr[q], ptr[q + 1]):
                buf[(t + 1 + delay[k]) & mask, col[k]] += weight[k] * sic
