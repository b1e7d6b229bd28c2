"""The host side of the LIF-family kernels: one runner per backend, shared by the autograd Function
(:mod:`neuro.ops.lif`) and the ``torch.library`` ops (:mod:`neuro.ops._lif_library`).

A runner allocates its outputs (nothing else: no clone, no conversion pass, no ``isfinite`` pass,
no host synchronisation on the cuda backend) and launches one forward or one backward kernel.

* :class:`NumbaRunner` — CPU kernels (``neuro.kernels.lif_cpu``) over chunks of neurons on
  ``neuro.kernels._parallel``'s thread pool; with gradients the forward stores only state
  checkpoints every ``lif_cpu.STEPS`` steps, from which the backward recomputes segment by segment.
  Large outputs come from :mod:`neuro.ops._buffers` (no page faults per call).
* :class:`CudaRunner` — ``numba.cuda`` kernels (``neuro.kernels.lif_cuda``) on torch's current
  stream, or on the CUDA simulator with CPU tensors. With gradients the forward stores only state
  checkpoints every ``lif_cuda.STEPS`` steps; fp16/bf16 inputs are read, and spikes and ``dx``
  written, in their own format (``io``), with float32 states.

Both take a :class:`Plan`, a :class:`KernelConfig` and the flattened tensors ``x [T, N]`` (compute
dtype, or fp16/bf16 on the cuda backend), ``prm [9, P]``, ``state0 = (i0, v0, a0)``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from neuro.kernels import lif_math
from neuro.ops._launch import (
    LIF_CODES,
    NonFiniteError,
    as_numpy,
    cached_tensors,
    constants,
    launch_cuda,
    non_finite_flag,
    run_cpu_chunks,
)

STATE_NAMES = "(i0, v0, a0)"
#: element formats of the CUDA kernels for each low-precision dtype (``neuro.kernels._cuda_io``)
IO_OF_DTYPE = {torch.float16: "float16", torch.bfloat16: "bfloat16"}
#: gradient modes (``neuro.kernels.lif_cuda.GRAD_*``; the CPU kernels take the same)
GRAD_ABSENT, GRAD_FULL, GRAD_SCALAR = 0, 1, 2


class KernelConfig(NamedTuple):
    """The runtime configuration the kernels read (built once per ``LIFConfig``, see
    :func:`kernel_config`): reset code (``lif_math.RESET_*``), comparison, whether the
    reset is detached, surrogate kind and its two coefficients."""

    reset: int
    ge: bool
    detach_reset: bool
    sg_kind: int
    sg_a: float
    sg_b: float


class Plan(NamedTuple):
    """What one scan call computes and keeps."""

    structure: tuple  # (has_syn, has_adapt, spiking): compile-time constants of the kernels
    record: bool
    need_grad: bool
    need_pgrad: bool
    io: str           # element format of x, spikes, dL/ds and dx ("native", "float16", "bfloat16")


@cached_tensors(maxsize=512)
def placeholder_of(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A 1x1 zero array standing for an absent array (made once per dtype and device; kernels never
    write into it because they get a flag with it)."""
    return torch.zeros((1, 1), dtype=dtype, device=device)


