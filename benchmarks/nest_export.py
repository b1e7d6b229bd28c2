"""``neuro.sim.to_nest`` checked at benchmark size: CUBA (Brian2's example, 4000 neurons, p = 0.02,
1 s) run in neuro and exported to NEST 3, over several seeds, with neuro's drawn synapses
(``connectivity="exact"``) and with NEST's own rule (``"rules"``); and the STDP spike-pair curve of
neuro's ``STDP`` next to NEST's ``stdp_synapse`` (the export of the same network).

Writes ``benchmarks/results/nest_export/{summary.json, README.md, stdp_pairs.png}``. NEST runs in a
spawned process (its OpenMP runtime and Numba's crash together in one process).

    python benchmarks/nest_export.py --seeds 5
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
    args = parser.parse_args()
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


if __name__ == "__main__":
    raise SystemExit(main())
