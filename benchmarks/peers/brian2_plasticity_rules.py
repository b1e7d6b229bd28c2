"""Brian2's side of the plasticity-rule protocols of ``benchmarks/plasticity_brian2.py``; prints one
JSON line.

Reads the protocol (JSON on stdin; format in ``tests/plasticity_cases.py``) and runs each rule in
Brian2 (numpy target, float64) with SpikeGeneratorGroups joined one-to-one by Synapses: event-driven
traces, ``on_pre`` ``delay`` after the presynaptic spike (Brian2 runs the ``pre`` pathway before
``post`` within a step), reward-modulated STDP's eligibility decay and weight update as
``run_regularly`` operations at the start and the end of every step with the neuromodulator as a
TimedArray, and Tsodyks–Markram in Brian2's event-driven form (``v_post += w*u*x; x *= 1 - u;
u += U*(1 - u)``) onto neurons ``v : 1`` recorded every step. Needs an interpreter with Brian2.
"""

import json
import sys

import numpy as np

TRACE = "d{q}/dt = -{q} / {tau} : 1 (event-driven)"


def _bump(rule: dict) -> str:
    return "= 1" if rule["params"].get("pairing", "all") == "nearest" else "+= 1"


def synapse_code(rule: dict, deliver: bool):
    """(model, on_pre, on_post, namespace, run_regularly list, initial values) of one rule."""
    kind, p = rule["type"], rule["params"]
    model, pre, post, ns, regular, init = ["w : 1"], [], [], {}, [], {}
    clip = "clip({}, wmin, wmax)"
    if "w_min" in p:
        ns.update(wmin=p["w_min"], wmax=p["w_max"])
    if kind == "TripletSTDP":
        b = _bump(rule)
        model += [TRACE.format(q=q, tau=tau) for q, tau in
                  (("r1", "taup"), ("r2", "taux"), ("o1", "taum"), ("o2", "tauy"))]
        pre += [f"w = {clip.format('w - o1 * (A2m + A3m * r2)')}", f"r1 {b}", f"r2 {b}"]
        post += [f"w = {clip.format('w + r1 * (A2p + A3p * o2)')}", f"o1 {b}", f"o2 {b}"]
        ns.update(taup=p["tau_plus"], taux=p["tau_x"], taum=p["tau_minus"], tauy=p["tau_y"],
                  A2p=p["A2_plus"], A3p=p["A3_plus"], A2m=p["A2_minus"], A3m=p["A3_minus"])
    elif kind == "RewardSTDP":
        b = _bump(rule)
        model += ["c : 1", TRACE.format(q="x", tau="taup"), TRACE.format(q="y", tau="taum")]
        pre += ["c = c - Am * y", f"x {b}"]
        post += ["c = c + Ap * x", f"y {b}"]
        ns.update(taup=p["tau_plus"], taum=p["tau_minus"], Ap=p["A_plus"], Am=p["A_minus"], tauc=p["tau_c"],
                  eta=p["eta"])
        regular += [("c = c * exp(-dt / tauc)", "start"),
                    (f"w = {clip.format('w + eta * M(t) * c * dt')}", "end")]
    elif kind == "InhibitorySTDP":
        model += [TRACE.format(q="x", tau="tau"), TRACE.format(q="y", tau="tau")]
        pre += [f"w = {clip.format('w + eta * (y - alpha)')}", "x += 1"]
        post += [f"w = {clip.format('w + eta * x')}", "y += 1"]
        ns.update(tau=p["tau"], eta=p["eta"], alpha=2 * p["rho0"] * p["tau"])
    elif kind == "TsodyksMarkram":
        inner = rule.get("weight_rule")
        if inner is not None:
            model, pre, post, ns, regular, init = synapse_code(inner, deliver=False)
        model += ["du/dt = (U - u) / tauf : 1 (event-driven)", "dxs/dt = (1 - xs) / taud : 1 (event-driven)"]
        # the delivered value uses w from before the long-term rule's update and u, x before theirs
        pre = (["v_post += w * u * xs"] if deliver else []) + pre + ["xs = xs * (1 - u)",
                                                                     "u = u + U * (1 - u)"]
        ns.update(U=p["U"], tauf=p["tau_f"], taud=p["tau_d"])
        init.update(u=p["U"], xs=1.0)
        return model, pre, post, ns, regular, init
    else:
        raise ValueError(f"no Brian2 model for {kind}")
    if deliver:
        pre = ["v_post += w"] + pre
    return model, pre, post, ns, regular, init


def run_case(rule: dict, case: dict, step: float, kind: str):
    import brian2 as b2

    b2.start_scope()
    b2.defaultclock.dt = step * b2.second
    n = len(case["pre"])
    pre_i = [k for k in range(n) for _ in case["pre"][k]]
    pre_t = [t for k in range(n) for t in case["pre"][k]]
    pre = b2.SpikeGeneratorGroup(n, pre_i, pre_t * b2.second)
    if kind == "pairs":
        post_i = [k for k in range(n) for _ in case["post"][k]]
        post_t = [t for k in range(n) for t in case["post"][k]]
        post = b2.SpikeGeneratorGroup(n, post_i, post_t * b2.second)
    else:
        post = b2.NeuronGroup(n, "v : 1")
    model, on_pre, on_post, ns, regular, init = synapse_code(rule, deliver=kind == "stp")
    ns = {k: v * b2.second if k.startswith("tau") else v for k, v in ns.items()}
    if "eta" in ns and any("M(t)" in code for code, _ in regular):
        ns["eta"] = ns["eta"] * b2.Hz  # the rate of reward-modulated STDP, 1/s
    if rule["type"] == "RewardSTDP":
        ns["M"] = b2.TimedArray(rule["modulator"]["values"], dt=rule["modulator"]["value_dt"] * b2.second)
    syn = b2.Synapses(pre, post, "\n".join(model), on_pre="\n".join(on_pre),
                      on_post="\n".join(on_post) if on_post and kind == "pairs" else None, namespace=ns)
    syn.connect(j="i")
    syn.w = case["w0"]
    for key, value in init.items():
        setattr(syn, key, value)
    syn.pre.delay = case["delay"] * b2.second
    for code, when in regular:
        syn.run_regularly(code, dt=step * b2.second, when=when)
    mon = b2.StateMonitor(post, "v", record=True) if kind == "stp" else None
    b2.run(case["duration"] * b2.second)
    if kind == "pairs":
        return np.asarray(syn.w[:], np.float64).tolist()
    v = np.asarray(mon.v[:], np.float64)  # [n, steps], recorded at the start of each step
    jumps = np.diff(np.concatenate([np.zeros((n, 1)), v], axis=1), axis=1)
    return [row[row != 0].tolist() for row in jumps]


def main() -> None:
    import brian2 as b2

    b2.prefs.codegen.target = "numpy"
    spec = json.load(sys.stdin)
    out = {"simulator": f"brian2 {b2.__version__}", "results": {}}
    for name, rule in spec["rules"].items():
        kind = spec["case_of"][name]
        out["results"][name] = run_case(rule, spec["cases"][kind], spec["dt"], kind)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
