"""Dense pure-torch reference of the simulation step (the oracle of the event-driven kernels).

Same state and the same floating-point operations per neuron as ``neuro.kernels.sim_cpu`` — the
neuron step is the engine's torch reference :func:`neuro.ops.lif.lif_step_reference` — but the
propagation is dense: the spike vector of all sources times one dense ``[S, C*N]`` weight matrix per
distinct delay. Summation order differs from the kernels', so spike trains are identical whenever
the sums of weights are exact in floating point (e.g. weights that are multiples of a power of two),
which is how the tests compare them. Small networks only (the matrices are dense).

Astrocytes: the IP3 weights and the SICs travel through dense ``[S, A]`` / ``[A, C*N]`` matrices
per delay as well; the astrocyte ODE step itself is the compiled
``astrocyte_cpu.astrocyte_advance`` (the same as the kernels', checked against NEST on its own), so
this reference checks how the kernels deliver, order and record astrocyte inputs and outputs.

Spec neurons (:class:`~neuro.sim.groups.SpecPopulation`) step through the trainable modules'
torch path, :func:`neuro.ops.spec.spec_step_reference` (the model's generated code on tensors);
refractory neurons take the spec's own ``step`` function evaluated on tensors, with the voltage
state kept — independent of the simulator's generated step (``neuro.kernels.sim_spec``).
Conductance channels use ``sim_math.channel_drive`` on tensors, as the kernel does.
"""

from __future__ import annotations

import numpy as np
import torch

from neuro.kernels import astrocyte_math, lif_math, rkf45_math, sim_math
from neuro.kernels.neuron_spec import Record, _returned_values
from neuro.ops.lif import LIFConfig, lif_step_reference
from neuro.ops.spec import SpecConfig, spec_step_reference, torch_step
from neuro.sim.build import Compiled, SynapseTable
from neuro.sim.runners import ChunkResult, astrocyte_state, monitor_steps, spec_state

MAX_DENSE = 50_000_000  # entries of the dense weight matrices

_RESET_NAMES = {lif_math.RESET_SUBTRACT: "subtract", lif_math.RESET_ZERO: "zero",
                lif_math.RESET_NONE: "none"}


def poisson_spikes(seed: int, step: int, first_index: int, prob: np.ndarray) -> np.ndarray:
    """The Poisson draws of the kernels (``sim_math.uniform``), vectorised in numpy."""
    idx = np.arange(first_index, first_index + len(prob), dtype=np.uint64)
    with np.errstate(over="ignore"):
        u = sim_math.uniform(np.full(len(prob), seed, np.uint64), np.full(len(prob), step, np.uint64), idx)
    return (prob > 0.0) & (u < prob)


