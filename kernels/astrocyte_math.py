r"""The Li-Rinzel astrocyte of NEST 3.10 (``astrocyte_lr_1994``) as scalar Numba-compilable steps.

State per astrocyte (rows of the state table, see ``S_*``): cytosolic IP3 ``IP3`` (uM), cytosolic
calcium ``Ca`` (uM), fraction of IP3 receptors not inactivated by calcium ``h``, the slow inward
current last emitted ``SIC`` (pA) and the integrator's suggested step ``HINT`` (ms). With
:math:`c = \mathrm{clip}(Ca, 0, Ca_{tot})` (NEST 3.10 clamps inside the derivative)::

    dIP3/dt = (IP3_0 - IP3) / tau_IP3
    Ca_ER   = (Ca_tot - c) / ratio_ER_cyt
    m = IP3 / (IP3 + Kd_IP3_1),   n = c / (c + Kd_act)
    J_chan  = ratio_ER_cyt * rate_IP3R * m^3 n^3 h^3 * (Ca_ER - c)
    J_leak  = ratio_ER_cyt * rate_L * (Ca_ER - c)
    J_pump  = rate_SERCA * c^2 / (Km_SERCA^2 + c^2)
    dCa/dt  = J_chan - J_pump + J_leak + J_in                (J_in: current input, uM/ms)
    dh/dt   = k_IP3R Kd_inh (IP3 + Kd_IP3_1)/(IP3 + Kd_IP3_2) (1 - h) - k_IP3R c h

One simulation step ``dt``: integrate with RKF45 under GSL's standard control (``eps_abs = 1e-3``,
``eps_rel = 0``, steps never longer than ``dt``; :mod:`neuro.kernels.rkf45_math`), clamp ``Ca`` to
``[0, Ca_tot]``, add the step's input ``IP3 += delta_IP3 * sum(w)`` of the spikes arriving at the
step's end, then emit (Nadkarni & Jung 2003)::

    SIC = SIC_scale * ln((Ca - SIC_th) * 1000)   if (Ca - SIC_th) * 1000 > 1 else 0      [pA]

Error bound: the astrocyte's fastest rate is ~1e-2 / ms, so with ``dt = 0.1 ms`` the fifth-order
step's local error is ~(1e-3)^6 relative; NEST's traces match a tight (rtol 1e-10) SciPy solution
to <= 2e-9 uM, and so does this code.
"""

import math
from functools import cache
from types import ModuleType

from . import rkf45_math
from ._jit import compile_math

# parameter rows (NEST names)
(P_CA_TOT, P_IP3_0, P_KD_IP3_1, P_KD_IP3_2, P_KD_ACT, P_KD_INH, P_KM_SERCA, P_SIC_SCALE,
 P_SIC_TH, P_DELTA_IP3, P_K_IP3R, P_RATE_IP3R, P_RATE_L, P_RATE_SERCA, P_RATIO_ER_CYT,
 P_TAU_IP3) = range(16)
N_PARAMS = 16

# state rows; the first N_ODE rows are the integrated variables
S_IP3, S_CA, S_H, S_SIC, S_J_IN, S_HINT = range(6)
N_STATE = 6
N_ODE = 3

EPS_ABS = 1e-3  # GSL tolerances NEST uses for this model
EPS_REL = 0.0


