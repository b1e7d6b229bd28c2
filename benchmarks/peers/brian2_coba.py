"""Brette et al. (2007) COBA in Brian2 (the Brian team's benchmark script), timed; prints one JSON line.

Runs in an environment with Brian2 (a separate interpreter, see ``benchmarks/coba_brian2.py``).
The network: 4000 LIF neurons (3200 excitatory), exponential conductance synapses with reversal
potentials (in units of the leak conductance), p = 0.02, a constant drive I = 20 mV, Euler steps of
0.1 ms, as in :func:`neuro.sim.examples.coba`.

    python brian2_coba.py --target numpy --seed 1
"""

import argparse
import json
import shutil
import tempfile
import time

import numpy as np
from brian2_cuba import isi_cv


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--target", choices=["numpy", "cython", "cpp_standalone"], default="numpy")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--duration", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=1, help="timed runs (the statistics use the first)")
    args = ap.parse_args()

    import brian2 as b2
    from brian2 import ms, mV, second

    t_build = time.perf_counter()
    workdir = None
    if args.target == "cpp_standalone":
        workdir = tempfile.mkdtemp(prefix="brian2_coba_")
        b2.set_device("cpp_standalone", directory=workdir, build_on_run=True)
        b2.prefs.devices.cpp_standalone.openmp_threads = 0  # one thread
    else:
        b2.prefs.codegen.target = args.target
    b2.seed(args.seed)
    b2.defaultclock.dt = 0.1 * ms
    # Brian2 looks these names up in this frame when it generates code
    taum, taue, taui = 20 * ms, 5 * ms, 10 * ms  # noqa: F841
    Vt, Vr, El = -50 * mV, -60 * mV, -60 * mV  # noqa: F841
    Erev_exc, Erev_inh, I = 0 * mV, -80 * mV, 20 * mV  # noqa: F841, E741
    eqs = """
    dv/dt  = (ge*(Erev_exc-v)+gi*(Erev_inh-v)-(v-El) + I)*(1./taum) : volt (unless refractory)
    dge/dt = -ge/taue : 1
    dgi/dt = -gi/taui : 1
    """
    n, n_exc = args.n, args.n * 4 // 5
    P = b2.NeuronGroup(n, eqs, threshold="v>Vt", reset="v = Vr", refractory=5 * ms, method="euler")
    P.v = "(randn() * 5 - 55) * mV"
    P.ge = 0
    P.gi = 0
    we, wi = 0.6, 6.7  # noqa: F841
    Ce = b2.Synapses(P, P, on_pre="ge += we")
    Ci = b2.Synapses(P, P, on_pre="gi += wi")
    Ce.connect(f"i<{n_exc}", p=0.02)
    Ci.connect(f"i>={n_exc}", p=0.02)
    s_mon = b2.SpikeMonitor(P)
    net = b2.Network(b2.collect())
    if args.target == "cpp_standalone":
        net.run(args.duration * second)
        t, i = np.asarray(s_mon.t / second), np.asarray(s_mon.i)
        cpus = [float(b2.device._last_run_time)]  # main-loop CPU time (std::clock without OpenMP)
        for _ in range(args.repeats - 1):
            b2.device.run(with_output=False)
            cpus.append(float(b2.device._last_run_time))
        sims = [float("nan")] * len(cpus)
    else:
        net.run(b2.defaultclock.dt)  # generates and compiles every code object
        sims, cpus = [], []
        for k in range(args.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            net.run(args.duration * second)
            sims.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
            if k == 0:  # the warm-up step (step 0) and the first timed run, as neuro's steps 0 ..
                t, i = np.asarray(s_mon.t / second), np.asarray(s_mon.i)
    n_syn = int(len(Ce) + len(Ci))
    if workdir is not None:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps({"simulator": f"brian2 {b2.__version__} {args.target}", "n": n, "seed": args.seed,
                      "duration_s": args.duration, "sim_s": sims, "cpu_s": cpus,
                      "total_s": time.perf_counter() - t_build, "spikes": int(len(t)),
                      "rate_hz": len(t) / (n * args.duration), "isi_cv": isi_cv(t, i),
                      "synapses": n_syn, "threads": 1}))


if __name__ == "__main__":
    main()
