r"""The Expressive Leaky Memory neuron (Spieler et al., ICLR 2024) and Branch-ELM as modules.

One ELM neuron maps ``x [T, B, in_features]`` to ``y [T, B, out_features]`` through synapse traces,
a few slowly decaying memory units and a small MLP (equations in :mod:`neuro.ops.elm`)::

    s_t = kappa_s s_{t-1} + w_s route(x_t)                      kappa_s = exp(-dt / tau_s)
    b_t = branch_sum(s_t)
    m_t = kappa_m m_{t-1} + lam (1 - kappa_m) 1.7159 tanh(2/3 MLP([b_t ; kappa_m m_{t-1}]))
    y_t = W_y m_t + b_y

with ``w_s = ReLU(w_hat) >= 0``, ``tau_m = tau_min + (tau_max - tau_min) sigmoid(p_m)`` initialised
log-spaced (learnable with ``learn_tau_mem``), ``tau_s`` fixed. ``version=2`` is the authors'
"improved" variant: traces on branches (``b_t = kappa_b b_{t-1} + branch_sum(w_s route(x_t))``) and
memory gain ``1 - exp(-dt lam / tau_m)``.

**Branch-ELM** routes inputs to ``num_branches x synapses_per_branch`` synapses:

* ``routing="neuronio"`` — interlock the two input halves (excitatory/inhibitory: position ``i``
  reads input ``(i mod 2) D/2 + floor(i / 2)``), then branch ``j`` takes the window of positions
  ``j * ceil(D / d_tree) + (0 .. d_brch - 1)``; positions past the end are masked out.
* ``routing="random"`` — every synapse reads a uniformly random input (``routing_seed``).
* ``routing=None`` — synapse ``k`` reads input ``k`` (needs ``d_tree * d_brch == in_features``).

Defaults follow the authors' code: ``memory=100``, ``lam=5``, ``mlp_layers=1``,
``mlp_hidden=2 * memory``, ReLU, ``tau_syn=5``, ``tau_mem_range=(1, 1000)``, fixed ``tau_m``,
``w_syn_init=0.5``, ``dt=1`` (time in units of the step, e.g. ms at 1 ms bins).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from neuro.backends import BACKENDS
from neuro.functional import elm as FE
from neuro.functional.elm import ELMConfig, ELMScanResult, ELMState, ELMWeights
from neuro.nn.neurons import SpikingModule

ROUTINGS = (None, "neuronio", "random")


# ------------------------------------------------------------------------------------------------
# Routing


def interlocking_indices(num_inputs: int) -> torch.Tensor:
    """Position ``i`` reads input ``(i mod 2) * num_inputs/2 + floor(i/2)`` (E and I alternate)."""
    if num_inputs % 2:
        raise ValueError(f"neuronio routing interlocks two equal input halves (excitatory / inhibitory),"
                         f" so in_features must be even, got {num_inputs}")
    i = torch.arange(num_inputs)
    return (i % 2) * (num_inputs // 2) + torch.div(i, 2, rounding_mode="floor")


def overlapping_windows(num_inputs: int, num_windows: int,
                        per_window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Window ``j`` covers positions ``j * ceil(num_inputs / num_windows) + (0 .. per_window - 1)``.

    Returns ``(positions [num_windows * per_window], valid mask)``; positions past the end are
    clamped to the last one and marked invalid.
    """
    stride = math.ceil(num_inputs / num_windows)
    pos = torch.arange(num_windows).unsqueeze(1) * stride + torch.arange(per_window).unsqueeze(0)
    valid = pos < num_inputs
    return pos.clamp(max=num_inputs - 1).flatten(), valid.flatten()


