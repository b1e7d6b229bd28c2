r"""Dead-network detection: warnings instead of a silent run to chance level.

Two symptoms are checked after every training epoch (by :mod:`neuro.train.trainer` and the
continual-learning runner, :mod:`neuro.learning.runner`):

* a **silent layer** — a spiking layer that emitted no spike over the whole epoch: nothing it
  feeds can learn (surrogate gradients flow, but every downstream input is zero);
* a **loss stuck at chance** — the mean training loss equals :math:`\ln C` for :math:`C` classes
  (uniform predictions) within ``rtol`` (relative), the cross-entropy of a network whose
  output does not depend on its input.

Each gets one :class:`DeadNetworkWarning` per run that names the layer (module path and type) and
the likely cause, judged from the layer's parameters and the largest input it received
(:class:`LayerActivity`):

* memory shorter than a step: :math:`\tau_{mem} \le dt` (the membrane forgets each frame before the
  next arrives; with Euler, :math:`\beta = 1 - dt/\tau_{mem} = 0`);
* input too weak: even a constant input at the largest value seen, integrated to its steady state
  :math:`I_{max} / (1 - \beta)`, stays below the threshold :math:`v_{th}`;
* otherwise the threshold and the input scale (initialisation, normalisation) in general.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from torch import nn


class DeadNetworkWarning(RuntimeWarning):
    """A layer stayed silent for a whole epoch, or the loss stayed at chance level."""


@dataclass
class LayerActivity:
    """What a spiking layer did over an epoch: spikes, neuron-steps and the largest input value."""

    spikes: float = 0.0
    neuron_steps: int = 0
    max_input: float = float("-inf")

    @property
    def silent(self) -> bool:
        """True if the layer ran (``neuron_steps > 0``) but never spiked."""
        return self.neuron_steps > 0 and self.spikes == 0


def loss_at_chance(loss: float, n_classes: int, rtol: float = 5e-4) -> bool:
    """Whether a mean cross-entropy ``loss`` is :math:`\\ln C` within ``rtol`` (relative)."""
    if n_classes < 2 or not math.isfinite(loss):
        return False
    return abs(loss - math.log(n_classes)) <= rtol * math.log(n_classes)


def _number(value) -> float | None:
    """A scalar view of a parameter (the mean of a per-neuron tensor), or None."""
    try:
        return float(value.detach().float().mean()) if hasattr(value, "detach") else float(value)
    except (TypeError, ValueError, RuntimeError):
        return None


def _decay(module: nn.Module) -> float | None:
    """The membrane decay per step, from ``beta`` or ``tau_mem`` / ``dt`` / integration."""
    structure = getattr(module, "_structure", {})
    beta = _number(structure.get("beta")) if structure.get("beta") is not None else None
    if beta is not None:
        return beta
    tau, dt = _number(getattr(module, "tau_mem", None)), _number(getattr(module, "dt", None))
    if tau is None or dt is None or tau <= 0:
        return None
    return math.exp(-dt / tau) if structure.get("integration") == "exact" else max(0.0, 1 - dt / tau)


def likely_causes(module: nn.Module, activity: LayerActivity) -> str:
    """The likely reasons why ``module`` stayed silent, in words, from its parameters."""
    causes = []
    tau, dt = _number(getattr(module, "tau_mem", None)), _number(getattr(module, "dt", None))
    v_th = _number(getattr(module, "v_th", None))
    beta = _decay(module)
    if tau is not None and dt is not None and tau <= dt:
        causes.append(f"its time constant tau_mem = {tau:g} s is not longer than the step (frame "
                      f"length) dt = {dt:g} s, so the membrane forgets each frame before the next "
                      "(raise tau_mem, or use shorter frames)")
    if v_th is not None and math.isfinite(activity.max_input):
        reach = activity.max_input / (1 - beta) if beta is not None and beta < 1 else math.inf
        if reach < v_th:
            causes.append(f"its input is too weak: the largest input per step was "
                          f"{activity.max_input:.3g}, which even held constant charges the membrane "
                          f"only to {reach:.3g} < threshold v_th = {v_th:g} (scale the input up, "
                          "lower v_th, or initialise the weights larger)")
    if not causes:
        causes.append("the threshold is too high for the input scale (check v_th, the weight "
                      "initialisation and the input normalisation)")
    return "; ".join(causes)


class HealthCheck:
    """Warns once per run and symptom (:class:`DeadNetworkWarning`); ``where`` prefixes messages
    (e.g. ``"neuro train"``)."""

    def __init__(self, model: nn.Module, n_classes: int | None, where: str = "training") -> None:
        self.modules = dict(model.named_modules())
        self.n_classes = n_classes
        self.where = where
        self.reported: set[str] = set()
        self.messages: list[str] = []

    def check(self, epoch_label: str, layers: Mapping[str, LayerActivity], loss: float | None,
              stacklevel: int = 2) -> list[str]:
        """Warn about silent layers in ``layers`` and a loss at chance; returns the new messages."""
        new = []
        for name in [n for n, a in layers.items() if a.silent]:
            if name in self.reported:
                continue
            module = self.modules.get(name)
            kind = type(module).__name__ if module is not None else "layer"
            new.append(f"{self.where}: layer '{name}' ({kind}) emitted no spike during {epoch_label} "
                       f"({layers[name].neuron_steps} neuron-steps); everything after it gets no "
                       f"input. Likely cause: {likely_causes(module, layers[name])}")
            self.reported.add(name)
        if (loss is not None and self.n_classes is not None and "chance" not in self.reported
                and loss_at_chance(loss, self.n_classes)):
            silent = [n for n, a in layers.items() if a.silent]
            hint = (f"the silent layer(s) {', '.join(repr(n) for n in silent)}" if silent else
                    "an output that does not depend on the input (a silent or saturated layer, a "
                    "learning rate that is far too low or too high)")
            new.append(f"{self.where}: the training loss {loss:.4f} equals ln({self.n_classes}) = "
                       f"{math.log(self.n_classes):.4f}, chance level, in {epoch_label}: the network "
                       f"is not learning. Likely cause: {hint}")
            self.reported.add("chance")
        for text in new:
            warnings.warn(text, DeadNetworkWarning, stacklevel=stacklevel + 1)
        self.messages.extend(new)
        return new


def merge(activities: Iterable[Mapping[str, LayerActivity]]) -> dict[str, LayerActivity]:
    """Sum per-layer activities (e.g. over batches or ranks)."""
    out: dict[str, LayerActivity] = {}
    for layers in activities:
        for name, a in layers.items():
            m = out.setdefault(name, LayerActivity())
            m.spikes += a.spikes
            m.neuron_steps += a.neuron_steps
            m.max_input = max(m.max_input, a.max_input)
    return out