class TorchRunner:
    """Step-by-step dense simulation in torch on any device."""

    def __init__(self, net: Compiled, device: torch.device):
        if net.S * net.C * net.N * len(np.unique(net.delay)) > MAX_DENSE:
            raise ValueError(f"the dense torch reference is for small networks; this one needs "
                             f"{net.S} x {net.C * net.N} weight matrices (use backend='numba')")
        self.net, self.device = net, device
        dt = getattr(torch, str(net.dtype))
        self.tdtype = dt
        tensor = lambda a, dtype=dt: torch.as_tensor(np.asarray(a), dtype=dtype, device=device)  # noqa: E731
        self.prm = tensor(net.prm)
        self.bias, self.ch_alpha, self.ch_kappa = tensor(net.bias), tensor(net.ch_alpha), tensor(net.ch_kappa)
        self.ref_steps = tensor(net.ref_steps, torch.int64)
        self.weights = {d: w.to(dtype=dt) for d, w in self._dense(net.spikes, net.C * net.N).items()}
        self.ip3_weights = self._dense(net.ip3, net.A)
        self.sic_weights = self._dense(net.sic, net.C * net.N)
        self.cfgs = [LIFConfig(reset=_RESET_NAMES[int(r)], ge=bool(ge), has_syn=net.has_syn,
                               has_adapt=net.has_adapt) for _, _, r, ge in net.pops]
        self.ch_erev, self.ch_cond = tensor(net.ch_erev), tensor(net.ch_cond)
        self.ch_shape = tuple(tensor(a) for a in (net.ch_unit, net.ch_jump, net.ch_rise))
        self.spec_prm = [tensor(a) for a in net.spec_prm]
        self.spec_kc = [list(tensor(a).unbind(0)) for a in net.spec_kc]
        self.spec_cfg = {ge: SpecConfig(ge=ge) for ge in (False, True)}
        self.spec_steps = {(m, ge): torch_step(model, cfg) for m, (model, _) in enumerate(net.specs)
                           for ge, cfg in self.spec_cfg.items()}
        self.reset()

    def _dense(self, table: SynapseTable, n_cols: int) -> dict:
        """``{delay: [rows, n_cols] float64 weight matrix}`` of a synapse table."""
        rows = np.repeat(np.arange(len(table.row_ptr) - 1), np.diff(table.row_ptr))
        out = {}
        for d in np.unique(table.delay):
            sel = table.delay == d
            w = torch.zeros(len(table.row_ptr) - 1, n_cols, dtype=torch.float64)
            w.index_put_((torch.as_tensor(rows[sel]), torch.as_tensor(table.col[sel].astype(np.int64))),
                         torch.as_tensor(table.weight[sel].astype(np.float64)), accumulate=True)
            out[int(d)] = w.to(self.device)
        return out

    def reset(self) -> None:
        """Reset the simulation state to the compiled initial values: ``v``, ``i``, ``a`` from the network,
        synaptic conductances, refractory counters, the delay ring buffer and the astrocyte state cleared
        (torch tensors; the astrocyte table stays numpy).
        """
        net, dev, dt = self.net, self.device, self.tdtype
        self.i = torch.as_tensor(net.i0, device=dev).clone()
        self.v = torch.as_tensor(net.v0, device=dev).clone()
        self.a = torch.as_tensor(net.a0, device=dev).clone()
        # channels, spec states, the alpha channels' auxiliary states
        self.g = torch.zeros(net.g_rows, net.N, dtype=dt, device=dev)
        self.g[net.C:net.C + net.Y] = torch.as_tensor(net.y0, dtype=dt, device=dev)
        self.refc = torch.zeros(net.N, dtype=torch.int64, device=dev)
        self.buf = torch.zeros(net.D, net.C, net.N, dtype=dt, device=dev)
        self.astate = net.astate0.copy()  # numpy: stepped by the compiled astrocyte step
        self.ip3_buf = torch.zeros(net.D, net.A, dtype=torch.float64, device=dev)
        self.awork = np.zeros((rkf45_math.ROWS, astrocyte_math.N_ODE))

    def state(self) -> dict:
        """The current state as numpy arrays: ``v``, ``i``, ``a`` ``[N]``, ``g`` ``[channels, N]``,
        ``refractory`` ``[N]`` (steps left), plus the astrocyte recordables when the network has
        astrocytes.
        """
        net = self.net
        return {**{k: t.cpu().numpy() for k, t in (("v", self.v), ("i", self.i), ("a", self.a),
                                                   ("g", self.g[:net.C]), ("refractory", self.refc))},
                **spec_state(net, self.g.cpu().numpy()), **astrocyte_state(net, self.astate)}

    def _astrocytes(self, t: int, s_all: torch.Tensor) -> None:
        """IP3 delivery of step ``t``'s spikes, the astrocytes' step ``t``, and their SIC delivery."""
        from neuro.kernels.astrocyte_cpu import astrocyte_advance

        net = self.net
        for d, w in self.ip3_weights.items():
            self.ip3_buf[(t + 1 + d) & net.mask] += s_all.to(torch.float64) @ w
        slot = (t + 1) & net.mask
        arrived = self.ip3_buf[slot].cpu().numpy().copy()  # (a view on the CPU)
        self.ip3_buf[slot] = 0.0
        for q in range(net.A):
            astrocyte_advance(q, self.astate, net.aprm, net.astro_dt, arrived[q], 0.0, self.awork)
        sic = torch.as_tensor(self.astate[astrocyte_math.S_SIC], device=self.device)
        for d, w in self.sic_weights.items():
            self.buf[(t + 1 + d) & net.mask] += (sic @ w).to(self.tdtype).view(net.C, net.N)

    def _voltages(self) -> torch.Tensor:
        """The membrane each conductance channel sees: ``v`` of LIF neurons, the voltage state of
        spec neurons (0 where a model declares none)."""
        net = self.net
        v = self.v.clone()
        for p, (lo, hi, _, _) in enumerate(net.pops):
            if net.pop_model[p]:
                vrow = net.specs[int(net.pop_model[p]) - 1][1]
                v[int(lo):int(hi)] = self.g[net.C + vrow, int(lo):int(hi)] if vrow >= 0 else 0.0
        return v

    def _spec_step(self, m: int, sl: slice, x: torch.Tensor, ge: bool) -> torch.Tensor:
        """One step of the spec neurons ``sl`` (model ``m``); returns their spikes."""
        net = self.net
        model, vrow = net.specs[m]
        S = model.n_states
        y = [self.g[net.C + k, sl] for k in range(S)]
        rows = list(self.spec_prm[m][:, sl].unbind(0))
        new, s, _ = spec_step_reference(model, x, y, rows, self.spec_kc[m], self.spec_cfg[ge],
                                        self.spec_steps[(m, ge)])
        held = self.refc[sl] > 0
        if bool(held.any()):  # the spec's own step on tensors, the voltage state kept, no spike
            p = Record("parameter", {**dict(zip(model.rows, rows)), "dt": float(net.dt)})
            stepped = model.spec.step(Record("state", dict(zip(model.states, y))), x, p)
            pre = _returned_values(model.spec, stepped, model.states, "step", True)
            kept = [y[k] if k == vrow else
                    torch.as_tensor(pre[name], dtype=x.dtype, device=x.device).expand_as(x)
                    for k, name in enumerate(model.states)]
            new = [torch.where(held, a, b) for a, b in zip(kept, new)]
            s = torch.where(held, torch.zeros_like(s), s)
        for k in range(S):
            self.g[net.C + k, sl] = new[k]
        ref = self.ref_steps[sl]
        self.refc[sl] = torch.where(held, self.refc[sl] - 1, torch.where(s != 0, ref, torch.zeros_like(ref)))
        return s

    def _step(self, t: int) -> torch.Tensor:
        """Advance one step; returns the spike vector of all ``S`` sources."""
        net = self.net
        slot = t & net.mask
        arrived = self.buf[slot]
        if t < net.inj.shape[0]:
            flat = arrived.view(-1)
            flat.index_add_(0, torch.as_tensor(net.inj_idx, device=self.device),
                            torch.as_tensor(net.inj[t], device=self.device))
        x = self.bias.clone()
        v_in = self._voltages() if net.cond else None
        for c in range(net.C):
            if net.shapes:
                h0 = net.C + net.Y
                unit, jump, rise = (a[c] for a in self.ch_shape)
                x_c, self.g[c], self.g[h0 + c] = sim_math.shaped_drive(
                    self.g[c], self.g[h0 + c], arrived[c], self.ch_kappa[c], self.ch_alpha[c],
                    self.ch_cond[c], self.ch_erev[c], v_in, unit, jump, rise)
            elif net.cond:
                kappa, alpha = self.ch_kappa[c], self.ch_alpha[c]
                x_c, self.g[c] = sim_math.channel_drive(self.g[c], arrived[c], kappa, alpha, self.ch_cond[c],
                                                        self.ch_erev[c], v_in)
            else:
                x_c, self.g[c] = sim_math.channel_input(self.g[c], arrived[c], self.ch_kappa[c],
                                                        self.ch_alpha[c])
            x = x + x_c
        arrived.zero_()
        s_all = torch.zeros(net.S, dtype=self.tdtype, device=self.device)
        for p, ((lo, hi, _, ge), cfg) in enumerate(zip(net.pops, self.cfgs)):
            sl = slice(int(lo), int(hi))
            if net.pop_model.size and net.pop_model[p]:
                s_all[sl] = self._spec_step(int(net.pop_model[p]) - 1, sl, x[sl], bool(ge))
                continue
            prm = self.prm[:, sl]
            held = self.refc[sl] > 0
            zeros = torch.zeros_like(x[sl])
            s, i_n, v_n, a_n = lif_step_reference(x[sl], self.i[sl], self.v[sl], self.a[sl], zeros, prm, cfg)
            s = torch.where(held, zeros, s)
            self.v[sl] = torch.where(held, self.v[sl], v_n)
            if net.has_syn:
                self.i[sl] = i_n
            if net.has_adapt:
                self.a[sl] = torch.where(held, prm[lif_math.P_RHO] * self.a[sl], a_n)
            after_spike = torch.where(s != 0, self.ref_steps[sl], torch.zeros_like(self.refc[sl]))
            self.refc[sl] = torch.where(held, self.refc[sl] - 1, after_spike)
            s_all[sl] = s
        mp = net.poisson_prob.shape[0]
        if mp:
            fired = poisson_spikes(net.seed, t, net.N, net.poisson_prob)
            s_all[net.N:net.N + mp] = torch.as_tensor(fired, dtype=self.tdtype, device=self.device)
        if t + 1 < net.gen_ptr.shape[0]:
            idx = net.gen_idx[net.gen_ptr[t]:net.gen_ptr[t + 1]]
            s_all[torch.as_tensor(idx, device=self.device)] = 1.0
        for d, w in self.weights.items():
            self.buf[(t + 1 + d) & net.mask] += (s_all @ w).view(net.C, net.N)
        if net.A:
            self._astrocytes(t, s_all)
        return s_all

    def run(self, t0: int, t1: int) -> ChunkResult:
        """Simulate steps ``t0 <= t < t1`` one step at a time with torch (the reference implementation) and
        return the chunk's :class:`~neuro.sim.runners.ChunkResult`: recorded spikes (step and neuron
        index), per-population spike counts ``[t1 - t0, populations]`` and the monitored rows.
        """
        net = self.net
        rec = torch.as_tensor(net.rec_flag.astype(bool), device=self.device)
        msteps = monitor_steps(t0, t1, net.mon_every) if net.mon_idx.size else np.zeros(0, np.int64)
        rows, steps, idxs = [], [], []
        counts = np.zeros((t1 - t0, len(net.pops)), np.int32)
        mon_idx = torch.as_tensor(net.mon_idx, device=self.device)
        for t in range(t0, t1):
            s_all = self._step(t)
            fired = torch.nonzero((s_all != 0) & rec).flatten().cpu().numpy()
            steps.append(np.full(len(fired), t, np.int64))
            idxs.append(fired.astype(np.int64))
            for p, (lo, hi, _, _) in enumerate(net.pops):
                counts[t - t0, p] = int((s_all[int(lo):int(hi)] != 0).sum())
            if net.mon_idx.size and t % net.mon_every == 0:
                table = torch.cat([self.v[None], self.i[None], self.a[None], self.g])  # var codes 0,1,2,3+row
                neuron = net.mon_var >= 0  # negative codes: -1 - row of the astrocyte state
                row = np.zeros(net.mon_idx.size, net.dtype)
                row[neuron] = table[torch.as_tensor(net.mon_var[neuron], device=self.device),
                                    mon_idx[torch.as_tensor(neuron, device=self.device)]].cpu().numpy()
                row[~neuron] = self.astate[-1 - net.mon_var[~neuron], net.mon_idx[~neuron]]
                rows.append(row)
        mon_rows = np.stack(rows) if rows else np.zeros((0, net.mon_idx.size), net.dtype)
        return ChunkResult(np.concatenate(steps), np.concatenate(idxs), counts, msteps, mon_rows)
