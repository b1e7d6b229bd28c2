r"""The SNN-delays recipe (Hammouamri, Khalfaoui-Hassani & Masquelier, ICLR 2024) on neuro's layers.

Feed-forward network: ``n_layers`` hidden blocks of

    DelayLinear (learnable delays, no bias) -> BatchNorm (per step, over channels)
    -> LIF -> dropout (one mask per sequence)

and a ``DelayLinear`` into a non-spiking readout. The LIF is SpikingJelly's ``LIFNode`` with
``decay_input=False`` and a hard reset to 0 (:math:`H_t = (1 - 1/\tau) V_{t-1} + I_t`,
:math:`S_t = H_t \ge 1`, :math:`V_t = H_t (1 - S_t)`, reset detached, ATan surrogate
:math:`\alpha = 5`); the readout is the same membrane without spikes (``LI``). Every delay layer
makes the sequence ``(K - 1) // 2`` steps longer, so late spikes still reach the readout.

Loss ("sum"): :math:`m = \sum_t \mathrm{softmax}(V_t)`, then cross-entropy on :math:`m` (which
applies log-softmax to the summed probabilities, as the reference code does); the prediction is
:math:`\arg\max m`.

Training (SHD): weights and BatchNorm with Adam (lr 1e-3, weight decay 1e-5 on weights only,
OneCycle to 5e-3 over the epochs, stepped per epoch); positions with their own Adam (lr 0.1,
100x, no decay, cosine annealing over the epochs) and clamped to the kernel after every step;
:math:`\sigma` starts at :math:`\lfloor K/2 \rfloor` and is multiplied after every epoch by
:math:`\alpha = (0.23/\sigma_0)^{1/E}`, :math:`E` = epochs / 4, until it reaches 0.23; evaluation
uses the rounded (integer) delays. Source of every number: ``shared/reference`` spec §2 (the
authors' ``best_config_SHD.py`` / ``best_config_SSC.py``); reported SHD accuracy 95.07 +- 0.24 %
(best epoch on the test set; about 94 % at the last epoch, spec §2.4).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass, replace
from typing import Callable, Iterator, Optional

import torch
from torch import nn

from neuro.nn.delay import DelayLinear, delay_layers
from neuro.nn.neurons import LI, LIF, SpikingModule
from neuro.surrogate import ATan

MODEL_TYPES = ("delays", "fixed_delays", "no_delays")


@dataclass(frozen=True)
class DelaySNNConfig:
    """Hyper-parameters of the recipe; :meth:`shd` and :meth:`ssc` give the authors' settings.

    ``model_type``: ``"delays"`` (learned), ``"fixed_delays"`` (random integer delays, not
    trained: the authors' ``snn_delays_lr0``) or ``"no_delays"`` (plain synapses, ``K = 1``).
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
    epochs: int = 150
    batch_size: int = 256
    lr_weights: float = 1e-3
    max_lr_weights: float = 5e-3
    weight_decay: float = 1e-5
    lr_positions: float = 0.1
    sigma_init: Optional[float] = None
    sigma_final: float = 0.23
    sigma_epochs: Optional[int] = None
    bin_ms: float = 10.0
    pool: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        if self.model_type not in MODEL_TYPES:
            raise ValueError(f"model_type must be one of {MODEL_TYPES}, got {self.model_type!r}")
        if self.kernel_size < 1 or self.n_layers < 1 or self.epochs < 1:
            raise ValueError("kernel_size, n_layers and epochs must be >= 1")
        if not self.tau_steps >= 1:
            raise ValueError(f"tau_steps must be >= 1 (decay 1 - 1/tau in [0, 1)), got {self.tau_steps}")

    @classmethod
    def shd(cls, **changes) -> "DelaySNNConfig":
        """SHD: 140 -> 256 -> 256 -> 20, K = 25 (250 ms), tau 10.05 ms, dropout 0.4, 150 epochs of 256."""
        return replace(cls(), **changes)

    @classmethod
    def ssc(cls, **changes) -> "DelaySNNConfig":
        """SSC: 140 -> 512 x 3 -> 35, K = 31 (300 ms), tau 15 ms, dropout 0.25, 60 epochs of 128."""
        return replace(cls(n_outputs=35, n_hidden=512, n_layers=3, kernel_size=31, tau_steps=1.5,
                           dropout=0.25, epochs=60, batch_size=128), **changes)

    @property
    def effective_kernel_size(self) -> int:
        return 1 if self.model_type == "no_delays" else self.kernel_size

    @property
    def sigma0(self) -> float:
        return float(self.effective_kernel_size // 2 if self.sigma_init is None else self.sigma_init)

    @property
    def sigma_decay_epochs(self) -> int:
        return self.epochs // 4 if self.sigma_epochs is None else self.sigma_epochs

    def to_dict(self) -> dict:
        return asdict(self)


class SequenceDropout(SpikingModule):
    """Dropout with one mask per sequence, shared by all steps of ``[T, B, C]`` (SpikingJelly's)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor, state: None = None):
        if not self.training or self.p == 0:
            return x, None
        mask = torch.bernoulli(x.new_full(x.shape[1:], 1 - self.p)) / (1 - self.p)
        return x * mask, None


class StepBatchNorm(SpikingModule):
    """BatchNorm over channels with statistics over all steps and samples of ``[T, B, C]``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(channels)

    def forward(self, x: torch.Tensor, state: None = None):
        return self.bn(x.reshape(-1, x.shape[-1])).view_as(x), None


class DelaySNN(SpikingModule):
    """The recipe's network: ``forward(x [T, B, n_inputs]) -> (membrane, None)``.

    The membrane is ``[T + L * (K - 1) // 2, B, n_outputs]`` for ``L`` delay layers.
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

    def _synapses(self, n_in: int, n_out: int, K: int, backend: str) -> DelayLinear:
        return DelayLinear(n_in, n_out, K, self.config.kernel_count, sigma=self.config.sigma0,
                           backend=backend)

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Kaiming-uniform weights (ReLU gain) and positions uniform over the whole delay range."""
        generator = torch.Generator().manual_seed(self.config.seed)
        for layer in delay_layers(self):
            w = torch.empty_like(layer.weight, device="cpu")
            bound = math.sqrt(2.0) * math.sqrt(3.0 / (layer.in_features * layer.kernel_count))
            layer.weight.copy_(w.uniform_(-bound, bound, generator=generator))
            lim = layer.kernel_size // 2
            layer.position.copy_(torch.empty_like(w).uniform_(-lim, lim, generator=generator))
            layer.clamp_positions_()
            if self.config.model_type != "delays":  # fixed random integer delays / no delay
                layer.position.round_()
                layer.position.requires_grad_(False)
                layer.mode = "round"

    def forward(self, x: torch.Tensor, state: None = None):
        for block in self.blocks:
            x, _ = block(x)
        return x, None

    def positions(self) -> list[nn.Parameter]:
        """Trainable delay positions (empty for the fixed-delay and delay-free variants)."""
        if self.config.model_type != "delays":
            return []
        return [layer.position for layer in delay_layers(self)]


# --------------------------------------------------------------------------------------------
# Loss and prediction on the readout membrane.


def sum_softmax_loss(v: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of ``m = sum_t softmax(v_t)`` (the recipe's "sum" loss); ``v [T, B, classes]``."""
    return nn.functional.cross_entropy(torch.softmax(v, dim=-1).sum(0), labels)


def sum_softmax_predict(v: torch.Tensor) -> torch.Tensor:
    """Predicted class: ``argmax_c sum_t softmax(v_t)[c]``."""
    return torch.softmax(v, dim=-1).sum(0).argmax(-1)


# --------------------------------------------------------------------------------------------
# Reusable pieces of the training procedure.


def sigma_at(config: DelaySNNConfig, epoch: int) -> float:
    """Width parameter during ``epoch`` (0-based): ``sigma0 * alpha ** min(epoch, E)``, floored at 0.23."""
    E = config.sigma_decay_epochs
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
    """Evaluate with integer delays (rounded positions, the inference kernel); restores the modes."""
    layers = delay_layers(model)
    modes = [layer.mode for layer in layers]
    for layer in layers:
        layer.mode = "round"
    try:
        yield model
    finally:
        for layer, mode in zip(layers, modes):
            layer.mode = mode


class Optimisers:
    """The two optimisers and schedulers of the recipe, with ``step()`` / ``epoch_end()`` helpers.

    Weights: Adam, weight decay on the synaptic weights only, OneCycle over ``epochs`` (stepped
    per epoch). Positions: Adam at ``lr_positions``, cosine annealing over ``epochs``.
    """

    def __init__(self, model: DelaySNN, config: DelaySNNConfig) -> None:
        positions = {id(layer.position) for layer in delay_layers(model)}
        decay, no_decay = [], []
        for layer in delay_layers(model):
            decay.append(layer.weight)
            if layer.bias is not None:
                no_decay.append(layer.bias)
        for module in model.modules():
            if isinstance(module, nn.BatchNorm1d):
                no_decay += [module.weight, module.bias]
        known = {id(p) for p in decay + no_decay} | positions
        no_decay += [p for p in model.parameters() if p.requires_grad and id(p) not in known]
        self.weights = torch.optim.Adam([{"params": decay, "weight_decay": config.weight_decay},
                                         {"params": no_decay, "weight_decay": 0.0}],
                                        lr=config.lr_weights)
        self.weights_schedule = torch.optim.lr_scheduler.OneCycleLR(
            self.weights, max_lr=config.max_lr_weights, total_steps=config.epochs)
        self.positions = self.positions_schedule = None
        if model.positions():
            self.positions = torch.optim.Adam(model.positions(), lr=config.lr_positions)
            self.positions_schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
                self.positions, T_max=config.epochs)

    def zero_grad(self) -> None:
        self.weights.zero_grad(set_to_none=True)
        if self.positions is not None:
            self.positions.zero_grad(set_to_none=True)

    def step(self) -> None:
        self.weights.step()
        if self.positions is not None:
            self.positions.step()

    def epoch_end(self) -> None:
        if self.weights_schedule.last_epoch < self.weights_schedule.total_steps - 1:
            self.weights_schedule.step()
        if self.positions_schedule is not None:
            self.positions_schedule.step()

    def state_dict(self) -> dict:
        state = {"weights": self.weights.state_dict(), "weights_schedule": self.weights_schedule.state_dict()}
        if self.positions is not None:
            state["positions"] = self.positions.state_dict()
            state["positions_schedule"] = self.positions_schedule.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.weights.load_state_dict(state["weights"])
        self.weights_schedule.load_state_dict(state["weights_schedule"])
        if self.positions is not None:
            self.positions.load_state_dict(state["positions"])
            self.positions_schedule.load_state_dict(state["positions_schedule"])


def train_epoch(model: DelaySNN, loader, optimisers: Optimisers, device: torch.device,
                progress: Optional[Callable] = None) -> tuple[float, float]:
    """One epoch of the recipe; returns mean loss and accuracy over the samples."""
    model.train()
    total = correct = 0
    loss_sum = 0.0
    batches = progress(loader) if progress is not None else loader
    for x, y in batches:
        x, y = x.to(device), y.to(device)
        optimisers.zero_grad()
        v, _ = model(x)
        loss = sum_softmax_loss(v, y)
        if not bool(torch.isfinite(loss)):
            raise FloatingPointError("the loss became NaN/inf; lower the learning rates")
        loss.backward()
        optimisers.step()
        clamp_positions(model)
        loss_sum += float(loss.detach()) * len(y)
        correct += int((sum_softmax_predict(v.detach()) == y).sum())
        total += len(y)
        if hasattr(batches, "set_postfix"):
            batches.set_postfix(loss=f"{float(loss.detach()):.3f}")
    return loss_sum / total, correct / total


@torch.no_grad()
def evaluate(model: DelaySNN, loader, device: torch.device, rounded: bool = True) -> tuple[float, float]:
    """Mean loss and accuracy, with integer (rounded) delays unless ``rounded=False``."""
    model.eval()
    total = correct = 0
    loss_sum = 0.0
    context = rounded_delays(model) if rounded else contextlib.nullcontext()
    with context:
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            v, _ = model(x)
            loss_sum += float(sum_softmax_loss(v, y)) * len(y)
            correct += int((sum_softmax_predict(v) == y).sum())
            total += len(y)
    return loss_sum / total, correct / total
