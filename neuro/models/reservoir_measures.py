r"""Standard reservoir measures on recorded states (numpy arrays; any reservoir, spiking or not).

* **Memory curve and capacity** (Jaeger 2002). For an i.i.d. input :math:`u_t` and states
  :math:`x_t` (rows of ``states``, one per input step), a linear readout :math:`y_k(t) = w_k^\top x_t
  + b_k` is fitted (ridge) to reconstruct :math:`u_{t-k}`; the memory function is its squared
  correlation on held-out steps,

  .. math:: MC_k = \operatorname{corr}^2\big(u_{t-k},\, y_k(t)\big), \qquad MC = \sum_{k \ge 1} MC_k .

  Jaeger's sum starts at :math:`k = 1` with :math:`x_t` already driven by :math:`u_t`; a linear
  reservoir of :math:`N` units has :math:`MC \le N`, with equality for a delay line that holds
  :math:`u_{t-1} .. u_{t-N}` (:func:`delay_line_states`). A single leaky unit
  :math:`x_t = a x_{t-1} + u_t` has :math:`MC_k = a^{2k} (1 - a^2)` (:func:`leaky_unit_memory`) —
  the fading-memory curve in closed form.
* **Kernel quality and generalisation rank** (Maass, Natschlaeger & Markram 2002; Legenstein &
  Maass 2007). Stack the states reached after ``m`` input streams into an ``m x n`` matrix; its rank
  measures how many inputs the reservoir separates (*kernel quality*, streams all different) or how
  much it is disturbed by irrelevant differences (*generalisation rank*, streams that are noisy
  versions of few templates, or differ only in the distant past). Good reservoirs have a high kernel
  quality and a low generalisation rank. Ranks are numerical: singular values above ``rtol`` times
  the largest (:func:`numerical_rank`).
* **Separation**. :func:`state_distance` (the Euclidean distance between two state trajectories over
  time: Maass's separation curves when the inputs differ by a known distance, a damage-spreading
  test when they differ by one spike), :func:`van_rossum_distance` between spike trains (the input
  distance), and :func:`class_separation` (mean distance between class centres over one plus the
  mean within-class spread, Goodman & Ventura 2006).
* :func:`nrmse` (the regression score of the temporal tasks) and :func:`ridge_fit`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

__all__ = ["MemoryCurve", "class_separation", "delay_line_states", "fading_time", "generalization_rank",
           "kernel_quality", "leaky_unit_memory", "linear_reservoir_states", "memory_capacity",
           "memory_curve", "nrmse", "numerical_rank", "ridge_fit", "state_distance", "van_rossum_distance"]


class MemoryCurve(NamedTuple):
    """``r2[j]``: the squared held-out correlation for delay ``delays[j]``; ``capacity``: their sum."""

    delays: np.ndarray
    r2: np.ndarray
    capacity: float


def _matrix(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or not np.isfinite(x).all():
        raise ValueError(f"{name} must be a finite [steps, features] array, got shape {np.shape(x)}")
    return x


def ridge_fit(x: np.ndarray, y: np.ndarray, alpha: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    r"""Ridge regression with an unpenalised intercept: ``(W [features, outputs], b [outputs])``
    minimising :math:`\|y - x W - b\|^2 + \alpha\, n\, \|W\|^2` on standardised columns (``alpha``
    is relative to the number of rows, so it does not change with the data length)."""
    x, y = _matrix(x, "x"), _matrix(y, "y")
    if len(x) != len(y):
        raise ValueError(f"x and y need the same number of rows, got {len(x)} and {len(y)}")
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    mx, my = x.mean(0), y.mean(0)
    sx = x.std(0)
    sx[sx == 0] = 1.0
    xs = (x - mx) / sx
    gram = xs.T @ xs + alpha * len(x) * np.eye(x.shape[1])
    w = np.linalg.lstsq(gram, xs.T @ (y - my), rcond=None)[0] / sx[:, None]
    return w, my - mx @ w


ALPHAS = np.logspace(-8, 2, 11)


def _ridge_alpha(x: np.ndarray, y: np.ndarray, alphas: np.ndarray) -> float:
    """The ``alpha`` of :func:`ridge_fit` with the best summed squared correlation of the columns of
    ``y`` on the last 20 % of the rows, fitted on the first 80 % (one SVD for all alphas)."""
    cut = int(0.8 * len(x))
    mx, sx = x[:cut].mean(0), x[:cut].std(0)
    sx[sx == 0] = 1.0
    xs, xv = (x[:cut] - mx) / sx, (x[cut:] - mx) / sx
    my = y[:cut].mean(0)
    u_, s, vt = np.linalg.svd(xs, full_matrices=False)
    uty = u_.T @ (y[:cut] - my)
    best, best_alpha = -np.inf, float(alphas[0])
    for alpha in alphas:
        w = vt.T @ ((s / (s * s + alpha * cut))[:, None] * uty)
        pred = xv @ w
        score = sum(_squared_correlation(y[cut:, j], pred[:, j]) for j in range(y.shape[1]))
        if score > best + 1e-12:
            best, best_alpha = score, float(alpha)
    return best_alpha


def memory_curve(u: np.ndarray, states: np.ndarray, delays: Sequence[int], train_fraction: float = 0.7,
                 alpha: float | None = None, washout: int = 0) -> MemoryCurve:
    r"""Jaeger's memory function :math:`MC_k` for each delay ``k`` (see the module docstring).

    ``states[t]`` must be the state after input ``u[t]``. Rows ``t < washout + max(delays)`` are
    dropped; the readouts are fitted on the first ``train_fraction`` of the rest and scored on the
    remainder, so a reservoir cannot earn capacity by overfitting. The ridge ``alpha`` (relative to
    the number of rows, :func:`ridge_fit`) is chosen by default on the last 20 % of the training rows
    from ``1e-8 .. 1e2`` (one value for all delays, the best summed correlation); high-dimensional
    noisy states (spike counts) need it, a delay line gets the smallest.
    """
    u = np.asarray(u, dtype=np.float64).ravel()
    x = _matrix(states, "states")
    if len(x) != len(u):
        raise ValueError(f"states has {len(x)} rows for {len(u)} input steps")
    delays = np.asarray(list(delays), dtype=np.int64)
    if delays.size == 0 or delays.min() < 0:
        raise ValueError("delays must be a non-empty list of integers >= 0")
    start = washout + int(delays.max())
    rows = np.arange(start, len(u))
    n_train = int(train_fraction * len(rows))
    if n_train < 2 or len(rows) - n_train < 2:
        raise ValueError(f"too few steps ({len(u)}) for washout {washout} and delay {delays.max()}")
    train, test = rows[:n_train], rows[n_train:]
    targets = np.stack([u[rows - d] for d in delays], axis=1)  # [rows, delays]
    if alpha is None:
        alpha = _ridge_alpha(x[train], targets[:n_train], ALPHAS)
    w, b = ridge_fit(x[train], targets[:n_train], alpha)
    pred = x[test] @ w + b
    r2 = np.array([_squared_correlation(targets[n_train:, j], pred[:, j]) for j in range(delays.size)])
    return MemoryCurve(delays, r2, float(r2.sum()))


def memory_capacity(u: np.ndarray, states: np.ndarray, max_delay: int, min_delay: int = 1,
                    **kwargs) -> MemoryCurve:
    """:func:`memory_curve` over delays ``min_delay .. max_delay`` (Jaeger: ``min_delay = 1``)."""
    if not 0 <= min_delay <= max_delay:
        raise ValueError(f"need 0 <= min_delay <= max_delay, got {min_delay}, {max_delay}")
    return memory_curve(u, states, range(min_delay, max_delay + 1), **kwargs)


def _squared_correlation(a: np.ndarray, b: np.ndarray) -> float:
    sa, sb = a.std(), b.std()
    if sa == 0 or sb == 0:
        return 0.0
    return float(np.mean((a - a.mean()) * (b - b.mean())) ** 2 / (sa * sb) ** 2)


def fading_time(curve: MemoryCurve, threshold: float = 0.5) -> int:
    """The first delay whose :math:`MC_k` falls below ``threshold`` (the last delay + 1 if none does)."""
    below = np.flatnonzero(curve.r2 < threshold)
    return int(curve.delays[below[0]]) if below.size else int(curve.delays[-1]) + 1


def leaky_unit_memory(a: float, delays: Sequence[int]) -> np.ndarray:
    r""":math:`MC_k = a^{2k}(1 - a^2)` of one linear unit :math:`x_t = a x_{t-1} + u_t` (i.i.d. input)."""
    if not 0 <= abs(a) < 1:
        raise ValueError(f"|a| must be < 1 for a stable unit, got {a}")
    k = np.asarray(list(delays), dtype=np.float64)
    return a ** (2 * k) * (1 - a * a)


def delay_line_states(u: np.ndarray, n: int, shift: int = 1) -> np.ndarray:
    """States of a linear delay line of ``n`` units: ``x[t, i] = u[t - shift - i]`` (0 before the start).

    With ``shift = 1`` (the input reaches the first unit one step later) the memory capacity from
    delay 1 is exactly ``n``; with ``shift = 0`` it is ``n`` from delay 0.
    """
    u = np.asarray(u, dtype=np.float64).ravel()
    if n < 1 or shift < 0:
        raise ValueError(f"need n >= 1 and shift >= 0, got {n}, {shift}")
    x = np.zeros((len(u), n))
    for i in range(n):
        lag = shift + i
        if lag < len(u):
            x[lag:, i] = u[:len(u) - lag]
    return x


def linear_reservoir_states(u: np.ndarray, w: np.ndarray, w_in: np.ndarray,
                            x0: np.ndarray | None = None) -> np.ndarray:
    """States of the linear reservoir ``x_t = W x_{t-1} + w_in u_t`` (``u [T]`` or ``[T, inputs]``)."""
    w = np.asarray(w, dtype=np.float64)
    u = np.asarray(u, dtype=np.float64)
    u = u[:, None] if u.ndim == 1 else u
    w_in = np.asarray(w_in, dtype=np.float64).reshape(w.shape[0], u.shape[1])
    x = np.zeros(w.shape[0]) if x0 is None else np.asarray(x0, dtype=np.float64)
    out = np.empty((len(u), w.shape[0]))
    for t in range(len(u)):
        x = w @ x + w_in @ u[t]
        out[t] = x
    return out


def numerical_rank(m: np.ndarray, rtol: float = 1e-2) -> int:
    """Number of singular values of ``m`` above ``rtol`` times the largest (0 for a zero matrix)."""
    m = _matrix(m, "matrix")
    if not 0 < rtol < 1:
        raise ValueError(f"rtol must be in (0, 1), got {rtol}")
    s = np.linalg.svd(m, compute_uv=False)
    if s.size == 0 or s[0] == 0:
        return 0
    return int((s > rtol * s[0]).sum())


def kernel_quality(states: np.ndarray, rtol: float = 1e-2) -> int:
    """Rank of the ``[m inputs, n]`` states reached after ``m`` *different* input streams."""
    return numerical_rank(states, rtol)


def generalization_rank(states: np.ndarray, rtol: float = 1e-2) -> int:
    """Rank of the ``[m, n]`` states after ``m`` streams that differ only by noise (or in their distant
    past): lower is better (an estimate of the VC dimension, Legenstein & Maass 2007)."""
    return numerical_rank(states, rtol)


def state_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance between two state trajectories ``[T, n]`` at every step: ``[T]``."""
    a, b = _matrix(a, "a"), _matrix(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"trajectories differ in shape: {a.shape} vs {b.shape}")
    return np.sqrt(((a - b) ** 2).sum(1))


