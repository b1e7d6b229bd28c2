"""AM-SU scans on the CPU: ``@njit(parallel=True)`` over (sample, astrocyte domain) tasks.

The task bodies are ``amsu_math``'s, compiled with the LIF step functions that ``lif_cpu``
compiles from ``lif_math`` (shared, not copied). Argument conventions: see
:mod:`neuro.kernels.amsu_math`; the number of tasks is ``len(a0) = B * D``.
"""

from numba import njit, prange

from . import amsu_math
from ._jit import retarget
from .lif_cpu import after_reset, backward_step, fires, forward_step, param_grads, surrogate_grad

backward_task = retarget(amsu_math.amsu_backward_task, njit, lif_backward_step=backward_step,
                         lif_param_grads=param_grads, fires=fires, after_reset=after_reset,
                         surrogate_grad=surrogate_grad,
                         calcium=njit(amsu_math.calcium), calcium_grads=njit(amsu_math.calcium_grads))
forward_task = retarget(amsu_math.amsu_forward_task, njit, lif_forward_step=forward_step,
                        calcium=njit(amsu_math.calcium))


@njit(parallel=True, cache=True)
def amsu_scan_forward(x, prm, aprm, ptr, idx, inv_m, consts, ge, reset, has_syn, F, D, a0, i_run,
                      v_run, a_last, s_out, v_out, h_out, i_out, a_out, store_v, store_h, store_i,
                      store_a):
    for k in prange(a0.shape[0]):
        forward_task(k, x, prm, aprm, ptr, idx, inv_m, consts, ge, reset, has_syn, F, D, a0, i_run,
                     v_run, a_last, s_out, v_out, h_out, i_out, a_out, store_v, store_h, store_i,
                     store_a)


@njit(parallel=True, cache=True)
def amsu_scan_backward(x, prm, aprm, ptr, idx, inv_m, consts, ge, sg_kind, reset, has_syn,
                       need_pgrad, F, D, a0, i0, v0, h_seq, i_seq, a_seq, g_s, has_g_s, g_v,
                       has_g_v, g_i, has_g_i, g_a, has_g_a, dv_c, di_c, da_last, dx, d_a0, d_prm,
                       d_aprm):
    for k in prange(a0.shape[0]):
        backward_task(k, x, prm, aprm, ptr, idx, inv_m, consts, ge, sg_kind, reset, has_syn,
                      need_pgrad, F, D, a0, i0, v0, h_seq, i_seq, a_seq, g_s, has_g_s, g_v, has_g_v,
                      g_i, has_g_i, g_a, has_g_a, dv_c, di_c, da_last, dx, d_a0, d_prm,
                      d_aprm)
