"""Spike statistics of a model's spiking layers through forward hooks (scoped to one model)."""

from __future__ import annotations

import torch
from torch import nn

from neuro.nn import SpikingModule
from neuro.train.health import LayerActivity


def spiking_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The sequence-level modules of ``model`` whose output is spikes (hidden and spiking readouts)."""
    found = []
    for name, module in model.named_modules():
        if not isinstance(module, SpikingModule) or getattr(module, "single_step", False):
            continue
        cfg = getattr(module, "cfg", None)
        if (cfg is not None and cfg.spiking) or getattr(module, "spiking", False) is True:
            found.append((name, module))
    return found


class SpikeMonitor:
    """Context manager: counts spikes of every spiking layer; ``record=True`` keeps the outputs.

    ``rate`` is the mean spikes per neuron and step over all monitored layers since the last
    :meth:`reset`; ``activity`` holds each layer's spikes, neuron-steps and largest input
    (:class:`neuro.train.health.LayerActivity`, for dead-layer warnings); ``recorded`` maps layer
    names to their last output ``[T, B, ...]`` (detached).
    """

    def __init__(self, model: nn.Module, record: bool = False) -> None:
        self.layers = spiking_layers(model)
        self.record = record
        self.recorded: dict[str, torch.Tensor] = {}
        self._handles: list = []
        self.reset()

    def reset(self) -> None:
        """Zero the spike and neuron-step counts and every layer's :class:`~neuro.train.health.LayerActivity`.
        """
        self.spikes = 0.0
        self.neuron_steps = 0
        self.activity = {name: LayerActivity() for name, _ in self.layers}

    def _hook(self, name: str):
        def hook(module: nn.Module, inputs, output) -> None:
            spikes = output[0] if isinstance(output, tuple) else output
            count = float(spikes.detach().sum())
            self.spikes += count
            self.neuron_steps += spikes.numel()
            layer = self.activity.setdefault(name, LayerActivity())
            layer.spikes += count
            layer.neuron_steps += spikes.numel()
            if inputs and isinstance(inputs[0], torch.Tensor) and inputs[0].numel():
                layer.max_input = max(layer.max_input, float(inputs[0].detach().max()))
            if self.record:
                self.recorded[name] = spikes.detach()
        return hook

    def __enter__(self) -> SpikeMonitor:
        self._handles = [m.register_forward_hook(self._hook(n)) for n, m in self.layers]
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    @property
    def rate(self) -> float | None:
        """Mean spikes per neuron and step over all monitored layers since :meth:`reset` (``None`` before any
        step).
        """
        return self.spikes / self.neuron_steps if self.neuron_steps else None