def van_rossum_distance(steps_a: np.ndarray, steps_b: np.ndarray, n_steps: int, tau_steps: float) -> float:
    r"""Van Rossum distance of two spike trains on a step grid:
    :math:`D^2 = \frac{1}{\tau} \sum_t (f_t - g_t)^2`, :math:`f_t = \sum_{s \le t} e^{-(t - s)/\tau}`
    (steps as time unit). One lone spike gives :math:`D^2 = \frac{1}{\tau} \sum_{k \ge 0} e^{-2k/\tau}`
    up to the end of the grid, about 1/2 for :math:`\tau \gg 1`."""
    if not tau_steps > 0:
        raise ValueError(f"tau_steps must be > 0, got {tau_steps}")
    t = np.arange(n_steps)

    def trace(s: np.ndarray) -> np.ndarray:
        s = np.asarray(s, dtype=np.int64)
        f = np.zeros(n_steps)
        np.add.at(f, np.clip(s, 0, n_steps - 1), 1.0)
        out, acc, decay = np.empty(n_steps), 0.0, np.exp(-1.0 / tau_steps)
        for k in t:  # first-order filter, exact on the grid
            acc = acc * decay + f[k]
            out[k] = acc
        return out

    d = trace(steps_a) - trace(steps_b)
    return float(np.sqrt((d * d).sum() / tau_steps))


