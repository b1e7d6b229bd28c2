"""The network simulation loop on NVIDIA GPUs: one persistent cooperative kernel per chunk of steps.

Threads stride over neurons (then over Poisson sources and this step's spike-generator entries)
and a grid-wide barrier (``cuda.cg.this_grid().sync()``) separates the steps, so a chunk of
thousands of steps is a single launch. Per step and neuron the arithmetic is the ``sim_math`` /
``lif_math`` code the CPU kernel compiles. A neuron that spikes walks its CSR row and adds the
weights with ``cuda.atomic.add`` into future slots of the ring buffer (``t + 1 + delay``, never the
slot being read this step, so one barrier per step suffices). Spikes of recorded sources are set as
bits of a ``[steps, ceil(S / 32)]`` uint32 raster (``cuda.atomic.or_``), which the host turns into
``(step, index)`` pairs sorted like the CPU kernel's; population spike counts use integer atomics.

Arguments are those of ``sim_cpu.run_kernel`` except: ``pop_of [N]`` int32 population of each
neuron; ``raster`` replaces ``spk_t, spk_i, n_spk, n_rec``; the state monitor is a CSR by neuron
(``mon_ptr [N+1], mon_var, mon_col``) so that the thread that updates a neuron records it. Atomic
float additions make the order of the sums, and thus the last bits of ``g``, vary between runs
unless the sums are exact. Under ``NUMBA_ENABLE_CUDASIM=1`` it runs on Numba's CUDA simulator, which
supports cooperative grids of one block.

With astrocytes (``astro``) spikes also add their IP3 weights to ``ip3_buf`` (atomics), a second
barrier per step closes the delivery, then threads stride over astrocytes: each runs
``astrocyte_math.astrocyte_advance`` (the device function of ``astrocyte_cuda``, RKF45 work table
in local memory), adds the SIC times its weights into the neurons' buffer (atomics; slots ``t + 1
+ delay``, read after the step's final barrier) and records its monitored rows (CSR by astrocyte:
``amon_ptr [A+1], amon_row, amon_col``). The remaining astrocyte arguments are ``sim_cpu``'s.
"""

from functools import lru_cache

import numba
import numpy as np
from numba import cuda

from . import lif_cuda, sim_math
from ._jit import retarget
from .astrocyte_cuda import ASTRO_WORK, astrocyte_advance
from ._cuda_device import device as _device

uniform = retarget(sim_math.uniform, _device, mix64=_device(sim_math.mix64))
channel_input = _device(sim_math.channel_input)
neuron_step = retarget(sim_math.neuron_step, _device, lif_forward_step=lif_cuda.forward_step)
ONE_U32 = np.uint32(1)
LOW5 = np.int64(31)
ONE_I32 = np.int32(1)


@_device
def _deliver(src, t, row_ptr, col, weight, delay, mask, buf):
    """Add the outgoing synapses of source ``src`` (spiked at step ``t``) to the ring buffer ``buf``
    (the neurons' channels, or the astrocytes' IP3 ring)."""
    for k in range(row_ptr[src], row_ptr[src + 1]):
        cuda.atomic.add(buf, ((t + 1 + delay[k]) & mask, col[k]), weight[k])


@_device
def _fire(src, t, row, rec_flag, raster, row_ptr, col, weight, delay, mask, buf):
    """Record (raster bit) and deliver the spike of source ``src`` at step ``t``."""
    if rec_flag[src]:
        cuda.atomic.or_(raster, (row, src >> 5), ONE_U32 << np.uint32(src & LOW5))
    _deliver(src, t, row_ptr, col, weight, delay, mask, buf)


