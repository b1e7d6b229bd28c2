"""The LIF-family scan as ``torch.library`` custom ops, so ``torch.compile`` keeps it in its graph.

Two ops, each with a fake (meta) implementation giving its output shapes, and autograd registered
between them:

* ``neuro::lif_scan_forward(x, prm, i0, v0, a0, flags, kernel_ints, surrogate, backend)`` ->
  ``[spikes, v_seq, i_seq, a_seq, i_last, v_last, a_last, saved]`` (absent sequences as empty
  tensors; ``saved`` the state checkpoints the backward restarts from, empty without gradients);
* ``neuro::lif_scan_backward(x, prm, i0, v0, a0, saved, g_s, g_v, g_i, g_a, g_il, g_vl, g_al, flags,
  kernel_ints, surrogate, backend)`` -> ``[dx, d_prm, d_i0, d_v0, d_a0]`` (``d_prm`` empty when the
  coefficients need no gradient); it has no autograd of its own, so a second-order gradient raises.

``flags = [has_syn, has_adapt, spiking, record, need_grad, need_pgrad]``, ``kernel_ints = [reset, ge,
detach_reset, surrogate kind]``, ``surrogate = [a, b]``. Both run the same runners as the eager
autograd Function (:mod:`neuro.ops._lif_runners`), so compiled and eager results are identical; the
runners make no host synchronisation (the CUDA non-finite check goes through the device flag).
:func:`neuro.ops.lif.lif_scan` calls :func:`lif_scan_op` when it is being compiled.
"""

from __future__ import annotations

import torch

from neuro.kernels import lif_math
from neuro.ops._lif_runners import (
    IO_OF_DTYPE,
    KernelConfig,
    Plan,
    kernel_config,
    scan_backward,
    scan_forward,
)

Tensor = torch.Tensor
N_OUTPUTS = 8


def _plan(flags: list[int], x: Tensor, backend: str) -> Plan:
    has_syn, has_adapt, spiking, record, need_grad, need_pgrad = (bool(f) for f in flags)
    io = IO_OF_DTYPE[x.dtype] if (backend == "cuda" and x.dtype in IO_OF_DTYPE) else "native"
    return Plan((has_syn, has_adapt, spiking), record, need_grad, need_pgrad, io)


def _config(kernel_ints: list[int], surrogate: list[float]) -> KernelConfig:
    reset, ge, detach, kind = kernel_ints
    return KernelConfig(int(reset), bool(ge), bool(detach), int(kind), float(surrogate[0]),
                        float(surrogate[1]))


@torch.library.custom_op("neuro::lif_scan_forward", mutates_args=())
def lif_scan_forward(x: Tensor, prm: Tensor, i0: Tensor, v0: Tensor, a0: Tensor, flags: list[int],
                     kernel_ints: list[int], surrogate: list[float], backend: str) -> list[Tensor]:
    outs, saved = scan_forward(_plan(flags, x, backend), _config(kernel_ints, surrogate), backend, x, prm,
                               i0, v0, a0)
    # fresh tensors only (a custom op's outputs must not be shared): absent ones as new empty tensors
    return [x.new_empty(0) if o is None else o for o in outs] + [saved if saved.numel() else x.new_empty(0)]


@lif_scan_forward.register_fake
def _forward_fake(x, prm, i0, v0, a0, flags, kernel_ints, surrogate, backend):
    has_syn, has_adapt, spiking, record, need_grad, _ = (bool(f) for f in flags)
    T, N = x.shape
    dt = prm.dtype

    def seq(present: bool, dtype: torch.dtype) -> Tensor:
        return x.new_empty((T, N), dtype=dtype) if present else x.new_empty(0)

    outs = [seq(spiking, x.dtype), seq(record, dt), seq(record and has_syn, dt),
            seq(record and has_adapt, dt), *(x.new_empty(N, dtype=dt) for _ in range(3))]
    n_ck = _checkpoints(T, backend) if need_grad else 0
    shape = (1 + has_syn + has_adapt, n_ck, N) if n_ck else (0,)
    return outs + [x.new_empty(shape, dtype=dt)]


