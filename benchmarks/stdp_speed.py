r"""Speed of a plastic network: pair-based STDP on the torch reference vs the compiled CPU kernel
(issue 21, section 1), with Brian2 side by side.

The network is Brian2's classic STDP example (Song, Miller & Abbott 2000; the model of
``benchmarks/stdp_song_abbott.py``) widened to ``--post`` neurons: ``--inputs`` Poisson inputs at
15 Hz, all-to-all onto LIF neurons (tau_m 10 ms, one 5 ms exponential synapse), additive STDP with
all-to-all pairing (A_+ = 0.01 g_max, A_- = 1.05 A_+, tau 20 ms, w in [0, g_max]); dt = 0.1 ms,
float64 unless ``--dtype float32``. Every simulator is timed on one thread after a short warm-up run
(Numba's compile / cache load, Brian2's code generation), over ``--duration`` seconds of biological
time (the torch runner, slower, over ``--torch-duration``, 2 s by default: compare the column
"wall s per simulated s").
For scale, the same network with static synapses on the numba backend. ``--rule`` swaps pair STDP
for another compiled rule on the same network (Brian2 then skipped): ``triplet`` (TripletSTDP,
A2_+ = A_+, A3_+ = A_+ / 10, A2_- = 1.2 A_+), ``vogels`` (InhibitorySTDP, eta = A_+, rho0 = 5 Hz, on
these excitatory synapses: the weights saturate and the rate rises; the cost follows the rate),
``reward`` (RewardSTDP, eta = 10 / s, tau_c = 0.2 s, the modulator 1 in every other 100 ms and 0
between: the per-step weight update runs half the time) or ``stp`` (TsodyksMarkram U = 1,
tau_d = 2 ms, no facilitation, around the pair STDP: the cost of the composition; stronger
depression silences these neurons).

    nice -n 10 python benchmarks/stdp_speed.py                     # 1000 x 100, 10 s
    python benchmarks/stdp_speed.py --duration 1 --torch-duration 1 --brian2 none   # quick look
    python benchmarks/stdp_speed.py --rule triplet --torch-duration 0.2 --tag _triplet

Writes ``results/stdp_speed_<cpu>.json`` and ``.md``. Brian2 runs in its side environment
(``peers/common.py: brian2_python``): this file re-runs itself there with ``--brian2-worker``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
P = {"F": 15.0, "taum": 10e-3, "tau": 20e-3, "Ee": 0.0, "vt": -54e-3, "vr": -60e-3, "El": -74e-3,
     "taue": 5e-3, "gmax": 0.01, "dApre": 0.01, "dt": 1e-4}
WARMUP = 0.01  # seconds simulated before timing (compile, cache load, code generation)


RULES = ("stdp", "triplet", "vogels", "reward", "stp")


def make_rule(name: str, duration: float):
    """The rule ``name`` (:data:`RULES`) on the benchmark's weight scale."""
    import neuro.sim as sim

    a_plus = P["dApre"] * P["gmax"]
    pair = sim.STDP(tau_plus=P["tau"], tau_minus=P["tau"], A_plus=a_plus, A_minus=1.05 * a_plus,
                    w_min=0.0, w_max=P["gmax"])
    if name == "stdp":
        return pair
    if name == "triplet":
        return sim.TripletSTDP(tau_plus=P["tau"], tau_minus=P["tau"], A2_plus=a_plus, A3_plus=0.1 * a_plus,
                               A2_minus=1.2 * a_plus, A3_minus=0.0, w_min=0.0, w_max=P["gmax"])
    if name == "vogels":
        return sim.InhibitorySTDP(tau=P["tau"], eta=a_plus, rho0=5.0, w_min=0.0, w_max=P["gmax"])
    if name == "reward":
        mod = sim.Neuromodulator(0.0, name="dopamine")
        mod.set_schedule(np.arange(int((duration + 1.0) / 0.1) + 1) % 2, value_dt=0.1)
        return sim.RewardSTDP(mod, tau_plus=P["tau"], tau_minus=P["tau"], A_plus=a_plus,
                              A_minus=1.05 * a_plus, tau_c=0.2, eta=10.0, w_min=0.0, w_max=P["gmax"])
    if name == "stp":
        return sim.TsodyksMarkram(U=1.0, tau_d=2e-3, tau_f=0.0, weight_rule=pair)
    raise ValueError(f"rule must be one of {RULES}, got {name!r}")


