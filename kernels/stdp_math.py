r"""Scalar pieces of the plasticity rules, shared by the CPU and CUDA simulation kernels.

Pair-based STDP is :class:`neuro.sim.plasticity.STDP` (its docstring has the full semantics; the dense torch
reference is ``neuro.sim.plastic_runner``). Synapse ``k`` has a weight :math:`w`, a presynaptic trace
:math:`x` and a postsynaptic trace :math:`y`:

* presynaptic event (the source's spike arrives after the axonal delay): the weight is delivered,
  then :math:`w \leftarrow \mathrm{clip}(w - A_- f_-(w)\, y)` and :math:`x \leftarrow x + 1`
  (``pairing="all"``) or :math:`x \leftarrow 1` (``"nearest"``);
* postsynaptic spike: :math:`w \leftarrow \mathrm{clip}(w + A_+ f_+(w)\, x)`, then
  :math:`y \leftarrow y + 1` (or ``= 1``);

with :math:`f_\pm = 1` (additive) or :math:`f_+ = (w_{max} - w)/w_{max}`, :math:`f_- = (w -
w_{min})/w_{max}` (multiplicative) and clip to :math:`[w_{min}, w_{max}]`.

**Event-driven traces.** The reference decays both traces of every synapse every step
(:math:`x \leftarrow x\,a_x` with :math:`a_x = e^{-dt/\tau_+}`). The kernels keep, per synapse, the
traces as they were at the step ``t_last`` of the synapse's last event and bring them up to date
only when an event touches the synapse: :math:`x(t) = x(t_{last})\, a_x^{\,t - t_{last}}`
(Brian2's ``(event-driven)``), with the same rounded :math:`a_x` as the reference, raised to the
integer power by repeated squaring (:func:`stdp_power`: identical on every target). The cost is two
powers (at most ~2 log2(t - t_last) multiplications) per synapse and event instead of two
multiplications per synapse and step; the result equals the per-step decay up to rounding (relative
differences of a few ulps of a trace: ~1e-16 of a weight in float64).

**Other rules** (:mod:`neuro.sim.plasticity`; the same per-synapse machinery, a rule code ``R_KIND``
per rule row, one event function per event type): the synapse's traces are the columns of a trace
matrix ``tr [P, K]`` (``T_*``; ``K`` is the widest rule of the network: 2 pair/inhibitory, 3 reward,
4 triplet, 6 with short-term plasticity) and every event first brings all of them up to date
(:func:`pl_advance`).

* ``KIND_TRIPLET`` (Pfister & Gerstner 2006): pre traces ``r1, r2`` (columns ``T_X, T_X2``), post
  ``o1, o2`` (``T_Y, T_Y2``); pre: :math:`w \leftarrow w - o_1 (A_2^- + A_3^- r_2)`, bump ``r1, r2``;
  post: :math:`w \leftarrow w + r_1 (A_2^+ + A_3^+ o_2)`, bump ``o1, o2`` (``r2, o2`` read before
  their own bump); clip.
* ``KIND_INHIBITORY`` (Vogels et al. 2011): pre: :math:`w \leftarrow w + \eta (y - \alpha)`,
  ``x += 1``; post: :math:`w \leftarrow w + \eta x`, ``y += 1``; clip.
* ``KIND_REWARD``: the pair terms drive an eligibility trace ``c`` (column ``T_C``, decay
  ``e^{-dt/\tau_c}``): pre ``c -= A_- y``, post ``c += A_+ x``; every step whose modulator is
  non-zero :func:`stdp_on_step` adds :math:`k\,c` with :math:`k = \eta M(t)\,dt` (the kernels read
  ``k`` from a per-run table) and clips.
* ``KIND_STATIC``: no long-term change (a short-term rule around a static weight).
* ``R_STP`` (Tsodyks–Markram, around any kind): resources ``u, r`` (columns ``T_U, T_R``, at rest
  ``U`` and 1; relaxing as :math:`u = U + (u - U) a_f^n`, :math:`r = 1 + (r - 1) a_d^n`); the pre
  event delivers :math:`w u r` (``w`` before the long-term update), then :math:`r \leftarrow r
  (1 - u)`, :math:`u \leftarrow u + U (1 - u)`.

Rule parameters travel as one row of a table per rule (columns ``R_*``, in the compute dtype, built
by :func:`rule_row` for pair STDP and by ``neuro.sim.runners.rule_table_row`` for every rule).
"""

from functools import cache
from types import ModuleType

import numpy as np

# columns of a rule row (the first eight: pair STDP; a decay of 0 stands for tau = 0)
R_DECAY_X, R_DECAY_Y, R_A_PLUS, R_A_MINUS, R_W_MIN, R_W_MAX, R_SOFT, R_NEAREST = range(8)
(R_KIND, R_DECAY_X2, R_DECAY_Y2, R_A3_PLUS, R_A3_MINUS, R_ALPHA, R_STP, R_U, R_DECAY_U,
 R_DECAY_R) = range(8, 18)
