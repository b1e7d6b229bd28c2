"""One discrete-time step of the LIF family and its exact reverse-time derivative, as scalars.

These plain Python functions are the single description of the recurrence: :func:`compile_for`
compiles them for the CPU (``numba.njit``, used by ``lif_cpu``) or as ``numba.cuda`` device
functions (``lif_cuda``), and the torch reference in ``neuro.ops.lif`` performs the same
floating-point operations in the same order, so spikes and states are bit-identical between
backends (the numerics contract in :mod:`neuro.kernels`).

State per neuron: synaptic current ``i``, membrane ``v``, adaptation ``a``. Per-neuron coefficients
(:class:`LIFCoefficients`; rows of the ``[9, P]`` table, see ``P_*``): current decay ``alpha``,
input gain ``gi``, membrane decay ``beta``, current-to-membrane gain ``gv``, leak offset
``c = (1 - beta) * v_leak``, threshold ``th``, reset potential ``vr``, adaptation decay ``rho`` and
adaptation strength ``ba``. One step::

    i_t     = alpha * i_{t-1} + gi * x_t                   (has_syn; else i_t = x_t)
    h_t     = beta * v_{t-1} + (gv * i_t + c)  [- th * s_{t-1}        delayed reset]
    theta_t = th + ba * a_{t-1}                             (has_adapt; else th)
    s_t     = H(h_t - theta_t)                  (>= if ge else >; 0 for non-spiking LI)
    v_t     = h_t - theta_t s_t  |  h_t (1 - s_t) + vr s_t  |  h_t      (subtract | zero | none)
    a_t     = rho * a_{t-1} + (1 - rho) * s_t               (has_adapt)

The discrete structure is a :class:`LIFStructure` record: ``has_syn``, ``has_adapt`` and
``spiking`` are compile-time constants in the kernels (closure constants, so dead arithmetic
disappears); ``reset`` may be a runtime integer: it is turned into 0/1 factors
(:func:`reset_factors`) and the reset is computed arithmetically, which is exact (``x * 1``,
``x - 0`` and ``x + 0`` round to ``x``) and keeps the inner loops branch-free, so they vectorise.
``ge`` is a runtime boolean. ``one`` and ``zero`` are the compute dtype's constants (no float64
literal ever enters float32 arithmetic).
"""

from functools import cache
from types import ModuleType
from typing import NamedTuple

from .surrogate_math import surrogate_grad

P_ALPHA, P_GI, P_BETA, P_GV, P_C, P_TH, P_VR, P_RHO, P_BA = range(9)
N_PARAMS = 9

RESET_SUBTRACT = 0
RESET_ZERO = 1
RESET_NONE = 2
RESET_SUBTRACT_DELAYED = 3


class LIFCoefficients(NamedTuple):
    """The nine per-neuron coefficients of one step (field ``k`` is row ``k`` of the table, the
    order of ``P_*``); also the record of their gradients (:func:`lif_param_grads`)."""

    alpha: float
    gi: float
    beta: float
    gv: float
    c: float
    th: float
    vr: float
    rho: float
    ba: float


class LIFStructure(NamedTuple):
    """The discrete structure of a step: which states exist, whether it spikes, the reset mode
    (``RESET_*``) and the comparison (``ge``: fire on ``h >= theta``)."""

    has_syn: bool
    has_adapt: bool
    spiking: bool
    reset: int
    ge: bool


class LIFCarry(NamedTuple):
    """Gradients carried backward in time from step ``t+1``: of ``v_t``, ``i_t``, ``a_t`` and
    ``dL/dh_{t+1}`` (which feeds the delayed reset)."""

    dv: float
    di: float
    da: float
    dh: float


class LIFStepGrads(NamedTuple):
    """The per-step values of the reverse step that the coefficient gradients need: ``dL/dh_t``,
    ``dL/di_t``, ``dL/dtheta_t``, ``dL/dv_t`` and ``dL/da_t``."""

    dh: float
    di: float
    dtheta: float
    dv: float
    da: float


def load_coefficients(table, p):
    """Column ``p`` of a ``[9, P]`` coefficient table as a :class:`LIFCoefficients` record."""
    return LIFCoefficients(table[P_ALPHA, p], table[P_GI, p], table[P_BETA, p], table[P_GV, p],
                           table[P_C, p], table[P_TH, p], table[P_VR, p], table[P_RHO, p],
                           table[P_BA, p])


def with_threshold(k, th):
    """The coefficients ``k`` with the threshold replaced by ``th`` (a modulated threshold)."""
    return LIFCoefficients(k.alpha, k.gi, k.beta, k.gv, k.c, th, k.vr, k.rho, k.ba)


