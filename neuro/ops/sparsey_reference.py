"""The numpy oracle of Sparsey's CSA kernels: the same frames, vectorised over sequences and cells.

Written independently of the kernels' loops (integer matrix products for the input sums, array
reductions per CM, masks for the back-off and the gate), with the arithmetic contract of
:mod:`neuro.kernels.sparsey_math` (only ``+ - * /``, the same summation orders: ``cumsum`` is a
sequential accumulation), so the CPU kernel must reproduce it bit for bit. Equations and the
semantics of a frame: :mod:`neuro.kernels.sparsey_math`, :mod:`neuro.kernels.sparsey_cpu`.
"""

from __future__ import annotations

import numpy as np

from neuro.kernels import sim_math
from neuro.kernels import sparsey_math as sm

_C = [1.0 / np.prod(np.arange(1, n + 1, dtype=np.float64)) for n in range(13)]


def exp_det(x: np.ndarray) -> np.ndarray:
    """:func:`neuro.kernels.sparsey_math.exp_det` on arrays (same operations, same bits)."""
    x = np.clip(np.asarray(x, np.float64), sm.EXP_MIN, sm.EXP_MAX)
    k = np.floor(x * sm.INV_LN2 + 0.5)
    r = (x - k * sm.LN2_HI) - k * sm.LN2_LO
    p = np.full_like(r, sm.C12)
    for c in (sm.C11, sm.C10, sm.C9, sm.C8, sm.C7, sm.C6, sm.C5, sm.C4, sm.C3, sm.C2, 1.0, 1.0):
        p = p * r + c
    return p * np.ldexp(1.0, k.astype(np.int64))


def ipow(x: np.ndarray, n: int) -> np.ndarray:
    """``x ** n`` by ``n`` sequential multiplications (as the kernels)."""
    r = np.ones_like(x, dtype=np.float64)
    for _ in range(int(n)):
        r = r * x
    return r


def uniform(seed: int, step: int, index: np.ndarray) -> np.ndarray:
    """:func:`neuro.kernels.sim_math.uniform` on a uint64 array of counters (wrapping arithmetic)."""
    def mix(z):
        z = (z ^ (z >> sim_math.S30)) * sim_math.MIX1
        z = (z ^ (z >> sim_math.S27)) * sim_math.MIX2
        return z ^ (z >> sim_math.S31)

    index = np.asarray(index, np.uint64)
    z = mix(np.full(index.shape, seed, np.uint64) + sim_math.GOLDEN)
    z = mix(z ^ (np.full(index.shape, step, np.uint64) * sim_math.STEP_KEY))
    z = mix(z ^ (index * sim_math.GOLDEN))
    return (z >> sim_math.S11).astype(np.float64) * sim_math.TWO_M53


def _ratio(s: np.ndarray, p: np.ndarray) -> np.ndarray:
    safe = np.where(p > 0, p, 1)[:, None]
    return np.minimum(s / safe, 1.0)


def local_v(su, sh, sd, pu, ph, pd, use_h, use_d, lu, lh, ld) -> np.ndarray:
    """``V [B, N]`` from the sums ``[B, N]``, the active-source counts ``[B]`` and per-sequence
    masks of the kinds used (``[B]`` bool)."""
    v = ipow(_ratio(su, pu), lu)
    v = np.where(use_h[:, None], v * ipow(_ratio(sh, ph), lh), v)
    return np.where(use_d[:, None], v * ipow(_ratio(sd, pd), ld), v)


def familiarity(v: np.ndarray, q: int, k: int) -> np.ndarray:
    """``G [B]``: CM maxima summed in increasing CM order, over ``Q``."""
    return np.cumsum(v.reshape(-1, q, k).max(-1), axis=1)[:, -1] / q


def eta_of(g: np.ndarray, g_minus: float, gamma: int, chi: float, k: int) -> np.ndarray:
    x = np.maximum((g - g_minus) / (1.0 - g_minus), 0.0)
    return 1.0 + ipow(x, gamma) * chi * float(k)


def mu_of(v: np.ndarray, eta: np.ndarray, steep: float, phi: float) -> np.ndarray:
    return (eta - 1.0) / (1.0 + exp_det(-(steep * (v - phi)))) + 1.0


