"""ELM kernels on NVIDIA GPUs with ``numba.cuda`` (arguments as in :mod:`neuro.kernels.elm_cpu`).

* ``trace_*``: one thread per (batch element, branch) looping over time; v1 keeps its per-synapse
  traces in the ``state`` array (read-modify-write, cache resident), v2 keeps the branch trace in a
  register. The backward scatters ``dx`` with atomics (routing may read one input many times).
* ``memory_*``: one thread block per batch element looping over time. The memory, the decayed memory
  and the hidden activations of the current step live in shared memory; each thread computes whole
  output rows of the small recurrent matrix-vector products, reading the weights in the layout that
  makes consecutive threads read consecutive addresses (transposed in the forward, natural in the
  backward). Weights stay in the L1/L2 caches across steps.

The backward stores nothing extra (see ``elm_cpu``). Import this module only when the CUDA backend
is requested (it needs ``numba-cuda``); with ``NUMBA_ENABLE_CUDASIM=1`` it runs on Numba's simulator.
"""

from functools import lru_cache

from numba import cuda, float32, float64

from . import elm_math
from ._jit import retarget
from ._cuda_device import device as _device

THREADS_PER_BLOCK = 128
_DTYPES = {"float32": float32, "float64": float64}

# the simulator's cuda.jit does not accept forceinline (device functions are plain Python there)
activation = _device(elm_math.activation)
activation_grad = _device(elm_math.activation_grad)
scaled_tanh = retarget(elm_math.scaled_tanh, _device, tanh=_device(elm_math.tanh))
scaled_tanh_grad = _device(elm_math.scaled_tanh_grad)
memory_update = _device(elm_math.memory_update)
trace_update = _device(elm_math.trace_update)


