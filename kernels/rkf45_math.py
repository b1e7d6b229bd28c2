"""Embedded Runge-Kutta-Fehlberg 4(5) with GSL's step-size control, as Numba-compilable functions.

NEST integrates its conductance-based and astrocyte models with GSL's ``gsl_odeiv`` interface:
the ``rkf45`` stepper, the *standard* error control and ``gsl_odeiv_evolve_apply`` called in a
loop until one simulation step ``dt`` is covered, with the suggested step carried over to the next
simulation step. This module restates those published algorithms (Fehlberg's tableau and the
control rule of the GSL manual) so a reimplementation reproduces NEST's trajectories, including
where an adaptive integrator places its sub-steps.

One Fehlberg step of size ``h`` from ``(t, y)`` with stages ``k1..k6`` propagates the fifth-order
solution and estimates the local error as the difference to the embedded fourth-order one::

    y_new = y + h (16/135 k1 + 6656/12825 k3 + 28561/56430 k4 - 9/50 k5 + 2/55 k6)
    yerr  = h (1/360 k1 - 128/4275 k3 - 2197/75240 k4 + 1/50 k5 + 2/55 k6)

The standard control with tolerances ``eps_abs, eps_rel`` and weights ``a_y, a_dydt`` computes
``D_i = eps_rel (a_y |y_i| + a_dydt |h y'_i|) + eps_abs`` and ``r = max_i |yerr_i| / D_i``
(``y'`` is the derivative at the new point), then, with the step's order ``q = 5``:

* ``r > 1.1``: reject; retry with ``h * max(0.2, 0.9 r^(-1/q))``;
* ``r < 0.5``: accept; suggest ``h * min(5, max(1, 0.9 r^(-1/(q+1))))``;
* otherwise accept and keep ``h``.

A step that would pass the end of the interval is shortened to end exactly on it.

State layout: every function works on one unit's rows of a work table ``w[ROWS, n]`` (``n``
state variables), so the same code runs on the CPU (a NumPy array per task) and on a GPU (a
``cuda.local.array``) without slicing. The system's derivative is the global name ``rhs``, bound
per model and target by :func:`compile_for`::

    rhs(t, w, src, dst, prm, p, aux, q)  # w[dst, :n] = f(t, w[src, :n]); parameters prm[:, p],
                                        # per-unit inputs aux[:, q]
"""

from collections.abc import Callable
from functools import cache
from types import ModuleType, SimpleNamespace

from ._jit import compile_math

# rows of the work table
Y, K1, K2, K3, K4, K5, K6, YTMP, Y0, YERR, DYDT_IN, DYDT_OUT = range(12)
ROWS = 12
ORDER = 5

# step results of the control
HADJ_DEC = -1
HADJ_NIL = 0
HADJ_INC = 1

# Fehlberg tableau: stage times, stage weights, fifth-order weights, error weights
A2, A3, A4, A5, A6 = 1.0 / 4.0, 3.0 / 8.0, 12.0 / 13.0, 1.0, 1.0 / 2.0
B31, B32 = 3.0 / 32.0, 9.0 / 32.0
B41, B42, B43 = 1932.0 / 2197.0, -7200.0 / 2197.0, 7296.0 / 2197.0
B51, B52, B53, B54 = 8341.0 / 4104.0, -32832.0 / 4104.0, 29440.0 / 4104.0, -845.0 / 4104.0
B61, B62, B63, B64, B65 = (-6080.0 / 20520.0, 41040.0 / 20520.0, -28352.0 / 20520.0,
                           9295.0 / 20520.0, -5643.0 / 20520.0)
C1, C3, C4, C5, C6 = (902880.0 / 7618050.0, 3953664.0 / 7618050.0, 3855735.0 / 7618050.0,
                      -1371249.0 / 7618050.0, 277020.0 / 7618050.0)
E1, E3, E4, E5, E6 = 1.0 / 360.0, -128.0 / 4275.0, -2197.0 / 75240.0, 1.0 / 50.0, 2.0 / 55.0


def rhs(t, w, src, dst, prm, p, aux, q):  # pragma: no cover - placeholder, bound by compile_for
    raise NotImplementedError("rkf45_math.rhs is bound to a model's derivative by compile_for")


