r"""Brian2's classic STDP example (Song, Miller & Abbott 2000) in neuro.sim and in Brian2 (issue 21,
oracle (b)): 1000 Poisson inputs at 15 Hz onto one LIF neuron through additive STDP, 100 s.

The model (Brian2's ``examples/synapses/STDP.py``, ``method='linear'``, dt = 0.1 ms)::

    tau_m dv/dt = g_e (E_e - v_r) + E_l - v          spike when v > v_t, then v = v_r
    tau_e dg_e/dt = -g_e                               a presynaptic spike adds w to g_e
    pre:  A_pre += dA_pre;   w = clip(w + A_post, 0, g_max)
    post: A_post += dA_post; w = clip(w + A_pre, 0, g_max)

with traces decaying with tau_pre = tau_post = 20 ms, ``dA_pre = 0.01 g_max`` and
``dA_post = -1.05 dA_pre tau_pre / tau_post``. The driving force is frozen at ``E_e - v_r`` in the
example itself, so the synapse is a current: neuro's LIF with one exponential channel
(``tau_mem dv/dt = v_leak - v + r g``) is the same equation with ``r = E_e - v_r`` (60 mV) and the
weights in Brian2's units (``w / g_max`` in [0, 1]); STDP is ``sim.STDP(A_plus=dA_pre,
A_minus=-dApost, w_min=0, w_max=g_max)``. Both integrate the linear ODE exactly, start from
``v = 0`` (Brian2's default, one spike at t = 0) and draw ``w ~ U(0, g_max)``.

What differs: the random streams (Poisson draws and initial weights), so the comparison is
statistical (pooled final weights, two-sample Kolmogorov-Smirnov test), and float64 both.

neuro runs on ``backend="numba"`` (STDP compiled into the CPU kernel); the script also times it against
``backend="torch"`` (the dense reference, ~100x slower) on a short run. The committed results also hold
100 s runs of the torch backend for seeds 1-3 (``neuro_torch``, ``--only neuro --backend torch --seeds 1 2
3``), compared like the numba runs: runs of
both backends on the same seed must end with identical weights (same Poisson draws and initial weights).

Resumable: every finished run is stored in ``results/stdp_song_abbott.json`` at once and reused when
the parameters match. Brian2 runs offline in its side environment (``peers/common.py:
brian2_python``): this file re-runs itself there with ``--brian2-worker`` (no neuro import).

    python benchmarks/stdp_song_abbott.py --estimate        # time 1 s of each simulator
    nice -n 10 python benchmarks/stdp_song_abbott.py                  # seeds 1-10 (--seeds, --only)
    python benchmarks/stdp_song_abbott.py --report          # rewrite .md/.png from the json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
OUT_JSON = RESULTS / "stdp_song_abbott.json"

# Brian2's example, SI units (its dApre / dApost are then scaled by gmax)
PARAMS = {"N": 1000, "F": 15.0, "taum": 10e-3, "taupre": 20e-3, "taupost": 20e-3, "Ee": 0.0,
          "vt": -54e-3, "vr": -60e-3, "El": -74e-3, "taue": 5e-3, "gmax": 0.01, "dApre": 0.01,
          "dApost_factor": -1.05, "dt": 1e-4, "duration": 100.0, "v_init": 0.0, "record_every": 1.0}
LOW, HIGH = 0.1, 0.9  # "near 0" is w/gmax < LOW, "near gmax" is w/gmax > HIGH
BINS = 20  # histogram bins on [0, 1] (Brian2's example plots 20)


def amplitudes(p: dict) -> tuple[float, float]:
    """``(A_plus, A_minus)`` in weight units: Brian2's ``dApre * gmax`` and ``-dApost * gmax``."""
    a_plus = p["dApre"] * p["gmax"]
    a_minus = -p["dApost_factor"] * p["dApre"] * p["taupre"] / p["taupost"] * p["gmax"]
    return a_plus, a_minus


def _series(w_over_gmax: np.ndarray) -> dict:
    """Summary of weight snapshots ``[records, synapses]`` (w / gmax): mean and fractions at the bounds."""
    return {"mean": np.round(w_over_gmax.mean(1), 6).tolist(),
            "frac_low": np.round((w_over_gmax < LOW).mean(1), 6).tolist(),
            "frac_high": np.round((w_over_gmax > HIGH).mean(1), 6).tolist()}