def _checkpoints(T, backend: str):
    """Rows of the forward's checkpoints (``n_checkpoints`` of the backend's kernel module)."""
    if backend == "cuda":
        from neuro.kernels.lif_cuda import n_checkpoints
    else:
        from neuro.kernels.lif_cpu import n_checkpoints
    return n_checkpoints(T)


@torch.library.custom_op("neuro::lif_scan_backward", mutates_args=())
def lif_scan_backward(x: Tensor, prm: Tensor, i0: Tensor, v0: Tensor, a0: Tensor, saved: Tensor,
                      g_s: Tensor | None, g_v: Tensor | None, g_i: Tensor | None, g_a: Tensor | None,
                      g_il: Tensor | None, g_vl: Tensor | None, g_al: Tensor | None, flags: list[int],
                      kernel_ints: list[int], surrogate: list[float], backend: str) -> list[Tensor]:
    dx, d_prm, d_i0, d_v0, d_a0 = scan_backward(_plan(flags, x, backend), _config(kernel_ints, surrogate),
                                                backend, saved, x, prm, i0, v0, a0, (g_s, g_v, g_i, g_a),
                                                (g_il, g_vl, g_al))
    return [dx, prm.new_empty(0) if d_prm is None else d_prm, d_i0, d_v0, d_a0]


@lif_scan_backward.register_fake
def _backward_fake(x, prm, i0, v0, a0, saved, g_s, g_v, g_i, g_a, g_il, g_vl, g_al, flags, kernel_ints,
                   surrogate, backend):
    N = x.shape[1]
    d_prm = prm.new_empty((lif_math.N_PARAMS, prm.shape[1])) if flags[5] else prm.new_empty(0)
    return [torch.empty_like(x), d_prm, *(prm.new_empty(N) for _ in range(3))]


def _setup_context(ctx, inputs, output) -> None:
    x, prm, i0, v0, a0, flags, kernel_ints, surrogate, backend = inputs
    ctx.set_materialize_grads(False)
    ctx.save_for_backward(x, prm, i0, v0, a0, output[7])
    ctx.mark_non_differentiable(output[7])
    ctx.meta = (list(flags), list(kernel_ints), list(surrogate), backend)


def _backward(ctx, grads):
    x, prm, i0, v0, a0, saved = ctx.saved_tensors
    flags, kernel_ints, surrogate, backend = ctx.meta
    g = [None if t is None or t.numel() == 0 else t for t in grads[:7]]
    dx, d_prm, d_i0, d_v0, d_a0 = lif_scan_backward(x, prm, i0, v0, a0, saved, *g, flags, kernel_ints,
                                                    surrogate, backend)
    return (dx, d_prm if flags[5] else None, d_i0, d_v0, d_a0, None, None, None, None)


torch.library.register_autograd("neuro::lif_scan_forward", _backward, setup_context=_setup_context)


def lif_scan_op(x: Tensor, prm: Tensor, i0: Tensor, v0: Tensor, a0: Tensor, cfg, record: bool,
                backend: str) -> tuple:
    """The outputs of :class:`neuro.ops.lif.LIFScanResult` (None where absent) through the custom ops."""
    need_pgrad = torch.is_grad_enabled() and prm.requires_grad
    need_grad = torch.is_grad_enabled() and any(t.requires_grad for t in (x, prm, i0, v0, a0))
    flags = [int(cfg.has_syn), int(cfg.has_adapt), int(cfg.spiking), int(record), int(need_grad),
             int(need_pgrad)]
    kc = kernel_config(cfg)
    ints = [kc.reset, int(kc.ge), int(kc.detach_reset), kc.sg_kind]
    outs = lif_scan_forward(x, prm, i0, v0, a0, flags, ints, [kc.sg_a, kc.sg_b], backend)
    spikes, v_seq, i_seq, a_seq, i_last, v_last, a_last = outs[:7]
    return (spikes if cfg.spiking else None, v_seq if record else None,
            i_seq if record and cfg.has_syn else None, a_seq if record and cfg.has_adapt else None,
            i_last, v_last, a_last)
