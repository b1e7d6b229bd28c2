"""Kernel-backed autograd ops of the ELM neuron (the model and dispatch are in :mod:`neuro.ops.elm`).

* :class:`TraceFunction` — ``(x, w_syn, s0) -> (branch inputs b [T, B, d_tree], final traces)``;
* :class:`EventTraceFunction` — ``(x, W_eff^T, b_1, v0) -> (U [T, B, H], x_decayed [B, D])``, the
  traces already projected by the first MLP layer, driven by the non-zero inputs (CPU);
* :class:`MemoryFunction` — ``(U, W_1m, W_hidden, b_hidden, W_last, b_last, kappa_m, c, m0) -> m``.

Each forward runs one kernel over the whole sequence (``neuro.kernels.elm_cpu`` on the ``numba``
backend, ``neuro.kernels.elm_cuda`` on ``cuda``, CPU tensors under the CUDA simulator) and each
backward one reverse-time kernel; weight gradients are large matrix products done by torch.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from neuro.kernels import elm_math
from neuro.ops._launch import as_numpy, constants, launch_cuda, numba_threads


def _activate(z: torch.Tensor, act: int) -> torch.Tensor:
    return F.silu(z) if act == elm_math.ACT_SILU else torch.relu(z)


def _route_or_dummy(route: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    return route if route is not None else torch.zeros(1, dtype=torch.int64, device=like.device)


def _consts(like: torch.Tensor) -> torch.Tensor:
    """The kernels' typed constants (``elm_math.CONSTS``) in ``like``'s dtype and device (cached)."""
    return constants(elm_math.CONSTS, like.dtype, like.device)


def _even_tile(batch: int) -> int:
    """Batch elements per task when each CPU thread should get one contiguous range."""
    from neuro.kernels import elm_cpu

    return elm_cpu.even_tile(batch, numba_threads())


def _run_cpu(kernel_name: str, batch: int, args, tile: int | None = None) -> None:
    """Run ``elm_cpu.<kernel_name>`` over the batch in tiles of ``tile`` (default :func:`_even_tile`)."""
    from neuro.kernels import elm_cpu

    tile = _even_tile(batch) if tile is None else tile
    elm_cpu.run_batch_parallel(getattr(elm_cpu, kernel_name), batch, tile, *map(as_numpy, args))


def _run_cuda_traces(kernel_name: str, n_tasks: int, args) -> None:
    """Launch ``elm_cuda.<kernel_name>`` with one thread per (batch element, branch)."""
    from neuro.kernels import elm_cuda

    launch_cuda(getattr(elm_cuda, kernel_name), elm_cuda.blocks_for(n_tasks),
                elm_cuda.THREADS_PER_BLOCK, args)


def _run_memory(backward: bool, backend: str, like: torch.Tensor, hidden: int, memory: int,
                args: tuple) -> None:
    """The memory recurrence's forward or backward kernel over the batch (``like [T, B, ...]``): CPU
    tiles sharing weight loads (``elm_cpu.batch_tile``), or one CUDA thread block per batch element."""
    B, M = like.shape[1], memory
    if backend == "numba":
        from neuro.kernels import elm_cpu

        tile = elm_cpu.batch_tile(B, numba_threads())
        _run_cpu("memory_backward" if backward else "memory_forward", B, args, tile)
        return
    from neuro.kernels import elm_cuda

    factory = elm_cuda.memory_backward_kernel if backward else elm_cuda.memory_forward_kernel
    launch_cuda(factory(str(like.dtype).replace("torch.", "")), B, elm_cuda.memory_threads(hidden, M),
                args, elm_cuda.memory_shared_bytes(hidden, M, like.element_size()))


def raise_nonfinite() -> None:
    raise ValueError("x contains NaN or inf values; the ELM neuron needs finite inputs")


class TraceFunction(torch.autograd.Function):
    """``(x, w_syn, s0) -> (b [T, B, d_tree], s_last)``; decays and routing are constants."""

    @staticmethod
    def forward(ctx, x, w_syn, s0, route, kappa, per_synapse: bool, num_branches: int,  # type: ignore[override]
                backend: str):
        """Run the synaptic traces over ``x [T, B, d_in]`` (decay ``kappa``, weights ``w_syn``, optional
        routing): returns the branch inputs ``b [T, B, num_branches]`` and the last trace state. Raises on
        non-finite values (numba backend).
        """
        ctx.set_materialize_grads(False)
        T, B, _ = x.shape
        routed = route is not None
        route_t = _route_or_dummy(route, x)
        state = s0.detach().clone()
        out_b = x.new_empty((T, B, num_branches))
        if backend == "numba":
            finite = np.empty(B, as_numpy(x).dtype)
            _run_cpu("trace_forward", B,
                     (x, route_t, w_syn, kappa, state, per_synapse, routed, out_b, finite))
            if not np.isfinite(finite).all():
                raise_nonfinite()
        else:
            _run_cuda_traces("trace_forward", B * num_branches,
                             (x, route_t, w_syn, kappa, state, per_synapse, routed, out_b))
        ctx.save_for_backward(x, w_syn, route_t, kappa)
        ctx.info = (per_synapse, routed, backend, s0.shape, num_branches)
        return out_b, state

    @staticmethod
    def backward(ctx, g_b, g_state):  # type: ignore[override]
        """Gradients for ``x``, ``w_syn`` (summed over the batch) and the initial trace state ``s0``, from
        those of ``b`` and of the last state; ``None`` for the constants.
        """
        x, w_syn, route_t, kappa = ctx.saved_tensors
        per_synapse, routed, backend, s_shape, nb = ctx.info
        T, B, _ = x.shape
        need_dx = ctx.needs_input_grad[0]
        g_b = x.new_zeros((T, B, nb)) if g_b is None else g_b.contiguous()
        g_state = x.new_zeros(s_shape) if g_state is None else g_state.contiguous()
        dx = torch.zeros_like(x) if need_dx else x.new_zeros((1, 1, 1))
        dw_b = x.new_zeros((B, w_syn.shape[0]))
        if backend == "numba":
            d_state = x.new_empty(s_shape)
            _run_cpu("trace_backward", B, (x, route_t, w_syn, kappa, g_b, g_state, per_synapse, routed,
                                           need_dx, dw_b, d_state, dx))
        else:
            d_state = g_state.clone()
            _run_cuda_traces("trace_backward", B * nb,
                             (x, route_t, w_syn, kappa, g_b, per_synapse, routed, need_dx, dw_b, d_state, dx))
        return (dx if need_dx else None, dw_b.sum(0), d_state if ctx.needs_input_grad[2] else None,
                None, None, None, None, None)


class EventTraceFunction(torch.autograd.Function):
    """``(x, W_eff^T, b_1, v0) -> (U [T, B, H], x_decayed [B, D])`` driven by the non-zero inputs."""

    @staticmethod
    def forward(ctx, x, w_eff_t, bias, v0, kappa: float):  # type: ignore[override]
        """Event-driven first layer: ``U [T, B, H]``, the trace-filtered inputs ``x [T, B, D]`` through
        ``W_eff^T`` plus bias and the decayed initial drive ``v0``, computed from the non-zero inputs only,
        and ``x_decayed [B, D]``, the input traces after the last step.
        """
        ctx.set_materialize_grads(False)
        T, B, D = x.shape
        dtype = as_numpy(x).dtype
        kpow = np.power(np.asarray(kappa, dtype=dtype), np.arange(T + 1)).astype(dtype)
        out_u = x.new_empty((T, B, w_eff_t.shape[1]))
        x_decayed = x.new_empty((B, D))
        finite = np.empty(B, kpow.dtype)
        _run_cpu("events_forward", B, (x, w_eff_t, bias, kpow, v0, out_u, x_decayed, finite))
        if not np.isfinite(finite).all():
            raise_nonfinite()
        ctx.save_for_backward(x, w_eff_t)
        ctx.kpow = kpow
        return out_u, x_decayed

    @staticmethod
    def backward(ctx, g_u, g_xdec):  # type: ignore[override]
        """Gradients for ``x``, ``W_eff^T``, the bias and ``v0`` from those of ``U`` and of ``x_decayed``;
        ``None`` for ``kappa``.
        """
        x, w_eff_t = ctx.saved_tensors
        T, B, D = x.shape
        H = w_eff_t.shape[1]
        need_dx = ctx.needs_input_grad[0]
        g_u = x.new_zeros((T, B, H)) if g_u is None else g_u.contiguous()
        tile = _even_tile(B)
        dw_parts = x.new_zeros((-(-B // tile), D + 1, H))  # row D: the bias gradient
        dv0 = x.new_empty((B, H))
        dp = x.new_empty((T, B, H)) if need_dx else x.new_zeros((1, 1, 1))
        kappa = ctx.kpow[1]
        _run_cpu("events_backward", B, (x, g_u, kappa, tile, need_dx, dw_parts, dv0, dp), tile)
        dx = None
        if need_dx:
            dx = dp @ w_eff_t.t()
            if g_xdec is not None:
                decay = torch.from_numpy(ctx.kpow[:T][::-1].copy()).to(x.device)
                dx = dx + decay[:, None, None] * g_xdec
        parts = dw_parts.sum(0)
        return dx, parts[:D], parts[D], dv0, None


class MemoryFunction(torch.autograd.Function):
    """``(U, W_1m, W_hidden, b_hidden, W_last, b_last, kappa_m, c, m0) -> m [T, B, M]``."""

    @staticmethod
    def forward(ctx, u, w_in, w_hid, b_hid, w_last, b_last, kappa, gain, m0, act: int,  # type: ignore[override]
                backend: str):
        """Run the memory recurrence ``m_t = kappa * m_{t-1} + gain * delta_t`` over time, ``delta_t`` the
        scaled tanh of the MLP of ``U_t`` (its first layer's branch part) and ``kappa * m_{t-1}``; returns
        ``m [T, B, M]``. Saves every layer's pre-activations when a gradient is needed.
        """
        ctx.set_materialize_grads(False)
        T, B, H = u.shape
        M = kappa.shape[0]
        n_layers = w_hid.shape[0] + 1
        store = any(ctx.needs_input_grad[:9])
        m_seq = u.new_empty((T, B, M))
        z_seq = u.new_empty((n_layers, T, B, H)) if store else u.new_zeros((1, 1, 1, 1))
        d_seq = u.new_empty((T, B, M)) if store else u.new_zeros((1, 1, 1))
        consts = _consts(u)
        w_in, w_hid, b_hid, w_last, b_last, kappa, gain, m0 = (
            t.contiguous() for t in (w_in, w_hid, b_hid, w_last, b_last, kappa, gain, m0))
        args = (u, w_in.t().contiguous(), w_hid.transpose(1, 2).contiguous(), b_hid,
                w_last.t().contiguous(), b_last, kappa, gain, m0, consts, act, store, m_seq, z_seq, d_seq)
        _run_memory(False, backend, u, H, M, args)
        if store:
            ctx.save_for_backward(m_seq, z_seq, d_seq, m0, w_in, w_hid, w_last, kappa, gain, consts)
        ctx.info = (act, backend)
        return m_seq

    @staticmethod
    def backward(ctx, g_m):  # type: ignore[override]
        """Reverse-time backward of the memory recurrence: gradients for ``U``, every MLP weight and bias,
        ``kappa``, ``gain`` and ``m0``, from that of ``m``; ``None`` for ``act`` and ``backend``.
        """
        if g_m is None:
            return (None,) * 11
        m_seq, z_seq, d_seq, m0, w_in, w_hid, w_last, kappa, gain, consts = ctx.saved_tensors
        act, backend = ctx.info
        T, B, M = m_seq.shape
        H = w_in.shape[0]
        n_hid = w_hid.shape[0]
        g_m = g_m.contiguous()
        du = m_seq.new_empty((T, B, H))
        dz_hid = m_seq.new_empty((n_hid, T, B, H))
        dz_out = m_seq.new_empty((T, B, M))
        d_kappa_b = m_seq.new_zeros((B, M))
        d_gain_b = m_seq.new_zeros((B, M))
        dm0 = m_seq.new_empty((B, M))
        args = (g_m, m_seq, z_seq, d_seq, m0, w_in, w_hid, w_last, kappa, gain, consts, act,
                du, dz_hid, dz_out, d_kappa_b, d_gain_b, dm0)
        _run_memory(True, backend, m_seq, H, M, args)
        need = ctx.needs_input_grad
        flat = (T * B, -1)
        g_w_in = g_w_hid = g_b_hid = g_w_last = g_b_last = None
        if need[1]:  # sum_t du_t^T (kappa m_{t-1}) without materialising the shifted sequence
            g_w_in = du[0].t() @ m0
            if T > 1:
                g_w_in = g_w_in + du[1:].reshape(-1, H).t() @ m_seq[:-1].reshape(-1, M)
            g_w_in = g_w_in * kappa
        if need[2] or need[3]:
            g_w_hid = torch.stack([dz_hid[k].reshape(flat).t() @ _activate(z_seq[k], act).reshape(flat)
                                   for k in range(n_hid)]) if n_hid else torch.zeros_like(w_hid)
            g_b_hid = dz_hid.sum((1, 2))
        if need[4]:
            g_w_last = dz_out.reshape(flat).t() @ _activate(z_seq[n_hid], act).reshape(flat)
        if need[5]:
            g_b_last = dz_out.sum((0, 1))
        return (du if need[0] else None, g_w_in, g_w_hid if need[2] else None,
                g_b_hid if need[3] else None, g_w_last, g_b_last,
                d_kappa_b.sum(0) if need[6] else None, d_gain_b.sum(0) if need[7] else None,
                dm0 if need[8] else None, None, None)
