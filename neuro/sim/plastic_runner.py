"""The dense torch runner with plastic synapses (``backend="torch"``; :mod:`neuro.sim.plasticity`).

Static synapses travel through the dense per-delay matrices of :class:`~neuro.sim.reference.TorchRunner`;
the synapses of plastic projections are kept as vectors (source, flat target ``channel * N + neuron``,
delay, weight) and handled per step after the neurons' update of step ``t``:

1. every rule's traces decay (``q *= exp(-dt / tau_q)``, per synapse);
2. presynaptic events: synapses whose source spiked at ``t - d`` (a ring of the last ``D`` spike
   vectors) deliver into the slot of step ``t + 1`` (where the static kernels put a spike of
   ``t - d``) the value their rule returns (the weight before the update; ``w u x`` for
   :class:`~neuro.sim.plasticity.TsodyksMarkram`), and the rule updates;
3. postsynaptic spikes of step ``t`` reach the rules;
4. per-step updates (the neuromodulated weight change of :class:`~neuro.sim.plasticity.RewardSTDP`).

Each plastic projection has one *handler* (a ``_Rule`` subclass per rule type) owning its traces as
vectors over the projection's synapses; the runner owns the shared parts (the weights ``w``, the
event detection, delivery). Weights are clipped to the rule's bounds after every update.

The weights live here while the network runs; ``sync_weights()`` writes them back to the compiled
table (the network calls it before weights are read) and ``refresh_weights()`` reads the table again
(after ``set_weights``). A reset keeps the current weights and clears the traces.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from neuro.sim.build import Compiled, SynapseTable
from neuro.sim.plasticity import (
    STDP,
    InhibitorySTDP,
    PlasticityRule,
    RewardSTDP,
    TripletSTDP,
    TsodyksMarkram,
)
from neuro.sim.reference import TorchRunner


class _Rule:
    """Per-projection state of one rule: ``sel`` are the projection's positions in the runner's
    plastic-synapse vectors; traces are vectors over ``sel`` (local index ``li``, global ``sel[li]``)."""

    traces: tuple[str, ...] = ()  # names of the trace vectors (cleared by ``clear``)

    def __init__(self, rule: PlasticityRule, sel: torch.Tensor, runner: PlasticTorchRunner):
        self.rule, self.sel, self.runner = rule, sel, runner
        self.n = int(sel.numel())
        bounds = [getattr(rule, key, None) for key in ("w_min", "w_max")]
        self.lo, self.hi = [None if b is None else self.scalar(b) for b in bounds]  # (the clip bounds)

    def scalar(self, value: float) -> torch.Tensor:
        """A parameter as a 0-d tensor of the runner's dtype (rounded from float64 like the traces)."""
        return torch.tensor(float(value), dtype=self.runner.tdtype, device=self.runner.device)

    def decay_factor(self, tau: float) -> torch.Tensor:
        return self.scalar(math.exp(-self.runner.net.dt / tau) if tau > 0 else 0.0)

    def clear(self) -> None:
        for name in self.traces:
            setattr(self, name, torch.zeros(self.n, dtype=self.runner.tdtype, device=self.runner.device))

    def bump(self, trace: torch.Tensor, li: torch.Tensor, nearest: bool) -> None:
        """``trace[li] += 1`` (all-to-all) or ``= 1`` (nearest)."""
        trace[li] = 1.0 if nearest else trace[li] + 1.0

    def set_w(self, gi: torch.Tensor, w: torch.Tensor) -> None:
        self.runner.w[gi] = torch.clamp(w, self.lo, self.hi)

    # the hooks of a step (no-ops unless a rule overrides them)
    def decay(self, t: int) -> None:
        pass

    def on_pre(self, li: torch.Tensor, gi: torch.Tensor) -> torch.Tensor:
        """Presynaptic events of the local synapses ``li``; returns the delivered values."""
        return self.runner.w[gi]

    def on_post(self, li: torch.Tensor, gi: torch.Tensor) -> None:
        pass

    def end_step(self, t: int) -> None:
        pass


class _STDP(_Rule):
    traces = ("x", "y")

    def __init__(self, rule: STDP, sel: torch.Tensor, runner: PlasticTorchRunner):
        super().__init__(rule, sel, runner)
        self.ax, self.ay = self.decay_factor(rule.tau_plus), self.decay_factor(rule.tau_minus)
        self.a_plus, self.a_minus = self.scalar(rule.A_plus), self.scalar(rule.A_minus)
        self.soft, self.nearest = rule.weight_dependence == "multiplicative", rule.pairing == "nearest"

    def decay(self, t: int) -> None:
        self.x *= self.ax
        self.y *= self.ay

    def on_pre(self, li, gi):
        w = self.runner.w[gi]
        f_minus = (w - self.lo) / self.hi if self.soft else 1.0
        self.set_w(gi, w - self.a_minus * f_minus * self.y[li])
        self.bump(self.x, li, self.nearest)
        return w

    def on_post(self, li, gi):
        w = self.runner.w[gi]
        f_plus = (self.hi - w) / self.hi if self.soft else 1.0
        self.set_w(gi, w + self.a_plus * f_plus * self.x[li])
        self.bump(self.y, li, self.nearest)