def neuro_run(backend: str, inputs: int, post: int, duration: float, dtype: str, plastic: bool = True,
              seed: int = 1, rule: str = "stdp") -> dict:
    """Time ``duration`` seconds of the network on a neuro backend (after a warm-up run)."""
    import torch

    import neuro.sim as sim

    torch.set_num_threads(1)
    net = sim.Network(dt=P["dt"], dtype=getattr(torch, dtype), backend=backend, seed=seed)
    inp = net.add(sim.PoissonInput(inputs, P["F"]))
    out = net.add(sim.Population(post, "LIF", tau_mem=P["taum"], v_th=P["vt"], v_reset=P["vr"],
                                 v_leak=P["El"], r=P["Ee"] - P["vr"], v_init=P["vr"],
                                 synapses={"e": P["taue"]}))
    proj = net.add(sim.Projection(inp, out, sim.AllToAll(), weight=sim.Uniform(0.0, P["gmax"]), target="e",
                                  plasticity=make_rule(rule, WARMUP + duration) if plastic else None))
    spikes = net.add(sim.SpikeMonitor(out))
    net.run(WARMUP, progress=False)
    n0 = spikes.num_spikes
    t0, c0 = time.perf_counter(), time.process_time()
    net.run(duration, progress=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    w = proj.weights / P["gmax"]
    name = f"neuro {backend} {dtype}" + (f" {rule}" if plastic else " (static synapses)")
    return {"simulator": name, "duration": duration, "wall_s": wall, "cpu_s": cpu,
            "rate_hz": (spikes.num_spikes - n0) / duration / post, "mean_w": float(w.mean()),
            "frac_low": float((w < 0.1).mean()), "frac_high": float((w > 0.9).mean())}


def brian2_worker(job: dict) -> dict:
    """Brian2's side (its interpreter: no neuro import): the same network, event-driven traces."""
    import brian2 as b2

    target, inputs, post, duration = job["target"], job["inputs"], job["post"], job["duration"]
    b2.prefs.codegen.target = target
    b2.seed(job["seed"])
    ns = {"taum": P["taum"] * b2.second, "taupre": P["tau"] * b2.second, "taupost": P["tau"] * b2.second,
          "Ee": P["Ee"] * b2.volt, "vt": P["vt"] * b2.volt, "vr": P["vr"] * b2.volt, "El": P["El"] * b2.volt,
          "taue": P["taue"] * b2.second, "gmax": P["gmax"], "dApre": P["dApre"] * P["gmax"],
          "dApost": -1.05 * P["dApre"] * P["gmax"]}
    b2.defaultclock.dt = P["dt"] * b2.second
    from peers.brian2_song_abbott import song_abbott_network

    inp, neurons, syn = song_abbott_network(b2, inputs, post, P["F"], ns)
    neurons.v = P["vr"] * b2.volt
    spikes = b2.SpikeMonitor(neurons)
    net = b2.Network(inp, neurons, syn, spikes)
    net.run(WARMUP * b2.second)
    n0 = spikes.num_spikes
    t0, c0 = time.perf_counter(), time.process_time()
    net.run(duration * b2.second)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    w = np.asarray(syn.w[:]) / P["gmax"]
    return {"simulator": f"brian2 {b2.__version__} ({target} target)", "duration": duration, "wall_s": wall,
            "cpu_s": cpu, "rate_hz": (spikes.num_spikes - n0) / duration / post, "mean_w": float(w.mean()),
            "frac_low": float((w < 0.1).mean()), "frac_high": float((w > 0.9).mean())}


def brian2_run(target: str, inputs: int, post: int, duration: float) -> dict:
    sys.path.insert(0, str(HERE))
    from peers.common import brian2_python

    exe = brian2_python()
    if exe is None:
        raise SystemExit("Brian2 is not importable: see benchmarks/peers/common.py: brian2_python "
                         "(or --brian2 none)")
    job = {"target": target, "inputs": inputs, "post": post, "duration": duration, "seed": 1}
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([exe, __file__, "--brian2-worker"], input=json.dumps(job), text=True,
                          capture_output=True, timeout=3600, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"Brian2 failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return json.loads(lines[-1])


def report(rows: list[dict], args: argparse.Namespace, cpu: str) -> str:
    lines = [f"# Plasticity speed: {args.inputs} Poisson inputs x {args.post} LIF, all-to-all, rule "
             f"{args.rule} (stdp: pair STDP)", "",
             f"{args.inputs * args.post} plastic synapses, 15 Hz inputs, dt = 0.1 ms, {args.dtype}, "
             f"one thread; CPU: {cpu}. A shared machine: the CPU time of the process is the figure "
             "compared (wall time includes waiting for a core). "
             "`" + " ".join(["python benchmarks/stdp_speed.py", *sys.argv[1:]]) + "`", "",
             "| simulator | simulated s | CPU s | **CPU s per simulated s** | wall s | rate (Hz) | "
             "mean w/gmax | w<0.1 | w>0.9 |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['simulator']} | {r['duration']:g} | {r['cpu_s']:.2f} | "
                     f"**{r['cpu_s'] / r['duration']:.3f}** | {r['wall_s']:.2f} | {r['rate_hz']:.1f} | "
                     f"{r['mean_w']:.3f} | {r['frac_low']:.3f} | {r['frac_high']:.3f} |")
    if any(r["simulator"].startswith("brian2") for r in rows):
        lines += ["", "Different random streams (Poisson draws, initial weights) in neuro and Brian2: the "
                  "rates and weight statistics agree statistically, not spike for spike."]
    lines += ["", "The torch runner is timed over its first seconds (higher rates before STDP depresses the "
              "inputs); its cost per step hardly depends on the rate."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inputs", type=int, default=1000)
    ap.add_argument("--post", type=int, default=100)
    ap.add_argument("--duration", type=float, default=10.0, help="simulated seconds (numba, Brian2)")
    ap.add_argument("--torch-duration", type=float, default=2.0,
                    help="simulated seconds of the torch runner (slow: compare wall s per simulated s)")
    ap.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    ap.add_argument("--brian2", choices=["cython", "numpy", "none"], default="cython")
    ap.add_argument("--rule", choices=RULES, default="stdp", help="the plasticity rule (Brian2: stdp only)")
    ap.add_argument("--tag", default="", help="suffix of the results' file name")
    ap.add_argument("--brian2-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.brian2_worker:
        print(json.dumps(brian2_worker(json.load(sys.stdin))))
        return
    sys.path.insert(0, str(HERE))
    from harness import cpu_name, write_results

    rows = []
    for backend, plastic, duration in (("numba", True, args.duration), ("numba", False, args.duration),
                                       ("torch", True, args.torch_duration)):
        if duration > 0:
            rows.append(neuro_run(backend, args.inputs, args.post, duration, args.dtype, plastic,
                                  rule=args.rule))
            print(json.dumps(rows[-1]), flush=True)
    if args.brian2 != "none" and args.rule == "stdp":
        rows.append(brian2_run(args.brian2, args.inputs, args.post, args.duration))
        print(json.dumps(rows[-1]), flush=True)
    slug = "".join(ch if ch.isalnum() else "_" for ch in cpu_name()).strip("_").lower()
    payload = {"cpu": cpu_name(), "args": {k: v for k, v in vars(args).items() if k != "brian2_worker"},
               "params": P, "rows": rows}
    path = write_results(f"stdp_speed_{slug}{args.tag}", payload, report(rows, args, cpu_name()))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
