"""The numba.cuda simulation backend: state as torch CUDA tensors, one persistent launch per chunk.

:class:`CudaRunner` runs one of two kernels:

* ``"atomic"`` (the default, :data:`DEFAULT_KERNEL`) — :mod:`neuro.kernels.sim_cuda_atomic`, the first
  GPU kernel (float atomics, a spike raster decoded on the host;
  :class:`neuro.sim.cuda_runner_atomic.AtomicCudaRunner`). Not deterministic on a GPU: the order of
  its float sums varies from run to run.
* ``"events"`` — :mod:`neuro.kernels.sim_cuda`: event lists and owner-computes delivery, deterministic
  and bit-identical to the CPU kernel (float32 and float64), one grid barrier per step. It stays
  opt-in until it has been measured faster than the atomic kernel on a GPU (issue 20: no GPU was
  available when it was written; ``benchmarks/gpu_check.sh`` stage b4 times both); then
  :data:`DEFAULT_KERNEL` becomes ``"events"``.

A network with plastic synapses (``neuro.sim.plasticity``), spec neurons or conductance channels runs on
the event kernel, chosen by default for it (the atomic kernel implements none of them). Otherwise the
kernel is chosen by ``kernel=`` or the environment variable ``NEURO_SIM_CUDA_KERNEL``; the event
kernel's launch by ``launch=`` or ``NEURO_SIM_CUDA_LAUNCH``: ``"grid"`` (a cooperative grid sized by
occupancy, :data:`THREADS` per block) or ``"block"`` (one block of :data:`BLOCK_THREADS`, barriers
are ``syncthreads``: no grid-wide barrier, one multiprocessor). Under Numba's CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``) either runs on numpy views of CPU tensors with one block of
:data:`SIM_THREADS` threads (the simulator's limit for cooperative grids), which is how CI tests it.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from neuro.backends import cuda_simulator_enabled, require_numba_cuda
from neuro.ops._launch import as_cuda_array, launch_cuda
from neuro.sim.build import Compiled
from neuro.sim.runners import (
    ChunkResult,
    astrocyte_state,
    by_element,
    clear_plastic_state,
    mixed_rules,
    model_key,
    monitor_steps,
    plastic_tables,
    require_compiled_rules,
    reward_rates,
    spec_state,
)

KERNELS = ("atomic", "events")
DEFAULT_KERNEL = "atomic"  # until the event kernel is measured faster on a GPU (module docstring)
LAUNCHES = ("grid", "block")
ENV_KERNEL = "NEURO_SIM_CUDA_KERNEL"
ENV_LAUNCH = "NEURO_SIM_CUDA_LAUNCH"
THREADS = 256  # per block of the cooperative grid
BLOCK_THREADS = 512  # the single-block launch
SIM_THREADS = 32  # the CUDA simulator runs a thread per Python thread
EVENT_CAP = 8  # event slots per target row and step; more spikes onto one row: its incoming table
QUEUE_BYTES = 40 << 10  # dynamic shared memory of a block's spike queue (below the 48 KiB default)
RECORD_ALL_MAX = 8 << 20  # spike records allocated for every step and source up to this many
STAMP_NEVER = -(1 << 62)


def _choice(value: str | None, env: str, allowed: tuple, name: str, default: str) -> str:
    value = value if value is not None else os.environ.get(env, default)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed} (argument or ${env}), got {value!r}")
    return value


def kernel_choice(kernel: str | None = None, plastic: bool = False, general: bool = False) -> str:
    """The kernel a :class:`CudaRunner` runs: ``kernel``, else ``$NEURO_SIM_CUDA_KERNEL``, else
    :data:`DEFAULT_KERNEL` -- or ``"events"`` for a network with plastic synapses, spec neurons or
    conductance channels (``general``): only the event kernel implements them."""
    default = "events" if plastic or general else DEFAULT_KERNEL
    return _choice(kernel, ENV_KERNEL, KERNELS, "kernel", default)


class CudaRunner:
    """Runs a simulation kernel on ``device`` (or on the CUDA simulator with CPU arrays).

    Args:
        net: the compiled network.
        device: a CUDA device (ignored under the simulator).
        kernel: ``"atomic"`` or ``"events"`` (default: ``$NEURO_SIM_CUDA_KERNEL``, else
            :data:`DEFAULT_KERNEL`); ``"events"`` is the deterministic one.
        launch: ``"grid"`` or ``"block"`` for the event kernel (default: ``$NEURO_SIM_CUDA_LAUNCH``,
            else grid).
        event_cap: event slots per target row and step (the event kernel; >= 1).
        rules: ``{projection index: rule}`` of the plastic projections (the event kernel only,
            chosen by default when there are any; the weights then follow ``sync_weights()`` /
            ``refresh_weights()``).
    """

    def __init__(self, net: Compiled, device: torch.device, kernel: str | None = None,
                 launch: str | None = None, event_cap: int = EVENT_CAP, rules: dict | None = None):
        require_numba_cuda()
        rules = dict(rules or {})
        self.kernel_name = kernel_choice(kernel, bool(rules), net.general)
        if self.kernel_name == "atomic":
            net.require_lif_only("the atomic CUDA kernel")
            from neuro.sim.cuda_runner_atomic import AtomicCudaRunner

            if rules:
                raise NotImplementedError("the atomic CUDA simulation kernel does not implement plasticity: "
                                          "use kernel='events' (NEURO_SIM_CUDA_KERNEL=events)")
            self._impl = AtomicCudaRunner(net, device)
        else:
            launch = _choice(launch, ENV_LAUNCH, LAUNCHES, "launch", LAUNCHES[0])
            self._impl = EventCudaRunner(net, device, launch, event_cap, rules)
            self.sync_weights = self._impl.sync_weights  # the network looks these up on the runner
            self.refresh_weights = self._impl.refresh_weights

    def reset(self) -> None:
        """Reset the selected kernel's runner to the initial state (see :meth:`EventCudaRunner.reset`)."""
        self._impl.reset()

    def state(self) -> dict:
        """The selected kernel's current state, copied to numpy (see :meth:`EventCudaRunner.state`)."""
        return self._impl.state()

    def run(self, t0: int, t1: int) -> ChunkResult:
        """Run steps ``t0 <= t < t1`` on the selected kernel and return its
        :class:`~neuro.sim.runners.ChunkResult`.
        """
        return self._impl.run(t0, t1)


