"""Plasticity rules beyond pair STDP, neuro vs Brian2 (issue 21, oracle (a)): triplet STDP
(all-to-all and nearest-spike), reward-modulated STDP under a scheduled neuromodulator, Vogels et al.
(2011) inhibitory plasticity, and Tsodyks–Markram short-term plasticity (depressing, facilitating,
and combined with a long-term rule), float64.

Brian2 runs offline (``peers/brian2_plasticity_rules.py`` in a Brian2 interpreter, see
``peers/common.py: brian2_python``); the protocol and Brian2's results are committed in
``benchmarks/results/plasticity_brian2/brian2_rules.json``, which ``tests/test_sim_plasticity_rules.py``
replays on neuro's side. Writes that JSON, ``README.md`` and ``rules.png``.

    python benchmarks/plasticity_brian2.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from neuro._io import pyplot, save_figure, write_text

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from peers.common import PEERS, brian2_python  # noqa: E402

from plasticity_cases import neuro_deliveries, neuro_weights  # noqa: E402  (neuro's side, shared with the test)

OUT = Path(__file__).resolve().parent / "results" / "plasticity_brian2"
DT = 1e-4
W0 = 0.5e-3  # plastic weights start mid-range (w_max = 1 mV)
TRIPLET = dict(tau_plus=16.8e-3, tau_minus=33.7e-3, tau_x=101e-3, tau_y=125e-3, A2_plus=5e-6, A3_plus=6.2e-6,
               A2_minus=7e-6, A3_minus=2.3e-6, w_min=0.0, w_max=1e-3)
VOGELS = dict(tau=20e-3, eta=1e-5, rho0=5.0, w_min=0.0, w_max=1e-3)
# the neuromodulator: one value per 5 ms, changing sign, over the whole run
MOD_DT, MOD = 5e-3, [round(float(np.sin(0.7 * k) + 0.3), 6) for k in range(120)]
RULES = {
    "triplet_all": {"type": "TripletSTDP", "params": {**TRIPLET, "pairing": "all"}},
    "triplet_nearest": {"type": "TripletSTDP", "params": {**TRIPLET, "pairing": "nearest"}},
    "reward_stdp": {"type": "RewardSTDP", "params": dict(tau_plus=20e-3, tau_minus=20e-3, A_plus=1e-5,
                                                         A_minus=1.05e-5, tau_c=50e-3, eta=20.0, w_min=0.0,
                                                         w_max=1e-3),
                    "modulator": {"values": MOD, "value_dt": MOD_DT, "value": 0.0}},
    "vogels": {"type": "InhibitorySTDP", "params": VOGELS},
    "stp_depressing": {"type": "TsodyksMarkram", "params": dict(U=0.5, tau_d=200e-3, tau_f=10e-3)},
    "stp_facilitating": {"type": "TsodyksMarkram", "params": dict(U=0.1, tau_d=100e-3, tau_f=500e-3)},
    "stp_with_vogels": {"type": "TsodyksMarkram", "params": dict(U=0.3, tau_d=150e-3, tau_f=100e-3),
                        "weight_rule": {"type": "InhibitorySTDP", "params": VOGELS}},
}
CASE_OF = {name: "stp" if name.startswith("stp") else "pairs" for name in RULES}
SCALE = {"triplet_all": 5e-6, "triplet_nearest": 5e-6, "reward_stdp": 1e-5, "vogels": 1e-5}  # amplitudes


def pairs_case() -> dict:
    """Per synapse: pre arrivals (the source spikes ``delay`` earlier) and post spikes, in steps.
    Single pairs at lags -60..60 ms (0 included: pre first), pairing trains of 5 pairs at 20 and
    40 Hz with +-10 ms, and pre-post-pre / post-pre-post triplets."""
    lags = list(range(-600, 601, 40))
    arrivals, posts = [[1000] for _ in lags], [[1000 + lag] for lag in lags]
    for rate in (20, 40):
        period = int(round(1 / (rate * DT)))
        for lag in (100, -100):
            a = [1000 + k * period for k in range(5)]
            arrivals.append(a)
            posts.append([t + lag for t in a])
    for first in (0, 1):  # pre-post-pre and post-pre-post, 5 ms and 15 ms apart
        for gap in (50, 150):
            outer, inner = [1000, 1000 + 2 * gap], [1000 + gap]
            arrivals.append(outer if first == 1 else inner)
            posts.append(inner if first == 1 else outer)
    delays = [k % 4 for k in range(len(arrivals))]
    return {"pre": [[(t - d) * DT for t in a] for a, d in zip(arrivals, delays)],
            "post": [[t * DT for t in p] for p in posts], "delay": [d * DT for d in delays],
            "w0": [W0] * len(arrivals), "duration": (max(map(max, arrivals + posts)) + 200) * DT,
            "lags_steps": lags}


def stp_case() -> dict:
    """Presynaptic trains: 8 spikes at 20, 50 and 100 Hz, each followed by a recovery spike 200 ms
    later, and two irregular trains; delays of 0-3 steps; w = 1 mV."""
    trains = []
    for rate in (20, 50, 100):
        period = int(round(1 / (rate * DT)))
        train = [100 + k * period for k in range(8)]
        trains.append(train + [train[-1] + 2000])
    trains.append([50, 80, 90, 95, 1000, 1010, 1500, 4000, 4005, 5400])
    trains.append([100, 130, 140, 400, 410, 415, 900, 2000, 2010, 2020, 2300])
    delays = [k % 4 for k in range(len(trains))]
    return {"pre": [[(t - d) * DT for t in s] for s, d in zip(trains, delays)],
            "delay": [d * DT for d in delays], "w0": [1e-3] * len(trains),
            "duration": (max(map(max, trains)) + 100) * DT}


def protocol() -> dict:
    return {"dt": DT, "rules": RULES, "case_of": CASE_OF, "cases": {"pairs": pairs_case(), "stp": stp_case()}}


def neuro_results(spec: dict) -> dict:
    """neuro's side of every rule (two networks: the pairs rules side by side, the STP rules)."""
    pairs = [n for n, c in spec["case_of"].items() if c == "pairs"]
    stp = [n for n, c in spec["case_of"].items() if c == "stp"]
    return {**neuro_weights(spec, pairs), **neuro_deliveries(spec, stp)}


