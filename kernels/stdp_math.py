r"""Scalar pieces of pair-based STDP, shared by the CPU and CUDA simulation kernels.

The rule is :class:`neuro.sim.plasticity.STDP` (its docstring has the full semantics; the dense torch
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

Rule parameters travel as one row of a table per rule (columns ``R_*``, in the compute dtype, built
by :func:`rule_row`).
"""

from functools import cache
from types import ModuleType

import numpy as np

# columns of a rule row
R_DECAY_X, R_DECAY_Y, R_A_PLUS, R_A_MINUS, R_W_MIN, R_W_MAX, R_SOFT, R_NEAREST = range(8)
N_RULE_COLUMNS = 8


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


def stdp_on_pre(p, k, r, t, weight, x, y, tl, rtab, one):
    """Presynaptic event at step ``t`` of plastic synapse ``p`` (its traces ``x[p], y[p]`` as of step
    ``tl[p]``; its weight ``weight[k]``; its rule row ``rtab[r]``): returns the weight it delivers
    (the value before the event) and updates the weight, the traces and ``tl[p]`` in place."""
    elapsed = t - tl[p]
    x_now = stdp_decayed(x[p], elapsed, rtab[r, R_DECAY_X], one)
    y_now = stdp_decayed(y[p], elapsed, rtab[r, R_DECAY_Y], one)
    w = weight[k]
    weight[k] = stdp_depressed(w, y_now, rtab[r, R_A_MINUS], rtab[r, R_W_MIN], rtab[r, R_W_MAX],
                               rtab[r, R_SOFT] != 0, one)
    x[p] = stdp_bumped(x_now, rtab[r, R_NEAREST] != 0, one)
    y[p] = y_now
    tl[p] = t
    return w


def stdp_on_post(p, k, r, t, weight, x, y, tl, rtab, one):
    """Postsynaptic spike at step ``t`` for plastic synapse ``p`` (as :func:`stdp_on_pre`):
    potentiation, then the ``y`` bump, in place."""
    elapsed = t - tl[p]
    x_now = stdp_decayed(x[p], elapsed, rtab[r, R_DECAY_X], one)
    y_now = stdp_decayed(y[p], elapsed, rtab[r, R_DECAY_Y], one)
    weight[k] = stdp_potentiated(weight[k], x_now, rtab[r, R_A_PLUS], rtab[r, R_W_MIN], rtab[r, R_W_MAX],
                                 rtab[r, R_SOFT] != 0, one)
    x[p] = x_now
    y[p] = stdp_bumped(y_now, rtab[r, R_NEAREST] != 0, one)
    tl[p] = t


STEP_FUNCTIONS = (stdp_power, stdp_decayed, stdp_clip, stdp_depressed, stdp_potentiated, stdp_bumped,
                  stdp_on_pre, stdp_on_post)


@cache
def compile_for(target: str) -> ModuleType:
    """This module's functions compiled for ``target`` (``"cpu"`` or ``"cuda"``); one namespace."""
    from ._jit import compile_math

    return compile_math(STEP_FUNCTIONS, target)
