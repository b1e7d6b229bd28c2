"""Bit-exact integer network simulation with ``numba.cuda``: one thread block per sample.

Same arguments and semantics as ``hw_cpu.simulate_kernel`` (read its docstring). Threads of a block
share the neurons of the current layer; each gathers its neurons' input from the presynaptic spikes,
updates them with the ``hw_math`` step compiled as device functions, and the block synchronises
before the next layer reads those spikes. Integer sums are exact in any order, and per-layer
counters are accumulated with integer atomics, so results equal the CPU's bit for bit.
"""

from functools import lru_cache

from numba import cuda

from . import hw_math
from ._jit import retarget
from ._cuda_device import device as _device

THREADS_PER_BLOCK = 64

_helpers = {name: _device(getattr(hw_math, name))
            for name in ("saturate", "outside", "loihi_decay", "xylo_decay", "wrap_register")}
neuron_step = retarget(hw_math.int_neuron_step, _device, **_helpers)


@lru_cache(maxsize=None)
def simulate_kernel(fmt: int, wrap_u: bool, record_v: bool):
    """Launch as ``kernel[B, THREADS_PER_BLOCK](...)`` with ``u_fin``, ``v_fin`` and the counters
    zero-initialised (``u_fin``/``v_fin`` double as the working state)."""

    @cuda.jit
    def simulate(x, w, w_off, fanout, fo_off, n_in, n_out, n_off, du, dv, bias, vth, reset, half,
                 spikes, v_rec, u_fin, v_fin, counts, synops, overflow):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        step = cuda.blockDim.x
        T = x.shape[0]
        L = n_out.shape[0]
        for t in range(T):
            for l in range(L):
                n = n_out[l]
                off = n_off[l]
                n_spk = 0
                n_ov = 0
                for k in range(tid, n, step):
                    acc = 0
                    for j in range(n_in[l]):
                        if l == 0:
                            sj = x[t, b, j]
                        else:
                            sj = spikes[t, b, n_off[l - 1] + j]
                        if sj != 0:
                            acc += sj * w[w_off[l] + j * n + k]
                    i = off + k
                    u1, v1, s, ov = neuron_step(u_fin[b, i], v_fin[b, i], acc, du[i], dv[i], bias[i],
                                                vth[i], reset[l], fmt, wrap_u, half)
                    u_fin[b, i] = u1
                    v_fin[b, i] = v1
                    spikes[t, b, i] = s
                    if record_v:
                        v_rec[t, b, i] = v1
                    n_spk += s
                    n_ov += ov
                if n_spk != 0:
                    cuda.atomic.add(counts, (b, l), n_spk)
                if n_ov != 0:
                    cuda.atomic.add(overflow, (b, l), n_ov)
                if tid == 0:
                    ops = 0
                    for j in range(n_in[l]):
                        if l == 0:
                            sj = x[t, b, j]
                        else:
                            sj = spikes[t, b, n_off[l - 1] + j]
                        ops += sj * fanout[fo_off[l] + j]
                    synops[b, l] += ops
                cuda.syncthreads()

    return simulate
