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
Host side: ``neuro.ops.elm_autograd`` launches them on torch's current stream (``neuro.ops._launch``).

Numerics: **not bit-identical to** ``elm_cpu``; bounded by a first-order running error bound.
Three sources: (1) summation order: the CPU kernels fuse four weight rows per pass or call BLAS for
mid-sized tiles, with fused multiply-adds (``fastmath={"contract"}``), these kernels sum one term
after the other without contraction; a dot product of ``n`` terms then differs by at most
``2 gamma_(n+1) * sum |terms|`` (``gamma_n = n u / (1 - n u)``, ``u = 2^-24`` / ``2^-53``); (2) ``exp``
(SiLU, and the one-``exp`` ``tanh`` of ``elm_math``) comes from libdevice here and libm on the CPU,
each within 2 ulp, so SiLU differs by at most ``16 u`` relative and ``tanh`` by ``16 u`` absolute
(``|tanh| <= 1``); (3) the routed trace backward adds ``dx`` with float atomics, so that sum's order
also varies from run to run. Propagating these through one step of the memory recurrence
(``mp = kappa m``, the MLP layers, ``d = A tanh(S z)``, ``m = mp + c d``) bounds the difference
after ``t`` steps elementwise by ``e_t``::

    e_mp = kappa e_(t-1) + 2u |mp|
    e_z1 = |W_1m| e_mp + 2 gamma_(M+1) (|U_t| + |W_1m| |mp|),   e_a = a' e_z + eps_act |a|
    e_zl = |W_l| e_a + 2 gamma_(H+1) (|b_l| + |W_l| |a|)        (further layers and the output layer)
    e_d  = A S (e_zo + 2u |zo|) + 16 u A + 2u |d|
    e_t  = e_mp + c e_d + 4u (|mp| + |c d|)

with ``a' = 1`` and ``eps_act = 0`` (ReLU) or ``a' = 1.1`` and ``eps_act = 16 u`` (SiLU), given the
same ``U_t`` (the input part ``W_1b b_t + b_1`` is a torch matrix product: its own CPU/GPU difference
adds to ``|U_t|``'s term). The magnitudes of one reference run give the bound
(``tests/test_kernel_bounds.py`` checks it on the GPU for the memory recurrence and the traces). It
grows at most like ``L^t`` with ``L`` the recurrence's Lipschitz constant, i.e. stays ``O(t u)``
for the contracting memories ELM learns (``kappa < 1``).
"""

from functools import cache

from numba import cuda, float32, float64

from . import elm_math
from .elm_math import C_AMP, C_ONE, C_SLOPE, C_ZERO

THREADS_PER_BLOCK = 128
_DTYPES = {"float32": float32, "float64": float64}

ns = elm_math.compile_for("cuda")


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
    """One thread per (batch element, branch); ``state`` holds the initial traces and receives the
    final ones."""
    b, j, d = ns.branch_task(cuda.grid(1), out_b.shape[2], x.shape[1], w.shape[0])
    if b < 0:
        return
    zero = kappa[0] - kappa[0]
    T = x.shape[0]
    s_branch = zero if per_synapse else state[b, j]
    for t in range(T):
        tot = zero
        for r in range(d):
            k = j * d + r
            xv = x[t, b, route[k]] if routed else x[t, b, k]
            drive = w[k] * xv
            if per_synapse:
                s = ns.trace_update(state[b, k], kappa[k], drive)
                state[b, k] = s
                tot += s
            else:
                tot += drive
        if per_synapse:
            out_b[t, b, j] = tot
        else:
            s_branch = ns.trace_update(s_branch, kappa[j], tot)
            out_b[t, b, j] = s_branch
    if not per_synapse:
        state[b, j] = s_branch


@cuda.jit
def trace_backward(x, route, w, kappa, g_b, per_synapse, routed, need_dx, dw_b, carry, dx):
    """``carry [B, K]`` starts as the gradient of the final traces and ends as that of the initial
    ones; ``dw_b [B, S]`` and ``dx`` must be zeroed by the caller."""
    b, j, d = ns.branch_task(cuda.grid(1), g_b.shape[2], x.shape[1], w.shape[0])
    if b < 0:
        return
    T = x.shape[0]
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


@cache
def memory_forward_kernel(dtype: str):
    """The forward memory kernel for ``dtype`` ("float32" / "float64": the shared-memory type)."""
    nbtype = _DTYPES[dtype]

    @cuda.jit
    def memory_forward(u, w_in_t, w_hid_t, b_hid, w_out_t, b_out, kappa, gain, m0, consts, act,
                       store, m_seq, z_seq, d_seq):
        b, tid, nt = cuda.blockIdx.x, cuda.threadIdx.x, cuda.blockDim.x
        T, _, H = u.shape
        M = kappa.shape[0]
        m, mp, _, a, a2 = ns.memory_vectors(cuda.shared.array(0, nbtype), M, H)
        zero, one = consts[C_ZERO], consts[C_ONE]
        n_hid = w_hid_t.shape[0]
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
                a[j] = ns.activation(acc, act, one, zero)
            cuda.syncthreads()
            for layer in range(n_hid):
                for j in range(tid, H, nt):
                    acc = b_hid[layer, j]
                    for k in range(H):
                        acc += a[k] * w_hid_t[layer, k, j]
                    if store:
                        z_seq[layer + 1, t, b, j] = acc
                    a2[j] = ns.activation(acc, act, one, zero)
                cuda.syncthreads()
                for j in range(tid, H, nt):
                    a[j] = a2[j]
                cuda.syncthreads()
            for i in range(tid, M, nt):
                acc = b_out[i]
                for j in range(H):
                    acc += a[j] * w_out_t[j, i]
                delta = ns.scaled_tanh(acc, consts)
                mi = ns.memory_update(mp[i], gain[i], delta)
                m[i] = mi
                m_seq[t, b, i] = mi
                if store:
                    d_seq[t, b, i] = delta
            cuda.syncthreads()

    return memory_forward


@cache
def memory_backward_kernel(dtype: str):
    """The reverse-time memory kernel for ``dtype``; ``d_kappa_b`` and ``d_gain_b`` must be zeroed."""
    nbtype = _DTYPES[dtype]

    @cuda.jit
    def memory_backward(g_m, m_seq, z_seq, d_seq, m0, w_in, w_hid, w_out, kappa, gain, consts, act,
                        du, dz_hid, dz_out, d_kappa_b, d_gain_b, dm0):
        b, tid, nt = cuda.blockIdx.x, cuda.threadIdx.x, cuda.blockDim.x
        T, _, M = m_seq.shape
        H = w_in.shape[0]
        carry, dmp, dzo, da, dz = ns.memory_vectors(cuda.shared.array(0, nbtype), M, H)
        zero, one = consts[C_ZERO], consts[C_ONE]
        amp, slope = consts[C_AMP], consts[C_SLOPE]
        n_hid = w_hid.shape[0]
        for i in range(tid, M, nt):
            carry[i] = zero
        cuda.syncthreads()
        for t in range(T - 1, -1, -1):
            for i in range(tid, M, nt):
                dm = g_m[t, b, i] + carry[i]
                dv = d_seq[t, b, i]
                d_gain_b[b, i] += dm * dv
                g = gain[i] * dm * ns.scaled_tanh_grad(dv, amp, slope)
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
                    g = da[j] * ns.activation_grad(z_seq[layer + 1, t, b, j], act, one, zero)
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
                g = da[j] * ns.activation_grad(z_seq[0, t, b, j], act, one, zero)
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
