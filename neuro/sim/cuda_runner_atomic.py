"""The first numba.cuda simulation backend: ``CudaRunner(..., kernel="atomic")`` (neuro.sim.cuda_runner).

Runs :mod:`neuro.kernels.sim_cuda_atomic` (float atomics, spike raster): kept, unchanged and the
default, until the deterministic event kernel has been measured faster on a GPU. Under Numba's CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``) the kernel runs on numpy arrays on the CPU with a single block.
"""

from __future__ import annotations

import numpy as np
import torch

from neuro.backends import cuda_simulator_enabled, require_numba_cuda
from neuro.ops._launch import as_cuda_array, as_numpy, launch_cuda
from neuro.sim.build import Compiled
from neuro.sim.runners import ChunkResult, astrocyte_state, by_element, monitor_steps

THREADS = 256
SIM_THREADS = 32
MAX_RASTER_BYTES = 64 << 20  # per launch; longer chunks are split


def raster_to_spikes(raster: np.ndarray, t0: int, n_sources: int) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, indices)`` of the set bits of a ``[steps, words]`` uint32 raster, sorted like the CPU's."""
    bits = np.unpackbits(np.ascontiguousarray(raster).view(np.uint8), axis=1, bitorder="little")
    steps, idx = np.nonzero(bits[:, :n_sources])
    return steps.astype(np.int64) + t0, idx.astype(np.int64)


