"""Float vs 8-bit Loihi-style integer emulation on scikit-learn's 8x8 digits.

Trains two small spiking networks on rate-coded digits (T = 16 steps), quantises them with
``neuro.hw.quantize_and_compare`` (calibration: 200 training samples) and reports, on the 497
held-out digits: float and integer accuracy, decision agreement, spikes and synaptic operations per
inference, overflow events and the hardware resources. Results (with the hardware name) go to
``benchmarks/results/hw_quantization.json``, plots to ``hw_quantization_<model>.png`` and hardware
images to ``hw_image_<model>.h5``.

With ``--checkpoint runs/demo`` it quantises the CSNN trained by ``neuro demo`` instead: the
checkpoint is loaded safely (``weights_only``), the model is rebuilt from its ``model_spec``
(BatchNorm is folded into the convolutions by the quantiser), calibration uses the first
``--calibration`` training samples and the comparison the whole test split of the same frames the
demo trains and tests on, decided as the demo's loss decides (``max``: argmax of the maximum
readout membrane). Results go to ``hw_quantization_demo.json``, ``hw_quantization_demo_csnn.png``
and ``hw_image_demo_csnn.h5``.

Run: ``python benchmarks/hw_quantization.py [--epochs 16] [--backend numba|cuda]`` or
``python benchmarks/hw_quantization.py --checkpoint runs/demo [--calibration 256]``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import harness
import torch
from torch import nn
from tqdm import tqdm

from neuro.hw import plot, quantize_and_compare, write_image
from neuro.nn import LIF, Sequential, SumPool2d

RESULTS = harness.RESULTS
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


# how each training loss of neuro.train turns the readout into a class (neuro.hw.quantize.readout)
DECISION_OF_LOSS = {"count": "sum", "mean": "sum", "max": "max", "last": "last"}


def quantize_model(name: str, net: nn.Module, calibration: torch.Tensor, test_x: torch.Tensor,
                   test_y: torch.Tensor, backend: str, decision: str = "sum") -> dict:
    """8-bit quantisation + comparison; writes the plot and the hardware image, returns the row."""
    t0 = time.perf_counter()
    network, report = quantize_and_compare(net, calibration, test_x, test_y, weight_bits=8,
                                           backend=backend, decision=decision)
    t_quant = time.perf_counter() - t0
    print(f"{name}: {report.summary()}")
    plot(report, RESULTS / f"hw_quantization_{name}.png",
         title=f"{name}\naccuracy float {report.float_accuracy:.3f} / integer "
               f"{report.int_accuracy:.3f}, decisions agree {report.agreement:.3f}")
    write_image(network, RESULTS / f"hw_image_{name}.h5", report.resources)
    return {**json.loads(report.to_json()), "decision": decision,
            "quantize_and_compare_seconds": t_quant}


def split_frames(config, split: str, limit: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(frames [T, N, *frame], labels [N])`` of a split, loaded as ``neuro train`` loads it."""
    from neuro.datasets import load_dataset, pad_collate

    data = load_dataset(config.dataset, split, root=config.data_root, download=False,
                        **config.data_options())
    n = len(data) if limit is None else min(limit, len(data))
    batch = pad_collate([data[i] for i in range(n)],
                        max_len=config.max_len)
    if not bool((batch.lengths == batch.lengths[0]).all()):
        raise ValueError(f"{config.dataset} {split}: samples have {sorted(set(batch.lengths.tolist()))}"
                         " frames; the emulator compares fixed-length inputs (set max_len)")
    return batch.frames, batch.labels


