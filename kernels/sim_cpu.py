"""The whole network simulation loop on the CPU, compiled with Numba: many steps per call.

One call advances the network from step ``t0`` to ``t1`` without returning to Python. Each step:

1. population by population (each with its own reset rule and threshold comparison), in one fused
   loop over its neurons: the input (bias + the synaptic channels of ``sim_math``, reading and
   clearing this step's slot of the ring buffer ``buf[D, C*N]``), then the engine's LIF step with
   refractoriness;
2. event-driven propagation: only sources that spiked (neurons, Poisson inputs whose counter-based
   draw fired, spike-generator entries of this step) walk their outgoing CSR row and add each weight
   to the buffer slot of the step that will consume it (``t + 1 + delay``; ``D`` is a power of two);
3. astrocytes (when the network has any): every astrocyte integrates step ``t`` and then adds the
   IP3 weights arriving at the step's end (ring slot ``t + 1`` of ``ip3_buf``, filled by step 2;
   NEST's order), by ``astrocyte_math.astrocyte_advance`` (the code ``neuro.astro`` runs); each
   non-zero slow inward current then walks its astrocyte's ``sic`` CSR row into the neurons'
   buffer slot ``t + 1 + delay`` (their current channel);
4. monitors: spikes of recorded sources as ``(step, index)``, spike counts per population and step,
   chosen state variables every ``every`` steps.

The loop is serial: at the sizes where one step is a few microseconds of work (thousands of
neurons), a parallel region per step costs more in synchronisation than it saves. The model
structure (``has_syn``, ``has_adapt``), the channel count ``C`` and ``hetero`` (per-neuron
parameter tables) are closure constants of a kernel built per combination.

Argument layout (``S = N + M`` sources: ``N`` neurons, then Poisson inputs, then generator
inputs; ``C`` channels; ``P`` populations):

* ``prm [9, N]`` engine coefficients per neuron (rows ``lif_math.P_*``), ``ref_steps [N]`` int32
  held steps after a spike, ``bias [N]``, ``ch_alpha, ch_kappa [C, N]`` (all ``[.., P]``, one
  column per population, without ``hetero``); ``pops [P, 4]`` int64 rows ``(lo, hi, reset code,
  fire-on-equality)``; ``inj [T_inj, K]`` injected currents by absolute step, added to the buffer
  entries ``inj_idx [K]`` (``channel * N + neuron`` of a delta channel); ``poisson_prob [Mp]``
  float64 spike probability per step of sources ``N .. N+Mp-1``; ``gen_ptr [T_gen+1], gen_idx``
  spike-generator spikes by absolute step;
* ``row_ptr [S+1]`` int64, ``col`` int32 (``channel * N + post``), ``weight``, ``delay`` int32
  (steps), ``mask = D - 1``;
* state ``i_st, v_st, a_st [N]``, ``g_st [C, N]``, ``refc [N]`` int32, ``buf [D, C*N]``; scratch
  ``spiked``: uint8 spike flags, ``N`` rounded up to a multiple of 8 (zero padded);
  ``consts = [0, 1]`` in the compute dtype;
* records ``rec_flag [S]`` uint8, ``spk_t, spk_i`` (capacity = their length), ``n_spk`` in use,
  ``n_rec`` recorded sources, ``counts [t1-t0, P]`` int32; state-monitor column ``k`` records
  variable ``mon_var[k]`` (0 v, 1 i, 2 a, 3+c channel c) of neuron ``mon_idx[k]`` into
  ``mon_out [R, K]`` at the steps ``t % mon_every == 0``, ``mon_first`` being the first of them;
  ``mon_var[k] < 0`` records row ``-1 - mon_var[k]`` of astrocyte ``mon_idx[k]``;
* astrocytes (float64, ignored unless the kernel was built with ``astro``): ``astro_dt`` the step
  in ms, ``astate [6, A]``, ``aprm [16, P]`` (``astrocyte_math`` tables), ``ip3_buf [D, A]``,
  ``awork [A, rkf45_math.ROWS, 3]`` scratch; CSR tables ``ip3_ptr [S+1], ip3_col, ip3_w, ip3_d``
  (spikes onto astrocytes) and ``sic_ptr [A+1], sic_col, sic_w, sic_d`` (SIC onto ``channel * N +
  neuron``).

Returns ``(t_reached, n_spk)``: the call stops early, at a step boundary, when the spike record
could overflow in the next step; the caller grows ``spk_t, spk_i`` and calls again from there.
"""

from functools import lru_cache

import numpy as np
from numba import njit

from . import lif_cpu, sim_math
from ._jit import retarget
from .astrocyte_cpu import astrocyte_phase, deliver_sic

