"""Diehl & Cook's adaptive threshold (``sim.AdaptiveThreshold``), neuro vs Brian2 (issue 21, section 1).

Three LIF neurons under constant drives with ``v > v_th + theta``, ``theta += theta_plus`` per spike
and ``dtheta/dt = -theta / tau_theta``, 600 ms at dt = 0.5 ms, float64. Brian2 runs offline
(``peers/brian2_adaptive_threshold.py`` in a Brian2 interpreter, see ``peers/common.py:
brian2_python``); its spike steps and theta traces are committed with the protocol in
``benchmarks/results/adaptive_threshold_brian2.json``, which ``tests/test_sim_adaptive_threshold.py``
replays on neuro's side. Writes that JSON and a ``.md`` summary.

    python benchmarks/adaptive_threshold_brian2.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from neuro import sim
from neuro._io import write_text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers.common import PEERS, brian2_python  # noqa: E402

OUT = Path(__file__).resolve().parent / "results"
PROTOCOL = {"dt": 0.5e-3, "duration": 0.6, "tau_mem": 20e-3, "v_th": -52e-3, "v_reset": -65e-3,
            "v_leak": -65e-3, "drive": [16e-3, 20e-3, 30e-3], "theta_plus": 0.5e-3, "tau_theta": 30e-3}


def neuro_run(spec: dict, backend: str = "numba") -> tuple[list, np.ndarray]:
    """neuro's spike steps per neuron and theta ``[steps, neurons]`` (end of every step) for ``spec``."""
    net = sim.Network(dt=spec["dt"], dtype=torch.float64, backend=backend)
    option = sim.AdaptiveThreshold(spec["theta_plus"], spec["tau_theta"])
    pop = net.add(sim.Population(len(spec["drive"]), "LIF", tau_mem=spec["tau_mem"], v_th=spec["v_th"],
                                 v_reset=spec["v_reset"], v_leak=spec["v_leak"], bias=np.array(spec["drive"]),
                                 adaptive_threshold=option))
    spikes = net.add(sim.SpikeMonitor(pop))
    mon = net.add(sim.StateMonitor(pop, ["theta"]))
    net.run(spec["duration"], progress=False)
    steps = [spikes.steps[spikes.indices == k].tolist() for k in range(len(spec["drive"]))]
    return steps, mon.theta


def main() -> int:
    exe = brian2_python()
    if exe is None:
        raise SystemExit("Brian2 is not importable: see benchmarks/peers/common.py: brian2_python")
    proc = subprocess.run([exe, str(PEERS / "brian2_adaptive_threshold.py")], input=json.dumps(PROTOCOL),
                          text=True, capture_output=True, timeout=600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"Brian2 failed:\n{proc.stderr[-3000:]}")
    b2 = json.loads(lines[-1])
    steps, theta = neuro_run(PROTOCOL)
    same = steps == b2["spike_steps"]
    diff = float(np.abs(theta - np.asarray(b2["theta"])).max())
    OUT.mkdir(parents=True, exist_ok=True)
    write_text(OUT / "adaptive_threshold_brian2.json", json.dumps({"protocol": PROTOCOL, "brian2": b2}))
    text = ["# Diehl & Cook adaptive threshold: neuro vs Brian2", "",
            f"`python benchmarks/adaptive_threshold_brian2.py` ({b2['simulator']}, numpy target, exact "
            "integration; neuro numba backend; float64). Three LIF neurons, drives "
            f"{PROTOCOL['drive']} V, theta_plus {PROTOCOL['theta_plus']} V, "
            f"tau_theta {PROTOCOL['tau_theta']} s, "
            f"{PROTOCOL['duration']} s at dt {PROTOCOL['dt']} s.", "",
            f"- spikes per neuron: neuro {[len(s) for s in steps]}, "
            f"Brian2 {[len(s) for s in b2['spike_steps']]}; "
            f"spike steps identical: **{same}**",
            f"- largest |theta_neuro - theta_Brian2| over every step: **{diff:.2e} V**", ""]
    write_text(OUT / "adaptive_threshold_brian2.md", "\n".join(text))
    print("\n".join(text))
    return 0 if same and diff < 1e-12 else 1


if __name__ == "__main__":
    raise SystemExit(main())
