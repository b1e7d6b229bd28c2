"""neuro's side of the plasticity-rule protocols of ``benchmarks/plasticity_brian2.py`` (shared by that
benchmark and ``tests/test_sim_plasticity_rules.py``, which replays the committed Brian2 results).

The spec (JSON) holds the rules as ``{"type": class name, "params": {...}}`` (a
:class:`~neuro.sim.RewardSTDP` also ``"modulator": {"values", "value_dt", "value"}``, a
:class:`~neuro.sim.TsodyksMarkram` optionally ``"weight_rule"``) and two cases: ``"pairs"`` (pre
arrival trains and post spike trains per synapse; the final weights are compared) and ``"stp"``
(presynaptic trains onto non-leaky IF neurons that never fire; the delivered values are compared).
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from neuro.sim.plasticity import PlasticityRule

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
BRIAN2_RULES = RESULTS / "plasticity_brian2" / "brian2_rules.json"


class UnknownRule(PlasticityRule):
    """A rule the compiled kernels do not know (the tests of their refusals)."""


def load_brian2_rules() -> dict:
    """The committed protocol and Brian2's results."""
    return json.loads(BRIAN2_RULES.read_text())


def case_names(spec: dict) -> tuple[list[str], list[str]]:
    """The names of the weight protocols (``"pairs"``) and of the STP delivery protocols (``"stp"``)."""
    of = spec["case_of"]
    return [n for n, c in of.items() if c == "pairs"], [n for n, c in of.items() if c == "stp"]


@contextmanager
def one_torch_thread():
    """One torch thread inside (module fixtures start before the ``one_torch_thread`` fixture): the
    torch runner's thousands of tiny steps only contend with a second thread on a 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def make_rule(spec: dict):
    """A rule object of :mod:`neuro.sim.plasticity` from its JSON description."""
    import neuro.sim as sim

    params = dict(spec["params"])
    if spec["type"] == "RewardSTDP":
        mod = sim.Neuromodulator(spec["modulator"].get("value", 0.0), name="dopamine")
        mod.set_schedule(spec["modulator"]["values"], spec["modulator"]["value_dt"])
        params["modulator"] = mod
    if spec.get("weight_rule") is not None:
        params["weight_rule"] = make_rule(spec["weight_rule"])
    return getattr(sim, spec["type"])(**params)


def _steps(times, dt: float) -> np.ndarray:
    return np.rint(np.asarray(times, np.float64) / dt).astype(np.int64)


def neuro_weights(spec: dict, rule_names: str | list[str], dtype: torch.dtype = torch.float64,
                  backend: str = "torch") -> np.ndarray | dict[str, np.ndarray]:
    """The ``"pairs"`` case on neuro's side (``backend``, default torch): pre spike sources with the synapses'
    delays, post LIF neurons made to spike at the protocol's steps by a 30 mV driver (a spike one
    step after the driver's). Several rules run side by side in one network (a view of the post
    population and a plastic projection each). Returns the final weights (a dict for a list of names)."""
    import neuro.sim as sim

    names = [rule_names] if isinstance(rule_names, str) else list(rule_names)
    case, dt = spec["cases"]["pairs"], spec["dt"]
    n = len(case["pre"])
    net = sim.Network(dt=dt, dtype=dtype, backend=backend)
    pre_idx = np.concatenate([np.full(len(s), k) for k, s in enumerate(case["pre"])])
    pre = net.add(sim.SpikeSource(n, _steps(np.concatenate(case["pre"]), dt) * dt, pre_idx, name="pre"))
    post_idx = np.concatenate([np.full(len(s), k) for k, s in enumerate(case["post"])])
    post_steps = _steps(np.concatenate(case["post"]), dt)
    drv = net.add(sim.SpikeSource(n, (post_steps - 1) * dt, post_idx, name="drv"))
    one = sim.FromList(np.arange(n), np.arange(n))
    # one post population, a view of n neurons per rule (one neuron update per step for all rules)
    post = net.add(sim.Population(n * len(names), "LIF", tau_mem=20e-3, v_th=-50e-3, v_reset=-70e-3,
                                  v_leak=-70e-3, synapses={"d": None}, delta_synapse="jump", name="post"))
    projs = {}
    for j, name in enumerate(names):
        view = post[j * n:(j + 1) * n]
        projs[name] = net.add(sim.Projection(pre, view, one, weight=np.asarray(case["w0"]),
                                             delay=np.asarray(case["delay"]),
                                             plasticity=make_rule(spec["rules"][name]), name=name))
        net.add(sim.Projection(drv, view, one, weight=30e-3, name=f"drive_{name}"))
    spikes = net.add(sim.SpikeMonitor(post))
    net.run(case["duration"], progress=False)
    want = sorted((j * n + k, t) for j in range(len(names))
                  for k, t in zip(post_idx.tolist(), post_steps.tolist()))
    if sorted(zip(spikes.indices.tolist(), spikes.steps.tolist())) != want:
        raise RuntimeError("the post neurons did not spike at the protocol's times")
    out = {name: p.weights for name, p in projs.items()}
    return out[rule_names] if isinstance(rule_names, str) else out


def neuro_deliveries(spec: dict, rule_names: str | list[str], dtype: torch.dtype = torch.float64,
                     backend: str = "torch") -> list[np.ndarray] | dict[str, list[np.ndarray]]:
    """The ``"stp"`` case on neuro's side: presynaptic trains onto IF neurons (delta "jump" synapses,
    no leak, threshold out of reach), so ``v`` is the running sum of the delivered values. Returns
    per synapse the delivered values in time order (a dict of those for a list of names)."""
    import neuro.sim as sim

    names = [rule_names] if isinstance(rule_names, str) else list(rule_names)
    case, dt = spec["cases"]["stp"], spec["dt"]
    n = len(case["pre"])
    net = sim.Network(dt=dt, dtype=dtype, backend=backend)
    pre_idx = np.concatenate([np.full(len(s), k) for k, s in enumerate(case["pre"])])
    pre = net.add(sim.SpikeSource(n, _steps(np.concatenate(case["pre"]), dt) * dt, pre_idx, name="pre"))
    one = sim.FromList(np.arange(n), np.arange(n))
    post = net.add(sim.Population(n * len(names), "IF", v_th=1.0, v_reset=0.0, v_leak=0.0,
                                  synapses={"d": None}, delta_synapse="jump", name="post"))
    for j, name in enumerate(names):
        net.add(sim.Projection(pre, post[j * n:(j + 1) * n], one, weight=np.asarray(case["w0"]),
                               delay=np.asarray(case["delay"]), plasticity=make_rule(spec["rules"][name]),
                               name=name))
    mon = net.add(sim.StateMonitor(post, ["v"]))
    net.run(case["duration"], progress=False)
    v = np.asarray(mon.v, np.float64)
    jumps = np.diff(np.concatenate([np.zeros((1, v.shape[1])), v]), axis=0)
    out = {name: [jumps[:, j * n + k][jumps[:, j * n + k] != 0] for k in range(n)]
           for j, name in enumerate(names)}
    return out[rule_names] if isinstance(rule_names, str) else out
