r"""Scalar and row functions of Sparsey's Code Selection Algorithm (CSA), for the CPU and CUDA kernels.

One mac (macrocolumn) is ``Q`` competitive modules (CMs) of ``K`` binary cells; a code is one winner
per CM. For one mac and one frame, with ``u_i, h_i, d_i`` the numbers of active bottom-up (this
frame), horizontal and top-down (previous frame) sources connected to cell ``i`` by a weight 1 and
``pi_U, pi_H, pi_D`` the numbers of active sources of each kind::

    U_i = min(1, u_i / pi_U)        (likewise H_i, D_i; a kind with pi = 0 is absent)
    V_i = U_i^lu * H_i^lh * D_i^ld  (product over the kinds present; integer exponents)
    G   = (1/Q) sum_q max_{i in q} V_i                               familiarity of the mac
    eta = 1 + max(0, (G - G-) / (1 - G-))^gamma * chi * K            expansivity
    mu_i  = (eta - 1) / (1 + exp(-s (V_i - phi))) + 1                relative win weight, >= 1
    rho_i = mu_i / sum_{k in q} mu_k                                 win probability in its CM

The winner of a CM is drawn from ``rho`` by inverse CDF with a counter-based uniform number
(``sim_math.uniform(seed, frame, index)``, SplitMix64), or is ``argmax V`` (first index on ties).

**Arithmetic contract.** Everything is computed from ``+ - * /``, comparisons and integer
arithmetic only: the exponents are integers (:func:`ipow` multiplies), and the sigmoid's exponential
is :func:`exp_det`, a Cody-Waite range reduction with a degree-12 Taylor polynomial and an exact
power of two (within ~2 ulp of ``exp``). No libm call enters a result, so the numpy reference, the
Numba CPU kernel and the CUDA kernel (compiled without FMA contraction, ``_cuda_device``) produce the
same bits — the probabilistic choice included. Sums are accumulated in the same order everywhere:
integer input sums (exact in any order), ``G`` over CMs in increasing ``q``, ``mu`` over cells in
increasing ``k``.

:func:`compile_for` compiles these functions for ``"cpu"`` or ``"cuda"``.
"""

import math
from functools import cache

import numpy as np

from . import sim_math
from ._jit import compile_math

# Columns of the per-mac integer table ``mi`` [M, MI_COLS]
MI_Q = 0          # CMs per mac
MI_K = 1          # cells per CM
MI_CELL = 2       # global unit index of the mac's first cell
MI_CM = 3         # global index of the mac's first CM
MI_U0 = 4         # bottom-up sources: src[MI_U0 .. MI_U1)
MI_U1 = 5
MI_H0 = 6         # horizontal sources (previous frame)
MI_H1 = 7
MI_D0 = 8         # top-down sources (previous frame)
MI_D1 = 9
MI_WU = 10        # offsets of the weight blocks [R, Q*K] in the flat weight array
MI_WH = 11
MI_WD = 12
MI_MIN = 13       # activation gate: the mac is on when MI_MIN <= pi_U <= MI_MAX
MI_MAX = 14
MI_PERSIST = 15   # frames a chosen code stays active
MI_LU = 16        # integer exponents of U, H, D in V
MI_LH = 17
MI_LD = 18
MI_GAMMA = 19     # integer exponent of the expansivity
MI_LEVEL = 20
MI_COLS = 21

# Columns of the per-mac float table ``mf`` [M, MF_COLS]
MF_GMINUS = 0     # G-: familiarity below which the choice is uniform
MF_CHI = 1        # expansivity gain
MF_STEEP = 2      # slope s of the V -> mu sigmoid
MF_PHI = 3        # inflection phi of the V -> mu sigmoid
MF_THR0 = 4       # back-off thresholds of candidates 0, 1, 2 (candidate 3, U alone, always accepts)
MF_THR1 = 5
MF_THR2 = 6
MF_FREEZE = 7     # a weight bundle freezes when its fraction of ones reaches this (> 1: never)
MF_COLS = 8

# Evidence codes written per mac and frame: the candidate used (0 all kinds present, 1 without D,
# 2 without H, 3 U alone), or:
EV_OFF = -1       # mac off (activation gate) -> empty code
EV_PERSIST = 4    # previous code kept (persistence)

