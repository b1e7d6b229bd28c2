"""The AM-SU scan as a torch op: pure-torch reference (the oracle), kernel-backed autograd, dispatch.

Equations in :mod:`neuro.kernels.amsu_math`. Tensors: ``x [T, B, F]``; LIF coefficients
``prm [9, P]`` (``P`` = 1 or ``F``, rows of ``neuro.kernels.lif_math``); astrocyte table
``aprm [5, D]`` (rows ``gamma, K, kappa_g, kappa_th, kappa_I``); :class:`Domains` (which neurons
each astrocyte enwraps); states ``i, v [B, F]`` and ``a [B, D]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import torch

from neuro.backends import resolve_backend
from neuro.kernels import amsu_math, lif_math
from neuro.ops._launch import (
    AMSU_CODES,
    NonFiniteError,
    call_cpu,
    check_finite,
    constants,
    launch_cuda,
    non_finite_flag,
    placeholder,
)
from neuro.ops.lif import LIFConfig, LIFScanResult, lif_step_reference
from neuro.surrogate import ATan, Surrogate

RESETS = MappingProxyType({"subtract": lif_math.RESET_SUBTRACT, "zero": lif_math.RESET_ZERO,
                           "none": lif_math.RESET_NONE})


@dataclass(frozen=True)
class AMSUConfig:
    """Discrete structure of an AM-SU scan (reset ``subtract | zero | none``, ``>=`` firing,
    detached reset, surrogate, synaptic current state)."""

    reset: str = "subtract"
    ge: bool = True
    detach_reset: bool = False
    surrogate: Surrogate = ATan()
    has_syn: bool = False

    def __post_init__(self) -> None:
        if self.reset not in RESETS:
            raise ValueError(f"AM-SU reset must be one of {sorted(RESETS)}, got {self.reset!r}")
        if not isinstance(self.surrogate, Surrogate):
            raise TypeError(f"surrogate must be a neuro.surrogate.Surrogate, got {self.surrogate!r}")

    def lif(self) -> LIFConfig:
        """The :class:`~neuro.ops.lif.LIFConfig` of the neuron part: the same reset, comparison, surrogate,
        synapse and ``detach_reset`` options, always spiking and without adaptation (the astrocyte takes
        that role).
        """
        return LIFConfig(reset=self.reset, ge=self.ge, spiking=True, detach_reset=self.detach_reset,
                         surrogate=self.surrogate, has_syn=self.has_syn, has_adapt=False)


class Domains:
    """A partition of ``n`` neurons into astrocyte domains: ``of[f]`` is neuron ``f``'s domain.

    Also holds the kernels' CSR view (``ptr [D+1]``, ``idx [n]``: members of each domain in
    increasing order) and ``sizes``. Build it with :meth:`from_groups`, :meth:`from_labels`,
    :meth:`contiguous` or :meth:`grid`.
    """

    def __init__(self, labels, n: int | None = None) -> None:
        lab = np.asarray(labels)
        if lab.ndim != 1 or lab.size == 0 or not np.issubdtype(lab.dtype, np.integer):
            raise ValueError(f"domain labels must be a non-empty 1-D integer array, got {labels!r}")
        if n is not None and lab.size != n:
            raise ValueError(f"domain labels cover {lab.size} neurons, the layer has {n}")
        if lab.min() < 0:
            raise ValueError(f"domain indices must be >= 0, got {lab.min()}")
        D = int(lab.max()) + 1
        sizes = np.bincount(lab, minlength=D)
        if (sizes == 0).any():
            raise ValueError(f"domain indices must be 0..D-1 without gaps; domains "
                             f"{np.nonzero(sizes == 0)[0][:5].tolist()} are empty")
        self.of = lab.astype(np.int64)
        self.n, self.D = lab.size, D
        self.sizes = sizes
        self.idx = np.argsort(lab, kind="stable").astype(np.int64)
        self.ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self._tensors: dict = {}  # (dtype, device) -> tensors, built once

    @classmethod
    def from_labels(cls, labels, n: int | None = None) -> Domains:
        """Domains from one domain index per neuron (``labels [n]``, integers ``0 .. D-1`` without gaps);
        ``n``, if given, is checked against the number of labels.
        """
        return cls(labels, n)

    @classmethod
    def from_groups(cls, groups, n: int) -> Domains:
        """Index groups (lists of neuron indices), which must cover ``0..n-1`` exactly once."""
        labels = np.full(n, -1, np.int64)
        for d, group in enumerate(groups):
            g = np.atleast_1d(np.asarray(group))
            if g.size == 0:
                raise ValueError(f"domain {d} is empty")
            if not np.issubdtype(g.dtype, np.integer):
                raise TypeError(f"domain {d} must hold integer neuron indices, got {g.dtype}")
            if g.min() < 0 or g.max() >= n:
                raise IndexError(f"domain {d} holds neuron index {int(g.min() if g.min() < 0 else g.max())}"
                                 f", out of range 0..{n - 1}")
            values, counts = np.unique(g, return_counts=True)
            if (counts > 1).any():
                raise ValueError(f"domain {d} lists neuron {int(values[counts > 1][0])} twice")
            taken = labels[g] >= 0
            if taken.any():
                f = int(g[taken][0])
                raise ValueError(f"overlapping domains are not allowed: neuron {f} is in domains "
                                 f"{int(labels[f])} and {d} (each neuron is enwrapped by one astrocyte)")
            labels[g] = d
        missing = np.nonzero(labels < 0)[0]
        if missing.size:
            raise ValueError(f"neurons {missing[:5].tolist()} belong to no domain; every neuron needs "
                             "one astrocyte (give them a domain of their own)")
        return cls(labels, n)

    @classmethod
    def contiguous(cls, n: int, n_domains: int) -> Domains:
        """``n_domains`` consecutive blocks of (nearly) equal size."""
        if not 1 <= n_domains <= n:
            raise ValueError(f"n_domains must be in 1..{n}, got {n_domains}")
        return cls(np.repeat(np.arange(n_domains), [len(b) for b in np.array_split(np.arange(n), n_domains)]))

    @classmethod
    def grid(cls, shape, tile, stride=None) -> Domains:
        """2D neighbourhoods: features ``(C, H, W)`` or ``(H, W)`` split into ``tile`` squares of
        the spatial plane; one astrocyte covers all channels of its tile. ``stride`` smaller than
        the tile would make neighbourhoods overlap, which is an error."""
        shape = tuple(int(s) for s in shape)
        if len(shape) not in (2, 3):
            raise ValueError(f"grid domains need a (C, H, W) or (H, W) feature shape, got {shape}")
        th, tw = (tile, tile) if isinstance(tile, int) else tuple(tile)
        sh, sw = (th, tw) if stride is None else ((stride, stride) if isinstance(stride, int)
                                                  else tuple(stride))
        if sh < th or sw < tw:
            raise ValueError(f"overlapping domains are not allowed: stride {(sh, sw)} < tile {(th, tw)}")
        if sh != th or sw != tw:
            raise ValueError(f"stride {(sh, sw)} > tile {(th, tw)} leaves neurons without an astrocyte")
        H, W = shape[-2:]
        if th < 1 or tw < 1 or th > H or tw > W:
            raise ValueError(f"tile {(th, tw)} must fit the {H}x{W} plane")
        rows, cols = np.arange(H) // th, np.arange(W) // tw
        plane = rows[:, None] * (cols.max() + 1) + cols[None, :]
        labels = np.broadcast_to(plane, shape).reshape(-1)
        return cls(labels)

    def tensors(self, dtype: torch.dtype, device) -> tuple:
        """``(ptr, idx, inv_m, of)`` as tensors (``inv_m = 1 / size`` in ``dtype``)."""
        key = (dtype, str(device))
        if key not in self._tensors:
            inv = torch.tensor(1.0 / self.sizes, dtype=dtype, device=device)
            self._tensors[key] = (torch.as_tensor(self.ptr, device=device),
                                  torch.as_tensor(self.idx, device=device), inv,
                                  torch.as_tensor(self.of, device=device))
        return self._tensors[key]

    def __repr__(self) -> str:
        return f"Domains(n={self.n}, D={self.D}, sizes {self.sizes.min()}..{self.sizes.max()})"


class AMSUScanResult(LIFScanResult):
    """``spikes [T, B, F]``; when recorded ``v_seq``, ``i_seq`` (with a synapse) and
    ``a_seq [T, B, D]``; final states (the fields of :class:`~neuro.ops.lif.LIFScanResult`)."""

    __slots__ = ()


# --------------------------------------------------------------------------------------------
# Reference


def amsu_scan_reference(x: torch.Tensor, prm: torch.Tensor, aprm: torch.Tensor, domains: Domains,
                        i0: torch.Tensor, v0: torch.Tensor, a0: torch.Tensor, cfg: AMSUConfig,
                        record: bool = False) -> AMSUScanResult:
    """The AM-SU recurrence in plain torch (autograd through every step): the oracle."""
    T, B, F = x.shape
    _, _, inv_m, of = domains.tensors(x.dtype, x.device)
    p = prm.expand(lif_math.N_PARAMS, F) if prm.shape[1] == 1 else prm
    gamma, K, kg, kth, ki = aprm.unbind(0)
    kg_n, kth_n, ki_n = kg[of], kth[of], ki[of]
    lif_cfg = cfg.lif()
    i, v, a = i0, v0, a0
    zeros = torch.zeros_like(v0)
    spikes, vs, is_, as_ = [], [], [], []
    for t in range(T):
        c = a * a / (a * a + K * K)
        cn = c[:, of]
        xe = (1 + kg_n * cn) * x[t] + ki_n * cn
        rows = list(p.unbind(0))
        rows[lif_math.P_TH] = rows[lif_math.P_TH] + kth_n * cn
        pt = torch.stack(torch.broadcast_tensors(*rows))
        s, i_new, v, _ = lif_step_reference(xe, i, v, zeros, zeros, pt, lif_cfg)
        i = i_new if cfg.has_syn else i
        r = torch.zeros_like(a).index_add(1, of, s) * inv_m
        a = gamma * a + (1 - gamma) * r
        spikes.append(s)
        if record:
            vs.append(v)
            is_.append(i)
            as_.append(a)
    return AMSUScanResult(torch.stack(spikes), torch.stack(vs) if record else None,
                          torch.stack(is_) if record and cfg.has_syn else None,
                          torch.stack(as_) if record else None, i, v, a)


# --------------------------------------------------------------------------------------------
# Kernels


def _consts(cfg: AMSUConfig, x: torch.Tensor) -> torch.Tensor:
    a, b = cfg.surrogate.coefficients()
    return constants((0.0, 1.0, float(not cfg.detach_reset), a, b), x.dtype, x.device)


def _launch_forward(backend: str, x: torch.Tensor, n_samples: int, n_tasks: int, args: tuple) -> None:
    """Run the forward kernel of ``backend`` (one CPU task per sample, one GPU thread per task); NaN
    or inf in the input or the initial state raise :class:`~neuro.ops._launch.NonFiniteError` (CPU:
    at once; CUDA: through the device's flag)."""
    if backend == "numba":
        from neuro.kernels import amsu_cpu

        finite = x.new_empty((n_samples, 2))
        call_cpu(amsu_cpu.amsu_scan_forward, *args, finite)
        if not bool(torch.isfinite(finite[:, 0]).all()):
            raise NonFiniteError("x contains NaN or inf values; spiking neurons need finite inputs")
        if not bool(torch.isfinite(finite[:, 1]).all()):
            raise NonFiniteError("the initial state (i0, v0, a0) contains NaN or inf values")
        return
    from neuro.kernels import amsu_cuda

    flag = non_finite_flag(x.device)
    launch_cuda(amsu_cuda.amsu_scan_forward, amsu_cuda.blocks_for(n_tasks), amsu_cuda.THREADS_PER_BLOCK,
                (*args, flag.flag, AMSU_CODES))
    flag.after_launch()


def _launch_backward(backend: str, n_tasks: int, args: tuple) -> None:
    if backend == "numba":
        from neuro.kernels import amsu_cpu

        call_cpu(amsu_cpu.amsu_scan_backward, *args)
        return
    from neuro.kernels import amsu_cuda

    launch_cuda(amsu_cuda.amsu_scan_backward, amsu_cuda.blocks_for(n_tasks), amsu_cuda.THREADS_PER_BLOCK,
                args)


class AMSUScanFunction(torch.autograd.Function):
    """Fused forward scan + reverse-time backward scan on the numba or cuda kernels.

    Works on flattened tensors: ``x [T, B*F]``, ``prm [9, F]``, ``i0, v0 [B*F]``, ``a0 [B*D]``. The
    forward keeps the pre-reset membrane and the astrocyte trace (and the current with a synapse) for
    backward.
    """

    @staticmethod
    def forward(ctx, x, prm, aprm, i0, v0, a0, tables, F: int, D: int, cfg: AMSUConfig,  # type: ignore[override]
                record: bool, backend: str):
        """Run the forward kernel on the flattened tensors; returns ``(spikes [T, B*F], v_seq, i_seq, a_seq,
        i_last, v_last, a_last)``, the sequences only when ``record`` (``i_seq`` only with a synapse) and
        ``a_seq`` ``[T, B*D]``. Saves what the reverse-time backward needs.
        """
        ctx.set_materialize_grads(False)
        ptr, idx, of, inv_m = tables
        need_grad = any(ctx.needs_input_grad[:6])
        need_pgrad = ctx.needs_input_grad[1]
        T, N = x.shape
        consts = _consts(cfg, x)
        i_run, v_run = i0.clone(), v0.clone()
        a_last = a0.new_empty(a0.shape)
        s = x.new_empty((T, N))
        store = (True, need_grad, record, cfg.has_syn and (need_pgrad or record), record or need_grad)
        h_seq, v_seq, i_seq = (x.new_empty((T, N)) if flag else placeholder(x) for flag in store[1:4])
        a_seq = x.new_empty((T, a0.shape[0])) if store[4] else placeholder(x)
        _launch_forward(backend, x, a0.shape[0] // D, a0.shape[0],
                        (x, prm, aprm, (ptr, idx, of), inv_m, consts, RESETS[cfg.reset], cfg.ge,
                         cfg.has_syn, F, D, a0, (i_run, v_run), a_last, (s, h_seq, v_seq, i_seq, a_seq),
                         store))
        ctx.cfg, ctx.backend, ctx.F, ctx.D, ctx.need_pgrad = cfg, backend, F, D, need_pgrad
        ctx.save_for_backward(x, prm, aprm, i0, v0, a0, ptr, idx, of, inv_m, consts, h_seq, i_seq,
                              a_seq)
        i_out = i_seq if record and cfg.has_syn else None
        return (s, v_seq if record else None, i_out, a_seq if record else None,
                i_run if cfg.has_syn else i0.detach().clone(), v_run, a_last)

    @staticmethod
    def backward(ctx, g_s, g_v, g_i, g_a, g_il, g_vl, g_al):  # type: ignore[override]
        """Reverse-time backward kernel: gradients for ``x``, ``prm`` (summed over the batch), the astrocyte
        parameters (summed over the batch) and the initial states ``i0``, ``v0``, ``a0``, from the
        gradients of the seven forward outputs (``None`` entries count as zero).
        """
        x, prm, aprm, i0, v0, a0, ptr, idx, of, inv_m, consts, h_seq, i_seq, a_seq = ctx.saved_tensors
        cfg = ctx.cfg
        N = x.shape[1]
        dv_c = v0.new_zeros(N) if g_vl is None else g_vl.contiguous().clone()
        di_c = i0.new_zeros(N) if g_il is None or not cfg.has_syn else g_il.contiguous().clone()
        da_last = a0.new_zeros(a0.shape) if g_al is None else g_al.contiguous()
        dx = torch.empty_like(x)
        d_a0 = torch.empty_like(a0)
        d_prm = x.new_zeros((lif_math.N_PARAMS, N)) if ctx.need_pgrad else placeholder(x)
        d_aprm = x.new_empty((amsu_math.N_ASTRO_PARAMS, a0.shape[0]))
        grads = (g_s, g_v, g_i, g_a)
        _launch_backward(ctx.backend, a0.shape[0],
                         (x, prm, aprm, (ptr, idx, of), inv_m, consts, RESETS[cfg.reset], cfg.ge,
                          cfg.has_syn, cfg.surrogate.kind, ctx.need_pgrad, ctx.F, ctx.D, (i0, v0, a0),
                          (h_seq, i_seq, a_seq),
                          tuple(placeholder(x) if g is None else g.contiguous() for g in grads),
                          tuple(g is not None for g in grads), (dv_c, di_c), da_last, dx, d_a0, d_prm,
                          d_aprm))
        g_prm = None
        if ctx.need_pgrad:
            g_prm = d_prm.view(lif_math.N_PARAMS, N // ctx.F, ctx.F).sum(1)
        g_aprm = d_aprm.view(amsu_math.N_ASTRO_PARAMS, -1, ctx.D).sum(1)
        d_i0 = di_c if cfg.has_syn else None
        return dx, g_prm, g_aprm, d_i0, dv_c, d_a0, None, None, None, None, None, None


def _check_scan_args(x, prm, aprm, domains: Domains, i0, v0, a0) -> None:
    if x.dim() != 3:
        raise ValueError(f"x must be [T, B, F], got shape {tuple(x.shape)}")
    T, B, F = x.shape
    if domains.n != F:
        raise ValueError(f"the domains cover {domains.n} neurons, x has F = {F}")
    if prm.dim() != 2 or prm.shape[0] != lif_math.N_PARAMS or prm.shape[1] not in (1, F):
        raise ValueError(f"prm must be [{lif_math.N_PARAMS}, 1 or F={F}], got {tuple(prm.shape)}")
    if tuple(aprm.shape) != (amsu_math.N_ASTRO_PARAMS, domains.D):
        raise ValueError(f"aprm must be [{amsu_math.N_ASTRO_PARAMS}, D={domains.D}], got "
                         f"{tuple(aprm.shape)}")
    for name, t, shape in (("i0", i0, (B, F)), ("v0", v0, (B, F)), ("a0", a0, (B, domains.D))):
        if tuple(t.shape) != shape:
            raise ValueError(f"{name} must have shape {shape}, got {tuple(t.shape)}")
    gamma, K = aprm[amsu_math.A_GAMMA], aprm[amsu_math.A_K]
    if bool((K <= 0).any()) or bool(((gamma < 0) | (gamma > 1)).any()):
        raise ValueError("astrocyte parameters out of range: K must be > 0 and gamma in [0, 1]")
    if bool((a0 < 0).any()):
        raise ValueError("a0 (astrocyte activity) must be >= 0")


def amsu_scan(x: torch.Tensor, prm: torch.Tensor, aprm: torch.Tensor, domains: Domains,
              i0: torch.Tensor, v0: torch.Tensor, a0: torch.Tensor, cfg: AMSUConfig,
              record: bool = False, backend: str = "auto") -> AMSUScanResult:
    """Run the AM-SU recurrence over ``x [T, B, F]`` on the chosen backend (``auto | torch |
    numba | cuda``); with ``record`` the membrane and astrocyte traces are returned too."""
    chosen = resolve_backend(backend, x)
    _check_scan_args(x, prm, aprm, domains, i0, v0, a0)
    if chosen == "torch":  # the kernels check x and the states as they read them
        check_finite("x", x)
        check_finite("the initial state (i0, v0, a0)", i0, v0, a0)
        return amsu_scan_reference(x, prm, aprm, domains, i0, v0, a0, cfg, record)
    T, B, F = x.shape
    ptr, idx, inv_m, of = domains.tensors(x.dtype, x.device)
    prm_f = prm.expand(lif_math.N_PARAMS, F)  # the kernels read one column per neuron
    args = [t.contiguous() for t in (x.reshape(T, B * F), prm_f, aprm.to(x.dtype), i0.reshape(-1),
                                     v0.reshape(-1), a0.reshape(-1))]
    s, v_seq, i_seq, a_seq, i_last, v_last, a_last = AMSUScanFunction.apply(
        *args, (ptr, idx, of, inv_m), F, domains.D, cfg, record, chosen)
    return AMSUScanResult(s.view(T, B, F), None if v_seq is None else v_seq.view(T, B, F),
                          None if i_seq is None else i_seq.view(T, B, F),
                          None if a_seq is None else a_seq.view(T, B, domains.D),
                          i_last.view(B, F), v_last.view(B, F), a_last.view(B, domains.D))
