"""The PTX of neuro's CUDA kernels has no fused multiply-add: the numerics contract, checked on a CPU.

NVVM contracts ``a * b + c`` into one FMA by default, which rounds once where the CPU kernels and
the torch reference round twice; ``neuro.kernels._cuda_device`` compiles every neuro kernel with
``-fma=0`` so that CUDA results are bit-identical to the CPU's. Here each registered kernel is
compiled to PTX for compute capability 9.0 (no GPU needed: libNVVM compiles on the CPU) with float32
and float64 arguments, in a subprocess without ``NUMBA_ENABLE_CUDASIM`` (the simulator compiles
nothing), and its PTX is searched for ``fma.`` instructions. One kernel is also compiled with
NVVM's default options, to show that the search finds the contraction when it is there.

Transcendental functions (``math.exp``, ``math.log``, ...) come from libdevice, whose implementations
use explicit FMAs (and are not correctly rounded: a kernel calling them is bounded, not
bit-identical, against the CPU). They are not contraction, so the worker replaces the ``math``
functions of one argument by stubs to see the kernels' own arithmetic. A float power (``x ** y``,
``math.pow``) cannot be stubbed that way (numba-cuda lowers ``**`` through ``math.pow``): a kernel
using one is registered with ``strict=False`` and must only have fewer FMAs than under NVVM's
defaults (which shows that ``-fma=0`` applied to it).

**Adding a kernel family**: append :class:`PTXCase` entries to :data:`PTX_CASES` (a name, the
kernel module, a function of that module returning the ``numba.cuda`` kernel, and a function of the
float dtype returning example arguments: numpy arrays, tuples of them, Python scalars, as the op
passes them). The signature is ``numba.typeof`` of those arguments.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest

DTYPES = (np.float32, np.float64)
CC = (9, 0)
FMA = re.compile(r"^\s*(@%p\d+\s+)?fma\.", re.M)
FLOAT_ATOMIC = re.compile(r"^\s*(@%p\d+\s+)?(atom|red)(\.global)?\.add\.f(32|64)", re.M)


class PTXCase(NamedTuple):
    """One kernel to compile: ``kernel(module)`` returns it, ``args(dtype)`` example arguments.
    ``float_atomics``: whether its PTX has float atomic additions (``None``: not checked);
    ``strict``: no FMA at all (False: fewer than under NVVM's defaults, for kernels with ``x ** y``)."""

    name: str
    module: str
    kernel: Callable[[Any], Any]
    args: Callable[[type], tuple]
    float_atomics: bool | None = None
    strict: bool = True


# --------------------------------------------------------------------------------------------
# Example arguments, shaped as the ops pass them (see each kernel's docstring)

T, N = 3, 4


def _a2(dtype, rows=T, cols=N):
    return np.zeros((rows, cols), dtype)


def _a1(dtype, n=N):
    return np.zeros(n, dtype)


def lif_forward_args(dtype, io=None) -> tuple:
    xdt = {None: dtype, "float16": np.float16, "bfloat16": np.int16}[io]
    dtype = np.float32 if io else dtype  # low-precision inputs compute in float32
    return (_a2(xdt), _a2(dtype, 9, 2), _a1(dtype, 5), (_a1(dtype),) * 3, 0, True,
            (_a2(xdt), *(_a2(dtype),) * 3), (True,) * 5, (_a1(dtype),) * 3, (_a2(dtype),) * 3,
            np.zeros(1, np.int32), (1, 2))


def lif_backward_args(dtype, io=None) -> tuple:
    xdt = {None: dtype, "float16": np.float16, "bfloat16": np.int16}[io]
    dtype = np.float32 if io else dtype
    return (_a2(xdt), _a2(dtype, 9, 2), _a1(dtype, 5), (_a1(dtype),) * 3, 0, True, 0,
            (_a2(dtype),) * 3, (_a2(xdt), *(_a2(dtype),) * 3), (1,) * 4, (_a1(dtype),) * 3, _a2(xdt),
            (_a1(dtype),) * 3, _a2(dtype, 9, N))


def _ints(n=N):
    return np.zeros(n, np.int64)


def amsu_forward_args(dtype) -> tuple:
    D = 2
    return (_a2(dtype), _a2(dtype, 9, N), _a2(dtype, 5, D), (_ints(D + 1), _ints(), _ints()),
            _a1(dtype, D), _a1(dtype, 5), 0, True, False, N, D, _a1(dtype, D), (_a1(dtype),) * 2,
            _a1(dtype, D), (_a2(dtype),) * 5, (True,) * 5, np.zeros(1, np.int32), (3, 4))


def amsu_backward_args(dtype) -> tuple:
    D = 2
    return (_a2(dtype), _a2(dtype, 9, N), _a2(dtype, 5, D), (_ints(D + 1), _ints(), _ints()),
            _a1(dtype, D), _a1(dtype, 5), 0, True, False, 0, True, N, D, (_a1(dtype),) * 3,
            (_a2(dtype),) * 3, (_a2(dtype),) * 4, (True,) * 4, (_a1(dtype),) * 2, _a1(dtype, D),
            _a2(dtype), _a1(dtype, D), _a2(dtype, 9, N), _a2(dtype, 5, D))


def sim_atomic_args(dtype) -> tuple:
    C, D, A, f64, i32 = 2, 4, 3, np.float64, np.int32
    csr = (_ints(N + 1), np.zeros(5, i32), np.zeros(5, dtype), np.zeros(5, i32))
    astro_csr = (_ints(N + 1), np.zeros(5, i32), np.zeros(5, f64), np.zeros(5, i32))
    return (0, 10, 1, _a1(dtype, 2), (_a2(dtype, 9, N), np.zeros(N, i32), _a1(dtype), _a2(dtype, C, N),
                                      _a2(dtype, C, N)),
            _ints(4).reshape(1, 4), np.zeros(N, i32),
            (_a2(dtype, 0, 1), _ints(1), _a1(f64, 0), _ints(1), _ints(0)), csr, D - 1,
            (_a1(dtype), _a1(dtype), _a1(dtype), _a2(dtype, C, N), np.zeros(N, i32), _a2(dtype, D, C * N)),
            np.zeros(N, np.uint8), np.zeros((10, 1), np.uint32), np.zeros((10, 1), i32),
            (_ints(N + 1), _ints(0), _ints(0), 1, _a2(dtype, 10, 0), 0),
            (0.1, _a2(f64, 6, A), _a2(f64, 16, 1), _a2(f64, D, A)), astro_csr,
            (_ints(A + 1), np.zeros(5, i32), np.zeros(5, dtype), np.zeros(5, i32)),
            (_ints(A + 1), _ints(0), _ints(0)))


def sim_event_args(dtype) -> tuple:
    """Arguments of ``sim_cuda.run_kernel``'s event kernel (module docstring of ``sim_cuda``)."""
    C, D, A, P, S, f64, i32 = 2, 4, 3, 2, N + 2, np.float64, np.int32

    def i32s(*shape):
        return np.zeros(shape, i32)

    params = (_a2(dtype, 9, N), i32s(N), _a1(dtype), _a2(dtype, C, N), _a2(dtype, C, N))
    inputs = (_a2(dtype, 0, 1), _ints(N), _a1(f64, 0), _ints(1), _ints(0))
    syn = (_ints(S + 1), i32s(5), np.zeros(5, dtype), i32s(5))
    state = (_a1(dtype), _a1(dtype), _a1(dtype), _a2(dtype, C, N), i32s(N), _a2(dtype, D, C * N))
    rec = (np.zeros(S, np.uint8), i32s(10), i32s(10), _ints(3), _ints(2), 3)
    monitor = (i32s(1), _ints(N + 1), _ints(0), _ints(0), 1, _a2(dtype, 10, 0), 0)
    astro = (0.1, _a2(f64, 6, A), _a2(f64, 16, 1), _a2(f64, D, A))
    ip3 = (_ints(S + 1), i32s(5), _a1(f64, 5), i32s(5), _ints(A + 1), i32s(5), i32s(5), i32s(2, A),
           i32s(2, A, 8))
    stdp = (_ints(C * N + 1), _ints(5), i32s(5), i32s(5), _ints(N + 1), i32s(5), _a2(dtype, 1, 18),
            _a1(dtype, 5), _a2(dtype, 5, 6), _a2(dtype, 1, 10), _ints(5), _ints(D * S).reshape(D, S))
    return (0, 10, 1, _a1(dtype, 2), params, _ints(P * 4).reshape(P, 4), _ints(P), inputs, syn,
            (_ints(C * N + 1), i32s(5), i32s(5)), (i32s(2, C * N), i32s(2, C * N, 8)),
            _ints(2 * S).reshape(2, S), D - 1, state, rec, i32s(10, P), monitor, astro, ip3,
            (_ints(N + 1), i32s(5), _a1(f64, 5), i32s(5)), (_ints(A + 1), _ints(0), _ints(0)), stdp, 256)


# (has_syn, has_adapt, spiking) of every LIF-family model (LIF, CubaLIF, ALIF, LI, CubaLI)
LIF_STRUCTURES = [(False, False, True), (True, False, True), (False, True, True), (False, False, False),
                  (True, False, False)]

PTX_CASES: list[PTXCase] = [
    *(PTXCase(f"lif forward {s}", "neuro.kernels.lif_cuda", lambda m, s=s: m.forward_kernel(*s),
              lif_forward_args) for s in LIF_STRUCTURES),
    *(PTXCase(f"lif backward {s}", "neuro.kernels.lif_cuda",
              lambda m, s=s: m.backward_kernel(*s, True), lif_backward_args) for s in LIF_STRUCTURES),
    # mixed precision: fp16 / bf16 inputs, float32 states (the compute dtype does not vary)
    *(PTXCase(f"lif forward {io}", "neuro.kernels.lif_cuda",
              lambda m, io=io: m.forward_kernel(True, True, True, io),
              lambda d, io=io: lif_forward_args(d, io)) for io in ("float16", "bfloat16")),
    *(PTXCase(f"lif backward {io}", "neuro.kernels.lif_cuda",
              lambda m, io=io: m.backward_kernel(True, True, True, True, io),
              lambda d, io=io: lif_backward_args(d, io)) for io in ("float16", "bfloat16")),
    PTXCase("amsu forward", "neuro.kernels.amsu_cuda", lambda m: m.amsu_scan_forward, amsu_forward_args),
    PTXCase("amsu backward", "neuro.kernels.amsu_cuda", lambda m: m.amsu_scan_backward,
            amsu_backward_args),
    # The simulation: the event kernel has deterministic sums (no float atomics, integer atomics
    # only); the first GPU kernel, kept selectable, delivers spikes with float atomics.
    PTXCase("sim events LIF 2 channels", "neuro.kernels.sim_cuda",
            lambda m: m.run_kernel(False, False, 2, False), sim_event_args, float_atomics=False),
    PTXCase("sim events CubaALIF per-neuron astrocytes", "neuro.kernels.sim_cuda",
            lambda m: m.run_kernel(True, True, 2, True, True), sim_event_args, float_atomics=False,
            strict=False),  # the astrocytes' RKF45 step size uses a float power
    # (every plasticity rule: one kernel, a rule code per synapse; stdp = (..., w, tr [P, 6], rk, ...))
    PTXCase("sim events LIF 2 channels STDP", "neuro.kernels.sim_cuda",
            lambda m: m.run_kernel(False, False, 2, False, False, False, 256, True), sim_event_args,
            float_atomics=False),
    PTXCase("sim events LIF 2 channels all plasticity rules", "neuro.kernels.sim_cuda",
            lambda m: m.run_kernel(False, False, 2, False, False, False, 256, True, True), sim_event_args,
            float_atomics=False),
    PTXCase("sim atomic LIF 2 channels", "neuro.kernels.sim_cuda_atomic",
            lambda m: m.run_kernel(False, False, 2), sim_atomic_args, float_atomics=True),
]


# --------------------------------------------------------------------------------------------
# Delays, ELM, the integer emulator and the tripartite models (float64-only kernels ignore dtype)


def delay_taps_args(dtype, backward: bool) -> tuple:
    S, W = 6, 3
    flat, out = (_a1(dtype, S),) * 3, np.zeros((S, W), dtype)
    grads = (_a1(dtype, S),) * 3
    tail = (out, *grads) if backward else (out, np.zeros((S, W), np.int32))
    return (*flat, 12, 25, W, _a1(dtype, 5), *tail)


def delay_gather_args(dtype) -> tuple:
    conn = np.zeros((N, 2), np.int32)
    return (np.zeros((2, 3, 40), dtype), conn, conn, _a2(dtype, N, 2), 1, 8, _a1(dtype, 5),
            np.zeros((2, N, 16), dtype))


def delay_dot_args(dtype) -> tuple:
    conn = np.zeros((N, 2), np.int32)
    return (np.zeros((2, N, 16), dtype), np.zeros((2, 3, 40), dtype), conn, conn, 1, 8, 16, _a1(dtype, 5),
            _a2(dtype, N, 2))


def elm_trace_args(dtype, backward: bool) -> tuple:
    B, D, S, nb = 2, 5, 6, 3
    x, route, w, kappa = np.zeros((T, B, D), dtype), _ints(S), _a1(dtype, S), _a1(dtype, S)
    if backward:
        return (x, route, w, kappa, np.zeros((T, B, nb), dtype), True, True, True, _a2(dtype, B, S),
                _a2(dtype, B, S), np.zeros((T, B, D), dtype))
    return x, route, w, kappa, _a2(dtype, B, S), True, True, np.zeros((T, B, nb), dtype)


def elm_memory_args(dtype, backward: bool) -> tuple:
    B, H, M = 2, 5, 3
    seq_h, seq_m, z = np.zeros((T, B, H), dtype), np.zeros((T, B, M), dtype), np.zeros((2, T, B, H), dtype)
    hid, consts = np.zeros((1, H, H), dtype), _a1(dtype, 8)
    if backward:
        return (seq_m, seq_m, z, seq_m, _a2(dtype, B, M), _a2(dtype, H, M), hid, _a2(dtype, M, H),
                _a1(dtype, M), _a1(dtype, M), consts, 0, seq_h, np.zeros((1, T, B, H), dtype), seq_m,
                _a2(dtype, B, M), _a2(dtype, B, M), _a2(dtype, B, M))
    return (seq_h, _a2(dtype, M, H), hid, _a2(dtype, 1, H), _a2(dtype, H, M), _a1(dtype, M),
            _a1(dtype, M), _a1(dtype, M), _a2(dtype, B, M), consts, 0, True, seq_m, z, seq_m)


def hw_args(dtype) -> tuple:
    B, L = 2, 2
    layers = (_ints(), *(_ints(L),) * 6, _ints(L))  # w, w_off, fanout, fo_off, n_in, n_out, n_off, reset
    out = (np.zeros((T, B, N), np.uint8), np.zeros((T, B, N), np.int64), *(np.zeros((B, N), np.int64),) * 2,
           *(np.zeros((B, L), np.int64),) * 3)
    return np.zeros((T, B, N), np.uint8), layers, (_ints(),) * 4, np.int64(1 << 23), out


def _f8(*shape):
    return np.zeros(shape, np.float64)


def astro_step_args(dtype, neurons: bool) -> tuple:
    n, R = 3, 5
    recorder = (_f8(2, T, n), _ints(2), 1, 0)
    if neurons:
        return (_f8(10, n), _f8(20, 1), 0.1, 0, 2, (_f8(R, n),) * 4, _f8(2, n), recorder, _ints(n))
    return (_f8(6, n), _f8(16, 1), 0.1, 0, 2, (_f8(R, n),) * 2, _f8(2, n), recorder)


def _rings(n=3, A=2, R=5) -> tuple:
    return (*(_f8(R, n),) * 4, _f8(R, A), _f8(R, A))


def astro_deliver_args(dtype) -> tuple:
    n, A = 3, 2

    def csr(targets):
        return (_ints(targets + 1), _ints(4), _f8(4), _ints(4))

    return (0, 2, _f8(2, n), _f8(2, A), _rings(n, A), (csr(n), csr(A), csr(n)))


def astro_rings_args(dtype) -> tuple:
    n, A = 3, 2
    return (0, 2, 0, (*(_f8(2, n),) * 4, _f8(2, A), _f8(2, A)), _rings(n, A), False)


PTX_CASES += [
    PTXCase("delay gauss taps forward", "neuro.kernels.delay_cuda", lambda m: m.gauss_taps_forward,
            lambda d: delay_taps_args(d, False), float_atomics=False),
    PTXCase("delay gauss taps backward", "neuro.kernels.delay_cuda", lambda m: m.gauss_taps_backward,
            lambda d: delay_taps_args(d, True), float_atomics=False),
    PTXCase("delay tap gather", "neuro.kernels.delay_cuda", lambda m: m.tap_gather, delay_gather_args,
            float_atomics=False),
    # the dot kernel is made per float width (its shared-memory type); both compile from one source
    PTXCase("delay tap dot", "neuro.kernels.delay_cuda", lambda m: m.dot_kernel(64), delay_dot_args,
            float_atomics=False),
    PTXCase("elm traces forward", "neuro.kernels.elm_cuda", lambda m: m.trace_forward,
            lambda d: elm_trace_args(d, False), float_atomics=False),
    # routed inputs: several synapses add into one dx element (sum order varies between runs)
    PTXCase("elm traces backward", "neuro.kernels.elm_cuda", lambda m: m.trace_backward,
            lambda d: elm_trace_args(d, True), float_atomics=True),
    PTXCase("elm memory forward", "neuro.kernels.elm_cuda", lambda m: m.memory_forward_kernel("float64"),
            lambda d: elm_memory_args(d, False), float_atomics=False),
    PTXCase("elm memory backward", "neuro.kernels.elm_cuda", lambda m: m.memory_backward_kernel("float64"),
            lambda d: elm_memory_args(d, True), float_atomics=False),
    *(PTXCase(f"hw emulator {fmt}", "neuro.kernels.hw_cuda",
              lambda m, f=code: m.simulate_kernel(f, False, True), hw_args, float_atomics=False)
      for fmt, code in (("loihi", 0), ("xylo", 1))),
    # the RKF45 step-size control uses a float power (strict=False)
    PTXCase("astrocyte steps", "neuro.kernels.astrocyte_cuda", lambda m: m.astrocyte_step_many,
            lambda d: astro_step_args(d, False), float_atomics=False, strict=False),
    PTXCase("aeif steps", "neuro.kernels.astrocyte_cuda", lambda m: m.aeif_step_many,
            lambda d: astro_step_args(d, True), float_atomics=False, strict=False),
    PTXCase("tripartite deliver", "neuro.kernels.astrocyte_cuda", lambda m: m.deliver, astro_deliver_args,
            float_atomics=False),
    PTXCase("tripartite rings", "neuro.kernels.astrocyte_cuda", lambda m: m.slice_rings, astro_rings_args,
            float_atomics=False),
]


# --------------------------------------------------------------------------------------------
# Neuron models compiled from a NeuronSpec (issue 19) and the fused recurrent LIF


def _spec_model(name: str):
    """The generated code of a built-in spec model (``"izhikevich"``, ``"adex"``, ``"alpha"``)."""
    from neuro.kernels import adex_math, alpha_math, izhikevich_math, neuron_spec

    spec = {"izhikevich": izhikevich_math.SPEC, "adex": adex_math.ADEX, "alpha": alpha_math.SPEC}[name]
    return neuron_spec.build(spec)


def spec_forward_args(name: str, dtype) -> tuple:
    model = _spec_model(name)
    S, P, K = model.n_states, model.n_rows, 6 + len(model.constants)
    return (_a2(dtype), _a2(dtype, P, 2), _a1(dtype, K), _a2(dtype, S, N), True, _a2(dtype),
            np.zeros((S, T, N), dtype), True, _a2(dtype), False, _a2(dtype, S, N), np.zeros(1, np.int32),
            (21, 22))


def spec_backward_args(name: str, dtype) -> tuple:
    model = _spec_model(name)
    S, P, K = model.n_states, model.n_rows, 6 + len(model.constants)
    seq = np.zeros((S, T, N), dtype)
    return (_a2(dtype), _a2(dtype, P, 2), _a1(dtype, K), _a2(dtype, S, N), True, 0, _a2(dtype), seq,
            _a2(dtype), True, seq, True, _a2(dtype, S, N), _a2(dtype), _a2(dtype, S, N), _a2(dtype, P, N),
            True)


def rlif_forward_args(dtype) -> tuple:
    B = 2
    seq = np.zeros((T, B, N), dtype)
    return (seq, _a2(dtype, N, N), _a1(dtype), _a2(dtype, 9, N), _a1(dtype, 5), (_a2(dtype, B, N),) * 3,
            _a2(dtype, B, N), 0, True, (seq,) * 5, (True,) * 4, (_a2(dtype, B, N),) * 3, _a2(dtype, B, N),
            np.zeros((B, N), np.int64), np.zeros(1, np.int32), (23, 24))


def rlif_backward_args(dtype) -> tuple:
    B = 2
    seq = np.zeros((T, B, N), dtype)
    st = (_a2(dtype, B, N),) * 3
    return (_a2(dtype, N, N), _a2(dtype, 9, N), _a1(dtype, 5), st, 0, True, 0, (seq,) * 4, seq, True,
            _a2(dtype, B, N), (seq, seq, seq, False, False, False), st, seq, st, _a2(dtype, B, N),
            _a2(dtype, 9, B * N), True, (_a2(dtype, B, N),) * 5)


PTX_CASES += [
    *(PTXCase(f"spec {name} forward", "neuro.kernels.spec_cuda",
              lambda m, n=name: m.forward_kernel(_spec_model(n)), lambda d, n=name: spec_forward_args(n, d),
              float_atomics=False) for name in ("izhikevich", "adex")),
    *(PTXCase(f"spec {name} backward", "neuro.kernels.spec_cuda",
              lambda m, n=name: m.backward_kernel(_spec_model(n)), lambda d, n=name: spec_backward_args(n, d),
              float_atomics=False) for name in ("izhikevich", "adex")),
    PTXCase("rlif forward LIF", "neuro.kernels.rlif_cuda", lambda m: m.forward_kernel(False, False),
            rlif_forward_args, float_atomics=False),
    PTXCase("rlif backward ALIF", "neuro.kernels.rlif_cuda", lambda m: m.backward_kernel(False, True),
            rlif_backward_args, float_atomics=False),
]


# --------------------------------------------------------------------------------------------
# The worker (runs in the subprocess)


UNARY_STUBS = ("exp", "expm1", "log", "log1p", "log2", "log10", "tanh", "sinh", "cosh", "sin", "cos",
               "tan", "atan", "asin", "acos", "erf", "erfc")


def _stub_transcendentals() -> None:
    """Replace libdevice's transcendental functions (explicit FMAs inside) by identity stubs."""
    import math

    from numba import cuda, float64

    # load numba-cuda's typing registries (keyed on the real math functions) before replacing them
    cuda.compile_ptx(lambda a: None, (float64[:],), cc=CC)

    @cuda.jit(device=True)
    def unary(x):
        return x

    for name in UNARY_STUBS:
        setattr(math, name, unary)
    np.exp, np.log = unary, unary


def _compile_all(default_fma_case: str, part: int = 0, parts: int = 1) -> dict:
    """PTX statistics of every case and dtype: ``{"name/dtype": {"fma": n, "float_atomics": n,
    "fma_default": n (non-strict cases)}}``, and ``"nvvm default"`` for ``default_fma_case``; with
    ``parts > 1`` only the cases ``part, part + parts, ...`` (and ``"nvvm default"`` in part 0)."""
    import types

    import numba
    import numba.cuda.dispatcher as dispatcher
    from numba import cuda
    from numba.cuda.cudadrv import nvvm

    # compile_ptx asks the current device for nothing but its compute capability
    dispatcher.get_current_device = lambda: types.SimpleNamespace(compute_capability=CC)
    _stub_transcendentals()

    def ptx_of(case: PTXCase, dtype, nvvm_defaults: bool = False) -> str:
        sig = tuple(numba.typeof(a) for a in case.args(dtype))
        kernel = case.kernel(importlib.import_module(case.module)).py_func
        wrapped = nvvm.compile_ir
        if nvvm_defaults:  # compile as NVVM would without neuro's rule
            nvvm.compile_ir = wrapped.original
        try:
            return cuda.compile_ptx(kernel, sig, cc=CC)[0]
        finally:
            nvvm.compile_ir = wrapped

    out = {}
    for case in PTX_CASES[part::parts]:
        for dtype in DTYPES:
            ptx = ptx_of(case, dtype)
            stats = {"fma": len(FMA.findall(ptx)), "float_atomics": len(FLOAT_ATOMIC.findall(ptx))}
            if not case.strict:
                stats["fma_default"] = len(FMA.findall(ptx_of(case, dtype, nvvm_defaults=True)))
            out[f"{case.name}/{np.dtype(dtype).name}"] = stats
    if part:
        return out
    case = next(c for c in PTX_CASES if c.name == default_fma_case)
    out["nvvm default"] = {"fma": len(FMA.findall(ptx_of(case, np.float32, nvvm_defaults=True)))}
    return out


def _libnvvm_present() -> bool:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    probe = ("from numba.cuda.cudadrv import nvvm\n"
             "nvvm.NVVM()\n")
    return subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def ptx_stats() -> dict:
    pytest.importorskip("numba.cuda")
    if not _libnvvm_present():
        pytest.skip("libNVVM is not installed (CUDA toolkit or the nvidia-cuda-nvcc wheel): no PTX to check")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    # two workers, each compiling every other case: NVVM is single-threaded, CI has two cores
    procs = [subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker", str(part), "2"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for part in range(2)]
    stats = {}
    for proc in procs:
        out, err = proc.communicate(timeout=1200)
        assert proc.returncode == 0, err[-4000:]
        stats.update(json.loads(out.strip().splitlines()[-1]))
    return stats


def test_every_registered_kernel_compiled(ptx_stats):
    expected = {f"{c.name}/{np.dtype(d).name}" for c in PTX_CASES for d in DTYPES}
    assert expected <= set(ptx_stats)


def test_no_fused_multiply_add(ptx_stats):
    strict = {c.name for c in PTX_CASES if c.strict}
    fused = {name: s["fma"] for name, s in ptx_stats.items()
             if name.split("/")[0] in strict and s["fma"]}
    assert not fused, f"kernels compiled with floating-point contraction: {fused}"


def test_no_contraction_where_a_float_power_keeps_explicit_fmas(ptx_stats):
    for name, s in ptx_stats.items():
        if "fma_default" in s:
            assert s["fma"] < s["fma_default"], f"{name}: -fma=0 was not applied ({s})"


def test_the_search_finds_contraction_under_nvvm_defaults(ptx_stats):
    assert ptx_stats["nvvm default"]["fma"] > 0


@pytest.mark.parametrize("case", [c for c in PTX_CASES if c.float_atomics is not None], ids=lambda c: c.name)
def test_float_atomics_as_declared(ptx_stats, case):
    for dtype in DTYPES:
        found = ptx_stats[f"{case.name}/{np.dtype(dtype).name}"]["float_atomics"] > 0
        assert found == case.float_atomics, f"{case.name}/{np.dtype(dtype).name}: float atomics {found}"


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    print(json.dumps(_compile_all(PTX_CASES[1].name, int(sys.argv[2]), int(sys.argv[3]))))
