"""Where does a liquid work? Reservoir measures over its settings (the edge-of-chaos search).

A 200-neuron Maass liquid (``ReservoirConfig(n=200, bias=0)``, static synapses) with 40 inputs is
put through ``neuro.models.lsm_tuning.measure_liquid`` over a grid of input scale x recurrent
scale (synaptic scaling, which sets the spectral radius) x inhibition scale (E/I balance), and
over target firing rates (the recurrent scale bisected to each rate). Measures: firing rate,
memory capacity (Jaeger, 800 x 20 ms bins of a rate-coded i.i.d. input, delays 1-10), kernel quality
and generalisation rank (50 random / 50 jittered 200 ms streams, rank at rtol 1e-2), damage
spreading of one extra input spike, and the rate that persists after the input stops. Then, for
the best setting by memory capacity and the best by kernel quality - generalisation rank: memory
curves against an untrained ESN (200 tanh units) and the raw input, over 3 seeds, and Maass's
separation curves.

    NUMBA_NUM_THREADS=1 python benchmarks/lsm_tuning.py            # ~5 min of one core

Writes ``benchmarks/results/lsm_tuning/``: ``sweep.json``, ``results.md``, ``sweep_inhibition1.png``,
``sweep_inhibition4.png``, ``capacity_vs_rate.png``, ``memory_curves.png``, ``separation.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import cpu_name  # noqa: E402

from neuro._io import pyplot, save_figure, write_text  # noqa: E402
from neuro.models.lsm import LiquidStateMachine, ReservoirConfig, window_counts  # noqa: E402
from neuro.models.lsm_tuning import (  # noqa: E402
    MeasureConfig,
    plot_capacity_vs_rate,
    plot_sweep,
    rate_series,
    separation_curves,
    sweep,
)
from neuro.models.reservoir_baselines import EchoStateNetwork, window_means  # noqa: E402
from neuro.models.reservoir_measures import memory_curve  # noqa: E402
from neuro.tasks.reservoir_tasks import memory_task  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "lsm_tuning"
N, N_IN = 200, 40


def memory_curves(setting: dict, seeds: list, measure: MeasureConfig, delays: range) -> dict:
    """Memory curves (MC_k, k = 0..) of the liquid at ``setting``, an ESN and the raw input, per seed."""
    out = {"lsm": [], "esn": [], "raw": []}
    for seed in seeds:
        task = memory_task(measure.n_values, measure.bin_steps, N_IN, measure.max_rate, seed=100 + seed)
        lsm = LiquidStateMachine(N_IN, ReservoirConfig(n=N, bias=0.0, seed=seed))
        lsm.set_input_scale(setting["input_scale"])
        lsm.set_inhibition_scale(setting["inhibition_scale"])
        lsm.set_scale(setting["recurrent_scale"])
        x, _ = lsm.stream_features(task.spikes, task.duration, task.readout_steps, task.lookback)
        out["lsm"].append(memory_curve(task.values, x, delays).r2.tolist())
        best = None
        for leak in (1.0, 0.3, 0.1, 0.03):  # the ESN's best leak for memory, chosen on the same measure
            esn = EchoStateNetwork(N, N_IN, 0.9, 0.3, leak, seed=seed)
            xe = window_means(esn.run(task.binned(1)), task.readout_steps, task.lookback)
            r2 = memory_curve(task.values, xe, delays).r2
            if best is None or r2[1:].sum() > best[1:].sum():
                best = r2
        out["esn"].append(best.tolist())
        xr = window_counts(task.steps, task.indices, N_IN, task.readout_steps, task.lookback, N // N_IN)
        out["raw"].append(memory_curve(task.values, xr, delays).r2.tolist())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--small", action="store_true", help="a coarse grid (a smoke test, not for results)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    # sized to run in ~5 min of one core: 16 s memory streams, 50 + 50 rank streams, 3 perturbations
    measure = MeasureConfig(n_values=800, rank_streams=50, perturbations=3, calibration=1.0,
                            rate_iterations=8)
    base = ReservoirConfig(n=N, bias=0.0, seed=0)
    inputs, recs, inhs = ([1.0, 2.0], [0.125, 0.25, 0.5, 1.0, 2.0], [1.0, 4.0])
    rates, rate_inputs = [5.0, 10.0, 20.0, 40.0, 80.0, 160.0], (1.0,)
    if args.small:
        measure = MeasureConfig(n_values=300, rank_streams=40, perturbations=2, calibration=1.0,
                                rate_iterations=6)
        inputs, recs, inhs, rates = [1.0, 2.0], [0.25, 1.0], [1.0], [20.0]
    records = sweep(N_IN, base, inputs, recs, measure, inhibition_scales=inhs)
    print(f"sweep: {len(records)} settings in {time.perf_counter() - t0:.0f} s", flush=True)
    series = []
    for scale in rate_inputs:
        series += rate_series(N_IN, base, scale, rates, measure)
    print(f"rate series done at {time.perf_counter() - t0:.0f} s", flush=True)
    best_mc = max(records, key=lambda r: r["mc"])
    best_kq = max(records, key=lambda r: r["kq_minus_gr"])
    delays = range(0, measure.max_delay + 1)
    curves = {name: memory_curves(s, [0, 1, 2], measure, delays)
              for name, s in (("best memory capacity", best_mc), ("best kq - gr", best_kq))}
    lsm = LiquidStateMachine(N_IN, base)
    lsm.set_input_scale(best_kq["input_scale"])
    lsm.set_inhibition_scale(best_kq["inhibition_scale"])
    lsm.set_scale(best_kq["recurrent_scale"])
    separation = separation_curves(lsm, pairs=4 if args.small else 10)
    payload = {"machine": cpu_name(), "date": time.strftime("%Y-%m-%d"), "n": N, "inputs": N_IN,
               "measure": measure.__dict__, "sweep": records, "rate_series": series,
               "best_mc": best_mc, "best_kq_minus_gr": best_kq, "memory_curves": curves,
               "separation": separation, "seconds": time.perf_counter() - t0}
    args.out.mkdir(parents=True, exist_ok=True)
    write_text(args.out / "sweep.json", json.dumps(payload, indent=1))
    for g in inhs:
        plot_sweep([r for r in records if r["inhibition_scale"] == g],
                   args.out / f"sweep_inhibition{g:g}.png",
                   keys=("rate_hz", "persistent_rate_hz", "mc", "kq_minus_gr", "damage"))
    plot_capacity_vs_rate(records + series, args.out / "capacity_vs_rate.png",
                          title="memory capacity vs rate (grid + rate-targeted liquids)")
    plot_curves(curves, args.out / "memory_curves.png")
    plot_separation(separation, args.out / "separation.png")
    write_text(args.out / "results.md", summary(payload))
    print(summary(payload))


def plot_curves(curves: dict, path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(curves), figsize=(5.5 * len(curves), 4), sharey=True)
    for ax, (name, c) in zip(np.atleast_1d(axes), curves.items()):
        for method, color in (("lsm", "tab:red"), ("esn", "tab:blue"), ("raw", "tab:gray")):
            r2 = np.array(c[method])
            k = np.arange(r2.shape[1])
            ax.errorbar(k, r2.mean(0), yerr=r2.std(0), color=color, marker="o", capsize=2,
                        label=f"{method}: MC(k>=1) = {r2[:, 1:].sum(1).mean():.2f}")
        ax.set_xlabel("delay k (20 ms bins)")
        ax.set_title(f"liquid at {name}")
        ax.legend(fontsize=8)
    np.atleast_1d(axes)[0].set_ylabel("MC_k (held-out squared correlation)")
    fig.tight_layout()
    save_figure(fig, path)


def plot_separation(sep: dict, path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for frac, curve in sep["curves"].items():
        ax.plot(np.array(sep["t"]) * 1e3, curve,
                label=f"{float(frac):.0%} spikes moved (input d = {sep['input_distance'][frac]:.2f})")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("liquid state distance ||x_u(t) - x_v(t)||")
    ax.set_title("separation property (mean over input pairs)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def summary(p: dict) -> str:
    def row(r: dict) -> str:
        return (f"| {r['inhibition_scale']:g} | {r['input_scale']:g} | {r['recurrent_scale']:.3g} | "
                f"{r['spectral_radius']:.3f} | {r['rate_hz']:.1f} | {r['persistent_rate_hz']:.1f} | "
                f"{r['mc0']:.2f} | {r['mc']:.2f} | {r['kernel_quality']} | {r['generalization_rank']} | "
                f"{r['kq_minus_gr']} | {r['damage']:.3f} |")

    head = ["| inhibition | input | recurrent | spectral radius | rate (Hz) | persistent (Hz) | MC_0 | "
            "MC (k>=1) | KQ | GR | KQ-GR | damage |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    bm, bk = p["best_mc"], p["best_kq_minus_gr"]
    lines = [f"# Liquid tuning: reservoir measures over settings ({p['date']}, {p['machine']})", "",
             f"{p['n']} LIF neurons (Maass grid, static synapses, bias 0), {p['inputs']} inputs. Best memory "
             f"capacity: {bm['mc']:.2f} bins at input x{bm['input_scale']:g}, recurrent "
             f"x{bm['recurrent_scale']:.3g}, inhibition x{bm['inhibition_scale']:g} "
             f"({bm['rate_hz']:.0f} Hz). Best KQ - GR: {bk['kq_minus_gr']} at input x{bk['input_scale']:g}, "
             f"recurrent x{bk['recurrent_scale']:.3g}, inhibition x{bk['inhibition_scale']:g} "
             f"({bk['rate_hz']:.0f} Hz).",
             "", "## Grid", "", *head]
    lines += [row(r) for r in p["sweep"]]
    lines += ["", "## Rate-targeted liquids (recurrent scale bisected to each rate)", "", *head]
    lines += [row(r) for r in p["rate_series"]]
    lines += ["", "## Memory curves (3 seeds, MC summed over delays 1-10 of 20 ms; mean ± sd)", "",
              "| liquid setting | liquid MC | ESN MC (best leak) | raw input MC | liquid MC_0 | raw MC_0 |",
              "|---|---|---|---|---|---|"]
    for name, c in p["memory_curves"].items():
        mc = {m: np.array(c[m])[:, 1:].sum(1) for m in c}
        lines.append(f"| {name} | {mc['lsm'].mean():.2f} ± {mc['lsm'].std():.2f} | {mc['esn'].mean():.2f} ± "
                     f"{mc['esn'].std():.2f} | {mc['raw'].mean():.2f} ± {mc['raw'].std():.2f} | "
                     f"{np.mean(np.array(c['lsm'])[:, 0]):.2f} | {np.mean(np.array(c['raw'])[:, 0]):.2f} |")
    lines += ["", f"Command: `NUMBA_NUM_THREADS=1 python benchmarks/lsm_tuning.py` "
              f"({p['seconds'] / 60:.1f} min)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