def rkf45_step(w, n, t, h, prm, p, aux, q):
    """One Fehlberg step of size ``h``: ``w[Y]`` becomes the fifth-order solution, ``w[YERR]`` the
    error estimate and ``w[DYDT_OUT]`` the derivative at ``t + h``; ``w[DYDT_IN]`` must hold the
    derivative at ``(t, w[Y])``."""
    for i in range(n):
        w[K1, i] = w[DYDT_IN, i]
        w[YTMP, i] = w[Y, i] + A2 * h * w[K1, i]
    rhs(t + A2 * h, w, YTMP, K2, prm, p, aux, q)
    for i in range(n):
        w[YTMP, i] = w[Y, i] + h * (B31 * w[K1, i] + B32 * w[K2, i])
    rhs(t + A3 * h, w, YTMP, K3, prm, p, aux, q)
    for i in range(n):
        w[YTMP, i] = w[Y, i] + h * (B41 * w[K1, i] + B42 * w[K2, i] + B43 * w[K3, i])
    rhs(t + A4 * h, w, YTMP, K4, prm, p, aux, q)
    for i in range(n):
        w[YTMP, i] = w[Y, i] + h * (B51 * w[K1, i] + B52 * w[K2, i] + B53 * w[K3, i]
                                    + B54 * w[K4, i])
    rhs(t + A5 * h, w, YTMP, K5, prm, p, aux, q)
    for i in range(n):
        w[YTMP, i] = w[Y, i] + h * (B61 * w[K1, i] + B62 * w[K2, i] + B63 * w[K3, i]
                                    + B64 * w[K4, i] + B65 * w[K5, i])
    rhs(t + A6 * h, w, YTMP, K6, prm, p, aux, q)
    for i in range(n):
        d = C1 * w[K1, i] + C3 * w[K3, i] + C4 * w[K4, i] + C5 * w[K5, i] + C6 * w[K6, i]
        w[Y, i] += h * d
    rhs(t + h, w, Y, DYDT_OUT, prm, p, aux, q)
    for i in range(n):
        w[YERR, i] = h * (E1 * w[K1, i] + E3 * w[K3, i] + E4 * w[K4, i] + E5 * w[K5, i]
                          + E6 * w[K6, i])


def hadjust(w, n, h_old, eps_abs, eps_rel, a_y, a_dydt):
    """Standard error control: ``(status, h)`` with status ``HADJ_DEC | HADJ_NIL | HADJ_INC``."""
    rmax = 2.2250738585072014e-308  # DBL_MIN
    for i in range(n):
        d0 = eps_rel * (a_y * abs(w[Y, i]) + a_dydt * abs(h_old * w[DYDT_OUT, i])) + eps_abs
        r = abs(w[YERR, i]) / abs(d0)
        if r > rmax:
            rmax = r
    if rmax > 1.1:
        r = 0.9 / rmax ** (1.0 / ORDER)
        if r < 0.2:
            r = 0.2
        return HADJ_DEC, r * h_old
    if rmax < 0.5:
        r = 0.9 / rmax ** (1.0 / (ORDER + 1.0))
        if r > 5.0:
            r = 5.0
        if r < 1.0:
            r = 1.0
        return HADJ_INC, r * h_old
    return HADJ_NIL, h_old


def evolve_apply(w, n, t0, t1, h, prm, p, aux, q, eps_abs, eps_rel, a_y, a_dydt):
    """One accepted adaptive step from ``t0`` towards ``t1`` (GSL ``gsl_odeiv_evolve_apply``).

    Returns ``(t, h_next)``: the time reached (``t1`` exactly when the step was shortened to end
    there) and the step size suggested for the next call. Rejected steps are retried from the saved
    state with a smaller ``h``.
    """
    for i in range(n):
        w[Y0, i] = w[Y, i]
    rhs(t0, w, Y, DYDT_IN, prm, p, aux, q)
    dt = t1 - t0
    h0 = h
    while True:
        final = h0 > dt
        if final:
            h0 = dt
        rkf45_step(w, n, t0, h0, prm, p, aux, q)
        t_new = t1 if final else t0 + h0
        h_old = h0
        status, h0 = hadjust(w, n, h_old, eps_abs, eps_rel, a_y, a_dydt)
        if status == HADJ_DEC:
            if h0 < h_old and t_new + h0 != t_new:  # a real decrease: undo and retry
                for i in range(n):
                    w[Y, i] = w[Y0, i]
                continue
            h0 = h_old
        return t_new, h0


@cache
def compile_for(target: str, derivative: Callable) -> ModuleType:
    """The integrator compiled for ``target`` (``"cpu"`` or ``"cuda"``) with ``rhs`` bound to a model's
    pure-Python ``derivative`` (signature of :func:`rhs`): a namespace with ``rhs``, ``rkf45_step``,
    ``hadjust`` and ``evolve_apply``.

    On the CPU the chain compiles as separate ``njit`` functions rather than inlined ones: the
    derivative is called eight times per step, and inlining it everywhere doubles the models' cold
    compile time (measured: 18 s -> 45 s). They are not cached on their own (the clones of one
    function for two models share a name, which Numba's cache cannot tell apart); the cached kernels
    that call them embed them.
    """
    overrides = None
    if target == "cpu":
        from numba import njit

        overrides = dict.fromkeys((derivative.__name__, "rkf45_step", "hadjust", "evolve_apply"), njit)
    model = compile_math((derivative,), target, jit_overrides=overrides)
    return compile_math((rkf45_step, hadjust, evolve_apply), target,
                        SimpleNamespace(rhs=getattr(model, derivative.__name__)), jit_overrides=overrides,
                        name=f"{__name__}[{target}, {derivative.__name__}]")
