r"""Synaptic delays as torch ops: the dense oracle, sparse taps on the kernels, and the dispatch.

A delayed synaptic layer (Hammouamri et al. 2024, DCLS) maps ``x: [T, B, I]`` to
``y: [T + extra, B, O]`` through a causal temporal convolution with kernel ``Kern [O, I, K]``:

.. math::  y[t, b, o] = \sum_i \sum_{n=0}^{K-1} Kern[o, i, n]\, x[t - (K - 1 - n), b, i]

(tap ``n`` carries delay ``d = K - 1 - n``; ``x`` is zero outside ``[0, T)``; the DCLS recipe pads
the input with ``K - 1`` zeros on the left and ``extra = (K - 1) // 2`` on the right). Each synapse
``(o, i)`` holds ``KC`` elements with weight ``w``, position ``p`` (DCLS convention, centred:
``q = p + K // 2`` is the tap index, so the delay is ``K - 1 - q``) and width ``sigma``:

* ``"gauss"`` (training): :math:`\sigma_e = |\sigma| + 0.27`,
  :math:`g[n] = e^{-(n - q)^2 / (2 \sigma_e^2)}`, :math:`Kern = \sum_k w\, g / (\sum_n g[n] + 10^{-7})`;
* ``"round"`` (inference): one tap of weight ``w`` at the rounded position, an integer delay
  (DCLS's evaluation: triangle version with ``sigma = 0`` and rounded positions).

Three implementations of the same map:

* the **oracle** — :func:`gaussian_kernel` / :func:`triangle_kernel` build the dense kernel and
  :func:`conv_reference` applies ``conv1d`` (what the ``DCLS`` package does, any device);
* **sparse taps** — :func:`gaussian_taps` keeps only the few taps around each position that
  hold all but ``TOLERANCE`` (5e-6) of its Gaussian (:func:`rounded_taps`: one tap), and
  :class:`DelayTapsFunction` runs the Numba / CUDA kernels of ``neuro.kernels.delay_*`` (layout
  in ``neuro.kernels.delay_math``); the same kernels serve fixed integer delays on any
  :class:`Connectivity` (e.g. one delay per neuron);
* :func:`delay_conv` picks between them: dense conv when the Gaussian is wide, sparse when the
  window is small enough that touching only its taps is cheaper (:func:`choose_method`).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import NamedTuple

import torch
import torch.nn.functional as F

from neuro.backends import resolve_backend
from neuro.kernels import delay_math
from neuro.ops._launch import cached_tensors, call_cpu, constants

Number = float | torch.Tensor
MODES = ("gauss", "round")
METHODS = ("auto", "dense", "sparse")
# How many times more multiply-adds per second the dense conv (GEMM) does than the sparse-tap
# kernels: the sparse path wins when window * advantage < K. CPU: measured by
# benchmarks/bench_delays.py on the 2-core EPYC (1.5-3). CUDA: neuro.ops._delay_cuda.dense_advantage()
# (8 for the element kernels, as before; the tile kernels' rate table, unmeasured), see choose_method.
DENSE_ADVANTAGE = MappingProxyType({"numba": 2.5})
# Without gradients, CPU inputs with at most this fraction of nonzeros (spikes) take the
# event-driven kernel, whose work is proportional to the number of spikes (its scattered writes
# cost more per update: the crossover with the gather kernel measured ~1.5-2 % on the 2-core EPYC).
EVENT_DENSITY = 0.01


# --------------------------------------------------------------------------------------------
# Static structure: which input feeds which synapse.


class Connectivity(NamedTuple):
    """Fixed fan-in structure of a delayed layer, with its transpose for the input gradient.

    ``src [O, F]``: input of synapse ``f`` of output ``o``. ``dst [I, G]`` / ``slot [I, G]``: the
    output fed by the ``g``-th synapse leaving input ``i`` and that synapse's index ``f``.
    """

    src: torch.Tensor
    dst: torch.Tensor
    slot: torch.Tensor
    n_in: int
    all_to_all: bool = False  # src[o] = 0..I-1 for every o: the transpose is a permutation


@cached_tensors(maxsize=32)
def dense_connectivity(n_in: int, n_out: int, device: torch.device = torch.device("cpu")) -> Connectivity:
    """Every output has one synapse from every input (a delayed ``Linear``)."""
    src = torch.arange(n_in, dtype=torch.int32, device=device).expand(n_out, n_in).contiguous()
    dst = torch.arange(n_out, dtype=torch.int32, device=device).expand(n_in, n_out).contiguous()
    slot = torch.arange(n_in, dtype=torch.int32, device=device)[:, None].expand(n_in, n_out).contiguous()
    return Connectivity(src, dst, slot, n_in, all_to_all=True)


@cached_tensors(maxsize=32)
def one_to_one_connectivity(n: int, device: torch.device = torch.device("cpu")) -> Connectivity:
    """Output ``c`` has a single synapse, from input ``c`` (a delay per neuron)."""
    idx = torch.arange(n, dtype=torch.int32, device=device)[:, None].contiguous()
    return Connectivity(idx, idx, torch.zeros_like(idx), n)


# --------------------------------------------------------------------------------------------
# The oracle: dense kernels and conv1d.


def _centre(position: torch.Tensor, kernel_size: int) -> torch.Tensor:
    return position + kernel_size // 2


def gaussian_kernel(weight: torch.Tensor, position: torch.Tensor, sigma: Number,
                    kernel_size: int) -> torch.Tensor:
    """DCLS "gauss" kernel ``[O, I, K]`` from ``weight, position [O, I, KC]`` and ``sigma``."""
    q = _centre(position, kernel_size).unsqueeze(-1)
    sig = (torch.as_tensor(sigma, dtype=weight.dtype, device=weight.device).abs()
           + delay_math.SIGMA_OFFSET)
    if sig.dim() > 0:
        sig = sig.unsqueeze(-1)
    n = torch.arange(kernel_size, dtype=weight.dtype, device=weight.device)
    g = torch.exp(-0.5 * ((n - q) / sig) ** 2)
    g = g / (g.sum(-1, keepdim=True) + delay_math.NORM_EPS)
    return (weight.unsqueeze(-1) * g).sum(2)


def triangle_kernel(weight: torch.Tensor, position: torch.Tensor, sigma: Number,
                    kernel_size: int) -> torch.Tensor:
    """DCLS "max" kernel: ``g[n] = relu(|sigma| + 1 - |n - q|)`` normalised (one-hot at sigma 0,
    integer q)."""
    q = _centre(position, kernel_size).unsqueeze(-1)
    sig = torch.as_tensor(sigma, dtype=weight.dtype, device=weight.device).abs() + 1.0
    if sig.dim() > 0:
        sig = sig.unsqueeze(-1)
    n = torch.arange(kernel_size, dtype=weight.dtype, device=weight.device)
    g = torch.relu(sig - (n - q).abs())
    g = g / (g.sum(-1, keepdim=True) + delay_math.NORM_EPS)
    return (weight.unsqueeze(-1) * g).sum(2)


def conv_reference(x: torch.Tensor, kernel: torch.Tensor, extra_steps: int) -> torch.Tensor:
    """``y [T + extra, B, O]`` of the causal convolution of ``x [T, B, I]`` with ``kernel [O, I, K]``."""
    K = kernel.shape[2]
    xp = F.pad(x.permute(1, 2, 0), (K - 1, extra_steps))
    return F.conv1d(xp, kernel).permute(2, 0, 1)


def taps_to_kernel(coef: torch.Tensor, delays: torch.Tensor, conn: Connectivity, r_per_syn: int,
                   max_delay: int) -> torch.Tensor:
    """The dense kernel ``[O, I, max_delay + 1]`` equivalent to a set of taps (differentiable in coef)."""
    O, M = coef.shape
    rows = torch.arange(O, device=coef.device)[:, None].expand(O, M)
    inputs = conn.src.long().repeat_interleave(r_per_syn, dim=1)
    taps = max_delay - delays.long()
    kernel = coef.new_zeros(O, conn.n_in, max_delay + 1)
    return kernel.index_put((rows, inputs, taps), coef, accumulate=True)


# --------------------------------------------------------------------------------------------
# Sparse taps of a learnable layer.


class Taps(NamedTuple):
    """Taps of every synapse, grouped by output: ``coef`` and integer ``delays`` ``[O, F * R]``.

    ``window``: the taps come in elements of that many consecutive delays (``delays[o, e*W + j] =
    delays[o, e*W] - j``: the Gaussian window), which the GPU tile kernels use; 1 promises nothing.
    """

    coef: torch.Tensor
    delays: torch.Tensor
    r_per_syn: int
    window: int = 1


def effective_sigma(sigma: Number, like: torch.Tensor) -> torch.Tensor:
    """``|sigma| + 0.27`` as a tensor in ``like``'s dtype and device."""
    return torch.as_tensor(sigma, dtype=like.dtype, device=like.device).abs() + delay_math.SIGMA_OFFSET


