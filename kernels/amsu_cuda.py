"""AM-SU scans on NVIDIA GPUs with ``numba.cuda``: one thread per (sample, astrocyte domain).

The task bodies are ``amsu_math``'s (layout 1), compiled by ``amsu_math.compile_for("cuda")``
together with the LIF device functions; conventions as in :mod:`neuro.kernels.amsu_math` (the
arguments match ``amsu_cpu``'s, except that the forward reports NaN/inf inputs or states by writing
``codes[0]`` / ``codes[1]`` into ``flag[0]``). Import only for the CUDA backend; with
``NUMBA_ENABLE_CUDASIM=1`` it runs on Numba's simulator.
"""

from numba import cuda

from . import amsu_math, lif_math
from ._cuda_device import report_non_finite

THREADS_PER_BLOCK = 64

ns = amsu_math.compile_for("cuda")
LIFStructure = lif_math.LIFStructure


def blocks_for(n: int) -> int:
    return max(1, (n + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK)


@cuda.jit
def amsu_scan_forward(x, prm, aprm, tables, inv_m, consts, reset, ge, has_syn, F, D, a0, run, a_last,
                      seqs, store, flag, codes):
    k = cuda.grid(1)
    if k < a0.shape[0]:
        st = LIFStructure(has_syn, False, True, reset, ge)
        bad_x, bad_state = ns.amsu_forward_task(k, x, prm, aprm, tables, inv_m, consts, st, F, D, a0,
                                                run, a_last, seqs, store)
        report_non_finite(flag, codes[0], bad_x)
        report_non_finite(flag, codes[1], bad_state)


@cuda.jit
def amsu_scan_backward(x, prm, aprm, tables, inv_m, consts, reset, ge, has_syn, sg_kind, need_pgrad,
                       F, D, state0, saved, grads, has_grads, carry, da_last, dx, d_a0, d_prm, d_aprm):
    k = cuda.grid(1)
    if k < state0[2].shape[0]:
        st = LIFStructure(has_syn, False, True, reset, ge)
        ns.amsu_backward_task(k, x, prm, aprm, tables, inv_m, consts, st, sg_kind, need_pgrad, F, D,
                              state0, saved, grads, has_grads, carry, da_last, dx, d_a0, d_prm, d_aprm)
