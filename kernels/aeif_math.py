r"""NEST's ``aeif_cond_alpha_astro``: adaptive exponential IF neuron with alpha-shaped conductances
and the astrocytes' slow inward current (SIC), as scalar Numba-compilable steps.

State per neuron (rows ``S_*`` of the state table): membrane ``V`` (mV), the alpha-conductance
pairs ``dg_ex, g_ex, dg_in, g_in`` (nS/ms, nS), adaptation current ``w`` (pA), the currents held
for the next step ``I_stim, I_SIC`` (pA), the refractory count and the integrator's step ``HINT``.
With :math:`V' = V_{reset}` while refractory, else :math:`\min(V, V_{peak})`::

    C_m dV/dt  = -g_L (V' - E_L) + g_L Delta_T exp((V' - V_th)/Delta_T)
                 - g_ex (V' - E_ex) - g_in (V' - E_in) - w + I_e + I_stim + I_SIC   (0 if refractory)
    d dg_x/dt  = -dg_x / tau_syn_x,     d g_x/dt = dg_x - g_x / tau_syn_x          (x = ex, in)
    tau_w dw/dt = a (V' - E_L) - w

One simulation step ``dt``: adaptive RKF45 sub-steps (GSL control with ``a_y = 0``, ``a_dydt = 1``,
``eps_abs = eps_rel = gsl_error_tol``); after every sub-step a refractory neuron is held at
``V_reset``, and a neuron with ``V >= V_peak`` spikes: ``V = V_reset``, ``w += b``, refractory for
``t_ref`` (the spike is stamped at the step's end). Then the step's input spikes land,
``dg_ex += e/tau_syn_ex * sum(w_ex)`` (likewise inhibitory, with ``|w|``), and the currents
arriving now become ``I_stim`` and ``I_SIC`` of the next step.
"""

import types
from functools import cache
from types import ModuleType

from . import rkf45_math
from ._jit import compile_math
from .symbolic import exp

# parameter rows (NEST names; G0_* = e / tau_syn_*, V_PEAK_EFF = V_peak, or V_th when Delta_T = 0)
(P_V_PEAK, P_V_RESET, P_REF_STEPS, P_G_L, P_C_M, P_E_EX, P_E_IN, P_E_L, P_DELTA_T, P_TAU_W, P_A,
 P_B, P_V_TH, P_TAU_SYN_EX, P_TAU_SYN_IN, P_I_E, P_TOL, P_G0_EX, P_G0_IN, P_V_PEAK_EFF) = range(20)
N_PARAMS = 20

# state rows; the first N_ODE rows are integrated
S_V, S_DG_EX, S_G_EX, S_DG_IN, S_G_IN, S_W, S_I_STIM, S_I_SIC, S_REFRACTORY, S_HINT = range(10)
N_STATE = 10
N_ODE = 6

# status codes
OK = 0
UNSTABLE = 1


# --------------------------------------------------------------------------------------------
# The AdEx terms shared with the trainable AdEx / ExpIF neurons (``adex_math``): plain scalar
# functions of numbers, traced values (``symbolic``) or tensors. ``exp`` is ``symbolic.exp`` in
# Python and the target's ``math.exp`` once compiled (:func:`compile_for` binds it).


def leak_current(v, g_l, e_l):
    """``-g_L (V - E_L)`` (pA with nS and mV)."""
    return -g_l * (v - e_l)


def exp_spike_current(v, g_l, delta_t, v_th):
    """The exponential spike-initiation current ``g_L Delta_T exp((V - V_th) / Delta_T)``
    (``Delta_T > 0``)."""
    return g_l * delta_t * exp((v - v_th) / delta_t)


def adaptation_rate(v, w, a, e_l, tau_w):
    """``dw/dt = (a (V - E_L) - w) / tau_w``."""
    return (a * (v - e_l) - w) / tau_w


SHARED_TERMS = (leak_current, exp_spike_current, adaptation_rate)


@cache
def terms_for(target: str) -> ModuleType:
    """:data:`SHARED_TERMS` compiled for ``target`` with the target's ``exp``."""
    from .neuron_spec import helpers_for

    return compile_math(SHARED_TERMS, target, helpers_for(target), name=f"{__name__}.terms[{target}]")


