"""Brian2's side of ``benchmarks/adaptive_threshold_brian2.py``; prints one JSON line.

Reads the protocol (JSON on stdin: dt, duration, the LIF parameters, per-neuron driving voltages and
the threshold adaptation ``theta_plus``, ``tau_theta``) and runs Diehl & Cook's adaptive threshold as
Brian2 users write it (numpy target, float64, exact integration): ``v > v_th + theta`` fires,
``theta += theta_plus`` on a spike, ``dtheta/dt = -theta / tau_theta``. Returns the spike steps per
neuron and theta at the end of every step. Needs an interpreter with Brian2 (numpy < 2.4).
"""

import json
import sys

import numpy as np


def main() -> int:
    import brian2 as b2

    spec = json.loads(sys.stdin.read())
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = spec["dt"] * b2.second
    eqs = """dv/dt = (v_leak - v + I) / tau_m : volt
             dtheta/dt = -theta / tau_theta : volt
             I : volt"""
    ns = {"v_leak": spec["v_leak"] * b2.volt, "tau_m": spec["tau_mem"] * b2.second,
          "tau_theta": spec["tau_theta"] * b2.second, "v_th": spec["v_th"] * b2.volt,
          "v_reset": spec["v_reset"] * b2.volt, "theta_plus": spec["theta_plus"] * b2.volt}
    group = b2.NeuronGroup(len(spec["drive"]), eqs, threshold="v > v_th + theta",
                           reset="v = v_reset; theta += theta_plus", method="exact", namespace=ns)
    group.v = spec["v_leak"] * b2.volt
    group.I = np.asarray(spec["drive"]) * b2.volt
    spikes = b2.SpikeMonitor(group)
    theta = b2.StateMonitor(group, "theta", record=True, when="end")
    b2.run(spec["duration"] * b2.second)
    steps = np.round(np.asarray(spikes.t / b2.second) / spec["dt"]).astype(int)
    idx = np.asarray(spikes.i)
    print(json.dumps({"simulator": f"brian2 {b2.__version__}",
                      "spike_steps": [steps[idx == k].tolist() for k in range(len(spec["drive"]))],
                      "theta": np.asarray(theta.theta / b2.volt).T.tolist()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
