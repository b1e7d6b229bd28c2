"""Bit-exact integer network simulation with ``numba.cuda``: one thread block per sample.

Same arguments and semantics as ``hw_cpu.simulate_kernel`` (read its docstring). Threads of a block
share the neurons of the current layer; each gathers its neurons' input from the presynaptic spikes,
updates them with the ``hw_math`` step compiled as device functions, and the block synchronises
before the next layer reads those spikes. Host side: ``neuro.hw.emulator`` launches it on torch's
current stream through ``neuro.ops._launch``.

Numerics: **bit-identical to** ``hw_cpu``. Every value is an integer (int64 registers, uint8
spikes): the synaptic sums, decays (multiply and arithmetic shift), saturation and counters are
exact in any order, so the different summation order of the threads and the integer atomics of
the per-layer counters cannot change a bit. Tested with ``np.array_equal`` on spikes, membranes,
counters and final states (``tests/test_hw_emulator.py``).
"""

from functools import cache

from numba import cuda

from . import hw_math

THREADS_PER_BLOCK = 64

ns = hw_math.compile_for("cuda")


@cache
def simulate_kernel(fmt: int, wrap_u: bool, record_v: bool):
    """Launch as ``kernel[B, THREADS_PER_BLOCK](x, layers, neurons, half, out)`` (``hw_cpu``'s
    arguments) with ``u_fin``, ``v_fin`` and the counters zero-initialised (``u_fin``/``v_fin``
    double as the working state)."""

    @cuda.jit
    def simulate(x, layers, neurons, half, out):
        w, w_off, fanout, fo_off, n_in, n_out, n_off, reset = layers
        du, dv, bias, vth = neurons
        spikes, v_rec, u_fin, v_fin, counts, synops, overflow = out
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        step = cuda.blockDim.x
        T = x.shape[0]
        L = n_out.shape[0]
        for t in range(T):
            for layer in range(L):
                n = n_out[layer]
                off = n_off[layer]
                n_spk = 0
                n_ov = 0
                for k in range(tid, n, step):
                    acc = 0
                    for j in range(n_in[layer]):
                        sj = ns.presynaptic(x, spikes, t, b, layer, j, n_off)
                        if sj != 0:
                            acc += sj * w[w_off[layer] + j * n + k]
                    i = off + k
                    u1, v1, s, ov = ns.int_neuron_step(u_fin[b, i], v_fin[b, i], acc, du[i], dv[i], bias[i],
                                                vth[i], reset[layer], fmt, wrap_u, half)
                    u_fin[b, i] = u1
                    v_fin[b, i] = v1
                    spikes[t, b, i] = s
                    if record_v:
                        v_rec[t, b, i] = v1
                    n_spk += s
                    n_ov += ov
                if n_spk != 0:
                    cuda.atomic.add(counts, (b, layer), n_spk)
                if n_ov != 0:
                    cuda.atomic.add(overflow, (b, layer), n_ov)
                if tid == 0:
                    ops = 0
                    for j in range(n_in[layer]):
                        ops += ns.presynaptic(x, spikes, t, b, layer, j, n_off) * fanout[fo_off[layer] + j]
                    synops[b, layer] += ops
                cuda.syncthreads()

    return simulate