def blocks_for(n: int) -> int:
    """Number of thread blocks covering ``n`` threads."""
    return (n + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK


def memory_threads(hidden: int, memory: int) -> int:
    """Threads per block of the memory kernels: one per row of the wider layer, in whole warps."""
    widest = max(hidden, memory)
    return int(min(256, max(32, (widest + 31) // 32 * 32)))


def memory_shared_bytes(hidden: int, memory: int, itemsize: int) -> int:
    """Dynamic shared memory of the memory kernels: three ``[M]`` and two ``[H]`` vectors."""
    return (3 * memory + 2 * hidden) * itemsize


@cuda.jit
def trace_forward(x, route, w, kappa, state, per_synapse, routed, out_b):
    n = cuda.grid(1)
    T, B, _ = x.shape
    nb = out_b.shape[2]
    if n >= B * nb:
        return
    b = n // nb
    j = n - b * nb
    d = w.shape[0] // nb
    zero = kappa[0] - kappa[0]
    s_branch = zero if per_synapse else state[b, j]
    for t in range(T):
        tot = zero
        for r in range(d):
            k = j * d + r
            xv = x[t, b, route[k]] if routed else x[t, b, k]
            drive = w[k] * xv
            if per_synapse:
                s = trace_update(state[b, k], kappa[k], drive)
                state[b, k] = s
                tot += s
            else:
                tot += drive
        if per_synapse:
            out_b[t, b, j] = tot
        else:
            s_branch = trace_update(s_branch, kappa[j], tot)
            out_b[t, b, j] = s_branch
    if not per_synapse:
        state[b, j] = s_branch


@cuda.jit
def trace_backward(x, route, w, kappa, g_b, per_synapse, routed, need_dx, dw_b, carry, dx):
    """``carry [B, K]`` starts as the gradient of the final traces and ends as that of the initial
    ones; ``dw_b [B, S]`` and ``dx`` must be zeroed by the caller."""
    n = cuda.grid(1)
    T, B, _ = x.shape
    nb = g_b.shape[2]
    if n >= B * nb:
        return
    b = n // nb
    j = n - b * nb
    d = w.shape[0] // nb
    c_branch = carry[b, j] if not per_synapse else kappa[0] - kappa[0]
    for t in range(T - 1, -1, -1):
        g = g_b[t, b, j]
        if not per_synapse:
            c_branch += g
        for r in range(d):
            k = j * d + r
            i = route[k] if routed else k
            ck = carry[b, k] + g if per_synapse else c_branch
            dw_b[b, k] += ck * x[t, b, i]
            if need_dx:
                cuda.atomic.add(dx, (t, b, i), ck * w[k])
            if per_synapse:
                carry[b, k] = kappa[k] * ck
        if not per_synapse:
            c_branch = kappa[j] * c_branch
    if not per_synapse:
        carry[b, j] = c_branch


@lru_cache(maxsize=None)
def memory_forward_kernel(dtype: str):
    """The forward memory kernel for ``dtype`` ("float32" / "float64": the shared-memory type)."""
    nbtype = _DTYPES[dtype]

    @cuda.jit
    def memory_forward(u, w_in_t, w_hid_t, b_hid, w_out_t, b_out, kappa, gain, m0, consts, act,
                       store, m_seq, z_seq, d_seq):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        nt = cuda.blockDim.x
        T, _, H = u.shape
        M = kappa.shape[0]
        n_hid = w_hid_t.shape[0]
        zero, one = consts[0], consts[1]
        sh = cuda.shared.array(0, nbtype)
        m = sh[0:M]
        mp = sh[M:2 * M]
        a = sh[3 * M:3 * M + H]
        a2 = sh[3 * M + H:3 * M + 2 * H]
        for i in range(tid, M, nt):
            m[i] = m0[b, i]
        cuda.syncthreads()
        for t in range(T):
            for i in range(tid, M, nt):
                mp[i] = kappa[i] * m[i]
            cuda.syncthreads()
            for j in range(tid, H, nt):
                acc = u[t, b, j]
                for k in range(M):
                    acc += mp[k] * w_in_t[k, j]
                if store:
                    z_seq[0, t, b, j] = acc
                a[j] = activation(acc, act, one, zero)
            cuda.syncthreads()
            for layer in range(n_hid):
                for j in range(tid, H, nt):
                    acc = b_hid[layer, j]
                    for k in range(H):
                        acc += a[k] * w_hid_t[layer, k, j]
                    if store:
                        z_seq[layer + 1, t, b, j] = acc
                    a2[j] = activation(acc, act, one, zero)
                cuda.syncthreads()
                for j in range(tid, H, nt):
                    a[j] = a2[j]
                cuda.syncthreads()
            for i in range(tid, M, nt):
                acc = b_out[i]
                for j in range(H):
                    acc += a[j] * w_out_t[j, i]
                delta = scaled_tanh(acc, consts)
                mi = memory_update(mp[i], gain[i], delta)
                m[i] = mi
                m_seq[t, b, i] = mi
                if store:
                    d_seq[t, b, i] = delta
            cuda.syncthreads()

    return memory_forward


@lru_cache(maxsize=None)
def memory_backward_kernel(dtype: str):
    """The reverse-time memory kernel for ``dtype``; ``d_kappa_b`` and ``d_gain_b`` must be zeroed."""
    nbtype = _DTYPES[dtype]

    @cuda.jit
    def memory_backward(g_m, m_seq, z_seq, d_seq, m0, w_in, w_hid, w_out, kappa, gain, consts, act,
                        du, dz_hid, dz_out, d_kappa_b, d_gain_b, dm0):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        nt = cuda.blockDim.x
        T, _, M = m_seq.shape
        H = w_in.shape[0]
        n_hid = w_hid.shape[0]
        zero, one, amp, slope = consts[0], consts[1], consts[2], consts[3]
        sh = cuda.shared.array(0, nbtype)
        carry = sh[0:M]
        dmp = sh[M:2 * M]
        dzo = sh[2 * M:3 * M]
        da = sh[3 * M:3 * M + H]
        dz = sh[3 * M + H:3 * M + 2 * H]
        for i in range(tid, M, nt):
            carry[i] = zero
        cuda.syncthreads()
        for t in range(T - 1, -1, -1):
            for i in range(tid, M, nt):
                dm = g_m[t, b, i] + carry[i]
                dv = d_seq[t, b, i]
                d_gain_b[b, i] += dm * dv
                g = gain[i] * dm * scaled_tanh_grad(dv, amp, slope)
                dz_out[t, b, i] = g
                dzo[i] = g
                dmp[i] = dm
            cuda.syncthreads()
            for j in range(tid, H, nt):
                acc = zero
                for i in range(M):
                    acc += dzo[i] * w_out[i, j]
                da[j] = acc
            cuda.syncthreads()
            for layer in range(n_hid - 1, -1, -1):
                for j in range(tid, H, nt):
                    g = da[j] * activation_grad(z_seq[layer + 1, t, b, j], act, one, zero)
                    dz_hid[layer, t, b, j] = g
                    dz[j] = g
                cuda.syncthreads()
                for k in range(tid, H, nt):
                    acc = zero
                    for j in range(H):
                        acc += dz[j] * w_hid[layer, j, k]
                    da[k] = acc
                cuda.syncthreads()
            for j in range(tid, H, nt):
                g = da[j] * activation_grad(z_seq[0, t, b, j], act, one, zero)
                du[t, b, j] = g
                dz[j] = g
            cuda.syncthreads()
            for i in range(tid, M, nt):
                acc = dmp[i]
                for j in range(H):
                    acc += dz[j] * w_in[j, i]
                m_prev = m_seq[t - 1, b, i] if t > 0 else m0[b, i]
                d_kappa_b[b, i] += acc * m_prev
                carry[i] = kappa[i] * acc
            cuda.syncthreads()
        for i in range(tid, M, nt):
            dm0[b, i] = carry[i]

    return memory_backward