class _Triplet(_Rule):
    traces = ("r1", "r2", "o1", "o2")

    def __init__(self, rule: TripletSTDP, sel: torch.Tensor, runner: PlasticTorchRunner):
        super().__init__(rule, sel, runner)
        taus = (rule.tau_plus, rule.tau_x, rule.tau_minus, rule.tau_y)
        self.decays = [self.decay_factor(tau) for tau in taus]
        self.a2p, self.a3p = self.scalar(rule.A2_plus), self.scalar(rule.A3_plus)
        self.a2m, self.a3m = self.scalar(rule.A2_minus), self.scalar(rule.A3_minus)
        self.nearest = rule.pairing == "nearest"

    def decay(self, t: int) -> None:
        for name, a in zip(self.traces, self.decays):
            getattr(self, name).mul_(a)

    def on_pre(self, li, gi):
        w = self.runner.w[gi]
        self.set_w(gi, w - self.o1[li] * (self.a2m + self.a3m * self.r2[li]))
        self.bump(self.r1, li, self.nearest)
        self.bump(self.r2, li, self.nearest)
        return w

    def on_post(self, li, gi):
        w = self.runner.w[gi]
        self.set_w(gi, w + self.r1[li] * (self.a2p + self.a3p * self.o2[li]))
        self.bump(self.o1, li, self.nearest)
        self.bump(self.o2, li, self.nearest)


class _Reward(_Rule):
    traces = ("x", "y", "c")

    def __init__(self, rule: RewardSTDP, sel: torch.Tensor, runner: PlasticTorchRunner):
        super().__init__(rule, sel, runner)
        self.ax, self.ay = self.decay_factor(rule.tau_plus), self.decay_factor(rule.tau_minus)
        self.ac = self.decay_factor(rule.tau_c)
        self.a_plus, self.a_minus = self.scalar(rule.A_plus), self.scalar(rule.A_minus)
        self.nearest = rule.pairing == "nearest"

    def decay(self, t: int) -> None:
        self.x *= self.ax
        self.y *= self.ay
        self.c *= self.ac

    def on_pre(self, li, gi):
        self.c[li] = self.c[li] - self.a_minus * self.y[li]
        self.bump(self.x, li, self.nearest)
        return self.runner.w[gi]

    def on_post(self, li, gi):
        self.c[li] = self.c[li] + self.a_plus * self.x[li]
        self.bump(self.y, li, self.nearest)

    def end_step(self, t: int) -> None:
        dt = self.runner.net.dt
        m = self.rule.modulator.at(t * dt, dt)  # read every step: set between runs or scheduled
        if m != 0.0:
            self.set_w(self.sel, self.runner.w[self.sel] + self.scalar(self.rule.eta * m * dt) * self.c)


class _Inhibitory(_Rule):
    traces = ("x", "y")

    def __init__(self, rule: InhibitorySTDP, sel: torch.Tensor, runner: PlasticTorchRunner):
        super().__init__(rule, sel, runner)
        self.a = self.decay_factor(rule.tau)
        self.eta, self.alpha = self.scalar(rule.eta), self.scalar(rule.alpha)

    def decay(self, t: int) -> None:
        self.x *= self.a
        self.y *= self.a

    def on_pre(self, li, gi):
        w = self.runner.w[gi]
        self.set_w(gi, w + self.eta * (self.y[li] - self.alpha))
        self.x[li] += 1.0
        return w

    def on_post(self, li, gi):
        self.set_w(gi, self.runner.w[gi] + self.eta * self.x[li])
        self.y[li] += 1.0


class _ShortTerm(_Rule):
    """Tsodyks–Markram resources around an optional long-term rule (which owns ``w``)."""

    traces = ("u", "x")

    def __init__(self, rule: TsodyksMarkram, sel: torch.Tensor, runner: PlasticTorchRunner):
        super().__init__(rule, sel, runner)
        self.inner = _handler(rule.weight_rule, sel, runner) if rule.weight_rule is not None else _Rule(
            rule, sel, runner)
        self.big_u = self.scalar(rule.U)
        self.af, self.ad = self.decay_factor(rule.tau_f), self.decay_factor(rule.tau_d)

    def clear(self) -> None:
        self.inner.clear()
        kw = dict(dtype=self.runner.tdtype, device=self.runner.device)
        self.u = torch.full((self.n,), float(self.rule.U), **kw)
        self.x = torch.ones(self.n, **kw)

    def decay(self, t: int) -> None:
        self.inner.decay(t)
        self.u = self.big_u + (self.u - self.big_u) * self.af  # exact relaxation towards U and 1
        self.x = 1.0 + (self.x - 1.0) * self.ad

    def on_pre(self, li, gi):
        u, x = self.u[li], self.x[li]
        delivered = self.inner.on_pre(li, gi) * u * x
        self.x[li] = x * (1.0 - u)
        self.u[li] = u + self.big_u * (1.0 - u)
        return delivered

    def on_post(self, li, gi):
        self.inner.on_post(li, gi)

    def end_step(self, t: int) -> None:
        self.inner.end_step(t)


