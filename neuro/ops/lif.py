"""The LIF-family scan as a torch op: pure-torch reference, kernel-backed autograd, dispatch.

Everything here works on flattened time-major tensors ``x: [T, N]`` and a coefficient table
``prm: [9, P]`` (rows ``alpha, gi, beta, gv, c, th, vr, rho, ba`` of ``neuro.kernels.lif_math``;
neuron ``n`` uses column ``n % P``, so ``P`` is 1 or the per-sample feature count). The step
equations are documented in ``neuro.kernels.lif_math``; ``neuro.functional.lif`` builds ``prm``
from physical parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple, Optional

import torch

from neuro.backends import cuda_simulator_enabled, resolve_backend
from neuro.kernels import lif_math
from neuro.surrogate import ATan, Surrogate, spike

RESET_MODES = MappingProxyType({"subtract": lif_math.RESET_SUBTRACT, "zero": lif_math.RESET_ZERO,
                                "none": lif_math.RESET_NONE,
                                "subtract_delayed": lif_math.RESET_SUBTRACT_DELAYED})


@dataclass(frozen=True)
class LIFConfig:
    """Discrete structure of a LIF-family scan (everything that is not a number per neuron).

    Args:
        reset: ``"subtract"`` (``v -= theta``), ``"zero"`` (``v = v_reset``), ``"none"``, or
            ``"subtract_delayed"`` (snnTorch's default: the reset of a spike is applied one step
            later, ``v_t = beta v_{t-1} + x_t - th * s_{t-1}``).
        ge: fire when ``v >= theta`` (SpikingJelly) instead of ``v > theta`` (snnTorch, Norse).
        spiking: False for the non-spiking leaky integrator (LI).
        detach_reset: treat the spike in the reset as a constant in backward.
        surrogate: pseudo-derivative of the spike.
        has_syn: the model has a synaptic current state (CubaLIF).
        has_adapt: the model has an adaptive threshold (ALIF).
    """

    reset: str = "subtract"
    ge: bool = True
    spiking: bool = True
    detach_reset: bool = False
    surrogate: Surrogate = ATan()
    has_syn: bool = False
    has_adapt: bool = False

    def __post_init__(self) -> None:
        if self.reset not in RESET_MODES:
            raise ValueError(f"reset must be one of {sorted(RESET_MODES)}, got {self.reset!r}")
        if self.reset == "subtract_delayed" and self.has_adapt:
            raise ValueError("reset='subtract_delayed' (snnTorch emulation) is defined for LIF and "
                             "CubaLIF only, not for adaptive thresholds")
        if not isinstance(self.surrogate, Surrogate):
            raise TypeError(f"surrogate must be a neuro.surrogate.Surrogate, got {self.surrogate!r}")

    @property
    def reset_code(self) -> int:
        return RESET_MODES[self.reset]


class LIFScanResult(NamedTuple):
    """Outputs of a scan; sequences are ``[T, N]`` (None when not requested), finals ``[N]``."""

    spikes: Optional[torch.Tensor]
    v_seq: Optional[torch.Tensor]
    i_seq: Optional[torch.Tensor]
    a_seq: Optional[torch.Tensor]
    i_last: torch.Tensor
    v_last: torch.Tensor
    a_last: torch.Tensor


# --------------------------------------------------------------------------------------------
# Pure-torch reference (the oracle): the same operations in the same order as lif_math.


def lif_step_reference(x: torch.Tensor, i: torch.Tensor, v: torch.Tensor, a: torch.Tensor,
                       s_prev: torch.Tensor, prm: torch.Tensor, cfg: LIFConfig):
    """One step on ``[..., F]``-broadcastable tensors; ``prm`` rows broadcast against ``x``.

    Returns ``(s, i, v, a)`` (``s`` is zeros for LI).
    """
    alpha, gi, beta, gv, c, th, vr, rho, ba = prm.unbind(0)
    i_new = alpha * i + gi * x if cfg.has_syn else x
    h = beta * v + (gv * i_new + c)
    if cfg.reset == "subtract_delayed":
        h = h - th * (s_prev.detach() if cfg.detach_reset else s_prev)
    theta = th + ba * a if cfg.has_adapt else th
    if not cfg.spiking:
        return torch.zeros_like(h), i_new, h, a
    s = spike(h, theta.expand_as(h) if theta.shape != h.shape else theta, cfg.surrogate, cfg.ge)
    s_r = s.detach() if cfg.detach_reset else s
    if cfg.reset == "subtract":
        v_new = h - theta * s_r
    elif cfg.reset == "zero":
        v_new = h * (1 - s_r) + vr * s_r
    else:
        v_new = h
    a_new = rho * a + (1 - rho) * s if cfg.has_adapt else a
    return s, i_new, v_new, a_new


def _tile(prm: torch.Tensor, n: int) -> torch.Tensor:
    return prm if prm.shape[1] == n else prm.repeat(1, n // prm.shape[1])


def lif_scan_reference(x: torch.Tensor, prm: torch.Tensor, i0: torch.Tensor, v0: torch.Tensor,
                       a0: torch.Tensor, cfg: LIFConfig, record: bool = False) -> LIFScanResult:
    """Reference scan with torch autograd (iterates over ``x.unbind(0)``: O(T) backward)."""
    p = _tile(prm, x.shape[1])
    i, v, a = i0, v0, a0
    s = (spike(v, p[lif_math.P_TH], cfg.surrogate, cfg.ge) if cfg.reset == "subtract_delayed"
         else torch.zeros_like(v))
    spikes, vs, is_, as_ = [], [], [], []
    for x_t in x.unbind(0):
        s, i, v, a = lif_step_reference(x_t, i, v, a, s, p, cfg)
        spikes.append(s)
        if record:
            vs.append(v)
            is_.append(i)
            as_.append(a)
    stack = torch.stack
    return LIFScanResult(stack(spikes) if cfg.spiking else None,
                         stack(vs) if record else None,
                         stack(is_) if record and cfg.has_syn else None,
                         stack(as_) if record and cfg.has_adapt else None,
                         i if cfg.has_syn else i0, v, a if cfg.has_adapt else a0)


# --------------------------------------------------------------------------------------------
# Kernel launchers: numba (CPU) and cuda (GPU, or the CUDA simulator on CPU tensors).


def _numpy(a):
    return a.detach().numpy() if isinstance(a, torch.Tensor) else a


class _Plan(NamedTuple):
    """What one scan call computes and keeps (shared by the runners)."""

    structure: tuple  # (has_syn, has_adapt, spiking): compile-time constants of the kernels
    record: bool
    need_grad: bool
    need_pgrad: bool


class _NumbaRunner:
    """CPU kernels. Backward recomputes the forward per chunk, so nothing extra is stored."""

    @staticmethod
    def forward(plan: _Plan, cfg: LIFConfig, x, prm, consts, i0, v0, a0):
        from neuro.kernels import lif_cpu

        T, N = x.shape
        has_syn, has_adapt, spiking = plan.structure
        new = x.new_empty
        outs = (new((T, N)) if spiking else None, new((T, N)) if plan.record else None,
                new((T, N)) if plan.record and has_syn else None,
                new((T, N)) if plan.record and has_adapt else None)
        last = (new(N), new(N), new(N))
        finite = lif_cpu.scan_forward(plan.structure, *map(_numpy, (x, prm, consts, i0, v0, a0)),
                                      cfg.reset_code, cfg.ge, *map(_numpy, outs), *map(_numpy, last))
        if not finite:
            raise ValueError("x contains NaN or inf values; spiking neurons need finite inputs")
        return (*outs, *last), ()

    @staticmethod
    def backward(plan: _Plan, cfg: LIFConfig, saved, x, prm, consts, i0, v0, a0, grads, grads_last):
        from neuro.kernels import lif_cpu

        N = x.shape[1]
        dx = torch.empty_like(x)
        d0 = (x.new_empty(N), x.new_empty(N), x.new_empty(N))
        d_prm = x.new_empty((lif_math.N_PARAMS, N)) if plan.need_pgrad else None
        lif_cpu.scan_backward(plan.structure, plan.need_pgrad, *map(_numpy, (x, prm, consts, i0, v0, a0)),
                              cfg.reset_code, cfg.ge, cfg.surrogate.kind, list(map(_numpy, grads)),
                              list(map(_numpy, grads_last)), *map(_numpy, (dx, *d0, d_prm)))
        return dx, d0, d_prm


class _CudaRunner:
    """numba.cuda kernels on torch's current stream (or on the CUDA simulator with CPU tensors).

    One thread per neuron cannot keep a recompute buffer, so the forward stores the pre-reset
    membrane (and current / adaptation sequences when backward needs them). Absent arrays are
    passed as 1x1 placeholders with boolean flags.
    """

    @staticmethod
    def _launch(kernel, n: int, args):
        from numba import cuda

        from neuro.kernels import lif_cuda

        blocks, threads = lif_cuda.blocks_for(n), lif_cuda.THREADS_PER_BLOCK
        if cuda_simulator_enabled():
            kernel[blocks, threads](*map(_numpy, args))
            return
        stream = cuda.external_stream(torch.cuda.current_stream().cuda_stream)
        kernel[blocks, threads, stream](
            *[cuda.as_cuda_array(a.detach(), sync=False) if isinstance(a, torch.Tensor) else a
              for a in args])

    @classmethod
    def forward(cls, plan: _Plan, cfg: LIFConfig, x, prm, consts, i0, v0, a0):
        from neuro.kernels import lif_cuda

        T, N = x.shape
        has_syn, has_adapt, spiking = plan.structure
        store = (spiking, plan.need_grad, plan.record, has_syn and (plan.record or plan.need_pgrad),
                 has_adapt and (plan.record or plan.need_grad))
        s, h, v_seq, i_seq, a_seq = (x.new_empty((T, N)) if flag else _placeholder(x) for flag in store)
        last = (x.new_empty(N), x.new_empty(N), x.new_empty(N))
        cls._launch(lif_cuda.forward_kernel(*plan.structure), N,
                    (x, prm, consts, i0, v0, a0, cfg.reset_code, cfg.ge, s, h, v_seq, i_seq, a_seq,
                     *last, *store))
        outs = (s if spiking else None, v_seq if plan.record else None,
                i_seq if plan.record and has_syn else None, a_seq if plan.record and has_adapt else None)
        return (*outs, *last), (h, i_seq, a_seq)

    @classmethod
    def backward(cls, plan: _Plan, cfg: LIFConfig, saved, x, prm, consts, i0, v0, a0, grads, grads_last):
        from neuro.kernels import lif_cuda

        N = x.shape[1]
        dx = torch.empty_like(x)
        d0 = (x.new_empty(N), x.new_empty(N), x.new_empty(N))
        d_prm = x.new_empty((lif_math.N_PARAMS, N)) if plan.need_pgrad else _placeholder(x)
        present = [g is not None for g in grads]
        grads = [g if g is not None else _placeholder(x) for g in grads]
        kernel = lif_cuda.backward_kernel(*plan.structure, plan.need_pgrad)
        cls._launch(kernel, N, (x, prm, consts, i0, v0, a0, cfg.reset_code, cfg.ge, cfg.surrogate.kind,
                                *saved,
                                *grads, *present,
                                *grads_last, dx, *d0, d_prm))
        return dx, d0, d_prm if plan.need_pgrad else None


_RUNNERS = MappingProxyType({"numba": _NumbaRunner, "cuda": _CudaRunner})


def _placeholder(x: torch.Tensor) -> torch.Tensor:
    return x.new_zeros((1, 1))


def _dtype_consts(cfg: LIFConfig, x: torch.Tensor) -> torch.Tensor:
    """``[0, 1, keep_reset, sg_a, sg_b]`` in the compute dtype (see ``neuro.kernels.lif_cpu``)."""
    a, b = cfg.surrogate.coefficients()
    return torch.tensor([0.0, 1.0, float(not cfg.detach_reset), a, b], dtype=x.dtype, device=x.device)


class LIFScanFunction(torch.autograd.Function):
    """Fused forward scan + reverse-time backward scan on the numba or cuda kernels."""

    @staticmethod
    def forward(ctx, x, prm, i0, v0, a0, cfg: LIFConfig, record: bool, backend: str):  # type: ignore[override]
        ctx.set_materialize_grads(False)
        plan = _Plan((cfg.has_syn, cfg.has_adapt, cfg.spiking), record,
                     any(ctx.needs_input_grad[:5]), ctx.needs_input_grad[1])
        consts = _dtype_consts(cfg, x)
        outs, saved = _RUNNERS[backend].forward(plan, cfg, x, prm, consts, i0, v0, a0)
        ctx.plan, ctx.cfg, ctx.backend, ctx.n_saved = plan, cfg, backend, len(saved)
        ctx.save_for_backward(x, prm, i0, v0, a0, consts, *saved)
        return outs

    @staticmethod
    def backward(ctx, g_s, g_v, g_i, g_a, g_il, g_vl, g_al):  # type: ignore[override]
        x, prm, i0, v0, a0, consts, *saved = ctx.saved_tensors
        N = x.shape[1]

        def last(g):
            return x.new_zeros(N) if g is None else g.contiguous()

        grads = tuple(None if g is None else g.contiguous() for g in (g_s, g_v, g_i, g_a))
        dx, (d_i0, d_v0, d_a0), d_prm = _RUNNERS[ctx.backend].backward(
            ctx.plan, ctx.cfg, tuple(saved), x, prm, consts, i0, v0, a0, grads,
            (last(g_il), last(g_vl), last(g_al)))
        g_prm = None
        if d_prm is not None:
            g_prm = d_prm.view(lif_math.N_PARAMS, N // prm.shape[1], prm.shape[1]).sum(1)
        return dx, g_prm, d_i0, d_v0, d_a0, None, None, None


def lif_scan(x: torch.Tensor, prm: torch.Tensor, i0: torch.Tensor, v0: torch.Tensor, a0: torch.Tensor,
             cfg: LIFConfig, record: bool = False, backend: str = "auto") -> LIFScanResult:
    """Run the LIF-family recurrence over ``x: [T, N]`` on the chosen backend.

    ``prm: [9, P]`` with ``N % P == 0``; ``i0, v0, a0: [N]``. With ``record`` the post-reset
    membrane (and current / adaptation where the model has them) is returned for every step.
    """
    chosen = resolve_backend(backend, x)
    if chosen != "numba" and not bool(torch.isfinite(x).all()):  # the CPU kernel checks as it reads
        raise ValueError("x contains NaN or inf values; spiking neurons need finite inputs")
    if chosen == "torch":
        return lif_scan_reference(x, prm, i0, v0, a0, cfg, record)
    args = [t.contiguous() for t in (x, prm, i0, v0, a0)]
    return LIFScanResult(*LIFScanFunction.apply(*args, cfg, record, chosen))
