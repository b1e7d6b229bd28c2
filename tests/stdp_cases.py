"""neuro's side of the STDP spike-timing protocols of ``benchmarks/stdp_brian2.py`` (shared by that
benchmark and ``tests/test_sim_plasticity.py``, which replays the committed Brian2 results)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
BRIAN2_PAIRS = RESULTS / "stdp_brian2" / "brian2_pairs.json"


def load_brian2_pairs() -> dict:
    """The committed protocol and Brian2's final weights."""
    return json.loads(BRIAN2_PAIRS.read_text())


def neuro_weights(spec: dict, rule_name: str, backend: str = "torch") -> np.ndarray:
    """The protocol on neuro's side (float64; ``backend`` "torch" or "numba"): pre spike sources, post
    neurons made to spike at the given steps by a 30 mV driver (a spike one step after the driver's)."""
    import neuro.sim as sim

    case, dt = spec["cases"]["all"], spec["dt"]
    n = len(case["pre"])
    steps = lambda times: np.rint(np.asarray(times, np.float64) / dt).astype(np.int64)  # noqa: E731
    net = sim.Network(dt=dt, dtype=torch.float64, backend=backend)
    pre_idx = np.concatenate([np.full(len(s), k) for k, s in enumerate(case["pre"])])
    pre = net.add(sim.SpikeSource(n, steps(np.concatenate(case["pre"])) * dt, pre_idx, name="pre"))
    post_idx = np.concatenate([np.full(len(s), k) for k, s in enumerate(case["post"])])
    drv = net.add(sim.SpikeSource(n, (steps(np.concatenate(case["post"])) - 1) * dt, post_idx, name="drv"))
    post = net.add(sim.Population(n, "LIF", tau_mem=20e-3, v_th=-50e-3, v_reset=-70e-3, v_leak=-70e-3,
                                  synapses={"d": None}, delta_synapse="jump", name="post"))
    one = sim.FromList(np.arange(n), np.arange(n))
    proj = net.add(sim.Projection(pre, post, one, weight=np.asarray(case["w0"]),
                                  delay=np.asarray(case["delay"]),
                                  plasticity=sim.STDP(**spec["rules"][rule_name]), name="stdp"))
    net.add(sim.Projection(drv, post, one, weight=30e-3, name="drive"))
    spikes = net.add(sim.SpikeMonitor(post))
    net.run(case["duration"], progress=False)
    got = sorted(zip(spikes.indices.tolist(), spikes.steps.tolist()))
    want = sorted(zip(post_idx.tolist(), steps(np.concatenate(case["post"])).tolist()))
    if got != want:
        raise RuntimeError("the post neurons did not spike at the protocol's times")
    return proj.weights
