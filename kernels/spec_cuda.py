"""Scans of any :class:`~neuro.kernels.neuron_spec.NeuronSpec` model on NVIDIA GPUs with
``numba.cuda``: one thread per neuron, looping over time (the layout of ``lif_cuda``).

The kernels are written once here and compiled per model, binding the global ``ns`` to the model's
generated device functions (``neuron_spec.compile_for(model, "cuda")``, built without
floating-point contraction, see ``_cuda_device``). Arguments follow ``spec_cpu``'s; one thread
cannot keep a recompute buffer, so the forward stores the states after every step
(``rec [S, T, N]``) whenever backward needs them. Import this module only when the CUDA backend is
requested (it needs ``numba-cuda``); with ``NUMBA_ENABLE_CUDASIM=1`` it runs on the simulator.

**CUDA vs CPU.** Both run the same generated operations in the same order, so spikes, states and
gradients are bit-identical between them whenever the model uses only ``+ - * /``, ``abs``,
``sqrt``, ``minimum`` / ``maximum`` and comparisons (Izhikevich, AlphaLIF, QIF: also identical to
the torch reference). A model calling ``exp``, ``log``, ``tanh`` or a float power (AdEx, ExpIF)
gets those from libdevice on a GPU and from libm on the CPU, each within 2 ulp of the exact value:
states then agree to a few ulp per step, growing like any rounding difference through the
dynamics, and a neuron within that distance of its threshold can fire one step apart. The same
holds for the ``Sigmoid`` and ``Erf`` surrogates' derivatives.

Non-finite values: each forward thread sums ``x * 0`` over its inputs and ``y0 * 0`` over its
initial state and writes ``codes[0]`` (input) or ``codes[1]`` (state) into ``flag[0]`` when a sum
is NaN (``neuro.ops._launch.NonFiniteFlag``).
"""

from __future__ import annotations

from functools import cache

from numba import cuda

from . import neuron_spec
from ._cuda_device import report_non_finite
from ._jit import retarget

# The kernels below call the model through the global ``ns``, which ``forward_kernel`` and
# ``backward_kernel`` bind to the model's compiled namespace (a clone per model, ``_jit.retarget``).
ns = None

THREADS_PER_BLOCK = 128


def blocks_for(n: int) -> int:
    """Number of thread blocks covering ``n`` neurons."""
    return (n + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK


def _forward_template(S: int):
    def spec_scan_forward(x, prm, kc, y0, ge, spikes, rec, store, z_out, store_z, last, flag, codes):
        n = cuda.grid(1)
        T, N = x.shape
        if n >= N:
            return
        zero = kc[0]
        p = ns.load_params(prm, n % prm.shape[1])
        y = ns.load_state(y0, n)
        bad = zero
        for q in range(S):
            bad += y0[q, n] * zero
        report_non_finite(flag, codes[1], bad)
        bad = zero  # sum of x * 0: NaN iff an input was NaN or inf
        for t in range(T):
            xv = x[t, n]
            bad += xv * zero
            y, s, z = ns.model_forward(xv, y, p, kc, ge)
            spikes[t, n] = s
            if store:
                ns.store_seq(rec, t, n, y)
            if store_z:
                z_out[t, n] = z
        ns.store_state(last, n, y)
        report_non_finite(flag, codes[0], bad)

    return spec_scan_forward


def _backward_template():
    def spec_scan_backward(x, prm, kc, y0, ge, sg_kind, sgp, rec, g_s, has_gs, g_rec, has_grec, g_last,
                           dx, dy0, dprm, need_pgrad):
        n = cuda.grid(1)
        T, N = x.shape
        if n >= N:
            return
        zero = kc[0]
        p = ns.load_params(prm, n % prm.shape[1])
        dy = ns.load_state(g_last, n)
        acc = ns.zero_params(zero)  # this neuron's coefficient gradients, summed over time
        for t in range(T - 1, -1, -1):
            y_prev = ns.load_seq(rec, t - 1, n) if t > 0 else ns.load_state(y0, n)
            if has_grec:
                dy = ns.add_seq(dy, g_rec, t, n)
            gs = g_s[t, n] if has_gs else zero
            sgv = sgp[t, n] if sg_kind < 0 else zero
            dxv, dy, dp = ns.model_backward(x[t, n], y_prev, p, kc, ge, dy, gs, sg_kind, sgv)
            dx[t, n] = dxv
            if need_pgrad:
                acc = ns.add_params(acc, dp)
        ns.store_state(dy0, n, dy)
        if need_pgrad:
            ns.store_params(dprm, n, acc)

    return spec_scan_backward


@cache
def forward_kernel(model: neuron_spec.GeneratedModel):
    """The forward scan of ``model``: ``(x, prm, kc, y0, ge, spikes, rec, store, z_out, store_z,
    last, flag, codes)`` (``spec_cpu.forward_kernel``; ``flag [1]`` int32 and ``codes = (input
    code, state code)`` report non-finite values)."""
    ns = neuron_spec.compile_for(model, "cuda")
    return retarget(_forward_template(model.n_states), cuda.jit, ns=ns)


@cache
def backward_kernel(model: neuron_spec.GeneratedModel):
    """The reverse-time scan of ``model``: ``(x, prm, kc, y0, ge, sg_kind, sgp, rec, g_s, has_gs,
    g_rec, has_grec, g_last, dx, dy0, dprm, need_pgrad)`` with ``rec [S, T, N]`` the forward's
    states (``spec_cpu.backward_kernel`` for the rest)."""
    ns = neuron_spec.compile_for(model, "cuda")
    return retarget(_backward_template(), cuda.jit, ns=ns)