def zero_coefficients(zero):
    """A record of nine zeros (the start of a gradient accumulator)."""
    return LIFCoefficients(zero, zero, zero, zero, zero, zero, zero, zero, zero)


def store_column(table, p, d):
    """``table[:, p] = d``: write a coefficient record into column ``p`` of a ``[9, P]`` table."""
    table[P_ALPHA, p] = d.alpha
    table[P_GI, p] = d.gi
    table[P_BETA, p] = d.beta
    table[P_GV, p] = d.gv
    table[P_C, p] = d.c
    table[P_TH, p] = d.th
    table[P_VR, p] = d.vr
    table[P_RHO, p] = d.rho
    table[P_BA, p] = d.ba


def add_coefficients(acc, d):
    """The field-wise sum ``acc + d`` of two coefficient records (scalar gradient accumulators)."""
    return LIFCoefficients(acc.alpha + d.alpha, acc.gi + d.gi, acc.beta + d.beta, acc.gv + d.gv,
                           acc.c + d.c, acc.th + d.th, acc.vr + d.vr, acc.rho + d.rho, acc.ba + d.ba)


def accumulate_column(table, p, d):
    """``table[:, p] += d``: add a coefficient record to column ``p`` of a ``[9, P]`` table."""
    table[P_ALPHA, p] += d.alpha
    table[P_GI, p] += d.gi
    table[P_BETA, p] += d.beta
    table[P_GV, p] += d.gv
    table[P_C, p] += d.c
    table[P_TH, p] += d.th
    table[P_VR, p] += d.vr
    table[P_RHO, p] += d.rho
    table[P_BA, p] += d.ba


def fires(h, theta, ge, one, zero):
    """Spike indicator in the compute dtype: ``h >= theta`` (ge) or ``h > theta``."""
    return one if (h > theta) | (ge & (h == theta)) else zero


def reset_factors(reset, one):
    """``(fsub, fzero, fdly)``: 1 for the active reset mode, else 0, in the compute dtype."""
    zero = one - one
    return (one if reset == RESET_SUBTRACT else zero, one if reset == RESET_ZERO else zero,
            one if reset == RESET_SUBTRACT_DELAYED else zero)


def after_reset(h, theta, s, vr, reset, one):
    """Membrane after the reset of a step whose pre-reset membrane is ``h``:
    ``h - theta s`` (subtract), ``h (1 - s) + vr s`` (zero), ``h`` (none, delayed)."""
    fsub, fzero, _ = reset_factors(reset, one)
    return (h - fsub * theta * s) * (one - fzero * s) + fzero * vr * s


def threshold(th, ba, a_prev, has_adapt):
    """Firing threshold of a step given the adaptation of the previous step."""
    if has_adapt:
        return th + ba * a_prev
    return th


def pending_reset(v, k, st, one, zero):
    """The spike whose reset is still pending at the start of a scan (delayed reset only: read from
    the stored membrane as snnTorch does), else 0."""
    if st.reset == RESET_SUBTRACT_DELAYED:
        return fires(v, k.th, st.ge, one, zero)
    return zero


def lif_forward_step(x, i, v, a, s_prev, k, st, one, zero):
    """Advance one neuron by one step (coefficients ``k``, structure ``st``); returns
    ``(i, h, v, a, s)`` of the new step (``h`` the membrane before the reset)."""
    i_new = k.alpha * i + k.gi * x if st.has_syn else x
    _, _, fdly = reset_factors(st.reset, one)
    h = k.beta * v + (k.gv * i_new + k.c) - fdly * k.th * s_prev
    theta = threshold(k.th, k.ba, a, st.has_adapt)
    s = fires(h, theta, st.ge, one, zero) if st.spiking else zero
    v_new = after_reset(h, theta, s, k.vr, st.reset, one)
    a_new = k.rho * a + (one - k.rho) * s if st.has_adapt else zero
    return i_new, h, v_new, a_new, s


