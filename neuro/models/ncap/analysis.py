r"""Measuring the swimming gait: travelling-wave lags by cross-correlation, oscillation periods.

For two mean-removed signals :math:`a, b` of length :math:`N` the normalised cross-correlation at lag
:math:`k` is

.. math:: c_{ab}(k) = \frac{1}{(N - |k|)\,\sigma_a \sigma_b} \sum_t a_t\, b_{t+k},

and the lag of :math:`b` behind :math:`a` is :math:`\arg\max_{|k| \le K} c_{ab}(k)`: positive when
:math:`b` repeats what :math:`a` did :math:`k` steps earlier. For a head-to-tail travelling wave
every joint ``i`` lags joint ``i - 1`` by a positive number of steps. ``K`` defaults to half the
oscillation period, so that a lag is not confused with the same phase one period later.

The period of a signal is the lag of the first autocorrelation peak after the first zero crossing that
reaches 80 % of the highest peak there (so that a multiple of the period never wins by a hair).
"""

from __future__ import annotations

import numpy as np


def cross_correlation(a: np.ndarray, b: np.ndarray, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Lags ``-max_lag..max_lag`` and the normalised cross-correlation ``c_ab`` at each."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"a and b must be 1-d of equal length, got {a.shape} and {b.shape}")
    n = a.size
    if not isinstance(max_lag, (int, np.integer)) or not 0 <= max_lag < n - 1:
        raise ValueError(f"max_lag must be an int in [0, {n - 2}], got {max_lag!r}")
    a = a - a.mean()
    b = b - b.mean()
    scale = a.std() * b.std()
    lags = np.arange(-max_lag, max_lag + 1)
    if scale == 0:
        return lags, np.zeros(lags.size)
    values = np.array([np.dot(a[max(0, -k):n - max(0, k)], b[max(0, k):n - max(0, -k)]) / (n - abs(k))
                       for k in lags])
    return lags, values / scale


def lag(a: np.ndarray, b: np.ndarray, max_lag: int) -> int:
    """Steps by which ``b`` lags ``a`` (argmax of the cross-correlation within ``+-max_lag``)."""
    lags, values = cross_correlation(a, b, max_lag)
    return int(lags[np.argmax(values)])


def wave_lags(angles: np.ndarray, max_lag: int = 30) -> np.ndarray:
    """Lag (steps) of joint ``i`` behind joint ``i - 1`` for ``i = 1 .. J-1``; ``angles [T, J]``."""
    angles = np.asarray(angles)
    if angles.ndim != 2 or angles.shape[1] < 2:
        raise ValueError(f"angles must be [T, J] with J >= 2 joints, got {angles.shape}")
    return np.array([lag(angles[:, i - 1], angles[:, i], max_lag) for i in range(1, angles.shape[1])])


def dominant_period(signal: np.ndarray, max_period: int | None = None) -> float:
    """Period (steps) of ``signal`` from its autocorrelation (see the module docstring); NaN if none."""
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 1 or x.size < 4:
        raise ValueError(f"signal must be 1-d with at least 4 samples, got shape {x.shape}")
    max_period = x.size // 2 if max_period is None else int(max_period)
    lags, values = cross_correlation(x, x, max_period)
    ac = values[lags >= 0]
    below = np.nonzero(ac < 0)[0]
    if below.size == 0:
        return float("nan")  # never decorrelates: no oscillation within max_period
    start = below[0]
    tail = ac[start:]
    # the first local maximum that reaches 80 % of the highest one (multiples of the period, which
    # correlate almost as well, must not win by a hair)
    peaks = [k for k in range(1, tail.size - 1) if tail[k - 1] < tail[k] >= tail[k + 1]]
    if not peaks:
        return float("nan")
    best = max(tail[k] for k in peaks)
    return float(start + next(k for k in peaks if tail[k] >= 0.8 * best))


def gait(angles: np.ndarray, max_lag: int = 30) -> dict[str, float | list[int]]:
    """Summary of a recorded gait ``angles [T, J]``: per-joint lags, their mean, the head period,
    and the wavelength in joints (period / mean lag)."""
    lags = wave_lags(angles, max_lag)
    period = dominant_period(angles[:, 0])
    mean_lag = float(lags.mean())
    return {"lags": [int(v) for v in lags], "mean_lag": mean_lag, "head_period": period,
            "wavelength_joints": period / mean_lag if mean_lag > 0 else float("nan")}


__all__ = ["cross_correlation", "dominant_period", "gait", "lag", "wave_lags"]