def gaussian_window(sigma: Number, like: torch.Tensor, kernel_size: int,
                    tol: float = delay_math.TOLERANCE) -> int:
    """Taps per element of the truncated Gaussian for the widest ``sigma``."""
    return delay_math.window_size(float(effective_sigma(sigma, like).detach().max()), kernel_size, tol)


def gaussian_taps_reference(weight: torch.Tensor, position: torch.Tensor, sigma: Number,
                            kernel_size: int, tol: float = delay_math.TOLERANCE) -> Taps:
    """The taps of :func:`gaussian_kernel` in a window of ``W`` taps around each position (torch).

    The oracle of the tap-construction kernels used by :func:`gaussian_taps`. ``W`` is the
    smallest window that drops at most ``tol`` of a normalised Gaussian of the widest ``sigma_e``
    wherever its centre lies (``neuro.kernels.delay_math.window_size``; 5 taps at
    ``sigma_e = 0.5``, the end of training). Each element's window starts at
    ``round(q - (W - 1) / 2)``, moved inside the kernel at its edges; normalisation runs over the
    window, so the kernel differs from the dense one by the dropped mass only. Cost and memory are
    ``O(O * I * KC * W)``; differentiable in ``weight``, ``position`` and ``sigma``.
    """
    O, I, KC = weight.shape
    K = kernel_size
    sig = effective_sigma(sigma, weight)
    W = delay_math.window_size(float(sig.detach().max()), K, tol)
    q = _centre(position, K)
    with torch.no_grad():
        n0 = torch.clamp(torch.round(q - (W - 1) / 2), 0, K - W).to(torch.int64)
        n = n0.unsqueeze(-1) + torch.arange(W, device=weight.device)
    s = sig.unsqueeze(-1) if sig.dim() > 0 else sig
    g = torch.exp(-0.5 * ((n.to(weight.dtype) - q.unsqueeze(-1)) / s) ** 2)
    g = g / (g.sum(-1, keepdim=True) + delay_math.NORM_EPS)
    coef = (weight.unsqueeze(-1) * g).reshape(O, I * KC * W)
    delays = (K - 1 - n).to(torch.int32).reshape(O, I * KC * W)
    return Taps(coef, delays, KC * W, W)