def lr_rhs(t, w, src, dst, prm, p, aux, q):
    """Derivatives of ``(IP3, Ca, h)`` from work row ``src`` into row ``dst`` (``aux``: state table,
    whose ``S_J_IN`` row holds the calcium current input of the step)."""
    ip3 = w[src, 0]
    ca_tot = prm[P_CA_TOT, p]
    c = min(max(w[src, 1], 0.0), ca_tot)
    h = w[src, 2]
    k_ip3r = prm[P_K_IP3R, p]
    ratio = prm[P_RATIO_ER_CYT, p]
    kd1 = prm[P_KD_IP3_1, p]
    km = prm[P_KM_SERCA, p]
    alpha_h = k_ip3r * prm[P_KD_INH, p] * (ip3 + kd1) / (ip3 + prm[P_KD_IP3_2, p])
    beta_h = k_ip3r * c
    j_pump = prm[P_RATE_SERCA, p] * (c * c) / (km * km + c * c)
    m_inf = ip3 / (ip3 + kd1)
    n_inf = c / (c + prm[P_KD_ACT, p])
    ca_er = (ca_tot - c) / ratio
    j_leak = ratio * prm[P_RATE_L, p] * (ca_er - c)
    j_chan = (ratio * prm[P_RATE_IP3R, p] * (m_inf * m_inf * m_inf) * (n_inf * n_inf * n_inf)
              * (h * h * h) * (ca_er - c))
    w[dst, 0] = (prm[P_IP3_0, p] - ip3) / prm[P_TAU_IP3, p]
    w[dst, 1] = j_chan - j_pump + j_leak + aux[S_J_IN, q]
    w[dst, 2] = alpha_h * (1.0 - h) - beta_h * h


def sic_of(ca, sic_th, sic_scale):
    """Slow inward current (pA) emitted at calcium ``ca`` (uM)."""
    calc_thr = (ca - sic_th) * 1000.0
    if calc_thr > 1.0:
        return math.log(calc_thr) * sic_scale
    return 0.0


def astrocyte_update(w, state, q, prm, p, dt, ip3_in):
    """Advance astrocyte ``q`` (work rows loaded in ``w[Y]``) by one step ``dt`` (ms) with
    ``ip3_in`` = summed weight of the spikes arriving at the step's end; updates ``state[:, q]``'s
    ``SIC`` and ``HINT`` rows and returns the SIC."""
    t = 0.0
    h = state[S_HINT, q]
    while t < dt:
        t, h = evolve_apply(w, N_ODE, t, dt, h, prm, p, state, q, EPS_ABS, EPS_REL, 1.0, 0.0)
    state[S_HINT, q] = h
    w[rkf45_math.Y, 1] = min(max(w[rkf45_math.Y, 1], 0.0), prm[P_CA_TOT, p])
    w[rkf45_math.Y, 0] += prm[P_DELTA_IP3, p] * ip3_in
    sic = sic_of(w[rkf45_math.Y, 1], prm[P_SIC_TH, p], prm[P_SIC_SCALE, p])
    state[S_SIC, q] = sic
    return sic


def astrocyte_advance(q, state, prm, dt, ip3_in, j_in, w):
    """One step of astrocyte ``q`` whose state is the column ``state[:, q]`` (updated in place):
    loads the ODE rows into the scratch work table ``w`` (``[rkf45_math.ROWS, N_ODE]``), runs
    :func:`astrocyte_update` with the summed IP3 weight ``ip3_in`` arriving at the step's end,
    stores the calcium current ``j_in`` arriving then (used during the next step) and returns the
    SIC. Every loop that steps astrocytes (``neuro.astro``'s engine, ``neuro.sim``) calls this."""
    for i in range(N_ODE):
        w[rkf45_math.Y, i] = state[i, q]
    sic = astrocyte_update(w, state, q, prm, q % prm.shape[1], dt, ip3_in)
    state[S_J_IN, q] = j_in
    for i in range(N_ODE):
        state[i, q] = w[rkf45_math.Y, i]
    return sic


def evolve_apply(w, n, t0, t1, h, prm, p, aux, q, eps_abs, eps_rel, a_y, a_dydt):  # pragma: no cover
    raise NotImplementedError("rebound to rkf45_math.evolve_apply compiled with lr_rhs")


@cache
def compile_for(target: str) -> ModuleType:
    """The astrocyte step compiled for ``target`` (``"cpu"`` or ``"cuda"``) with the RKF45 integrator
    bound to :func:`lr_rhs`: ``astrocyte_update``, ``astrocyte_advance``, ``sic_of``, ``evolve_apply``."""
    ode = rkf45_math.compile_for(target, lr_rhs)
    return compile_math((sic_of, astrocyte_update, astrocyte_advance), target, ode)
