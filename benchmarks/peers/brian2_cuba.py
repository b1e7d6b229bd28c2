"""Brian2's CUBA example (its documentation's ``CUBA``), timed; prints one JSON line.

Runs in an environment with Brian2 (Brian2 2.9 needs numpy < 2.4, so the B4 benchmark starts it
in a separate interpreter, see ``benchmarks/b4_cuba.py``). Connection probability ``p = 80 / n``
keeps the in-degree of the 4000-neuron original (p = 0.02) when the network grows.

    python brian2_cuba.py --n 4000 --target cpp_standalone --seed 1
"""

import argparse
import json
import shutil
import tempfile
import time

import numpy as np


def isi_cv(t: np.ndarray, i: np.ndarray) -> float:
    """Mean coefficient of variation of the inter-spike intervals (neurons with >= 3 spikes)."""
    order = np.lexsort((t, i))
    t, i = t[order], i[order]
    cvs = []
    for k in np.unique(i):
        isi = np.diff(t[i == k])
        if len(isi) >= 2:
            cvs.append(isi.std() / isi.mean())
    return float(np.mean(cvs)) if cvs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--target", choices=["numpy", "cython", "cpp_standalone"], default="cython")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--duration", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=1, help="timed runs (the statistics use the first)")
    ap.add_argument("--keep", action="store_true",
                    help="cpp_standalone: keep the project folder (its ./main can be rerun and timed)")
    args = ap.parse_args()

    import brian2 as b2
    from brian2 import ms, mV, second

    t_build = time.perf_counter()
    if args.target == "cpp_standalone":
        workdir = tempfile.mkdtemp(prefix="brian2_cuba_")
        b2.set_device("cpp_standalone", directory=workdir, build_on_run=True)
        b2.prefs.devices.cpp_standalone.openmp_threads = 0  # one thread
    else:
        b2.prefs.codegen.target = args.target
    b2.seed(args.seed)
    b2.defaultclock.dt = 0.1 * ms
    # Brian2 looks these names up in this frame when it generates code
    taum, taue, taui = 20 * ms, 5 * ms, 10 * ms  # noqa: F841
    Vt, Vr, El = -50 * mV, -60 * mV, -49 * mV  # noqa: F841
    eqs = """
    dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
    dge/dt = -ge/taue : volt
    dgi/dt = -gi/taui : volt
    """
    n, n_exc = args.n, args.n * 4 // 5
    p = 80.0 / n
    P = b2.NeuronGroup(n, eqs, threshold="v>Vt", reset="v = Vr", refractory=5 * ms, method="exact")
    P.v = "Vr + rand() * (Vt - Vr)"
    P.ge = 0 * mV
    P.gi = 0 * mV
    we = (60 * 0.27 / 10) * mV  # noqa: F841
    wi = (-20 * 4.5 / 10) * mV  # noqa: F841
    Ce = b2.Synapses(P, P, on_pre="ge += we")
    Ci = b2.Synapses(P, P, on_pre="gi += wi")
    Ce.connect(f"i<{n_exc}", p=p)
    Ci.connect(f"i>={n_exc}", p=p)
    s_mon = b2.SpikeMonitor(P)
    net = b2.Network(b2.collect())
    if args.target == "cpp_standalone":
        net.run(args.duration * second)
        total = time.perf_counter() - t_build
        t, i = np.asarray(s_mon.t / second), np.asarray(s_mon.i)
        # without OpenMP the binary times its main loop with std::clock(): CPU time, not wall time
        cpus = [float(b2.device._last_run_time)]
        for _ in range(args.repeats - 1):  # run the compiled binary again
            b2.device.run(with_output=False)
            cpus.append(float(b2.device._last_run_time))
        sims = [float("nan")] * len(cpus)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    else:
        net.run(b2.defaultclock.dt)  # generates and compiles every code object
        sims, cpus = [], []
        for k in range(args.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            net.run(args.duration * second)
            sims.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
            if k == 0:  # the warm-up step and the first timed run
                t, i = np.asarray(s_mon.t / second), np.asarray(s_mon.i)
        total = time.perf_counter() - t_build
    print(json.dumps({"simulator": f"brian2 {b2.__version__} {args.target}", "n": n, "seed": args.seed,
                      "duration_s": args.duration, "sim_s": sims, "cpu_s": cpus, "total_s": total,
                      "spikes": int(len(t)), "rate_hz": len(t) / (n * args.duration),
                      "isi_cv": isi_cv(t, i), "synapses": int(len(Ce) + len(Ci)), "threads": 1,
                      "project_dir": workdir if args.target == "cpp_standalone" and args.keep else None}))


if __name__ == "__main__":
    main()