# exp_det: Cody-Waite split of ln 2 (fdlibm's constants) and Taylor coefficients 1/n!
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
INV_LN2 = 1.44269504088896338700e+00
EXP_MAX = 709.0
EXP_MIN = -708.0
C2 = 1.0 / math.factorial(2)
C3 = 1.0 / math.factorial(3)
C4 = 1.0 / math.factorial(4)
C5 = 1.0 / math.factorial(5)
C6 = 1.0 / math.factorial(6)
C7 = 1.0 / math.factorial(7)
C8 = 1.0 / math.factorial(8)
C9 = 1.0 / math.factorial(9)
C10 = 1.0 / math.factorial(10)
C11 = 1.0 / math.factorial(11)
C12 = 1.0 / math.factorial(12)


def two_pow(n):
    """``2.0 ** n`` for an integer ``n`` in ``[-1022, 1023]`` by exact repeated squaring."""
    r = 1.0
    base = 2.0
    if n < 0:
        base = 0.5
        n = -n
    while n > 0:
        if n & 1:
            r = r * base
        base = base * base
        n = n >> 1
    return r


def exp_det(x):
    """``exp(x)`` from ``+ - * /`` only (bit-identical on every target), ~2 ulp of libm's ``exp``.

    ``x = k ln2 + r`` with ``k = floor(x / ln2 + 1/2)``, ``|r| <= ln2 / 2``; ``e^r`` by Horner on the
    Taylor series to degree 12 (truncation < 2e-16 relative); times ``2^k``. Clamped to
    ``[-708, 709]`` (no overflow to inf, no subnormal results).
    """
    if x > EXP_MAX:
        x = EXP_MAX
    if x < EXP_MIN:
        x = EXP_MIN
    k = int(math.floor(x * INV_LN2 + 0.5))      # (numba.cuda's floor returns a float)
    fk = float(k)
    r = (x - fk * LN2_HI) - fk * LN2_LO
    p = C12
    p = p * r + C11
    p = p * r + C10
    p = p * r + C9
    p = p * r + C8
    p = p * r + C7
    p = p * r + C6
    p = p * r + C5
    p = p * r + C4
    p = p * r + C3
    p = p * r + C2
    p = p * r + 1.0
    p = p * r + 1.0
    return p * two_pow(k)


def ipow(x, n):
    """``x ** n`` for an integer ``n >= 0`` by ``n`` sequential multiplications."""
    r = 1.0
    for _ in range(n):
        r = r * x
    return r


def ratio(s, p):
    """``min(1, s / p)``: a normalised input sum (``p > 0``)."""
    v = s / p
    if v > 1.0:
        v = 1.0
    return v


def cell_v(su, sh, sd, pu, ph, pd, use_h, use_d, lu, lh, ld):
    """Local evidence ``V = U^lu [* H^lh] [* D^ld]`` of one cell from its raw sums."""
    v = ipow(ratio(su, pu), lu)
    if use_h:
        v = v * ipow(ratio(sh, ph), lh)
    if use_d:
        v = v * ipow(ratio(sd, pd), ld)
    return v


def mu_of(v, eta, steep, phi):
    """Relative win weight ``(eta - 1) / (1 + exp(-s (V - phi))) + 1`` (monotone in V, >= 1)."""
    return (eta - 1.0) / (1.0 + exp_det(-(steep * (v - phi)))) + 1.0


def eta_of(g, g_minus, gamma, chi, k):
    """Expansivity ``1 + max(0, (G - G-) / (1 - G-))^gamma * chi * K`` (``k`` a float)."""
    x = (g - g_minus) / (1.0 - g_minus)
    if x < 0.0:
        x = 0.0
    return 1.0 + ipow(x, gamma) * chi * k


def candidate(c, has_h, has_d):
    """Back-off candidate ``c``: ``(valid, use_h, use_d)``. 0: every kind present, 1: without D,
    2: without H (1 and 2 only when both are present), 3: U alone (when H or D is present)."""
    if c == 0:
        return True, has_h, has_d
    if c == 1:
        return has_h and has_d, has_h, False
    if c == 2:
        return has_h and has_d, False, has_d
    return has_h or has_d, False, False


