"""Scans of any :class:`~neuro.kernels.neuron_spec.NeuronSpec` model on the CPU: GIL-free Numba
kernels over chunks of neurons, serial over time (the layout of ``lif_cpu``).

The kernels are written once here and compiled per model: :func:`forward_kernel` and
:func:`backward_kernel` bind the global ``ns`` of a kernel to the model's generated functions
(``neuron_spec.compile_for(model, "cpu")``: ``model_forward``, ``model_backward`` and the
load/store helpers of its state layout), which Numba inlines. Numba's on-disk cache keys a kernel by
this file, its signature and its closure, which holds the model's code hash
(:attr:`GeneratedModel.key`, covering the generated text and the helper modules it calls), so each
model gets its own cached kernels and a changed model or helper compiles afresh.

Arrays (C-contiguous, the compute dtype): ``x [T, N]``; ``prm [P, C]`` the coefficient table
(neuron ``n`` uses column ``n % C``, rows ``model.rows``); ``kc`` the constants
(``neuron_spec.constants_of``); ``y0 [S, N]`` the initial states; ``rec [S, T, N]`` the states after
every step; ``last [S, N]``. ``ge``: spike on ``z >= 0``. A task owns ``chunk`` consecutive neurons
(:func:`chunk_for`); the task range ``k_lo, k_hi`` comes last. Absent arrays are 1x1 (or 1x1x1)
placeholders with a flag.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numba import njit

from . import neuron_spec
from ._jit import retarget

# The kernels below call the model through the global ``ns``, which ``forward_kernel`` and
# ``backward_kernel`` bind to the model's compiled namespace (a clone per model, ``_jit.retarget``).
ns = None

# Columns of the forward's ``finite [n_chunks, 2]`` output.
FINITE_X, FINITE_STATE = 0, 1


def chunk_for(T: int, S: int) -> int:
    """Neurons per task: the backward's ``[T + 1, S, chunk]`` recompute buffer stays in L2."""
    return int(max(16, min(256, (65536 // max(T * (S + 1), 1)) // 16 * 16)))


def n_chunks(T: int, N: int, S: int) -> tuple[int, int]:
    """``(chunk, number of chunks)`` of a ``[T, N]`` scan of a model with ``S`` states."""
    chunk = chunk_for(T, S)
    return chunk, (N + chunk - 1) // chunk


def _forward_template(S: int, P: int, key: str):
    def spec_scan_forward(x, prm, kc, y0, ge, chunk, spikes, rec, store, z_out, store_z, last, finite,
                          k_lo, k_hi):
        if len(key) == 0:  # never: ``key`` (the model's code hash) names this kernel in Numba's cache
            return
        T, N = x.shape
        C = prm.shape[1]
        zero = kc[0]
        for k in range(k_lo, k_hi):
            lo = k * chunk
            m = min(chunk, N - lo)
            ly = np.empty((S, m), x.dtype)
            lp = np.empty((P, m), x.dtype)
            bad = zero  # sum of state * 0: NaN iff an initial state is NaN or inf
            for j in range(m):
                for q in range(S):
                    ly[q, j] = y0[q, lo + j]
                    bad += ly[q, j] * zero
                for r in range(P):
                    lp[r, j] = prm[r, (lo + j) % C]
            finite[k, FINITE_STATE] = bad
            lacc = np.zeros(m, x.dtype)  # per-lane sums of x * 0
            for t in range(T):
                for j in range(m):
                    xv = x[t, lo + j]
                    lacc[j] += xv * zero
                    y, s, z = ns.model_forward(xv, ns.load_state(ly, j), ns.load_params(lp, j), kc, ge)
                    ns.store_state(ly, j, y)
                    spikes[t, lo + j] = s
                    if store:
                        ns.store_seq(rec, t, lo + j, y)
                    if store_z:
                        z_out[t, lo + j] = z
            for j in range(m):
                for q in range(S):
                    last[q, lo + j] = ly[q, j]
            finite[k, FINITE_X] = lacc.sum()

    return spec_scan_forward


def _backward_template(S: int, P: int, key: str):
    def spec_scan_backward(x, prm, kc, y0, ge, sg_kind, sgp, chunk, g_s, has_gs, g_rec, has_grec, g_last,
                           dx, dy0, dprm, need_pgrad, k_lo, k_hi):
        if len(key) == 0:  # never (see spec_scan_forward)
            return
        T, N = x.shape
        C = prm.shape[1]
        zero = kc[0]
        for k in range(k_lo, k_hi):
            lo = k * chunk
            m = min(chunk, N - lo)
            lp = np.empty((P, m), x.dtype)
            ys = np.empty((T + 1, S, m), x.dtype)  # ys[t] = states after step t - 1 (ys[0] = y0)
            for j in range(m):
                for q in range(S):
                    ys[0, q, j] = y0[q, lo + j]
                for r in range(P):
                    lp[r, j] = prm[r, (lo + j) % C]
            for t in range(T):  # 1) recompute the forward of the chunk
                for j in range(m):
                    y, s, z = ns.model_forward(x[t, lo + j], ns.load_slab(ys, t, j), ns.load_params(lp, j),
                                               kc, ge)
                    ns.store_slab(ys, t + 1, j, y)
            # 2) reverse sweep; ld holds dL/dy_t of every neuron of the chunk
            ld = np.empty((S, m), x.dtype)
            for j in range(m):
                for q in range(S):
                    ld[q, j] = g_last[q, lo + j]
            gp = np.zeros((P, m), x.dtype)
            for t in range(T - 1, -1, -1):
                for j in range(m):
                    n = lo + j
                    dy = ns.load_state(ld, j)
                    if has_grec:
                        dy = ns.add_seq(dy, g_rec, t, n)
                    gs = g_s[t, n] if has_gs else zero
                    sgv = sgp[t, n] if sg_kind < 0 else zero
                    dxv, dyp, dp = ns.model_backward(x[t, n], ns.load_slab(ys, t, j), ns.load_params(lp, j),
                                                     kc, ge, dy, gs, sg_kind, sgv)
                    dx[t, n] = dxv
                    ns.store_state(ld, j, dyp)
                    if need_pgrad:
                        ns.accumulate_params(gp, j, dp)
            for j in range(m):
                for q in range(S):
                    dy0[q, lo + j] = ld[q, j]
                if need_pgrad:
                    for r in range(P):
                        dprm[r, lo + j] = gp[r, j]

    return spec_scan_backward


@cache
def forward_kernel(model: neuron_spec.GeneratedModel):
    """The forward scan of ``model``.

    Signature: ``(x, prm, kc, y0, ge, chunk, spikes, rec, store, z_out, store_z, last, finite,
    k_lo, k_hi)``: ``spikes [T, N]``; ``rec [S, T, N]`` written with ``store``; ``z_out [T, N]``
    the threshold values ``z_t`` written with ``store_z`` (for a surrogate evaluated in torch);
    ``finite[k] = (sum of x * 0, sum of y0 * 0)`` over chunk ``k`` (NaN iff one is NaN or inf).
    """
    ns = neuron_spec.compile_for(model, "cpu")
    return retarget(_forward_template(model.n_states, model.n_rows, model.key), njit(nogil=True, cache=True),
                    ns=ns)


@cache
def backward_kernel(model: neuron_spec.GeneratedModel):
    """The reverse-time scan (exact BPTT through the surrogate) of ``model``.

    Signature: ``(x, prm, kc, y0, ge, sg_kind, sgp, chunk, g_s, has_gs, g_rec, has_grec, g_last,
    dx, dy0, dprm, need_pgrad, k_lo, k_hi)``: ``sg_kind`` the surrogate's kernel kind, or ``-1``
    with ``sgp [T, N]`` its derivative precomputed at every ``z_t``; ``g_s [T, N]``, ``g_rec
    [S, T, N]``, ``g_last [S, N]`` the incoming gradients; outputs ``dx [T, N]``, ``dy0 [S, N]`` and,
    with ``need_pgrad``, ``dprm [P, N]`` (per neuron, summed over time). Each chunk recomputes its
    forward into a ``[T + 1, S, chunk]`` buffer, then walks back in time.
    """
    ns = neuron_spec.compile_for(model, "cpu")
    return retarget(_backward_template(model.n_states, model.n_rows, model.key), njit(nogil=True, cache=True),
                    ns=ns)
