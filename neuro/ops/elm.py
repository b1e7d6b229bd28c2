r"""The Expressive Leaky Memory (ELM) neuron as torch ops: reference, kernel-backed autograd, dispatch.

Equations (Spieler et al., ICLR 2024; restated in :mod:`neuro.kernels.elm_math`)::

    s_t  = kappa_s s_{t-1} + w_s route(x_t)          b_t = branch_sum(s_t)          (v1)
    b_t  = kappa_b b_{t-1} + branch_sum(w_s route(x_t))                              (v2)
    mp_t = kappa_m m_{t-1}
    m_t  = mp_t + c * 1.7159 tanh(2/3 MLP([b_t ; mp_t]))     c = lam (1 - kappa_m) (v1)
                                                              c = 1 - exp(-dt lam / tau_m) (v2)
    y_t  = W_y m_t + b_y

Tensors are time-major: ``x [T, B, D]`` -> ``y [T, B, d_out]``. :func:`elm_scan_reference` is the
oracle, a per-step loop written like the authors' code. :func:`elm_scan` on the ``numba`` / ``cuda``
backends runs the same model as

1. traces for all steps in one kernel (``TraceFunction``), or — on the CPU with one shared trace
   decay — event-driven traces already projected by the first MLP layer (``EventTraceFunction``),
   which costs work only for non-zero inputs (spikes);
2. the input part of the first MLP layer for all steps as one matrix product;
3. the memory/MLP recurrence in one kernel per sequence (``MemoryFunction``) with a reverse-time
   backward kernel, whose weight gradients are again large matrix products;
4. the readout for all steps as one matrix product.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

import torch
import torch.nn.functional as F

from neuro.backends import resolve_backend
from neuro.kernels import elm_math
from neuro.ops.elm_autograd import EventTraceFunction, MemoryFunction, TraceFunction, raise_nonfinite
from neuro.state import stateclass

ACTIVATIONS = MappingProxyType({"relu": elm_math.ACT_RELU, "silu": elm_math.ACT_SILU})
INPUT_PATHS = ("auto", "dense", "events")
# Per step and batch element the event path costs ~ D + density * D * H multiply-adds, the dense
# path ~ S + d_tree * H, whose matrix product runs ~2.5x faster per multiply-add (crossovers measured
# on the 2-core development machine: ~0.4 density for ELM d_tree = 700, ~0.1 for d_tree = 100).
DENSE_PRODUCT_SPEEDUP = 2.5


@dataclass(frozen=True)
class ELMConfig:
    """Discrete structure of an ELM scan.

    Args:
        num_branches: ``d_tree``, the number of branches (= inputs of the MLP besides the memory).
        version: 1 (the paper's equations, traces per synapse) or 2 (traces per branch, memory
            input gain ``1 - exp(-dt lam / tau_m)``; the authors' "improved implementation").
        activation: hidden-layer nonlinearity of the MLP, ``"relu"`` (paper) or ``"silu"``.
        uniform_syn_decay: every trace has the same decay (a scalar ``tau_s``), which allows the
            event-driven input path.
        input_path: ``"dense"`` (trace kernel + matrix product), ``"events"`` (CPU only, needs
            ``uniform_syn_decay``) or ``"auto"`` (events when the input is sparse enough for them to
            be cheaper, estimated from the density of up to 16 time steps).
    """

    num_branches: int
    version: int = 1
    activation: str = "relu"
    uniform_syn_decay: bool = False
    input_path: str = "auto"

    def __post_init__(self) -> None:
        if self.version not in (1, 2):
            raise ValueError(f"version must be 1 or 2, got {self.version!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        if self.input_path not in INPUT_PATHS:
            raise ValueError(f"input_path must be one of {INPUT_PATHS}, got {self.input_path!r}")
        if self.input_path == "events" and not self.uniform_syn_decay:
            raise ValueError("input_path='events' needs one shared synaptic time constant (scalar tau_syn)")
        if self.num_branches < 1:
            raise ValueError(f"num_branches must be >= 1, got {self.num_branches}")


class ELMWeights(NamedTuple):
    """Every tensor an ELM scan reads (the module builds it from its parameters).

    ``route [S]`` input index per synapse (None: synapse ``k`` reads input ``k``); ``w_syn [S]``
    synaptic weights with the routing mask folded in; ``kappa_syn [S]`` (v1) / ``[d_tree]`` (v2);
    ``kappa_mem, gain_mem [M]``; ``mlp_weights`` / ``mlp_biases`` of the ``L + 1`` linear layers
    (first ``[H, d_tree + M]``, hidden ``[H, H]``, last ``[M, H]``); readout ``w_out [d_out, M]``,
    ``b_out [d_out]``.
    """

    route: torch.Tensor | None
    w_syn: torch.Tensor
    kappa_syn: torch.Tensor
    kappa_mem: torch.Tensor
    gain_mem: torch.Tensor
    mlp_weights: tuple
    mlp_biases: tuple
    w_out: torch.Tensor
    b_out: torch.Tensor


@stateclass
class ELMState(NamedTuple):
    """State between calls: traces ``syn [B, S]`` (v1) / ``[B, d_tree]`` (v2), memory ``mem [B, M]``."""

    syn: torch.Tensor
    mem: torch.Tensor


class ELMScanResult(NamedTuple):
    """Outputs ``y [T, B, d_out]``, memory ``mem [T, B, M]`` and the final state."""

    y: torch.Tensor
    mem: torch.Tensor
    state: ELMState


def activate(z: torch.Tensor, cfg: ELMConfig) -> torch.Tensor:
    return F.silu(z) if cfg.activation == "silu" else torch.relu(z)


def _num_synapses(w: ELMWeights) -> int:
    return w.w_syn.shape[0]


def initial_state(w: ELMWeights, cfg: ELMConfig, batch: int, like: torch.Tensor) -> ELMState:
    """All-zero traces and memory (the paper's ``s_0 = 0, m_0 = 0``)."""
    n_trace = _num_synapses(w) if cfg.version == 1 else cfg.num_branches
    return ELMState(like.new_zeros(batch, n_trace), like.new_zeros(batch, w.kappa_mem.shape[0]))


# ------------------------------------------------------------------------------------------------
# Pure-torch reference (the oracle), one step at a time like the authors' code.


def elm_step_reference(x_t: torch.Tensor, state: ELMState, w: ELMWeights,
                       cfg: ELMConfig) -> tuple[torch.Tensor, ELMState]:
    """One step on ``x_t [B, D]``; returns ``(y_t [B, d_out], new state)``."""
    batch = x_t.shape[0]
    x_syn = x_t if w.route is None else x_t.index_select(-1, w.route)
    drive = w.w_syn * x_syn
    if cfg.version == 1:
        syn = w.kappa_syn * state.syn + drive
        branch = syn.view(batch, cfg.num_branches, -1).sum(dim=-1)
    else:
        syn = w.kappa_syn * state.syn + drive.view(batch, cfg.num_branches, -1).sum(dim=-1)
        branch = syn
    mp = w.kappa_mem * state.mem
    h = torch.cat([branch, mp], dim=-1)
    for weight, bias in zip(w.mlp_weights[:-1], w.mlp_biases[:-1]):
        h = activate(F.linear(h, weight, bias), cfg)
    z = F.linear(h, w.mlp_weights[-1], w.mlp_biases[-1])
    delta = torch.tanh(z * elm_math.TANH_SLOPE) * elm_math.TANH_AMPLITUDE
    mem = mp + w.gain_mem * delta
    return F.linear(mem, w.w_out, w.b_out), ELMState(syn, mem)


def elm_scan_reference(x: torch.Tensor, w: ELMWeights, cfg: ELMConfig,
                       state: ELMState | None = None) -> ELMScanResult:
    """Reference scan over ``x [T, B, D]`` with torch autograd (iterates over ``x.unbind(0)``)."""
    if state is None:
        state = initial_state(w, cfg, x.shape[1], x)
    ys, mems = [], []
    for x_t in x.unbind(0):
        y_t, state = elm_step_reference(x_t, state, w, cfg)
        ys.append(y_t)
        mems.append(state.mem)
    return ELMScanResult(torch.stack(ys), torch.stack(mems), state)


# ------------------------------------------------------------------------------------------------
# Dispatch


def input_density(x: torch.Tensor, max_slices: int = 16) -> float:
    """Fraction of non-zero entries in up to ``max_slices`` evenly spaced time steps of ``x``."""
    stride = max(1, x.shape[0] // max_slices)
    return float((x[::stride] != 0).float().mean())


def effective_input_weights(w: ELMWeights, cfg: ELMConfig, num_inputs: int) -> torch.Tensor:
    """``W_eff^T [D, H]``: the first MLP layer's branch columns pulled back through the branch sum,
    the synaptic weights and the routing (differentiable in all three)."""
    w_branch_t = w.mlp_weights[0][:, :cfg.num_branches].t()  # [d_tree, H]
    per_branch = _num_synapses(w) // cfg.num_branches
    rows = w_branch_t.repeat_interleave(per_branch, dim=0) * w.w_syn.unsqueeze(1)  # [S, H]
    if w.route is None:
        return rows
    return rows.new_zeros((num_inputs, rows.shape[1])).index_add(0, w.route, rows)


def _branch_sum(s: torch.Tensor, cfg: ELMConfig) -> torch.Tensor:
    return s.view(s.shape[0], cfg.num_branches, -1).sum(-1)


def _use_events(x: torch.Tensor, w: ELMWeights, cfg: ELMConfig, backend: str) -> bool:
    if backend != "numba" or not cfg.uniform_syn_decay or cfg.input_path == "dense":
        return False
    if cfg.input_path == "events":
        return True
    num_inputs, hidden = x.shape[2], w.mlp_weights[0].shape[0]
    events = num_inputs + input_density(x) * num_inputs * hidden
    dense = _num_synapses(w) + cfg.num_branches * hidden / DENSE_PRODUCT_SPEEDUP
    return events < dense


def _first_layer_input(x: torch.Tensor, w: ELMWeights, cfg: ELMConfig, state: ELMState,
                       backend: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``U = W_1b b + b_1`` for every step and the final traces."""
    w_first, b_first = w.mlp_weights[0], w.mlp_biases[0]
    nb = cfg.num_branches
    if _use_events(x, w, cfg, backend):
        syn0 = state.syn
        v0 = F.linear(_branch_sum(syn0, cfg) if cfg.version == 1 else syn0, w_first[:, :nb])
        kappa = float(w.kappa_syn.reshape(-1)[0])
        u, x_decayed = EventTraceFunction.apply(x, effective_input_weights(w, cfg, x.shape[2]),
                                                 b_first, v0.contiguous(), kappa)
        routed = x_decayed if w.route is None else x_decayed.index_select(1, w.route)
        drive = w.w_syn * routed
        if cfg.version == 2:
            drive = _branch_sum(drive, cfg)
        return u, (kappa ** x.shape[0]) * syn0 + drive
    branch, syn_last = TraceFunction.apply(x, w.w_syn, state.syn, w.route, w.kappa_syn.detach(),
                                            cfg.version == 1, nb, backend)
    return F.linear(branch, w_first[:, :nb], b_first), syn_last


def _check_weights(w: ELMWeights) -> None:
    if w.kappa_syn.requires_grad:
        raise ValueError("the synaptic trace decays are fixed in ELM (tau_s is a buffer); "
                         "learning them is not supported by the kernels")
    if len(w.mlp_weights) < 2:
        raise ValueError("the ELM kernels need an MLP with at least one hidden layer (mlp_layers >= 1)")


def elm_scan(x: torch.Tensor, w: ELMWeights, cfg: ELMConfig, state: ELMState | None = None,
             backend: str = "auto") -> ELMScanResult:
    """Run the ELM neuron over ``x [T, B, D]`` on the chosen backend (``"torch"`` = reference)."""
    chosen = resolve_backend(backend, x)
    if state is None:
        state = initial_state(w, cfg, x.shape[1], x)
    if chosen == "torch":
        if not bool(torch.isfinite(x).all()):
            raise_nonfinite()
        return elm_scan_reference(x, w, cfg, state)
    _check_weights(w)
    if chosen == "cuda" and not bool(torch.isfinite(x).all()):  # the CPU kernels check as they read
        raise_nonfinite()
    x = x.contiguous()
    u, syn_last = _first_layer_input(x, w, cfg, ELMState(state.syn.contiguous(), state.mem), chosen)
    nb = cfg.num_branches
    w_first = w.mlp_weights[0]
    hidden_w = w.mlp_weights[1:-1]
    if hidden_w:
        w_hid, b_hid = torch.stack(hidden_w), torch.stack(w.mlp_biases[1:-1])
    else:
        h = w_first.shape[0]
        w_hid, b_hid = w_first.new_zeros((0, h, h)), w_first.new_zeros((0, h))
    m_seq = MemoryFunction.apply(u.contiguous(), w_first[:, nb:], w_hid, b_hid, w.mlp_weights[-1],
                                  w.mlp_biases[-1], w.kappa_mem, w.gain_mem, state.mem.contiguous(),
                                  ACTIVATIONS[cfg.activation], chosen)
    return ELMScanResult(F.linear(m_seq, w.w_out, w.b_out), m_seq, ELMState(syn_last, m_seq[-1]))