@cached_tensors(maxsize=512)
def empty_of(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A shared empty tensor (what a runner returns as ``saved`` when there is nothing to save)."""
    return torch.empty(0, dtype=dtype, device=device)


@cached_tensors(maxsize=64)
def zeros_of(n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A read-only ``[n]`` zero vector (the final-state gradient nobody asked for), made once."""
    return torch.zeros(n, dtype=dtype, device=device)


def kernel_view(t: torch.Tensor) -> torch.Tensor:
    """``t`` as the kernels see it: bfloat16 as its int16 bit patterns (no array interface exports
    bfloat16), anything else unchanged."""
    return t.view(torch.int16) if t.dtype is torch.bfloat16 else t


def grad_mode(g: torch.Tensor | None, like: torch.Tensor) -> tuple[torch.Tensor, int]:
    """``(array, GRAD_*)`` for a gradient of a ``[T, N]`` output: absent -> placeholder; one value
    broadcast everywhere (all strides 0, e.g. from ``out.sum()``) -> that element as a 1x1 view;
    else the gradient itself, made contiguous (a copy only when it is not)."""
    if g is None:
        return placeholder_of(like.dtype, like.device), GRAD_ABSENT
    if g.dim() == 2 and g.stride() == (0, 0):
        return g.as_strided((1, 1), (1, 1)), GRAD_SCALAR
    return g.contiguous(), GRAD_FULL


def final_grad(g: torch.Tensor | None, n: int, like: torch.Tensor) -> torch.Tensor:
    """The gradient of a final state, or a shared zero vector when there is none."""
    return zeros_of(n, like.dtype, like.device) if g is None else g.contiguous()


#: the least work (neuron-steps) worth waking another thread for (~0.1-0.3 ms of kernel time)
MIN_STEPS_PER_THREAD = 1 << 18


def min_chunks_per_thread(T: int, chunk: int) -> int:
    """Chunks a thread must get before a CPU scan is split: a small call runs on the calling thread
    (handing work to a sleeping thread costs more than it saves)."""
    return max(1, -(-MIN_STEPS_PER_THREAD // max(1, T * chunk)))


def _raise_non_finite(finite: np.ndarray, x: torch.Tensor) -> None:
    """The error of a CPU forward whose initial or final state is not finite (``lif_cpu``'s
    ``finite`` sums): which input is to blame is found here, on the error path only."""
    from neuro.kernels import lif_cpu

    if not np.isfinite(finite[:, lif_cpu.FINITE_STATE]).all():
        raise NonFiniteError(f"the initial state {STATE_NAMES} contains NaN or inf values")
    if not bool(torch.isfinite(x).all()):
        raise NonFiniteError("x contains NaN or inf values; spiking neurons need finite inputs")
    raise NonFiniteError("the neuron state overflowed to inf or NaN although x and the initial state are "
                         f"finite: the inputs are too large for {x.dtype} (or a coefficient is not finite)")


class NumbaRunner:
    """CPU kernels over chunks of neurons on several threads (see the module docstring)."""

    @staticmethod
    def forward(plan: Plan, cfg: KernelConfig, x, prm, consts, state0):
        from neuro.kernels import lif_cpu
        from neuro.ops._buffers import empty

        T, N = x.shape
        has_syn, has_adapt, spiking = plan.structure
        ph = placeholder_of(x.dtype, x.device)
        store = (plan.record, plan.record and has_syn, plan.record and has_adapt)
        seqs = (empty((T, N), x.dtype) if spiking else None,
                *(empty((T, N), x.dtype) if flag else None for flag in store))
        last = (x.new_empty(N), x.new_empty(N), x.new_empty(N))
        n_ck = lif_cpu.n_checkpoints(T) if plan.need_grad else 0
        ckpt = (torch.empty((1 + has_syn + has_adapt, n_ck, N), dtype=x.dtype) if n_ck
                else x.new_empty(0))
        chunk, n_chunks = lif_cpu.n_chunks(N, torch.get_num_threads())
        finite = np.empty((n_chunks, 2), as_numpy(x).dtype)
        kernel = lif_cpu.forward_kernel(*plan.structure, prm.shape[1] == 1)  # P = 1: uniform coefficients
        run_cpu_chunks(kernel, n_chunks, x, prm, consts, state0, cfg.reset, cfg.ge, chunk,
                       tuple(ph if s is None else s for s in seqs),
                       (*store, n_ck > 0), last, checkpoint_views(ckpt, plan.structure), finite,
                       min_items_per_thread=min_chunks_per_thread(T, chunk))
        if not np.isfinite(finite).all():
            _raise_non_finite(finite, x)
        return (*seqs, *last), ckpt

    @staticmethod
    def backward(plan: Plan, cfg: KernelConfig, saved: torch.Tensor, x, prm, consts, state0, grads,
                 grads_last):
        from neuro.kernels import lif_cpu
        from neuro.ops._buffers import empty

        T, N = x.shape
        dx = empty((T, N), x.dtype)
        d0 = (x.new_empty(N), x.new_empty(N), x.new_empty(N))
        ph = placeholder_of(x.dtype, x.device)
        d_prm = x.new_empty((lif_math.N_PARAMS, N)) if plan.need_pgrad else ph
        arrays, modes = zip(*(grad_mode(g, x) for g in grads))
        chunk, n_chunks = lif_cpu.n_chunks(N, torch.get_num_threads())
        kernel = lif_cpu.backward_kernel(*plan.structure, plan.need_pgrad, prm.shape[1] == 1)
        run_cpu_chunks(kernel, n_chunks, x, prm, consts, state0, cfg.reset, cfg.ge, cfg.sg_kind, chunk,
                       checkpoint_views(saved, plan.structure), tuple(arrays), tuple(modes),
                       tuple(final_grad(g, N, x) for g in grads_last), dx, d0, d_prm,
                       min_items_per_thread=min_chunks_per_thread(T, chunk))
        return dx, d0, d_prm if plan.need_pgrad else None


class CudaRunner:
    """numba.cuda kernels on torch's current stream (see the module docstring). Non-finite inputs and
    states are reported through the device's ``NonFiniteFlag``, without waiting."""

    @staticmethod
    def forward(plan: Plan, cfg: KernelConfig, x, prm, consts, state0):
        from neuro.kernels import lif_cuda

        T, N = x.shape
        has_syn, has_adapt, spiking = plan.structure
        record = plan.record
        dt, dev = prm.dtype, x.device
        ph = placeholder_of(dt, dev)
        s = torch.empty((T, N), dtype=x.dtype, device=dev) if spiking else None
        v_seq = torch.empty((T, N), dtype=dt, device=dev) if record else None
        i_seq = torch.empty((T, N), dtype=dt, device=dev) if record and has_syn else None
        a_seq = torch.empty((T, N), dtype=dt, device=dev) if record and has_adapt else None
        last = (torch.empty(N, dtype=dt, device=dev), torch.empty(N, dtype=dt, device=dev),
                torch.empty(N, dtype=dt, device=dev))
        n_ck = lif_cuda.n_checkpoints(T) if plan.need_grad else 0
        if n_ck:  # one allocation, a row of checkpoints per state the model has (checkpoint_views)
            ckpt = torch.empty((1 + has_syn + has_adapt, n_ck, N), dtype=dt, device=dev)
            ck_views = checkpoint_views(ckpt, plan.structure)
        else:
            ckpt, ck_views = empty_of(dt, dev), (ph, ph, ph)
        flag = non_finite_flag(dev)
        sk = kernel_view(s if spiking else placeholder_of(x.dtype, dev))
        launch_cuda(lif_cuda.forward_kernel(has_syn, has_adapt, spiking, plan.io), lif_cuda.blocks_for(N),
                    lif_cuda.THREADS_PER_BLOCK,
                    (kernel_view(x), prm, consts, state0, cfg.reset, cfg.ge,
                     (sk, v_seq if record else ph, i_seq if i_seq is not None else ph,
                      a_seq if a_seq is not None else ph),
                     (spiking, record, i_seq is not None, a_seq is not None, n_ck > 0), last, ck_views,
                     flag.flag, LIF_CODES), device=dev)
        flag.after_launch()
        return (s, v_seq, i_seq, a_seq, *last), ckpt

    @staticmethod
    def backward(plan: Plan, cfg: KernelConfig, saved: torch.Tensor, x, prm, consts, state0, grads,
                 grads_last):
        from neuro.kernels import lif_cuda

        N = x.shape[1]
        dt, dev = prm.dtype, x.device
        dx = torch.empty_like(x)
        d0 = tuple(torch.empty(N, dtype=dt, device=dev) for _ in range(3))
        d_prm = torch.empty((lif_math.N_PARAMS, N), dtype=dt, device=dev) if plan.need_pgrad else \
            placeholder_of(dt, dev)
        g_s, mode_s = grad_mode(grads[0], x)
        rest = [grad_mode(g, prm) for g in grads[1:]]
        arrays = (kernel_view(g_s), *(a for a, _ in rest))
        modes = (mode_s, *(m for _, m in rest))
        launch_cuda(lif_cuda.backward_kernel(*plan.structure, plan.need_pgrad, plan.io),
                    lif_cuda.blocks_for(N), lif_cuda.THREADS_PER_BLOCK,
                    (kernel_view(x), prm, consts, state0, cfg.reset, cfg.ge, cfg.sg_kind,
                     checkpoint_views(saved, plan.structure), arrays, modes,
                     tuple(final_grad(g, N, prm) for g in grads_last),
                     kernel_view(dx), d0, d_prm), device=dev)
        return dx, d0, d_prm if plan.need_pgrad else None


RUNNERS = {"numba": NumbaRunner, "cuda": CudaRunner}


def dtype_consts(cfg: KernelConfig, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``[0, 1, keep_reset, sg_a, sg_b]`` in the compute dtype (see ``neuro.kernels.lif_cpu``), made
    once per configuration, dtype and device."""
    return constants((0.0, 1.0, float(not cfg.detach_reset), cfg.sg_a, cfg.sg_b), dtype, device)


def checkpoint_views(ckpt: torch.Tensor, structure: tuple) -> tuple:
    """``(ck_i, ck_v, ck_a)`` of the CUDA forward's checkpoint tensor ``[states, n, N]`` (rows: ``v``,
    then ``i`` with a synapse, then ``a`` with adaptation); placeholders where there is none."""
    has_syn, has_adapt, _ = structure
    ph = placeholder_of(ckpt.dtype, ckpt.device)
    if ckpt.dim() != 3:
        return ph, ph, ph
    return (ckpt[1] if has_syn else ph, ckpt[0], ckpt[-1] if has_adapt else ph)


def make_plan(cfg, record: bool, need_grad: bool, need_pgrad: bool, x: torch.Tensor,
              backend: str) -> Plan:
    """What a kernel call computes: the structure, what is recorded and kept, the input format."""
    io = IO_OF_DTYPE[x.dtype] if (backend == "cuda" and x.dtype in IO_OF_DTYPE) else "native"
    return Plan((cfg.has_syn, cfg.has_adapt, cfg.spiking), record, need_grad, need_pgrad, io)


_KERNEL_CONFIGS: dict = {}


def kernel_config(cfg) -> KernelConfig:
    """The numbers the kernels read of a ``neuro.ops.lif.LIFConfig`` (cached per configuration)."""
    kc = _KERNEL_CONFIGS.get(cfg)
    if kc is None:
        a, b = cfg.surrogate.coefficients()
        kc = _KERNEL_CONFIGS[cfg] = KernelConfig(cfg.reset_code, cfg.ge, cfg.detach_reset, cfg.surrogate.kind,
                                                 float(a), float(b))
    return kc


def scan_forward(plan: Plan, kc: KernelConfig, backend: str, x, prm, i0, v0, a0):
    """``(outputs, saved)`` of one forward kernel call: outputs as ``neuro.ops.lif.LIFScanResult``'s
    fields (None where absent), ``saved`` the one tensor the backward needs besides the inputs (the
    state checkpoints; empty without gradients)."""
    consts = dtype_consts(kc, prm.dtype, x.device)
    return RUNNERS[backend].forward(plan, kc, x, prm, consts, (i0, v0, a0))


def scan_backward(plan: Plan, kc: KernelConfig, backend: str, saved, x, prm, i0, v0, a0, grads,
                  grads_last):
    """``(dx, d_prm [9, P] or None, d_i0, d_v0, d_a0)`` of one backward kernel call; ``grads`` are
    those of the four sequences, ``grads_last`` of the final ``(i, v, a)`` (None where absent)."""
    consts = dtype_consts(kc, prm.dtype, x.device)
    dx, (d_i0, d_v0, d_a0), d_prm = RUNNERS[backend].backward(plan, kc, saved, x, prm, consts, (i0, v0, a0),
                                                               grads, grads_last)
    g_prm = None
    if d_prm is not None:
        N, P = x.shape[1], prm.shape[1]
        g_prm = d_prm.view(lif_math.N_PARAMS, N // P, P).sum(1)
    return dx, g_prm, d_i0, d_v0, d_a0
