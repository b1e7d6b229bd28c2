r"""The SNN-delays recipe (Hammouamri, Khalfaoui-Hassani & Masquelier, ICLR 2024) on neuro's layers.

Feed-forward network: ``n_layers`` hidden blocks of

    DelayLinear (learnable delays, no bias) -> BatchNorm (per step, over channels)
    -> LIF -> dropout (one mask per sequence)

and a ``DelayLinear`` into a non-spiking readout. The LIF is SpikingJelly's ``LIFNode`` with
``decay_input=False`` and a hard reset to 0 (:math:`H_t = (1 - 1/\tau) V_{t-1} + I_t`,
:math:`S_t = H_t \ge 1`, :math:`V_t = H_t (1 - S_t)`, reset detached, ATan surrogate
:math:`\alpha = 5`); the readout is the same membrane without spikes (``LI``). Every delay layer
makes the sequence ``(K - 1) // 2`` steps longer, so late spikes still reach the readout.

Loss ("sum", ``neuro.train`` loss ``sum_softmax``): :math:`m = \sum_t \mathrm{softmax}(V_t)`,
then cross-entropy on :math:`m` (which applies log-softmax to the summed probabilities, as the
reference code does); the prediction is :math:`\arg\max m`.

Training (``neuro train --dataset shd --model delay_snn``, settings in :func:`training_options`):
weights and BatchNorm with Adam (weight decay 1e-5 on the synaptic weights only, OneCycle to a
peak of 5e-3 over the epochs, stepped per epoch); positions in their own parameter group at
100x the base rate (0.1, no decay, cosine annealing over the epochs) and clamped to the kernel
after every step; :math:`\sigma` starts at :math:`\lfloor K/2 \rfloor` and is multiplied after
every epoch by :math:`\alpha = (0.23/\sigma_0)^{1/E}`,
:math:`E = \max(1, \lfloor \text{epochs} / 4 \rfloor)`, until it reaches 0.23; evaluation
(``model.eval()``) uses the rounded (integer) delays. Input: 700 cochlear channels summed in
groups of 5 (140) and 10 ms frames from ``t = 0`` covering every spike (the authors'
SpikingJelly frames start at each sample's first spike instead).
Source of every number: ``shared/reference`` spec §2 (the authors' ``best_config_SHD.py`` /
``best_config_SSC.py``); reported SHD accuracy 95.07 +- 0.24 % (best epoch on the test set;
about 94 % at the last epoch, spec §2.4).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from types import MappingProxyType
from typing import Any

import torch
from torch import nn

from neuro.nn.delay import DelayLinear, delay_layers
from neuro.nn.dropout import SequenceDropout
from neuro.nn.neurons import LI, LIF, SpikingModule
from neuro.nn.norm import StepBatchNorm
from neuro.surrogate import ATan

MODEL_TYPES = ("delays", "fixed_delays", "no_delays")
PRESETS = ("shd", "ssc")


@dataclass(frozen=True)
class DelaySNNConfig:
    """The network of the recipe; :meth:`shd` and :meth:`ssc` give the authors' settings.

    ``model_type``: ``"delays"`` (learned), ``"fixed_delays"`` (random integer delays, not
    trained: the authors' ``snn_delays_lr0``) or ``"no_delays"`` (plain synapses, ``K = 1``).
    ``kernel_size`` and ``tau_steps`` count time steps (10 ms frames in the recipe).
    ``sigma_epochs``: epochs over which sigma shrinks (default: a quarter of the run).
    ``position_lr_scale``: learning rate of the positions relative to the weights'.
    ``seed``: initialisation seed (``None``: torch's global generator, seeded by the trainer).
    The training settings (epochs, batch size, rates) are :func:`training_options`.
    """

    n_inputs: int = 140
    n_outputs: int = 20
    n_hidden: int = 256
    n_layers: int = 2
    kernel_size: int = 25
    kernel_count: int = 1
    tau_steps: float = 1.005
    v_threshold: float = 1.0
    surrogate_alpha: float = 5.0
    dropout: float = 0.4
    batchnorm: bool = True
    model_type: str = "delays"
    sigma_init: float | None = None
    sigma_final: float = 0.23
    sigma_epochs: int | None = None
    position_lr_scale: float = 100.0
    seed: int | None = 0

    def __post_init__(self) -> None:
        if self.model_type not in MODEL_TYPES:
            raise ValueError(f"model_type must be one of {MODEL_TYPES}, got {self.model_type!r}")
        if self.kernel_size < 1 or self.n_layers < 1:
            raise ValueError("kernel_size and n_layers must be >= 1")
        if not self.tau_steps >= 1:
            raise ValueError(f"tau_steps must be >= 1 (decay 1 - 1/tau in [0, 1)), got {self.tau_steps}")
        if not self.position_lr_scale > 0:
            raise ValueError(f"position_lr_scale must be positive, got {self.position_lr_scale}")

    @classmethod
    def shd(cls, **changes) -> DelaySNNConfig:
        """SHD: 140 -> 256 -> 256 -> 20, K = 25 (250 ms), tau 10.05 ms, dropout 0.4."""
        return replace(cls(), **changes)

    @classmethod
    def ssc(cls, **changes) -> DelaySNNConfig:
        """SSC: 140 -> 512 x 3 -> 35, K = 31 (300 ms), tau 15 ms, dropout 0.25."""
        return replace(cls(n_outputs=35, n_hidden=512, n_layers=3, kernel_size=31, tau_steps=1.5,
                           dropout=0.25), **changes)

    @property
    def effective_kernel_size(self) -> int:
        """Kernel taps actually used: 1 for the ``no_delays`` baseline."""
        return 1 if self.model_type == "no_delays" else self.kernel_size

    @property
    def sigma0(self) -> float:
        """Initial Gaussian width: ``sigma_init``, else half the kernel."""
        return float(self.effective_kernel_size // 2 if self.sigma_init is None else self.sigma_init)

    def to_dict(self) -> dict:
        """Plain-data form (stored in checkpoints)."""
        return asdict(self)


# TrainConfig fields of the recipe (spec §2.3; the authors' best_config_SHD.py / _SSC.py). lr is
# the weights' base rate: OneCycle starts at max_lr / 25 and peaks at max_lr; the positions train
# at position_lr_scale * lr = 0.1.
_COMMON = MappingProxyType(dict(
    model="delay_snn", loss="sum_softmax", lr=1e-3, max_lr=5e-3, weight_decay=1e-5,
    scheduler="onecycle", time_window_us=10_000, downsample=0.2, include_incomplete=True))
TRAINING = MappingProxyType({
    "shd": MappingProxyType(dict(_COMMON, dataset="shd", epochs=150, batch_size=256)),
    "ssc": MappingProxyType(dict(_COMMON, dataset="ssc", epochs=60, batch_size=128)),
})


def training_options(dataset: str) -> dict[str, Any]:
    """The recipe's ``TrainConfig`` fields on ``dataset`` (``shd``, ``ssc``; for any other dataset
    only the loss, the other fields keep the trainer's defaults)."""
    if dataset not in TRAINING:
        return {"model": "delay_snn", "loss": "sum_softmax"}
    return {**TRAINING[dataset], "model_options": {"preset": dataset}}


class DelaySNN(SpikingModule):
    """The recipe's network: ``forward(x [T, B, n_inputs]) -> (membrane, None)``.

    The membrane is ``[T + L * (K - 1) // 2, B, n_outputs]`` for ``L`` delay layers. In
    ``train()`` mode learned delays are Gaussian taps of the current ``sigma``; ``eval()`` switches
    every delay layer to the rounded integer delays (the recipe's evaluation, on the integer-delay
    kernel); the fixed-delay and delay-free variants always use integer delays.

    For :mod:`neuro.train` it provides :meth:`param_groups`, :meth:`on_epoch_start` (sigma
    schedule) and :meth:`after_optimizer_step` (position clamping).
    """

    def __init__(self, config: DelaySNNConfig = DelaySNNConfig(), backend: str = "auto") -> None:
        super().__init__()
        self.config = config
        K = config.effective_kernel_size
        beta = 1.0 - 1.0 / config.tau_steps
        sizes = [config.n_inputs] + [config.n_hidden] * config.n_layers
        blocks = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            blocks += [self._synapses(n_in, n_out, K, backend)]
            if config.batchnorm:
                blocks.append(StepBatchNorm(n_out))
            blocks += [LIF(beta=beta, v_th=config.v_threshold, reset="zero", v_reset=0.0,
                           threshold_op=">=", detach_reset=True,
                           surrogate=ATan(config.surrogate_alpha), backend=backend),
                       SequenceDropout(config.dropout)]
        blocks += [self._synapses(sizes[-1], config.n_outputs, K, backend),
                   LI(beta=beta, backend=backend)]
        self.blocks = nn.ModuleList(blocks)
        self.reset_parameters()
        self.train(self.training)

    def _synapses(self, n_in: int, n_out: int, K: int, backend: str) -> DelayLinear:
        return DelayLinear(n_in, n_out, K, self.config.kernel_count, sigma=self.config.sigma0,
                           backend=backend)

    @property
    def learns_delays(self) -> bool:
        """Whether the delay positions are trained (``model_type == "delays"``)."""
        return self.config.model_type == "delays"

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Kaiming-uniform weights (ReLU gain) and positions uniform over the whole delay range."""
        generator = None
        if self.config.seed is not None:
            generator = torch.Generator().manual_seed(self.config.seed)
        for layer in delay_layers(self):
            w = torch.empty_like(layer.weight, device="cpu")
            bound = math.sqrt(2.0) * math.sqrt(3.0 / (layer.in_features * layer.kernel_count))
            layer.weight.copy_(w.uniform_(-bound, bound, generator=generator))
            lim = layer.kernel_size // 2
            layer.position.copy_(torch.empty_like(w).uniform_(-lim, lim, generator=generator))
            layer.clamp_positions_()
            if not self.learns_delays:  # fixed random integer delays / no delay
                layer.position.round_()
                layer.position.requires_grad_(False)

    def train(self, mode: bool = True) -> DelaySNN:
        """Training mode: Gaussian delays (learned variant); evaluation: rounded integer delays."""
        super().train(mode)
        for layer in delay_layers(self):
            layer.mode = "gauss" if mode and self.learns_delays else "round"
        return self

    def forward(self, x: torch.Tensor, state: None = None):
        """The readout membrane ``[T + L * (K - 1) // 2, B, n_outputs]`` of ``x [T, B, n_inputs]`` through the
        delay blocks, and ``None`` (the network keeps no state between calls).
        """
        for block in self.blocks:
            x, _ = block(x)
        return x, None

    def positions(self) -> list[nn.Parameter]:
        """Trainable delay positions (empty for the fixed-delay and delay-free variants)."""
        if not self.learns_delays:
            return []
        return [layer.position for layer in delay_layers(self)]

    # ---- neuro.train extension points ----------------------------------------------------------

    def param_groups(self, lr: float, weight_decay: float) -> list[dict[str, Any]]:
        """Adam groups: synaptic weights (with ``weight_decay``), the rest (BatchNorm, biases:
        none), positions (``position_lr_scale * lr``, no decay, their own cosine schedule)."""
        positions = self.positions()
        decay = [layer.weight for layer in delay_layers(self)]
        known = {id(p) for p in decay + positions}
        rest = [p for p in self.parameters() if p.requires_grad and id(p) not in known]
        groups = [{"params": decay, "weight_decay": weight_decay},
                  {"params": rest, "weight_decay": 0.0}]
        if positions:
            groups.append({"params": positions, "lr": lr * self.config.position_lr_scale,
                           "weight_decay": 0.0, "schedule": "cosine"})
        return [g for g in groups if g["params"]]

    def on_epoch_start(self, epoch: int, epochs: int) -> dict[str, float]:
        """Set the sigma of ``epoch`` (0-based) of ``epochs``; it is logged with the metrics."""
        sigma = sigma_at(self.config, epoch, epochs)
        set_sigma(self, sigma)
        return {"sigma": sigma}

    def after_optimizer_step(self) -> None:
        """Trainer hook: keep every delay position inside its kernel."""
        clamp_positions(self)


def delay_snn(input_shape: Sequence[int], n_classes: int, *, dt: float, readout: str = "membrane",
              preset: str = "shd", backend: str = "auto", **fields: Any) -> DelaySNN:
    """``neuro.train`` builder: the ``preset`` network (:class:`DelaySNNConfig` ``shd``/``ssc``)
    for ``input_shape = (channels,)`` and ``n_classes``, with ``fields`` changed.

    Delays and time constants count steps, so ``dt`` (the frame length) only sets their meaning
    (the recipe uses 10 ms). The initialisation follows torch's global generator (the trainer
    seeds it) unless ``seed`` is given.
    """
    del dt
    if readout != "membrane":
        raise ValueError("delay_snn has a non-spiking LI readout: use a membrane loss "
                         f"(sum_softmax, max, last, mean), not one for readout={readout!r}")
    if len(input_shape) != 1:
        raise ValueError(f"delay_snn takes channel frames [C] (audio datasets such as shd, ssc), "
                         f"got frames of shape {tuple(input_shape)}")
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {PRESETS}, got {preset!r}")
    fields.setdefault("seed", None)
    config = getattr(DelaySNNConfig, preset)(n_inputs=int(input_shape[0]), n_outputs=int(n_classes),
                                             **fields)
    return DelaySNN(config, backend=backend)


# --------------------------------------------------------------------------------------------
# Reusable pieces of the training procedure.


def sigma_at(config: DelaySNNConfig, epoch: int, epochs: int) -> float:
    """Width parameter during ``epoch`` (0-based) of ``epochs``: ``sigma0 * alpha ** min(epoch, E)``
    with ``E = config.sigma_epochs`` (default ``max(1, epochs // 4)``), floored at ``sigma_final``."""
    E = max(1, epochs // 4) if config.sigma_epochs is None else config.sigma_epochs
    if E <= 0 or config.sigma0 <= config.sigma_final:
        return config.sigma0
    alpha = (config.sigma_final / config.sigma0) ** (1.0 / E)
    return max(config.sigma_final, config.sigma0 * alpha ** min(epoch, E))


def set_sigma(model: nn.Module, sigma: float) -> None:
    """Set the width of every delay layer (the schedule is global, as in the reference code)."""
    for layer in delay_layers(model):
        layer.set_sigma(sigma)


def clamp_positions(model: nn.Module) -> None:
    """Clamp every delay layer's positions to its kernel (after each optimiser step)."""
    for layer in delay_layers(model):
        layer.clamp_positions_()


@contextlib.contextmanager
def rounded_delays(model: nn.Module) -> Iterator[nn.Module]:
    """Evaluate any model with integer delays (rounded positions); restores the modes."""
    layers = delay_layers(model)
    modes = [layer.mode for layer in layers]
    for layer in layers:
        layer.mode = "round"
    try:
        yield model
    finally:
        for layer, mode in zip(layers, modes):
            layer.mode = mode