def compare(spec: dict, name: str, ours, b2: dict) -> tuple[float, float]:
    """(largest change or delivered value, max abs difference neuro - Brian2)."""
    if spec["case_of"][name] == "pairs":
        theirs = np.asarray(b2["results"][name])
        w0 = np.asarray(spec["cases"]["pairs"]["w0"])
        return float(np.abs(theirs - w0).max()), float(np.abs(ours - theirs).max())
    theirs = [np.asarray(r) for r in b2["results"][name]]
    if [len(a) for a in ours] != [len(b) for b in theirs]:
        raise RuntimeError(f"{name}: different numbers of deliveries")
    return (float(max(np.abs(b).max() for b in theirs)),
            float(max(np.abs(a - b).max() for a, b in zip(ours, theirs))))


def main() -> int:
    import torch

    torch.set_num_threads(1)  # tiny per-step ops: extra threads only spin
    exe = brian2_python()
    if exe is None:
        raise SystemExit("Brian2 is not importable: see benchmarks/peers/common.py: brian2_python")
    spec = protocol()
    start = time.perf_counter()
    proc = subprocess.run([exe, str(PEERS / "brian2_plasticity_rules.py")], input=json.dumps(spec), text=True,
                          capture_output=True, timeout=900)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"Brian2 failed:\n{proc.stderr[-3000:]}")
    b2 = json.loads(lines[-1])
    b2["seconds"] = round(time.perf_counter() - start, 1)
    spec["brian2"] = b2
    OUT.mkdir(parents=True, exist_ok=True)
    write_text(OUT / "brian2_rules.json", json.dumps(spec, indent=1))
    rows, ours = [], neuro_results(spec)
    for name in RULES:
        largest, diff = compare(spec, name, ours[name], b2)
        rows.append(f"| {name} | {spec['case_of'][name]} | {largest:.3e} | {diff:.2e} | "
                    f"{diff / largest:.1e} |")
    plot(spec, b2, ours)
    case = spec["cases"]
    text = ["# Plasticity rules: neuro vs Brian2", "",
            f"`python benchmarks/plasticity_brian2.py` ({b2['simulator']}, numpy target, float64, "
            f"{b2['seconds']} s; neuro torch backend, float64). `pairs`: {len(case['pairs']['pre'])} "
            "synapses "
            f"(31 single pairs at -60..60 ms, 4 pairing trains at 20/40 Hz with +-10 ms, 4 triplets; "
            f"delays 0-3 steps), final weights compared. `stp`: {len(case['stp']['pre'])} presynaptic trains "
            "(20-100 Hz with a recovery spike, two irregular), every delivered value compared.", "",
            "| rule | case | largest change / delivered value | max abs diff neuro - Brian2 | relative |",
            "|---|---|---|---|---|", *rows, "",
            "The protocol and Brian2's results are in `brian2_rules.json`; "
            "`tests/test_sim_plasticity_rules.py` replays it in neuro and compares to 1e-9 of the largest "
            "change."]
    write_text(OUT / "README.md", "\n".join(text) + "\n")
    print("\n".join(text))
    return 0


def plot(spec: dict, b2: dict, results: dict) -> None:
    fig, axes = pyplot().subplots(1, 3, figsize=(12, 3.5))
    lags = np.asarray(spec["cases"]["pairs"]["lags_steps"])
    for name, ax in (("triplet_all", axes[0]), ("vogels", axes[0])):
        ours = results[name][:lags.size] - W0
        theirs = np.asarray(b2["results"][name])[:lags.size] - W0
        ax.plot(lags * DT * 1e3, ours * 1e6, "o-", ms=3, label=f"neuro {name}")
        ax.plot(lags * DT * 1e3, theirs * 1e6, "x", label=f"Brian2 {name}")
    axes[0].set(xlabel="t_post - t_pre_arrival (ms)", ylabel="weight change (µV)", title="single pairs")
    for name in ("stp_depressing", "stp_facilitating"):
        ours = results[name][1]  # the 50 Hz train
        axes[1].plot(ours * 1e3, "o-", ms=3, label=f"neuro {name}")
        axes[1].plot(np.asarray(b2["results"][name][1]) * 1e3, "x", label="Brian2")
    axes[1].set(xlabel="spike of the 50 Hz train (the last: 200 ms later)", ylabel="delivered w u x (mV)",
                title="Tsodyks–Markram")
    from neuro.sim import TripletSTDP

    rates = np.array([0.1, 10, 20, 30, 40, 50])
    for lag in (10e-3, -10e-3):
        rule = TripletSTDP()  # the defaults (NESTML's stdp_triplet), amplitudes relative to w_max = 1
        axes[2].plot(rates, rule.frequency_curve(lag, rates), "o-",
                     label=f"triplet, {lag * 1e3:+.0f} ms")
    axes[2].set(xlabel="pairing frequency (Hz)", ylabel="change after 60 pairs (w_max = 1)",
                title="TripletSTDP(): pairing frequency")
    for ax in axes:
        ax.legend(fontsize=6)
        ax.axhline(0, color="grey", lw=0.5)
    fig.tight_layout()
    save_figure(fig, OUT / "rules.png")


if __name__ == "__main__":
    raise SystemExit(main())