def gaussian_taps(weight: torch.Tensor, position: torch.Tensor, sigma: Number, kernel_size: int,
                  tol: float = delay_math.TOLERANCE, backend: str = "torch") -> Taps:
    """The window taps of :func:`gaussian_taps_reference`, on the kernels for ``numba``/``cuda``.

    The kernels compute each element's window, normalisation and gradients in registers
    (``neuro.kernels.delay_math.gauss_taps_*``) instead of a dozen ``[O, I, KC, W]`` tensors.
    """
    if backend == "torch":
        return gaussian_taps_reference(weight, position, sigma, kernel_size, tol)
    sig = effective_sigma(sigma, weight)
    W = delay_math.window_size(float(sig.detach().max()), kernel_size, tol)
    sigma_t = torch.as_tensor(sigma, dtype=weight.dtype, device=weight.device)
    coef, delays = GaussianTapsFunction.apply(weight, position, sigma_t, kernel_size, W, backend)
    return Taps(coef, delays, weight.shape[2] * W, W)


def rounded_taps(weight: torch.Tensor, position: torch.Tensor, kernel_size: int) -> Taps:
    """One tap per element at the rounded position (an integer delay), coefficient ``w``.

    Elements whose rounded position falls outside the kernel contribute nothing, as in the
    dense triangle kernel at ``sigma = 0``.
    """
    O, I, KC = weight.shape
    q = torch.round(_centre(position.detach(), kernel_size))
    inside = (q >= 0) & (q <= kernel_size - 1)
    coef = torch.where(inside, weight, torch.zeros_like(weight)).reshape(O, I * KC)
    delays = (kernel_size - 1 - q.clamp(0, kernel_size - 1)).to(torch.int32).reshape(O, I * KC)
    return Taps(coef, delays, KC)


