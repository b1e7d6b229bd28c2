"""Make ``docs/nmnist_frames.png``: real N-MNIST recordings through neuro's N-MNIST loader.

Usage: ``python docs/nmnist_frames.py [DATA]`` (default ``tests/data``, the repository's test files).
The labelled recordings ``1.bs2 ... 20.bs2`` (same 40-bit format as N-MNIST's ``.bin``) are laid
out in tonic's ``NMNIST/Train/<digit>/`` folders in a temporary directory and read back with
``neuro.datasets.load_dataset("nmnist", ...)``; the figure shows 30 ms frames (ON red, OFF blue)
and the x-t raster of the events of three digits.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from neuro._io import pyplot, save_figure
from neuro.datasets import load_dataset

REPO = Path(__file__).resolve().parents[1]


def main(shared: Path) -> Path:
    src = shared / "nmnist" / "slayer_NMNISTsmall"
    rows = [line.split() for line in (src / "train1K.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    labels = {int(a): int(b) for a, b in rows}
    plt = pyplot()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(1, 21):
            folder = Path(tmp) / "NMNIST" / "Train" / str(labels[i])
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(src / f"{i}.bs2", folder / f"{i:05d}.bin")
        data = load_dataset("nmnist", "train", root=tmp, time_window_us=30_000,
                            duration_us=300_000, progress=False)
        picks = [int(np.flatnonzero(data.targets == d)[0]) for d in (0, 3, 7)]
        fig = plt.figure(figsize=(14, 4.8))
        grid = fig.add_gridspec(len(picks), 11, width_ratios=[1] * 10 + [2.6])
        for row, index in enumerate(picks):
            frames, label = data[index]
            frames = frames.numpy()
            vmax = max(float(frames.max()), 1.0)
            for t in range(10):
                ax = fig.add_subplot(grid[row, t])
                rgb = np.zeros((34, 34, 3))
                rgb[..., 0], rgb[..., 2] = frames[t, 1] / vmax, frames[t, 0] / vmax
                ax.imshow(np.clip(rgb * 2.5, 0, 1), interpolation="nearest")
                ax.set_xticks([]), ax.set_yticks([])
                if row == 0:
                    ax.set_title(f"{30 * t}-{30 * t + 30} ms", fontsize=7)
                if t == 0:
                    ax.set_ylabel(f"label {label}\n{Path(data._sample_path(index)).name}", fontsize=8)
            events = data.events(index)
            ax = fig.add_subplot(grid[row, 10])
            on = events["p"] == 1
            ax.scatter(events["t"][~on] / 1e3, events["x"][~on], s=0.2, color="C0", label="OFF")
            ax.scatter(events["t"][on] / 1e3, events["x"][on], s=0.2, color="C3", label="ON")
            ax.set(ylabel="x", xlabel="time (ms)" if row == len(picks) - 1 else None)
            ax.set_title(f"{len(events)} events", fontsize=8)
            if row == 0:
                ax.legend(markerscale=10, fontsize=7, loc="upper right")
        fig.suptitle("Real N-MNIST recordings (Orchard et al. 2015) through neuro.datasets "
                     "(tonic reader, ToFrame 30 ms): three saccades of ~100 ms", fontsize=10)
        fig.tight_layout()
        return save_figure(fig, REPO / "docs" / "nmnist_frames.png")


if __name__ == "__main__":
    print(main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "tests" / "data"))
