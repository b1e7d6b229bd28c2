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

from functools import cache

import numpy as np
from numba import njit, prange

from . import hw_math

ns = hw_math.compile_for("cpu")


@cache
def simulate_kernel(fmt: int, wrap_u: bool, record_v: bool):
    """The simulation compiled for one format (``hw_math.FMT_*``) and options.

    Signature: ``(x, layers, neurons, half, out)``; ``x`` is ``[T, B, n_in[0]]`` spike counts
    (uint8); ``layers = (w, w_off, fanout, fo_off, n_in, n_out, n_off, reset)`` (the weights and
    the per-layer tables of the module docstring, ``reset`` a ``hw_math.RESET_*`` code per layer);
    ``neurons = (du, dv, bias, vth)`` ``[N]``; ``out = (spikes, v_rec, u_fin, v_fin, counts, synops,
    overflow)``: ``spikes`` ``[T, B, N]`` (uint8, every layer), ``v_rec`` ``[T, B, N]`` (written
    when ``record_v``), ``u_fin``/``v_fin`` ``[B, N]``, ``counts``/``synops``/``overflow``
    ``[B, L]`` (all int64, zero-initialised by the caller).
    """

    @njit(parallel=True, cache=True)
    def simulate(x, layers, neurons, half, out):
        w, w_off, fanout, fo_off, n_in, n_out, n_off, reset = layers
        du, dv, bias, vth = neurons
        spikes, v_rec, u_fin, v_fin, counts, synops, overflow = out
        T, B = x.shape[0], x.shape[1]
        L = n_out.shape[0]
        N = du.shape[0]
        max_n = 0
        for layer in range(L):
            max_n = max(max_n, n_out[layer])
        for b in prange(B):
            u = np.zeros(N, np.int64)
            v = np.zeros(N, np.int64)
            a = np.zeros(max_n, np.int64)
            for t in range(T):
                for layer in range(L):
                    n = n_out[layer]
                    off = n_off[layer]
                    for k in range(n):
                        a[k] = 0
                    for j in range(n_in[layer]):
                        sj = ns.presynaptic(x, spikes, t, b, layer, j, n_off)
                        if sj != 0:
                            row = w_off[layer] + j * n
                            for k in range(n):
                                a[k] += sj * w[row + k]
                            synops[b, layer] += sj * fanout[fo_off[layer] + j]
                    for k in range(n):
                        i = off + k
                        u1, v1, s, ov = ns.int_neuron_step(u[i], v[i], a[k], du[i], dv[i], bias[i], vth[i],
                                                    reset[layer], fmt, wrap_u, half)
                        u[i] = u1
                        v[i] = v1
                        spikes[t, b, i] = s
                        counts[b, layer] += s
                        overflow[b, layer] += ov
                        if record_v:
                            v_rec[t, b, i] = v1
            for i in range(N):
                u_fin[b, i] = u[i]
                v_fin[b, i] = v[i]

    return simulate
