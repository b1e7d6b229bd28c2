"""Bit-exact integer network simulation on the CPU: ``@njit(parallel=True)`` over samples.

A network is a chain of layers; layer ``l`` has ``n_out[l]`` neurons (global indices
``n_off[l] ...``) fed by ``n_in[l]`` presynaptic units (the input for ``l = 0``, else layer
``l - 1``). Its effective integer weights are stored presynaptic-major at ``w[w_off[l] + j * n_out[l]
+ k]`` (``j`` presynaptic, ``k`` postsynaptic), so a spike of ``j`` adds one contiguous row:
event-driven accumulation, as on the chips. ``fanout[fo_off[l] + j]`` is the number of non-zero
synapses of ``j`` (synaptic operations per spike). Every step, every layer in order: accumulate the
input of this step, then update the neurons (``hw_math.int_neuron_step``), so a spike reaches the
next layer in the same step, like the float model it emulates.
"""

from functools import lru_cache

import numpy as np
from numba import njit, prange

from . import hw_math
from ._jit import retarget

_inline = njit(inline="always", cache=True)
_helpers = {name: _inline(getattr(hw_math, name))
            for name in ("saturate", "outside", "loihi_decay", "xylo_decay", "wrap_register")}
neuron_step = retarget(hw_math.int_neuron_step, _inline, **_helpers)


@lru_cache(maxsize=None)
def simulate_kernel(fmt: int, wrap_u: bool, record_v: bool):
    """The simulation compiled for one format (``hw_math.FMT_*``) and options.

    Signature: ``(x, w, w_off, fanout, fo_off, n_in, n_out, n_off, du, dv, bias, vth, reset, half,
    spikes, v_rec, u_fin, v_fin, counts, synops, overflow)``; ``x`` is ``[T, B, n_in[0]]`` spike
    counts (uint8), ``spikes`` ``[T, B, N]`` (uint8, every layer), ``v_rec`` ``[T, B, N]`` (int64,
    written when ``record_v``), ``u_fin``/``v_fin`` ``[B, N]``, ``counts``/``synops``/``overflow``
    ``[B, L]`` (all int64, zero-initialised by the caller).
    """

    @njit(parallel=True, cache=True)
    def simulate(x, w, w_off, fanout, fo_off, n_in, n_out, n_off, du, dv, bias, vth, reset, half,
                 spikes, v_rec, u_fin, v_fin, counts, synops, overflow):
        T, B = x.shape[0], x.shape[1]
        L = n_out.shape[0]
        N = du.shape[0]
        max_n = 0
        for l in range(L):
            max_n = max(max_n, n_out[l])
        for b in prange(B):
            u = np.zeros(N, np.int64)
            v = np.zeros(N, np.int64)
            a = np.zeros(max_n, np.int64)
            for t in range(T):
                for l in range(L):
                    n = n_out[l]
                    off = n_off[l]
                    for k in range(n):
                        a[k] = 0
                    for j in range(n_in[l]):
                        if l == 0:
                            sj = np.int64(x[t, b, j])
                        else:
                            sj = np.int64(spikes[t, b, n_off[l - 1] + j])
                        if sj != 0:
                            row = w_off[l] + j * n
                            for k in range(n):
                                a[k] += sj * w[row + k]
                            synops[b, l] += sj * fanout[fo_off[l] + j]
                    for k in range(n):
                        i = off + k
                        u1, v1, s, ov = neuron_step(u[i], v[i], a[k], du[i], dv[i], bias[i], vth[i],
                                                    reset[l], fmt, wrap_u, half)
                        u[i] = u1
                        v[i] = v1
                        spikes[t, b, i] = s
                        counts[b, l] += s
                        overflow[b, l] += ov
                        if record_v:
                            v_rec[t, b, i] = v1
            for i in range(N):
                u_fin[b, i] = u[i]
                v_fin[b, i] = v[i]

    return simulate
