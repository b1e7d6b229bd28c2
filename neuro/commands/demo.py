"""``neuro demo``: train the convolutional SNN on the embedded digits, offline, in about a minute."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HELP = "train a convolutional SNN on the embedded event digits (no download) and plot the results"
TARGET_ACCURACY = 0.90

# the demo's recipe: 30 ms frames (T = 10), 8/16-channel CSNN, max-membrane cross-entropy
DEMO = dict(dataset="digits_events", model="csnn", loss="max", epochs=4, batch_size=32, lr=3e-3,
            time_window_us=30_000, model_options={"channels": [8, 16]}, device="cpu")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    parser.add_argument("--out", type=Path, default=Path("runs/demo"),
                        help="run folder (replaced if it holds an older demo)")
    parser.add_argument("--epochs", type=int, default=DEMO["epochs"], help="training epochs")
    parser.add_argument("--seed", type=int, default=0, help="seed of initialisation and data order")
    parser.add_argument("--train-samples", type=int, default=None,
                        help="use only the first N of the 1437 training samples")
    parser.add_argument("--test-samples", type=int, default=None,
                        help="use only the first N of the 360 test samples")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bars (drawn only when stderr is a terminal anyway)")


def run(args: argparse.Namespace) -> int:
    from neuro.train import TrainConfig, TrainingInterrupted, train
    from neuro.train.checkpoint import CHECKPOINT_NAME
    from neuro.train.interrupts import StopNow
    from neuro.train.trainer import CONFIG_NAME

    start = time.perf_counter()
    config = TrainConfig(**{**DEMO, "epochs": args.epochs, "seed": args.seed,
                            "train_samples": args.train_samples, "test_samples": args.test_samples,
                            "progress": args.progress})
    out = Path(args.out)
    if (out / CHECKPOINT_NAME).exists():  # a demo always starts fresh
        (out / CHECKPOINT_NAME).unlink()
    print("neuro demo: convolutional SNN on digits_events (scikit-learn's 1797 handwritten digits "
          "as saccade events, 22x22x2 sensor, 30 ms frames), CPU", flush=True)
    try:
        result = train(config, out)
    except (TrainingInterrupted, StopNow) as err:
        print(f"neuro demo: {err}", file=sys.stderr)
        return 130
    elapsed = time.perf_counter() - start
    acc = result.test_accuracy
    status = "reached" if acc >= TARGET_ACCURACY else "NOT reached"
    print(f"test accuracy {acc:.2%} (target {TARGET_ACCURACY:.0%} {status}) after {len(result.history)}"
          f" epochs, {elapsed:.1f} s wall time")
    for name in (CONFIG_NAME, "metrics.csv", "metrics.json", "curves.png", "raster.png",
                 CHECKPOINT_NAME):
        print(f"  {out / name}")
    sys.stdout.flush()
    return 0