def class_separation(x: np.ndarray, y: np.ndarray) -> float:
    r"""Goodman & Ventura's separation: :math:`C_d / (1 + C_v)` with :math:`C_d` the mean Euclidean
    distance between class centres (over pairs of classes) and :math:`C_v` the mean over classes of
    the mean distance of a class's states to its centre."""
    x = _matrix(x, "x")
    y = np.asarray(y).ravel()
    if len(y) != len(x):
        raise ValueError(f"x has {len(x)} rows for {len(y)} labels")
    classes = np.unique(y)
    if classes.size < 2:
        raise ValueError("class_separation needs at least two classes")
    centres = np.stack([x[y == c].mean(0) for c in classes])
    diff = centres[:, None] - centres[None]
    iu = np.triu_indices(classes.size, 1)
    c_d = float(np.sqrt((diff ** 2).sum(-1))[iu].mean())
    spread = [np.linalg.norm(x[y == c] - centres[k], axis=1).mean() for k, c in enumerate(classes)]
    c_v = float(np.mean(spread))
    return c_d / (1.0 + c_v)


def nrmse(y: np.ndarray, prediction: np.ndarray) -> float:
    """Root mean squared error over the standard deviation of ``y`` (1.0: predicting the mean)."""
    y, p = np.asarray(y, dtype=np.float64).ravel(), np.asarray(prediction, dtype=np.float64).ravel()
    if y.shape != p.shape or y.size < 2:
        raise ValueError(f"y and prediction need the same length >= 2, got {y.shape}, {p.shape}")
    sd = y.std()
    if sd == 0:
        raise ValueError("y is constant: NRMSE is undefined")
    return float(np.sqrt(np.mean((y - p) ** 2)) / sd)
