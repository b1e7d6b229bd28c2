r"""Temporal tasks for reservoirs, generated offline and seeded: one long spike stream per task.

Every task is a :class:`StreamTask`: a stream of input spikes (``times`` in seconds, input
``indices``) on a grid of ``dt`` seconds, and *readouts*: at step ``r_k`` a readout sees the steps
``[r_k - lookback, r_k)`` (of the input, or of a reservoir driven by it) and must produce
``targets[k]``. ``memory`` is how far back, in steps, the target depends on the input; when it
exceeds ``lookback`` a readout of the raw input window cannot solve the task and something must
remember (the reservoir's fading memory). Tasks:

* :func:`delayed_pattern_task` — a stream of segments, each a jittered copy of one of two frozen
  Poisson spike templates (bit :math:`b_k`, Maass et al. 2002); the readout at the end of segment
  :math:`k` reports :math:`b_{k-d}` (``"recall"``) or :math:`b_{k-d} \oplus b_{k-d-1}` (``"xor"``).
* :func:`narma_task` — NARMA-10 (Atiya & Parlos 2000) on a Poisson rate code of its input:
  :math:`y_{t+1} = 0.3 y_t + 0.05 y_t \sum_{i=0}^{9} y_{t-i} + 1.5 u_{t-9} u_t + 0.1`,
  :math:`u_t \sim U[0, 0.5]` held for one bin; the readout at the end of bin :math:`t` predicts
  :math:`y_{t+1}`.
* :func:`order_task` — "words" made of the same ``n_parts`` frozen sub-patterns in a random order,
  class = the order (``n_parts!`` classes); the readout sees only the word's last sub-pattern.
* :func:`spike_adding_task` — the project's :class:`neuro.datasets.spike_adding.SpikeAdding` trials
  laid end to end; the readout sees the last ``lookback`` steps of each trial, label ``a + b``.
* :func:`memory_task` — i.i.d. values :math:`u_t \sim U[0, 1]` held for one bin each, rate coded;
  the target is :math:`u_t` itself (``values``), the input of the memory-capacity measure
  (:func:`neuro.models.reservoir_measures.memory_curve`).

Input spikes are unique per ``(step, channel)`` (a simulator counts one spike per source and step).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["StreamTask", "delayed_pattern_task", "memory_task", "narma", "narma_task", "order_task",
           "spike_adding_task", "split_readouts"]


@dataclass(frozen=True)
class StreamTask:
    """One stream of input spikes and the readouts a model must produce (see the module docstring).

    ``kind`` is ``"classification"`` (integer ``targets``, score: accuracy) or ``"regression"``
    (float ``targets``, score: NRMSE). ``chance``: the majority-class accuracy, or 1.0 (the NRMSE of
    predicting the mean). ``values``: the analog input per readout where the task has one.
    """

    name: str
    times: np.ndarray
    indices: np.ndarray
    n_inputs: int
    dt: float
    n_steps: int
    readout_steps: np.ndarray
    targets: np.ndarray
    kind: str
    lookback: int
    memory: int
    chance: float
    description: str = ""
    values: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ("classification", "regression"):
            raise ValueError(f"kind must be 'classification' or 'regression', got {self.kind!r}")
        if len(self.readout_steps) != len(self.targets):
            raise ValueError("readout_steps and targets must have the same length")
        if len(self.readout_steps) and (self.readout_steps.min() < self.lookback
                                        or self.readout_steps.max() > self.n_steps):
            raise ValueError(f"readouts must lie in [lookback={self.lookback}, n_steps={self.n_steps}]")
        if self.lookback < 1 or self.memory < self.lookback:
            raise ValueError(f"need 1 <= lookback <= memory, got {self.lookback}, {self.memory}")

    @property
    def duration(self) -> float:
        """Length of the stream in seconds."""
        return self.n_steps * self.dt

    @property
    def steps(self) -> np.ndarray:
        """The step of every input spike."""
        return np.floor(self.times / self.dt + 0.5).astype(np.int64)

    @property
    def spikes(self) -> tuple[np.ndarray, np.ndarray]:
        """``(times, indices)``: the sample format of :class:`neuro.models.lsm.LiquidStateMachine`."""
        return self.times, self.indices

    def binned(self, bin_steps: int = 1) -> np.ndarray:
        """Input spike counts ``[n_steps // bin_steps, n_inputs]`` (float32) in bins of ``bin_steps``."""
        if bin_steps < 1 or self.n_steps % bin_steps:
            raise ValueError(f"bin_steps must divide n_steps={self.n_steps}, got {bin_steps}")
        n_bins = self.n_steps // bin_steps
        flat = (self.steps // bin_steps) * self.n_inputs + self.indices
        return np.bincount(flat, minlength=n_bins * self.n_inputs).reshape(n_bins, self.n_inputs
                                                                           ).astype(np.float32)


def split_readouts(n: int, fractions: tuple[float, float] = (0.6, 0.15)
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Readout indices split in time order: ``(train, validation, test)`` (the test set is last)."""
    a, b = fractions
    if not (0 < a and 0 <= b and a + b < 1):
        raise ValueError(f"fractions must be train > 0, validation >= 0, summing below 1, got {fractions}")
    i, j = int(round(a * n)), int(round((a + b) * n))
    idx = np.arange(n)
    return idx[:i], idx[i:j], idx[j:]


# -- helpers -------------------------------------------------------------------------------------------


def _stream(step_lists: list[np.ndarray], chan_lists: list[np.ndarray], n_inputs: int, dt: float
            ) -> tuple[np.ndarray, np.ndarray]:
    """Sorted, de-duplicated ``(times, indices)`` from lists of spike steps and channels."""
    steps = np.concatenate(step_lists) if step_lists else np.zeros(0, np.int64)
    chans = np.concatenate(chan_lists) if chan_lists else np.zeros(0, np.int64)
    key = np.unique(steps.astype(np.int64) * n_inputs + chans.astype(np.int64))
    return (key // n_inputs) * dt, key % n_inputs


def _rate_code(values: np.ndarray, bin_steps: int, n_inputs: int, max_rate: float, dt: float,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Poisson (Bernoulli per step) spikes on every channel at ``max_rate * value`` Hz, one value per bin."""
    p = np.repeat(np.clip(values, 0.0, None) * max_rate * dt, bin_steps)  # [steps]
    if p.max(initial=0.0) > 1.0:
        raise ValueError(f"max_rate * dt * value must be <= 1 (one spike per step), got {p.max():.3g}")
    steps, chans = np.nonzero(rng.random((p.size, n_inputs)) < p[:, None])
    return steps, chans


def _check(**counts: int) -> None:
    for name, v in counts.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")


def _template(n_steps: int, n_inputs: int, rate: float, dt: float, rng: np.random.Generator
              ) -> tuple[np.ndarray, np.ndarray]:
    """A frozen Poisson pattern: steps and channels of its spikes (at least one spike)."""
    while True:
        steps, chans = np.nonzero(rng.random((n_steps, n_inputs)) < rate * dt)
        if steps.size:
            return steps, chans


def _jittered(template: tuple[np.ndarray, np.ndarray], start: int, length: int, jitter_steps: float,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A copy of ``template`` placed at ``start``, each spike moved by N(0, jitter) steps (kept inside)."""
    steps, chans = template
    moved = steps + np.rint(rng.normal(0.0, jitter_steps, steps.size)).astype(np.int64) if jitter_steps \
        else steps.copy()
    return start + np.clip(moved, 0, length - 1), chans


# -- tasks ---------------------------------------------------------------------------------------------


def delayed_pattern_task(kind: str = "recall", delay: int = 1, n_segments: int = 2000, segment: int = 30,
                         n_inputs: int = 40, rate: float = 20.0, jitter: float = 2e-3, dt: float = 1e-3,
                         seed: int = 0) -> StreamTask:
    r"""Segments of ``segment`` steps, each a jittered copy of template :math:`b_k \in \{0, 1\}`.

    Two frozen Poisson templates (``rate`` Hz on each of ``n_inputs`` channels); each segment shows
    one, chosen uniformly, with every spike moved by Gaussian ``jitter`` seconds. The readout at the
    end of segment :math:`k` reports :math:`b_{k-\text{delay}}` (``kind="recall"``) or
    :math:`b_{k-\text{delay}} \oplus b_{k-\text{delay}-1}` (``"xor"``); it sees the current segment.
    """
    _check(n_segments=n_segments, segment=segment, n_inputs=n_inputs)
    if kind not in ("recall", "xor"):
        raise ValueError(f"kind must be 'recall' or 'xor', got {kind!r}")
    if isinstance(delay, bool) or not isinstance(delay, (int, np.integer)) or delay < 0:
        raise ValueError(f"delay must be a non-negative integer number of segments, got {delay!r}")
    span = delay + (2 if kind == "xor" else 1)  # segments the target depends on
    if n_segments <= span + 10:
        raise ValueError(f"n_segments={n_segments} is too short for delay={delay}")
    rng = np.random.default_rng([seed, 23, 1])
    templates = [_template(segment, n_inputs, rate, dt, rng) for _ in range(2)]
    bits = rng.integers(0, 2, n_segments)
    parts = [_jittered(templates[b], k * segment, segment, jitter / dt, rng) for k, b in enumerate(bits)]
    times, indices = _stream([p[0] for p in parts], [p[1] for p in parts], n_inputs, dt)
    k = np.arange(span - 1, n_segments)
    target = bits[k - delay] if kind == "recall" else bits[k - delay] ^ bits[k - delay - 1]
    what = f"recall of b[k-{delay}]" if kind == "recall" else f"XOR b[k-{delay}]^b[k-{delay + 1}]"
    return StreamTask(
        name=f"{kind}{delay}", times=times, indices=indices, n_inputs=n_inputs, dt=dt,
        n_steps=n_segments * segment, readout_steps=(k + 1) * segment, targets=target.astype(np.int64),
        kind="classification", lookback=segment, memory=span * segment,
        chance=float(max(np.mean(target), 1 - np.mean(target))),
        description=f"delayed {what} of two jittered {segment}-step spike templates",
        info={"bits": bits, "segment": segment})


def narma(u: np.ndarray, order: int = 10) -> np.ndarray:
    r"""The NARMA sequence of input ``u``: :math:`y_{t+1} = 0.3 y_t + 0.05 y_t \sum_{i<order} y_{t-i}
    + 1.5 u_{t-order+1} u_t + 0.1` (``y_0 .. y_{order-1} = 0``); returns ``y`` (same length)."""
    u = np.asarray(u, dtype=np.float64)
    y = np.zeros_like(u)
    for t in range(order - 1, len(u) - 1):
        y[t + 1] = (0.3 * y[t] + 0.05 * y[t] * y[t - order + 1:t + 1].sum()
                    + 1.5 * u[t - order + 1] * u[t] + 0.1)
    return y


def narma_task(n_values: int = 3000, bin_steps: int = 20, order: int = 10, n_inputs: int = 40,
               max_rate: float = 100.0, washout: int = 100, dt: float = 1e-3, seed: int = 0) -> StreamTask:
    """NARMA-``order`` on a Poisson rate code (rate ``max_rate * u / 0.5`` on every channel).

    ``u`` is redrawn (next sub-seed) in the rare case the sequence diverges (``|y| > 1``).
    """
    _check(n_values=n_values, bin_steps=bin_steps, order=order, n_inputs=n_inputs)
    if not 0 <= washout < n_values - 10:
        raise ValueError(f"washout must be in [0, n_values - 10), got {washout}")
    for attempt in range(100):
        rng = np.random.default_rng([seed, 23, 2, attempt])
        u = rng.uniform(0.0, 0.5, n_values)
        y = narma(u, order)
        if np.isfinite(y).all() and np.abs(y).max() <= 1.0:
            break
    else:  # pragma: no cover - NARMA-10 on U[0, 0.5] diverges rarely
        raise RuntimeError("NARMA diverged for 100 input draws")
    steps, chans = _rate_code(u / 0.5, bin_steps, n_inputs, max_rate, dt, rng)
    times, indices = _stream([steps], [chans], n_inputs, dt)
    k = np.arange(max(washout, order), n_values - 1)
    return StreamTask(
        name=f"narma{order}", times=times, indices=indices, n_inputs=n_inputs, dt=dt,
        n_steps=n_values * bin_steps, readout_steps=(k + 1) * bin_steps, targets=y[k + 1],
        kind="regression", lookback=bin_steps, memory=order * bin_steps, chance=1.0,
        description=f"NARMA-{order}, u held {bin_steps} steps, Poisson rate code up to {max_rate:g} Hz",
        values=u[k], info={"u": u, "y": y, "bin_steps": bin_steps})


def order_task(n_words: int = 1500, n_parts: int = 3, part: int = 20, max_gap: int = 10, n_inputs: int = 40,
               rate: float = 30.0, jitter: float = 1e-3, dt: float = 1e-3, seed: int = 0) -> StreamTask:
    """Words of ``n_parts`` frozen Poisson sub-patterns (``part`` steps each) in a random order.

    Every word contains each sub-pattern exactly once (the same events), separated by random gaps
    of 0 .. ``max_gap`` silent steps (also before the word); the class is the order (index in
    ``itertools.permutations(range(n_parts))``). The readout at the end of a word sees its last
    sub-pattern only, which leaves ``(n_parts - 1)!`` orders possible without memory.
    """
    _check(n_words=n_words, n_parts=n_parts, part=part, n_inputs=n_inputs)
    if n_parts < 2 or max_gap < 0:
        raise ValueError(f"need n_parts >= 2 and max_gap >= 0, got {n_parts}, {max_gap}")
    rng = np.random.default_rng([seed, 23, 3])
    templates = [_template(part, n_inputs, rate, dt, rng) for _ in range(n_parts)]
    orders = list(itertools.permutations(range(n_parts)))
    labels = rng.integers(0, len(orders), n_words)
    steps_l, chans_l, ends = [], [], []
    t = 0
    for label in labels:
        for p in orders[label]:
            t += int(rng.integers(0, max_gap + 1))
            s, c = _jittered(templates[p], t, part, jitter / dt, rng)
            steps_l.append(s)
            chans_l.append(c)
            t += part
        ends.append(t)
    n_steps = t + 1
    times, indices = _stream(steps_l, chans_l, n_inputs, dt)
    counts = np.bincount(labels, minlength=len(orders))
    return StreamTask(
        name=f"order{n_parts}", times=times, indices=indices, n_inputs=n_inputs, dt=dt, n_steps=n_steps,
        readout_steps=np.asarray(ends), targets=labels.astype(np.int64), kind="classification",
        lookback=part, memory=n_parts * (part + max_gap), chance=float(counts.max() / n_words),
        description=(f"order of {n_parts} {part}-step sub-patterns ({math.factorial(n_parts)} classes), "
                     f"gaps 0-{max_gap} steps"),
        info={"orders": orders})


def spike_adding_task(n_trials: int = 1500, steps: int = 200, values: int = 5, group: int = 8,
                      cue_steps: int = 10, lookback: int = 25, noise_rate: float = 0.02,
                      dt: float = 1e-3, seed: int = 0) -> StreamTask:
    """:class:`neuro.datasets.spike_adding.SpikeAdding` trials end to end (``values * group`` inputs).

    The readout at the end of each trial sees its last ``lookback`` steps (no cue falls there when
    ``lookback <= steps / 4``) and must report the sum of the trial's two cue values.
    """
    from neuro.datasets.spike_adding import SpikeAdding

    _check(n_trials=n_trials, lookback=lookback)
    spec = SpikeAdding(steps=steps, values=values, group=group, cue_steps=cue_steps, noise_rate=noise_rate)
    if lookback > steps:
        raise ValueError(f"lookback={lookback} exceeds the trial length {steps}")
    x, y = spec.sample(n_trials, seed=seed)  # [steps, n_trials, channels]
    x = x.permute(1, 0, 2).reshape(n_trials * steps, spec.channels).numpy()
    s, c = np.nonzero(x)
    times, indices = _stream([s], [c], spec.channels, dt)
    labels = y.numpy().astype(np.int64)
    return StreamTask(
        name="adding", times=times, indices=indices, n_inputs=spec.channels, dt=dt, n_steps=n_trials * steps,
        readout_steps=(np.arange(n_trials) + 1) * steps, targets=labels, kind="classification",
        lookback=lookback, memory=steps, chance=float(np.bincount(labels).max() / n_trials),
        description=f"spike adding ({values} values, {steps}-step trials), sum of two distant cues")


def memory_task(n_values: int = 3000, bin_steps: int = 20, n_inputs: int = 40, max_rate: float = 50.0,
                dt: float = 1e-3, seed: int = 0) -> StreamTask:
    """I.i.d. ``u ~ U[0, 1]`` held ``bin_steps`` steps each, rate coded (``max_rate * u`` Hz per channel).

    Readout ``k`` sits at the end of bin ``k``; the target (and ``values``) is ``u_k``. Delayed
    targets ``u_{k-d}`` give the memory curve (:func:`neuro.models.reservoir_measures.memory_curve`).
    """
    _check(n_values=n_values, bin_steps=bin_steps, n_inputs=n_inputs)
    rng = np.random.default_rng([seed, 23, 4])
    u = rng.uniform(0.0, 1.0, n_values)
    steps, chans = _rate_code(u, bin_steps, n_inputs, max_rate, dt, rng)
    times, indices = _stream([steps], [chans], n_inputs, dt)
    k = np.arange(n_values)
    return StreamTask(
        name="memory", times=times, indices=indices, n_inputs=n_inputs, dt=dt, n_steps=n_values * bin_steps,
        readout_steps=(k + 1) * bin_steps, targets=u, kind="regression", lookback=bin_steps,
        memory=bin_steps, chance=1.0, description=f"i.i.d. U[0,1] values, {bin_steps}-step bins, rate coded",
        values=u, info={"bin_steps": bin_steps})
