"""Tripartite-synapse models on NVIDIA GPUs with ``numba.cuda``: one thread per unit.

The arithmetic is the code :mod:`neuro.kernels.astrocyte_cpu` compiles (``astrocyte_math``,
``aeif_math``, ``rkf45_math``), the argument conventions are the same, and each thread keeps its
RKF45 work table in a ``cuda.local.array``. ``deliver`` adds one slice's spikes and SICs to the
input rings (one thread per target, no atomics), so a host loop of ``step kernels -> deliver`` per
slice runs a network without copies to the host (``neuro.astro.engine``). Import only when the CUDA
backend is requested; with ``NUMBA_ENABLE_CUDASIM=1`` it runs on Numba's simulator.

Numerics: **not bit-identical to** ``astrocyte_cpu``, because of three transcendental functions;
everything else is. Both targets run the same ``astrocyte_math`` / ``aeif_math`` / ``rkf45_math``
operations in the same order without contraction (``-fma=0`` here, no ``fastmath`` on the CPU), the
rings receive their terms in the same order (``deliver`` gathers per target, no atomics), and the
Li-Rinzel derivative is rational. What differs: ``exp`` in the AdEx spike current, ``pow`` in the
RKF45 step-size control (``r^(-1/5)``, ``r^(-1/6)``: it only moves the next sub-step's size) and
``log`` in the SIC emission, from libdevice here and libm on the CPU, each within 2 ulp, so the two
differ by at most ``8u`` relative per call (``u = 2^-53``, float64 only). A step runs at most a few
RKF45 sub-steps of eight derivative calls, so it adds a relative discrepancy of at most ``64 u`` to
each state variable; the dynamics between spikes are dissipative, so to first order the state after
``k`` steps differs by at most ``k * 64 u * max|y|`` per variable (``max|y|`` over the run), and the
spike steps are identical unless a membrane ends a sub-step within that distance of ``V_peak`` (or
the step control lands within it of a reject threshold), which the bound cannot exclude: such a
flip moves one spike by one step. ``tests/test_kernel_bounds.py`` checks the bound and identical
spikes on a mixed network on the GPU.
"""

from numba import cuda, float64

from . import aeif_math, astrocyte_math, rkf45_math, tripartite_steps

THREADS_PER_BLOCK = 64
# local-array shapes must be compile-time constants on a GPU: module-level tuples are, module
# attributes read inside a kernel (rkf45_math.ROWS) are not (the simulator accepts both)
ASTRO_WORK = (rkf45_math.ROWS, astrocyte_math.N_ODE)
AEIF_WORK = (rkf45_math.ROWS, aeif_math.N_ODE)

ns = tripartite_steps.compile_for("cuda")
# one astrocyte, one step: what neuro.sim's compiled loops call (``sim_cuda``)
astrocyte_advance = ns.astrocyte_advance


def blocks_for(n: int) -> int:
    """Number of thread blocks covering ``n`` units."""
    return max(1, (n + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK)


@cuda.jit
def astrocyte_step_many(state, prm, dt, k0, n_steps, inputs, sic_out, recorder):
    """All astrocytes by ``n_steps`` steps (``astrocyte_cpu.astrocyte_block`` per thread)."""
    q = cuda.grid(1)
    if q >= state.shape[1]:
        return
    w = cuda.local.array(ASTRO_WORK, float64)
    ns.astrocyte_steps(w, q, state, prm, dt, k0, n_steps, inputs, sic_out, recorder)


@cuda.jit
def aeif_step_many(state, prm, dt, k0, n_steps, inputs, spikes, recorder, status):
    """All neurons by ``n_steps`` steps (``astrocyte_cpu.aeif_block`` per thread)."""
    q = cuda.grid(1)
    if q >= state.shape[1]:
        return
    w = cuda.local.array(AEIF_WORK, float64)
    ns.aeif_steps(w, q, state, prm, dt, k0, n_steps, inputs, spikes, recorder, status)


@cuda.jit
def deliver(k0, n_steps, spk, sic, rings, incoming):
    """Add the spikes ``spk[n_steps, N]`` and SICs ``sic[n_steps, A]`` of steps ``k0..`` to the rings.

    One thread per target (``0..N-1``: neurons, ``N..N+A-1``: astrocytes) gathers over its incoming
    edges: ``incoming = (nn, na, an)``, CSR tables over targets ``(ptr, source, weight, delay)`` whose
    edges are in source order (``neuro.astro.engine.transpose_csr``). Each ring cell so receives its
    terms in the order ``astrocyte_cpu.network_run`` adds them (step, then source), without
    atomics: the same sums bit for bit.
    """
    ex_ring, in_ring, _, sic_ring, ip3_ring, _ = rings
    (nn_ptr, nn_src, nn_w, nn_d), (na_ptr, na_src, na_w, na_d), (an_ptr, an_src, an_w, an_d) = incoming
    g = cuda.grid(1)
    N = ex_ring.shape[1]
    R = ex_ring.shape[0]
    if g < N:
        for kk in range(n_steps):
            k = k0 + kk
            for e in range(nn_ptr[g], nn_ptr[g + 1]):
                c = spk[kk, nn_src[e]]
                if c != 0.0:
                    ns.add_synaptic(ex_ring, in_ring, (k + nn_d[e]) % R, g, nn_w[e], c)
            for e in range(an_ptr[g], an_ptr[g + 1]):
                sic_ring[(k + an_d[e]) % R, g] += an_w[e] * sic[kk, an_src[e]]
    elif g < N + ip3_ring.shape[1]:
        a = g - N
        for kk in range(n_steps):
            k = k0 + kk
            for e in range(na_ptr[a], na_ptr[a + 1]):
                c = spk[kk, na_src[e]]
                if c != 0.0:
                    ip3_ring[(k + na_d[e]) % R, a] += na_w[e] * c


@cuda.jit
def slice_rings(k0, n_steps, k_start, ext, rings, clear):
    """Before a slice (``clear = False``): add the external inputs of steps ``k0..`` (rows
    ``k - k_start`` of ``ext``) into the rings; after it (``clear = True``): zero those rows.
    Threads ``0..N-1``: neurons, ``N..N+A-1``: astrocytes (``tripartite_steps.ring_inputs``)."""
    g = cuda.grid(1)
    N = rings[0].shape[1]
    if g < N + rings[4].shape[1]:
        for k in range(k0, k0 + n_steps):
            ns.ring_inputs(rings, ext, k % rings[0].shape[0], k - k_start, g, N, clear)
