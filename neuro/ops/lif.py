"""The LIF-family scan as a torch op: pure-torch reference, kernel-backed autograd, dispatch.

Everything here works on flattened time-major tensors ``x: [T, N]`` and a coefficient table
``prm: [9, P]`` (rows ``alpha, gi, beta, gv, c, th, vr, rho, ba`` of ``neuro.kernels.lif_math``;
neuron ``n`` uses column ``n % P``, so ``P`` is 1 or the per-sample feature count). The step
equations are documented in ``neuro.kernels.lif_math``; ``neuro.functional.lif`` builds ``prm``
from physical parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import NamedTuple

import torch

from neuro.backends import resolve_backend
from neuro.kernels import lif_math
from neuro.ops._launch import check_finite
from neuro.ops._lif_runners import (
    IO_OF_DTYPE,
    STATE_NAMES,
    kernel_config,
    make_plan,
    scan_backward,
    scan_forward,
)
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
        """The kernels' integer code of ``reset`` (``RESET_MODES``: subtract, zero, none, subtract_delayed).
        """
        return RESET_MODES[self.reset]


class LIFScanResult(NamedTuple):
    """Outputs of a scan; sequences are ``[T, N]`` (None when not requested), finals ``[N]``."""

    spikes: torch.Tensor | None
    v_seq: torch.Tensor | None
    i_seq: torch.Tensor | None
    a_seq: torch.Tensor | None
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
# Kernel-backed autograd (runners in neuro.ops._lif_runners; torch.compile ops in neuro.ops._lif_library)

#: low-precision input dtypes: integrated with a float32 state (the coefficient table's dtype)
LOW_PRECISION = tuple(IO_OF_DTYPE)


class LIFScanFunction(torch.autograd.Function):
    """Fused forward scan + reverse-time backward scan on the numba or cuda kernels.

    Once differentiable: the backward kernels are not differentiable themselves, so a second-order
    gradient (``create_graph=True`` through this op, then a backward of the gradient) raises instead
    of coming back silently detached (use ``backend="torch"`` for higher-order gradients).
    """

    @staticmethod
    def forward(ctx, x, prm, i0, v0, a0, cfg: LIFConfig, record: bool, backend: str):  # type: ignore[override]
        """Run the forward scan kernel on ``x [T, N]`` with ``prm [9, P]`` and the initial states ``[N]``;
        returns the seven fields of :class:`~neuro.ops.lif.LIFScanResult` (sequences only when ``record``)
        and saves what the backward scan needs.
        """
        ctx.set_materialize_grads(False)
        plan = make_plan(cfg, record, any(ctx.needs_input_grad[:5]), ctx.needs_input_grad[1], x, backend)
        kc = kernel_config(cfg)
        outs, saved = scan_forward(plan, kc, backend, x, prm, i0, v0, a0)
        ctx.plan, ctx.kc, ctx.backend = plan, kc, backend
        ctx.save_for_backward(x, prm, i0, v0, a0, saved)
        return outs

    @staticmethod
    def backward(ctx, g_s, g_v, g_i, g_a, g_il, g_vl, g_al):  # type: ignore[override]
        """Reverse-time backward scan: gradients for ``x``, ``prm`` and ``i0``, ``v0``, ``a0`` from those of
        the seven outputs (``None`` counts as zero); ``None`` for the configuration arguments. Not
        differentiable itself.
        """
        x, prm, i0, v0, a0, saved = ctx.saved_tensors
        with torch.no_grad():
            grads = scan_backward(ctx.plan, ctx.kc, ctx.backend, saved, x, prm, i0, v0, a0,
                                  (g_s, g_v, g_i, g_a), (g_il, g_vl, g_al))
        if torch.is_grad_enabled() and any(t.requires_grad for t in (x, prm, i0, v0, a0)):
            grads = _not_twice_differentiable(grads)  # create_graph=True: a second backward raises
        return (*grads, None, None, None)


def _not_twice_differentiable(grads: tuple) -> tuple:
    """``grads`` with a grad_fn that raises when differentiated (what ``once_differentiable`` does,
    but also when the incoming gradients are constants: the surrogate's own derivative still depends
    on the saved inputs, so a second-order gradient must not come back silently zero)."""
    present = [g for g in grads if g is not None]
    err = torch._C._functions.DelayedError(
        b"the LIF kernels' backward is not differentiable: second-order gradients through "
        b"backend='numba'/'cuda' are not supported (use backend='torch')", len(present))
    wrapped = iter(err(*(g.detach().requires_grad_() for g in present)))
    return tuple(None if g is None else next(wrapped) for g in grads)


def check_dtypes(x: torch.Tensor, prm: torch.Tensor, *states: torch.Tensor) -> None:
    """The coefficient table and the states share the compute dtype; ``x`` has it too, or is fp16 /
    bf16 with a float32 compute dtype (mixed precision). Raises ``TypeError`` naming the argument."""
    for name, t in zip(("i0", "v0", "a0"), states):
        if t.dtype != prm.dtype:
            raise TypeError(f"lif_scan: {name} has dtype {t.dtype}, expected {prm.dtype} (prm's)")
    if x.dtype != prm.dtype and not (x.dtype in LOW_PRECISION and prm.dtype == torch.float32):
        raise TypeError(f"lif_scan: x has dtype {x.dtype}; expected prm's dtype {prm.dtype}, or "
                        "float16/bfloat16 with float32 coefficients and states")


def lif_scan(x: torch.Tensor, prm: torch.Tensor, i0: torch.Tensor, v0: torch.Tensor, a0: torch.Tensor,
             cfg: LIFConfig, record: bool = False, backend: str = "auto") -> LIFScanResult:
    """Run the LIF-family recurrence over ``x: [T, N]`` on the chosen backend.

    ``prm: [9, P]`` with ``N % P == 0``; ``i0, v0, a0: [N]``. With ``record`` the post-reset
    membrane (and current / adaptation where the model has them) is returned for every step.

    Mixed precision: ``x`` may be float16 or bfloat16 with float32 ``prm`` and states. The spikes
    come back in ``x``'s dtype, states and recorded sequences in float32, ``dx`` in ``x``'s dtype.
    The cuda backend reads and writes the low-precision tensors directly (no conversion pass); the
    numba and torch backends convert ``x`` to float32 first. Spikes equal those of ``x.float()``.

    NaN or inf in ``x`` or in the initial state raise :class:`~neuro.ops._launch.NonFiniteError`
    (a ``ValueError``): at once on the torch and numba backends; on the cuda backend, which
    checks inside its kernel without synchronising, at the next CUDA op on the device or at
    :func:`neuro.ops._launch.check_numerics` (at once under the CUDA simulator).

    Under ``torch.compile`` the kernels run as the ``torch.library`` ops ``neuro::lif_scan_forward`` /
    ``neuro::lif_scan_backward`` (:mod:`neuro.ops._lif_library`): no graph break, same results.
    """
    check_dtypes(x, prm, i0, v0, a0)
    compiling = torch.compiler.is_compiling()
    chosen = (compiled_backend if compiling else _resolve_for)(backend, x.device.type)
    if chosen != "cuda" and x.dtype != prm.dtype:  # mixed precision off the GPU: one conversion pass
        res = lif_scan(x.to(prm.dtype), prm, i0, v0, a0, cfg, record, chosen)
        return res._replace(spikes=None if res.spikes is None else res.spikes.to(x.dtype))
    if chosen == "torch":
        check_finite("x", x)
        check_finite(f"the initial state {STATE_NAMES}", i0, v0, a0)
        return lif_scan_reference(x, prm, i0, v0, a0, cfg, record)
    args = (x.contiguous(), prm.contiguous(), i0.contiguous(), v0.contiguous(), a0.contiguous())
    if compiling:
        from neuro.ops._lif_library import lif_scan_op

        return LIFScanResult(*lif_scan_op(*args, cfg, record, chosen))
    if torch.is_grad_enabled() and (x.requires_grad or prm.requires_grad or i0.requires_grad
                                    or v0.requires_grad or a0.requires_grad):
        return LIFScanResult(*LIFScanFunction.apply(*args, cfg, record, chosen))
    # nothing to differentiate: the forward kernel alone, without autograd's machinery
    plan = make_plan(cfg, record, False, False, x, chosen)
    return LIFScanResult(*scan_forward(plan, kernel_config(cfg), chosen, *args)[0])


@torch.compiler.assume_constant_result
def compiled_backend(backend: str, device_type: str) -> str:
    """The backend ``backend`` resolves to for tensors on ``device_type`` (a constant while tracing)."""
    return _resolve_for(backend, device_type)


@lru_cache(maxsize=32)
def _resolve_for(backend: str, device_type: str) -> str:
    """:func:`neuro.backends.resolve_backend` for tensors on ``device_type`` (cached: it depends only on
    the device type and on what is installed; errors are raised, not cached)."""
    class _Like:  # what resolve_backend reads of a tensor
        device = torch.device(device_type)

    return resolve_backend(backend, _Like)  # type: ignore[arg-type]
