"""Spike-train statistics used to compare simulations (rates, ISI variability)."""

from __future__ import annotations

import numpy as np


def isi_cv(times: np.ndarray, indices: np.ndarray, min_spikes: int = 3) -> float:
    """Mean coefficient of variation (std / mean) of the inter-spike intervals of each neuron.

    Neurons with fewer than ``min_spikes`` spikes are left out; NaN when none qualifies.
    """
    times, indices = np.asarray(times, np.float64), np.asarray(indices)
    order = np.lexsort((times, indices))
    t, i = times[order], indices[order]
    bounds = np.flatnonzero(np.r_[True, i[1:] != i[:-1], True])  # one block per neuron
    cvs = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        d = np.diff(t[lo:hi])
        if hi - lo >= min_spikes and d.mean() > 0:
            cvs.append(d.std() / d.mean())
    return float(np.mean(cvs)) if cvs else float("nan")


def mean_rate(num_spikes: int, n_neurons: int, duration: float) -> float:
    """Mean firing rate per neuron in Hz."""
    return num_spikes / (n_neurons * duration)