@lru_cache(maxsize=None)
def run_kernel(has_syn: bool, has_adapt: bool, C: int, astro: bool = False):
    """The persistent simulation kernel for one model structure and channel count (``astro``: with
    the astrocyte phase)."""

    @cuda.jit
    def sim_run_cuda(t0, t1, seed, consts, prm, pops, pop_of, ref_steps, bias, ch_alpha, ch_kappa,
                     inj, inj_idx, poisson_prob, gen_ptr, gen_idx, row_ptr, col, weight, delay, mask,
                     i_st, v_st, a_st, g_st, refc, buf, rec_flag, raster, counts,
                     mon_ptr, mon_var, mon_col, mon_every, mon_out, mon_first, astro_dt, astate, aprm,
                     ip3_buf, ip3_ptr, ip3_col, ip3_w, ip3_d, sic_ptr, sic_col, sic_w, sic_d,
                     amon_ptr, amon_row, amon_col):
        grid = cuda.cg.this_grid()
        work = cuda.local.array(ASTRO_WORK, numba.float64)
        A = astate.shape[1]
        tid = cuda.grid(1)
        stride = cuda.gridsize(1)
        zero, one = consts[0], consts[1]
        N = v_st.shape[0]
        Mp = poisson_prob.shape[0]
        K = inj_idx.shape[0]
        useed = np.uint64(seed)
        if t0 < inj.shape[0]:  # injected currents of the first step; later ones one step ahead
            for k in range(tid, K, stride):
                buf[t0 & mask, inj_idx[k]] += inj[t0, k]
        grid.sync()
        for t in range(t0, t1):
            slot = t & mask
            row = t - t0
            nxt = t + 1
            if nxt < t1 and nxt < inj.shape[0]:  # the current channel never receives spikes
                for k in range(tid, K, stride):
                    buf[nxt & mask, inj_idx[k]] += inj[nxt, k]
            record = (t % mon_every) == 0
            for n in range(tid, N, stride):
                p = pop_of[n]
                x = bias[n]
                for c in range(C):
                    x_c, g_next = channel_input(g_st[c, n], buf[slot, c * N + n], ch_kappa[c, n],
                                                ch_alpha[c, n])
                    x += x_c
                    g_st[c, n] = g_next
                    buf[slot, c * N + n] = zero
                r = refc[n]
                held = r > 0
                i_n, v_n, a_n, s = neuron_step(
                    x, i_st[n], v_st[n], a_st[n], held, prm[0, n], prm[1, n], prm[2, n], prm[3, n],
                    prm[4, n], prm[5, n], prm[6, n], prm[7, n], prm[8, n], pops[p, 2], pops[p, 3] != 0,
                    has_syn, has_adapt, one, zero)
                v_st[n] = v_n
                if has_syn:
                    i_st[n] = i_n
                if has_adapt:
                    a_st[n] = a_n
                spk = s != zero
                refc[n] = r - 1 if held else (ref_steps[n] if spk else 0)
                if record:
                    for k in range(mon_ptr[n], mon_ptr[n + 1]):
                        var = mon_var[k]
                        if var == 0:
                            val = v_st[n]
                        elif var == 1:
                            val = i_st[n]
                        elif var == 2:
                            val = a_st[n]
                        else:
                            val = g_st[var - 3, n]
                        mon_out[(t - mon_first) // mon_every, mon_col[k]] = val
                if spk:
                    cuda.atomic.add(counts, (row, p), ONE_I32)
                    _fire(n, t, row, rec_flag, raster, row_ptr, col, weight, delay, mask, buf)
                    if astro:
                        _deliver(n, t, ip3_ptr, ip3_col, ip3_w, ip3_d, mask, ip3_buf)
            ut = np.uint64(t)
            for k in range(tid, Mp, stride):
                if poisson_prob[k] > 0.0 and uniform(useed, ut, np.uint64(N + k)) < poisson_prob[k]:
                    _fire(N + k, t, row, rec_flag, raster, row_ptr, col, weight, delay, mask, buf)
                    if astro:
                        _deliver(N + k, t, ip3_ptr, ip3_col, ip3_w, ip3_d, mask, ip3_buf)
            if nxt < gen_ptr.shape[0]:
                for e in range(gen_ptr[t] + tid, gen_ptr[nxt], stride):
                    _fire(gen_idx[e], t, row, rec_flag, raster, row_ptr, col, weight, delay, mask, buf)
                    if astro:
                        _deliver(gen_idx[e], t, ip3_ptr, ip3_col, ip3_w, ip3_d, mask, ip3_buf)
            if astro:
                grid.sync()  # every spike of step t is in the IP3 ring
                slot_in = nxt & mask
                for q in range(tid, A, stride):
                    ip3_in = ip3_buf[slot_in, q]
                    ip3_buf[slot_in, q] = 0.0
                    sic = astrocyte_advance(q, astate, aprm, astro_dt, ip3_in, 0.0, work)
                    if sic != 0.0:
                        for k in range(sic_ptr[q], sic_ptr[q + 1]):
                            cuda.atomic.add(buf, ((t + 1 + sic_d[k]) & mask, sic_col[k]), sic_w[k] * sic)
                    if record:
                        for k in range(amon_ptr[q], amon_ptr[q + 1]):
                            mon_out[(t - mon_first) // mon_every, amon_col[k]] = astate[amon_row[k], q]
            grid.sync()

    return sim_run_cuda