_inline = njit(inline="always", cache=True)
uniform = retarget(sim_math.uniform, _inline, mix64=_inline(sim_math.mix64))
channel_input = _inline(sim_math.channel_input)
neuron_step = retarget(sim_math.neuron_step, _inline, lif_forward_step=lif_cpu.forward_step)


@njit(inline="always", cache=True)
def _channel(c, n, x, g_st, arrived, kappa, alpha, zero):
    """Add channel ``c`` of neuron ``n`` to the input ``x``, decay it, clear its buffer entry."""
    x_c, g_next = channel_input(g_st[c, n], arrived[c, n], kappa, alpha)
    g_st[c, n] = g_next
    arrived[c, n] = zero
    return x + x_c


@njit(inline="always", cache=True)
def _propagate(src, t, row_ptr, col, weight, delay, mask, buf):
    """Add the outgoing synapses of source ``src`` (spiked at step ``t``) to the ring buffer."""
    for k in range(row_ptr[src], row_ptr[src + 1]):
        buf[(t + 1 + delay[k]) & mask, col[k]] += weight[k]


@lru_cache(maxsize=None)
def run_kernel(has_syn: bool, has_adapt: bool, C: int, hetero: bool, astro: bool = False):
    """The simulation loop for one model structure (see the module docstring for the arguments).

    With ``hetero`` the parameter tables ``prm, ref_steps, bias, ch_alpha, ch_kappa`` have one
    column per neuron; without, one column per population, and the loop keeps them in registers
    (fewer memory streams per neuron: measurably faster on homogeneous populations such as CUBA).
    ``astro`` adds the astrocyte phase (without it the astrocyte arguments are not touched).
    """

    @njit(cache=True)  # a separate function: LLVM vectorises it better than inlined in sim_run
    def update_population(lo, hi, p, reset, ge, arrived, g_st, i_st, v_st, a_st, refc, spiked, prm,
                          ref_steps, bias, ch_alpha, ch_kappa, one, zero):
        """Input and neuron step of neurons ``lo .. hi-1`` (population ``p``); returns the spike count."""
        count = 0
        up = np.uint64(p)
        # population constants in registers (reloaded per neuron when hetero): as scalars the
        # vectorised loop runs ~30 % faster than with loop-invariant loads from the tables
        q0, q1, q2, q3, q4 = prm[0, up], prm[1, up], prm[2, up], prm[3, up], prm[4, up]
        q5, q6, q7, q8 = prm[5, up], prm[6, up], prm[7, up], prm[8, up]
        b, rs = bias[up], ref_steps[up]
        k0, a0 = (ch_kappa[0, up], ch_alpha[0, up]) if C > 0 else (zero, zero)
        k1, a1 = (ch_kappa[1, up], ch_alpha[1, up]) if C > 1 else (zero, zero)
        k2, a2 = (ch_kappa[2, up], ch_alpha[2, up]) if C > 2 else (zero, zero)
        k3, a3 = (ch_kappa[3, up], ch_alpha[3, up]) if C > 3 else (zero, zero)
        # unsigned indices: Numba skips the negative-index wraparound, the loop vectorises
        for n in range(np.uint64(lo), np.uint64(hi)):
            q = n if hetero else up
            if hetero:
                q0, q1, q2, q3, q4 = prm[0, n], prm[1, n], prm[2, n], prm[3, n], prm[4, n]
                q5, q6, q7, q8 = prm[5, n], prm[6, n], prm[7, n], prm[8, n]
                b, rs = bias[n], ref_steps[n]
                k0, a0 = (ch_kappa[0, n], ch_alpha[0, n]) if C > 0 else (zero, zero)
                k1, a1 = (ch_kappa[1, n], ch_alpha[1, n]) if C > 1 else (zero, zero)
                k2, a2 = (ch_kappa[2, n], ch_alpha[2, n]) if C > 2 else (zero, zero)
                k3, a3 = (ch_kappa[3, n], ch_alpha[3, n]) if C > 3 else (zero, zero)
            x = b  # channels in order 0, 1, ... (the reference sums in the same order)
            if C > 0:
                x = _channel(0, n, x, g_st, arrived, k0, a0, zero)
            if C > 1:
                x = _channel(1, n, x, g_st, arrived, k1, a1, zero)
            if C > 2:
                x = _channel(2, n, x, g_st, arrived, k2, a2, zero)
            if C > 3:
                x = _channel(3, n, x, g_st, arrived, k3, a3, zero)
            for c in range(4, C):  # more than four channels: read from the tables
                x = _channel(c, n, x, g_st, arrived, ch_kappa[c, q], ch_alpha[c, q], zero)
            r = refc[n]
            held = r > 0
            i_n, v_n, a_n, s = neuron_step(x, i_st[n], v_st[n], a_st[n], held, q0, q1, q2, q3, q4, q5,
                                           q6, q7, q8, reset, ge, has_syn, has_adapt, one, zero)
            v_st[n] = v_n
            if has_syn:
                i_st[n] = i_n
            if has_adapt:
                a_st[n] = a_n
            spk = s != zero
            refc[n] = r - 1 if held else (rs if spk else 0)
            spiked[n] = spk
            count += spk
        return count

    @njit(cache=True)
    def sim_run(t0, t1, seed, consts, prm, pops, ref_steps, bias, ch_alpha, ch_kappa, inj, inj_idx,
                poisson_prob, gen_ptr, gen_idx, row_ptr, col, weight, delay, mask,
                i_st, v_st, a_st, g_st, refc, buf, spiked,
                rec_flag, spk_t, spk_i, n_spk, n_rec, counts, mon_idx, mon_var,
                mon_every, mon_out, mon_first, astro_dt, astate, aprm, ip3_buf, awork,
                ip3_ptr, ip3_col, ip3_w, ip3_d, sic_ptr, sic_col, sic_w, sic_d):
        zero, one = consts[0], consts[1]
        N = v_st.shape[0]
        D = buf.shape[0]
        buf3 = buf.reshape(D, C, N)
        Mp = poisson_prob.shape[0]
        useed = np.uint64(seed)
        cap = spk_t.shape[0]
        words = spiked.view(np.uint64)
        for t in range(t0, t1):
            g0, g1 = 0, 0
            if t + 1 < gen_ptr.shape[0]:
                g0, g1 = gen_ptr[t], gen_ptr[t + 1]
            if n_spk + n_rec + (g1 - g0) > cap:
                return t, n_spk
            slot = t & mask
            arrived = buf3[slot]
            if t < inj.shape[0]:  # injected currents arrive through their delta channel
                row = buf[slot]
                for k in range(inj_idx.shape[0]):
                    row[inj_idx[k]] += inj[t, k]
            # 1-2) input (bias + channels) and update, population by population
            for p in range(pops.shape[0]):
                counts[t - t0, p] = update_population(
                    pops[p, 0], pops[p, 1], p, pops[p, 2], pops[p, 3] != 0, arrived, g_st, i_st, v_st,
                    a_st, refc, spiked, prm, ref_steps, bias, ch_alpha, ch_kappa, one, zero)
            # 3) event-driven propagation from every source that spiked; the spike flags are
            # read 8 at a time (uint64 words), so a step with few spikes costs N/8 compares
            for w in range(words.shape[0]):
                if words[w] != 0:
                    for n in range(8 * w, min(8 * w + 8, N)):
                        if spiked[n]:
                            if rec_flag[n]:
                                spk_t[n_spk] = t
                                spk_i[n_spk] = n
                                n_spk += 1
                            _propagate(n, t, row_ptr, col, weight, delay, mask, buf)
                            if astro:
                                _propagate(n, t, ip3_ptr, ip3_col, ip3_w, ip3_d, mask, ip3_buf)
            ut = np.uint64(t)
            for k in range(Mp):
                if poisson_prob[k] > 0.0 and uniform(useed, ut, np.uint64(N + k)) < poisson_prob[k]:
                    src = N + k
                    if rec_flag[src]:
                        spk_t[n_spk] = t
                        spk_i[n_spk] = src
                        n_spk += 1
                    _propagate(src, t, row_ptr, col, weight, delay, mask, buf)
                    if astro:
                        _propagate(src, t, ip3_ptr, ip3_col, ip3_w, ip3_d, mask, ip3_buf)
            for e in range(g0, g1):
                src = gen_idx[e]
                if rec_flag[src]:
                    spk_t[n_spk] = t
                    spk_i[n_spk] = src
                    n_spk += 1
                _propagate(src, t, row_ptr, col, weight, delay, mask, buf)
                if astro:
                    _propagate(src, t, ip3_ptr, ip3_col, ip3_w, ip3_d, mask, ip3_buf)
            # 3) astrocytes, after every spike of step t has been delivered
            if astro:
                astrocyte_phase(t, astro_dt, astate, aprm, ip3_buf, mask, awork)
                deliver_sic(t, astate, sic_ptr, sic_col, sic_w, sic_d, mask, buf)
            # 4) state monitor
            if mon_out.shape[1] > 0 and t % mon_every == 0:
                row = (t - mon_first) // mon_every
                for k in range(mon_out.shape[1]):
                    n, var = mon_idx[k], mon_var[k]
                    if var == 0:
                        val = v_st[n]
                    elif var == 1:
                        val = i_st[n]
                    elif var == 2:
                        val = a_st[n]
                    elif astro and var < 0:
                        val = astate[-1 - var, n]
                    else:
                        val = g_st[var - 3, n]
                    mon_out[row, k] = val
        return t1, n_spk

    return sim_run
