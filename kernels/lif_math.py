"""One discrete-time step of the LIF family and its exact reverse-time derivative, as scalars.

These plain Python functions are the single description of the recurrence: ``lif_cpu`` compiles
them with ``numba.njit`` and ``lif_cuda`` as ``numba.cuda`` device functions, and the torch
reference in ``neuro.ops.lif`` performs the same floating-point operations in the same order, so
spikes are bit-identical between backends.

State per neuron: synaptic current ``i``, membrane ``v``, adaptation ``a``. Per-neuron parameters
(rows of the ``prm`` table, see ``P_*``): current decay ``alpha``, input gain ``gi``, membrane
decay ``beta``, current-to-membrane gain ``gv``, leak offset ``c = (1 - beta) * v_leak``,
threshold ``th``, reset potential ``vr``, adaptation decay ``rho`` and adaptation strength ``ba``.
One step::

    i_t     = alpha * i_{t-1} + gi * x_t                   (has_syn; else i_t = x_t)
    h_t     = beta * v_{t-1} + (gv * i_t + c)  [- th * s_{t-1}        delayed reset]
    theta_t = th + ba * a_{t-1}                             (has_adapt; else th)
    s_t     = H(h_t - theta_t)                  (>= if ge else >; 0 for non-spiking LI)
    v_t     = h_t - theta_t s_t  |  h_t (1 - s_t) + vr s_t  |  h_t      (subtract | zero | none)
    a_t     = rho * a_{t-1} + (1 - rho) * s_t               (has_adapt)

``has_syn``, ``has_adapt`` and ``spiking`` are compile-time constants in the kernels. ``reset`` may be
a runtime integer: it is turned into 0/1 factors (:func:`reset_factors`) and the reset is computed
arithmetically, which is exact (``x * 1``, ``x - 0`` and ``x + 0`` round to ``x``) and keeps the
inner loops branch-free, so they vectorise. ``ge`` is a runtime boolean.
"""

P_ALPHA, P_GI, P_BETA, P_GV, P_C, P_TH, P_VR, P_RHO, P_BA = range(9)
N_PARAMS = 9

RESET_SUBTRACT = 0
RESET_ZERO = 1
RESET_NONE = 2
RESET_SUBTRACT_DELAYED = 3


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


def lif_forward_step(x, i, v, a, s_prev, alpha, gi, beta, gv, c, th, vr, rho, ba,
                     reset, ge, has_syn, has_adapt, spiking, one, zero):
    """Advance one neuron by one step; returns ``(i, h, v, a, s)`` of the new step."""
    i_new = alpha * i + gi * x if has_syn else x
    _, _, fdly = reset_factors(reset, one)
    h = beta * v + (gv * i_new + c) - fdly * th * s_prev
    theta = threshold(th, ba, a, has_adapt)
    s = fires(h, theta, ge, one, zero) if spiking else zero
    v_new = after_reset(h, theta, s, vr, reset, one)
    a_new = rho * a + (one - rho) * s if has_adapt else zero
    return i_new, h, v_new, a_new, s


def lif_backward_step(g_s, g_v, g_i, g_a, h, theta, s, sg, dv_c, di_c, da_c, dh_next,
                      alpha, gi, beta, gv, th, vr, rho, ba, keep_reset,
                      reset, has_syn, has_adapt, one, zero):
    """Reverse-time step: from the gradients flowing into step ``t`` to those of step ``t-1``.

    ``g_*`` are the external gradients of this step's outputs (spike, recorded v / i / a); the
    carries ``dv_c, di_c, da_c`` are the gradients of ``v_t, i_t, a_t`` coming from step ``t+1``,
    and ``dh_next = dL/dh_{t+1}`` feeds the delayed reset. ``sg`` is the surrogate derivative at
    ``h - theta`` (0 for non-spiking models). ``keep_reset`` is 0 when the reset is detached.
    Returns ``(dx, dv_prev, di_prev, da_prev, dh, di, dtheta, dv, da)``; the last four feed
    :func:`lif_param_grads`.
    """
    fsub, fzero, fdly = reset_factors(reset, one)
    dv = dv_c + g_v
    da = da_c + g_a if has_adapt else zero
    # dL/ds_t through the output, the reset of v_t, the delayed reset in h_{t+1} and a_t
    ds = g_s + keep_reset * (dv * (fzero * (vr - h) - fsub * theta) - fdly * th * dh_next)
    if has_adapt:
        ds = ds + da * (one - rho)
    dh = ds * sg + dv * (one - fzero * s)
    dtheta = -(fsub * dv * s) - ds * sg
    di = di_c + g_i + gv * dh if has_syn else gv * dh
    dx = gi * di if has_syn else di
    di_prev = alpha * di if has_syn else zero
    da_prev = ba * dtheta + rho * da if has_adapt else zero
    return dx, beta * dh, di_prev, da_prev, dh, di, dtheta, dv, da


def lif_param_grads(dh, di, dtheta, dv, da, s, x, i_t, i_prev, v_prev, s_prev, a_prev,
                    reset, has_syn, has_adapt, zero):
    """This step's contributions to ``d prm`` (rows as ``P_*``), given the backward-step values."""
    d_alpha = di * i_prev if has_syn else zero
    d_gi = di * x if has_syn else zero
    d_th = dtheta - s_prev * dh if reset == RESET_SUBTRACT_DELAYED else dtheta
    d_vr = dv * s if reset == RESET_ZERO else zero
    d_rho = da * (a_prev - s) if has_adapt else zero
    d_ba = dtheta * a_prev if has_adapt else zero
    return d_alpha, d_gi, dh * v_prev, dh * i_t, dh, d_th, d_vr, d_rho, d_ba