def cm_max_v(su, sh, sd, base, k, pu, ph, pd, use_h, use_d, lu, lh, ld):
    """``(max V, argmax V)`` over the ``k`` cells of one CM whose sums start at ``base`` (the first
    maximum on ties)."""
    vmax = -1.0
    best = 0
    for j in range(k):
        v = cell_v(su[base + j], sh[base + j], sd[base + j], pu, ph, pd, use_h, use_d, lu, lh, ld)
        if v > vmax:
            vmax = v
            best = j
    return vmax, best


def cm_draw(su, sh, sd, base, k, pu, ph, pd, use_h, use_d, lu, lh, ld, eta, steep, phi, u01):
    """Winner of one CM drawn from ``rho = mu / sum(mu)`` with the uniform number ``u01``: the first
    cell whose running sum of ``mu`` exceeds ``u01 * sum(mu)`` (the last cell if rounding leaves
    none).

    With ``eta = 1`` every ``mu`` is exactly 1, the sum is ``k`` and the running sums are ``j + 1``, so
    the winner is ``floor(u01 * k)``: returned directly (the same bits, no exponentials).
    """
    if eta == 1.0:
        j = int(u01 * k)
        return j if j < k else k - 1
    total = 0.0
    for j in range(k):
        v = cell_v(su[base + j], sh[base + j], sd[base + j], pu, ph, pd, use_h, use_d, lu, lh, ld)
        total = total + mu_of(v, eta, steep, phi)
    target = u01 * total
    acc = 0.0
    for j in range(k):
        v = cell_v(su[base + j], sh[base + j], sd[base + j], pu, ph, pd, use_h, use_d, lu, lh, ld)
        acc = acc + mu_of(v, eta, steep, phi)
        if target < acc:
            return j
    return k - 1


def familiarity(su, sh, sd, base, q, k, pu, ph, pd, use_h, use_d, lu, lh, ld):
    """``G = (1/Q) sum_q max V`` of one mac (CMs summed in increasing order)."""
    acc = 0.0
    for c in range(q):
        vmax, _ = cm_max_v(su, sh, sd, base + c * k, k, pu, ph, pd, use_h, use_d, lu, lh, ld)
        acc = acc + vmax
    return acc / q


def count_active(act, src, p0, p1):
    """How many of the sources ``src[p0:p1]`` are active in the unit vector ``act``."""
    n = 0
    for r in range(p0, p1):
        if act[src[r]] != 0:
            n += 1
    return n


def add_active_rows(acc, act, src, p0, p1, w, w_off, n):
    """``acc[0:n] += w[row r]`` for every active source ``r`` (rows of ``n`` weights from ``w_off``)."""
    for r in range(p0, p1):
        if act[src[r]] != 0:
            row = w_off + (r - p0) * n
            for i in range(n):
                acc[i] += w[row + i]


def cell_sum(act, src, p0, p1, w, w_off, n, i):
    """Input sum of cell ``i``: the weights to it from every active source of ``src[p0:p1]``."""
    s = 0
    for r in range(p0, p1):
        if act[src[r]] != 0:
            s += w[w_off + (r - p0) * n + i]
    return s


def learn_row(w, row, code, cm0, q, k):
    """Latch to 1 the weights of one active source row to the ``q`` winners ``code[cm0:cm0+q]``;
    returns how many weights changed from 0 to 1."""
    new = 0
    for c in range(q):
        idx = row + c * k + code[cm0 + c]
        if w[idx] == 0:
            w[idx] = 1
            new += 1
    return new


def rng_index(b, n_cm, cm):
    """Counter of the uniform number of CM ``cm`` of sequence ``b`` (``n_cm`` CMs per sequence)."""
    return np.uint64(b) * np.uint64(n_cm) + np.uint64(cm)


@cache
def compile_for(target: str):
    """This module's functions compiled for ``target`` (``"cpu"`` or ``"cuda"``), with
    ``sim_math.uniform`` (the counter-based random number)."""
    return compile_math((sim_math.mix64, sim_math.uniform, two_pow, exp_det, ipow, ratio, cell_v,
                         mu_of, eta_of, candidate, cm_max_v, cm_draw, familiarity, count_active,
                         add_active_rows, cell_sum, learn_row, rng_index), target,
                        name=f"neuro.kernels.sparsey_math[{target}]")
