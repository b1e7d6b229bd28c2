"""The configuration of a continual-learning run (:class:`ContinualConfig`) and its option sets."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from neuro.learning.tasks import SOURCES

METHODS = ("finetune", "ewc", "gpm", "hlop", "dendrites")
#: ``snn``: the LIF MLP (``dendrites``: the spiking Active Dendrites Network); ``ann``: a ReLU MLP on
#: the time-averaged input (``dendrites``: the non-spiking one), :func:`neuro.learning.models.make_model`
NETWORKS = ("snn", "ann")

#: per-source defaults of options left unset. Event sources get tau_mem = 0.1 s: their frames are
#: 20-30 ms long, and with tau_mem = 20 ms the membrane forgets each frame before the next (the LIF
#: MLP never spikes and trains to chance, ln 10); static images are shown for 1 ms steps.
SOURCE_DEFAULTS = {"digits": {"tau_mem": 20e-3}, "mnist": {"tau_mem": 20e-3},
                   "digits_events": {"tau_mem": 0.1}, "nmnist": {"tau_mem": 0.1}}
TRAINING = ("bptt", "online")


@dataclass
class ContinualConfig:
    """Everything that determines a continual-learning run.

    Tasks: ``source`` (:data:`neuro.learning.tasks.SOURCES`), ``n_tasks``, ``time_steps`` (static
    inputs), ``time_window_us`` (event frames), ``train_samples`` / ``test_samples`` (subsets).
    Network: ``hidden`` sizes of the LIF MLP, ``tau_mem`` (s; default per source,
    :data:`SOURCE_DEFAULTS`), ``dt`` (s; default the source's).
    Training: ``method``, ``training`` (``bptt``/``online``), ``epochs`` per task, ``batch_size``,
    ``lr`` and ``momentum`` of SGD, ``seed``.
    HLOP: ``hlop_rows`` — lateral rows added per layer before each task: a list with one entry per
    task (an int for every layer or a per-layer list; the last entry repeats), ``hlop_lr`` (one
    value or per layer), ``hlop_normalize`` (``hlop_lr`` relative to the mean squared trace norm),
    ``hlop_iterations``, ``hlop_momentum``, ``hlop_lateral``, ``trace``
    (``rate``/``filtered``/``spikes``, :mod:`neuro.learning.sites`; also GPM's representation),
    ``hlop_spike_steps``.
    GPM: ``gpm_threshold`` (one value or per layer), ``gpm_samples`` (samples per task for the
    SVD). EWC: ``ewc_strength``, ``ewc_batches`` (mini-batches for the Fisher).
    Network kind: ``network`` (:data:`NETWORKS`). Active dendrites (``method="dendrites"``,
    :mod:`neuro.models.dendrites`, prototype contexts): ``dendrite_segments`` per unit (None: one
    per task; 0: none, the k-WTA-only ablation; 1: the single-segment fast path), ``dendrite_mode``
    (``abs_max_gate``/``max_gate``/``bias``), ``kwta`` (fraction of winners; 0: none),
    ``weight_sparsity`` (fraction of zero feed-forward weights).
    Runtime: ``data_root``, ``cache_dir``, ``device``, ``progress``.
    """

    method: str = "hlop"
    source: str = "digits_events"
    n_tasks: int = 10
    seed: int = 0
    training: str = "bptt"
    epochs: int = 3
    batch_size: int = 32
    lr: float = 0.05
    momentum: float = 0.0
    hidden: list = field(default_factory=lambda: [256, 256])
    tau_mem: float | None = None  # None: SOURCE_DEFAULTS[source]
    dt: float | None = None
    time_steps: int = 10
    time_window_us: int = 20_000
    train_samples: int | None = None
    test_samples: int | None = None
    hlop_rows: list = field(default_factory=lambda: [[60, 60, 30], [30, 30, 15]])
    hlop_lr: Any = 1e-2
    hlop_iterations: int = 5
    hlop_momentum: float = 0.9
    hlop_lateral: str = "matrix"
    hlop_normalize: bool = False
    hlop_spike_steps: int = 1000
    trace: str = "rate"
    gpm_threshold: Any = 0.97
    gpm_samples: int = 300
    ewc_strength: float = 1.0  # SGD on the penalty is stable while lr * strength * max Fisher < 2
    ewc_batches: int = 20
    network: str = "snn"
    dendrite_segments: int | None = None  # None: n_tasks
    dendrite_mode: str = "abs_max_gate"
    kwta: float = 0.05
    weight_sparsity: float = 0.5
    data_root: str | None = None
    cache_dir: str | None = None
    device: str = "cpu"
    progress: bool = True

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {self.source!r}")
        if self.training not in TRAINING:
            raise ValueError(f"training must be one of {TRAINING}, got {self.training!r}")
        self._check_network()
        for name in ("n_tasks", "epochs", "batch_size", "time_steps", "ewc_batches", "gpm_samples"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.tau_mem is None:
            self.tau_mem = SOURCE_DEFAULTS.get(self.source, {}).get("tau_mem", 20e-3)
        for name in ("lr", "tau_mem", "dt"):
            value = getattr(self, name)
            if value is not None and not value > 0:  # dt None: the source's own step
                raise ValueError(f"{name} must be positive, got {value}")
        if not self.hlop_rows:
            raise ValueError("hlop_rows must give the lateral rows of at least the first task")
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"hidden must list positive layer sizes, got {self.hidden}")
        self.hidden = [int(h) for h in self.hidden]

    def _check_network(self) -> None:
        from neuro.models.dendrites.layer import MODES

        if self.network not in NETWORKS:
            raise ValueError(f"network must be one of {NETWORKS}, got {self.network!r}")
        if (self.network == "ann" or self.method == "dendrites") and self.training != "bptt":
            raise ValueError("network='ann' and method='dendrites' train with training='bptt' only "
                             "(the context is the input averaged over the whole sequence)")
        if self.dendrite_mode not in MODES:
            raise ValueError(f"dendrite_mode must be one of {MODES}, got {self.dendrite_mode!r}")
        if self.dendrite_segments is not None and int(self.dendrite_segments) < 0:
            raise ValueError(f"dendrite_segments must be >= 0 (or None), got {self.dendrite_segments}")
        if not 0.0 <= self.kwta <= 1.0:
            raise ValueError(f"kwta must be in [0, 1] (0: none), got {self.kwta}")
        if not 0.0 <= self.weight_sparsity < 1.0:
            raise ValueError(f"weight_sparsity must be in [0, 1), got {self.weight_sparsity}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, stored in checkpoints and results."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContinualConfig:
        """Rebuild from :meth:`to_dict` output; unknown keys are an error."""
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown continual-learning options {sorted(unknown)}")
        return cls(**data)

    def rows_for_task(self, task: int, n_layers: int) -> list[int]:
        """Lateral rows to add to each of ``n_layers`` layers before ``task`` (the last entry of
        ``hlop_rows`` repeats)."""
        entry = self.hlop_rows[min(task, len(self.hlop_rows) - 1)]
        rows = [int(entry)] * n_layers if isinstance(entry, (int, float)) else [int(r) for r in entry]
        if len(rows) != n_layers:
            raise ValueError(f"hlop_rows entry {entry} has {len(rows)} sizes for {n_layers} layers")
        return rows


#: options that may change when a run is resumed (they do not affect its results)
RUNTIME_FIELDS = frozenset({"data_root", "cache_dir", "device", "progress"})