N_RULE_COLUMNS = 18
# rule codes (column R_KIND)
KIND_PAIR, KIND_TRIPLET, KIND_INHIBITORY, KIND_REWARD, KIND_STATIC = range(5)
# trace columns (T_C: the reward rule's eligibility, in the triplet's r2 column)
T_X, T_Y, T_X2, T_Y2, T_U, T_R = range(6)
T_C = T_X2


def rule_row(tau_plus: float, tau_minus: float, a_plus: float, a_minus: float, w_min: float, w_max: float,
             multiplicative: bool, nearest: bool, dt: float) -> np.ndarray:
    """One rule's table row (float64; cast it to the compute dtype): per-step trace decays
    ``exp(-dt / tau)``, amplitudes, bounds, and the two flags as 0/1."""
    row = np.zeros(N_RULE_COLUMNS, np.float64)
    row[R_DECAY_X], row[R_DECAY_Y] = np.exp(-dt / tau_plus), np.exp(-dt / tau_minus)
    row[R_A_PLUS], row[R_A_MINUS], row[R_W_MIN], row[R_W_MAX] = a_plus, a_minus, w_min, w_max
    row[R_SOFT], row[R_NEAREST] = float(multiplicative), float(nearest)
    return row


def stdp_power(base, n, one):
    """``base ** n`` for an integer ``n >= 0`` by repeated squaring: the same roundings on every
    target (a library ``pow`` may differ between the CPU, the GPU and the CUDA simulator)."""
    result = one
    while n > 0:
        if n & 1:
            result = result * base
        base = base * base
        n >>= 1
    return result


def stdp_decayed(trace, elapsed, decay, one):
    """``trace`` after ``elapsed`` (>= 0) steps of decay by ``decay`` per step (event-driven decay)."""
    if elapsed == 0:
        return trace
    return trace * stdp_power(decay, elapsed, one)


def stdp_clip(w, w_min, w_max):
    """``w`` clipped to ``[w_min, w_max]`` (``torch.clamp``'s order: the lower bound first)."""
    if w < w_min:
        w = w_min
    if w > w_max:
        w = w_max
    return w


def stdp_depressed(w, y, a_minus, w_min, w_max, soft, one):
    """The weight after a presynaptic event with postsynaptic trace ``y``: ``clip(w - A_- f_-(w) y)``."""
    f = (w - w_min) / w_max if soft else one
    return stdp_clip(w - a_minus * f * y, w_min, w_max)


def stdp_potentiated(w, x, a_plus, w_min, w_max, soft, one):
    """The weight after a postsynaptic spike with presynaptic trace ``x``: ``clip(w + A_+ f_+(w) x)``."""
    f = (w_max - w) / w_max if soft else one
    return stdp_clip(w + a_plus * f * x, w_min, w_max)


def stdp_bumped(trace, nearest, one):
    """A trace after its own event: ``trace + 1`` (all-to-all pairing) or ``1`` (nearest spike)."""
    if nearest:
        return one
    return trace + one


def pl_advance(p, r, t, tr, tl, rtab, one):
    """Bring every trace of plastic synapse ``p`` (rule row ``rtab[r]``) from step ``tl[p]`` to ``t``
    (event-driven decay; only the columns its rule uses are touched)."""
    elapsed = t - tl[p]
    if elapsed == 0:
        return
    kind = rtab[r, R_KIND]
    tr[p, T_X] = tr[p, T_X] * stdp_power(rtab[r, R_DECAY_X], elapsed, one)
    tr[p, T_Y] = tr[p, T_Y] * stdp_power(rtab[r, R_DECAY_Y], elapsed, one)
    if kind == KIND_TRIPLET:
        tr[p, T_X2] = tr[p, T_X2] * stdp_power(rtab[r, R_DECAY_X2], elapsed, one)
        tr[p, T_Y2] = tr[p, T_Y2] * stdp_power(rtab[r, R_DECAY_Y2], elapsed, one)
    elif kind == KIND_REWARD:
        tr[p, T_C] = tr[p, T_C] * stdp_power(rtab[r, R_DECAY_X2], elapsed, one)
    if rtab[r, R_STP] != 0:
        big_u = rtab[r, R_U]
        tr[p, T_U] = big_u + (tr[p, T_U] - big_u) * stdp_power(rtab[r, R_DECAY_U], elapsed, one)
        tr[p, T_R] = one + (tr[p, T_R] - one) * stdp_power(rtab[r, R_DECAY_R], elapsed, one)
    tl[p] = t