_HANDLERS = {STDP: _STDP, TripletSTDP: _Triplet, RewardSTDP: _Reward,
              InhibitorySTDP: _Inhibitory, TsodyksMarkram: _ShortTerm}  # rule type -> handler


def _handler(rule: PlasticityRule, sel: torch.Tensor, runner: PlasticTorchRunner) -> _Rule:
    return _HANDLERS[type(rule)](rule, sel, runner)


class PlasticTorchRunner(TorchRunner):
    """:class:`TorchRunner` with the plasticity rules of :mod:`neuro.sim.plasticity` on the projections
    listed in ``rules``.

    Args:
        net: the compiled network.
        device: torch device.
        rules: ``{projection index: rule}`` (index into the network's projections, the ``proj_id`` of
            the synapse table).
    """

    def __init__(self, net: Compiled, device: torch.device, rules: dict[int, PlasticityRule]):
        known = ", ".join(c.__name__ for c in _HANDLERS)
        for k, rule in rules.items():
            if type(rule) not in _HANDLERS:
                raise NotImplementedError(f"projection {k}: plasticity {type(rule).__name__} is not "
                                          f"implemented in the simulator ({known} are)")
        self.rules = dict(rules)
        table = net.spikes
        self.plastic = np.flatnonzero(np.isin(table.proj_id, np.array(sorted(rules), np.int64)))
        super().__init__(net, device)
        dev = self.device
        rows = np.repeat(np.arange(len(table.row_ptr) - 1), np.diff(table.row_ptr))
        sel = self.plastic
        self.p_src = torch.as_tensor(rows[sel], device=dev)
        self.p_col = torch.as_tensor(table.col[sel].astype(np.int64), device=dev)
        self.p_post = self.p_col % net.N  # the target neuron (spike vector index)
        self.p_delay = torch.as_tensor(table.delay[sel].astype(np.int64), device=dev)
        proj = table.proj_id[sel]
        self.handlers = [_handler(rules[k], torch.as_tensor(np.flatnonzero(proj == k), device=dev), self)
                         for k in sorted(rules)]
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
        for h in self.handlers:
            h.clear()
        self.hist = torch.zeros(self.net.D, self.net.S, dtype=torch.bool, device=self.device)

    def reset(self) -> None:
        """Reset the network state like :meth:`TorchRunner.reset <neuro.sim.reference.TorchRunner.reset>` and
        clear the plasticity traces (the plastic weights are kept; short-term resources back to rest).
        """
        super().reset()
        if hasattr(self, "w"):  # (the base constructor resets before the plastic tables exist)
            self._clear_traces()

    def plastic_state(self, projection: int) -> dict[str, np.ndarray]:
        """The traces of one plastic projection (index into the network's projections) as numpy
        arrays over its synapses in table order, e.g. ``{"x": ..., "y": ...}`` for STDP."""
        h = self.handlers[sorted(self.rules).index(projection)]
        out = {}
        for part in (h, getattr(h, "inner", None)):
            if part is not None:
                out.update({name: getattr(part, name).cpu().numpy().copy() for name in part.traces})
        return out

    def _step(self, t: int) -> torch.Tensor:
        s_all = super()._step(t)
        net = self.net
        self.hist[t & net.mask] = s_all != 0
        if not self.plastic.size:
            return s_all
        for h in self.handlers:
            h.decay(t)
        # presynaptic events: the source spiked at t - d (nothing before step 0)
        when = t - self.p_delay
        pre = (when >= 0) & self.hist[when & net.mask, self.p_src]
        if bool(pre.any()):
            slot = self.buf[(t + 1) & net.mask].view(-1)
            for h in self.handlers:
                li = torch.nonzero(pre[h.sel]).flatten()
                if li.numel():
                    gi = h.sel[li]
                    slot.index_add_(0, self.p_col[gi], h.on_pre(li, gi))
        post = s_all[self.p_post] != 0
        if bool(post.any()):
            for h in self.handlers:
                li = torch.nonzero(post[h.sel]).flatten()
                if li.numel():
                    h.on_post(li, h.sel[li])
        for h in self.handlers:
            h.end_step(t)
        return s_all


def _subset(table: SynapseTable, keep: np.ndarray) -> SynapseTable:
    """The synapses of ``table`` where ``keep`` (CSR rebuilt)."""
    rows = np.repeat(np.arange(len(table.row_ptr) - 1), np.diff(table.row_ptr))[keep]
    row_ptr = np.zeros_like(table.row_ptr)
    np.cumsum(np.bincount(rows, minlength=len(table.row_ptr) - 1), out=row_ptr[1:])
    return SynapseTable(row_ptr, table.col[keep], table.weight[keep], table.delay[keep], table.proj_id[keep],
                        table.base_weight[keep])
