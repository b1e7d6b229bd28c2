r"""Scalar pieces of the network simulation step, shared by the CPU and CUDA simulation kernels.

A simulated neuron is the engine's LIF-family step (:func:`lif_math.lif_forward_step`) composed
with two things around it: several exponentially decaying synaptic currents ("channels", e.g. an
excitatory and an inhibitory one) feeding its input, and an absolute refractory period.

Channel ``c`` of neuron ``n`` holds ``g_c``; the weights of the spikes that arrive for this step
(summed in a ring buffer by the event-driven propagation) are added before it drives the membrane::

    g~_c    = g_c + arrived_c                 (arrived: sum of weights delivered to this step)
    x       = bias + injected + sum_c kappa_c * g~_c
    g_c    <- alpha_c * g~_c                   (alpha_c = exp(-dt/tau_c); 0 for a delta channel)

and ``x`` is the input of the engine step (``h = beta v + gv x + c``, spike, reset). With exact
integration ``kappa_c`` makes the membrane follow the exact solution of
``tau_m dv/dt = (v_leak - v) + r * sum_c g_c`` over the step (Brian2's ``method='exact'``). While a
neuron is refractory its membrane is held, it cannot spike and its adaptation only decays; the
channels keep evolving (Brian2's ``(unless refractory)``).

Conductance channels (reversal potential ``E_c``) drive the membrane with ``g_c (E_c - v)``, ``v``
the membrane at the start of the step (:func:`channel_drive`, with ``cond_c = 1`` and
``kappa_c = 0``; a current channel has ``cond_c = 0``)::

    x = bias + injected + sum_c g~_c (kappa_c + cond_c (E_c - v))

so over one step the conductance current is held at its start-of-step value (first order in
``dt``; the membrane then integrates it like any current). Networks without conductance channels
never call it (their kernels are unchanged). Alpha-shaped conductances carry an auxiliary state
``h`` per channel (:func:`shaped_drive`).

Poisson inputs use a counter-based random number: ``uniform(seed, step, index)`` hashes the three
integers (SplitMix64 finaliser), so every backend, thread count and launch order draws the same
spikes and no generator state is carried.
"""

from functools import cache
from types import ModuleType

import numpy as np

from . import lif_math
from .lif_math import lif_forward_step

# SplitMix64 constants as uint64 scalars (plain Python ints would make Numba promote to float64)
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)
STEP_KEY = np.uint64(0xD1B54A32D192ED03)
S30 = np.uint64(30)
S27 = np.uint64(27)
S31 = np.uint64(31)
S11 = np.uint64(11)
TWO_M53 = np.float64(1.0 / 9007199254740992.0)


def mix64(z):
    """SplitMix64 finaliser: a bijective avalanche of a 64-bit word."""
    z = (z ^ (z >> S30)) * MIX1
    z = (z ^ (z >> S27)) * MIX2
    return z ^ (z >> S31)


def uniform(seed, step, index):
    """A uniform float64 in ``[0, 1)`` determined by three uint64 counters."""
    z = mix64(seed + GOLDEN)
    z = mix64(z ^ (step * STEP_KEY))
    z = mix64(z ^ (index * GOLDEN))
    return np.float64(z >> S11) * TWO_M53


def channel_input(g, arrived, kappa, alpha):
    """One synaptic channel: returns ``(kappa * g~, alpha * g~)`` with ``g~ = g + arrived``."""
    g_t = g + arrived
    return kappa * g_t, alpha * g_t


def channel_drive(g, arrived, kappa, alpha, cond, erev, v):
    """A current or conductance channel: returns ``(g~ (kappa + cond (erev - v)), alpha g~)`` with
    ``g~ = g + arrived`` (``cond`` 0: a current channel, exactly :func:`channel_input`'s value)."""
    g_t = g + arrived
    return g_t * (kappa + cond * (erev - v)), alpha * g_t


def shaped_drive(g, h, arrived, kappa, alpha, cond, erev, v, unit, jump, rise):
    """A channel of either shape, with its auxiliary state ``h``: returns ``(x_c, g_next, h_next)``.

    ``g~ = g + unit arrived``, ``h~ = h + jump arrived``, ``x_c = g~ (kappa + cond (erev - v))``,
    ``g_next = alpha (g~ + rise h~)``, ``h_next = alpha h~``. An exponential channel has ``unit = 1,
    jump = rise = 0`` (exactly :func:`channel_drive`); an alpha channel ``unit = 0, jump = e / tau,
    rise = dt``: the exact propagator of ``tau dg/dt = -g + tau h, tau dh/dt = -h``, so that one
    spike of weight ``w`` gives ``g(t) = w (t / tau) e^{1 - t / tau}`` at the step times (peak ``w``
    at ``t = tau``, NEST's ``aeif_cond_alpha`` normalisation)."""
    g_t = g + unit * arrived
    h_t = h + jump * arrived
    return g_t * (kappa + cond * (erev - v)), alpha * (g_t + rise * h_t), alpha * h_t


def neuron_step(x, i, v, a, held, k, st, one, zero):
    """The engine's LIF-family step (coefficients ``k``, structure ``st``, spiking) with an absolute
    refractory period; returns ``(i, v, a, s)``.

    ``held`` is true while the neuron is refractory: the membrane keeps its value, no spike, and
    the adaptation decays as if no spike occurred. The current ``i`` (CubaLIF) integrates as usual.
    """
    i_n, h, v_n, a_n, s = lif_forward_step(x, i, v, a, zero, k, st, one, zero)
    if held:
        return i_n, v, k.rho * a if st.has_adapt else zero, zero
    return i_n, v_n, a_n, s


def advance_neuron(n, x, k, ref_steps, st, i_st, v_st, a_st, refc, one, zero):
    """:func:`neuron_step` of neuron ``n`` on input ``x``, in place on the state arrays, with its
    refractory counter (held while ``refc[n] > 0``, set to ``ref_steps`` by a spike); returns
    whether it spiked."""
    r = refc[n]
    held = r > 0
    i_n, v_n, a_n, s = neuron_step(x, i_st[n], v_st[n], a_st[n], held, k, st, one, zero)
    v_st[n] = v_n
    if st.has_syn:
        i_st[n] = i_n
    if st.has_adapt:
        a_st[n] = a_n
    spk = s != zero
    refc[n] = r - 1 if held else (ref_steps if spk else 0)
    return spk


def monitored_value(var, n, v_st, i_st, a_st, g_st):
    """State variable ``var`` of neuron ``n`` for a state monitor: 0 ``v``, 1 ``i``, 2 ``a``,
    ``3 + c`` row ``c`` of ``g_st``: the current of channel ``c < C``, then the states of spec
    neurons (row ``C + k``: state ``k`` of the neuron's model)."""
    if var == 0:
        return v_st[n]
    if var == 1:
        return i_st[n]
    if var == 2:
        return a_st[n]
    return g_st[var - 3, n]


STEP_FUNCTIONS = (mix64, uniform, channel_input, channel_drive, shaped_drive, neuron_step,
                  advance_neuron, monitored_value)


@cache
def compile_for(target: str) -> ModuleType:
    """This module's functions compiled for ``target`` (``"cpu"`` or ``"cuda"``) against
    ``lif_math.compile_for(target)``; one namespace holding both."""
    from ._jit import compile_math

    return compile_math(STEP_FUNCTIONS, target, lif_math.compile_for(target))
