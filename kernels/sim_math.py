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

Poisson inputs use a counter-based random number: ``uniform(seed, step, index)`` hashes the three
integers (SplitMix64 finaliser), so every backend, thread count and launch order draws the same
spikes and no generator state is carried.
"""

import numpy as np

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


def neuron_step(x, i, v, a, held, alpha, gi, beta, gv, c, th, vr, rho, ba,
                reset, ge, has_syn, has_adapt, one, zero):
    """The engine's LIF-family step with an absolute refractory period; returns ``(i, v, a, s)``.

    ``held`` is true while the neuron is refractory: the membrane keeps its value, no spike, and
    the adaptation decays as if no spike occurred. The current ``i`` (CubaLIF) integrates as usual.
    """
    i_n, h, v_n, a_n, s = lif_forward_step(x, i, v, a, zero, alpha, gi, beta, gv, c, th, vr, rho, ba,
                                           reset, ge, has_syn, has_adapt, True, one, zero)
    if held:
        return i_n, v, rho * a if has_adapt else zero, zero
    return i_n, v_n, a_n, s
