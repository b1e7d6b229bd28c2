"""The first GPU simulation loop (``neuro.sim.cuda_runner``, ``kernel="atomic"``: still the default).

This is the kernel of the first GPU engine, kept unchanged and the default next to the deterministic
event kernel of :mod:`.sim_cuda` until that one has been measured faster on a GPU. One persistent cooperative
kernel per chunk of steps: threads stride over neurons (then over Poisson sources and this step's
spike-generator entries) and a grid-wide barrier (``cuda.cg.this_grid().sync()``) separates the
steps. A neuron that spikes walks its whole CSR row and adds the weights with ``cuda.atomic.add``
into future slots of the ring buffer (``t + 1 + delay``, never the slot being read this step, so one
barrier per step suffices). Spikes of recorded sources are set as bits of a ``[steps, ceil(S / 32)]``
uint32 raster (``cuda.atomic.or_``), which the host turns into ``(step, index)`` pairs sorted like
the CPU kernel's; population spike counts use integer atomics.

**Not deterministic**: the float atomics make the order of every buffer sum, and thus its last
bits, vary from run to run unless the sums are exact, and a neuron near threshold may then fire a
step apart from the CPU kernel (measured in float64 on an H200; ``tests/test_kernel_ptx.py``
records that this kernel has float atomics and the event kernel none). Measured on an H200
(2026-12-04, CUBA, 1 s): slower than the single-thread CPU kernel at 4,000 to 256,000 neurons.

Arguments are those of ``sim_cpu.run_kernel`` (the same tuples, tables one column per neuron)
except: ``pop_of [N]`` int32 population of each neuron; ``rec_flag`` and ``raster`` replace ``rec,
n_spk, n_rec``; the state monitor is a CSR by neuron, ``monitor = (mon_ptr [N+1], mon_var, mon_col,
mon_every, mon_out, mon_first)``, so that the thread that updates a neuron records it. Atomic float
additions make the order of the sums vary between runs (above). Under ``NUMBA_ENABLE_CUDASIM=1`` it
runs on Numba's CUDA simulator, which supports cooperative grids of one block.

With astrocytes (``astro``) spikes also add their IP3 weights to ``ip3_buf`` (atomics), a second
barrier per step closes the delivery, then threads stride over astrocytes: each runs
``astrocyte_math.astrocyte_advance`` (the device function of ``astrocyte_cuda``, RKF45 work table
in local memory), adds the SIC times its weights into the neurons' buffer (atomics; slots ``t + 1
+ delay``, read after the step's final barrier) and records its monitored rows (CSR by astrocyte:
``amon = (amon_ptr [A+1], amon_row, amon_col)``). ``astro = (astro_dt, astate, aprm, ip3_buf)``;
``ip3`` and ``sic`` are ``sim_cpu``'s.
"""

from functools import cache

import numba
import numpy as np
from numba import cuda

from . import lif_math, sim_math
from ._cuda_device import device as _device
from .astrocyte_cuda import ASTRO_WORK, astrocyte_advance

ns = sim_math.compile_for("cuda")
LIFStructure = lif_math.LIFStructure
ONE_U32 = np.uint32(1)
LOW5 = np.int64(31)
ONE_I32 = np.int32(1)


@_device
def _deliver(src, t, table, mask, buf):
    """Add the outgoing synapses of source ``src`` (spiked at step ``t``) in the CSR ``table``
    ``(ptr, col, weight, delay)`` to the ring buffer ``buf`` (the neurons' channels, or the
    astrocytes' IP3 ring)."""
    ptr, col, weight, delay = table
    for k in range(ptr[src], ptr[src + 1]):
        cuda.atomic.add(buf, ((t + 1 + delay[k]) & mask, col[k]), weight[k])


