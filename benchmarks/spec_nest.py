"""Spec neuron populations exported to NEST (``neuro.sim.nest_models``), neuro vs NEST.

One network (``build``): 20 Izhikevich neurons (delta synapses, per-neuron ``d``), 20 AdEx neurons
with conductance synapses (``aeif_cond_exp``) and refractoriness, 10 AdEx neurons with delta
synapses (``aeif_psc_delta``), driven by a spike source, 0.5 s at dt = 0.1 ms, float64. NEST runs in
a spawned process (its OpenMP runtime and Numba's crash together). Izhikevich is stepped as NEST
does (``izhikevich_math``), so its spike trains should be identical; AdEx is Euler in neuro and
RKF45 in NEST, so its spike counts are compared (and the mean shift of the spike times).

Writes ``benchmarks/results/spec_nest.json`` / ``.md``; ``tests/test_sim_models.py`` reads them.

    python benchmarks/spec_nest.py
"""

from __future__ import annotations

import time

import numpy as np
import torch
from peers.common import cpu_name, write_results

import neuro.sim as sim

T = 0.5  # seconds


def build():
    net = sim.Network(dt=1e-4, seed=3, dtype=torch.float64)
    Z = net.add(sim.Population(20, "Izhikevich", params={"d": np.linspace(2, 8, 20)}, bias=5.0, name="Z"))
    A = net.add(sim.Population(20, "AdEx", bias=700.0, refractory=2e-3, name="A",
                               synapses={"e": sim.Conductance(5e-3, 0.0),
                                         "i": sim.Conductance(10e-3, -80.0)}))
    B = net.add(sim.Population(10, "AdEx", bias=800.0, name="B"))
    G = net.add(sim.SpikeSource(5, times=np.arange(200) * 2.5e-3, indices=np.arange(200) % 5, name="G"))
    net.add(sim.Projection(G, Z, sim.FixedProbability(0.5), weight=8.0, delay=1e-3))
    net.add(sim.Projection(G, A, sim.FixedProbability(0.5), weight=2.0, target="e", delay=1e-3))
    net.add(sim.Projection(Z, A, sim.FixedProbability(0.3), weight=4.0, target="i", delay=1e-3))
    net.add(sim.Projection(G, B, sim.FixedProbability(0.5), weight=100.0, delay=1e-3))
    return net, {k: net.add(sim.SpikeMonitor(g)) for k, g in (("Izhikevich", Z), ("AdEx_cond", A),
                                                                ("AdEx_delta", B))}


def spikes(mons: dict, read) -> dict:
    return {k: (np.asarray(read(m).steps), np.asarray(read(m).indices)) for k, m in mons.items()}


def nest_side() -> tuple[dict, list, str]:
    net, mons = build()
    nest_net = sim.to_nest(net)
    nest_net.run(T)
    return spikes(mons, lambda m: nest_net[m]), nest_net.notes, nest_net.nest.__version__


def main() -> None:
    from neuro.astro.nest_reference import run_isolated

    theirs, notes, version = run_isolated(nest_side)
    net, mons = build()
    net.run(T, progress=False)
    ours = spikes(mons, lambda m: m)
    out = {"machine": cpu_name(), "date": time.strftime("%Y-%m-%d"), "nest": version, "duration_s": T,
           "notes": notes, "groups": {}}
    lines = [f"# Spec populations exported to NEST {version} ({T} s, dt = 0.1 ms, float64)", "",
             "| group | NEST model | neuro spikes | NEST spikes | identical trains | mean shift of the k-th "
             "spike (steps) |", "|---|---|---|---|---|---|"]
    models = {"Izhikevich": "izhikevich", "AdEx_cond": "aeif_cond_exp", "AdEx_delta": "aeif_psc_delta"}
    for k in ours:
        (s1, i1), (s2, i2) = ours[k], theirs[k]
        same = bool(np.array_equal(s1, s2) and np.array_equal(i1, i2))
        shifts = []
        for n in np.unique(i1):
            a, b = s1[i1 == n], s2[i2 == n]
            m = min(len(a), len(b))
            shifts.extend((b[:m] - a[:m]).tolist())
        shift = float(np.mean(shifts)) if shifts else float("nan")
        out["groups"][k] = {"model": models[k], "neuro_spikes": int(len(s1)), "nest_spikes": int(len(s2)),
                            "identical": same, "mean_shift_steps": shift}
        lines.append(f"| {k} | {models[k]} | {len(s1)} | {len(s2)} | {same} | {shift:.2f} |")
    print("\n".join(lines))
    write_results("spec_nest", out, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
