"""Tripartite-synapse models on NVIDIA GPUs with ``numba.cuda``: one thread per unit.

The arithmetic is the code :mod:`neuro.kernels.astrocyte_cpu` compiles (``astrocyte_math``,
``aeif_math``, ``rkf45_math``), the argument conventions are the same, and each thread keeps its
RKF45 work table in a ``cuda.local.array``. ``deliver`` pushes one slice's spikes and SICs into
the input rings with atomic adds (one thread per source), so a host loop of
``step kernels -> deliver`` per slice runs a network without copies to the host. Import only when
the CUDA backend is requested; with ``NUMBA_ENABLE_CUDASIM=1`` it runs on Numba's simulator.
"""

from numba import cuda, float64

from . import aeif_math, astrocyte_math, rkf45_math
from ._cuda_device import device as _device
from .tripartite_steps import compile_steps

THREADS_PER_BLOCK = 64
# local-array shapes must be compile-time constants on a GPU: module-level tuples are, module
# attributes read inside a kernel (rkf45_math.ROWS) are not (the simulator accepts both)
ASTRO_WORK = (rkf45_math.ROWS, astrocyte_math.N_ODE)
AEIF_WORK = (rkf45_math.ROWS, aeif_math.N_ODE)



astrocyte_update, aeif_update, astrocyte_advance, astrocyte_steps, aeif_steps = compile_steps(_device)


def blocks_for(n: int) -> int:
    """Number of thread blocks covering ``n`` units."""
    return max(1, (n + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK)


@cuda.jit
def astrocyte_step_many(state, prm, dt, k0, n_steps, ip3_ring, j_ring, sic_out, rec, rec_rows,
                        rec_every, rec_offset):
    """All astrocytes by ``n_steps`` steps (``astrocyte_cpu.astrocyte_block`` per thread)."""
    q = cuda.grid(1)
    if q >= state.shape[1]:
        return
    w = cuda.local.array(ASTRO_WORK, float64)
    astrocyte_steps(w, q, state, prm, dt, k0, n_steps, ip3_ring, j_ring, sic_out, rec, rec_rows,
                    rec_every, rec_offset)


@cuda.jit
def aeif_step_many(state, prm, dt, k0, n_steps, ex_ring, in_ring, stim_ring, sic_ring, spikes,
                   rec, rec_rows, rec_every, rec_offset, status):
    """All neurons by ``n_steps`` steps (``astrocyte_cpu.aeif_block`` per thread)."""
    q = cuda.grid(1)
    if q >= state.shape[1]:
        return
    w = cuda.local.array(AEIF_WORK, float64)
    aeif_steps(w, q, state, prm, dt, k0, n_steps, ex_ring, in_ring, stim_ring, sic_ring, spikes, rec,
               rec_rows, rec_every, rec_offset, status)


@cuda.jit
def deliver(k0, n_steps, spk, sic, ex_ring, in_ring, ip3_ring, sic_ring,
            nn_ptr, nn_tgt, nn_w, nn_d, na_ptr, na_tgt, na_w, na_d, an_ptr, an_tgt, an_w, an_d):
    """Push the spikes ``spk[n_steps, N]`` and SICs ``sic[n_steps, A]`` of steps ``k0..`` into the
    rings (threads ``0..N-1``: neurons, ``N..N+A-1``: astrocytes; CSR tables as on the CPU)."""
    g = cuda.grid(1)
    N = spk.shape[1]
    A = sic.shape[1]
    R = ex_ring.shape[0]
    if g < N:
        for kk in range(n_steps):
            c = spk[kk, g]
            if c == 0.0:
                continue
            k = k0 + kk
            for e in range(nn_ptr[g], nn_ptr[g + 1]):
                s = (k + nn_d[e]) % R
                if nn_w[e] > 0.0:
                    cuda.atomic.add(ex_ring, (s, nn_tgt[e]), nn_w[e] * c)
                else:
                    cuda.atomic.add(in_ring, (s, nn_tgt[e]), -nn_w[e] * c)
            for e in range(na_ptr[g], na_ptr[g + 1]):
                cuda.atomic.add(ip3_ring, ((k + na_d[e]) % R, na_tgt[e]), na_w[e] * c)
    elif g < N + A:
        a = g - N
        for kk in range(n_steps):
            v = sic[kk, a]
            k = k0 + kk
            for e in range(an_ptr[a], an_ptr[a + 1]):
                cuda.atomic.add(sic_ring, ((k + an_d[e]) % R, an_tgt[e]), an_w[e] * v)


@cuda.jit
def slice_rings(k0, n_steps, k_start, ext_ex, ext_in, ext_stim, ext_sic, ext_ip3, ext_jin,
                ex_ring, in_ring, stim_ring, sic_ring, ip3_ring, jin_ring, clear):
    """Before a slice (``clear = False``): add the external inputs of steps ``k0..`` (rows
    ``k - k_start`` of ``ext_*``) into the rings; after it (``clear = True``): zero those rows.
    Threads ``0..N-1``: neurons, ``N..N+A-1``: astrocytes."""
    g = cuda.grid(1)
    N = ex_ring.shape[1]
    A = ip3_ring.shape[1]
    R = ex_ring.shape[0]
    for k in range(k0, k0 + n_steps):
        s = k % R
        if g < N:
            if clear:
                ex_ring[s, g] = 0.0
                in_ring[s, g] = 0.0
                stim_ring[s, g] = 0.0
                sic_ring[s, g] = 0.0
            else:
                ex_ring[s, g] += ext_ex[k - k_start, g]
                in_ring[s, g] += ext_in[k - k_start, g]
                stim_ring[s, g] += ext_stim[k - k_start, g]
                sic_ring[s, g] += ext_sic[k - k_start, g]
        elif g < N + A:
            a = g - N
            if clear:
                ip3_ring[s, a] = 0.0
                jin_ring[s, a] = 0.0
            else:
                ip3_ring[s, a] += ext_ip3[k - k_start, a]
                jin_ring[s, a] += ext_jin[k - k_start, a]
