"""Float vs 8-bit Loihi-style integer emulation on scikit-learn's 8x8 digits.

Trains two small spiking networks on rate-coded digits (T = 16 steps), quantises them with
``neuro.hw.quantize_and_compare`` (calibration: 200 training samples) and reports, on the 497
held-out digits: float and integer accuracy, decision agreement, spikes and synaptic operations per
inference, overflow events and the hardware resources. Results (with the hardware name) go to
``benchmarks/results/hw_quantization.json`` and a plot to ``hw_quantization.png``.

``quantize_and_compare(model, calibration, test_spikes, test_labels)`` is the function to call on
the demo CSNN of ``neuro demo``; the networks here stand in for it until that demo is merged.

Run: ``python benchmarks/hw_quantization.py [--epochs 16] [--backend numba|cuda]``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

import harness

from neuro.hw import plot, quantize_and_compare, write_image
from neuro.nn import LIF, Sequential, SumPool2d

RESULTS = Path(__file__).resolve().parent / "results"
OPTS = dict(reset="zero", threshold_op=">", surrogate="fast_sigmoid")


def digits(steps: int, seed: int = 0):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(y), generator=gen)
    rates = torch.tensor(x / 16.0, dtype=torch.float32)[perm]
    spikes = (torch.rand(steps, *rates.shape, generator=gen) < rates).float()
    return spikes, torch.tensor(y)[perm]


def train(net: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, label: str) -> None:
    torch.manual_seed(0)
    opt = torch.optim.Adam(net.parameters(), 5e-3)
    for _ in tqdm(range(epochs), desc=f"train {label}"):
        perm = torch.randperm(y.shape[0])
        for k in range(0, y.shape[0], 64):
            idx = perm[k:k + 64]
            out, _ = net(x[:, idx])
            loss = nn.functional.cross_entropy(out.sum(0), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()


def models() -> dict[str, tuple[nn.Module, tuple[int, ...]]]:
    torch.manual_seed(0)
    return {
        "mlp_64-64-10": (Sequential(nn.Linear(64, 64), LIF(tau_mem=20e-3, **OPTS),
                                    nn.Linear(64, 10), LIF(tau_mem=20e-3, **OPTS)), (64,)),
        "csnn_conv8-sumpool-fc10": (Sequential(nn.Conv2d(1, 8, 3, padding=1), LIF(tau_mem=20e-3, **OPTS),
                                               SumPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, 10),
                                               LIF(tau_mem=20e-3, **OPTS)), (1, 8, 8)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--backend", default="numba", choices=["numba", "cuda"])
    args = parser.parse_args()
    spikes, y = digits(args.steps)
    n_train = 1300
    payload = {"hardware": harness.hardware("cpu"), "steps": args.steps, "epochs": args.epochs,
               "train": n_train, "test": int(y.shape[0] - n_train), "backend": args.backend,
               "note": "timings preliminary (shared machine)", "models": {}}
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name, (net, shape) in models().items():
        x = spikes.reshape(args.steps, -1, *shape)
        t0 = time.perf_counter()
        train(net, x[:, :n_train], y[:n_train], args.epochs, name)
        t_train = time.perf_counter() - t0
        t0 = time.perf_counter()
        network, report = quantize_and_compare(net, x[:, :200], x[:, n_train:], y[n_train:],
                                               weight_bits=8, backend=args.backend)
        t_quant = time.perf_counter() - t0
        print(f"{name}: {report.summary()}")
        payload["models"][name] = {**json.loads(report.to_json()), "train_seconds": t_train,
                                   "quantize_and_compare_seconds": t_quant}
        plot(report, RESULTS / f"hw_quantization_{name}.png",
             title=f"{name}\naccuracy float {report.float_accuracy:.3f} / integer "
                   f"{report.int_accuracy:.3f}, decisions agree {report.agreement:.3f}")
        write_image(network, RESULTS / f"hw_image_{name}.h5", report.resources)
    fd, tmp = tempfile.mkstemp(dir=RESULTS, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(payload, f, indent=2)
    os.replace(tmp, RESULTS / "hw_quantization.json")
    print(f"written {RESULTS / 'hw_quantization.json'}")


if __name__ == "__main__":
    main()