# --------------------------------------------------------------------------------------------
# Layout: time-major [T, B, C] <-> batch blocks [NB, C, steps * BC] (neuro.kernels.delay_math).


def batch_block(batch: int) -> int:
    """Samples per batch block: 8 (one 256-bit vector of float32), fewer when that avoids padding."""
    for bc in (8, 4, 2, 1):
        if batch % bc == 0 and (bc >= 4 or batch < 8):
            return bc
    return 8


def to_blocks(x: torch.Tensor, bc: int, left: int, right: int) -> torch.Tensor:
    """``[T, B, C]`` -> ``[NB, C, (left + T + right) * bc]`` with zero steps and zero samples added."""
    T, B, C = x.shape
    nb = -(-B // bc)
    out = x.new_zeros(nb, C, left + T + right, bc)
    if nb * bc != B:
        x = F.pad(x, (0, 0, 0, nb * bc - B))
    out[:, :, left:left + T, :] = x.reshape(T, nb, bc, C).permute(1, 3, 0, 2)
    return out.view(nb, C, -1)


def from_blocks(y: torch.Tensor, batch: int, bc: int) -> torch.Tensor:
    """``[NB, C, steps * bc]`` -> ``[steps, B, C]`` (drops the padding samples)."""
    nb, C, L = y.shape
    return y.view(nb, C, L // bc, bc).permute(2, 0, 3, 1).reshape(L // bc, nb * bc, C)[:, :batch]


# --------------------------------------------------------------------------------------------
# Kernel runners.


class _NumbaRunner:
    """The CPU kernels (``neuro.kernels.delay_cpu``): threaded, or serial below ``SERIAL_WORK``."""

    @staticmethod
    def taps_forward(w, p, sig, half, K, W, consts, coef, delays) -> None:
        from neuro.kernels import delay_cpu

        small = coef.numel() < delay_cpu.SERIAL_WORK // 16
        kernel = delay_cpu.gauss_taps_forward_serial if small else delay_cpu.gauss_taps_forward
        call_cpu(kernel, w, p, sig, half, K, W, consts, coef, delays)

    @staticmethod
    def taps_backward(w, p, sig, half, K, W, consts, g_coef, gw, gp, gs) -> None:
        from neuro.kernels import delay_cpu

        small = g_coef.numel() < delay_cpu.SERIAL_WORK // 16
        kernel = delay_cpu.gauss_taps_backward_serial if small else delay_cpu.gauss_taps_backward
        call_cpu(kernel, w, p, sig, half, K, W, consts, g_coef, gw, gp, gs)

    @staticmethod
    def gather(src, conn, off, coef, r, bc, out) -> None:
        from neuro.kernels import delay_cpu

        ob, mb = delay_cpu.blocks_for(out.shape[1], src.shape[2], coef.shape[1], src.element_size())
        small = out.numel() * coef.shape[1] < delay_cpu.SERIAL_WORK
        kernel = delay_cpu.tap_gather_serial if small else delay_cpu.tap_gather
        call_cpu(kernel, src, conn, off, coef, r, bc, ob, mb, out)

    @staticmethod
    def dot(gout, src, conn, off, r, bc, length, grad) -> None:
        from neuro.kernels import delay_cpu

        ob, mb = delay_cpu.blocks_for(grad.shape[0], src.shape[2], grad.shape[1], src.element_size(),
                                      n_tasks_min=4)
        small = grad.numel() * src.shape[0] * length < delay_cpu.SERIAL_WORK
        kernel = delay_cpu.tap_dot_serial if small else delay_cpu.tap_dot
        call_cpu(kernel, gout, src, conn, off, r, bc, length, ob, mb, grad)


def _tap_consts(like: torch.Tensor) -> torch.Tensor:
    """``delay_math.TAP_CONSTS`` in ``like``'s dtype and device (made once, cached)."""
    return constants(delay_math.TAP_CONSTS, like.dtype, like.device)


class _LazyCudaRunner:
    """``neuro.ops._delay_cuda.CudaRunner``, imported on first use (it needs numba-cuda)."""

    def __getattr__(self, name: str):
        from neuro.ops._delay_cuda import CudaRunner

        return getattr(CudaRunner, name)


_RUNNERS = MappingProxyType({"numba": _NumbaRunner, "cuda": _LazyCudaRunner()})


def _transposed(taps_coef: torch.Tensor, delays: torch.Tensor, conn: Connectivity, r: int):
    """Coefficients and delays regrouped by input: ``[I, G * R]`` following ``conn.dst``/``slot``."""
    if conn.all_to_all:
        O, I = conn.src.shape

        def swap(a):
            return a.view(O, I, r).transpose(0, 1).reshape(I, O * r)

        return swap(taps_coef), swap(delays)
    cols = (conn.slot.long().unsqueeze(-1) * r + torch.arange(r, device=conn.slot.device)).flatten(1)
    rows = conn.dst.long().repeat_interleave(r, dim=1)
    return taps_coef[rows, cols], delays[rows, cols]


class GaussianTapsFunction(torch.autograd.Function):
    """Window taps of the Gaussian elements and their gradients on the numba / cuda kernels."""

    @staticmethod
    def forward(ctx, weight, position, sigma, kernel_size: int, window: int,
                backend: str):  # type: ignore[override]
        """Sample every Gaussian delay element of ``weight``, ``position``, ``sigma`` (``[O, I, KC]``) at
        ``window`` integer delays: returns the tap coefficients and their delays (steps, not
        differentiable), both ``[O, I * KC * window]``.
        """
        O, I, KC = weight.shape
        S = weight.numel()
        sig = sigma if sigma.numel() == 1 else sigma.expand(O, I, KC)
        flat = [t.detach().contiguous().reshape(-1) for t in (weight, position, sig)]
        consts = _tap_consts(weight)
        coef = weight.new_empty(S, window)
        delays = torch.empty(S, window, dtype=torch.int32, device=weight.device)
        _RUNNERS[backend].taps_forward(*flat, kernel_size // 2, kernel_size, window, consts, coef, delays)
        ctx.meta = (kernel_size, window, backend, tuple(weight.shape), tuple(sigma.shape))
        ctx.save_for_backward(*flat, consts)
        ctx.mark_non_differentiable(delays)
        return coef.view(O, I * KC * window), delays.view(O, I * KC * window)

    @staticmethod
    def backward(ctx, g_coef, _g_delays):  # type: ignore[override]
        """Gradients of the tap coefficients back to ``weight``, ``position`` and ``sigma`` (``sigma``'s
        summed to its broadcast shape); ``None`` for the integer arguments.
        """
        K, W, backend, shape, sigma_shape = ctx.meta
        w, p, sig, consts = ctx.saved_tensors
        gw, gp, gs = (torch.empty_like(w) for _ in range(3))
        _RUNNERS[backend].taps_backward(w, p, sig, K // 2, K, W, consts,
                                        g_coef.contiguous().view(-1, W), gw, gp, gs)
        g_sigma = gs.view(shape).sum_to_size(sigma_shape) if len(sigma_shape) else gs.sum()
        return gw.view(shape), gp.view(shape), g_sigma, None, None, None


def _tile_plan(conn: Connectivity, window: int, r_per_syn: int, max_delay: int, backend: str,
               dtype: torch.dtype):
    """The GPU tile kernels' plan (``neuro.ops._delay_cuda.tile_plan``), or ``None``."""
    if backend != "cuda":
        return None
    from neuro.ops._delay_cuda import tile_plan

    return tile_plan(conn.all_to_all, window, r_per_syn, max_delay, dtype)


def _flip_windows(a: torch.Tensor, window: int) -> torch.Tensor:
    """Reverse the taps inside every window (transposed taps run from the largest delay down)."""
    rows = a.shape[0]
    return a.reshape(rows, -1, window).flip(-1).reshape(rows, -1).contiguous()


class DelayTapsFunction(torch.autograd.Function):
    """``y = sum of delayed taps of x`` on the numba / cuda kernels; gradients for ``x`` and ``coef``.

    The first ``history`` steps of ``x`` are past input (a streaming state): they are read by the
    taps but produce no output, so ``y`` has ``T - history + extra`` steps. On the GPU, all-to-all
    taps in windows run on the tile kernels when they are selected (``NEURO_DELAY_CUDA_KERNEL=tile``;
    batch blocks of 32, ``neuro.ops._delay_cuda``), other calls on the element kernels.
    """

    @staticmethod
    def forward(ctx, x, coef, delays, conn: Connectivity, max_delay: int, history: int,
                extra_steps: int, r_per_syn: int, backend: str, window: int = 1):  # type: ignore[override]
        """``y [T - history + extra_steps, B, n_out]``: for every connection of ``conn``, ``x [T, B, n_in]``
        read at each tap's delay and weighted by ``coef``, summed per output (tile kernels when selected,
        element kernels otherwise).
        """
        T, B, _ = x.shape
        plan = _tile_plan(conn, window, r_per_syn, max_delay, backend, x.dtype)
        bc = 32 if plan is not None else batch_block(B)
        runner = _RUNNERS[backend]
        xb = to_blocks(x, bc, max_delay - history, extra_steps)
        off = (max_delay - delays).to(torch.int32).contiguous()
        coef_c = coef.contiguous()
        out = x.new_empty(xb.shape[0], coef.shape[0], (T - history + extra_steps) * bc)
        if plan is not None:
            runner.tile_gather(plan, xb, coef_c, off, out)
        else:
            runner.gather(xb, conn.src, off, coef_c, r_per_syn, bc, out)
        ctx.meta = (conn, max_delay, history, extra_steps, r_per_syn, backend, bc, T, B, plan)
        ctx.save_for_backward(xb if ctx.needs_input_grad[1] else None, coef_c, delays, off)
        return from_blocks(out, B, bc)

    @staticmethod
    def backward(ctx, gy):  # type: ignore[override]
        """Gradients for ``x`` (the transposed gather of ``gy``) and ``coef`` (the delayed-input dot
        products), as requested; ``None`` for the delays and the configuration arguments.
        """
        conn, D, history, extra, r, backend, bc, T, B, plan = ctx.meta
        xb, coef, delays, off = ctx.saved_tensors
        runner = _RUNNERS[backend]
        gy = gy.contiguous()
        gx = g_coef = None
        if ctx.needs_input_grad[0]:
            # input step tau feeds output step tau - history + delay: rows padded so that every
            # read at e + delay * bc exists
            gyb = to_blocks(gy, bc, history, max(0, D - extra))
            coef_t, delays_t = _transposed(coef, delays, conn, r)
            gxb = gy.new_empty(gyb.shape[0], conn.n_in, T * bc)
            if plan is not None:  # transposed windows run from the smallest delay up
                runner.tile_gather(plan, gyb, _flip_windows(coef_t, plan.W),
                                   _flip_windows(delays_t, plan.W).to(torch.int32), gxb)
            else:
                runner.gather(gyb, conn.dst, delays_t.contiguous(), coef_t.contiguous(), r, bc, gxb)
            gx = from_blocks(gxb, B, bc)
        if ctx.needs_input_grad[1]:
            gob = to_blocks(gy, bc, 0, 0)
            g_coef = gy.new_empty(coef.shape)
            if plan is not None:
                runner.tile_dot(plan, gob, xb, off, gob.shape[2] // bc, g_coef)
            else:
                runner.dot(gob, xb, conn.src, off, r, bc, gob.shape[2], g_coef)
        return gx, g_coef, None, None, None, None, None, None, None, None


def _event_forward(x: torch.Tensor, taps: Taps, conn: Connectivity, history: int,
                   extra_steps: int) -> torch.Tensor:
    """Inference on sparse input: each nonzero input scatters its taps (``delay_cpu.event_scatter``)."""
    from neuro.kernels import delay_cpu

    coef_t, delays_t = _transposed(taps.coef.detach().to(x.dtype), taps.delays, conn, taps.r_per_syn)
    T, B, _ = x.shape
    out = x.new_empty(T - history + extra_steps, B, conn.src.shape[0])
    work = int(torch.count_nonzero(x)) * coef_t.shape[1]
    kernel = delay_cpu.event_scatter_serial if work < delay_cpu.SERIAL_WORK else delay_cpu.event_scatter
    call_cpu(kernel, x, conn.dst, delays_t.contiguous(), coef_t.contiguous(), taps.r_per_syn, history, out)
    return out


def delay_taps_reference(x: torch.Tensor, taps: Taps, conn: Connectivity, max_delay: int,
                         extra_steps: int = 0, history: int = 0) -> torch.Tensor:
    """Oracle of :func:`delay_taps`: the equivalent dense kernel and ``conv1d``."""
    kernel = taps_to_kernel(taps.coef, taps.delays, conn, taps.r_per_syn, max_delay)
    return conv_reference(x, kernel, extra_steps)[history:]


def delay_taps(x: torch.Tensor, taps: Taps, conn: Connectivity, max_delay: int, extra_steps: int = 0,
               backend: str = "auto", history: int = 0) -> torch.Tensor:
    """Apply integer-delay taps to ``x [T, B, I]``: ``y [T - history + extra, B, O]``.

    ``y[t] = sum coef * x[t + history - delay]`` over the taps of each output (module docstring);
    the first ``history <= max_delay`` steps of ``x`` are past input that yields no output.
    ``taps.delays`` must lie in ``[0, max_delay]`` (checked by the callers in ``neuro.functional``).
    """
    chosen = resolve_backend(backend, x)
    if chosen == "torch":
        return delay_taps_reference(x, taps, conn, max_delay, extra_steps, history)
    dtype = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
    needs_grad = torch.is_grad_enabled() and (x.requires_grad or taps.coef.requires_grad)
    if chosen == "numba" and not needs_grad:
        density = float(torch.count_nonzero(x)) / max(1, x.numel())
        if density <= EVENT_DENSITY:
            return _event_forward(x.to(dtype).contiguous(), taps, conn, history, extra_steps).to(x.dtype)
    y = DelayTapsFunction.apply(x.to(dtype).contiguous(), taps.coef.to(dtype), taps.delays, conn,
                                max_delay, history, extra_steps, taps.r_per_syn, chosen, taps.window)
    return y.to(x.dtype)


# --------------------------------------------------------------------------------------------
# The learnable layer's op: dense or sparse by cost.


def choose_method(window: int, kernel_size: int, backend: str) -> str:
    """``"sparse"`` when ``window`` taps on the kernels cost less than ``K`` taps of dense conv.

    The dense path's advantage in multiply-adds per second: :data:`DENSE_ADVANTAGE` on the CPU;
    on the GPU ``neuro.ops._delay_cuda.dense_advantage()`` (the element kernels' constant, or the
    tile kernels' rate table at the precision cuDNN is allowed: TF32 or fp32).
    """
    if backend == "torch":
        return "dense"
    if backend == "cuda":
        from neuro.ops._delay_cuda import dense_advantage

        advantage = dense_advantage()
    else:
        advantage = DENSE_ADVANTAGE[backend]
    return "sparse" if window * advantage < kernel_size else "dense"


def delay_conv(x: torch.Tensor, weight: torch.Tensor, position: torch.Tensor, sigma: Number,
               kernel_size: int, extra_steps: int, mode: str = "gauss", method: str = "auto",
               backend: str = "auto", tol: float = delay_math.TOLERANCE,
               bias: torch.Tensor | None = None) -> torch.Tensor:
    """The learnable delayed layer (module docstring) on the dense or the sparse path.

    ``method="auto"`` compares the cost of the dense conv (``K`` taps per synapse at GEMM speed)
    with that of the sparse kernels (``W`` taps: the Gaussian window, 1 in ``"round"`` mode).
    """
    chosen = resolve_backend(backend, x)
    K = kernel_size
    if method == "auto":
        window = 1 if mode == "round" else gaussian_window(sigma, weight, K, tol)
        method = choose_method(window, K, chosen)
    if method == "dense" or chosen == "torch":
        kernel = (triangle_kernel(weight, torch.round(position.detach()), 0.0, K) if mode == "round"
                  else gaussian_kernel(weight, position, sigma, K))
        y = conv_reference(x, kernel.to(x.dtype), extra_steps)
    else:
        taps = (rounded_taps(weight, position, K) if mode == "round"
                else gaussian_taps(weight, position, sigma, K, tol, backend=chosen))
        conn = dense_connectivity(weight.shape[1], weight.shape[0], x.device)
        y = delay_taps(x, taps, conn, K - 1, extra_steps, chosen)
    return y if bias is None else y + bias.to(y.dtype)