def pair_on_pre(p, k, r, t, weight, tr, tl, rtab, one):
    """Presynaptic event at step ``t`` of a pair-STDP synapse ``p`` (its traces ``tr[p, T_X], tr[p, T_Y]``
    as of step ``tl[p]``; its weight ``weight[k]``; its rule row ``rtab[r]``): returns the weight it
    delivers (the value before the event) and updates the weight, the traces and ``tl[p]`` in place.
    (The kernels call it directly when every rule of the network is pair STDP: no rule dispatch per
    event, which measured ~3x slower on the CPU; :func:`stdp_on_pre` otherwise.)"""
    elapsed = t - tl[p]
    x_now = stdp_decayed(tr[p, T_X], elapsed, rtab[r, R_DECAY_X], one)
    y_now = stdp_decayed(tr[p, T_Y], elapsed, rtab[r, R_DECAY_Y], one)
    w = weight[k]
    weight[k] = stdp_depressed(w, y_now, rtab[r, R_A_MINUS], rtab[r, R_W_MIN], rtab[r, R_W_MAX],
                               rtab[r, R_SOFT] != 0, one)
    tr[p, T_X] = stdp_bumped(x_now, rtab[r, R_NEAREST] != 0, one)
    tr[p, T_Y] = y_now
    tl[p] = t
    return w


def pair_on_post(p, k, r, t, weight, tr, tl, rtab, one):
    """Postsynaptic spike at step ``t`` for a pair-STDP synapse ``p`` (as :func:`pair_on_pre`):
    potentiation, then the ``y`` bump, in place."""
    elapsed = t - tl[p]
    x_now = stdp_decayed(tr[p, T_X], elapsed, rtab[r, R_DECAY_X], one)
    y_now = stdp_decayed(tr[p, T_Y], elapsed, rtab[r, R_DECAY_Y], one)
    weight[k] = stdp_potentiated(weight[k], x_now, rtab[r, R_A_PLUS], rtab[r, R_W_MIN], rtab[r, R_W_MAX],
                                 rtab[r, R_SOFT] != 0, one)
    tr[p, T_X] = x_now
    tr[p, T_Y] = stdp_bumped(y_now, rtab[r, R_NEAREST] != 0, one)
    tl[p] = t


def stdp_on_pre(p, k, r, t, weight, tr, tl, rtab, one):
    """Presynaptic event at step ``t`` of plastic synapse ``p`` under any rule (``rtab[r, R_KIND]``,
    ``R_STP``; as :func:`pair_on_pre`): returns the value it delivers (the weight before the event,
    times ``u r`` with short-term plasticity) and updates weight, traces and ``tl[p]`` in place."""
    kind = rtab[r, R_KIND]
    if kind == KIND_PAIR and rtab[r, R_STP] == 0:
        return pair_on_pre(p, k, r, t, weight, tr, tl, rtab, one)
    pl_advance(p, r, t, tr, tl, rtab, one)
    w = weight[k]
    w_min, w_max = rtab[r, R_W_MIN], rtab[r, R_W_MAX]
    nearest = rtab[r, R_NEAREST] != 0
    if kind == KIND_PAIR:
        weight[k] = stdp_depressed(w, tr[p, T_Y], rtab[r, R_A_MINUS], w_min, w_max, rtab[r, R_SOFT] != 0, one)
        tr[p, T_X] = stdp_bumped(tr[p, T_X], nearest, one)
    elif kind == KIND_TRIPLET:
        weight[k] = stdp_clip(w - tr[p, T_Y] * (rtab[r, R_A_MINUS] + rtab[r, R_A3_MINUS] * tr[p, T_X2]),
                              w_min, w_max)
        tr[p, T_X] = stdp_bumped(tr[p, T_X], nearest, one)
        tr[p, T_X2] = stdp_bumped(tr[p, T_X2], nearest, one)
    elif kind == KIND_INHIBITORY:
        weight[k] = stdp_clip(w + rtab[r, R_A_PLUS] * (tr[p, T_Y] - rtab[r, R_ALPHA]), w_min, w_max)
        tr[p, T_X] = tr[p, T_X] + one
    elif kind == KIND_REWARD:
        tr[p, T_C] = tr[p, T_C] - rtab[r, R_A_MINUS] * tr[p, T_Y]
        tr[p, T_X] = stdp_bumped(tr[p, T_X], nearest, one)
    if rtab[r, R_STP] != 0:
        u, res = tr[p, T_U], tr[p, T_R]
        w = w * u * res
        tr[p, T_R] = res * (one - u)
        tr[p, T_U] = u + rtab[r, R_U] * (one - u)
    return w


