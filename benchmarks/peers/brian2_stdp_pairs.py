"""Brian2's side of the STDP spike-timing protocols of ``benchmarks/stdp_brian2.py``; prints one JSON line.

Reads the protocol (JSON on stdin: rules, and per synapse its pre and post spike times and the
delay) and runs every rule on every synapse in Brian2 (numpy target, float64): two
SpikeGeneratorGroups joined one-to-one by Synapses with event-driven traces, Brian2's classic STDP
written for unit trace increments (``on_pre`` runs ``delay`` after the presynaptic spike, ``on_post``
at the postsynaptic spike). Needs an interpreter with Brian2 (numpy < 2.4).
"""

import json
import sys

import numpy as np


def run_rule(rule: dict, case: dict, dt: float) -> list:
    import brian2 as b2

    b2.start_scope()
    b2.defaultclock.dt = dt * b2.second
    n = len(case["pre"])
    pre_i = [k for k in range(n) for _ in case["pre"][k]]
    pre_t = [t for k in range(n) for t in case["pre"][k]]
    post_i = [k for k in range(n) for _ in case["post"][k]]
    post_t = [t for k in range(n) for t in case["post"][k]]
    pre = b2.SpikeGeneratorGroup(n, pre_i, pre_t * b2.second)
    post = b2.SpikeGeneratorGroup(n, post_i, post_t * b2.second)
    soft = rule["weight_dependence"] == "multiplicative"
    f_plus = "(wmax - w) / wmax" if soft else "1"
    f_minus = "(w - wmin) / wmax" if soft else "1"
    bump = "= 1" if rule["pairing"] == "nearest" else "+= 1"
    model = """w : 1
               dx/dt = -x / taup : 1 (event-driven)
               dy/dt = -y / taum : 1 (event-driven)"""
    on_pre = f"""w = clip(w - Am * {f_minus} * y, wmin, wmax)
                 x {bump}"""
    on_post = f"""w = clip(w + Ap * {f_plus} * x, wmin, wmax)
                  y {bump}"""
    ns = {"taup": rule["tau_plus"] * b2.second, "taum": rule["tau_minus"] * b2.second, "Ap": rule["A_plus"],
          "Am": rule["A_minus"], "wmin": rule["w_min"], "wmax": rule["w_max"]}
    syn = b2.Synapses(pre, post, model, on_pre=on_pre, on_post=on_post, namespace=ns)
    syn.connect(j="i")
    syn.w = case["w0"]
    syn.pre.delay = case["delay"] * b2.second
    b2.run(case["duration"] * b2.second)
    return np.asarray(syn.w[:], np.float64).tolist()


def main() -> None:
    import brian2 as b2

    b2.prefs.codegen.target = "numpy"
    spec = json.load(sys.stdin)
    out = {"simulator": f"brian2 {b2.__version__}", "results": {}}
    for name, rule in spec["rules"].items():
        for case_name, case in spec["cases"].items():
            out["results"][f"{name}/{case_name}"] = run_rule(rule, case, spec["dt"])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