class AtomicCudaRunner:
    """Runs ``neuro.kernels.sim_cuda_atomic`` on ``device`` (or on the CUDA simulator with CPU arrays)."""

    def __init__(self, net: Compiled, device: torch.device):
        require_numba_cuda()
        from neuro.kernels import sim_cuda_atomic as sim_cuda

        self.net, self.sim = net, cuda_simulator_enabled()
        self.device = torch.device("cpu") if self.sim else device
        self.kernel = sim_cuda.run_kernel(net.has_syn, net.has_adapt, net.C, net.A > 0)
        pop_of = np.zeros(net.N, np.int32)
        for p, (lo, hi, _, _) in enumerate(net.pops):
            pop_of[lo:hi] = p
        neuron_col = np.nonzero(net.mon_var >= 0)[0]  # negative codes are astrocyte rows
        astro_col = np.nonzero(net.mon_var < 0)[0]
        mon_ptr, mon_col = by_element(net.mon_idx[neuron_col], neuron_col, net.N)
        amon_ptr, amon_col = by_element(net.mon_idx[astro_col], astro_col, net.A)
        self.words = (net.S + 31) // 32
        put = self._put
        self.consts = put(np.array([0, 1], net.dtype))
        self.params = tuple(map(put, (net.prm, net.ref_steps, net.bias, net.ch_alpha, net.ch_kappa)))
        self.pops, self.pop_of, self.rec_flag = put(net.pops), put(pop_of), put(net.rec_flag)
        self.syn = tuple(map(put, (net.row_ptr, net.col, net.weight, net.delay)))
        self.tables = {name: tuple(put(getattr(getattr(net, name), part))
                                   for part in ("row_ptr", "col", "weight", "delay"))
                       for name in ("ip3", "sic")}
        self.mon = (put(mon_ptr), put(net.mon_var[mon_col]), put(mon_col))
        self.amon = (put(amon_ptr), put(-1 - net.mon_var[amon_col]), put(amon_col))
        self.poisson_prob, self.aprm = put(net.poisson_prob), put(net.aprm)
        self._launch_cfg = None
        self.reset()

    def _put(self, a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(a)).to(self.device)

    def reset(self) -> None:
        """Reset the simulation state to the compiled initial values: ``v``, ``i``, ``a`` from the network,
        synaptic conductances, refractory counters, the delay ring buffer and the astrocyte state cleared
        (device tensors).
        """
        net = self.net
        self.i, self.v, self.a = self._put(net.i0), self._put(net.v0), self._put(net.a0)
        dt = self.v.dtype
        self.g = torch.zeros(net.C, net.N, dtype=dt, device=self.device)
        self.refc = torch.zeros(net.N, dtype=torch.int32, device=self.device)
        self.buf = torch.zeros(net.D, net.C * net.N, dtype=dt, device=self.device)
        self.astate = self._put(net.astate0)
        self.ip3_buf = torch.zeros(net.D, net.A, dtype=torch.float64, device=self.device)

    def state(self) -> dict:
        """The current state as numpy arrays (copied from the device): ``v``, ``i``, ``a`` ``[N]``, ``g``
        ``[channels, N]``, ``refractory`` ``[N]`` (steps left), plus the astrocyte recordables when the
        network has astrocytes.
        """
        return {**{k: t.cpu().numpy() for k, t in (("v", self.v), ("i", self.i), ("a", self.a), ("g", self.g),
                                                   ("refractory", self.refc))},
                **astrocyte_state(self.net, self.astate.cpu().numpy())}

    def _launch(self, args: tuple) -> None:
        """One cooperative launch on torch's current stream (on the simulator: one block)."""
        if self.sim:
            launch_cuda(self.kernel, 1, SIM_THREADS, args)
            return
        if self._launch_cfg is None:  # a cooperative grid may not exceed what fits on the GPU at once
            kernel = self.kernel.specialize(*as_cuda_array(args))
            (overload,) = kernel.overloads.values()
            need = (max(self.net.N, self.net.poisson_prob.shape[0], self.net.A) + THREADS - 1) // THREADS
            blocks = max(1, min(need, overload.max_cooperative_grid_blocks(THREADS)))
            self._launch_cfg = (kernel, blocks)
        kernel, blocks = self._launch_cfg
        launch_cuda(kernel, blocks, THREADS, args, device=self.device)

    def run(self, t0: int, t1: int) -> ChunkResult:
        """Simulate steps ``t0 <= t < t1`` with the atomic-add kernel, in spans whose spike raster fits
        ``MAX_RASTER_BYTES`` and return the chunk's :class:`~neuro.sim.runners.ChunkResult`: recorded
        spikes (step and neuron index), per-population spike counts ``[t1 - t0, populations]`` and the
        monitored rows.
        """
        net = self.net
        per_step = self.words * 4
        span = max(1, min(t1 - t0, MAX_RASTER_BYTES // per_step))
        steps_all, idx_all, counts_all, msteps_all, rows_all = [], [], [], [], []
        for lo in range(t0, t1, span):
            hi = min(t1, lo + span)
            raster = torch.zeros(hi - lo, self.words, dtype=torch.int32, device=self.device)
            counts = torch.zeros(hi - lo, len(net.pops), dtype=torch.int32, device=self.device)
            msteps = monitor_steps(lo, hi, net.mon_every) if net.mon_idx.size else np.zeros(0, np.int64)
            mon_out = torch.zeros(len(msteps), net.mon_idx.size, dtype=self.v.dtype, device=self.device)
            first = int(msteps[0]) if len(msteps) else lo
            inputs = tuple(map(self._put, (net.inj, net.inj_idx))) + (self.poisson_prob,) + tuple(
                map(self._put, (net.gen_ptr, net.gen_idx)))
            # the raster's words are int32 tensors that the kernel reads as uint32 (bit operations)
            raster_words = (as_numpy if self.sim else as_cuda_array)(raster).view(np.uint32)
            state = (self.i, self.v, self.a, self.g, self.refc, self.buf)
            monitor = (*self.mon, net.mon_every, mon_out, first)
            astro = (net.astro_dt, self.astate, self.aprm, self.ip3_buf)
            self._launch((lo, hi, net.seed, self.consts, self.params, self.pops, self.pop_of, inputs,
                          self.syn, net.mask, state, self.rec_flag, raster_words, counts, monitor, astro,
                          self.tables["ip3"], self.tables["sic"], self.amon))
            steps, idx = raster_to_spikes(raster.cpu().numpy().view(np.uint32), lo, net.S)
            steps_all.append(steps)
            idx_all.append(idx)
            counts_all.append(counts.cpu().numpy())
            msteps_all.append(msteps)
            rows_all.append(mon_out.cpu().numpy())
        return ChunkResult(np.concatenate(steps_all), np.concatenate(idx_all), np.concatenate(counts_all),
                           np.concatenate(msteps_all), np.concatenate(rows_all))
