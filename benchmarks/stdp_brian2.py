"""STDP spike-timing protocols, neuro vs Brian2 (issue 21, oracle (a)): the weight change of single
synapses under given pre/post spike trains, for additive and multiplicative STDP with all-to-all and
nearest pairing, heterogeneous delays, float64.

Brian2 runs offline here (``peers/brian2_stdp_pairs.py`` in a Brian2 interpreter, see
``peers/common.py: brian2_python``); its weights are committed with the protocol in
``benchmarks/results/stdp_brian2/brian2_pairs.json``, which ``tests/test_sim_plasticity.py`` replays
on neuro's side. Writes that JSON, ``README.md`` and ``pair_curve.png``.

    python benchmarks/stdp_brian2.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from neuro._io import pyplot, save_figure, write_text

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from peers.common import PEERS, brian2_python  # noqa: E402

from stdp_cases import neuro_weights  # noqa: E402  (neuro's side, shared with the test)

OUT = Path(__file__).resolve().parent / "results" / "stdp_brian2"
DT = 1e-4
RULES = {f"{dep}_{pairing}": dict(tau_plus=16.8e-3, tau_minus=33.7e-3, A_plus=1e-5, A_minus=1.05e-5,
                                  w_min=0.0, w_max=1e-3, weight_dependence=dep, pairing=pairing)
         for dep in ("additive", "multiplicative") for pairing in ("all", "nearest")}


def protocol() -> dict:
    """Spike times (seconds, on the dt grid) per synapse; ``pairs``: one pre/post pair per lag
    (arrival to post spike) with delays of 0-3 steps; ``bursts``: pre/post bursts and alternations."""
    lags = [k for k in range(-600, 601, 40) if k != 0]  # steps; 0 (same step) is convention, left out
    pre, post, delay = [], [], []
    for j, lag in enumerate(lags):
        d = j % 4
        pre.append([1000 - d])
        post.append([1000 + lag])
        delay.append(d)
    bursts = [([1000, 1100, 1200], [1300]), ([1300], [1000, 1100, 1200]),
              ([1000, 1100, 1200], [1050, 1150]), ([1050, 1150], [1000, 1100, 1200]),
              ([1000, 1030, 1500], [1010, 1490, 1520])]
    for p, q in bursts:
        pre.append([t - 2 for t in p])  # arrivals at p with a 2-step delay
        post.append(q)
        delay.append(2)
    n = len(pre)
    return {"dt": DT, "rules": RULES, "lags_steps": lags,
            "cases": {"all": {"pre": [[t * DT for t in s] for s in pre],
                              "post": [[t * DT for t in s] for s in post],
                              "delay": [d * DT for d in delay], "w0": [0.5e-3] * n, "duration": 1800 * DT}}}


def main() -> int:
    exe = brian2_python()
    if exe is None:
        raise SystemExit("Brian2 is not importable: see benchmarks/peers/common.py: brian2_python")
    spec = protocol()
    proc = subprocess.run([exe, str(PEERS / "brian2_stdp_pairs.py")], input=json.dumps(spec), text=True,
                          capture_output=True, timeout=900)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"Brian2 failed:\n{proc.stderr[-3000:]}")
    b2 = json.loads(lines[-1])
    spec["brian2"] = b2
    OUT.mkdir(parents=True, exist_ok=True)
    write_text(OUT / "brian2_pairs.json", json.dumps(spec, indent=1))
    rows, w0 = [], np.asarray(spec["cases"]["all"]["w0"])
    fig, ax = pyplot().subplots(figsize=(6, 3.5))
    n_lags = len(spec["lags_steps"])
    for name in RULES:
        ours = neuro_weights(spec, name)
        theirs = np.asarray(b2["results"][f"{name}/all"])
        diff = np.abs(ours - theirs).max()
        rel = diff / RULES[name]["A_plus"]
        rows.append(f"| {name} | {np.abs(theirs - w0).max():.3e} | {diff:.2e} | {rel:.1e} |")
        if name.endswith("_all"):
            lags_ms = np.asarray(spec["lags_steps"]) * DT * 1e3
            ax.plot(lags_ms, (ours - w0)[:n_lags] * 1e6, "o-", ms=3, label=f"neuro {name}")
            ax.plot(lags_ms, (theirs - w0)[:n_lags] * 1e6, "x", label=f"Brian2 {name}")
    ax.set(xlabel="t_post - t_pre_arrival (ms)", ylabel="weight change (µV)",
           title="STDP spike pairs: neuro vs Brian2")
    ax.axhline(0, color="grey", lw=0.5)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, OUT / "pair_curve.png")
    text = ["# STDP spike-timing protocols: neuro vs Brian2", "",
            f"`python benchmarks/stdp_brian2.py` ({b2['simulator']}, numpy target, float64; neuro torch "
            f"backend, float64). {len(w0)} synapses: {n_lags} single pairs (lags -60..60 ms, delays 0-3 "
            "steps) and 5 "
            "burst/alternation trains (delay 2 steps), each under four rules.", "",
            "| rule | largest change (V) | max abs diff neuro - Brian2 (V) | diff / A_plus |",
            "|---|---|---|---|",
            *rows, "", "The protocol and Brian2's weights are in `brian2_pairs.json`; "
            "`tests/test_sim_plasticity.py` replays the protocol in neuro and compares to 1e-9 A_plus."]
    write_text(OUT / "README.md", "\n".join(text) + "\n")
    print("\n".join(text))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
