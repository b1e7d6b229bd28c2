"""Float model vs its integer emulation: accuracy, decision agreement, spikes and synaptic ops.

``quantize_and_compare(model, calibration, test_spikes, test_labels)`` quantises ``model``
(:func:`neuro.hw.quantize.quantize`), runs the float model and the bit-exact emulator on the same
test spikes and reports both accuracies, how often their decisions agree, spikes and synaptic
operations per inference (the emulator counts them event by event) and overflow events; decisions
follow :func:`neuro.hw.quantize.readout` (argmax of the output spike counts, or of the summed /
maximum / last membrane of a non-spiking readout: ``decision``); ``plot``
draws the per-layer spike counts of both.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from neuro.hw.emulator import emulate
from neuro.hw.network import IntegerNetwork
from neuro.hw.quantize import CLIP_FRACTIONS, float_outputs, quantize, readout


@dataclass
class QuantizationReport:
    """What :func:`quantize_and_compare` measured (means are per inference = per test sample)."""

    samples: int
    weight_bits: int
    float_accuracy: float
    int_accuracy: float
    agreement: float
    float_spikes_per_inference: list[float]
    int_spikes_per_inference: list[float]
    synops_per_inference: list[float]
    overflow_events: int
    layer_scales: list[float]
    resources: dict

    def to_json(self) -> str:
        """The report as indented JSON (every field)."""
        return json.dumps(asdict(self), indent=2)

    def summary(self) -> str:
        """One line: float and integer accuracy and their difference, decision agreement, spikes per inference
        of both, synaptic ops per inference and overflow events.
        """
        return (f"{self.samples} samples, {self.weight_bits}-bit weights: float accuracy "
                f"{self.float_accuracy:.4f}, integer accuracy {self.int_accuracy:.4f} "
                f"(loss {self.float_accuracy - self.int_accuracy:+.4f}), decisions agree on "
                f"{self.agreement:.4f}; spikes/inference float {sum(self.float_spikes_per_inference):.1f} "
                f"vs integer {sum(self.int_spikes_per_inference):.1f}; synaptic ops/inference "
                f"{sum(self.synops_per_inference):.1f}; overflow events {self.overflow_events}")


def compare(model: nn.Module, network: IntegerNetwork, spikes: torch.Tensor,
            labels: Sequence[int], backend: str = "numba", decision: str = "sum") -> QuantizationReport:
    """Evaluate the float ``model`` and its integer ``network`` on the same ``spikes``."""
    labels = np.asarray(labels).reshape(-1)
    if spikes.shape[1] != labels.shape[0]:
        raise ValueError(f"{spikes.shape[1]} samples but {labels.shape[0]} labels")
    run = float_outputs(model, spikes)
    f_outs, spiking = run.outputs, run.spiking
    res = emulate(network, spikes, backend, record_v=not spiking)
    i_out = res.spikes[-1] if spiking else res.v[-1]
    f_dec = readout(f_outs[-1], spiking, decision=decision)
    i_dec = readout(i_out, spiking, network.layers[-1].scale, decision)
    n = labels.shape[0]
    f_spk = [float(o.sum() / n) for o in f_outs] if spiking else \
        [float(o.sum() / n) for o in f_outs[:-1]] + [0.0]
    synops = res.synops.mean(0)
    return QuantizationReport(
        samples=n, weight_bits=network.weight_bits,
        float_accuracy=float(np.mean(f_dec == labels)), int_accuracy=float(np.mean(i_dec == labels)),
        agreement=float(np.mean(f_dec == i_dec)), float_spikes_per_inference=f_spk,
        int_spikes_per_inference=res.counts.mean(0).tolist(), synops_per_inference=synops.tolist(),
        overflow_events=int(res.overflow.sum()),
        layer_scales=[layer.scale for layer in network.layers],
        resources=network.resources(res.counts.mean(0), synops))


def quantize_and_compare(model: nn.Module, calibration: torch.Tensor, test_spikes: torch.Tensor,
                         test_labels: Sequence[int], weight_bits: int = 8,
                         clip_fractions: Sequence[float] = CLIP_FRACTIONS,
                         backend: str = "numba", decision: str = "sum"
                         ) -> tuple[IntegerNetwork, QuantizationReport]:
    """Quantise ``model`` on ``calibration`` spikes, then :func:`compare` on the test set."""
    network = quantize(model, calibration, weight_bits, clip_fractions, backend=backend,
                       decision=decision)
    return network, compare(model, network, test_spikes, test_labels, backend, decision)


def plot(report: QuantizationReport, png: str, title: str | None = None) -> None:
    """Bar chart of spikes per inference per layer, float vs integer (Agg backend, atomic)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neuro.nir.hdf5 import atomic_write

    k = np.arange(len(report.int_spikes_per_inference))
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.bar(k - 0.2, report.float_spikes_per_inference, 0.4, label="float")
    ax.bar(k + 0.2, report.int_spikes_per_inference, 0.4, label=f"integer ({report.weight_bits}-bit)")
    ax.set_xlabel("layer")
    ax.set_ylabel("spikes per inference")
    ax.set_xticks(k)
    ax.legend()
    ax.set_title(title or f"accuracy {report.float_accuracy:.3f} (float) vs "
                 f"{report.int_accuracy:.3f} (integer), agreement {report.agreement:.3f}",
                 fontsize=8)
    atomic_write(png, lambda tmp: fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight"))
    plt.close(fig)
