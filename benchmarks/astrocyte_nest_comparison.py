"""neuro vs NEST 3.10 on NEST's astrocyte examples, with the same fixed input spike train.

Runs NEST's ``astrocyte_single`` (two astrocytes, delta_IP3 = 0.0002 and 0.2 uM) and
``astrocyte_interaction`` (pre neuron -> post neuron + astrocyte -> SIC -> post) setups in NEST
(nest-simulator from PyPI), takes the recorded parrot spikes as neuro's input, runs neuro's
equivalent and reports the max absolute and relative errors of IP3, Ca, h, SIC and the neuron
traces, the spike times, and the wall-clock time of both simulators (second, warm run). Without
NEST installed (or with ``--stored``) the stored NEST 3.10 traces in
``shared/data/nest_astrocyte`` are the reference. Writes ``benchmarks/results/astrocyte_nest.{json,md}``
and a figure ``astrocyte_nest.png``.

    python benchmarks/astrocyte_nest_comparison.py [--stored] [--duration 10000]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time
from pathlib import Path

import harness
import numpy as np

from neuro._io import atomic_write
from neuro.astro.examples import astrocyte_interaction, single_astrocyte
from neuro.kernels.astrocyte_math import sic_of

RESULTS = Path(__file__).resolve().parent / "results"
STORED = Path(os.environ.get("NEURO_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
              ) / "nest_astrocyte"
SIC_TH, SIC_SCALE = 0.19669, 1.0  # NEST defaults


def errors(ours: np.ndarray, ref: np.ndarray) -> dict:
    """Max |ours - ref|, that over max |ref| (scale-relative), and pointwise relative where |ref| > 0."""
    diff = np.abs(ours - ref)
    nz = np.abs(ref) > 0
    return {"max_abs": float(diff.max()),
            "max_rel_to_scale": float(diff.max() / max(np.abs(ref).max(), 1e-300)),
            "max_rel_pointwise": float((diff[nz] / np.abs(ref[nz])).max()) if nz.any() else 0.0}


def sic_trace(ca: np.ndarray) -> np.ndarray:
    return np.array([sic_of(c, SIC_TH, SIC_SCALE) for c in ca])


def timed(fn, repeats: int = 2):
    """Result and wall time of the last of ``repeats`` calls (the first compiles / warms up)."""
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        elapsed = time.perf_counter() - t0
    return out, elapsed


def reference(stored: bool, duration: float):
    if not stored and importlib.util.find_spec("nest") is not None:
        from neuro.astro.nest_reference import nest_astrocyte_interaction, nest_single_astrocyte

        # NEST runs in a spawned process; its time includes that process's start-up, so also
        # report NEST's own simulate time measured inside it
        single, t_single = timed(lambda: nest_single_astrocyte(duration_ms=duration))
        tri, t_tri = timed(lambda: nest_astrocyte_interaction(duration_ms=duration))
        t_single, t_tri = single.pop("simulate_s"), tri.pop("simulate_s")
        from importlib.metadata import version

        return (single, tri, {"single": t_single, "interaction": t_tri},
                f"NEST {version('nest-simulator')} (live)")
    with np.load(STORED / "nest_astrocyte_single.npz", allow_pickle=False) as z:
        s = {k: z[k] for k in z.files}
    with np.load(STORED / "nest_astrocyte_tripartite.npz", allow_pickle=False) as z:
        tri = {k: z[k] for k in z.files}
    single = {"time_ms": s["time_ms"], "input_arrival_times_ms": s["input_arrival_times_ms"]}
    for i, prefix in enumerate(("", "ex_")):
        for name in ("IP3", "Ca_astro", "h_IP3R"):
            single[f"{name}_{i}"] = s[prefix + name]
    keep = tri["time_ms"] <= duration
    for key in list(tri):
        if key.startswith(("pre_", "post_", "astro_")) and not key.endswith("spike_times_ms"):
            tri[key] = tri[key][keep]
    tri["time_ms"] = tri["time_ms"][keep]
    return single, tri, {}, "stored NEST 3.10.0 traces"


def compare(stored: bool, duration: float) -> dict:
    single, tri, nest_times, source = reference(stored, duration)
    report = {"reference": source, "hardware": harness.hardware("cpu"), "duration_ms": duration, "single": {},
              "interaction": {}, "timing_s": {"nest": nest_times}}
    ours, t_single = timed(lambda: single_astrocyte(single["input_arrival_times_ms"],
                                                    duration_ms=duration))
    n = len(single["time_ms"])
    assert np.allclose(ours.times[:n], single["time_ms"])
    for i, delta in enumerate((0.0002, 0.2)):
        for name in ("IP3", "Ca_astro", "h_IP3R"):
            report["single"][f"{name} (delta_IP3={delta})"] = errors(ours.astrocytes[name][:n, i],
                                                                     single[f"{name}_{i}"])
        report["single"][f"SIC (delta_IP3={delta})"] = errors(
            ours.astrocytes["SIC"][:n, i], sic_trace(single[f"Ca_astro_{i}"]))
    res, t_tri = timed(lambda: astrocyte_interaction(tri["input_spike_times_ms"] + 1.0,
                                                     duration_ms=duration))
    n = len(tri["time_ms"])
    for j, who in enumerate(("pre", "post")):
        for name in ("V_m", "w", "g_ex", "I_SIC"):
            report["interaction"][f"{who} {name}"] = errors(res.neurons[name][:n, j],
                                                            tri[f"{who}_{name}"])
    for name in ("IP3", "Ca_astro", "h_IP3R"):
        report["interaction"][f"astrocyte {name}"] = errors(res.astrocytes[name][:n, 0],
                                                            tri[f"astro_{name}"])
    report["interaction"]["pre spikes (neuro | reference)"] = [
        res.spikes_of(0).tolist(),
        tri["pre_spike_times_ms"][tri["pre_spike_times_ms"] <= duration].tolist()]
    report["interaction"]["post spikes (neuro | reference)"] = [
        res.spikes_of(1).tolist(),
        tri["post_spike_times_ms"][tri["post_spike_times_ms"] <= duration].tolist()]
    report["timing_s"]["neuro"] = {"single": t_single, "interaction": t_tri}
    plot(ours, single, res, tri)
    return report


def plot(ours, single, res, tri) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(3, 2, figsize=(12, 9), sharex=True)
    n = len(single["time_ms"])
    t = single["time_ms"]
    ax[0, 0].plot(t, single["Ca_astro_1"], lw=3, alpha=0.4, label="NEST")
    ax[0, 0].plot(t, ours.astrocytes["Ca_astro"][:n, 1], "k", lw=0.8, label="neuro")
    ax[0, 0].set_ylabel("Ca_astro (uM)")
    ax[0, 0].set_title("astrocyte_single, delta_IP3 = 0.2 uM")
    ax[0, 0].legend()
    ax[1, 0].plot(t, single["IP3_1"], lw=3, alpha=0.4)
    ax[1, 0].plot(t, ours.astrocytes["IP3"][:n, 1], "k", lw=0.8)
    ax[1, 0].set_ylabel("IP3 (uM)")
    ax[2, 0].semilogy(t, np.abs(ours.astrocytes["Ca_astro"][:n, 1] - single["Ca_astro_1"]) + 1e-20)
    ax[2, 0].set_ylabel("|Ca neuro - NEST| (uM)")
    ax[2, 0].set_xlabel("time (ms)")
    m = len(tri["time_ms"])
    tt = tri["time_ms"]
    ax[0, 1].plot(tt, tri["astro_Ca_astro"], lw=3, alpha=0.4, label="NEST")
    ax[0, 1].plot(tt, res.astrocytes["Ca_astro"][:m, 0], "k", lw=0.8, label="neuro")
    ax[0, 1].set_title("astrocyte_interaction")
    ax[0, 1].set_ylabel("astrocyte Ca (uM)")
    ax[1, 1].plot(tt, tri["post_I_SIC"], lw=3, alpha=0.4)
    ax[1, 1].plot(tt, res.neurons["I_SIC"][:m, 1], "k", lw=0.8)
    ax[1, 1].set_ylabel("post I_SIC (pA)")
    ax[2, 1].plot(tt, tri["pre_V_m"], lw=3, alpha=0.4)
    ax[2, 1].plot(tt, res.neurons["V_m"][:m, 0], "k", lw=0.8)
    ax[2, 1].set_ylabel("pre V_m (mV)")
    ax[2, 1].set_xlabel("time (ms)")
    fig.tight_layout()
    atomic_write(RESULTS / "astrocyte_nest.png", lambda fh: fig.savefig(fh, dpi=110, format="png"))
    plt.close(fig)


def markdown(r: dict) -> str:
    lines = [f"# neuro vs {r['reference']} — NEST astrocyte examples ({r['duration_ms']:g} ms)", "",
             f"Hardware: {r['hardware']}. Timings are preliminary (shared machine).", ""]
    for part in ("single", "interaction"):
        lines += [f"## {part}", "",
                  "| trace | max abs error | max error / max abs(ref) | max pointwise rel |",
                  "|---|---|---|---|"]
        for key, v in r[part].items():
            if isinstance(v, dict):
                lines.append(f"| {key} | {v['max_abs']:.3g} | {v['max_rel_to_scale']:.3g} | "
                             f"{v['max_rel_pointwise']:.3g} |")
            else:
                lines.append(f"| {key} | {v[0]} | {v[1]} | |")
        lines.append("")
    lines += ["## wall time (s, second run; NEST: its Simulate call)", "",
              f"```\n{json.dumps(r['timing_s'], indent=1)}\n```", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stored", action="store_true", help="compare with the stored NEST traces")
    ap.add_argument("--duration", type=float, default=10_000.0, help="simulated ms (<= 10000 stored)")
    args = ap.parse_args()
    r = compare(args.stored, args.duration)
    atomic_write(RESULTS / "astrocyte_nest.json", lambda fh: fh.write(json.dumps(r, indent=1).encode()))
    atomic_write(RESULTS / "astrocyte_nest.md", lambda fh: fh.write(markdown(r).encode()))
    print(markdown(r))


if __name__ == "__main__":
    main()
