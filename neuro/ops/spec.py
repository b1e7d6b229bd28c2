"""Scans of any :class:`~neuro.kernels.neuron_spec.NeuronSpec` model as a torch op: the torch
reference, the kernel-backed autograd Function and the dispatch.

Everything works on flattened time-major tensors: ``x [T, N]``, the coefficient table
``prm [P, C]`` (rows ``model.rows``; neuron ``n`` uses column ``n % C``), the initial states
``y0 [S, N]``; the states after every step come back as ``rec [S, T, N]``. The step equations are
the spec's (``neuro.kernels.neuron_spec``); ``neuro.functional.spec`` builds ``prm`` and ``y0`` from
parameters and states.

* **Reference** (``backend="torch"``): the model's generated code run on torch tensors, one step at
  a time, with the spike through :func:`neuro.surrogate.spike`. It performs the kernels'
  operations in their order (the oracle), and torch autograd differentiates it independently of
  the generated backward.
* **Kernels** (``"numba"``, ``"cuda"``): ``neuro.kernels.spec_cpu`` / ``spec_cuda``; backward is the
  generated reverse-time step (exact BPTT). Any surrogate runs there: a built-in one is evaluated
  inside the kernel, a user-defined one (``kind = -1``) by its torch ``derivative`` on the
  threshold values ``z_t`` that the forward then stores.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import NamedTuple

import torch

from neuro.backends import resolve_backend
from neuro.kernels import neuron_spec
from neuro.kernels.neuron_spec import GeneratedModel, NeuronSpec
from neuro.ops._launch import (
    SPEC_CODES,
    NonFiniteError,
    check_finite,
    constants,
    launch_cuda,
    non_finite_flag,
    placeholder,
    run_cpu_chunks,
)
from neuro.surrogate import ATan, Surrogate, spike

Model = GeneratedModel | NeuronSpec


@dataclass(frozen=True)
class SpecConfig:
    """The spike options of a scan (what is not a number per neuron).

    Args:
        ge: spike when ``z >= 0`` (NEST, SpikingJelly) instead of ``z > 0`` (snnTorch, Norse).
        detach_reset: no gradient through the spike's effect on the reset.
        surrogate: the spike's pseudo-derivative: a built-in of :mod:`neuro.surrogate` or a
            user-defined :class:`~neuro.surrogate.Surrogate` (evaluated in torch, see module doc).
    """

    ge: bool = True
    detach_reset: bool = False
    surrogate: Surrogate = ATan()

    def __post_init__(self) -> None:
        if not isinstance(self.surrogate, Surrogate):
            raise TypeError(f"surrogate must be a neuro.surrogate.Surrogate, got {self.surrogate!r}")


class SpecScanResult(NamedTuple):
    """Outputs of a scan: ``spikes [T, N]``, ``rec [S, T, N]`` (states after every step; None when
    not requested) and ``last [S, N]``."""

    spikes: torch.Tensor
    rec: torch.Tensor | None
    last: torch.Tensor


def kernel_kind(surrogate: Surrogate) -> int:
    """The surrogate's kind in ``neuro.kernels.surrogate_math``, or ``-1`` for a user-defined one
    (whose ``derivative`` is torch code)."""
    builtin = type(surrogate).__module__ == Surrogate.__module__ and getattr(surrogate, "kind", -1) >= 0
    return int(surrogate.kind) if builtin else -1


def as_model(model: Model) -> GeneratedModel:
    """The generated code of a spec (built once per spec)."""
    return model if isinstance(model, GeneratedModel) else neuron_spec.build(model)


def kc_values(model: GeneratedModel, cfg: SpecConfig, dt: float) -> tuple[float, ...]:
    """The constants array of a scan (``neuron_spec.constants_of``)."""
    a, b = cfg.surrogate.coefficients() if kernel_kind(cfg.surrogate) >= 0 else (0.0, 0.0)
    return neuron_spec.constants_of(model, dt, not cfg.detach_reset, a, b)


# --------------------------------------------------------------------------------------------
# The torch flavour of the generated code (the reference)


def _where_lt(a, b, x, y):
    return torch.where(a < b, x, y)


def _where_ge(a, b, x, y):
    return torch.where(a >= b, x, y)


_TORCH_HELPERS = MappingProxyType({
    "exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt, "tanh": torch.tanh, "powf": torch.pow,
    "maximum": lambda a, b: torch.where(a < b, b, a), "minimum": lambda a, b: torch.where(b < a, b, a),
    "step_gt": lambda z, one, zero: (z > zero).to(z.dtype),
    "step_ge": lambda z, one, zero: (z >= zero).to(z.dtype),
    "select_lt": _where_lt, "select_ge": _where_ge, "surrogate_grad": None})


@lru_cache(maxsize=128)
def _torch_forward(model: GeneratedModel) -> Callable:
    return neuron_spec.namespace(model, {**_TORCH_HELPERS, "fires": None, "gate": None})["model_forward"]


def torch_step(model: GeneratedModel, cfg: SpecConfig) -> Callable:
    """``model_forward(x, y, p, kc, ge) -> (y, s, z)`` on torch tensors for ``cfg``: the spike is
    :func:`neuro.surrogate.spike` (surrogate derivative in backward) and, with ``detach_reset``,
    the reset sees it detached. (The model's code is executed once; each call binds its spike.)"""
    surrogate, detach = cfg.surrogate, cfg.detach_reset

    def fires(z, ge, one, zero):
        return spike(z, zero, surrogate, ge)

    def gate(s):
        return s.detach() if detach else s

    fn = _torch_forward(model)
    return types.FunctionType(fn.__code__, {**fn.__globals__, "fires": fires, "gate": gate}, fn.__name__)


def _tile(prm: torch.Tensor, n: int) -> torch.Tensor:
    return prm if prm.shape[1] in (1, n) else prm.repeat(1, n // prm.shape[1])


def spec_step_reference(model: Model, x: torch.Tensor, y: list[torch.Tensor], rows: list[torch.Tensor],
                        kc: list[torch.Tensor], cfg: SpecConfig, step: Callable | None = None):
    """One step on ``[N]`` tensors (``y`` the states, ``rows`` the table rows broadcastable to
    ``x``, ``kc`` 0-d constants; ``step`` a :func:`torch_step` made once for a loop); returns
    ``(states, spike, z)`` with every state shaped like ``x``."""
    new, s, z = (step or torch_step(as_model(model), cfg))(x, y, rows, kc, cfg.ge)
    return [v if v.shape == x.shape else v.expand_as(x) for v in new], s, z


def spec_scan_reference(model: Model, x: torch.Tensor, prm: torch.Tensor, y0: torch.Tensor, cfg: SpecConfig,
                        dt: float, record: bool = False) -> SpecScanResult:
    """Reference scan with torch autograd (iterates over ``x.unbind(0)``)."""
    model = as_model(model)
    kc = list(constants(kc_values(model, cfg, dt), x.dtype, x.device).unbind(0))
    rows = list(_tile(prm, x.shape[1]).unbind(0))
    y = list(y0.unbind(0))
    step = torch_step(model, cfg)
    spikes, seq = [], []
    for x_t in x.unbind(0):
        y, s, _ = spec_step_reference(model, x_t, y, rows, kc, cfg, step)
        spikes.append(s)
        if record:
            seq.append(torch.stack(y))
    return SpecScanResult(torch.stack(spikes), torch.stack(seq, 1) if record else None, torch.stack(y))


# --------------------------------------------------------------------------------------------
# Kernel launchers


class _Plan(NamedTuple):
    record: bool
    need_grad: bool
    need_pgrad: bool
    sg_kind: int


class _NumbaRunner:
    """CPU kernels over chunks of neurons on several threads; backward recomputes the forward."""

    @staticmethod
    def forward(model, plan, cfg, x, prm, kc, y0):
        from neuro.kernels import spec_cpu

        T, N = x.shape
        S = model.n_states
        spikes = x.new_empty((T, N))
        rec = x.new_empty((S, T, N)) if plan.record else x.new_zeros((1, 1, 1))
        store_z = plan.need_grad and plan.sg_kind < 0
        z = x.new_empty((T, N)) if store_z else placeholder(x)
        last = x.new_empty((S, N))
        chunk, n_chunks = spec_cpu.n_chunks(T, N, S)
        finite = x.new_empty((n_chunks, 2))
        run_cpu_chunks(spec_cpu.forward_kernel(model), n_chunks, x, prm, kc, y0, cfg.ge, chunk, spikes, rec,
                       plan.record, z, store_z, last, finite)
        if not bool(torch.isfinite(finite[:, spec_cpu.FINITE_X]).all()):
            raise NonFiniteError("x contains NaN or inf values; spiking neurons need finite inputs")
        if not bool(torch.isfinite(finite[:, spec_cpu.FINITE_STATE]).all()):
            raise NonFiniteError(f"the initial state of the {model.spec.name} neurons contains NaN or inf")
        return spikes, (rec if plan.record else None), last, (z if store_z else None)

    @staticmethod
    def backward(model, plan, cfg, x, prm, kc, y0, rec, sgp, g_s, g_rec, g_last):
        from neuro.kernels import spec_cpu

        T, N = x.shape
        dx = torch.empty_like(x)
        dy0 = torch.empty_like(y0)
        dprm = x.new_empty((model.n_rows, N)) if plan.need_pgrad else placeholder(x)
        chunk, n_chunks = spec_cpu.n_chunks(T, N, model.n_states)
        run_cpu_chunks(spec_cpu.backward_kernel(model), n_chunks, x, prm, kc, y0, cfg.ge, plan.sg_kind,
                       placeholder(x) if sgp is None else sgp, chunk,
                       placeholder(x) if g_s is None else g_s, g_s is not None,
                       x.new_zeros((1, 1, 1)) if g_rec is None else g_rec, g_rec is not None, g_last,
                       dx, dy0, dprm, plan.need_pgrad)
        return dx, dy0, dprm if plan.need_pgrad else None


class _CudaRunner:
    """numba.cuda kernels on torch's current stream (or the CUDA simulator with CPU tensors); the
    forward stores every state for backward; non-finite inputs and states set the device flag."""

    @staticmethod
    def forward(model, plan, cfg, x, prm, kc, y0):
        from neuro.kernels import spec_cuda

        T, N = x.shape
        S = model.n_states
        spikes = x.new_empty((T, N))
        store = plan.record or plan.need_grad
        rec = x.new_empty((S, T, N)) if store else x.new_zeros((1, 1, 1))
        store_z = plan.need_grad and plan.sg_kind < 0
        z = x.new_empty((T, N)) if store_z else placeholder(x)
        last = x.new_empty((S, N))
        flag = non_finite_flag(x.device)
        launch_cuda(spec_cuda.forward_kernel(model), spec_cuda.blocks_for(N), spec_cuda.THREADS_PER_BLOCK,
                    (x, prm, kc, y0, cfg.ge, spikes, rec, store, z, store_z, last, flag.flag, SPEC_CODES))
        flag.after_launch()
        return spikes, (rec if store else None), last, (z if store_z else None)

    @staticmethod
    def backward(model, plan, cfg, x, prm, kc, y0, rec, sgp, g_s, g_rec, g_last):
        from neuro.kernels import spec_cuda

        N = x.shape[1]
        dx = torch.empty_like(x)
        dy0 = torch.empty_like(y0)
        dprm = x.new_empty((model.n_rows, N)) if plan.need_pgrad else placeholder(x)
        launch_cuda(spec_cuda.backward_kernel(model), spec_cuda.blocks_for(N), spec_cuda.THREADS_PER_BLOCK,
                    (x, prm, kc, y0, cfg.ge, plan.sg_kind, placeholder(x) if sgp is None else sgp, rec,
                     placeholder(x) if g_s is None else g_s, g_s is not None,
                     x.new_zeros((1, 1, 1)) if g_rec is None else g_rec, g_rec is not None, g_last,
                     dx, dy0, dprm, plan.need_pgrad))
        return dx, dy0, dprm if plan.need_pgrad else None


_RUNNERS = MappingProxyType({"numba": _NumbaRunner, "cuda": _CudaRunner})


class SpecScanFunction(torch.autograd.Function):
    """Fused forward scan + reverse-time backward scan of a spec model on the numba or cuda kernels."""

    @staticmethod
    def forward(ctx, x, prm, y0, model: GeneratedModel, cfg: SpecConfig, kc: torch.Tensor,  # type: ignore[override]
                record: bool, backend: str):
        """Run the spec model's forward kernel on ``x [T, N]`` from the states ``y0 [S, N]``; returns
        ``(spikes [T, N], rec [S, T, N] or None, last [S, N])``, ``rec`` only when ``record``.
        """
        ctx.set_materialize_grads(False)
        plan = _Plan(record, any(ctx.needs_input_grad[:3]), ctx.needs_input_grad[1],
                     kernel_kind(cfg.surrogate))
        spikes, rec, last, z = _RUNNERS[backend].forward(model, plan, cfg, x, prm, kc, y0)
        ctx.model, ctx.plan, ctx.cfg, ctx.backend = model, plan, cfg, backend
        saved_rec = rec if backend == "cuda" and rec is not None else x.new_zeros((1, 1, 1))
        ctx.save_for_backward(x, prm, y0, kc, saved_rec, placeholder(x) if z is None else z)
        ctx.has_z = z is not None
        if rec is not None and not record:  # kept for backward only
            rec = None
        return spikes, rec, last

    @staticmethod
    def backward(ctx, g_s, g_rec, g_last):  # type: ignore[override]
        """Reverse-time backward of the spec model: gradients for ``x``, ``prm`` (summed over neurons sharing
        a column) and ``y0`` (a user surrogate's derivative evaluated on the stored pre-spike values);
        ``None`` for the other arguments.
        """
        x, prm, y0, kc, rec, z = ctx.saved_tensors
        sgp = ctx.cfg.surrogate.derivative(z).contiguous() if ctx.has_z else None
        g_last = torch.zeros_like(y0) if g_last is None else g_last.contiguous()
        dx, dy0, dprm = _RUNNERS[ctx.backend].backward(
            ctx.model, ctx.plan, ctx.cfg, x, prm, kc, y0, rec, sgp,
            None if g_s is None else g_s.contiguous(), None if g_rec is None else g_rec.contiguous(), g_last)
        g_prm = None
        if dprm is not None:
            N, C = x.shape[1], prm.shape[1]
            g_prm = dprm.view(prm.shape[0], N // C, C).sum(1)
        return dx, g_prm, dy0, None, None, None, None, None


def spec_scan(model: Model, x: torch.Tensor, prm: torch.Tensor, y0: torch.Tensor, cfg: SpecConfig, dt: float,
              record: bool = False, backend: str = "auto") -> SpecScanResult:
    """Run a spec model over ``x: [T, N]`` on the chosen backend.

    ``prm: [P, C]`` with ``N % C == 0`` (rows ``model.rows``); ``y0: [S, N]``; ``dt`` the step in
    seconds (``p.dt`` in the step). With ``record`` the states after every step come back as
    ``rec [S, T, N]``. NaN or inf in ``x`` or ``y0`` raise :class:`~neuro.ops._launch.NonFiniteError`
    (on the cuda backend at the next CUDA op or :func:`~neuro.ops._launch.check_numerics`).
    """
    model = as_model(model)
    T, N = x.shape
    if prm.shape[0] != model.n_rows or N % prm.shape[1] != 0:
        raise ValueError(f"prm must be [{model.n_rows}, C] with {N} % C == 0 (rows {model.rows}), "
                         f"got {tuple(prm.shape)}")
    if tuple(y0.shape) != (model.n_states, N):
        raise ValueError(f"y0 must be [{model.n_states}, {N}] (states {model.states}), got {tuple(y0.shape)}")
    chosen = resolve_backend(backend, x)
    if chosen == "torch":
        check_finite("x", x)
        check_finite(f"the initial state of the {model.spec.name} neurons", y0)
        return spec_scan_reference(model, x, prm, y0, cfg, dt, record)
    kc = constants(kc_values(model, cfg, dt), x.dtype, x.device)
    args = [t.contiguous() for t in (x, prm, y0)]
    return SpecScanResult(*SpecScanFunction.apply(*args, model, cfg, kc, record, chosen))


__all__ = ["SpecConfig", "SpecScanResult", "SpecScanFunction", "kernel_kind", "spec_scan",
           "spec_scan_reference", "spec_step_reference"]
