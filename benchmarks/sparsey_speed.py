"""Sparsey speed on one CPU core: frames/s of a 2-level network at 16x24, and the fixed-time property
(frames/s and retrieval with 10 vs 10,000 stored items).

    NUMBA_NUM_THREADS=1 python benchmarks/sparsey_speed.py [--out benchmarks/results/sparsey]

Measures (median of --rounds):
1. the digits network (``DIGITS_LEVELS``: level 1, 8x6 macs of Q=8, K=32 over 4x4 pixel windows;
   level 2, 2x2 macs of Q=8, K=128 over 5x4 level-1 macs) learning the 1437 training digits of the
   embedded set, once as one fused kernel call (``learn_items``) and once frame by frame from Python
   (one call per frame: what a streaming user pays); recognition of the 360 test digits;
2. with 10 and with 10,000 stored random 16x24 items (12 of 384 pixels on): recognition frames/s
   (max-V), learning frames/s (1,000 further items), and retrieval: the fraction of stored items whose
   max-V code equals the learned one (exact) and that are identified as themselves by the likelihood
   readout — for the digits network and for one large mac (Q=8, K=1024).
CUDA figures need a GPU: not measured here.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import cpu_name  # noqa: E402

from neuro._io import write_text  # noqa: E402
from neuro.models.sparsey import CodeMemory, Level, SparseyNetwork, code_overlap  # noqa: E402
from neuro.models.sparsey.analysis import random_inputs  # noqa: E402
from neuro.models.sparsey.data import binary_digits  # noqa: E402
from neuro.models.sparsey.recipes import digits_levels  # noqa: E402

DIGITS_LEVELS = digits_levels()
BIG_MAC = [Level(Q=8, K=1024)]


def timed(fn, rounds: int) -> float:
    """Median CPU time of this process for ``fn()`` over ``rounds`` calls (after a warm-up call).

    CPU time, not wall time: on a shared machine other processes' load stretches the wall clock but
    not the work done on our one core. ``WALL`` records the wall-clock medians alongside."""
    fn()
    cpu, wall = [], []
    for _ in range(rounds):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    WALL.append(statistics.median(wall))
    return statistics.median(cpu)


WALL: list[float] = []


def digits_speed(rounds: int) -> dict:
    x, _ = binary_digits("train")
    xt, _ = binary_digits("test")

    def learn_fused():
        SparseyNetwork((24, 16), DIGITS_LEVELS, seed=0).learn_items(x)

    def learn_streamed():
        net = SparseyNetwork((24, 16), DIGITS_LEVELS, seed=0)
        state = None
        for frame in x[:300]:
            _, state = net.learn(frame[None, None], state, reset=np.ones((1, 1)))

    net = SparseyNetwork((24, 16), DIGITS_LEVELS, seed=0)
    net.learn_items(x)

    def recognise():
        net.recognise_items(xt)

    t_fused, t_stream = timed(learn_fused, rounds), timed(learn_streamed, rounds)
    t_rec = timed(recognise, rounds)
    return {"network": "L1 8x6 macs Q=8 K=32 over 4x4 px; L2 2x2 macs Q=8 K=128 over 5x4 L1 macs",
            "learn_frames": len(x), "learn_fused_fps": len(x) / t_fused, "learn_fused_s": t_fused,
            "learn_streamed_fps": 300 / t_stream, "recognise_fps": len(xt) / t_rec,
            "weights_bytes": int(net.weights.w.numel())}


def stored_items(levels, name: str, rounds: int, n_big: int = 10_000, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    items = random_inputs(rng, n_big, 384, 12).reshape(n_big, 24, 16)
    extra = random_inputs(rng, 1000, 384, 12).reshape(1000, 24, 16)
    probe = random_inputs(rng, 2000, 384, 12).reshape(2000, 24, 16)
    out = {"network": name}
    for n in (10, n_big):
        net = SparseyNetwork((24, 16), levels, seed=seed)
        learned = net.learn_items(items[:n]).codes
        saved = net.state_dict()

        def recognise(net=net):
            net.recognise_items(probe)

        def learn_more(net=net, saved=saved):
            net.load_state_dict(saved)
            net.learn_items(extra)

        t_rec = timed(recognise, rounds)
        t_learn = timed(learn_more, rounds)
        net.load_state_dict(saved)
        rec = net.recognise_items(items[:n]).codes
        top = slice(*net.cm_range(-1))
        exact = (code_overlap(rec[:, top], learned[:, top]) == top.stop - top.start).double().mean()
        ident = (CodeMemory(learned[:, top]).nearest(rec[:, top]) == torch.arange(n)).double().mean()
        out[str(n)] = {"recognise_fps": len(probe) / t_rec, "learn_fps": len(extra) / t_learn,
                       "exact": float(exact), "identified": float(ident),
                       "saturation": [float(v) for v in net.saturation(-1)[:, 0]]}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "sparsey"))
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    import numba

    load = os.getloadavg()[0]
    res = {"hardware": f"{cpu_name()}, numba threads {numba.get_num_threads()}, torch threads 1",
           "timing": "median CPU time of the process (one thread) over the rounds",
           "digits": digits_speed(args.rounds),
           "stored": [stored_items(DIGITS_LEVELS, "digits network (2 levels)", args.rounds),
                      stored_items(BIG_MAC, "one mac Q=8 K=1024 over 16x24", args.rounds)],
           "cuda": "unmeasured (no GPU on this machine)"}
    res["load_average_1min"] = [load, os.getloadavg()[0]]
    res["wall_s_medians"] = WALL
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "speed.json", json.dumps(res, indent=2) + "\n")
    d = res["digits"]
    lines = [f"# Sparsey speed ({res['hardware']})", "",
             "`NUMBA_NUM_THREADS=1 python benchmarks/sparsey_speed.py`", "",
             f"Frames per second of CPU time on one thread (the machine's 1-min load average was "
             f"{res['load_average_1min'][0]:.1f} / {res['load_average_1min'][1]:.1f} at start / end: shared, "
             "so wall-clock rates, in speed.json, are lower).", "",
             f"2-level network at 16x24 ({d['network']}; {d['weights_bytes']:,} binary weights):", "",
             "| what | frames/s |", "|---|---|",
             f"| learning, {d['learn_frames']} digits in one fused call | {d['learn_fused_fps']:.0f} |",
             f"| learning, one call per frame (300 frames) | {d['learn_streamed_fps']:.0f} |",
             f"| recognition (max-V), 360 test digits in one call | {d['recognise_fps']:.0f} |", "",
             "Fixed time per frame: 10 vs 10,000 stored random items (12 of 384 pixels):", "",
             "| network | stored | recognition frames/s | learning frames/s | exact code | identified |",
             "|---|---|---|---|---|---|"]
    for s in res["stored"]:
        for n in ("10", "10000"):
            r = s[n]
            lines.append(f"| {s['network']} | {n} | {r['recognise_fps']:.0f} | {r['learn_fps']:.0f} | "
                         f"{r['exact']:.3f} | {r['identified']:.3f} |")
    lines += ["", f"CUDA: {res['cuda']}."]
    write_text(out / "speed.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
