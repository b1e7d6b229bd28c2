"""The configuration of a training run (stored inside every checkpoint)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

# fields that may change when a run is resumed (where and how it runs, not what it computes)
RUNTIME_FIELDS = frozenset({"device", "num_workers", "progress", "data_root", "download",
                            "cache_dir"})


@dataclass
class TrainConfig:
    """Everything that determines a training run.

    Data: ``dataset`` (a name of :data:`neuro.datasets.DATASETS`), binning options
    (``time_window_us``, ``n_time_bins``, ``duration_us``, ``denoise_us``, ``downsample``,
    ``crop``, ``include_incomplete``), ``max_len`` (crop/pad every sample to this many frames),
    ``train_samples`` /
    ``test_samples`` (use only the first n, for quick runs), ``data_root``, ``download``,
    ``cache_dir``.
    Model: ``model`` (a name of :data:`neuro.train.models.MODELS`), ``model_options`` (its keyword
    arguments), ``loss`` (``count``, ``max``, ``last``, ``mean``, ``sum_softmax``: cross-entropy on
    spike counts, on the max / last / mean membrane of the LI readout, or on its summed per-step
    softmax), ``backend``.
    Optimisation: ``epochs``, ``batch_size``, ``lr``, ``weight_decay``, ``scheduler``
    (``cosine`` / ``onecycle`` / ``none``, see :mod:`neuro.train.schedules`), ``max_lr`` (the
    one-cycle peak; default ``lr``), ``grad_clip``, ``seed``. A model may refine the optimiser
    (parameter groups) and hook into epochs and steps: see :mod:`neuro.train.trainer`.
    :meth:`recipe` starts from a model's published settings (e.g. ``delay_snn`` on ``shd``).
    Runtime (may differ on resume): ``device``, ``num_workers``, ``progress``.
    """

    dataset: str = "digits_events"
    model: str = "csnn"
    loss: str = "max"
    epochs: int = 10
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.0
    scheduler: str = "cosine"
    max_lr: float | None = None
    grad_clip: float | None = None
    seed: int = 0
    model_options: dict = field(default_factory=dict)
    backend: str = "auto"
    time_window_us: float | None = None
    n_time_bins: int | None = None
    duration_us: float | None = None
    denoise_us: float | None = None
    downsample: float | None = None
    crop: list | None = None
    include_incomplete: bool = False
    max_len: int | None = None
    train_samples: int | None = None
    test_samples: int | None = None
    device: str = "auto"
    num_workers: int = 0
    progress: bool = True
    data_root: str | None = None
    download: bool = False
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.scheduler not in ("cosine", "onecycle", "none"):
            raise ValueError(f"scheduler must be 'cosine', 'onecycle' or 'none', got "
                             f"{self.scheduler!r}")
        if self.max_lr is not None and not self.max_lr > 0:
            raise ValueError(f"max_lr must be positive, got {self.max_lr}")

    def to_dict(self) -> dict[str, Any]:
        """The configuration as a plain dict of its fields (JSON-serialisable; :meth:`from_dict` reads it
        back).
        """
        return asdict(self)

    @classmethod
    def recipe(cls, model: str, dataset: str, **changes: Any) -> TrainConfig:
        """The published training settings of ``model`` on ``dataset`` (see :func:`with_recipe`),
        with ``changes`` on top (``model_options`` are merged)."""
        return cls(**with_recipe({"model": model, "dataset": dataset, **changes}))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build a configuration from a dict of options (missing ones take their defaults); raises
        ``ValueError`` naming any unknown option.
        """
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown training options {sorted(unknown)}")
        return cls(**data)

    def data_options(self) -> dict[str, Any]:
        """The binning options that are set (passed to :func:`neuro.datasets.load_dataset`)."""
        names = ("time_window_us", "n_time_bins", "duration_us", "denoise_us", "downsample", "crop")
        options = {n: getattr(self, n) for n in names if getattr(self, n) is not None}
        if "crop" in options:
            options["crop"] = tuple(options["crop"])
        if self.include_incomplete:
            options["include_incomplete"] = True
        return options


def with_recipe(given: dict[str, Any]) -> dict[str, Any]:
    """``given`` TrainConfig fields on top of the training recipe of their model and dataset.

    Models with published settings (:data:`neuro.train.models.RECIPES`, e.g. ``delay_snn``) fill
    every field that ``given`` leaves out; ``model_options`` are merged key by key. Other models
    get ``given`` unchanged (the :class:`TrainConfig` defaults apply).
    """
    from neuro.train.models import RECIPES

    model = given.get("model", TrainConfig.model)
    if model not in RECIPES:
        return dict(given)
    defaults = RECIPES[model](given.get("dataset", TrainConfig.dataset))
    options = {**defaults.get("model_options", {}), **given.get("model_options", {})}
    return {**defaults, **given, "model_options": options}


def config_diff(stored: dict[str, Any], requested: dict[str, Any],
                ignore: frozenset = RUNTIME_FIELDS, defaults: dict[str, Any] | None = None) -> list[str]:
    """Human-readable differences ``"lr: 0.001 (checkpoint) != 0.01 (requested)"``. ``defaults``
    (the config class's defaults; :class:`TrainConfig`'s if omitted) stand in for fields added
    after a checkpoint was written."""
    out = []
    defaults = TrainConfig().to_dict() if defaults is None else defaults
    for key in sorted(set(stored) | set(requested)):
        if key in ignore:
            continue
        a, b = stored.get(key, defaults.get(key, "<absent>")), requested.get(key, "<absent>")
        if a != b:
            out.append(f"{key}: {a!r} (checkpoint) != {b!r} (requested)")
    return out