def lif_backward_step(g_s, g_v, g_i, g_a, h, theta, s, sg, carry, k, st, keep_reset, one, zero):
    """Reverse-time step: from the gradients flowing into step ``t`` to those of step ``t-1``.

    ``g_*`` are the external gradients of this step's outputs (spike, recorded v / i / a);
    ``carry`` (:class:`LIFCarry`) holds the gradients of ``v_t, i_t, a_t`` coming from step ``t+1``
    and ``dh = dL/dh_{t+1}``. ``sg`` is the surrogate derivative at ``h - theta`` (0 for
    non-spiking models). ``keep_reset`` is 0 when the reset is detached. Returns
    ``(dx, carry_prev, step_grads)``: the input gradient, the :class:`LIFCarry` into step ``t-1``
    and the :class:`LIFStepGrads` that feed :func:`lif_param_grads`.
    """
    fsub, fzero, fdly = reset_factors(st.reset, one)
    dv = carry.dv + g_v
    da = carry.da + g_a if st.has_adapt else zero
    # dL/ds_t through the output, the reset of v_t, the delayed reset in h_{t+1} and a_t
    ds = g_s + keep_reset * (dv * (fzero * (k.vr - h) - fsub * theta) - fdly * k.th * carry.dh)
    if st.has_adapt:
        ds = ds + da * (one - k.rho)
    dh = ds * sg + dv * (one - fzero * s)
    dtheta = -(fsub * dv * s) - ds * sg
    di = carry.di + g_i + k.gv * dh if st.has_syn else k.gv * dh
    dx = k.gi * di if st.has_syn else di
    di_prev = k.alpha * di if st.has_syn else zero
    da_prev = k.ba * dtheta + k.rho * da if st.has_adapt else zero
    return (dx, LIFCarry(k.beta * dh, di_prev, da_prev, dh),
            LIFStepGrads(dh, di, dtheta, dv, da))


def initial_reset_grad(v0, th, dh, keep_reset, sg_kind, sg_a, sg_b, st, one, zero):
    """Delayed reset only: the gradient that reaches ``v0`` (and, negated, ``th``) through the
    reset pending at ``t = 0`` (read from ``v0`` through the surrogate; ``dh = dL/dh_0``)."""
    ds = -(keep_reset * th * dh)
    sg = surrogate_grad(sg_kind, sg_a, sg_b, v0 - th, one, zero) if st.spiking else zero
    return ds * sg


def lif_param_grads(g, s, x, i_t, i_prev, v_prev, s_prev, a_prev, st, zero):
    """This step's contributions to the coefficient gradients, as a :class:`LIFCoefficients`
    record, given the reverse step's :class:`LIFStepGrads` ``g`` and the forward values of steps
    ``t`` and ``t-1``."""
    d_alpha = g.di * i_prev if st.has_syn else zero
    d_gi = g.di * x if st.has_syn else zero
    d_th = g.dtheta - s_prev * g.dh if st.reset == RESET_SUBTRACT_DELAYED else g.dtheta
    d_vr = g.dv * s if st.reset == RESET_ZERO else zero
    d_rho = g.da * (a_prev - s) if st.has_adapt else zero
    d_ba = g.dtheta * a_prev if st.has_adapt else zero
    return LIFCoefficients(d_alpha, d_gi, g.dh * v_prev, g.dh * i_t, g.dh, d_th, d_vr, d_rho, d_ba)


def record_step(seqs, store, t, n, s, h, v, i, a):
    """Write step ``t`` of neuron ``n`` into the sequences ``seqs = (s, h, v, i, a)`` whose flag in
    ``store`` is set (the others may be 1x1 placeholders)."""
    if store[0]:
        seqs[0][t, n] = s
    if store[1]:
        seqs[1][t, n] = h
    if store[2]:
        seqs[2][t, n] = v
    if store[3]:
        seqs[3][t, n] = i
    if store[4]:
        seqs[4][t, n] = a


def previous_membrane(h_p, k, a_pp, st, one, zero):
    """``(v_{t-1}, s_{t-1})`` rebuilt from the pre-reset membrane ``h_p = h_{t-1}`` and the
    adaptation ``a_pp = a_{t-2}`` (the backward scans store ``h``, not ``v``)."""
    th_p = threshold(k.th, k.ba, a_pp, st.has_adapt)
    s_p = fires(h_p, th_p, st.ge, one, zero) if st.spiking else zero
    return after_reset(h_p, th_p, s_p, k.vr, st.reset, one), s_p


# Everything compile_for compiles (records are built by the functions, not compiled).
STEP_FUNCTIONS = (load_coefficients, with_threshold, zero_coefficients, store_column, add_coefficients,
                  accumulate_column, fires, reset_factors, after_reset, threshold, pending_reset,
                  lif_forward_step, lif_backward_step, initial_reset_grad, lif_param_grads,
                  record_step, previous_membrane)


@cache
def compile_for(target: str) -> ModuleType:
    """The step functions of this module compiled for ``target`` (``"cpu"`` or ``"cuda"``), with
    the surrogate derivatives of :mod:`surrogate_math`, as one namespace (``ns.lif_forward_step``,
    ``ns.surrogate_grad``, ...)."""
    from . import surrogate_math
    from ._jit import compile_math

    return compile_math(STEP_FUNCTIONS, target, surrogate_math.compile_for(target))
