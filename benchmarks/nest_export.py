"""``neuro.sim.to_nest`` checked at benchmark size: CUBA (Brian2's example, 4000 neurons, p = 0.02,
1 s) run in neuro and exported to NEST 3, over several seeds, with neuro's drawn synapses
(``connectivity="exact"``) and with NEST's own rule (``"rules"``); and the STDP spike-pair curve of
neuro's ``STDP`` next to NEST's ``stdp_synapse`` (the export of the same network).

Writes ``benchmarks/results/nest_export/{summary.json, README.md, stdp_pairs.png}``. NEST runs in a
spawned process (its OpenMP runtime and Numba's crash together in one process).

    python benchmarks/nest_export.py --seeds 5

``--plasticity`` runs instead the other exported rules (``TripletSTDP`` -> ``stdp_triplet_synapse``,
``InhibitorySTDP`` -> ``vogels_sprekeler_synapse``, ``TsodyksMarkram`` -> ``tsodyks_synapse``) on the
protocols of ``tests/test_sim_nest_plasticity.py`` at 0.1 and 0.5 ms, with 10-pair trains and
Sjöström's pairing protocol at 5-50 Hz added, and writes ``benchmarks/results/nest_plasticity/``.

    python benchmarks/nest_export.py --plasticity
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from neuro._io import pyplot, save_figure, write_text
from neuro.astro.nest_reference import run_isolated
from neuro.sim.examples import cuba
from neuro.sim.stats import isi_cv

OUT = Path(__file__).resolve().parent / "results" / "nest_export"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import sim_nest_cases as C  # noqa: E402  (the spike-pair network of the tests)


def _nest_cuba(seeds: list, modes: tuple) -> dict:
    import neuro.sim as sim

    out = {}
    for mode in modes:
        for seed in seeds:
            c = cuba(seed=seed)
            start = time.perf_counter()
            nest_net = sim.to_nest(c.net, connectivity=mode)
            nest_net.run(1.0)
            s = nest_net[c.spikes]
            out[f"{mode}/{seed}"] = {"rate_hz": nest_net[c.rate].mean_rate(),
                                     "isi_cv": isi_cv(s.times, s.indices),
                                     "seconds": time.perf_counter() - start}
    net, proj, rule, duration = C.stdp_pairs("all")
    nest_net = sim.to_nest(net)
    nest_net.run(duration)
    conns = nest_net.nest.GetConnections(synapse_model="neuro_synapse_1")
    post_ids = np.asarray(nest_net.nodes[net._groups[2]].tolist())
    order = np.argsort(np.searchsorted(post_ids, np.asarray(conns.get("target"))))
    out["stdp"] = {"weight_mv": np.asarray(conns.get("weight"))[order].tolist(),
                   "delay_ms": np.asarray(conns.get("delay"))[order].tolist()}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--plasticity", action="store_true", help="the plasticity rules only (see above)")
    args = parser.parse_args()
    if args.plasticity:
        return plasticity_main()
    seeds = list(range(1, args.seeds + 1))
    ours = {}
    for seed in seeds:
        c = cuba(seed=seed)
        start = time.perf_counter()
        c.net.run(1.0, progress=False)
        ours[seed] = {"rate_hz": c.rate.mean_rate(), "isi_cv": isi_cv(c.spikes.times, c.spikes.indices),
                      "seconds": time.perf_counter() - start}
    theirs = run_isolated(_nest_cuba, seeds, ("exact", "rules"))
    net, proj, rule, duration = C.stdp_pairs("all")
    w0 = proj.weights
    net.run(duration, progress=False)
    lags_ms = C.STDP_LAGS * 0.1
    dw_neuro = (proj.weights - w0) * 1e3
    dw_nest = np.asarray(theirs["stdp"]["weight_mv"]) - w0 * 1e3
    nest_dt_ms = lags_ms + C.STDP_DELAY * 0.1 + np.asarray(theirs["stdp"]["delay_ms"])

    nest_runs = {k: v for k, v in theirs.items() if k != "stdp"}
    rows, summary = [], {"seeds": seeds, "neuro": ours, "nest": nest_runs}
    mean = lambda xs: statistics.fmean(xs)  # noqa: E731
    for label, get in (("neuro (numba)", lambda s, key: ours[s][key]),
                       ("NEST, exact synapses", lambda s, key: theirs[f"exact/{s}"][key]),
                       ("NEST, fixed rule", lambda s, key: theirs[f"rules/{s}"][key])):
        rate, cv = mean([get(s, "rate_hz") for s in seeds]), mean([get(s, "isi_cv") for s in seeds])
        rows.append(f"| {label} | {rate:.2f} | {cv:.3f} | {mean([get(s, 'seconds') for s in seeds]):.2f} |")
        summary[label] = {"rate_hz": rate, "isi_cv": cv}
    base = summary["neuro (numba)"]
    for label in ("NEST, exact synapses", "NEST, fixed rule"):
        summary[label]["rate_rel_diff"] = summary[label]["rate_hz"] / base["rate_hz"] - 1
        summary[label]["cv_rel_diff"] = summary[label]["isi_cv"] / base["isi_cv"] - 1
    curve = rule.pair_curve(nest_dt_ms * 1e-3) * 1e3
    own_curve = rule.pair_curve(lags_ms * 1e-3) * 1e3
    summary["stdp"] = {"lags_ms": lags_ms.tolist(), "dw_neuro_mv": dw_neuro.tolist(),
                       "dw_nest_mv": dw_nest.tolist(),
                       "max_abs_diff_nest_vs_curve_mv": float(np.abs(dw_nest - curve).max()),
                       "max_abs_diff_neuro_vs_curve_mv": float(np.abs(dw_neuro - own_curve).max())}
    OUT.mkdir(parents=True, exist_ok=True)
    write_text(OUT / "summary.json", json.dumps(summary, indent=1))
    fig, ax = pyplot().subplots(figsize=(6, 3.5))
    ax.plot(lags_ms, dw_neuro * 1e3, "o-", label="neuro STDP (axonal delay: t_post - t_pre - d)")
    ax.plot(nest_dt_ms, dw_nest * 1e3, "x--", label="NEST stdp_synapse (dendritic: t_post + d - t_pre)")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set(xlabel="pair timing as each simulator counts it (ms)", ylabel="weight change (µV)",
           title="Spike-pair STDP: neuro vs NEST (exported network)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, OUT / "stdp_pairs.png")
    text = ["# neuro.sim.to_nest: CUBA and STDP, neuro vs NEST 3", "",
            f"`python benchmarks/nest_export.py --seeds {args.seeds}` (CUBA 4000 neurons, p = 0.02, 1 s, "
            f"seeds {seeds}; mean over seeds; CPU, one thread each; wall seconds include the export and "
            "NEST's build, on a 2-core machine shared with other jobs: not a speed benchmark).", "",
            "| run | rate (Hz) | ISI CV | s per run |", "|---|---|---|---|", *rows, "",
            "Relative differences to neuro: " + ", ".join(
                f"{k}: rate {summary[k]['rate_rel_diff']:+.1%}, CV {summary[k]['cv_rel_diff']:+.1%}"
                for k in ("NEST, exact synapses", "NEST, fixed rule")), "",
            f"STDP spike pairs (`stdp_pairs.png`): NEST's weight changes equal the rule's curve at NEST's "
            f"timing to {summary['stdp']['max_abs_diff_nest_vs_curve_mv']:.2e} mV, neuro's at neuro's timing "
            f"to {summary['stdp']['max_abs_diff_neuro_vs_curve_mv']:.2e} mV."]
    write_text(OUT / "README.md", "\n".join(text) + "\n")
    print("\n".join(text))
    return 0


# -- the plasticity rules beyond pair STDP ---------------------------------------------------------------
PLASTIC_OUT = Path(__file__).resolve().parent / "results" / "nest_plasticity"
SJOSTROM_HZ = (5.0, 10.0, 20.0, 40.0, 50.0)


def _plastic_protocols(dt: float) -> list:
    """The test's protocols with 10-pair trains, plus 10 pairs at each Sjöström rate, +-10 ms."""
    out = C.rule_protocols(dt, train_pairs=10)
    for rate in SJOSTROM_HZ:
        for lag in (10.0, -10.0):
            pre = 50.0 + np.arange(10) * 1e3 / rate
            out.append((C._steps(np.r_[pre, pre[-1] + 1e3 / rate], dt), C._steps(pre + lag, dt)))
    return out