def neuronio_routing(num_inputs: int, num_branches: int,
                     synapses_per_branch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Interlocking + overlapping-window routing of the NeuronIO Branch-ELM: ``(route, mask)``."""
    stride = math.ceil(num_inputs / num_branches)
    if synapses_per_branch < stride:
        raise ValueError(
            f"neuronio routing needs synapses_per_branch >= ceil(in_features / num_branches) = "
            f"ceil({num_inputs} / {num_branches}) = {stride} so every input reaches a branch, "
            f"got {synapses_per_branch}")
    positions, valid = overlapping_windows(num_inputs, num_branches, synapses_per_branch)
    return interlocking_indices(num_inputs)[positions], valid


def random_routing(num_inputs: int, num_synapses: int,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Every synapse reads an input drawn uniformly at random (with replacement)."""
    return torch.randint(num_inputs, (num_synapses,), generator=generator)


def num_trainable_parameters(module: nn.Module) -> int:
    """Number of trainable scalars (what the ELM paper's parameter counts report)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


# ------------------------------------------------------------------------------------------------
# Modules


def _positive(value: float | torch.Tensor, name: str) -> torch.Tensor:
    tensor = torch.as_tensor(value, dtype=torch.get_default_dtype())
    if not bool(torch.isfinite(tensor).all()) or bool((tensor <= 0).any()):
        raise ValueError(f"{name} must be positive and finite, got {value!r}")
    return tensor


class _ELMBase(SpikingModule):
    """Parameters, routing and validation shared by :class:`ELM` and :class:`ELMCell`."""

    def __init__(self, in_features: int, out_features: int, memory: int = 100, *,
                 num_branches: int | None = None, synapses_per_branch: int = 1,
                 routing: str | None = None, lam: float = 5.0, mlp_hidden: int | None = None,
                 mlp_layers: int = 1, activation: str = "relu",
                 tau_syn: float | torch.Tensor = 5.0,
                 tau_mem_range: Sequence[float] = (1.0, 1000.0),
                 tau_mem_init: Sequence[float] | None = None, learn_tau_mem: bool = False,
                 w_syn_init: float = 0.5, dt: float = 1.0, version: int = 1,
                 routing_seed: int | None = None, input_path: str = "auto",
                 backend: str = "auto") -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features),
                            ("memory", memory), ("synapses_per_branch", synapses_per_branch)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(mlp_layers, int) or mlp_layers < 1:
            raise ValueError(f"mlp_layers must be an integer >= 1 (hidden layers of the MLP), "
                             f"got {mlp_layers!r}")
        if routing not in ROUTINGS:
            raise ValueError(f"routing must be one of {ROUTINGS}, got {routing!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if not (isinstance(lam, (int, float)) and math.isfinite(lam) and lam > 0):
            raise ValueError(f"lam (lambda, the memory input scale) must be > 0, got {lam!r}")
        if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
            raise ValueError(f"dt must be > 0, got {dt!r}")
        num_branches = in_features if num_branches is None else num_branches
        if not isinstance(num_branches, int) or num_branches < 1:
            raise ValueError(f"num_branches must be a positive integer, got {num_branches!r}")
        num_synapses = num_branches * synapses_per_branch
        if routing is None and num_synapses != in_features:
            raise ValueError(
                f"without routing synapse k reads input k, so num_branches x synapses_per_branch "
                f"({num_branches} x {synapses_per_branch} = {num_synapses}) must equal in_features "
                f"({in_features}); use routing='random' or 'neuronio' for Branch-ELM")
        mlp_hidden = 2 * memory if mlp_hidden is None else mlp_hidden
        if not isinstance(mlp_hidden, int) or mlp_hidden < 1:
            raise ValueError(f"mlp_hidden must be a positive integer, got {mlp_hidden!r}")

        self.in_features, self.out_features, self.memory = in_features, out_features, memory
        self.num_branches, self.synapses_per_branch = num_branches, synapses_per_branch
        self.routing, self.lam, self.dt, self.version = routing, float(lam), float(dt), version
        self.backend = backend
        self.cfg = ELMConfig(num_branches, version=version, activation=activation,
                               uniform_syn_decay=torch.as_tensor(tau_syn).numel() == 1,
                               input_path=input_path)

        # routing (persistent buffers: a checkpoint keeps its random routing)
        if routing == "neuronio":
            route, mask = neuronio_routing(in_features, num_branches, synapses_per_branch)
        elif routing == "random":
            gen = torch.Generator().manual_seed(routing_seed) if routing_seed is not None else None
            route = random_routing(in_features, num_synapses, gen)
            mask = torch.ones(num_synapses, dtype=torch.bool)
        else:
            route = mask = None
        self.register_buffer("route", route)
        self.register_buffer("route_mask", None if mask is None else mask.to(torch.get_default_dtype()))

        # synapses: w_s = relu(w_hat), fixed tau_s per synapse (v1) or per branch (v2)
        self.w_syn_raw = nn.Parameter(torch.full((num_synapses,), float(w_syn_init)))
        n_trace = num_synapses if version == 1 else num_branches
        tau_s = _positive(tau_syn, "tau_syn")
        if tau_s.numel() not in (1, n_trace):
            raise ValueError(f"tau_syn must be a scalar or have {n_trace} entries (one per "
                             f"{'synapse' if version == 1 else 'branch'}), got shape {tuple(tau_s.shape)}")
        self.register_buffer("tau_syn", tau_s.reshape(-1).expand(n_trace).clone())

        # memory time constants: tau_m = lo + (hi - lo) sigmoid(p), log-spaced initial values
        lo, hi = (float(v) for v in tau_mem_range)
        if not (math.isfinite(hi) and 0 <= lo < hi):
            raise ValueError(f"tau_mem_range must be (min, max) with 0 <= min < max, got {tau_mem_range!r}")
        init_lo, init_hi = ((lo + 1e-6, hi - 1e-6) if tau_mem_init is None
                            else (float(v) for v in tau_mem_init))
        if not (0 < init_lo <= init_hi and lo <= init_lo and init_hi <= hi):
            raise ValueError(f"tau_mem_init must be positive and inside tau_mem_range "
                             f"{tuple(tau_mem_range)}, "
                             f"got {tau_mem_init!r}")
        self.tau_mem_range = (lo, hi)
        tau0 = torch.logspace(math.log10(init_lo), math.log10(init_hi), memory, dtype=torch.float64)
        tau0 = tau0.clamp(lo + 1e-6, hi - 1e-6)
        logit = torch.log((tau0 - lo) / (hi - tau0)).to(torch.get_default_dtype())
        if learn_tau_mem:
            self.tau_mem_logit = nn.Parameter(logit)
        else:
            self.register_buffer("tau_mem_logit", logit)

        # integration MLP on [b ; kappa_m m] and linear readout (PyTorch default initialisation)
        widths = [num_branches + memory] + [mlp_hidden] * mlp_layers + [memory]
        self.mlp = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.readout = nn.Linear(memory, out_features)

    # -- derived quantities ---------------------------------------------------------------------

    @property
    def tau_mem(self) -> torch.Tensor:
        lo, hi = self.tau_mem_range
        return lo + (hi - lo) * torch.sigmoid(self.tau_mem_logit)

    @property
    def w_syn(self) -> torch.Tensor:
        w = torch.relu(self.w_syn_raw)
        return w if self.route_mask is None else w * self.route_mask

    def weights(self) -> ELMWeights:
        """The tensors of one scan (decays and gains from the time constants)."""
        tau_m = torch.clamp(self.tau_mem, min=1e-6)
        kappa_m = torch.exp(-self.dt / tau_m)
        if self.version == 1:
            gain = self.lam * (1 - kappa_m)
        else:
            gain = 1 - torch.exp(-self.dt * self.lam / tau_m)
        kappa_s = torch.exp(-self.dt / torch.clamp(self.tau_syn, min=1e-6))
        return ELMWeights(self.route, self.w_syn, kappa_s, kappa_m, gain,
                            tuple(layer.weight for layer in self.mlp),
                            tuple(layer.bias for layer in self.mlp),
                            self.readout.weight, self.readout.bias)

    def initial_state(self, like: torch.Tensor) -> ELMState:
        """Zero traces and memory for a batch shaped like ``like`` (``[B, in_features]``)."""
        n_trace = self.tau_syn.shape[0]
        return ELMState(like.new_zeros(like.shape[0], n_trace), like.new_zeros(like.shape[0], self.memory))

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, memory={self.memory}, "
                f"num_branches={self.num_branches}, synapses_per_branch={self.synapses_per_branch}, "
                f"routing={self.routing!r}, version={self.version}, lam={self.lam}, "
                f"tau_mem_range={self.tau_mem_range}, backend={self.backend!r}")


class ELM(_ELMBase):
    """ELM / Branch-ELM neuron over sequences: ``forward(x [T, B, D], state=None) -> (y, state)``.

    ``y`` is ``[T, B, out_features]``; train on ``y[-1]`` for sequence classification (the paper's
    protocol). :meth:`scan` also returns the memory trajectory ``[T, B, memory]``. On CPU and GPU
    tensors the fused kernels run (``backend="auto"``); ``backend="torch"`` runs the reference loop.
    See the module docstring for the arguments.
    """

    def scan(self, x: torch.Tensor, state: ELMState | None = None) -> ELMScanResult:
        """Outputs, memory trajectory and final state (:func:`neuro.functional.elm.elm_scan`)."""
        return FE.elm_scan(x, self.weights(), self.cfg, state, self.backend,
                           in_features=self.in_features)

    def forward(self, x: torch.Tensor, state: ELMState | None = None):
        """``y [T, B, out_features]`` for ``x [T, B, D]`` and the :class:`~neuro.ops.elm.ELMState` after the
        last step (synaptic traces and memory; ``state=None`` starts from zeros). :meth:`scan` also returns
        the memory trajectory.
        """
        result = self.scan(x, state)
        return result.y, result.state


class ELMCell(_ELMBase):
    """One ELM step in pure torch: ``forward(x [B, D], state=None) -> (y [B, out_features], state)``."""

    def forward(self, x: torch.Tensor, state: ELMState | None = None):
        """One step: ``y [B, out_features]`` for ``x [B, D]`` and the next :class:`~neuro.ops.elm.ELMState`
        (``state=None`` starts from zeros).
        """
        return FE.elm_step(x, self.weights(), self.cfg, state, in_features=self.in_features)
