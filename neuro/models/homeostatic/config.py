"""Configuration of one concept-shift run (:class:`StreamConfig`), validated at construction."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = ["METHODS", "REGULATED", "StreamConfig"]

#: learners: the homeostatic one, its controls and two practitioner's baselines
METHODS = ("homeostatic", "random", "always", "constant", "adam", "drift")
#: methods that move the regulated variable at decision opportunities
REGULATED = ("homeostatic", "random", "always")


@dataclass
class StreamConfig:
    """One learner on one concept-shifting stream.

    Stream: ``epochs`` passes over the training set in minibatches of ``minibatch`` (the paper:
    10; the remainder of each shuffled epoch is dropped, as in the paper), swaps every ``gap``
    samples (0: none) or ``swaps_per_epoch`` or ``seasons`` (``[[length, gap or null], ...]``).

    Learner: ``method`` (:data:`METHODS`); plain SGD at ``lr`` (:math:`\\eta_0`) except ``adam``
    (Adam at ``adam_lr``). Regulated methods move ``regulate`` (``"lr"``, or ``"tau_adapt"`` /
    ``"beta_adapt"`` of an ALIF spiking network) by ``step`` (default: a tenth of its initial
    value, the paper's :math:`\\Delta = \\eta_0/10`) inside ``[floor, ceiling]`` (default floor:
    ``1e-8`` for the learning rate, ``dt`` for ``tau_adapt``, 0 for ``beta_adapt``); the need is
    ``label >= need_threshold`` -> up, else down. Opportunities every ``lr_interval`` samples once
    ``warmup`` samples have been seen (default ``n_memo``); the look-ahead replays the last
    ``n_memo`` samples and compares ``criterion`` (``"accuracy"`` as the paper, or ``"loss"``).
    ``mode``: ``"fast"`` (batched) or ``"exact"`` (the paper's per-sample loops); both take the
    same decisions. ``random_p``: the random control's probability. ``drift_*``: the
    drift-triggered baseline (:class:`~neuro.models.homeostatic.decision.DriftTriggered`).

    Model: ``model`` ``"mlp"`` or ``"snn"``, ``hidden`` sizes; SNN ``steps``, ``neuron``
    (``"lif"``/``"alif"``), ``tau_mem``, ``dt``, ``tau_adapt``, ``beta_adapt``, ``backend``;
    ``bias_std`` (default 1 for the MLP as the paper, 0 for the SNN). ``seed`` fixes the
    initialisation, data order, swaps and the random control. ``dtype``: ``"float32"`` or
    ``"float64"``.
    """

    method: str = "homeostatic"
    epochs: int = 10
    minibatch: int = 10
    gap: int = 0
    swaps_per_epoch: int = 0
    seasons: list | None = None
    lr: float = 0.01
    adam_lr: float = 1e-3
    regulate: str = "lr"
    step: float | None = None
    floor: float | None = None
    ceiling: float = math.inf
    need_threshold: int = 5
    lr_interval: int = 10
    n_memo: int = 20
    warmup: int | None = None
    criterion: str = "accuracy"
    mode: str = "fast"
    random_p: float = 0.5
    drift_boost: float = 10.0
    drift_threshold: float = 3.0
    drift_fast: int = 20
    drift_slow: int = 500
    drift_decay: int = 500
    drift_cooldown: int = 100
    model: str = "mlp"
    hidden: list = field(default_factory=lambda: [80, 60])
    steps: int = 10
    neuron: str = "lif"
    tau_mem: float = 10e-3
    dt: float = 1e-3
    tau_adapt: float = 50e-3
    beta_adapt: float = 0.2
    bias_std: float | None = None
    backend: str = "auto"
    seed: int = 0
    dtype: str = "float32"

    def __post_init__(self) -> None:
        choices = {"method": METHODS, "regulate": ("lr", "tau_adapt", "beta_adapt"),
                   "criterion": ("accuracy", "loss"), "mode": ("fast", "exact"), "model": ("mlp", "snn"),
                   "neuron": ("lif", "alif"), "dtype": ("float32", "float64")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        for name in ("epochs", "minibatch", "lr_interval", "n_memo", "steps"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("gap", "swaps_per_epoch"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be >= 0 (0: not used), got {getattr(self, name)}")
        for name in ("lr", "adam_lr"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.regulate != "lr" and (self.model != "snn" or self.neuron != "alif"):
            raise ValueError(f"regulate={self.regulate!r} needs model='snn' with neuron='alif'")
        if self.warmup is not None and self.warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {self.warmup}")
        self.hidden = [int(h) for h in self.hidden]

    @property
    def start(self) -> int:
        """Samples seen before the first decision opportunity."""
        return self.n_memo if self.warmup is None else int(self.warmup)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as a plain dict of its fields (JSON-serialisable; :meth:`from_dict` reads it
        back).
        """
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> StreamConfig:
        """Build a configuration from a dict of field values (missing fields take their defaults); raises
        ``ValueError`` naming any unknown field.
        """
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown StreamConfig fields: {sorted(unknown)}")
        return cls(**values)
