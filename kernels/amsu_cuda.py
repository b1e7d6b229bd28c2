"""AM-SU scans on NVIDIA GPUs with ``numba.cuda``: one thread per (sample, astrocyte domain).

The task bodies are ``amsu_math``'s, compiled with the LIF device functions of ``lif_cuda``;
conventions as in :mod:`neuro.kernels.amsu_math` (the arguments match ``amsu_cpu``'s). Import only
for the CUDA backend; with ``NUMBA_ENABLE_CUDASIM=1`` it runs on Numba's simulator.
"""

from numba import cuda

from . import amsu_math
from ._jit import retarget
from .lif_cuda import (_device, after_reset, backward_step, fires, forward_step, param_grads,
                       surrogate_grad)

THREADS_PER_BLOCK = 64

_calcium = _device(amsu_math.calcium)
_step = retarget(amsu_math.modulated_step, _device, lif_forward_step=forward_step)
_backward = retarget(amsu_math.modulated_backward, _device, lif_backward_step=backward_step,
                     fires=fires, surrogate_grad=surrogate_grad)
_pgrads = retarget(amsu_math.neuron_param_grads, _device, lif_param_grads=param_grads, fires=fires,
                   after_reset=after_reset)
forward_task = retarget(amsu_math.amsu_forward_task, _device, modulated_step=_step,
                        calcium=_calcium)
backward_task = retarget(amsu_math.amsu_backward_task, _device, modulated_backward=_backward,
                         neuron_param_grads=_pgrads, fires=fires, calcium=_calcium,
                         calcium_grads=_device(amsu_math.calcium_grads))


def blocks_for(n: int) -> int:
    return max(1, (n + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK)


@cuda.jit
def amsu_scan_forward(x, prm, aprm, ptr, idx, of, inv_m, consts, ge, reset, has_syn, F, D, a0,
                      i_run, v_run, a_last, s_out, v_out, h_out, i_out, a_out, store_v, store_h,
                      store_i, store_a):
    k = cuda.grid(1)
    if k < a0.shape[0]:
        forward_task(k, x, prm, aprm, ptr, idx, inv_m, consts, ge, reset, has_syn, F, D, a0, i_run,
                     v_run, a_last, s_out, v_out, h_out, i_out, a_out, store_v, store_h, store_i,
                     store_a)


@cuda.jit
def amsu_scan_backward(x, prm, aprm, ptr, idx, of, inv_m, consts, ge, sg_kind, reset, has_syn,
                       need_pgrad, F, D, a0, i0, v0, h_seq, i_seq, a_seq, g_s, has_g_s, g_v,
                       has_g_v, g_i, has_g_i, g_a, has_g_a, dv_c, di_c, da_last, dx, d_a0, d_prm,
                       d_aprm):
    k = cuda.grid(1)
    if k < a0.shape[0]:
        backward_task(k, x, prm, aprm, ptr, idx, inv_m, consts, ge, sg_kind, reset, has_syn,
                      need_pgrad, F, D, a0, i0, v0, h_seq, i_seq, a_seq, g_s, has_g_s, g_v,
                      has_g_v, g_i, has_g_i, g_a, has_g_a, dv_c, di_c, da_last, dx, d_a0, d_prm,
                      d_aprm)
