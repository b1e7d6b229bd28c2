"""The dense torch runner with plastic synapses (``backend="torch"``; :mod:`neuro.sim.plasticity`).

Static synapses travel through the dense per-delay matrices of :class:`~neuro.sim.reference.TorchRunner`;
the synapses of plastic projections are kept as vectors (source, flat target ``channel * N + neuron``,
delay, weight, traces) and handled per step after the neurons' update of step ``t``:

1. traces decay (``x *= exp(-dt / tau_plus)``, ``y *= exp(-dt / tau_minus)``, per synapse);
2. presynaptic events: synapses whose source spiked at ``t - d`` (a ring of the last ``D`` spike
   vectors) deliver their current weight into the slot of step ``t + 1`` (where the static kernels
   put a spike of ``t - d``), then depress by ``A_minus f_-(w) y`` and bump ``x``;
3. postsynaptic spikes of step ``t`` potentiate by ``A_plus f_+(w) x`` and bump ``y``;
4. weights are clipped to ``[w_min, w_max]``.

The weights live here while the network runs; ``sync_weights()`` writes them back to the compiled
table (the network calls it before weights are read) and ``refresh_weights()`` reads the table again
(after ``set_weights``). A reset keeps the current weights and clears the traces.
"""

from __future__ import annotations

import numpy as np
import torch

from neuro.sim.build import Compiled, SynapseTable
from neuro.sim.plasticity import STDP
from neuro.sim.reference import TorchRunner


class PlasticTorchRunner(TorchRunner):
    """:class:`TorchRunner` with pair-based STDP on the projections listed in ``rules``.

    Args:
        net: the compiled network.
        device: torch device.
        rules: ``{projection index: STDP rule}`` (index into the network's projections, the
            ``proj_id`` of the synapse table).
    """

    def __init__(self, net: Compiled, device: torch.device, rules: dict[int, STDP]):
        for k, rule in rules.items():
            if not isinstance(rule, STDP):
                raise NotImplementedError(f"projection {k}: plasticity {type(rule).__name__} is not "
                                          "implemented in the simulator (STDP is)")
        self.rules = dict(rules)
        table = net.spikes
        self.plastic = np.flatnonzero(np.isin(table.proj_id, np.array(sorted(rules), np.int64)))
        super().__init__(net, device)
        dev, dt = self.device, self.tdtype
        rows = np.repeat(np.arange(len(table.row_ptr) - 1), np.diff(table.row_ptr))
        sel = self.plastic
        self.p_src = torch.as_tensor(rows[sel], device=dev)
        self.p_col = torch.as_tensor(table.col[sel].astype(np.int64), device=dev)
        self.p_post = self.p_col % net.N  # the target neuron (spike vector index)
        self.p_delay = torch.as_tensor(table.delay[sel].astype(np.int64), device=dev)
        per_syn = [rules[int(j)] for j in table.proj_id[sel]]

        def column(fn) -> torch.Tensor:
            return torch.as_tensor(np.array([fn(r) for r in per_syn], np.float64), dtype=dt, device=dev)

        self.decay_x = column(lambda r: np.exp(-net.dt / r.tau_plus))
        self.decay_y = column(lambda r: np.exp(-net.dt / r.tau_minus))
        self.a_plus, self.a_minus = column(lambda r: r.A_plus), column(lambda r: r.A_minus)
        self.w_min, self.w_max = column(lambda r: r.w_min), column(lambda r: r.w_max)
        self.soft = torch.as_tensor([r.weight_dependence == "multiplicative" for r in per_syn], device=dev,
                                    dtype=torch.bool)
        self.nearest = torch.as_tensor([r.pairing == "nearest" for r in per_syn], device=dev,
                                       dtype=torch.bool)
        self.refresh_weights()  # the dense matrices of the static synapses only, the plastic weights
        self._clear_traces()

    # -- weights shared with the network ---------------------------------------------------------
    def refresh_weights(self) -> None:
        """Compiled table -> runner (static and plastic weights: set between runs)."""
        table = self.net.spikes
        static = np.ones(table.col.size, bool)
        static[self.plastic] = False
        self.weights = {d: w.to(dtype=self.tdtype) for d, w in
                        self._dense(_subset(table, static), self.net.C * self.net.N).items()}
        self.w = torch.as_tensor(table.weight[self.plastic], dtype=self.tdtype, device=self.device).clone()

    def sync_weights(self) -> None:
        """Runner -> compiled table (the plastic weights as they are now)."""
        self.net.weight[self.plastic] = self.w.cpu().numpy().astype(self.net.weight.dtype)

    # -- state -----------------------------------------------------------------------------------
    def _clear_traces(self) -> None:
        n, dev, dt = self.plastic.size, self.device, self.tdtype
        self.x = torch.zeros(n, dtype=dt, device=dev)
        self.y = torch.zeros(n, dtype=dt, device=dev)
        self.hist = torch.zeros(self.net.D, self.net.S, dtype=torch.bool, device=dev)

    def reset(self) -> None:
        """Reset the network state like :meth:`TorchRunner.reset <neuro.sim.reference.TorchRunner.reset>` and
        clear the plasticity traces (the plastic weights are kept).
        """
        super().reset()
        if hasattr(self, "w"):  # (the base constructor resets before the plastic tables exist)
            self._clear_traces()

    def _step(self, t: int) -> torch.Tensor:
        s_all = super()._step(t)
        net = self.net
        self.hist[t & net.mask] = s_all != 0
        if not self.plastic.size:
            return s_all
        self.x *= self.decay_x
        self.y *= self.decay_y
        # presynaptic events: the source spiked at t - d (nothing before step 0)
        when = t - self.p_delay
        pre = (when >= 0) & self.hist[when & net.mask, self.p_src]
        if bool(pre.any()):
            idx = torch.nonzero(pre).flatten()
            w = self.w[idx]
            self.buf[(t + 1) & net.mask].view(-1).index_add_(0, self.p_col[idx], w)
            f_minus = torch.where(self.soft[idx], (w - self.w_min[idx]) / self.w_max[idx], torch.ones_like(w))
            self.w[idx] = torch.clamp(w - self.a_minus[idx] * f_minus * self.y[idx], self.w_min[idx],
                                      self.w_max[idx])
            self.x[idx] = torch.where(self.nearest[idx], torch.ones_like(w), self.x[idx] + 1.0)
        post = s_all[self.p_post] != 0
        if bool(post.any()):
            idx = torch.nonzero(post).flatten()
            w = self.w[idx]
            f_plus = torch.where(self.soft[idx], (self.w_max[idx] - w) / self.w_max[idx], torch.ones_like(w))
            self.w[idx] = torch.clamp(w + self.a_plus[idx] * f_plus * self.x[idx], self.w_min[idx],
                                      self.w_max[idx])
            self.y[idx] = torch.where(self.nearest[idx], torch.ones_like(w), self.y[idx] + 1.0)
        return s_all


def _subset(table: SynapseTable, keep: np.ndarray) -> SynapseTable:
    """The synapses of ``table`` where ``keep`` (CSR rebuilt)."""
    rows = np.repeat(np.arange(len(table.row_ptr) - 1), np.diff(table.row_ptr))[keep]
    row_ptr = np.zeros_like(table.row_ptr)
    np.cumsum(np.bincount(rows, minlength=len(table.row_ptr) - 1), out=row_ptr[1:])
    return SynapseTable(row_ptr, table.col[keep], table.weight[keep], table.delay[keep], table.proj_id[keep],
                        table.base_weight[keep])