@_device
def _fire(src, t, row, rec_flag, raster, syn, mask, buf, astro, ip3, ip3_buf):
    """Record (raster bit) and deliver the spike of source ``src`` at step ``t`` (also to the IP3
    ring with ``astro``)."""
    if rec_flag[src]:
        cuda.atomic.or_(raster, (row, src >> 5), ONE_U32 << np.uint32(src & LOW5))
    _deliver(src, t, syn, mask, buf)
    if astro:
        _deliver(src, t, ip3, mask, ip3_buf)


@cache
def run_kernel(has_syn: bool, has_adapt: bool, C: int, astro: bool = False):
    """The persistent simulation kernel for one model structure and channel count (``astro``: with
    the astrocyte phase).

    Signature: ``(t0, t1, seed, consts, params, pops, pop_of, inputs, syn, mask, state, rec_flag,
    raster, counts, monitor, astro, ip3, sic, amon)``.
    """

    @cuda.jit
    def sim_run_cuda(t0, t1, seed, consts, params, pops, pop_of, inputs, syn, mask, state, rec_flag,
                     raster, counts, monitor, astro_args, ip3, sic, amon):
        grid = cuda.cg.this_grid()
        work = cuda.local.array(ASTRO_WORK, numba.float64)
        prm, ref_steps, bias, ch_alpha, ch_kappa = params
        inj, inj_idx, poisson_prob, gen_ptr, gen_idx = inputs
        i_st, v_st, a_st, g_st, refc, buf = state
        mon_ptr, mon_var, mon_col, mon_every, mon_out, mon_first = monitor
        astro_dt, astate, aprm, ip3_buf = astro_args
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
                    x_c, g_next = ns.channel_input(g_st[c, n], buf[slot, c * N + n], ch_kappa[c, n],
                                                   ch_alpha[c, n])
                    x += x_c
                    g_st[c, n] = g_next
                    buf[slot, c * N + n] = zero
                st = LIFStructure(has_syn, has_adapt, True, pops[p, 2], pops[p, 3] != 0)
                spk = ns.advance_neuron(n, x, ns.load_coefficients(prm, n), ref_steps[n], st, i_st, v_st,
                                        a_st, refc, one, zero)
                if record:
                    for k in range(mon_ptr[n], mon_ptr[n + 1]):
                        mon_out[(t - mon_first) // mon_every, mon_col[k]] = ns.monitored_value(
                            mon_var[k], n, v_st, i_st, a_st, g_st)
                if spk:
                    cuda.atomic.add(counts, (row, p), ONE_I32)
                    _fire(n, t, row, rec_flag, raster, syn, mask, buf, astro, ip3, ip3_buf)
            ut = np.uint64(t)
            for k in range(tid, Mp, stride):
                if poisson_prob[k] > 0.0 and ns.uniform(useed, ut, np.uint64(N + k)) < poisson_prob[k]:
                    _fire(N + k, t, row, rec_flag, raster, syn, mask, buf, astro, ip3, ip3_buf)
            if nxt < gen_ptr.shape[0]:
                for e in range(gen_ptr[t] + tid, gen_ptr[nxt], stride):
                    _fire(gen_idx[e], t, row, rec_flag, raster, syn, mask, buf, astro, ip3, ip3_buf)
            if astro:
                grid.sync()  # every spike of step t is in the IP3 ring
                slot_in = nxt & mask
                sic_ptr, sic_col, sic_w, sic_d = sic
                amon_ptr, amon_row, amon_col = amon
                for q in range(tid, A, stride):
                    ip3_in = ip3_buf[slot_in, q]
                    ip3_buf[slot_in, q] = 0.0
                    sic_q = astrocyte_advance(q, astate, aprm, astro_dt, ip3_in, 0.0, work)
                    if sic_q != 0.0:
                        for k in range(sic_ptr[q], sic_ptr[q + 1]):
                            cuda.atomic.add(buf, ((t + 1 + sic_d[k]) & mask, sic_col[k]), sic_w[k] * sic_q)
                    if record:
                        for k in range(amon_ptr[q], amon_ptr[q + 1]):
                            mon_out[(t - mon_first) // mon_every, amon_col[k]] = astate[amon_row[k], q]
            grid.sync()

    return sim_run_cuda