def _rate_bins(spike_times: np.ndarray, duration: float, every: float) -> list[float]:
    edges = np.arange(0.0, duration + 0.5 * every, every)
    return (np.histogram(spike_times, edges)[0] / every).tolist()


# -- neuro's side --------------------------------------------------------------------------------
def run_neuro(p: dict, seed: int, backend: str = "numba", duration: float | None = None) -> dict:
    """The example in ``neuro.sim`` (float64); returns final weights (w / gmax), rates, wall time."""
    import torch

    import neuro.sim as sim

    torch.set_num_threads(1)  # per-step small tensors: threads only add overhead (and 2 shared cores)
    duration = p["duration"] if duration is None else duration
    a_plus, a_minus = amplitudes(p)
    net = sim.Network(dt=p["dt"], dtype=torch.float64, backend=backend, seed=seed)
    inp = net.add(sim.PoissonInput(p["N"], p["F"]))
    out = net.add(sim.Population(1, "LIF", tau_mem=p["taum"], v_th=p["vt"], v_reset=p["vr"], v_leak=p["El"],
                                 r=p["Ee"] - p["vr"], v_init=p["v_init"], synapses={"e": p["taue"]}))
    rule = sim.STDP(tau_plus=p["taupre"], tau_minus=p["taupost"], A_plus=a_plus, A_minus=a_minus,
                    w_min=0.0, w_max=p["gmax"], weight_dependence="additive", pairing="all")
    proj = net.add(sim.Projection(inp, out, sim.AllToAll(), weight=sim.Uniform(0.0, p["gmax"]), target="e",
                                  plasticity=rule))
    spikes = net.add(sim.SpikeMonitor(out))
    wmon = net.add(sim.WeightMonitor(proj, every=p["record_every"]))
    w0 = proj.weights / p["gmax"]
    start = time.perf_counter()
    net.run(duration)
    wall = time.perf_counter() - start
    w = proj.weights / p["gmax"]
    snaps = np.concatenate([w0[None], wmon.weights / p["gmax"], w[None]])
    return {"simulator": f"neuro.sim backend={backend}", "seed": seed, "duration": duration, "wall_s": wall,
            "w_final": np.round(w, 8).tolist(), "rate_hz": spikes.num_spikes / duration,
            "rate_bins_hz": _rate_bins(spikes.times, duration, p["record_every"]),
            "series_t": np.concatenate([[0.0], wmon.times, [duration]]).round(6).tolist(),
            "series": _series(snaps)}


# -- Brian2's side (runs in the Brian2 interpreter: no neuro import) -----------------------------------
def brian2_worker(p: dict, seed: int, duration: float) -> dict:
    """Brian2's example (numpy target, float64) with a seed; the equations exactly as the example's."""
    import brian2 as b2

    b2.prefs.codegen.target = "numpy"
    b2.seed(seed)
    ns = {key: p[key] * b2.second for key in ("taum", "taupre", "taupost", "taue")}
    ns.update({key: p[key] * b2.volt for key in ("Ee", "vt", "vr", "El")}, gmax=p["gmax"])
    ns["dApre"] = p["dApre"] * p["gmax"]
    ns["dApost"] = p["dApost_factor"] * p["dApre"] * p["taupre"] / p["taupost"] * p["gmax"]
    b2.defaultclock.dt = p["dt"] * b2.second
    from peers.brian2_song_abbott import song_abbott_network

    inp, neurons, syn = song_abbott_network(b2, p["N"], 1, p["F"], ns)
    neurons.v = p["v_init"] * b2.volt
    w0 = np.asarray(syn.w[:]) / p["gmax"]
    wmon = b2.StateMonitor(syn, "w", record=True, dt=p["record_every"] * b2.second, when="end")
    spikes = b2.SpikeMonitor(neurons)
    net = b2.Network(inp, neurons, syn, wmon, spikes)
    start = time.perf_counter()
    net.run(duration * b2.second, report="stderr", report_period=10 * b2.second)
    wall = time.perf_counter() - start
    w = np.asarray(syn.w[:]) / p["gmax"]
    times = np.asarray(wmon.t / b2.second)
    snaps = np.concatenate([w0[None], np.asarray(wmon.w).T / p["gmax"], w[None]])
    return {"simulator": f"brian2 {b2.__version__} (numpy target)", "seed": seed, "duration": duration,
            "wall_s": wall, "w_final": np.round(w, 8).tolist(), "rate_hz": spikes.num_spikes / duration,
            "rate_bins_hz": _rate_bins(np.asarray(spikes.t / b2.second), duration, p["record_every"]),
            "series_t": np.concatenate([[0.0], times + p["dt"], [duration]]).round(6).tolist(),
            "series": _series(snaps)}