def _incoming(rows: torch.Tensor, n_rows: int, values: tuple) -> tuple:
    """``(ptr [n_rows+1] int64, *values regrouped by row)``: a stable sort by ``rows``, so the synapses
    of a row stay in increasing synapse index."""
    order = torch.sort(rows.long(), stable=True).indices
    ptr = torch.zeros(n_rows + 1, dtype=torch.int64, device=rows.device)
    if rows.numel():
        torch.cumsum(torch.bincount(rows.long(), minlength=n_rows), 0, out=ptr[1:])
    return (ptr, *(v[order].contiguous() for v in values))


class EventCudaRunner:
    """Runs ``neuro.kernels.sim_cuda`` (the deterministic event kernel), with the plasticity rules on the
    projections of ``rules`` (``{projection index: rule}``): their synapses leave the static tables
    and get the plastic ones of :func:`neuro.sim.runners.plastic_tables`, on the device."""

    def __init__(self, net: Compiled, device: torch.device, launch: str = "grid", event_cap: int = EVENT_CAP,
                 rules: dict | None = None):
        if isinstance(event_cap, bool) or not isinstance(event_cap, int) or event_cap < 1:
            raise ValueError(f"event_cap must be a positive integer, got {event_cap!r}")
        for name in ("spike", "ip3", "sic"):
            if net.table(name).col.size >= 2 ** 31:
                raise ValueError(f"{net.table(name).col.size} {name} synapses exceed the event kernel's "
                                 "int32 synapse index")
        self.net, self.sim, self.cap = net, cuda_simulator_enabled(), event_cap
        self.device = torch.device("cpu") if self.sim else torch.device(device)
        self.block = launch == "block"
        self.threads = SIM_THREADS if self.sim else (BLOCK_THREADS if self.block else THREADS)
        self.hetero, *tables = net.cpu_tables()
        self.rules = dict(rules or {})
        require_compiled_rules(self.rules, "the CUDA simulation kernel")
        self.pl = plastic_tables(net, self.rules)
        self.plastic = self.pl.pl_k.size > 0
        self.static_k = np.flatnonzero(self.pl.is_plastic == 0)
        static = _subset(net.spikes, self.static_k) if self.plastic else net.spikes
        self.mixed_rules = mixed_rules(self.pl)  # some rule is not plain pair STDP
        # conductance channels and spec neurons: sim_cpu.general_update's params, the same kernel code
        self.model_key = model_key(net)
        self.kernel = self._kernel(self.block, self.threads)
        put = self._put
        self.consts = put(np.array([0, 1], net.dtype))
        self.params = tuple(map(put, tables))
        if net.general:
            extra = net.general_params(self.hetero, tuple(tables))[len(tables):]
            erev, cond, pop_model, nested, *shaped = extra
            self.params = (*self.params, put(erev), put(cond), put(pop_model), self._put_nested(nested),
                           *map(put, shaped))
        self.pops = put(net.pops)
        self.pop_cur = put(net.current_rows())
        self.syn = tuple(map(put, (static.row_ptr, static.col, static.weight, static.delay)))
        self.fallback = self._fallback(static, net.C * net.N)
        self._plastic_tables(net)
        ip3 = net.ip3
        self.ip3_tables = (*map(put, (ip3.row_ptr, ip3.col, ip3.weight, ip3.delay)),
                           *self._fallback(ip3, net.A))
        sic = net.sic
        sic_q = np.repeat(np.arange(net.A, dtype=np.int32), np.diff(sic.row_ptr))
        self.sic_in = _incoming(put(sic.col.astype(np.int64) % max(net.N, 1)), net.N,
                                (put(sic_q), put(sic.weight), put(sic.delay)))
        self._monitors(net)
        self.rec_flag, self.poisson_prob, self.aprm = put(net.rec_flag), put(net.poisson_prob), put(net.aprm)
        self.rec_cap = max(1 << 16, 4 * net.n_rec)
        self.record_all_max = RECORD_ALL_MAX
        self._inputs_key = None
        self._launch_cfg = None
        self.reset()

    def _kernel(self, block_sync: bool, threads: int):
        """``sim_cuda.run_kernel`` for this network, every argument positional in signature order (the
        same cache entry from every call site: ``functools.cache`` keys on how arguments are passed)."""
        from neuro.kernels import sim_cuda

        net = self.net
        return sim_cuda.run_kernel(net.has_syn, net.has_adapt, net.C, self.hetero, net.A > 0, block_sync,
                                   threads, self.plastic, self.mixed_rules, *self.model_key)

    def _put(self, a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(a)).to(self.device)

    def _plastic_tables(self, net: Compiled) -> None:
        """The kernel's ``stdp`` tables: the plastic synapses by target column, sorted by delay
        (descending), source and synapse index (the CPU kernel's delivery order), their sources and
        delays, the incoming ranges by neuron, rules, weights, traces and the spike history ring."""
        pl, put = self.pl, self._put
        table = net.spikes
        src = np.searchsorted(table.row_ptr, pl.pl_k, side="right") - 1  # the CSR row (source) of each
        d, col = table.delay[pl.pl_k].astype(np.int64), pl.pl_col.astype(np.int64)
        order = np.lexsort((pl.pl_k, src, -d, col)).astype(np.int64)
        n_rows = net.C * net.N
        ptr = np.zeros(n_rows + 1, np.int64)
        np.cumsum(np.bincount(col, minlength=n_rows), out=ptr[1:])
        one = max(pl.pl_k.size, 1) - pl.pl_k.size  # (a static network: one unused entry, no empty arrays)
        pad = lambda a: np.concatenate([a, np.zeros(one, a.dtype)])  # noqa: E731
        self.stdp_fixed = (put(ptr), put(pad(order)), put(pad(src.astype(np.int32))),
                           put(pad(d.astype(np.int32))), put(pl.in_ptr), put(pad(pl.rid)), put(pl.rtab))
        self.pl_w = put(pad(pl.w))

    def sync_weights(self) -> None:
        """Device -> compiled table: the plastic weights as they are now (static ones never change)."""
        if self.plastic:
            self.net.weight[self.pl.pl_k] = self.pl_w.cpu().numpy()[:self.pl.pl_k.size]

    def refresh_weights(self) -> None:
        """Compiled table -> device, after weights were set between runs (static and plastic)."""
        net = self.net
        self.syn[2].copy_(self._put(net.weight[self.static_k] if self.plastic else net.weight))
        if self.plastic:
            self.pl_w[:self.pl.pl_k.size].copy_(self._put(net.weight[self.pl.pl_k]))

    def _put_nested(self, nested: tuple) -> tuple:
        """The nested spec arguments ``((prm, kc), (...))`` on the device."""
        return () if not nested else ((self._put(nested[0][0]), self._put(nested[0][1])),
                                      self._put_nested(nested[1]))

    def _fallback(self, table, n_rows: int) -> tuple:
        """The incoming table of ``table`` when some row has more synapses than event slots (else
        empty rows): ``(in_ptr, in_k, in_src)``."""
        col = self._put(table.col)
        indeg = torch.bincount(col.long(), minlength=n_rows) if col.numel() else col.new_zeros(n_rows)
        if n_rows == 0 or int(indeg.max()) <= self.cap:
            return (torch.zeros(n_rows + 1, dtype=torch.int64, device=self.device),
                    torch.zeros(1, dtype=torch.int32, device=self.device),
                    torch.zeros(1, dtype=torch.int32, device=self.device))
        k = torch.arange(col.numel(), dtype=torch.int32, device=self.device)
        deg = torch.diff(self._put(table.row_ptr))
        src = torch.repeat_interleave(torch.arange(deg.numel(), dtype=torch.int32, device=self.device), deg)
        return _incoming(col, n_rows, (k, src))

    def _monitors(self, net: Compiled) -> None:
        neuron_col = np.nonzero(net.mon_var >= 0)[0]  # negative codes are astrocyte rows
        astro_col = np.nonzero(net.mon_var < 0)[0]
        mon_ptr, mon_col = by_element(net.mon_idx[neuron_col], neuron_col, net.N)
        amon_ptr, amon_col = by_element(net.mon_idx[astro_col], astro_col, net.A)
        bits = np.zeros((net.N + 31) // 32 * 32, np.uint8)
        bits[net.mon_idx[neuron_col]] = 1
        words = np.packbits(bits, bitorder="little").view(np.uint32) if bits.size else np.zeros(1, np.uint32)
        put = self._put
        self.mon = (put(words.view(np.int32)), put(mon_ptr), put(net.mon_var[mon_col]), put(mon_col))
        self.amon = (put(amon_ptr), put(-1 - net.mon_var[amon_col]), put(amon_col))

    def reset(self) -> None:
        """Reset the simulation state to the compiled initial values: ``v``, ``i``, ``a`` from the network,
        synaptic conductances, refractory counters, the delay ring buffer and the astrocyte state cleared,
        the event queues and spike stamps emptied, the plasticity traces and spike history (``pl_stamp``)
        cleared; the plastic weights are kept, as in ``NumbaRunner.reset`` (device tensors).
        """
        net, put, dev = self.net, self._put, self.device
        self.i, self.v, self.a = put(net.i0), put(net.v0), put(net.a0)
        dt = self.v.dtype
        # channels, spec states, the alpha channels' auxiliary states
        self.g = torch.zeros(net.g_rows, net.N, dtype=dt, device=dev)
        self.g[net.C:net.C + net.Y] = put(net.y0).to(dt)
        self.refc = torch.zeros(net.N, dtype=torch.int32, device=dev)
        self.buf = torch.zeros(net.D, net.C * net.N, dtype=dt, device=dev)
        self.astate = put(net.astate0)
        self.ip3_buf = torch.zeros(net.D, net.A, dtype=torch.float64, device=dev)
        self.stamps = torch.full((2, net.S), STAMP_NEVER, dtype=torch.int64, device=dev)
        self.events = (torch.zeros(2, net.C * net.N, dtype=torch.int32, device=dev),
                       torch.full((2, net.C * net.N, self.cap), -1, dtype=torch.int32, device=dev))
        self.ip3_events = (torch.zeros(2, net.A, dtype=torch.int32, device=dev),
                           torch.full((2, net.A, self.cap), -1, dtype=torch.int32, device=dev))
        n_pl = max(self.pl.pl_k.size, 1)  # plasticity: traces and spike history cleared, weights kept
        tr = np.zeros((n_pl, self.pl.tr.shape[1]), self.pl.tr.dtype)
        clear_plastic_state(tr[:self.pl.pl_k.size], self.pl.rid, self.pl.rtab)
        self.pl_tr = put(tr)
        self.pl_tl = torch.zeros(n_pl, dtype=torch.int64, device=dev)
        self.pl_stamp = torch.full((net.D if self.plastic else 1, net.S if self.plastic else 1), STAMP_NEVER,
                                   dtype=torch.int64, device=dev)

    def state(self) -> dict:
        """The current state as numpy arrays (copied from the device): ``v``, ``i``, ``a`` ``[N]``, ``g``
        ``[channels, N]``, ``refractory`` ``[N]`` (steps left), plus the astrocyte recordables when the
        network has astrocytes.
        """
        net = self.net
        return {**{k: t.cpu().numpy() for k, t in (("v", self.v), ("i", self.i), ("a", self.a),
                                                   ("g", self.g[:net.C]), ("refractory", self.refc))},
                **spec_state(net, self.g.cpu().numpy()), **astrocyte_state(net, self.astate.cpu().numpy())}

    def _inputs(self) -> tuple:
        """Injected currents, Poisson probabilities and generator spikes (rebuilt when they change)."""
        net = self.net
        key = (id(net.inj), id(net.inj_idx), id(net.gen_ptr), id(net.gen_idx))
        if key != self._inputs_key:
            inj_k = np.full(max(net.N, 1), -1, np.int64)
            inj_k[net.inj_idx % max(net.N, 1)] = np.arange(net.inj_idx.size)
            self._inputs_val = (self._put(net.inj), self._put(inj_k), self.poisson_prob,
                                self._put(net.gen_ptr), self._put(net.gen_idx))
            self._inputs_key = key
        return self._inputs_val

    def _launch(self, args: tuple) -> None:
        """One launch on torch's current stream (on the simulator: one block); ``args`` without the
        queue capacity, which is added here."""
        if self._launch_cfg is None:
            self._launch_cfg = self._configure(args)
        kernel, blocks, qcap = self._launch_cfg
        launch_cuda(kernel, blocks, self.threads, (*args, qcap), shared_bytes=(3 * qcap + 1) * 8,
                    device=None if self.sim else self.device)

    def _configure(self, args: tuple) -> tuple:
        """``(kernel, blocks, queue capacity)``: a cooperative grid as large as fits on the GPU at
        once; a single block as large as the kernel's registers allow."""
        net = self.net
        kernel, blocks = self.kernel, 1
        most_shared = (3 * (QUEUE_BYTES // 24) + 1) * 8
        if self.block and not self.sim:
            for threads in (BLOCK_THREADS, 256, 128, 64):
                self.threads = threads
                kernel = self._kernel(True, threads).specialize(*as_cuda_array(args), 0)
                (overload,) = kernel.overloads.values()
                if overload.max_threads_per_block >= threads:
                    break
        elif not self.sim:
            kernel = self.kernel.specialize(*as_cuda_array(args), 0)
            (overload,) = kernel.overloads.values()
            need = (max(net.S, net.A, 1) + THREADS - 1) // THREADS
            blocks = max(1, min(need, overload.max_cooperative_grid_blocks(THREADS, most_shared)))
        per_block = -(-max(net.S, 1) // self.threads)  # chunks of sources in the grid
        chunks = -(-per_block // blocks)  # per block and step
        per_flush = max(1, min(chunks, QUEUE_BYTES // (24 * self.threads)))
        return kernel, blocks, per_flush * self.threads

    def run(self, t0: int, t1: int) -> ChunkResult:
        """Simulate steps ``t0 <= t < t1`` with the deterministic event kernel (relaunched with a larger spike
        record when it fills) and return the chunk's :class:`~neuro.sim.runners.ChunkResult`: recorded
        spikes (step and neuron index), per-population spike counts ``[t1 - t0, populations]`` and the
        monitored rows.
        """
        net, dev = self.net, self.device
        counts = torch.zeros(t1 - t0, len(net.pops), dtype=torch.int32, device=dev)
        msteps = monitor_steps(t0, t1, net.mon_every) if net.mon_idx.size else np.zeros(0, np.int64)
        mon_out = torch.zeros(len(msteps), net.mon_idx.size, dtype=self.v.dtype, device=dev)
        first = int(msteps[0]) if len(msteps) else t0
        monitor = (*self.mon, net.mon_every, mon_out, first)
        state = (self.i, self.v, self.a, self.g, self.refc, self.buf)
        astro = (net.astro_dt, self.astate, self.aprm, self.ip3_buf)
        ip3 = (*self.ip3_tables, *self.ip3_events)
        inputs = self._inputs()
        ctr = torch.zeros(3, dtype=torch.int64, device=dev)
        status = torch.zeros(2, dtype=torch.int64, device=dev)
        rk = reward_rates(self.rules, net.dt, net.dtype, t0, t1)  # the modulators, read at each run
        keys = []
        t = t0
        while t < t1:
            # room for every possible spike when affordable: the kernel then skips its per-step test
            self.rec_cap = max(self.rec_cap, min(net.n_rec * (t1 - t), self.record_all_max))
            rec_t = torch.empty(self.rec_cap, dtype=torch.int32, device=dev)
            rec_i = torch.empty_like(rec_t)
            ctr.zero_()
            rec = (self.rec_flag, rec_t, rec_i, ctr, status, net.n_rec)
            stdp = (*self.stdp_fixed, self.pl_w, self.pl_tr, self._put(rk[:, t - t0:] if rk.shape[0] else rk),
                    self.pl_tl, self.pl_stamp)
            self._launch((t, t1, net.seed, self.consts, self.params, self.pops, self.pop_cur, inputs,
                          self.syn, self.fallback, self.events, self.stamps, net.mask, state, rec,
                          counts[t - t0:], monitor, astro, ip3, self.sic_in, self.amon, stdp))
            reached, written = (int(v) for v in status.cpu())
            keys.append(rec_t[:written].long() * net.S + rec_i[:written].long())
            if reached < t1:  # the record would have overflowed: a larger one, from step `reached`
                self.rec_cap *= 2
            t = reached
        key = torch.sort(torch.cat(keys)).values.cpu().numpy() if keys else np.zeros(0, np.int64)
        return ChunkResult(key // max(net.S, 1), key % max(net.S, 1), counts.cpu().numpy(), msteps,
                           mon_out.cpu().numpy())


def _subset(table, keep: np.ndarray):
    """The synapses of ``table`` at positions ``keep`` (increasing), CSR rebuilt."""
    from neuro.sim.build import SynapseTable

    n_rows = len(table.row_ptr) - 1
    rows = np.repeat(np.arange(n_rows), np.diff(table.row_ptr))[keep]
    row_ptr = np.zeros(n_rows + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=row_ptr[1:])
    return SynapseTable(row_ptr, table.col[keep], table.weight[keep], table.delay[keep], table.proj_id[keep],
                        table.base_weight[keep])
