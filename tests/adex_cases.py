"""NEST's ``aeif_psc_delta`` and neuro's AdEx on the same cases (shared by ``tests/test_adex.py`` and
``benchmarks/adex_nest.py``).

A case is an AdEx parameter set (NEST's names and units: pF, nS, mV, ms, pA) and a constant input
current ``I`` (NEST's ``I_e``) held for ``duration`` ms from rest (``V_m = E_L``, ``w = 0``). NEST
integrates the model with adaptive RKF45 (GSL, error tolerance 1e-6) inside each step of its
resolution; neuro's AdEx steps with forward Euler at ``dt`` (``neuro.kernels.adex_math``), so the
two agree as ``dt -> 0``, not bit for bit. A spike of step ``k`` is stamped ``(k + 1) dt`` in both.
"""

from __future__ import annotations

import numpy as np

_BASE = {"V_peak": 0.0}
#: NEST's defaults (Brette & Gerstner 2005) and four firing patterns with the parameters of
#: Naud, Marcille, Clopath & Gerstner (2008), Table 1 (tonic, adapting, initial burst, bursting)
CASES = (
    {"name": "brette_gerstner", "I": 800.0, "duration": 300.0,
     "params": {**_BASE, "C_m": 281.0, "g_L": 30.0, "E_L": -70.6, "V_th": -50.4, "Delta_T": 2.0,
                "tau_w": 144.0, "a": 4.0, "b": 80.5, "V_reset": -60.0}},
    {"name": "tonic", "I": 500.0, "duration": 300.0,
     "params": {**_BASE, "C_m": 200.0, "g_L": 10.0, "E_L": -70.0, "V_th": -50.0, "Delta_T": 2.0,
                "tau_w": 30.0, "a": 2.0, "b": 0.0, "V_reset": -58.0}},
    {"name": "adapting", "I": 500.0, "duration": 300.0,
     "params": {**_BASE, "C_m": 200.0, "g_L": 12.0, "E_L": -70.0, "V_th": -50.0, "Delta_T": 2.0,
                "tau_w": 300.0, "a": 2.0, "b": 60.0, "V_reset": -58.0}},
    {"name": "initial_burst", "I": 400.0, "duration": 300.0,
     "params": {**_BASE, "C_m": 130.0, "g_L": 18.0, "E_L": -58.0, "V_th": -50.0, "Delta_T": 2.0,
                "tau_w": 150.0, "a": 4.0, "b": 120.0, "V_reset": -50.0}},
    {"name": "bursting", "I": 210.0, "duration": 300.0,
     "params": {**_BASE, "C_m": 200.0, "g_L": 10.0, "E_L": -58.0, "V_th": -50.0, "Delta_T": 2.0,
                "tau_w": 120.0, "a": 2.0, "b": 100.0, "V_reset": -46.0}},
)


def nest_run(case: dict, resolution: float) -> np.ndarray:
    """NEST's spike times (ms) of a case (call through ``neuro.astro.nest_reference.run_isolated``)."""
    from neuro.astro.nest_reference import start_nest

    nest = start_nest(resolution, 1)
    p = case["params"]
    neuron = nest.Create("aeif_psc_delta", params={**p, "t_ref": 0.0, "I_e": case["I"], "V_m": p["E_L"],
                                                   "w": 0.0})
    spikes = nest.Create("spike_recorder")
    nest.Connect(neuron, spikes)
    nest.Simulate(case["duration"])
    return np.asarray(spikes.get("events")["times"], np.float64)


def nest_run_many(cases, resolution: float) -> list:
    """:func:`nest_run` of several cases in one process."""
    return [nest_run(case, resolution) for case in cases]


def neuro_run(case: dict, dt_ms: float, backend: str = "numba") -> np.ndarray:
    """neuro's AdEx spike times (ms) of a case, float64, Euler at ``dt_ms``."""
    import torch

    from neuro.nn import AdEx

    steps = int(round(case["duration"] / dt_ms))
    layer = AdEx(dt=dt_ms * 1e-3, backend=backend, **case["params"]).double()
    with torch.no_grad():
        spikes, _ = layer(torch.full((steps, 1, 1), case["I"], dtype=torch.float64))
    return (np.nonzero(spikes[:, 0, 0].numpy())[0] + 1) * dt_ms


def compare(ours: np.ndarray, ref: np.ndarray) -> dict:
    """Spike counts and the largest spike-time difference over the common spikes (ms)."""
    n = min(len(ours), len(ref))
    return {"nest_spikes": int(len(ref)), "neuro_spikes": int(len(ours)),
            "max_abs_dt_ms": float(np.abs(ours[:n] - ref[:n]).max()) if n else 0.0}
