"""The run loop shared by the populations and the network: rings, chunks and backends.

A :class:`Plan` is everything fixed about a simulation (populations' parameter tables, CSR
connection tables, delays, the slice length) plus the input rings, which persist between calls so
spikes in flight survive from one ``run`` to the next. :func:`run_chunk` advances ``n_steps`` steps
with the chunk's external inputs on the chosen backend:

* ``numba``: one call of ``neuro.kernels.astrocyte_cpu.network_run`` (slices, parallel over units);
* ``cuda``: a host loop over slices of ``neuro.kernels.astrocyte_cuda`` kernels (inputs into rings,
  neuron and astrocyte steps, ring clearing, delivery) launched on torch's current stream by
  ``neuro.ops._launch``; arrays stay on the device for the whole chunk (CPU tensors under the CUDA
  simulator). Delivery gathers per target through the transposed connection tables
  (:meth:`Plan.incoming`), in the CPU's summation order and without atomics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from neuro.backends import cuda_simulator_enabled
from neuro.ops._launch import launch_cuda, numba_threads

# the input rings, in the order of the kernels' ``rings`` tuples (``neuro.kernels.tripartite_steps``)
RING_NAMES = ("ex", "in", "stim", "sic", "ip3", "jin")


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
    rings: dict | None = None
    _incoming: tuple | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.rings is None:
            N, A = self.n_neurons, self.n_astrocytes
            self.rings = {name: np.zeros((self.R, N)) for name in ("ex", "in", "stim", "sic")}
            self.rings.update(ip3=np.zeros((self.R, A)), jin=np.zeros((self.R, A)))

    def ring_tuple(self) -> tuple:
        """The rings in the kernels' order ``(ex, in, stim, sic, ip3, jin)``."""
        return tuple(self.rings[name] for name in RING_NAMES)

    def incoming(self) -> tuple:
        """``(nn, na, an)`` transposed: CSR tables over targets ``(ptr, source, weight, delay)``, each
        target's edges in the order of the tables over sources (made once)."""
        if self._incoming is None:
            N, A = self.n_neurons, self.n_astrocytes
            self._incoming = (transpose_csr(self.nn, N), transpose_csr(self.na, A),
                              transpose_csr(self.an, N))
        return self._incoming


def transpose_csr(table: tuple, n_targets: int) -> tuple:
    """A CSR table over sources ``(ptr, target, weight, delay)`` as one over targets ``(ptr, source,
    weight, delay)``; a stable sort keeps each target's edges in source order."""
    ptr, tgt, w, d = table
    src = np.repeat(np.arange(len(ptr) - 1, dtype=np.int64), np.diff(ptr))
    order = np.argsort(tgt, kind="stable")
    in_ptr = np.zeros(n_targets + 1, np.int64)
    np.add.at(in_ptr, tgt + 1, 1)
    return np.cumsum(in_ptr), src[order], w[order], d[order]


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

    def recorders(self) -> tuple:
        """The kernels' recorders ``(rec, rows, every, offset)`` of the neurons and the astrocytes."""
        return ((self.nrec, self.nrows, self.every, self.offset),
                (self.arec, self.arows, self.every, self.offset))


def run_chunk(plan: Plan, backend: str, k_start: int, n_steps: int, nstate: np.ndarray,
              astate: np.ndarray, ext: tuple, rec: Recording) -> tuple[np.ndarray, np.ndarray]:
    """Advance ``n_steps`` steps from absolute step ``k_start``; ``nstate``/``astate`` are updated
    in place. ``ext = (ex, in, stim, sic, ip3, jin)`` external inputs ``[n_steps, N|A]``.
    Returns ``(spikes [n_steps, N], status [N])``."""
    spikes = np.zeros((n_steps, plan.n_neurons))
    status = np.zeros(plan.n_neurons, np.int64)
    if backend == "numba":
        from neuro.kernels import astrocyte_cpu

        numba_threads()  # starts Numba's threading layer without changing torch's thread count
        astrocyte_cpu.network_run(k_start, n_steps, plan.slice_steps, plan.dt, (nstate, plan.nprm),
                                  (astate, plan.aprm), plan.ring_tuple(), tuple(ext),
                                  (plan.nn, plan.na, plan.an), spikes, rec.recorders(), status)
    else:
        _run_cuda(plan, k_start, n_steps, nstate, astate, ext, rec, spikes, status)
    return spikes, status


def _run_cuda(plan: Plan, k: int, m: int, nstate, astate, ext, rec: Recording, spikes, status) -> None:
    from neuro.kernels import astrocyte_cuda as K

    device = torch.device("cpu") if cuda_simulator_enabled() else torch.device("cuda")

    def put(a):
        if isinstance(a, tuple):
            return tuple(map(put, a))
        return torch.from_numpy(np.ascontiguousarray(a)).to(device) if isinstance(a, np.ndarray) else a

    rings, ext_d, incoming = put(plan.ring_tuple()), put(tuple(ext)), put(plan.incoming())
    neuron_in, astro_in = rings[:4], rings[4:]
    ns, as_, st, nprm, aprm = put((nstate, astate, status, plan.nprm, plan.aprm))
    nrec, arec = put(rec.recorders())
    N, A, S = plan.n_neurons, plan.n_astrocytes, plan.slice_steps
    spk_all = torch.zeros((m, N), dtype=torch.float64, device=device)
    sic = torch.zeros((S, A), dtype=torch.float64, device=device)

    def launch(kernel, n_threads: int, *args) -> None:
        launch_cuda(kernel, K.blocks_for(n_threads), K.THREADS_PER_BLOCK, args, device=device)

    k0 = k
    while k0 < k + m:
        D = min(S, k + m - k0)
        spk = spk_all[k0 - k:k0 - k + D]  # this slice's rows
        launch(K.slice_rings, N + A, k0, D, k, ext_d, rings, False)
        if N:
            launch(K.aeif_step_many, N, ns, nprm, plan.dt, k0, D, neuron_in, spk, nrec, st)
        if A:
            launch(K.astrocyte_step_many, A, as_, aprm, plan.dt, k0, D, astro_in, sic, arec)
        launch(K.slice_rings, N + A, k0, D, k, ext_d, rings, True)
        launch(K.deliver, N + A, k0, D, spk, sic, rings, incoming)
        k0 += D
    spikes[...] = spk_all.cpu().numpy()
    for name, ring in zip(RING_NAMES, rings):  # spikes in flight carry over to the next call
        plan.rings[name][...] = ring.cpu().numpy()
    for host, dev in ((nstate, ns), (astate, as_), (rec.nrec, nrec[0]), (rec.arec, arec[0]), (status, st)):
        host[...] = dev.cpu().numpy()
