"""The numba.cuda simulation backend: state as torch CUDA tensors, one cooperative launch per chunk.

Under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) the same kernel runs on numpy arrays on
the CPU with a single block (the simulator's limit for cooperative grids), which is how CI tests it.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from neuro.backends import cuda_simulator_enabled, require_numba_cuda
from neuro.sim.build import Compiled
from neuro.sim.runners import ChunkResult, astrocyte_state, monitor_steps

THREADS = 256
SIM_THREADS = 32
MAX_RASTER_BYTES = 64 << 20  # per launch; longer chunks are split


def raster_to_spikes(raster: np.ndarray, t0: int, n_sources: int) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, indices)`` of the set bits of a ``[steps, words]`` uint32 raster, sorted like the CPU's."""
    bits = np.unpackbits(np.ascontiguousarray(raster).view(np.uint8), axis=1, bitorder="little")
    steps, idx = np.nonzero(bits[:, :n_sources])
    return steps.astype(np.int64) + t0, idx.astype(np.int64)


def _by_element(element: np.ndarray, columns: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Monitor columns grouped by the element (neuron or astrocyte) they record: ``(ptr [n+1], columns)``."""
    order = np.argsort(element, kind="stable")
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(element, minlength=n), out=ptr[1:])
    return ptr, columns[order].astype(np.int64)


class _AsUint32:
    """Marks an int32 tensor that the kernel reads as uint32 (bit operations on raster words)."""

    def __init__(self, tensor: torch.Tensor):
        self.tensor = tensor


class CudaRunner:
    """Runs ``neuro.kernels.sim_cuda`` on ``device`` (or on the CUDA simulator with CPU arrays)."""

    def __init__(self, net: Compiled, device: torch.device):
        require_numba_cuda()
        from neuro.kernels import sim_cuda

        self.net, self.sim = net, cuda_simulator_enabled()
        self.device = torch.device("cpu") if self.sim else device
        self.kernel = sim_cuda.run_kernel(net.has_syn, net.has_adapt, net.C, net.A > 0)
        pop_of = np.zeros(net.N, np.int32)
        for p, (lo, hi, _, _) in enumerate(net.pops):
            pop_of[lo:hi] = p
        neuron_col = np.nonzero(net.mon_var >= 0)[0]  # negative codes are astrocyte rows
        astro_col = np.nonzero(net.mon_var < 0)[0]
        mon_ptr, mon_col = _by_element(net.mon_idx[neuron_col], neuron_col, net.N)
        amon_ptr, amon_col = _by_element(net.mon_idx[astro_col], astro_col, net.A)
        self.words = (net.S + 31) // 32
        self.static = {k: self._put(v) for k, v in dict(
            consts=np.array([0, 1], net.dtype), prm=net.prm, pops=net.pops, pop_of=pop_of,
            ref_steps=net.ref_steps, bias=net.bias, ch_alpha=net.ch_alpha, ch_kappa=net.ch_kappa,
            poisson_prob=net.poisson_prob, row_ptr=net.row_ptr, col=net.col, weight=net.weight,
            delay=net.delay, rec_flag=net.rec_flag, mon_ptr=mon_ptr, mon_var=net.mon_var[mon_col],
            mon_col=mon_col, aprm=net.aprm, amon_ptr=amon_ptr, amon_row=-1 - net.mon_var[amon_col],
            amon_col=amon_col, **{f"{name}_{part}": getattr(getattr(net, name), part)
                                  for name in ("ip3", "sic")
                                  for part in ("row_ptr", "col", "weight", "delay")}
        ).items()}
        self._launch_cfg = None
        self.reset()

    def _put(self, a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(a)).to(self.device)

    def _arg(self, t):
        if isinstance(t, _AsUint32):  # the raster: an int32 tensor the kernel sees as uint32 words
            return self._arg(t.tensor).view(np.uint32)
        if not isinstance(t, torch.Tensor):
            return t
        if self.sim:
            return t.numpy()
        from numba import cuda

        return cuda.as_cuda_array(t, sync=False)

    def reset(self) -> None:
        net = self.net
        self.i, self.v, self.a = self._put(net.i0), self._put(net.v0), self._put(net.a0)
        dt = self.v.dtype
        self.g = torch.zeros(net.C, net.N, dtype=dt, device=self.device)
        self.refc = torch.zeros(net.N, dtype=torch.int32, device=self.device)
        self.buf = torch.zeros(net.D, net.C * net.N, dtype=dt, device=self.device)
        self.astate = self._put(net.astate0)
        self.ip3_buf = torch.zeros(net.D, net.A, dtype=torch.float64, device=self.device)

    def state(self) -> dict:
        return {**{k: t.cpu().numpy() for k, t in (("v", self.v), ("i", self.i), ("a", self.a), ("g", self.g),
                                                   ("refractory", self.refc))},
                **astrocyte_state(self.net, self.astate.cpu().numpy())}

    def _launch(self, args: tuple) -> None:
        if self.sim:
            with warnings.catch_warnings():  # the simulator hashes with numpy uint64 scalars, which wrap
                warnings.filterwarnings("ignore", "overflow encountered", RuntimeWarning)
                self.kernel[1, SIM_THREADS](*[self._arg(a) for a in args])
            return
        from numba import cuda

        dev_args = [self._arg(a) for a in args]
        if self._launch_cfg is None:
            kernel = self.kernel.specialize(*dev_args)
            (overload,) = kernel.overloads.values()
            need = (max(self.net.N, self.net.poisson_prob.shape[0], self.net.A) + THREADS - 1) // THREADS
            blocks = max(1, min(need, overload.max_cooperative_grid_blocks(THREADS)))
            self._launch_cfg = (kernel, blocks)
        kernel, blocks = self._launch_cfg
        stream = cuda.external_stream(torch.cuda.current_stream(self.device).cuda_stream)
        kernel[blocks, THREADS, stream](*dev_args)

    def run(self, t0: int, t1: int) -> ChunkResult:
        net, st = self.net, self.static
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
            inj, inj_idx = self._put(net.inj), self._put(net.inj_idx)
            gen_ptr, gen_idx = self._put(net.gen_ptr), self._put(net.gen_idx)
            self._launch((lo, hi, net.seed, st["consts"], st["prm"], st["pops"], st["pop_of"],
                          st["ref_steps"], st["bias"], st["ch_alpha"], st["ch_kappa"], inj, inj_idx,
                          st["poisson_prob"], gen_ptr, gen_idx, st["row_ptr"], st["col"], st["weight"],
                          st["delay"], net.mask, self.i, self.v, self.a, self.g, self.refc, self.buf,
                          st["rec_flag"], _AsUint32(raster), counts,
                          st["mon_ptr"], st["mon_var"], st["mon_col"], net.mon_every, mon_out, first,
                          net.astro_dt, self.astate, st["aprm"], self.ip3_buf,
                          *(st[f"{name}_{part}"] for name in ("ip3", "sic")
                            for part in ("row_ptr", "col", "weight", "delay")),
                          st["amon_ptr"], st["amon_row"], st["amon_col"]))
            steps, idx = raster_to_spikes(raster.cpu().numpy().view(np.uint32), lo, net.S)
            steps_all.append(steps)
            idx_all.append(idx)
            counts_all.append(counts.cpu().numpy())
            msteps_all.append(msteps)
            rows_all.append(mon_out.cpu().numpy())
        return ChunkResult(np.concatenate(steps_all), np.concatenate(idx_all), np.concatenate(counts_all),
                           np.concatenate(msteps_all), np.concatenate(rows_all))
