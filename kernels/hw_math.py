"""Integer neuron updates of neuromorphic chips, as scalar functions on Python/NumPy integers.

Compiled for the CPU (``hw_cpu``) and for CUDA (``hw_cuda``) from this one description, so the two
simulators perform the same integer operations and produce the same spikes bit for bit.

Two formats (``fmt``):

``FMT_LOIHI`` — the fixed-point LIF of Intel Loihi as Lava's bit-accurate model
(``PyLifModelBitAcc``) defines it. Per step, with 24-bit signed registers::

    u = sign(u) * ((|u| * (4096 - (du + 1))) >> 12) + (a << 6)     current decay, then input
    u = wrap or saturate u to 24 bits                              (Lava wraps; option)
    v = sign(v) * ((|v| * (4096 - dv)) >> 12) + u + bias            voltage decay, + current, + bias
    v = clip(v, -(2^23 - 1), 2^23 - 1)
    s = v > vth ; then reset: v = 0 (zero) | v -= vth (subtract) | nothing (none: no spikes)

``du``, ``dv`` are 12-bit (0..4095; ``du + 1`` is Loihi's ``ds_offset``), ``a`` is the sum of the
integer weights of the inputs that spiked, ``bias`` and ``vth`` are already scaled
(``bias_mant << bias_exp``, ``vth_mant << 6``).

``FMT_XYLO`` — the integrate-and-fire neuron of SynSense Xylo as ``xylosim`` (v2) defines it, with
16-bit saturating registers and bit-shift decays ``x -> x - max(|x >> dash|, 1) * sign(x)``::

    i = sat(i + a) ; i = decay(i, dash_syn)                   input first, then decay
    dv = sat(sat(-(v - decay(v, dash_mem)) + i) + bias)
    v = sat(v + dv)
    s = v >= vth ; v -= vth (subtract) | v = 0 (zero)        at most one spike per step here

Each step also returns how many registers left their range this step (overflow events), so
configurations that overflow are reported before the hardware-like saturation hides them.

:func:`compile_for` compiles these functions for ``"cpu"`` or ``"cuda"``.
"""

from functools import cache
from types import ModuleType

from ._jit import compile_math

FMT_LOIHI = 0
FMT_XYLO = 1

RESET_ZERO = 0
RESET_SUBTRACT = 1
RESET_NONE = 2

LOIHI_BITS = 24
XYLO_BITS = 16


def saturate(x, lo, hi):
    """``x`` clipped to ``[lo, hi]``."""
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


def outside(x, lo, hi):
    """1 if ``x`` lies outside ``[lo, hi]`` else 0."""
    if x < lo or x > hi:
        return 1
    return 0


def loihi_decay(x, d):
    """``sign(x) * ((|x| * (4096 - d)) >> 12)``: Loihi's multiplicative decay, rounded toward 0."""
    p = x * (4096 - d)
    if p >= 0:
        return p >> 12
    return -((-p) >> 12)


def xylo_decay(x, dash):
    """``x - max(|x >> dash|, 1) * sign(x)`` with an arithmetic shift: Xylo's bit-shift decay."""
    dx = x >> dash
    if dx == 0:
        if x > 0:
            dx = 1
        elif x < 0:
            dx = -1
    return x - dx


def wrap_register(x, half):
    """Lava's 24-bit wrap of the current: values above ``half`` or at/below ``-half`` wrap once."""
    if x > half:
        return x - 2 * half
    if x <= -half:
        return x + 2 * half
    return x


def int_neuron_step(u, v, a, du, dv, bias, vth, reset, fmt, wrap_u, half):
    """One step of one integer neuron; returns ``(u, v, spike, overflow_events)``.

    ``half = 2 ** (bits - 1)``: registers hold ``[-half + 1, half - 1]`` (Loihi) or
    ``[-half, half - 1]`` (Xylo).
    """
    ov = 0
    if fmt == FMT_LOIHI:
        lo = -half + 1
        hi = half - 1
        u = loihi_decay(u, du + 1) + a * 64
        ov += outside(u, lo, hi)
        if wrap_u:
            u = wrap_register(u, half)
        else:
            u = saturate(u, lo, hi)
        v = loihi_decay(v, dv) + u + bias
        ov += outside(v, lo, hi)
        v = saturate(v, lo, hi)
        s = 0
        if reset != RESET_NONE and v > vth:
            s = 1
    else:
        lo = -half
        hi = half - 1
        u = u + a
        ov += outside(u, lo, hi)
        u = xylo_decay(saturate(u, lo, hi), du)
        dvm = -(v - xylo_decay(v, dv)) + u
        ov += outside(dvm, lo, hi)
        dvm = saturate(dvm, lo, hi) + bias
        ov += outside(dvm, lo, hi)
        v = v + saturate(dvm, lo, hi)
        ov += outside(v, lo, hi)
        v = saturate(v, lo, hi)
        s = 0
        if reset != RESET_NONE and v >= vth:
            s = 1
    if s == 1:
        if reset == RESET_ZERO:
            v = 0
        elif reset == RESET_SUBTRACT:
            v = v - vth
    return u, v, s, ov


def presynaptic(x, spikes, t, b, layer, j, n_off):
    """Spike count of presynaptic unit ``j`` of ``layer`` at step ``t``: the input (``x``) for the
    first layer, else the spikes of the previous layer (global index ``n_off[layer - 1] + j``)."""
    if layer == 0:
        return x[t, b, j]
    return spikes[t, b, n_off[layer - 1] + j]


@cache
def compile_for(target: str) -> ModuleType:
    """This module's functions compiled for ``target`` (``"cpu"`` or ``"cuda"``): a namespace with
    ``int_neuron_step``, ``presynaptic`` and the register helpers."""
    return compile_math((saturate, outside, loihi_decay, xylo_decay, wrap_register, int_neuron_step,
                         presynaptic), target)