def stdp_on_post(p, k, r, t, weight, tr, tl, rtab, one):
    """Postsynaptic spike at step ``t`` for plastic synapse ``p`` under any rule (as
    :func:`stdp_on_pre`): the rule's potentiation (or eligibility) term, then the post traces' bumps."""
    kind = rtab[r, R_KIND]
    if kind == KIND_PAIR and rtab[r, R_STP] == 0:
        pair_on_post(p, k, r, t, weight, tr, tl, rtab, one)
        return
    pl_advance(p, r, t, tr, tl, rtab, one)
    w_min, w_max = rtab[r, R_W_MIN], rtab[r, R_W_MAX]
    nearest = rtab[r, R_NEAREST] != 0
    if kind == KIND_PAIR:
        weight[k] = stdp_potentiated(weight[k], tr[p, T_X], rtab[r, R_A_PLUS], w_min, w_max,
                                     rtab[r, R_SOFT] != 0, one)
        tr[p, T_Y] = stdp_bumped(tr[p, T_Y], nearest, one)
    elif kind == KIND_TRIPLET:
        weight[k] = stdp_clip(weight[k] + tr[p, T_X] * (rtab[r, R_A_PLUS] + rtab[r, R_A3_PLUS] * tr[p, T_Y2]),
                              w_min, w_max)
        tr[p, T_Y] = stdp_bumped(tr[p, T_Y], nearest, one)
        tr[p, T_Y2] = stdp_bumped(tr[p, T_Y2], nearest, one)
    elif kind == KIND_INHIBITORY:
        weight[k] = stdp_clip(weight[k] + rtab[r, R_A_PLUS] * tr[p, T_X], w_min, w_max)
        tr[p, T_Y] = tr[p, T_Y] + one
    elif kind == KIND_REWARD:
        tr[p, T_C] = tr[p, T_C] + rtab[r, R_A_PLUS] * tr[p, T_X]
        tr[p, T_Y] = stdp_bumped(tr[p, T_Y], nearest, one)


def stdp_on_step(p, k, r, t, weight, tr, tl, rtab, rate, one):
    """The end of step ``t`` for a reward-modulated synapse ``p`` while the modulator is non-zero:
    ``w <- clip(w + rate * c)`` with ``rate = eta M(t) dt`` and ``c`` brought up to step ``t`` (while
    the modulator stays non-zero the synapse was brought to ``t - 1`` by the previous step: one
    multiplication per trace, as :func:`pl_advance` would do, without its dispatch)."""
    if t - tl[p] == 1 and rtab[r, R_STP] == 0:
        tr[p, T_X] = tr[p, T_X] * rtab[r, R_DECAY_X]
        tr[p, T_Y] = tr[p, T_Y] * rtab[r, R_DECAY_Y]
        tr[p, T_C] = tr[p, T_C] * rtab[r, R_DECAY_X2]
        tl[p] = t
    else:
        pl_advance(p, r, t, tr, tl, rtab, one)
    weight[k] = stdp_clip(weight[k] + rate * tr[p, T_C], rtab[r, R_W_MIN], rtab[r, R_W_MAX])


def reward_steps(r, t, rate, j0, j1, rw_p, weight, tr, tl, rtab, one):
    """:func:`stdp_on_step` for the reward-modulated synapses ``rw_p[j0:j1]`` of rule ``r`` (the CPU
    kernel's per-step loop: the rule's constants read once; a synapse brought to ``t - 1`` by the
    previous step decays by one multiplication per trace, as :func:`pl_advance` would)."""
    if rtab[r, R_STP] != 0:
        for j in range(j0, j1):
            stdp_on_step(rw_p[j], rw_p[j], r, t, weight, tr, tl, rtab, rate, one)
        return
    ax, ay, ac = rtab[r, R_DECAY_X], rtab[r, R_DECAY_Y], rtab[r, R_DECAY_X2]
    w_min, w_max = rtab[r, R_W_MIN], rtab[r, R_W_MAX]
    for j in range(j0, j1):
        p = rw_p[j]
        if t - tl[p] == 1:
            tr[p, T_X] = tr[p, T_X] * ax
            tr[p, T_Y] = tr[p, T_Y] * ay
            tr[p, T_C] = tr[p, T_C] * ac
            tl[p] = t
        else:
            pl_advance(p, r, t, tr, tl, rtab, one)
        weight[p] = stdp_clip(weight[p] + rate * tr[p, T_C], w_min, w_max)


STEP_FUNCTIONS = (stdp_power, stdp_decayed, stdp_clip, stdp_depressed, stdp_potentiated, stdp_bumped,
                  pl_advance, pair_on_pre, pair_on_post, stdp_on_pre, stdp_on_post, stdp_on_step,
                  reward_steps)


@cache
def compile_for(target: str) -> ModuleType:
    """This module's functions compiled for ``target`` (``"cpu"`` or ``"cuda"``); one namespace."""
    from ._jit import compile_math

    return compile_math(STEP_FUNCTIONS, target)
