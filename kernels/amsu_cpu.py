"""AM-SU scans on the CPU: ``@njit(parallel=True)`` over samples, neurons in memory order.

The sample bodies are ``amsu_math``'s (layout 2), compiled by ``amsu_math.compile_for("cpu")``
together with the LIF step functions of ``lif_math`` (shared, not copied). Argument conventions:
see :mod:`neuro.kernels.amsu_math`; ``B = len(a0) // D``. (A batch of one runs on one thread.)
The forward writes ``finite[b] = (bad_x, bad_state)`` of sample ``b`` (NaN iff its input or initial
state holds NaN or inf).
"""

import numpy as np
from numba import njit, prange

from . import amsu_math, lif_math

ns = amsu_math.compile_for("cpu")
LIFStructure = lif_math.LIFStructure


@njit(parallel=True, cache=True)
def amsu_scan_forward(x, prm, aprm, tables, inv_m, consts, reset, ge, has_syn, F, D, a0, run, a_last,
                      seqs, store, finite):
    st = LIFStructure(has_syn, False, True, reset, ge)
    for b in prange(a0.shape[0] // D):
        scratch = np.empty((6, D), x.dtype)
        per_neuron = np.empty((4, F), x.dtype)
        finite[b, 0], finite[b, 1] = ns.amsu_forward_sample(b, x, prm, aprm, tables, inv_m, consts, st,
                                                            F, D, a0, run, a_last, seqs, store, scratch,
                                                            per_neuron)


@njit(parallel=True, cache=True)
def amsu_scan_backward(x, prm, aprm, tables, inv_m, consts, reset, ge, has_syn, sg_kind, need_pgrad,
                       F, D, state0, saved, grads, has_grads, carry, da_last, dx, d_a0, d_prm, d_aprm):
    st = LIFStructure(has_syn, False, True, reset, ge)
    for b in prange(state0[2].shape[0] // D):
        scratch = np.empty((10, D), x.dtype)
        ns.amsu_backward_sample(b, x, prm, aprm, tables, inv_m, consts, st, sg_kind, need_pgrad, F, D,
                                state0, saved, grads, has_grads, carry, da_last, dx, d_a0, d_prm,
                                d_aprm, scratch)
