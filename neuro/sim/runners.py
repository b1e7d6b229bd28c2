"""Backends that advance a compiled network: Numba CPU kernel, numba.cuda kernel, dense torch reference.

Every runner owns the network state (``v, i, a`` per neuron, channel currents ``g``, refractory
counters, the delivery ring buffer; astrocyte states and their IP3 ring) and returns, for each chunk
of steps, the spikes of recorded
sources as ``(step, global index)`` sorted by step then index, the spike count per population and
step, and the state-monitor rows. The Numba CPU kernel and the CUDA event kernel
(``neuro.sim.cuda_runner``) produce bit-identical spike trains and states for the same network and
seed, with any weights (the CUDA kernel sums each target's inputs in the CPU kernel's order); the
dense torch reference sums in another order, so it gives the same spikes exactly when the sums of
weights are exact in floating point (see the tests).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from neuro.astro.populations import ASTROCYTE_RECORDABLES
from neuro.kernels import astrocyte_math, rkf45_math
from neuro.sim.build import Compiled


class ChunkResult(NamedTuple):
    spike_steps: np.ndarray
    spike_idx: np.ndarray
    counts: np.ndarray  # [steps, populations]
    mon_steps: np.ndarray
    mon_rows: np.ndarray  # [recorded steps, monitored columns]


def astrocyte_state(net: Compiled, astate: np.ndarray) -> dict:
    """The astrocytes' recordable variables from their state table (empty without astrocytes)."""
    if not net.A:
        return {}
    return {name: np.array(astate[row]) for name, row in ASTROCYTE_RECORDABLES.items()}


def spec_state(net: Compiled, g) -> dict:
    """``{"spec_states": rows C .. C+Y-1 of g}`` when the network has spec neurons (else empty)."""
    return {"spec_states": g[net.C:net.C + net.Y]} if net.Y else {}


def monitor_steps(t0: int, t1: int, every: int) -> np.ndarray:
    """The steps in ``[t0, t1)`` at which state monitors record (multiples of ``every``)."""
    first = -(-t0 // every) * every
    return np.arange(first, t1, every, dtype=np.int64)


def by_element(element: np.ndarray, columns: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Monitor columns grouped by the element (neuron or astrocyte) they record: ``(ptr [n+1], columns)``."""
    order = np.argsort(element, kind="stable")
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(element, minlength=n), out=ptr[1:])
    return ptr, columns[order].astype(np.int64)


class NumbaRunner:
    """The serial Numba CPU kernel (``neuro.kernels.sim_cpu``) on numpy arrays."""

    def __init__(self, net: Compiled):
        from neuro.kernels import sim_cpu

        self.net = net
        hetero, *tables = net.cpu_tables()
        self.tables = tuple(tables)  # (prm, ref_steps, bias, ch_alpha, ch_kappa)
        if net.general:  # conductance channels or spec neurons: sim_cpu.general_update
            self.tables = net.general_params(hetero, self.tables)
            self.kernel = sim_cpu.run_kernel(net.has_syn, net.has_adapt, net.C, hetero, net.A > 0, net.cond,
                                             net.specs, net.shapes)
        else:
            self.kernel = sim_cpu.run_kernel(net.has_syn, net.has_adapt, net.C, hetero, net.A > 0)
        self.consts = np.array([0, 1], dtype=net.dtype)
        self.spk_t = np.zeros(max(1 << 16, 4 * net.n_rec), np.int32)
        self.spk_i = np.zeros_like(self.spk_t)
        self.reset()

    def reset(self) -> None:
        """Reset the simulation state to the compiled initial values: ``v``, ``i``, ``a`` from the network,
        synaptic conductances, refractory counters, the delay ring buffer and the astrocyte state cleared
        (numpy arrays).
        """
        net = self.net
        self.i, self.v, self.a = net.i0.copy(), net.v0.copy(), net.a0.copy()
        # channels, the spec neurons' states, the alpha channels' auxiliary states
        self.g = np.zeros((net.g_rows, net.N), net.dtype)
        self.g[net.C:net.C + net.Y] = net.y0
        self.refc = np.zeros(net.N, np.int32)
        self.buf = np.zeros((net.D, net.C * net.N), net.dtype)
        self.spiked = np.zeros(-(-net.N // 8) * 8, np.uint8)  # read as uint64 words
        self.astate = net.astate0.copy()
        self.ip3_buf = np.zeros((net.D, net.A))
        self.awork = np.zeros((net.A, rkf45_math.ROWS, astrocyte_math.N_ODE))

    def state(self) -> dict:
        """The current state as numpy arrays (the live arrays, not copies): ``v``, ``i``, ``a`` ``[N]``, ``g``
        ``[channels, N]``, ``refractory`` ``[N]`` (steps left), plus the astrocyte recordables when the
        network has astrocytes and ``spec_states`` ``[Y, N]`` (row ``k``: state ``k`` of each spec
        neuron's model) when it has spec neurons.
        """
        return {"v": self.v, "i": self.i, "a": self.a, "g": self.g[:self.net.C], "refractory": self.refc,
                **spec_state(self.net, self.g), **astrocyte_state(self.net, self.astate)}

    def run(self, t0: int, t1: int) -> ChunkResult:
        """Simulate steps ``t0 <= t < t1`` with the Numba CPU kernel (continued with a larger spike record
        when it fills) and return the chunk's :class:`~neuro.sim.runners.ChunkResult`: recorded spikes
        (step and neuron index), per-population spike counts ``[t1 - t0, populations]`` and the monitored
        rows.
        """
        net = self.net
        counts = np.zeros((t1 - t0, len(net.pops)), np.int32)
        msteps = monitor_steps(t0, t1, net.mon_every) if net.mon_idx.size else np.zeros(0, np.int64)
        mon_out = np.zeros((len(msteps), net.mon_idx.size), net.dtype)
        first = int(msteps[0]) if len(msteps) else t0
        need = net.n_rec + int(np.diff(net.gen_ptr).max(initial=0)) + 1
        if self.spk_t.shape[0] < need:
            self.spk_t = np.zeros(2 * need, np.int32)
            self.spk_i = np.zeros_like(self.spk_t)
        state = (self.i, self.v, self.a, self.g, self.refc, self.buf)
        inputs = (net.inj, net.inj_idx, net.poisson_prob, net.gen_ptr, net.gen_idx)
        monitor = (net.mon_idx, net.mon_var, net.mon_every, mon_out, first)
        astro = (net.astro_dt, self.astate, net.aprm, self.ip3_buf, self.awork)
        ip3, sic = ((tb.row_ptr, tb.col, tb.weight, tb.delay) for tb in (net.ip3, net.sic))
        t, n_spk = t0, 0
        while t < t1:
            t, n_spk = self.kernel(
                t, t1, net.seed, self.consts, self.tables, net.pops, inputs,
                (net.row_ptr, net.col, net.weight, net.delay), net.mask, state, self.spiked,
                (net.rec_flag, self.spk_t, self.spk_i), n_spk, net.n_rec, counts[t - t0:], monitor, astro,
                ip3, sic)
            if t < t1:  # the spike record is full: grow it and continue from step t
                grown = np.zeros(2 * self.spk_t.shape[0], np.int32)
                grown_i = np.zeros_like(grown)
                grown[:n_spk], grown_i[:n_spk] = self.spk_t[:n_spk], self.spk_i[:n_spk]
                self.spk_t, self.spk_i = grown, grown_i
        return ChunkResult(self.spk_t[:n_spk].astype(np.int64), self.spk_i[:n_spk].astype(np.int64),
                           counts, msteps, mon_out)
