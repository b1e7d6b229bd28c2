"""Sparsey's CSA on the CPU: every frame, every mac of a network, every sequence, in one kernel.

A network is a list of macs in topological order (level 1 first) over one global unit space: the
input units ``[0, n_in)`` then the cells of every mac (``mi[m, MI_CELL] ...``). Mac ``m``'s sources
are global unit indices ``src[MI_U0:MI_U1]`` (bottom-up, this frame), ``src[MI_H0:MI_H1]``
(horizontal, previous frame) and ``src[MI_D0:MI_D1]`` (top-down, previous frame); its binary weights
are row-major blocks ``[R, Q*K]`` (uint8) of the flat array ``w``. Column names of the tables ``mi``
and ``mf`` and the equations are in :mod:`neuro.kernels.sparsey_math`.

Per frame ``t``: sequences with ``reset[t, b]`` start afresh (no previous activity); then macs in
order, and for each mac first the codes of every sequence of ``[lo, hi)`` (weights as they were
before this frame), then — when learning — the Hebbian update from all of them (latching to 1 is
commutative and idempotent, so the batch update is independent of order), then the freezing test.
The same semantics as the CUDA kernels (per level: choose for all macs and sequences, then learn),
so both give the same bits. Learning shares the weights between sequences: call it with the whole
range ``[0, B)``; without learning, ranges of sequences are independent (threads).
"""

import numpy as np
from numba import njit

from . import sparsey_math as sm

_m = sm.compile_for("cpu")


@njit(nogil=True, cache=True)
def _choose(t, b, m, a, prev_b, mi, mf, src, w, code, age, gmem, g_out, ev_out, su, sh, sd,
            useed, ustep, n_cm, maxv, backoff):
    """The CSA of mac ``m`` for sequence ``b`` (unit vector ``a`` of this frame, ``prev_b`` of the
    previous one): writes its winners into ``code[b]`` and ``a``."""
    q = mi[m, sm.MI_Q]
    k = mi[m, sm.MI_K]
    n = q * k
    cell0 = mi[m, sm.MI_CELL]
    cm0 = mi[m, sm.MI_CM]
    if age[b, m] > 0 and code[b, cm0] >= 0:        # persistence: keep the code
        for c in range(q):
            a[cell0 + c * k + code[b, cm0 + c]] = 1
        age[b, m] -= 1
        g_out[t, b, m] = gmem[b, m]
        ev_out[t, b, m] = sm.EV_PERSIST
        return
    u0, u1 = mi[m, sm.MI_U0], mi[m, sm.MI_U1]
    h0, h1 = mi[m, sm.MI_H0], mi[m, sm.MI_H1]
    d0, d1 = mi[m, sm.MI_D0], mi[m, sm.MI_D1]
    pu = _m.count_active(a, src, u0, u1)
    if pu < mi[m, sm.MI_MIN] or pu > mi[m, sm.MI_MAX] or pu == 0:  # activation gate: empty code
        for c in range(q):
            code[b, cm0 + c] = -1
        age[b, m] = 0
        gmem[b, m] = 0.0
        g_out[t, b, m] = 0.0
        ev_out[t, b, m] = sm.EV_OFF
        return
    ph = _m.count_active(prev_b, src, h0, h1)
    pd = _m.count_active(prev_b, src, d0, d1)
    has_h = ph > 0
    has_d = pd > 0
    su[:n] = 0
    _m.add_active_rows(su, a, src, u0, u1, w, mi[m, sm.MI_WU], n)
    if has_h:
        sh[:n] = 0
        _m.add_active_rows(sh, prev_b, src, h0, h1, w, mi[m, sm.MI_WH], n)
    if has_d:
        sd[:n] = 0
        _m.add_active_rows(sd, prev_b, src, d0, d1, w, mi[m, sm.MI_WD], n)
    lu, lh, ld = mi[m, sm.MI_LU], mi[m, sm.MI_LH], mi[m, sm.MI_LD]
    last = 3 if (has_h or has_d) else 0
    chosen = 0
    use_h = has_h
    use_d = has_d
    g = 0.0
    for cand in range(4):
        valid, uh, ud = _m.candidate(cand, has_h, has_d)
        if not valid:
            continue
        g = _m.familiarity(su, sh, sd, 0, q, k, pu, ph, pd, uh, ud, lu, lh, ld)
        if (not backoff) or cand == last or g >= mf[m, sm.MF_THR0 + cand]:
            chosen = cand
            use_h = uh
            use_d = ud
            break
    eta = _m.eta_of(g, mf[m, sm.MF_GMINUS], mi[m, sm.MI_GAMMA], mf[m, sm.MF_CHI], float(k))
    for c in range(q):
        if maxv:
            _, win = _m.cm_max_v(su, sh, sd, c * k, k, pu, ph, pd, use_h, use_d, lu, lh, ld)
        else:
            u01 = _m.uniform(useed, ustep, _m.rng_index(b, n_cm, cm0 + c))
            win = _m.cm_draw(su, sh, sd, c * k, k, pu, ph, pd, use_h, use_d, lu, lh, ld, eta,
                             mf[m, sm.MF_STEEP], mf[m, sm.MF_PHI], u01)
        code[b, cm0 + c] = win
        a[cell0 + c * k + win] = 1
    age[b, m] = mi[m, sm.MI_PERSIST] - 1
    gmem[b, m] = g
    g_out[t, b, m] = g
    ev_out[t, b, m] = chosen


