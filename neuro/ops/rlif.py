"""The recurrent LIF layer as one torch op: Python-stepped reference, fused-kernel autograd, dispatch.

``x [T, B, N]`` is the external input, ``weight [N, N]`` / ``bias [N]`` the recurrent
``nn.Linear(N, N)``, ``prm [9, C]`` the LIF-family coefficient table (``neuro.functional.lif``),
``i0, v0, a0`` the neuron's initial state and ``s0`` the previous output (``[B, N]``). One step::

    x'_t = x_t + (W s_{t-1} + bias),   (s_t, state_t) = LIF step(x'_t, state_{t-1})

(``neuro.nn.Recurrent``'s semantics, ``neuro.kernels.rlif_math``). The reference steps it in torch
(``F.linear`` and ``lif_step_reference``, what ``Recurrent`` runs); the kernels
(``neuro.kernels.rlif_cpu`` / ``rlif_cuda``) run the whole loop fused, and backward is the exact
reverse-time scan, with ``dW = sum_t dx'_t s_{t-1}^T`` and ``dbias`` as one matrix product here.
How the fused sums relate to torch's: ``neuro.kernels.rlif_math``.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import NamedTuple

import torch
import torch.nn.functional as TF

from neuro.backends import cuda_simulator_enabled, resolve_backend
from neuro.kernels import lif_math
from neuro.ops._launch import (
    RLIF_CODES,
    NonFiniteError,
    check_finite,
    constants,
    launch_cuda,
    non_finite_flag,
    run_cpu_chunks,
)
from neuro.ops.lif import LIFConfig, lif_step_reference
from neuro.surrogate import spike


class RLIFResult(NamedTuple):
    """``spikes [T, B, N]`` and the final neuron state ``i, v, a`` (``[B, N]``)."""

    spikes: torch.Tensor
    i_last: torch.Tensor
    v_last: torch.Tensor
    a_last: torch.Tensor


def rlif_scan_reference(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, prm: torch.Tensor,
                        i0: torch.Tensor, v0: torch.Tensor, a0: torch.Tensor, s0: torch.Tensor,
                        cfg: LIFConfig) -> RLIFResult:
    """Step by step in torch, exactly what ``Recurrent(neuron, nn.Linear)`` runs (the oracle)."""
    p = prm.reshape(lif_math.N_PARAMS, 1) if prm.shape[1] == 1 else prm
    i, v, a, s = i0, v0, a0, s0
    out = []
    for x_t in x.unbind(0):
        xp = x_t + TF.linear(s, weight, bias)
        s_prev = (spike(v, p[lif_math.P_TH].expand_as(v), cfg.surrogate, cfg.ge)
                  if cfg.reset == "subtract_delayed" else torch.zeros_like(v))
        s, i_n, v, a_n = lif_step_reference(xp, i, v, a, s_prev, p, cfg)
        i = i_n if cfg.has_syn else i
        a = a_n if cfg.has_adapt else a
        out.append(s)
    return RLIFResult(torch.stack(out), i, v, a)


def _consts(cfg: LIFConfig, x: torch.Tensor) -> torch.Tensor:
    a, b = cfg.surrogate.coefficients()
    return constants((0.0, 1.0, float(not cfg.detach_reset), a, b), x.dtype, x.device)


def _none3(x: torch.Tensor) -> torch.Tensor:
    return x.new_zeros((1, 1, 1))


def _forward_outputs(cfg, need_pgrad: bool, x: torch.Tensor) -> tuple:
    """The forward kernels' outputs ``(s, h, i_seq, a_seq, xp)`` ``[T, B, N]`` (placeholders where not
    recorded), the flags ``store`` of the recorded ones after ``s``, and the last states ``[B, N]``."""
    T, B, N = x.shape

    def seq(recorded: bool) -> torch.Tensor:
        return x.new_empty((T, B, N)) if recorded else _none3(x)

    out = (seq(True), seq(True), seq(cfg.has_syn), seq(cfg.has_adapt), seq(need_pgrad))
    store = (True, cfg.has_syn, cfg.has_adapt, need_pgrad)
    last = (x.new_empty((B, N)), x.new_empty((B, N)), x.new_empty((B, N)))
    return out, store, last


class _NumbaRunner:
    @staticmethod
    def forward(cfg, need_pgrad, x, wt, bias, prm, consts, state0, s0):
        from neuro.kernels import rlif_cpu

        T, B, N = x.shape
        out, store, last = _forward_outputs(cfg, need_pgrad, x)
        finite = x.new_empty((B, 2))
        run_cpu_chunks(rlif_cpu.forward_kernel(cfg.has_syn, cfg.has_adapt), B, x, wt, bias, prm, consts,
                       state0, s0, cfg.reset_code, cfg.ge, out, store, last, finite)
        if not bool(torch.isfinite(finite[:, 0]).all()):
            raise NonFiniteError("x contains NaN or inf values; spiking neurons need finite inputs")
        if not bool(torch.isfinite(finite[:, 1]).all()):
            raise NonFiniteError("the initial state (neuron state or previous output s) contains NaN or inf")
        return out, last

    @staticmethod
    def backward(cfg, need_pgrad, w, prm, consts, state0, seqs, g_s, g_last):
        from neuro.kernels import rlif_cpu

        T, B, N = g_s.shape
        dxp = torch.empty_like(g_s)
        d0 = tuple(torch.empty_like(s) for s in state0)
        d_s0 = torch.empty_like(state0[1])
        d_prm = g_s.new_empty((lif_math.N_PARAMS, B * N)) if need_pgrad else g_s.new_zeros((1, 1))
        ph = _none3(g_s)
        run_cpu_chunks(rlif_cpu.backward_kernel(cfg.has_syn, cfg.has_adapt), B, w, prm, consts, state0,
                       cfg.reset_code, cfg.ge, cfg.surrogate.kind, seqs, g_s, True,
                       torch.zeros_like(state0[1]), (ph, ph, ph, False, False, False), g_last, dxp, d0, d_s0,
                       d_prm, need_pgrad)
        return dxp, d0, d_s0, d_prm if need_pgrad else None


class _CudaRunner:
    @staticmethod
    def forward(cfg, need_pgrad, x, wt, bias, prm, consts, state0, s0):
        from neuro.kernels import rlif_cuda

        T, B, N = x.shape
        out, store, last = _forward_outputs(cfg, need_pgrad, x)
        pend = x.new_empty((B, N))
        idx = torch.empty((B, N), dtype=torch.int64, device=x.device)
        flag = non_finite_flag(x.device)
        launch_cuda(rlif_cuda.forward_kernel(cfg.has_syn, cfg.has_adapt), B,
                    rlif_cuda.threads_for(N, cuda_simulator_enabled()),
                    (x, wt, bias, prm, consts, state0, s0, cfg.reset_code, cfg.ge, out, store, last, pend,
                     idx, flag.flag, RLIF_CODES))
        flag.after_launch()
        return out, last

    @staticmethod
    def backward(cfg, need_pgrad, w, prm, consts, state0, seqs, g_s, g_last):
        from neuro.kernels import rlif_cuda

        T, B, N = g_s.shape
        dxp = torch.empty_like(g_s)
        d0 = tuple(torch.empty_like(s) for s in state0)
        d_s0 = torch.empty_like(state0[1])
        d_prm = g_s.new_empty((lif_math.N_PARAMS, B * N)) if need_pgrad else g_s.new_zeros((1, 1))
        carry = tuple(g_s.new_empty((B, N)) for _ in range(5))
        ph = _none3(g_s)
        launch_cuda(rlif_cuda.backward_kernel(cfg.has_syn, cfg.has_adapt), B,
                    rlif_cuda.threads_for(N, cuda_simulator_enabled()),
                    (w, prm, consts, state0, cfg.reset_code, cfg.ge, cfg.surrogate.kind, seqs, g_s, True,
                     torch.zeros_like(state0[1]), (ph, ph, ph, False, False, False), g_last, dxp, d0, d_s0,
                     d_prm, need_pgrad, carry))
        return dxp, d0, d_s0, d_prm if need_pgrad else None


_RUNNERS = MappingProxyType({"numba": _NumbaRunner, "cuda": _CudaRunner})


class RLIFScanFunction(torch.autograd.Function):
    """The fused recurrent LIF loop and its exact reverse-time backward."""

    @staticmethod
    def forward(ctx, x, weight, bias, prm, i0, v0, a0, s0, cfg: LIFConfig, backend: str):  # type: ignore[override]
        """Run the fused recurrent LIF loop on ``x [T, B, N]`` (recurrent input ``s_{t-1} @ weight^T +
        bias``); returns ``spikes [T, B, N]`` and the final ``i``, ``v``, ``a`` ``[B, N]``.
        """
        ctx.set_materialize_grads(False)
        need_pgrad = ctx.needs_input_grad[3]
        consts = _consts(cfg, x)
        state0 = (i0, v0, a0)
        out, last = _RUNNERS[backend].forward(cfg, need_pgrad, x, weight.t().contiguous(), bias, prm, consts,
                                              state0, s0)
        spikes, h, i_seq, a_seq, xp = out
        ctx.cfg, ctx.backend, ctx.need_pgrad = cfg, backend, need_pgrad
        ctx.save_for_backward(weight, prm, consts, i0, v0, a0, s0, spikes, h, i_seq, a_seq, xp)
        return (spikes, *last)

    @staticmethod
    def backward(ctx, g_s, g_il, g_vl, g_al):  # type: ignore[override]
        """Exact reverse-time backward: gradients for ``x``, ``weight``, ``bias``, ``prm``, the initial states
        ``i0``, ``v0``, ``a0`` and the initial spikes ``s0``; ``None`` for ``cfg`` and ``backend``.
        """
        weight, prm, consts, i0, v0, a0, s0, spikes, h, i_seq, a_seq, xp = ctx.saved_tensors
        T, B, N = spikes.shape
        g_s = torch.zeros_like(spikes) if g_s is None else g_s.contiguous()
        g_last = tuple(torch.zeros_like(v0) if g is None else g.contiguous() for g in (g_il, g_vl, g_al))
        dxp, (di0, dv0, da0), d_s0, d_prm = _RUNNERS[ctx.backend].backward(
            ctx.cfg, ctx.need_pgrad, weight.contiguous(), prm, consts, (i0, v0, a0), (xp, h, i_seq, a_seq),
            g_s, g_last)
        s_prev = torch.cat([s0.unsqueeze(0), spikes[:-1]]).reshape(T * B, N)
        flat = dxp.reshape(T * B, N)
        d_w = flat.t() @ s_prev if ctx.needs_input_grad[1] else None
        d_b = flat.sum(0) if ctx.needs_input_grad[2] else None
        g_prm = None
        if d_prm is not None:
            C = prm.shape[1]
            g_prm = d_prm.view(lif_math.N_PARAMS, (B * N) // C, C).sum(1)
        return dxp, d_w, d_b, g_prm, di0, dv0, da0, d_s0, None, None


def rlif_scan(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, prm: torch.Tensor,
              i0: torch.Tensor, v0: torch.Tensor, a0: torch.Tensor, s0: torch.Tensor, cfg: LIFConfig,
              backend: str = "auto") -> RLIFResult:
    """Run the recurrent LIF layer over ``x [T, B, N]`` (module docstring) on ``backend``.

    ``cfg`` must describe a spiking model (IF, LIF, CubaLIF, ALIF) with a built-in surrogate;
    NaN / inf inputs or states raise :class:`~neuro.ops._launch.NonFiniteError`.
    """
    if x.dim() != 3 or tuple(weight.shape) != (x.shape[2], x.shape[2]):
        raise ValueError(f"rlif_scan needs x [T, B, N] and weight [N, N], got {tuple(x.shape)} and "
                         f"{tuple(weight.shape)}")
    if not cfg.spiking:
        raise ValueError("rlif_scan runs spiking neurons (their 0/1 output is the recurrent input)")
    chosen = resolve_backend(backend, x)
    if bias is None:
        bias = torch.zeros(x.shape[2], dtype=x.dtype, device=x.device)
    if chosen == "torch":
        check_finite("x", x)
        check_finite("the initial state", i0, v0, a0, s0)
        return rlif_scan_reference(x, weight, bias, prm, i0, v0, a0, s0, cfg)
    if cfg.surrogate.kind < 0 or type(cfg.surrogate).__module__ != "neuro.surrogate":
        raise ValueError(f"the fused recurrent LIF evaluates neuro's built-in surrogates; "
                         f"{cfg.surrogate!r} needs backend='torch'")
    args = [t.contiguous() for t in (x, weight, bias, prm, i0, v0, a0, s0)]
    return RLIFResult(*RLIFScanFunction.apply(*args, cfg, chosen))
