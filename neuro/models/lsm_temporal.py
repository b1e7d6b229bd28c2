"""Does the liquid beat its input? Reservoir readout vs the raw input, an ESN and a trained LSTM.

For one :class:`neuro.tasks.reservoir_tasks.StreamTask` and one seed, :func:`compare_on_task` scores
(ridge readouts, fitted on the training readouts, settings chosen on the validation readouts, scored
on the test readouts that come last in time):

* ``lsm`` — spike counts of an ``n``-neuron liquid in ``windows`` windows over the ``lookback`` steps
  before each readout (:meth:`LiquidStateMachine.stream_features`), best of ``lsm_grid``
  (input scale, recurrent scale);
* ``raw`` — the same window counts of the input itself, with as many windows as make the feature
  count equal (``n * windows / n_inputs``): the readout without a reservoir;
* ``raw_history`` — the input counted over the whole ``memory`` span the target depends on (same
  feature count, coarser windows): what a linear readout gets when it is *given* the past;
* ``esn`` — an untrained leaky-tanh echo state network of ``n`` units on the input at the liquid's
  time step, its states averaged over the same windows, best of ``esn_grid``
  (spectral radius, input scale, leak);
* ``lstm`` — a trained LSTM on the binned input of ``memory + lookback`` steps before each readout
  (the ceiling).

Scores are accuracy (classification) or NRMSE (regression, lower is better).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from neuro.models.lsm import LiquidStateMachine, ReservoirConfig, linear_readout, window_counts
from neuro.models.reservoir_baselines import (
    EchoStateNetwork,
    history_windows,
    train_lstm_readout,
    window_means,
)
from neuro.models.reservoir_measures import nrmse
from neuro.tasks.reservoir_tasks import StreamTask, split_readouts

__all__ = ["ComparisonConfig", "METHODS", "compare_on_task", "fit_and_score", "higher_is_better",
           "reservoir_spikes"]

METHODS = ("lsm", "raw", "raw_history", "esn", "lstm")


@dataclass(frozen=True)
class ComparisonConfig:
    """Sizes and grids of :func:`compare_on_task` (defaults: the committed benchmark)."""

    n: int = 200
    windows: int = 1
    reservoir: ReservoirConfig = field(default_factory=lambda: ReservoirConfig(n=200, bias=0.0))
    # (input scale, recurrent scale): input-driven liquids below the onset of self-sustained firing
    # (the three best of a 6-setting grid on seed 0 of a longer run; see benchmarks/lsm_temporal.py)
    lsm_grid: tuple = ((1.0, 0.25), (1.0, 0.5), (2.0, 0.5))
    # (spectral radius, input scale, leak): the three best of a 6-setting grid, likewise
    esn_grid: tuple = ((0.9, 0.3, 0.3), (0.9, 0.3, 0.1), (0.9, 1.0, 0.1))
    lstm_bin: int = 5
    lstm_hidden: int = 64
    lstm_epochs: int = 40
    fractions: tuple = (0.6, 0.15)

    def __post_init__(self) -> None:
        if self.n != self.reservoir.n:
            raise ValueError(f"n={self.n} differs from reservoir.n={self.reservoir.n}")
        if not self.lsm_grid or not self.esn_grid:
            raise ValueError("lsm_grid and esn_grid need at least one setting each")


def higher_is_better(kind: str) -> bool:
    """Accuracy (classification) grows, NRMSE (regression) shrinks with quality."""
    return kind == "classification"


def fit_and_score(kind: str, x: np.ndarray, y: np.ndarray, train: np.ndarray,
                  evaluate: Sequence[np.ndarray]) -> list[float]:
    """Fit the standardised ridge readout on ``train`` and score it on each index set of ``evaluate``."""
    if kind == "classification":
        model = linear_readout("ridge").fit(x[train], y[train])
        return [float(model.score(x[rows], y[rows])) for rows in evaluate]
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 4, 15))).fit(x[train], y[train])
    return [nrmse(y[rows], model.predict(x[rows])) for rows in evaluate]


def _stream_key(task: StreamTask) -> str:
    h = hashlib.sha1(np.ascontiguousarray(task.times).tobytes())
    h.update(np.ascontiguousarray(task.indices).tobytes())
    return f"{h.hexdigest()}:{task.n_inputs}:{task.n_steps}:{task.dt}"


def reservoir_spikes(task: StreamTask, config: ReservoirConfig, input_scale: float, recurrent_scale: float,
                     cache: dict | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """``(steps, neurons, rate Hz)`` of a liquid driven by the task's stream (cached per stream/setting:
    tasks built on the same stream, such as recall and XOR of one seed, share one simulation)."""
    key = (_stream_key(task), repr(config), float(input_scale), float(recurrent_scale))
    if cache is not None and key in cache:
        return cache[key]
    if config.dt != task.dt:
        raise ValueError(f"the reservoir's dt={config.dt} differs from the task's dt={task.dt}")
    lsm = LiquidStateMachine(task.n_inputs, config)
    lsm.set_input_scale(input_scale)
    lsm.set_scale(recurrent_scale)
    steps, idx = lsm.run(task.spikes, task.duration)
    out = (steps.copy(), idx.copy(), len(steps) / (config.n * task.duration))
    if cache is not None:
        cache[key] = out
    return out


def _best(kind: str, scored: list[dict]) -> dict:
    pick = max if higher_is_better(kind) else min
    return pick(scored, key=lambda s: s["val"])


def compare_on_task(task: StreamTask, seed: int = 0, config: ComparisonConfig = ComparisonConfig(),
                    cache: dict | None = None, methods: Sequence[str] = METHODS) -> dict:
    """Scores of every method in ``methods`` on ``task`` (see the module docstring):
    ``{method: {"val", "test", "features", ...}, "task": {...}}``."""
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}; choose from {METHODS}")
    n, w = config.n, config.windows
    if (n * w) % task.n_inputs:
        raise ValueError(f"n * windows = {n * w} is not a multiple of the task's {task.n_inputs} inputs: "
                         "the raw features cannot match the reservoir's count")
    w_raw = n * w // task.n_inputs
    if w_raw > task.lookback:
        raise ValueError(f"matching {n * w} features needs {w_raw} windows in a lookback of "
                         f"{task.lookback} steps")
    train, val, test = split_readouts(len(task.targets), config.fractions)
    y, kind = task.targets, task.kind
    result: dict = {"task": {"name": task.name, "kind": kind, "chance": task.chance, "readouts": len(y),
                             "train": len(train), "val": len(val), "test": len(test),
                             "lookback": task.lookback, "memory": task.memory,
                             "seconds_simulated": task.duration}}

    def ridge(x: np.ndarray, **extra) -> dict:
        v, t = fit_and_score(kind, x, y, train, (val, test))
        return {"val": v, "test": t, "features": int(x.shape[1]), **extra}

    if "raw" in methods:
        result["raw"] = ridge(window_counts(task.steps, task.indices, task.n_inputs, task.readout_steps,
                                            task.lookback, w_raw), windows=w_raw)
    if "raw_history" in methods:
        w_hist = min(w_raw, task.memory)
        x = window_counts(task.steps, task.indices, task.n_inputs, task.readout_steps, task.memory, w_hist)
        result["raw_history"] = ridge(x, windows=w_hist, span=task.memory)
    if "lsm" in methods:
        cfg = replace(config.reservoir, seed=seed, dt=task.dt)
        scored = []
        for input_scale, rec_scale in config.lsm_grid:
            steps, idx, rate = reservoir_spikes(task, cfg, input_scale, rec_scale, cache)
            x = window_counts(steps, idx, n, task.readout_steps, task.lookback, w)
            scored.append(ridge(x, input_scale=input_scale, recurrent_scale=rec_scale, rate_hz=rate))
        result["lsm"] = {**_best(kind, scored), "grid": scored}
    if "esn" in methods:
        u = task.binned(1)
        scored = []
        for rho, input_scale, leak in config.esn_grid:
            esn = EchoStateNetwork(n, task.n_inputs, rho, input_scale, leak, seed=seed)
            x = window_means(esn.run(u), task.readout_steps, task.lookback, w)
            scored.append(ridge(x, spectral_radius=rho, input_scale=input_scale, leak=leak))
        result["esn"] = {**_best(kind, scored), "grid": scored}
    if "lstm" in methods:
        b = config.lstm_bin
        history = -(-(task.memory + task.lookback) // b)
        x = history_windows(task.binned(b) if task.n_steps % b == 0 else _binned_floor(task, b),
                            task.readout_steps // b, history)
        res = train_lstm_readout(x, y, kind, train, val, test, hidden=config.lstm_hidden,
                                 epochs=config.lstm_epochs, seed=seed,
                                 n_classes=int(y.max()) + 1 if kind == "classification" else None)
        result["lstm"] = {**res, "history_bins": history, "bin_steps": b}
    return result


def _binned_floor(task: StreamTask, bin_steps: int) -> np.ndarray:
    """Input counts in whole bins of ``bin_steps`` (a trailing partial bin is dropped)."""
    n_bins = task.n_steps // bin_steps
    keep = task.steps < n_bins * bin_steps
    flat = (task.steps[keep] // bin_steps) * task.n_inputs + task.indices[keep]
    counts = np.bincount(flat, minlength=n_bins * task.n_inputs)
    return counts.reshape(n_bins, task.n_inputs).astype(np.float32)
