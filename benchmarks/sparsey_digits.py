"""Single-pass learning on the embedded digits (Sparsey + Hebbian class readout vs kNN), and sequences
of event frames recognised from any starting frame (embedded digits_events; the real N-MNIST
recordings of ``../shared/data/nmnist`` when present).

    NUMBA_NUM_THREADS=1 python benchmarks/sparsey_digits.py [--seeds 5] [--out benchmarks/results/sparsey]

Digits: scikit-learn's digits (``neuro.datasets`` split: 1437 train, 360 test) resized to 24x16,
binarised and skeletonised (``neuro.models.sparsey.data.binary_digits``, Rinkus's MNIST preparation).
Per seed and number of training examples per class (a random stratified subset), a fresh
``recipes.digits_levels()`` network learns every example once (probabilistic CSA), the test digits
are recognised (max-V), and a Hebbian readout (log scoring) trained on the learned codes of level 1,
level 2 or both classifies them. Baseline: 1-nearest-neighbour on the same binary pixels and subset.
Paired differences (Sparsey - kNN) over seeds with 95% t confidence intervals. Ablation: the same
network with a graded sigmoid (inflection 0.5, steepness 28).
Sequences: ``recipes.sequence_levels()`` learns S event-frame sequences once; recognition from every
start frame (per start: fraction of the following frames whose top-level code equals the learned one)
and one continuous stream without resets that switches sequence midway, with and without back-off.
MNIST (the 16x24 stretch goal) is not on this machine: not run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import cpu_name  # noqa: E402

from neuro._io import pyplot, save_figure, write_text  # noqa: E402
from neuro.models.sparsey import (  # noqa: E402
    CSAParams,
    HebbianReadout,
    SparseyNetwork,
    learn_sequences,
    midway_recognition,
    sequence_scores,
    stream,
)
from neuro.models.sparsey.data import binary_digits, event_sequences, nmnist_sequences  # noqa: E402
from neuro.models.sparsey.recipes import digits_levels, sequence_levels  # noqa: E402

PER_CLASS = [1, 2, 5, 10, 20, 50, 100]
NMNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "nmnist" / "slayer_NMNISTsmall"
T_975 = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776, 6: 2.571, 7: 2.447, 8: 2.365, 9: 2.306, 10: 2.262}


def ci95(values) -> tuple[float, float]:
    """Mean and half-width of the 95% t confidence interval."""
    v = np.asarray(values, float)
    if len(v) < 2:
        return float(v.mean()), float("nan")
    t = T_975.get(len(v), 1.96)
    return float(v.mean()), float(t * v.std(ddof=1) / np.sqrt(len(v)))


def readout_accuracy(net, train_codes, y, test_codes, yt, levels) -> float:
    parts = [slice(*net.cm_range(lv)) for lv in levels]
    scores = 0
    for lv, cms in zip(levels, parts):
        ro = HebbianReadout(cms.stop - cms.start, net.levels[lv].K, 10)
        ro.learn(train_codes[:, cms], torch.from_numpy(y))
        scores = scores + ro.scores(test_codes[:, cms])
    return float((scores.argmax(-1).numpy() == yt).mean())


def digits(seeds: int) -> dict:
    from sklearn.neighbors import KNeighborsClassifier

    x, y = binary_digits("train")
    xt, yt = binary_digits("test")
    methods = ["sparsey L1", "sparsey L2", "sparsey L1+L2", "sparsey L2 (graded sigmoid)", "kNN (k=1)"]
    acc = {m: np.zeros((seeds, len(PER_CLASS))) for m in methods}
    fps = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        order = {c: rng.permutation(np.nonzero(y == c)[0]) for c in range(10)}
        for j, n in enumerate(PER_CLASS):
            idx = rng.permutation(np.concatenate([order[c][:n] for c in range(10)]))
            for graded in (False, True):
                csa = CSAParams(inflection=0.5, steepness=28.0) if graded else CSAParams()
                net = SparseyNetwork((24, 16), digits_levels(csa), seed=seed)
                t0 = time.perf_counter()
                codes = net.learn_items(x[idx]).codes
                fps.append(len(idx) / (time.perf_counter() - t0))
                test = net.recognise_items(xt).codes
                if graded:
                    acc["sparsey L2 (graded sigmoid)"][seed, j] = readout_accuracy(net, codes, y[idx], test,
                                                                                   yt, [1])
                    continue
                for name, levels in (("sparsey L1", [0]), ("sparsey L2", [1]), ("sparsey L1+L2", [0, 1])):
                    acc[name][seed, j] = readout_accuracy(net, codes, y[idx], test, yt, levels)
            knn = KNeighborsClassifier(1).fit(x[idx].reshape(len(idx), -1), y[idx])
            acc["kNN (k=1)"][seed, j] = knn.score(xt.reshape(len(xt), -1), yt)
    cols = range(len(PER_CLASS))
    res = {"per_class": PER_CLASS, "seeds": seeds, "n_test": len(yt),
           "learn_fps_median": float(np.median(fps)),
           "accuracy": {m: {"mean": a.mean(0).tolist(), "ci95": [ci95(a[:, j])[1] for j in cols],
                            "runs": a.tolist()} for m, a in acc.items()},
           "paired_vs_knn": {}}
    for m in methods[:-1]:
        d = acc[m] - acc["kNN (k=1)"]
        res["paired_vs_knn"][m] = [ci95(d[:, j]) for j in range(len(PER_CLASS))]
    return res


def sequence_task(name: str, seqs: np.ndarray, seeds: int) -> dict:
    S, T = seqs.shape[:2]
    out = {"name": name, "sequences": S, "frames": T, "frame_shape": list(seqs.shape[2:]),
           "density": float(seqs.mean()), "runs": []}
    order, starts = list(range(S)), [0] + [T // 2] * (S - 1)
    sid = np.concatenate([[s] * (T - k) for s, k in zip(order, starts)])
    fid = np.concatenate([np.arange(k, T) for k in starts])
    for seed in range(seeds):
        net = SparseyNetwork(seqs.shape[2:], sequence_levels(), seed=seed)
        learned = learn_sequences(net, seqs)
        run = {"midway": midway_recognition(net, seqs, learned).tolist(),
               "midway_no_backoff": midway_recognition(net, seqs, learned, backoff=False).tolist(),
               "saturation_L1": float(net.saturation(0)[:, 0].mean())}
        for backoff in (True, False):
            codes, _ = stream(net, seqs, order, starts, backoff=backoff)
            sc = sequence_scores(learned, codes, sid, fid, slice(*net.cm_range(-1)))
            key = "stream" if backoff else "stream_no_backoff"
            run[key] = {k: float(v.mean()) for k, v in sc.items()}
        out["runs"].append(run)
    return out


def sequences(seeds: int) -> list[dict]:
    res = []
    full, _ = event_sequences(count=40, window_us=10_000, pool=1, polarity="on")
    for S in (10, 20, 40):
        res.append(sequence_task(f"digits_events, {S} sequences", full[:S, :8], seeds))
    if NMNIST.is_dir():
        paths = sorted(NMNIST.glob("*.bs2"), key=lambda p: int(p.stem))
        if paths:
            seqs = nmnist_sequences(paths, window_us=10_000, pool=1, polarity="on")[:, :8, :, 1:33, 1:33]
            name = f"N-MNIST recordings (shared data), {len(paths)} sequences"
            res.append(sequence_task(name, seqs, seeds))
    return res


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "sparsey"))
    p.add_argument("--seeds", type=int, default=5)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    res = {"hardware": cpu_name(), "digits": digits(args.seeds), "sequences": sequences(min(args.seeds, 3)),
           "mnist": "not run: MNIST files are not on this machine"}
    res["wall_s"] = time.time() - t0
    write_text(out / "digits.json", json.dumps(res, indent=2) + "\n")
    plot(res, out)
    text = table(res)
    write_text(out / "digits.md", text)
    print(text)
    return 0


def plot(res: dict, out: Path) -> None:
    plt = pyplot()
    d = res["digits"]
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for m, a in d["accuracy"].items():
        mean, err = np.array(a["mean"]), np.nan_to_num(np.array(a["ci95"]))
        ax.errorbar(d["per_class"], mean, yerr=err, marker="o", capsize=3, label=m,
                    ls="--" if m.startswith("kNN") else "-")
    ax.set(xscale="log", xlabel="training examples per class (each seen once)",
           ylabel="test accuracy (360 digits)",
           title=f"Embedded digits 24x16 skeletons, {d['seeds']} seeds (95% CI)", ylim=(0, 1))
    ax.legend(fontsize=8)
    save_figure(fig, out / "digits.png")
    seqs = res["sequences"]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for s in seqs:
        mid = np.array([r["midway"] for r in s["runs"]]).mean(0)
        ax.plot(np.arange(len(mid)), mid, marker="o", label=s["name"])
    ax.set(xlabel="start frame k (recognition entered midway)", ylim=(0, 1.05),
           ylabel="frames k+1.. with the learned top code", title="Sequences recognised from any frame")
    ax.legend(fontsize=8)
    save_figure(fig, out / "sequences.png")


def table(res: dict) -> str:
    d = res["digits"]
    lines = [f"# Sparsey: single-pass digits and sequences ({res['hardware']})", "",
             "`NUMBA_NUM_THREADS=1 python benchmarks/sparsey_digits.py` "
             f"({res['wall_s'] / 60:.1f} min)", "",
             f"Test accuracy on the {d['n_test']} test digits (mean +- 95% CI over {d['seeds']} seeds); "
             f"learning {d['learn_fps_median']:.0f} frames/s (median)", "",
             "| method | " + " | ".join(f"{n}/class" for n in d["per_class"]) + " |",
             "|---" * (len(d["per_class"]) + 1) + "|"]
    for m, a in d["accuracy"].items():
        cells = (f"{v:.3f} +- {e:.3f}" for v, e in zip(a["mean"], a["ci95"]))
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines += ["", "Paired difference Sparsey - kNN (same subsets), mean +- 95% CI:", "",
              "| method | " + " | ".join(f"{n}/class" for n in d["per_class"]) + " |",
              "|---" * (len(d["per_class"]) + 1) + "|"]
    for m, rows in d["paired_vs_knn"].items():
        lines.append(f"| {m} | " + " | ".join(f"{v:+.3f} +- {e:.3f}" for v, e in rows) + " |")
    lines += ["", "Sequences (8 frames of 10 ms, ON events): mean over seeds", "",
              "| data | L1 saturation | midway (mean over starts) | midway, no back-off | "
              "stream exact | stream identified | stream exact, no back-off |", "|---" * 7 + "|"]
    for s in res["sequences"]:
        r = s["runs"]
        mid = float(np.mean([np.mean(x["midway"]) for x in r]))
        mid_nb = float(np.mean([np.mean(x["midway_no_backoff"]) for x in r]))
        sat = np.mean([x["saturation_L1"] for x in r])
        lines.append(f"| {s['name']} | {sat:.2f} | {mid:.3f} | "
                     f"{mid_nb:.3f} | {np.mean([x['stream']['exact'] for x in r]):.3f} | "
                     f"{np.mean([x['stream']['identified'] for x in r]):.3f} | "
                     f"{np.mean([x['stream_no_backoff']['exact'] for x in r]):.3f} |")
    lines += ["", f"MNIST 16x24 stretch goal: {res['mnist']}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
