"""The CUBA network in NEST (``iaf_psc_exp``), timed; prints one JSON line.

Brian2's CUBA equations map onto ``iaf_psc_exp`` with the membrane input ``ge`` (a voltage) as the
current ``I = ge * C_m / tau_m``, so a spike's weight in pA is ``J = w * C_m / tau_m``. NEST's
smallest synaptic delay is one step (0.1 ms), which Brian2's zero-delay synapses also amount to.

    python nest_cuba.py --n 4000 --seed 1 --threads 1
"""

import argparse
import json
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--duration", type=float, default=1.0)
    args = ap.parse_args()

    import nest

    t_build = time.perf_counter()
    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": 0.1, "local_num_threads": args.threads, "rng_seed": args.seed})
    c_m, tau_m = 250.0, 20.0  # pF, ms (C_m only scales the weights)
    params = {"C_m": c_m, "tau_m": tau_m, "t_ref": 5.0, "E_L": -49.0, "V_reset": -60.0, "V_th": -50.0,
              "tau_syn_ex": 5.0, "tau_syn_in": 10.0, "I_e": 0.0}
    n, n_exc = args.n, args.n * 4 // 5
    p = 80.0 / n
    pop = nest.Create("iaf_psc_exp", n, params=params)
    pop.V_m = nest.random.uniform(-60.0, -50.0)
    j_e, j_i = 60 * 0.27 / 10 * c_m / tau_m, -20 * 4.5 / 10 * c_m / tau_m
    rule = {"rule": "pairwise_bernoulli", "p": p}
    nest.Connect(pop[:n_exc], pop, rule, {"synapse_model": "static_synapse", "weight": j_e, "delay": 0.1})
    nest.Connect(pop[n_exc:], pop, rule, {"synapse_model": "static_synapse", "weight": j_i, "delay": 0.1})
    rec = nest.Create("spike_recorder")
    nest.Connect(pop, rec)
    nest.Prepare()
    build = time.perf_counter() - t_build
    t0, c0 = time.perf_counter(), time.process_time()
    nest.Run(args.duration * 1000.0)
    sim, cpu = time.perf_counter() - t0, time.process_time() - c0
    nest.Cleanup()
    ev = rec.get("events")
    t, i = np.asarray(ev["times"]) / 1000.0, np.asarray(ev["senders"])
    order = np.lexsort((t, i))
    t, i = t[order], i[order]
    bounds = np.flatnonzero(np.r_[True, i[1:] != i[:-1], True])
    cvs = [np.diff(t[a:b]).std() / np.diff(t[a:b]).mean()
           for a, b in zip(bounds[:-1], bounds[1:]) if b - a >= 3]
    print(json.dumps({"simulator": f"nest {nest.__version__} iaf_psc_exp", "n": n, "seed": args.seed,
                      "threads": args.threads, "duration_s": args.duration, "sim_s": sim, "cpu_s": cpu,
                      "build_s": build,
                      "spikes": int(len(t)), "rate_hz": len(t) / (n * args.duration),
                      "isi_cv": float(np.mean(cvs)) if cvs else float("nan"),
                      "synapses": int(nest.GetKernelStatus("num_connections"))}))


if __name__ == "__main__":
    main()