def draw(mu: np.ndarray, u01: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse-CDF winners ``[B, Q]`` of ``mu [B, Q, K]`` and the draws' margins: the distance of
    ``u01 * total`` to the nearest cumulative boundary, relative to the total (how far a draw is
    from choosing another cell)."""
    cum = np.cumsum(mu, axis=-1)
    total = cum[..., -1]
    target = u01 * total
    above = target[..., None] < cum
    win = np.where(above.any(-1), above.argmax(-1), mu.shape[-1] - 1)
    margin = np.abs(cum - target[..., None]).min(-1) / total
    return win, margin


def _candidate(c: int, has_h: np.ndarray, has_d: np.ndarray):
    if c == 0:
        return np.ones_like(has_h), has_h, has_d
    if c == 1:
        return has_h & has_d, has_h, np.zeros_like(has_h)
    if c == 2:
        return has_h & has_d, np.zeros_like(has_h), has_d
    return has_h | has_d, np.zeros_like(has_h), np.zeros_like(has_h)


def _block(w: np.ndarray, off: int, rows: int, n: int) -> np.ndarray:
    return w[off:off + rows * n].reshape(rows, n)


def csa_frames_numpy(x, reset, mi, mf, src, w, ones, frozen, prev, code, age, gmem, codes_out, g_out,
                     ev_out, seed: int, step0: int, learn: bool, maxv: bool, backoff: bool,
                     margins=None) -> None:
    """The frames of :func:`neuro.kernels.sparsey_cpu.csa_frames` on numpy arrays, updated in place
    like the kernel's (weights, counts, frozen flags, state, outputs). ``margins [T, B, n_cm]``
    (optional, float64) receives the draw margins of the probabilistic choice (NaN elsewhere)."""
    T, B, n_in = x.shape
    n_cm = code.shape[1]
    b_index = np.arange(B, dtype=np.uint64)
    for t in range(T):
        starts = reset[t] != 0
        prev[starts] = 0
        code[starts] = -1
        age[starts] = 0
        gmem[starts] = 0.0
        act = np.zeros_like(prev)
        act[:, :n_in] = x[t]
        for m in range(mi.shape[0]):
            q, k = int(mi[m, sm.MI_Q]), int(mi[m, sm.MI_K])
            n, cell0, cm0 = q * k, int(mi[m, sm.MI_CELL]), int(mi[m, sm.MI_CM])
            cells = cell0 + np.arange(q) * k
            bundles = []
            for j, (active, wcol) in enumerate(((act, sm.MI_WU), (prev, sm.MI_WH), (prev, sm.MI_WD))):
                p0, p1 = int(mi[m, sm.MI_U0 + 2 * j]), int(mi[m, sm.MI_U1 + 2 * j])
                on = active[:, src[p0:p1]] != 0                                   # [B, R]
                bundles.append((on, _block(w, int(mi[m, wcol]), p1 - p0, n)))
            keep = (age[:, m] > 0) & (code[:, cm0] >= 0)
            pu, ph, pd = (on.sum(1) for on, _ in bundles)
            gate = (pu >= mi[m, sm.MI_MIN]) & (pu <= mi[m, sm.MI_MAX]) & (pu > 0)
            run = gate & ~keep
            off = ~gate & ~keep
            su, sh, sd = (on.astype(np.int64) @ wb.astype(np.int64) for on, wb in bundles)
            has_h, has_d = ph > 0, pd > 0
            lu, lh, ld = (int(mi[m, c]) for c in (sm.MI_LU, sm.MI_LH, sm.MI_LD))
            chosen = np.full(B, -1)
            g = np.zeros(B)
            use_h, use_d = has_h.copy(), has_d.copy()
            last = np.where(has_h | has_d, 3, 0)
            for c in range(4):
                valid, uh, ud = _candidate(c, has_h, has_d)
                pending = valid & (chosen < 0)
                gc = familiarity(local_v(su, sh, sd, pu, ph, pd, uh, ud, lu, lh, ld), q, k)
                if not backoff or c == 3:
                    ok = np.ones(B, bool)
                else:
                    ok = (c == last) | (gc >= mf[m, sm.MF_THR0 + c])
                accept = pending & ok
                chosen[accept], g[accept] = c, gc[accept]
                use_h[accept], use_d[accept] = uh[accept], ud[accept]
            v = local_v(su, sh, sd, pu, ph, pd, use_h, use_d, lu, lh, ld).reshape(B, q, k)
            if maxv:
                win = v.argmax(-1)
            else:
                eta = eta_of(g, mf[m, sm.MF_GMINUS], int(mi[m, sm.MI_GAMMA]), mf[m, sm.MF_CHI], k)
                mu = mu_of(v, eta[:, None, None], mf[m, sm.MF_STEEP], mf[m, sm.MF_PHI])
                idx = b_index[:, None] * np.uint64(n_cm) + np.uint64(cm0) + np.arange(q, dtype=np.uint64)
                win, margin = draw(mu, uniform(seed, step0 + t, idx))
                if margins is not None:
                    margins[t, run, cm0:cm0 + q] = margin[run]
            code[run, cm0:cm0 + q] = win[run]
            code[off, cm0:cm0 + q] = -1
            rows = np.nonzero(run | keep)[0]
            act[rows[:, None], cells[None, :] + code[rows, cm0:cm0 + q]] = 1
            g_out[t, keep, m] = gmem[keep, m]
            ev_out[t, keep, m] = sm.EV_PERSIST
            age[keep, m] -= 1
            g_out[t, run, m], ev_out[t, run, m] = g[run], chosen[run]
            age[run, m], gmem[run, m] = mi[m, sm.MI_PERSIST] - 1, g[run]
            g_out[t, off, m], ev_out[t, off, m], age[off, m], gmem[off, m] = 0.0, sm.EV_OFF, 0, 0.0
            if learn:
                _learn(m, mi, mf, bundles, ones, frozen, code, rows, keep, q, k, cm0)
        prev[:] = act
        codes_out[t] = code


def _learn(m, mi, mf, bundles, ones, frozen, code, rows, keep, q, k, cm0) -> None:
    """Latch the weights from each bundle's active sources to every active code; count the new ones
    and freeze bundles at their threshold (frozen flags as they were before this frame)."""
    was_frozen = frozen[m].copy()
    for j, (on, wb) in enumerate(bundles):
        if was_frozen[j]:
            continue
        before = int(wb.sum(dtype=np.int64))
        for b in rows:
            if j > 0 and keep[b]:
                continue
            r = np.nonzero(on[b])[0]
            wb[r[:, None], (np.arange(q) * k + code[b, cm0:cm0 + q])[None, :]] = 1
        ones[m, j] += int(wb.sum(dtype=np.int64)) - before
    for j, (_, wb) in enumerate(bundles):
        if wb.size > 0 and ones[m, j] >= mf[m, sm.MF_FREEZE] * wb.size:
            frozen[m, j] = 1
