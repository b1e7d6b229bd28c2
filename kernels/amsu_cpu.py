"""AM-SU scans on the CPU: ``@njit(parallel=True)`` over samples, neurons in memory order.

The sample bodies are ``amsu_math``'s, compiled with the LIF step functions that ``lif_cpu``
compiles from ``lif_math`` (shared, not copied). Argument conventions: see
:mod:`neuro.kernels.amsu_math`; ``B = len(a0) // D``. (A batch of one runs on one thread.)
"""

import numpy as np
from numba import njit, prange

from . import amsu_math
from ._jit import retarget
from .lif_cpu import after_reset, backward_step, fires, forward_step, param_grads, surrogate_grad

_inline = njit(inline="always")  # per-neuron helpers are inlined into the sample loops
_calcium = _inline(amsu_math.calcium)
_modulation = retarget(amsu_math.domain_modulation, _inline, calcium=_calcium)
_step = retarget(amsu_math.modulated_step, _inline, lif_forward_step=forward_step)
_backward = retarget(amsu_math.modulated_backward, _inline, lif_backward_step=backward_step,
                     fires=fires, surrogate_grad=surrogate_grad)
_pgrads = retarget(amsu_math.neuron_param_grads, _inline, lif_param_grads=param_grads, fires=fires,
                   after_reset=after_reset)
forward_sample = retarget(amsu_math.amsu_forward_sample, njit, domain_modulation=_modulation,
                          modulated_step=_step)
backward_sample = retarget(amsu_math.amsu_backward_sample, njit, domain_modulation=_modulation,
                           modulated_backward=_backward, neuron_param_grads=_pgrads, fires=fires,
                           calcium=_calcium, calcium_grads=_inline(amsu_math.calcium_grads))


@njit(parallel=True, cache=True)
def amsu_scan_forward(x, prm, aprm, ptr, idx, of, inv_m, consts, ge, reset, has_syn, F, D, a0,
                      i_run, v_run, a_last, s_out, v_out, h_out, i_out, a_out, store_v, store_h,
                      store_i, store_a):
    for b in prange(a0.shape[0] // D):
        scratch = np.empty((6, D), x.dtype)
        per_neuron = np.empty((3, F), x.dtype)
        forward_sample(b, x, prm, aprm, of, inv_m, consts, ge, reset, has_syn, F, D, a0, i_run,
                       v_run, a_last, s_out, v_out, h_out, i_out, a_out, store_v, store_h, store_i,
                       store_a, scratch, per_neuron)


@njit(parallel=True, cache=True)
def amsu_scan_backward(x, prm, aprm, ptr, idx, of, inv_m, consts, ge, sg_kind, reset, has_syn,
                       need_pgrad, F, D, a0, i0, v0, h_seq, i_seq, a_seq, g_s, has_g_s, g_v,
                       has_g_v, g_i, has_g_i, g_a, has_g_a, dv_c, di_c, da_last, dx, d_a0, d_prm,
                       d_aprm):
    for b in prange(a0.shape[0] // D):
        scratch = np.empty((10, D), x.dtype)
        backward_sample(b, x, prm, aprm, of, inv_m, consts, ge, sg_kind, reset, has_syn,
                        need_pgrad, F, D, a0, i0, v0, h_seq, i_seq, a_seq, g_s, has_g_s, g_v,
                        has_g_v, g_i, has_g_i, g_a, has_g_a, dv_c, di_c, da_last, dx, d_a0, d_prm,
                        d_aprm, scratch)