def _plastic_trains(dt: float) -> list:
    rng = np.random.default_rng(11)
    irregular = [C._steps(20.0 + np.cumsum(rng.exponential(1e3 / rate, 40)).round(1), dt)
                 for rate in (10, 40)]
    return C.stp_trains(dt) + [np.unique(t) for t in irregular]


def _nest_plastic(dts: list) -> dict:
    return {dt: C.nest_rules_side(dt, _plastic_protocols(dt), _plastic_trains(dt)) for dt in dts}


def plasticity_main() -> int:
    import torch

    import neuro.sim as sim

    # one torch thread: on a loaded 2-core machine two intra-op threads made this small network's
    # torch steps 30 times slower (spinning on each tiny matmul)
    torch.set_num_threads(1)
    dts = [1e-4, 5e-4]
    start = time.perf_counter()
    theirs = run_isolated(_nest_plastic, dts)
    nest_seconds = time.perf_counter() - start
    summary, rows, curves = {"dt_s": dts, "nest_seconds": nest_seconds}, [], {}
    for dt in dts:
        protocols, trains = _plastic_protocols(dt), _plastic_trains(dt)
        net, projs, states, _ = C.rules_net("neuro", dt, protocols, trains)
        start = time.perf_counter()
        net.run(C.rules_duration(dt, protocols, trains), progress=False)
        ref, key = theirs[dt], f"{dt * 1e3:g} ms"
        summary[key] = {"neuro_seconds": time.perf_counter() - start, "notes": ref["notes"]}
        for name in ("triplet", "vogels"):
            ours, nest_dw = projs[name].weights - C.W0, ref[name] - C.W0
            diff = float(np.abs(ours - nest_dw).max())
            summary[key][name] = {"n_protocols": len(protocols), "largest_change": float(np.abs(ours).max()),
                                  "max_abs_diff": diff, "relative": diff / float(np.abs(ours).max()),
                                  "dw_neuro": ours.tolist(), "dw_nest": nest_dw.tolist()}
            rows.append(f"| {name} | {key} | {len(protocols)} | {np.abs(ours).max():.3e} | {diff:.2e} | "
                        f"{diff / np.abs(ours).max():.1e} |")
            curves[(name, dt)] = (ours, nest_dw)
        for name, kw in C.STP_RULES.items():
            rule, rec = sim.TsodyksMarkram(**kw), ref["recorded"][name]
            expected = [rule.efficacies(t * dt) * 1e-3 for t in trains]
            jumps = np.diff(states[name].v, axis=0)
            ours = [jumps[:, j][np.abs(jumps[:, j]) > 1e-9] for j in range(len(trains))]
            nest_eff = [rec["weights"][rec["post"] == j] for j in range(len(trains))]
            d_nest = max(float(np.abs(a - b).max()) for a, b in zip(nest_eff, ours))
            d_rule = max(float(np.abs(a - b).max()) for a, b in zip(ours, expected))
            big = max(float(e.max()) for e in expected)
            n_spikes = int(sum(t.size for t in trains))
            summary[key][f"stp_{name}"] = {"n_trains": len(trains), "n_spikes": n_spikes,
                                           "largest_efficacy": big, "max_abs_diff_nest_vs_neuro": d_nest,
                                           "max_abs_diff_neuro_vs_rule": d_rule}
            rows.append(f"| STP {name} | {key} | {len(trains)} trains | {big:.3e} | {d_nest:.2e} | "
                        f"{d_nest / big:.1e} |")
            curves[(name, dt)] = (ours, nest_eff)
    neuro_times = [f"{summary[f'{dt * 1e3:g} ms']['neuro_seconds']:.1f} s at {dt * 1e3:g} ms" for dt in dts]
    PLASTIC_OUT.mkdir(parents=True, exist_ok=True)
    write_text(PLASTIC_OUT / "summary.json", json.dumps(summary, indent=1))
    fig, axes = pyplot().subplots(1, 3, figsize=(12, 3.6))
    for ax, name in zip(axes[:2], ("triplet", "vogels")):
        ours, nest_dw = curves[(name, 1e-4)]
        ax.plot(ours * 1e6, "o", label="neuro (torch, float64)")
        ax.plot(nest_dw * 1e6, "x", label="NEST export")
        ax.set(xlabel="protocol", ylabel="weight change (µV)", title=f"{name}, dt = 0.1 ms")
        ax.legend(fontsize=7)
    for j, (ours_j, nest_j) in enumerate(zip(*curves[("facilitating", 1e-4)])):
        axes[2].plot(ours_j * 1e3, "o-", ms=3, color=f"C{j}")
        axes[2].plot(nest_j * 1e3, "x", color=f"C{j}")
    axes[2].set(xlabel="spike", ylabel="delivered w u x (mV)", title="facilitating STP (o neuro, x NEST)")
    fig.tight_layout()
    save_figure(fig, PLASTIC_OUT / "rules.png")
    text = ["# neuro.sim.to_nest: plasticity rules, neuro vs NEST 3", "",
            "`python benchmarks/nest_export.py --plasticity`: one network per dt with every exported rule; "
            "neuro on `backend=\"torch\"`, float64; NEST " + _nest_version() + " runs the export with the "
            "post-synaptic spikes 2d + 1 steps earlier (NEST's delay is dendritic, neuro's axonal, and "
            "one step longer on a delta channel), so both time every pair alike.", "",
            "| rule | dt | protocols | largest change / efficacy (V) | max abs diff neuro - NEST "
            "| relative |",
            "|---|---|---|---|---|---|", *rows, "",
            "Weight rules: 15 single pairs (-29..29 ms), 10-pair trains at 20 Hz (+-10 ms) and 50 Hz "
            "(+-5 ms), four triplets, Sjöström's protocol (10 pairs, +-10 ms) at "
            f"{', '.join(f'{r:g}' for r in SJOSTROM_HZ)} Hz; every synapse ends with a presynaptic "
            "spike (NEST applies potentiation at the next one). STP: regular trains at 20/50/100 Hz "
            "with a recovery spike, irregular and Poisson trains; efficacies read from neuro's `v` "
            "jumps (non-leaky neurons) and NEST's weight_recorder.", "",
            f"Wall time: neuro {', '.join(neuro_times)} (torch runner, one thread), NEST side "
            f"{nest_seconds:.1f} s in total (spawned process, both dt; a 2-core machine shared with other "
            "jobs)."]
    write_text(PLASTIC_OUT / "README.md", "\n".join(text) + "\n")
    print("\n".join(text))
    return 0


def _nest_version() -> str:
    from importlib.metadata import version

    try:
        return version("nest-simulator")
    except Exception:  # pragma: no cover - NEST built from source
        return "3"


if __name__ == "__main__":
    raise SystemExit(main())