def demo_checkpoint(path: Path, calibration: int, backend: str) -> dict:
    """Quantise the model of a ``neuro demo`` / ``neuro train`` checkpoint on its own dataset."""
    from neuro.train import TrainConfig
    from neuro.train.checkpoint import load_checkpoint
    from neuro.train.models import build_from_spec

    data = load_checkpoint(path)  # torch.load(..., weights_only=True) with clear errors
    config = TrainConfig.from_dict(data["config"])
    if config.loss not in DECISION_OF_LOSS:
        raise ValueError(f"loss {config.loss!r} has no integer readout; supported: "
                         f"{sorted(DECISION_OF_LOSS)}")
    net = build_from_spec(data["model_spec"])
    net.load_state_dict(data["model"])
    net.eval()
    train_x, train_y = split_frames(config, "train", min(calibration, config.train_samples or calibration))
    test_x, test_y = split_frames(config, "test", config.test_samples)
    name = f"demo_{data['model_spec']['name']}"
    row = quantize_model(name, net, train_x, test_x, test_y, backend, DECISION_OF_LOSS[config.loss])
    stored = data["history"][-1] if data.get("history") else {}
    return {"checkpoint": str(path), "epochs": data.get("epoch"), "dataset": config.dataset,
            "data_options": config.data_options(), "model_spec": data["model_spec"],
            "loss": config.loss, "steps": int(test_x.shape[0]), "calibration": int(train_x.shape[1]),
            "test": int(test_x.shape[1]), "checkpoint_test_acc": stored.get("test_acc"),
            "models": {name: row}}


def markdown(payload: dict) -> str:
    """A table per model: accuracy, agreement, overflow, and spikes / synaptic ops per layer."""
    lines = [f"# 8-bit Loihi-format emulation ({payload['hardware']}, backend {payload['backend']})", ""]
    for name, row in payload["models"].items():
        lines += [f"## {name}", "",
                  f"float accuracy {row['float_accuracy']:.4f}, integer accuracy {row['int_accuracy']:.4f}"
                  f" (loss {row['float_accuracy'] - row['int_accuracy']:+.4f}), decisions agree "
                  f"{row['agreement']:.4f} ({row['samples']} test samples, decision "
                  f"{row['decision']!r}); overflow events {row['overflow_events']}", "",
                  "| layer | neurons | synapses | float spikes/inf | integer spikes/inf | synops/inf |",
                  "|---|---|---|---|---|---|"]
        for k, layer in enumerate(row["resources"]["layers"]):
            lines.append(f"| {layer['layer']} | {layer['neurons']} | {layer['synapses']} | "
                         f"{row['float_spikes_per_inference'][k]:.1f} | "
                         f"{row['int_spikes_per_inference'][k]:.1f} | {row['synops_per_inference'][k]:.0f} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--backend", default="numba", choices=["numba", "cuda"])
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="quantise the model of this checkpoint (or run folder, e.g. runs/demo) "
                             "instead of the stand-in networks")
    parser.add_argument("--calibration", type=int, default=256,
                        help="training samples used for calibration with --checkpoint")
    args = parser.parse_args()
    hardware = harness.hardware("cuda" if args.backend == "cuda" and torch.cuda.is_available() else "cpu")
    common = {"hardware": hardware, "backend": args.backend,
              "note": "timings preliminary (shared machine)"}
    if args.checkpoint is not None:
        payload = {**common, **demo_checkpoint(args.checkpoint, args.calibration, args.backend)}
        path = harness.write_results("hw_quantization_demo", payload, markdown(payload))
        print(f"written {path}")
        return
    spikes, y = digits(args.steps)
    n_train = 1300
    payload = {**common, "steps": args.steps, "epochs": args.epochs, "train": n_train,
               "test": int(y.shape[0] - n_train), "models": {}}
    for name, (net, shape) in models().items():
        x = spikes.reshape(args.steps, -1, *shape)
        t0 = time.perf_counter()
        train(net, x[:, :n_train], y[:n_train], args.epochs, name)
        t_train = time.perf_counter() - t0
        payload["models"][name] = {**quantize_model(name, net, x[:, :200], x[:, n_train:],
                                                    y[n_train:], args.backend),
                                   "train_seconds": t_train}
    print(f"written {harness.write_results('hw_quantization', payload)}")


if __name__ == "__main__":
    main()
