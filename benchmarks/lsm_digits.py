"""LSM experiments on event digits: (1) reservoir vs raw-input linear readout at matched feature
count, (2) zero-shot cross-modal retrieval with CLIP-trained projection heads (Lin et al. 2025).

Data: scikit-learn's 1797 digits as the embedded event dataset ``neuro.datasets.digits_events``
(968 inputs, 300 ms) and as a Poisson rate code (64 inputs, 60 ms), see
``neuro.models.lsm_experiments.digit_views``. Reservoir settings are chosen on a validation split of the
training set (never the test set); the test accuracies of the chosen setting are reported.
Writes ``benchmarks/results/lsm_digits.json`` / ``.md``.

    python benchmarks/lsm_digits.py            # all 1797 digits, a few minutes on 2 cores
    python benchmarks/lsm_digits.py --limit 400
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
from peers.common import cpu_name, write_results

from neuro.models.lsm import ReservoirConfig, binned_input_features, linear_readout
from neuro.models.lsm_experiments import build_reservoir, digit_views, split, zero_shot


def validate(samples, labels, n_inputs, duration, train, n, windows, grid) -> tuple[dict, list]:
    """Pick reservoir settings by ridge accuracy on a validation split of ``train``."""
    fit, val = split(labels[train], test_fraction=0.25, seed=1)
    fit, val = train[fit], train[val]
    scores = []
    for connectivity, input_scale, rho in grid:
        cfg = ReservoirConfig(n=n, connectivity=connectivity, bias=0.0, input_p=0.05, seed=0)
        lsm = build_reservoir(n_inputs, cfg, input_scale, rho)
        x = lsm.transform([samples[i] for i in np.r_[fit, val]], duration, windows=windows, progress=False)
        acc = linear_readout("ridge").fit(x[:len(fit)], labels[fit]).score(x[len(fit):], labels[val])
        rate = float(x.sum() / (len(x) * n * duration))
        scores.append({"connectivity": connectivity, "input_scale": input_scale, "spectral_radius": rho,
                       "val_accuracy": float(acc), "rate_hz": rate})
        print(scores[-1], flush=True)
    return max(scores, key=lambda s: s["val_accuracy"]), scores


def experiment_1(views, args) -> dict:
    out = {}
    grid = list(itertools.product(["maass", "random"], [0.3, 0.6, 1.2], [None, 0.5]))
    for view, samples, n_inputs, duration, n, windows in (
            ("events", views.events, views.n_inputs[0], views.durations[0], 484, 2),  # 968 = 968
            ("rate", views.rate, views.n_inputs[1], views.durations[1], 192, 1)):
        labels = views.labels
        train, test = split(labels, seed=0)
        best, scores = validate(samples, labels, n_inputs, duration, train, n, windows, grid)
        cfg = ReservoirConfig(n=n, connectivity=best["connectivity"], bias=0.0, input_p=0.05, seed=0)
        lsm = build_reservoir(n_inputs, cfg, best["input_scale"], best["spectral_radius"])
        x_res = lsm.transform(samples, duration, windows=windows)
        raw_windows = max(1, n * windows // n_inputs)  # matched feature count (as close as bins allow)
        x_raw = np.stack([binned_input_features(s, n_inputs, duration, raw_windows) for s in samples])
        res = {"setting": best, "validation": scores, "reservoir_features": x_res.shape[1],
               "raw_features": x_raw.shape[1], "train": len(train), "test": len(test)}
        for kind in ("ridge", "logistic"):
            for name, x in (("reservoir", x_res), ("raw", x_raw)):
                clf = linear_readout(kind).fit(x[train], labels[train])
                res[f"{name}_{kind}"] = float(clf.score(x[test], labels[test]))
        print(view, {k: v for k, v in res.items() if k != "validation"}, flush=True)
        out[view] = res
    return out


def experiment_2(views, setting_a: dict, setting_b: dict, args) -> dict:
    out = {}
    encoders = []
    for n_inputs, n, setting, seed in ((views.n_inputs[0], 484, setting_a, 0),
                                       (views.n_inputs[1], 192, setting_b, 1)):
        cfg = ReservoirConfig(n=n, connectivity=setting["connectivity"], bias=0.0, input_p=0.05, seed=seed)
        encoders.append(build_reservoir(n_inputs, cfg, setting["input_scale"], setting["spectral_radius"]))
    for temperature in (1.0, 0.1):
        res = zero_shot(views.events, views.rate, views.labels, tuple(encoders), views.durations,
                        seen=range(7), windows=3, dim=64, epochs=args.epochs, temperature=temperature)
        print("zero-shot", temperature, res, flush=True)
        out[f"temperature_{temperature:g}"] = res
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="use a random subset of the digits")
    ap.add_argument("--epochs", type=int, default=100)
    args = ap.parse_args()
    t0 = time.perf_counter()
    views = digit_views(limit=args.limit)
    print(f"encoded {len(views.labels)} digits in {time.perf_counter() - t0:.1f} s", flush=True)
    e1 = experiment_1(views, args)
    e2 = experiment_2(views, e1["events"]["setting"], e1["rate"]["setting"], args)
    payload = {"machine": cpu_name(), "date": time.strftime("%Y-%m-%d"), "samples": len(views.labels),
               "data": "digits_events (968 inputs, 300 ms) and a Poisson rate code (64 inputs, 60 ms)",
               "experiment_1": e1, "experiment_2": e2, "seconds": time.perf_counter() - t0}
    lines = [f"# LSM on event digits ({payload['date']}, {payload['samples']} samples)", "",
             "## 1. Reservoir vs raw binned input, linear readouts, matched feature count (test accuracy)",
             "",
             "| view | features (res / raw) | setting (validation) | ridge res | ridge raw | logistic res "
             "| logistic raw |",
             "|---|---|---|---|---|---|---|"]
    for view, r in e1.items():
        s = r["setting"]
        lines.append(f"| {view} | {r['reservoir_features']} / {r['raw_features']} | {s['connectivity']}, "
                     f"in x{s['input_scale']}, rho {s['spectral_radius']}, {s['rate_hz']:.0f} Hz | "
                     f"{r['reservoir_ridge']:.3f} | {r['raw_ridge']:.3f} | "
                     f"{r['reservoir_logistic']:.3f} | {r['raw_logistic']:.3f} |")
    lines += ["", "## 2. Zero-shot cross-modal retrieval (digits_events view <-> rate view), heads trained "
              "on digits 0-6", "",
              "| temperature | seen 0-6 A->B | seen chance | unseen 7-9 A->B | unseen B->A | unseen "
              "prototype | unseen chance |",
              "|---|---|---|---|---|---|---|"]
    for key, r in e2.items():
        lines.append(f"| {key.split('_')[1]} | {r['seen_retrieval_a_to_b']:.3f} | {r['seen_chance']:.3f} | "
                     f"{r['unseen_retrieval_a_to_b']:.3f} | {r['unseen_retrieval_b_to_a']:.3f} | "
                     f"{r['unseen_prototype_a_to_b']:.3f} | {r['unseen_chance']:.3f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    write_results("lsm_digits" if args.limit is None else f"lsm_digits_limit{args.limit}", payload, text)


if __name__ == "__main__":
    main()
