"""The run loop shared by the populations and the network: rings, chunks and backends.

A :class:`Plan` is everything fixed about a simulation (populations' parameter tables, CSR
connection tables, delays, the slice length) plus the input rings, which persist between calls so
spikes in flight survive from one ``run`` to the next. :func:`run_chunk` advances ``n_steps`` steps
with the chunk's external inputs on the chosen backend:

* ``numba``: one call of ``neuro.kernels.astrocyte_cpu.network_run`` (slices, parallel over units);
* ``cuda``: a host loop over slices of ``neuro.kernels.astrocyte_cuda`` kernels (inputs into rings,
  neuron and astrocyte steps, ring clearing, delivery); arrays stay on the device for the whole
  chunk, and plain numpy arrays are used under the CUDA simulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

def empty_csr(n_src: int) -> tuple:
    """A CSR table without edges over ``n_src`` sources."""
    return (np.zeros(n_src + 1, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64))


@dataclass
class Plan:
    """Fixed arrays of a simulation. ``R`` ring rows cover the longest delay plus one slice."""

    dt: float
    nprm: np.ndarray
    aprm: np.ndarray
    n_neurons: int
    n_astrocytes: int
    slice_steps: int
    R: int
    nn: tuple
    na: tuple
    an: tuple
    rings: Optional[dict] = None

    def __post_init__(self) -> None:
        if self.rings is None:
            N, A = self.n_neurons, self.n_astrocytes
            self.rings = {name: np.zeros((self.R, N)) for name in ("ex", "in", "stim", "sic")}
            self.rings.update(ip3=np.zeros((self.R, A)), jin=np.zeros((self.R, A)))


@dataclass
class Recording:
    """Which rows to sample every ``every`` steps; samples land at index
    ``(k + 1) // every - 1 - offset`` of ``nrec`` / ``arec``."""

    nrows: np.ndarray
    arows: np.ndarray
    every: int
    offset: int
    nrec: np.ndarray
    arec: np.ndarray


def run_chunk(plan: Plan, backend: str, k_start: int, n_steps: int, nstate: np.ndarray,
              astate: np.ndarray, ext: tuple, rec: Recording) -> tuple[np.ndarray, np.ndarray]:
    """Advance ``n_steps`` steps from absolute step ``k_start``; ``nstate``/``astate`` are updated
    in place. ``ext = (ex, in, stim, sic, ip3, jin)`` external inputs ``[n_steps, N|A]``.
    Returns ``(spikes [n_steps, N], status [N])``."""
    spikes = np.zeros((n_steps, plan.n_neurons))
    status = np.zeros(plan.n_neurons, np.int64)
    if backend == "numba":
        from neuro.kernels import astrocyte_cpu

        r = plan.rings
        astrocyte_cpu.network_run(
            k_start, n_steps, plan.slice_steps, plan.dt, nstate, plan.nprm, astate, plan.aprm,
            r["ex"], r["in"], r["stim"], r["sic"], r["ip3"], r["jin"], *ext, *plan.nn, *plan.na,
            *plan.an, spikes, rec.nrec, rec.nrows, rec.arec, rec.arows, rec.every, rec.offset, status)
    else:
        _run_cuda(plan, k_start, n_steps, nstate, astate, ext, rec, spikes, status)
    return spikes, status


def _run_cuda(plan: Plan, k: int, m: int, nstate, astate, ext, rec: Recording, spikes, status) -> None:
    from numba import cuda

    from neuro.backends import cuda_simulator_enabled
    from neuro.kernels import astrocyte_cuda as K

    sim = cuda_simulator_enabled()
    put = (lambda a: a) if sim else (lambda a: cuda.to_device(np.ascontiguousarray(a)))
    host = (lambda a: a) if sim else (lambda a: a.copy_to_host())
    names = ("ex", "in", "stim", "sic", "ip3", "jin")
    rings = [put(plan.rings[name]) for name in names]
    ns, as_, st = put(nstate), put(astate), put(status)
    nprm, aprm, nrec, arec = put(plan.nprm), put(plan.aprm), put(rec.nrec), put(rec.arec)
    nrows, arows = put(rec.nrows), put(rec.arows)
    tables = [put(a) for group in (plan.nn, plan.na, plan.an) for a in group]
    ext_d = [put(e) for e in ext]
    N, A, S = plan.n_neurons, plan.n_astrocytes, plan.slice_steps
    spk, sic = put(np.zeros((S, N))), put(np.zeros((S, A)))
    tpb = K.THREADS_PER_BLOCK
    ex_r, in_r, stim_r, sic_r, ip3_r, jin_r = rings
    k0 = k
    while k0 < k + m:
        D = min(S, k + m - k0)
        K.slice_rings[K.blocks_for(N + A), tpb](k0, D, k, *ext_d, *rings, False)
        if N:
            K.aeif_step_many[K.blocks_for(N), tpb](ns, nprm, plan.dt, k0, D, ex_r, in_r, stim_r,
                                                   sic_r, spk, nrec, nrows, rec.every, rec.offset, st)
        if A:
            K.astrocyte_step_many[K.blocks_for(A), tpb](as_, aprm, plan.dt, k0, D, ip3_r, jin_r,
                                                        sic, arec, arows, rec.every, rec.offset)
        K.slice_rings[K.blocks_for(N + A), tpb](k0, D, k, *ext_d, *rings, True)
        K.deliver[K.blocks_for(N + A), tpb](k0, D, spk, sic, ex_r, in_r, ip3_r, sic_r, *tables)
        spikes[k0 - k:k0 - k + D] = host(spk)[:D]
        k0 += D
    for name, ring in zip(names, rings):  # spikes in flight carry over to the next call
        plan.rings[name][...] = host(ring)
    nstate[...] = host(ns)
    astate[...] = host(as_)
    rec.nrec[...] = host(nrec)
    rec.arec[...] = host(arec)
    status[...] = host(st)