@njit(nogil=True, cache=True)
def _learn(t, m, lo, act, prev, mi, mf, src, w, ones, frozen, code, ev_out):
    """Hebbian single-trial update of mac ``m`` from the codes of sequences ``[lo, lo + len(act))``,
    then the freezing test of its three weight bundles."""
    q = mi[m, sm.MI_Q]
    k = mi[m, sm.MI_K]
    n = q * k
    cm0 = mi[m, sm.MI_CM]
    new_u = 0
    new_h = 0
    new_d = 0
    for j in range(act.shape[0]):
        b = lo + j
        if code[b, cm0] < 0:
            continue
        if frozen[m, 0] == 0:
            u0 = mi[m, sm.MI_U0]
            for r in range(u0, mi[m, sm.MI_U1]):
                if act[j, src[r]] != 0:
                    new_u += _m.learn_row(w, mi[m, sm.MI_WU] + (r - u0) * n, code[b], cm0, q, k)
        if ev_out[t, b, m] == sm.EV_PERSIST:      # a kept code learns only its bottom-up input
            continue
        if frozen[m, 1] == 0:
            h0 = mi[m, sm.MI_H0]
            for r in range(h0, mi[m, sm.MI_H1]):
                if prev[b, src[r]] != 0:
                    new_h += _m.learn_row(w, mi[m, sm.MI_WH] + (r - h0) * n, code[b], cm0, q, k)
        if frozen[m, 2] == 0:
            d0 = mi[m, sm.MI_D0]
            for r in range(d0, mi[m, sm.MI_D1]):
                if prev[b, src[r]] != 0:
                    new_d += _m.learn_row(w, mi[m, sm.MI_WD] + (r - d0) * n, code[b], cm0, q, k)
    ones[m, 0] += new_u
    ones[m, 1] += new_h
    ones[m, 2] += new_d
    for j in range(3):
        size = (mi[m, sm.MI_U1 + 2 * j] - mi[m, sm.MI_U0 + 2 * j]) * n
        if size > 0 and ones[m, j] >= mf[m, sm.MF_FREEZE] * size:
            frozen[m, j] = 1


@njit(nogil=True, cache=True)
def csa_frames(x, reset, mi, mf, src, w, ones, frozen, prev, code, age, gmem, codes_out, g_out,
               ev_out, seed, step0, learn, maxv, backoff, lo, hi):
    """Run frames ``0..T-1`` for the sequences ``[lo, hi)``.

    ``x [T, B, n_in]`` uint8 input units; ``reset [T, B]`` uint8 (1: a sequence starts here);
    ``mi [M, MI_COLS]`` int64, ``mf [M, MF_COLS]`` float64, ``src`` int64, ``w`` uint8 (updated
    when ``learn``), ``ones [M, 3]`` int64 and ``frozen [M, 3]`` uint8 (bundles U, H, D; updated);
    state ``prev [B, n_units]`` uint8, ``code [B, n_cm]`` int32 (-1: mac off), ``age [B, M]``
    int32, ``gmem [B, M]`` float64 (updated); outputs ``codes_out [T, B, n_cm]`` int32,
    ``g_out [T, B, M]`` float64, ``ev_out [T, B, M]`` int8. ``seed`` and ``step0`` (the frame
    counter of frame 0) key the random numbers.
    """
    T = x.shape[0]
    n_in = x.shape[2]
    M = mi.shape[0]
    n_units = prev.shape[1]
    n_cm = code.shape[1]
    nmax = 1
    for m in range(M):
        nmax = max(nmax, mi[m, sm.MI_Q] * mi[m, sm.MI_K])
    su = np.zeros(nmax, np.int64)
    sh = np.zeros(nmax, np.int64)
    sd = np.zeros(nmax, np.int64)
    act = np.zeros((hi - lo, n_units), np.uint8)
    useed = np.uint64(seed)
    for t in range(T):
        ustep = np.uint64(step0 + t)
        for b in range(lo, hi):
            if reset[t, b] != 0:
                prev[b, :] = 0
                code[b, :] = -1
                age[b, :] = 0
                gmem[b, :] = 0.0
            a = act[b - lo]
            a[:n_in] = x[t, b, :]
            a[n_in:] = 0
        for m in range(M):
            for b in range(lo, hi):
                _choose(t, b, m, act[b - lo], prev[b], mi, mf, src, w, code, age, gmem, g_out, ev_out,
                        su, sh, sd, useed, ustep, n_cm, maxv, backoff)
            if learn:
                _learn(t, m, lo, act, prev, mi, mf, src, w, ones, frozen, code, ev_out)
        for b in range(lo, hi):
            prev[b, :] = act[b - lo]
            codes_out[t, b, :] = code[b, :]
