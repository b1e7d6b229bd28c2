"""NEST's ``izhikevich`` and neuro's Izhikevich on the same cases (shared by the tests and
``benchmarks/izhikevich_nest.py``).

A case is a preset's ``(a, b, c, d)``, NEST's resolution, an initial ``(V_m, U_m)`` and a schedule
of constant input currents ``I_e`` (pA) held for given durations: NEST adds ``I_e`` inside the
update of every step (no delay), so neuro's input is ``I_e`` of that step. NEST's multimeter (interval
= resolution) samples ``V_m``, ``U_m`` after step ``k`` at time ``(k + 1) res`` (the samples of the
last 1 ms slice come with a later ``Simulate``, so a run's final ones are missing), and a spike of
step ``t`` is stamped ``(t + 1) res``.
"""

from __future__ import annotations

import numpy as np

from neuro.kernels.izhikevich_math import PRESETS

#: the four presets of the issue at 1.0 and 0.1 ms, the others at 0.1 ms; input off, on, weaker
SCHEDULE = ((20.0, 0.0), (150.0, 10.0), (80.0, 4.0), (50.0, 15.0))
CASES = tuple(
    {"name": f"{preset}@{res}", "preset": preset, "resolution": res, "v0": -70.0, "u0": -14.0,
     "schedule": SCHEDULE}
    for preset in PRESETS
    for res in ((1.0, 0.1) if preset in ("regular_spiking", "intrinsically_bursting", "chattering",
                                         "fast_spiking") else (0.1,)))


def input_current(case: dict) -> np.ndarray:
    """The per-step input ``[T]`` of a case (its ``I_e`` schedule at its resolution)."""
    res = case["resolution"]
    return np.concatenate([np.full(int(round(dur / res)), amp) for dur, amp in case["schedule"]])


def nest_run(case: dict) -> dict:
    """Run a case in NEST (call through ``neuro.astro.nest_reference.run_isolated``)."""
    from neuro.astro.nest_reference import start_nest

    nest = start_nest(case["resolution"], 1)
    a, b, c, d = PRESETS[case["preset"]]
    neuron = nest.Create("izhikevich", params={"a": a, "b": b, "c": c, "d": d, "V_m": case["v0"],
                                               "U_m": case["u0"], "I_e": 0.0})
    spikes = nest.Create("spike_recorder")
    meter = nest.Create("multimeter", params={"record_from": ["V_m", "U_m"], "interval": case["resolution"]})
    nest.Connect(neuron, spikes)
    nest.Connect(meter, neuron)
    for duration, amp in case["schedule"]:
        neuron.set({"I_e": float(amp)})
        nest.Simulate(float(duration))
    ev = meter.get("events")
    order = np.argsort(ev["times"], kind="stable")
    return {"spike_times_ms": np.asarray(spikes.get("events")["times"], np.float64),
            "time_ms": np.asarray(ev["times"], np.float64)[order],
            "V_m": np.asarray(ev["V_m"], np.float64)[order], "U_m": np.asarray(ev["U_m"], np.float64)[order]}


def nest_run_many(cases) -> list:
    """:func:`nest_run` of several cases in one process."""
    return [nest_run(case) for case in cases]


def neuro_run(case: dict, backend: str = "numba") -> dict:
    """The same case with :class:`neuro.nn.Izhikevich` in float64."""
    import torch

    from neuro.functional.izhikevich import IzhikevichState
    from neuro.nn import Izhikevich

    res = case["resolution"]
    x = torch.as_tensor(input_current(case), dtype=torch.float64).reshape(-1, 1, 1)
    layer = Izhikevich(preset=case["preset"], dt=res * 1e-3, backend=backend, record_states=True)
    state = IzhikevichState(torch.full((1, 1), case["v0"], dtype=torch.float64),
                            torch.full((1, 1), case["u0"], dtype=torch.float64))
    spikes, trace = layer(x, state)
    steps = np.nonzero(spikes[:, 0, 0].numpy())[0]
    return {"spike_steps": steps, "spike_times_ms": (steps + 1) * res,
            "V_m": trace.v[:, 0, 0].numpy(), "U_m": trace.u[:, 0, 0].numpy()}
