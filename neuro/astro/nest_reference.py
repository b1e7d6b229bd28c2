"""Run NEST's astrocyte examples (needs the optional ``nest-simulator`` package, ``neuro[nest]``).

The setups follow NEST 3.10's ``astrocyte_single`` and ``astrocyte_interaction`` examples with a
Poisson source fed through a ``parrot_neuron`` whose spikes are recorded, so neuro can be driven by
exactly the same spike train (:mod:`neuro.astro.examples`). Each function returns a dict of numpy
arrays named like the stored reference traces in ``shared/data/nest_astrocyte`` (plus
``simulate_s``, the wall time of NEST's ``Simulate`` call).

NEST runs in a freshly spawned process (:func:`run_isolated`): NEST's bundled OpenMP runtime and
Numba's ``omp`` threading layer crash (segfault in ``nest.ResetKernel``) once both have run in one
process.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np


def run_isolated(fn: Callable, *args, **kwargs):
    """``fn(*args, **kwargs)`` in a new spawned Python process (``fn`` must be importable)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args, **kwargs).result()


def start_nest(resolution: float, seed: int):
    """Import NEST, reset its kernel (one thread, given resolution and seed) and return it."""
    try:
        import nest
    except ImportError as err:  # pragma: no cover - exercised only without NEST
        raise ImportError("running NEST needs the nest-simulator package: pip install 'neuro[nest]'"
                          ) from err
    if hasattr(nest, "VerbosityLevel"):
        nest.verbosity = nest.VerbosityLevel.ERROR
    else:  # pragma: no cover - NEST < 3.9
        nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": resolution, "local_num_threads": 1, "rng_seed": seed})
    return nest


def _parrot_input(nest, rate_hz: float):
    poisson = nest.Create("poisson_generator", params={"rate": rate_hz})
    parrot = nest.Create("parrot_neuron")
    nest.Connect(poisson, parrot, syn_spec={"delay": 1.0})
    rec = nest.Create("spike_recorder")
    nest.Connect(parrot, rec)
    return parrot, rec


def nest_single_astrocyte(delta_IP3: Sequence[float] = (0.0002, 0.2), duration_ms: float = 10_000.0,
                          rate_hz: float = 1.0, seed: int = 1234, resolution: float = 0.1,
                          record_interval: float = 1.0) -> dict:
    """Parrot-relayed Poisson spikes (weight 1, delay 1 ms) into one astrocyte per ``delta_IP3``."""
    return run_isolated(_single, tuple(delta_IP3), duration_ms, rate_hz, seed, resolution,
                        record_interval)


def nest_astrocyte_interaction(duration_ms: float = 10_000.0, rate_hz: float = 1500.0,
                               seed: int = 1234, resolution: float = 0.1,
                               record_interval: float = 1.0) -> dict:
    """NEST's ``astrocyte_interaction``: parrot-relayed Poisson input -> pre (1 nS), pre -> post,
    pre -> astrocyte, astrocyte -> post (``sic_connection``), all weights 1 and delays 1 ms."""
    return run_isolated(_interaction, duration_ms, rate_hz, seed, resolution, record_interval)


def _single(delta_IP3, duration_ms, rate_hz, seed, resolution, record_interval) -> dict:
    nest = start_nest(resolution, seed)
    parrot, spikes = _parrot_input(nest, rate_hz)
    out = {}
    meters = []
    for d in delta_IP3:
        astro = nest.Create("astrocyte_lr_1994", params={"delta_IP3": float(d)})
        nest.Connect(parrot, astro, syn_spec={"weight": 1.0, "delay": 1.0})
        mm = nest.Create("multimeter", params={"interval": record_interval,
                                                "record_from": ["IP3", "Ca_astro", "h_IP3R"]})
        nest.Connect(mm, astro)
        meters.append(mm)
    t0 = time.perf_counter()
    nest.Simulate(duration_ms)
    out["simulate_s"] = time.perf_counter() - t0
    for i, mm in enumerate(meters):
        ev = mm.get("events")
        order = np.argsort(ev["times"], kind="stable")
        for name in ("IP3", "Ca_astro", "h_IP3R"):
            out[f"{name}_{i}"] = np.asarray(ev[name])[order]
        out["time_ms"] = np.asarray(ev["times"])[order]
    out["input_spike_times_ms"] = np.sort(np.asarray(spikes.get("events")["times"], np.float64))
    out["input_arrival_times_ms"] = out["input_spike_times_ms"] + 1.0
    return out


def _interaction(duration_ms, rate_hz, seed, resolution, record_interval) -> dict:
    nest = start_nest(resolution, seed)
    parrot, in_spikes = _parrot_input(nest, rate_hz)
    pre = nest.Create("aeif_cond_alpha_astro", params={"tau_syn_ex": 2.0})
    post = nest.Create("aeif_cond_alpha_astro", params={"tau_syn_ex": 2.0})
    astro = nest.Create("astrocyte_lr_1994", params={"delta_IP3": 0.2})
    nest.Connect(parrot, pre, syn_spec={"weight": 1.0, "delay": 1.0})
    nest.Connect(pre, post, syn_spec={"weight": 1.0, "delay": 1.0})
    nest.Connect(pre, astro, syn_spec={"weight": 1.0, "delay": 1.0})
    nest.Connect(astro, post, syn_spec={"synapse_model": "sic_connection", "weight": 1.0,
                                        "delay": 1.0})
    neuron_vars = ["V_m", "w", "g_ex", "I_SIC"]
    mm_n = [nest.Create("multimeter", params={"interval": record_interval, "record_from": neuron_vars})
            for _ in range(2)]
    nest.Connect(mm_n[0], pre)
    nest.Connect(mm_n[1], post)
    mm_a = nest.Create("multimeter", params={"interval": record_interval,
                                              "record_from": ["IP3", "Ca_astro", "h_IP3R"]})
    nest.Connect(mm_a, astro)
    sr = [nest.Create("spike_recorder") for _ in range(2)]
    nest.Connect(pre, sr[0])
    nest.Connect(post, sr[1])
    t0 = time.perf_counter()
    nest.Simulate(duration_ms)
    out = {"simulate_s": time.perf_counter() - t0}
    for who, mm in (("pre", mm_n[0]), ("post", mm_n[1])):
        ev = mm.get("events")
        order = np.argsort(ev["times"], kind="stable")
        out["time_ms"] = np.asarray(ev["times"])[order]
        for name in neuron_vars:
            out[f"{who}_{name}"] = np.asarray(ev[name])[order]
    ev = mm_a.get("events")
    order = np.argsort(ev["times"], kind="stable")
    for name in ("IP3", "Ca_astro", "h_IP3R"):
        out[f"astro_{name}"] = np.asarray(ev[name])[order]
    out["input_spike_times_ms"] = np.sort(np.asarray(in_spikes.get("events")["times"], np.float64))
    out["pre_spike_times_ms"] = np.sort(np.asarray(sr[0].get("events")["times"], np.float64))
    out["post_spike_times_ms"] = np.sort(np.asarray(sr[1].get("events")["times"], np.float64))
    return out