def aeif_rhs(t, w, src, dst, prm, p, aux, q):
    """Derivatives of ``(V, dg_ex, g_ex, dg_in, g_in, w)`` (``aux``: the state table, for the
    refractory count and the currents of this step)."""
    refractory = aux[S_REFRACTORY, q] > 0.0
    v = prm[P_V_RESET, p] if refractory else min(w[src, 0], prm[P_V_PEAK, p])
    dg_ex = w[src, 1]
    g_ex = w[src, 2]
    dg_in = w[src, 3]
    g_in = w[src, 4]
    ad = w[src, 5]
    g_l = prm[P_G_L, p]
    delta_t = prm[P_DELTA_T, p]
    tau_ex = prm[P_TAU_SYN_EX, p]
    tau_in = prm[P_TAU_SYN_IN, p]
    i_syn_ex = g_ex * (v - prm[P_E_EX, p])
    i_syn_in = g_in * (v - prm[P_E_IN, p])
    i_spike = 0.0 if delta_t == 0.0 else exp_spike_current(v, g_l, delta_t, prm[P_V_TH, p])
    if refractory:
        w[dst, 0] = 0.0
    else:
        w[dst, 0] = (leak_current(v, g_l, prm[P_E_L, p]) + i_spike - i_syn_ex - i_syn_in - ad + prm[P_I_E, p]
                     + aux[S_I_STIM, q] + aux[S_I_SIC, q]) / prm[P_C_M, p]
    w[dst, 1] = -dg_ex / tau_ex
    w[dst, 2] = dg_ex - g_ex / tau_ex
    w[dst, 3] = -dg_in / tau_in
    w[dst, 4] = dg_in - g_in / tau_in
    w[dst, 5] = adaptation_rate(v, ad, prm[P_A, p], prm[P_E_L, p], prm[P_TAU_W, p])


def aeif_update(w, state, q, prm, p, dt, in_ex, in_in, i_stim, i_sic):
    """Advance neuron ``q`` (ODE variables in ``w[Y]``) by one step; returns ``(spikes, status)``.

    ``in_ex`` / ``in_in`` are the summed excitatory / inhibitory (absolute) weights arriving at the
    step's end, ``i_stim`` and ``i_sic`` the currents arriving now (used during the next step).
    """
    Y = rkf45_math.Y
    tol = prm[P_TOL, p]
    t = 0.0
    h = state[S_HINT, q]
    spikes = 0.0
    status = OK
    while t < dt:
        t, h = evolve_apply(w, N_ODE, t, dt, h, prm, p, state, q, tol, tol, 0.0, 1.0)
        if w[Y, 0] < -1e3 or w[Y, 5] < -1e6 or w[Y, 5] > 1e6:
            status = UNSTABLE
            break
        if state[S_REFRACTORY, q] > 0.0:
            w[Y, 0] = prm[P_V_RESET, p]
        elif w[Y, 0] >= prm[P_V_PEAK_EFF, p]:
            w[Y, 0] = prm[P_V_RESET, p]
            w[Y, 5] += prm[P_B, p]
            ref = prm[P_REF_STEPS, p]
            state[S_REFRACTORY, q] = ref + 1.0 if ref > 0.0 else 0.0
            spikes += 1.0
    state[S_HINT, q] = h
    if state[S_REFRACTORY, q] > 0.0:
        state[S_REFRACTORY, q] -= 1.0
    w[Y, 1] += in_ex * prm[P_G0_EX, p]
    w[Y, 3] += in_in * prm[P_G0_IN, p]
    state[S_I_STIM, q] = i_stim
    state[S_I_SIC, q] = i_sic
    return spikes, status


def evolve_apply(w, n, t0, t1, h, prm, p, aux, q, eps_abs, eps_rel, a_y, a_dydt):  # pragma: no cover
    raise NotImplementedError("rebound to rkf45_math.evolve_apply compiled with aeif_rhs")


@cache
def compile_for(target: str) -> ModuleType:
    """The neuron step compiled for ``target`` (``"cpu"`` or ``"cuda"``) with the RKF45 integrator bound
    to :func:`aeif_rhs` (its shared terms bound to :func:`terms_for`): ``aeif_update`` and
    ``evolve_apply``."""
    terms = terms_for(target)
    rhs = types.FunctionType(aeif_rhs.__code__, {**aeif_rhs.__globals__, **{
        f.__name__: getattr(terms, f.__name__) for f in SHARED_TERMS}}, aeif_rhs.__name__)
    ode = rkf45_math.compile_for(target, rhs)
    return compile_math((aeif_update,), target, ode)