def run_brian2(p: dict, seed: int, duration: float | None = None) -> dict:
    """Run :func:`brian2_worker` in Brian2's interpreter (progress on stderr)."""
    sys.path.insert(0, str(HERE))
    from peers.common import brian2_python

    exe = brian2_python()
    if exe is None:
        raise SystemExit("Brian2 is not importable: see benchmarks/peers/common.py: brian2_python")
    job = {"params": p, "seed": seed, "duration": p["duration"] if duration is None else duration}
    proc = subprocess.run([exe, __file__, "--brian2-worker"], input=json.dumps(job), text=True,
                          stdout=subprocess.PIPE, timeout=3600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"Brian2 failed (exit {proc.returncode})")
    return json.loads(lines[-1])


# -- statistics ------------------------------------------------------------------------------------
def ks_2samp(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and p-value (scipy, exact/asymptotic as it chooses)."""
    from scipy.stats import ks_2samp as ks

    res = ks(a, b)
    return float(res.statistic), float(res.pvalue)


def bimodality_coefficient(x: np.ndarray) -> float:
    """Sarle's bimodality coefficient (skew^2 + 1) / (excess kurtosis + 3 (n-1)^2 / ((n-2)(n-3))):
    5/9 for a uniform distribution, above it for U-shaped/bimodal ones, 1 for two points."""
    n = x.size
    d = x - x.mean()
    m2, m3, m4 = (d ** 2).mean(), (d ** 3).mean(), (d ** 4).mean()
    g1 = m3 / m2 ** 1.5 * np.sqrt(n * (n - 1)) / (n - 2)  # sample skewness (bias-corrected)
    g2 = ((n + 1) * (m4 / m2 ** 2 - 3) + 6) * (n - 1) / ((n - 2) * (n - 3))  # sample excess kurtosis
    return float((g1 ** 2 + 1) / (g2 + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3))))


def describe(w: np.ndarray) -> dict:
    """Fractions near the bounds, histogram and bimodality of pooled final weights (w / gmax)."""
    hist = np.histogram(w, BINS, (0.0, 1.0))[0] / w.size
    return {"n": int(w.size), "frac_low": float((w < LOW).mean()), "frac_high": float((w > HIGH).mean()),
            "frac_mid": float(((w >= LOW) & (w <= HIGH)).mean()), "mean": float(w.mean()),
            "hist": hist.round(6).tolist(), "bimodality_coefficient": bimodality_coefficient(w)}


def compare(runs: dict) -> dict:
    """Pooled comparison of the full-length runs: per simulator (``neuro_torch``, ``neuro_numba``,
    ``brian2``) the weight statistics and the largest seed-to-seed KS statistic; ``ks``: each neuro
    backend's pooled weights vs Brian2's (``primary``: numba when it ran, else torch); ``same_seed``:
    torch vs numba on the seeds both ran (the same Poisson draws and initial weights)."""
    out: dict = {"ks": {}}
    pooled = {k: np.concatenate([np.asarray(r["w_final"]) for r in v.values()]) for k, v in runs.items() if v}
    for key, w in pooled.items():
        seeds = list(runs[key].values())
        within = [ks_2samp(np.asarray(a["w_final"]), np.asarray(b["w_final"]))[0]
                  for i, a in enumerate(seeds) for b in seeds[i + 1:]]
        out[key] = {**describe(w), "seeds": sorted(int(s) for s in runs[key]),
                    "rate_hz": [r["rate_hz"] for r in seeds],
                    "rate_last10s_hz": [float(np.mean(r["rate_bins_hz"][-10:])) for r in seeds],
                    "wall_s": [r["wall_s"] for r in seeds], "ks_between_seeds_max": max(within, default=None)}
    for key in (k for k in ("neuro_numba", "neuro_torch") if k in pooled and "brian2" in pooled):
        stat, pval = ks_2samp(pooled[key], pooled["brian2"])
        out["ks"][key] = {"statistic": stat, "pvalue": pval}
    out["primary"] = next(iter(out["ks"]), None)
    both = sorted(set(runs.get("neuro_torch", {})) & set(runs.get("neuro_numba", {})), key=int)
    if both:
        diff = [float(np.abs(np.asarray(runs["neuro_torch"][s]["w_final"])
                             - np.asarray(runs["neuro_numba"][s]["w_final"])).max()) for s in both]
        spikes = [runs["neuro_torch"][s]["rate_hz"] == runs["neuro_numba"][s]["rate_hz"] for s in both]
        out["same_seed"] = {"seeds": [int(s) for s in both], "max_abs_dw_over_gmax": diff,
                            "same_spike_count": spikes}
    return out


# -- results file ---------------------------------------------------------------------------------
def load() -> dict:
    """The stored results when they were produced with the current parameters, else a fresh record."""
    if OUT_JSON.exists():
        data = json.loads(OUT_JSON.read_text())
        if data.get("params") == PARAMS:
            return data
        print("stored results used other parameters: starting afresh", file=sys.stderr)
    return {"params": PARAMS, "runs": {}}


def save(data: dict) -> None:
    """Write ``data``, merging in what another process (``--only``) stored meanwhile (its runs and any
    other entry ``data`` lacks)."""
    from neuro._io import file_lock, write_text

    RESULTS.mkdir(parents=True, exist_ok=True)
    with file_lock(OUT_JSON.with_suffix(".lock")):
        stored = load()
        for key, runs in stored["runs"].items():
            for seed, run in runs.items():
                data["runs"].setdefault(key, {}).setdefault(seed, run)
        for key, value in stored.items():
            data.setdefault(key, value)
        write_text(OUT_JSON, _compact(json.dumps(data, indent=1)) + "\n")


def _compact(text: str) -> str:
    """Lists of numbers on one line each (the indented JSON otherwise puts every weight on its own)."""
    return re.sub(r"\[\s*([-+0-9.eE,\s]+?)\s*\]", lambda m: "[" + re.sub(r"\s+", "", m.group(1)) + "]", text)


def report(data: dict) -> None:
    """Write ``stdp_song_abbott.md`` and ``.png`` from the json."""
    from neuro._io import pyplot, save_figure, write_text

    cmp, p = data["comparison"], data["params"]
    primary = cmp["primary"]
    keys = [k for k in ("neuro_numba", "neuro_torch", "brian2") if k in cmp]
    colors = {"neuro_numba": "tab:blue", "neuro_torch": "tab:green", "brian2": "tab:orange"}
    fig, axes = pyplot().subplots(1, 3, figsize=(15, 4.2))
    edges = np.linspace(0, 1, BINS + 1)
    for key in keys:
        c = cmp[key]
        axes[0].stairs(np.asarray(c["hist"]) * 100, edges, lw=2 if key in (primary, "brian2") else 1,
                       ls="-" if key in (primary, "brian2") else ":", color=colors[key],
                       label=f"{key} (seeds {_seeds(c['seeds'])}, n={c['n']})")
        if key not in (primary, "brian2"):
            continue  # the time courses of the main pair only
        for i, r in enumerate(data["runs"][key].values()):
            kw = dict(color=colors[key], lw=0.8, alpha=0.7)
            axes[1].plot(r["series_t"], np.asarray(r["series"]["frac_low"]) * 100, ls="-", **kw,
                         label=f"{key}: w < {LOW} gmax" if i == 0 else None)
            axes[1].plot(r["series_t"], np.asarray(r["series"]["frac_high"]) * 100, ls="--", **kw,
                         label=f"{key}: w > {HIGH} gmax" if i == 0 else None)
            t = (np.arange(len(r["rate_bins_hz"])) + 0.5) * p["record_every"]
            axes[2].plot(t, r["rate_bins_hz"], **kw, label=key if i == 0 else None)
    title = f"final weights after {p['duration']:g} s"
    if primary:
        ks = cmp["ks"][primary]
        title += f"\nKS {primary} vs brian2: D = {ks['statistic']:.3f}, p = {ks['pvalue']:.2g}"
    axes[0].set(xlabel="w / gmax", ylabel="% of synapses (bins of 0.05 gmax)", title=title)
    axes[0].legend(fontsize=7)
    axes[1].set(xlabel="time (s)", ylabel="% of synapses", title="weights near the bounds (every seed)")
    axes[1].legend(fontsize=7)
    axes[2].set(xlabel="time (s)", ylabel="output rate (Hz, 1 s bins)",
                title="postsynaptic rate (every seed)")
    axes[2].legend(fontsize=7)
    fig.suptitle("Song, Miller & Abbott (2000) STDP, Brian2's example: neuro.sim vs Brian2", fontsize=11)
    fig.tight_layout()
    save_figure(fig, OUT_JSON.with_suffix(".png"))

    a_plus, a_minus = amplitudes(p)
    rows = []
    for key in keys:
        c = cmp[key]
        within = "-" if c["ks_between_seeds_max"] is None else f"{c['ks_between_seeds_max']:.3f}"
        rows.append(f"| {key} | {_seeds(c['seeds'])} | {c['frac_low']:.3f} | "
                    f"{c['frac_mid']:.3f} | {c['frac_high']:.3f} | {c['mean']:.3f} | "
                    f"{c['bimodality_coefficient']:.3f} | {np.mean(c['rate_hz']):.2f} | "
                    f"{np.mean(c['rate_last10s_hz']):.2f} | {within} | {np.median(c['wall_s']):.1f} |")
    text = ["# Song, Miller & Abbott (2000) STDP: neuro.sim vs Brian2", "",
            f"`nice -n 10 python benchmarks/stdp_song_abbott.py` — Brian2's classic STDP example: "
            f"{p['N']} Poisson inputs at {p['F']:g} Hz onto one LIF neuron (taum {p['taum'] * 1e3:g} ms, "
            f"El {p['El'] * 1e3:g} mV, "
            f"vt {p['vt'] * 1e3:g} mV, vr {p['vr'] * 1e3:g} mV, taue {p['taue'] * 1e3:g} ms, current synapse "
            f"ge (Ee - vr) with Ee {p['Ee'] * 1e3:g} mV), additive all-to-all STDP (taupre = taupost = "
            f"{p['taupre'] * 1e3:g} ms, A+ = {a_plus:g}, A- = {a_minus:g}, weights clipped to [0, gmax = "
            f"{p['gmax']:g}]), initial w ~ U(0, gmax), {p['duration']:g} s at dt = {p['dt'] * 1e3:g} ms, "
            "float64. Different random streams in neuro and Brian2: the comparison is statistical.", "",
            "| simulator | seeds | w < 0.1 gmax | middle | w > 0.9 gmax | mean w/gmax | bimodality coeff. | "
            "rate (Hz) | rate last 10 s (Hz) | KS between own seeds (max) | wall per seed, median (s) |",
            "|---|---|---|---|---|---|---|---|---|---|---|", *rows, ""]
    for key, ks in cmp["ks"].items():
        text.append(f"- **Two-sample Kolmogorov-Smirnov test**, pooled final weights, {key} vs brian2: "
                    f"D = {ks['statistic']:.4f}, p = {ks['pvalue']:.3g}.")
    text += ["", "The weights of one run share one postsynaptic neuron, so they are not independent samples: "
             "the p-values are indicative only; the seed-to-seed KS statistic within one simulator (table) "
             "is the yardstick.", ""]
    if "same_seed" in cmp:
        ss = cmp["same_seed"]
        text += [f"torch vs numba backend on the same seeds ({_seeds(ss['seeds'])}: same Poisson draws and "
                 f"initial weights): largest |w_torch - w_numba| / gmax per seed "
                 f"{', '.join(f'{d:.1e}' for d in ss['max_abs_dw_over_gmax'])}; same output spike count: "
                 f"{', '.join(map(str, ss['same_spike_count']))}.", ""]
    if data.get("backend_timing"):
        bt = data["backend_timing"]
        text += [f"Backend timing, {bt['duration']:g} s simulated (seed {bt['seed']}, after a warm-up run, "
                 f"load average {bt.get('loadavg_1min', float('nan')):.1f}): "
                 + ", ".join(f"{k} {v:.2f} s" for k, v in bt["wall_s"].items()) + ".", ""]
    text += ["Wall times were measured on a shared 2-core machine while other jobs ran (load average 3-5): "
             "they are indicative, not a benchmark. neuro's wall time is `net.run` only; Brian2's is `run` "
             "with the numpy target (no compilation).", "",
             "Bimodality coefficient: Sarle's (skew^2 + 1) / (excess kurtosis + small-sample term); "
             "5/9 = 0.556 for a uniform distribution (the initial weights), larger for U-shaped ones.", "",
             "Histogram of the pooled final weights (fraction per bin of width 0.05 gmax):", "",
             "| w / gmax | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for b in range(BINS):
        text.append(f"| {b / BINS:.2f}-{(b + 1) / BINS:.2f} | "
                    + " | ".join(f"{cmp[k]['hist'][b]:.3f}" for k in keys) + " |")
    text += ["", "Model mapping: Brian2's example freezes the driving force at (Ee - vr), so its synapse "
             "is a current; neuro's LIF with one exponential channel and r = Ee - vr = 60 mV is the same "
             "ODE, weights in Brian2's units. Both integrate exactly (Brian2 method='linear'), start at "
             "v = 0 (Brian2's default), process presynaptic before postsynaptic events within a step and "
             "clip after every update. Plot: `stdp_song_abbott.png`; data: "
             "`stdp_song_abbott.json` (checked by `tests/test_stdp_song_abbott_results.py`)."]
    write_text(OUT_JSON.with_suffix(".md"), "\n".join(text) + "\n")
    print("\n".join(text))


def _seeds(seeds: list[int]) -> str:
    """``1-5`` for a contiguous list, else ``1, 3, 4``."""
    seeds = sorted(seeds)
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(map(str, seeds))


def estimate() -> None:
    """Time 1 s of each simulator and extrapolate to the full duration."""
    for name, fn in (("neuro", lambda: run_neuro(PARAMS, 1, "numba", 1.0)),
                     ("brian2", lambda: run_brian2(PARAMS, 1, 1.0))):
        r = fn()
        print(f"{name}: {r['simulator']}: 1 s in {r['wall_s']:.2f} s -> {PARAMS['duration']:g} s in "
              f"~{r['wall_s'] * PARAMS['duration'] / 60:.1f} min per seed; rate {r['rate_hz']:.1f} Hz")


def main() -> int:
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(1, 11)))
    ap.add_argument("--only", choices=("neuro", "brian2"), help="run one simulator only")
    ap.add_argument("--backend", choices=("numba", "torch"), default="numba",
                    help="neuro's backend for the full-length runs (the committed torch runs: "
                         "--only neuro --backend torch --seeds 1 2 3)")
    ap.add_argument("--estimate", action="store_true", help="time 1 s runs and exit")
    ap.add_argument("--report", action="store_true", help="only rewrite the report from the json")
    ap.add_argument("--timing-duration", type=float, default=2.0,
                    help="simulated seconds of the torch-vs-numba backend timing")
    ap.add_argument("--brian2-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.brian2_worker:
        job = json.loads(sys.stdin.read())
        print(json.dumps(brian2_worker(job["params"], job["seed"], job["duration"])))
        return 0
    if args.estimate:
        estimate()
        return 0
    from tqdm.auto import tqdm

    data = load()
    neuro_key = f"neuro_{args.backend}"
    todo = [(k, s) for k in (neuro_key, "brian2") for s in args.seeds
            if (args.only is None or k.startswith(args.only)) and str(s) not in data["runs"].get(k, {})]
    if not args.report:
        for key, seed in tqdm(todo, desc="runs", unit="run"):
            tqdm.write(f"{key} seed {seed}: {PARAMS['duration']:g} s ...")
            r = run_neuro(PARAMS, seed, args.backend) if key != "brian2" else run_brian2(PARAMS, seed)
            data["runs"].setdefault(key, {})[str(seed)] = r
            tqdm.write(f"  {r['wall_s']:.0f} s wall, rate {r['rate_hz']:.2f} Hz")
            save(data)
        if "backend_timing" not in data:
            wall = {}
            for b in ("torch", "numba"):
                run_neuro(PARAMS, 1, b, 0.01)  # compile / warm up
                wall[b] = run_neuro(PARAMS, 1, b, args.timing_duration)["wall_s"]
            data["backend_timing"] = {"duration": args.timing_duration, "seed": 1, "wall_s": wall,
                                      "loadavg_1min": os.getloadavg()[0]}
        save(data)
        data = load()  # with the runs of other processes
    full = data["runs"]
    data["comparison"] = compare(full)
    save(data)
    report(data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
