"""Tuning a liquid with the reservoir measures as the objective: where does a reservoir work?

:func:`measure_liquid` puts one liquid setting (input scale, recurrent scale = synaptic scaling,
hence spectral radius) through the standard measures of :mod:`neuro.models.reservoir_measures`:

* firing rate on the memory task's input;
* memory curve and capacity (Jaeger 2002) on :func:`neuro.tasks.reservoir_tasks.memory_task`
  (delays in bins; ``mc`` sums delays 1 .. ``max_delay``, ``mc0`` is the current bin);
* kernel quality and generalisation rank (Legenstein & Maass 2007): ranks of the end states for
  ``m`` different random input streams, and for ``m`` jittered copies of one stream;
* damage spreading: the distance between the liquid states (filtered spike trains, tau 30 ms) of
  a stream and the same stream with one extra input spike, averaged 100-200 ms after the extra
  spike (0: the perturbation died out, an ordered liquid; > 0: it persists, a chaotic one);
* persistent rate: the firing rate 20-200 ms after the input stops. A liquid whose static
  excitation ignites self-sustained firing (near the refractory limit) forgets its input: this
  marks the upper edge of the useful range of the recurrent scale.

:func:`sweep` runs a grid of settings and :func:`rate_series` settings set to target firing rates
(:meth:`LiquidStateMachine.scale_to_rate`); :func:`separation_curves` draws Maass's separation
picture (state distance over time for input pairs at growing distances); :func:`plot_sweep` draws
the measures over the grid (the edge-of-chaos picture) and :func:`plot_capacity_vs_rate` memory
capacity against firing rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike

import numpy as np

from neuro.models.lsm import LiquidStateMachine, ReservoirConfig, stream_traces, window_counts
from neuro.models.reservoir_measures import generalization_rank, kernel_quality, memory_curve, state_distance
from neuro.tasks.reservoir_tasks import StreamTask, memory_task

__all__ = ["MeasureConfig", "damage_spreading", "measure_liquid", "plot_capacity_vs_rate", "plot_sweep",
           "rank_streams", "rate_series", "separation_curves", "sweep"]


@dataclass(frozen=True)
class MeasureConfig:
    """Sizes of the measurements (defaults: the committed sweep)."""

    n_values: int = 2500  # memory task length (bins)
    bin_steps: int = 20
    max_rate: float = 50.0  # Hz per channel at u = 1 (mean 25 Hz, near the pattern tasks' 20 Hz)
    max_delay: int = 10
    rank_streams: int = 200  # m
    rank_steps: int = 200  # length of each rank stream (steps)
    rank_rate: float = 20.0  # Hz per input channel
    rank_lookback: int = 30  # the state is the spike count over the last rank_lookback steps
    jitter: float = 3e-3  # seconds, the noise of the generalisation streams
    rtol: float = 1e-2
    perturbations: int = 5
    calibration: float = 2.0  # seconds of the memory stream used to bisect a target rate
    rate_iterations: int = 10  # bisection steps of a target rate
    seed: int = 0


def rank_streams(n_inputs: int, m: int, steps: int, rate: float, dt: float, jitter: float | None,
                 seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``m`` Poisson streams of ``steps`` steps (``jitter=None``: all different) or ``m`` copies of one
    stream with every spike moved by N(0, ``jitter``) seconds (the generalisation inputs)."""
    rng = np.random.default_rng([seed, 23, 7])

    def draw() -> tuple[np.ndarray, np.ndarray]:
        s, c = np.nonzero(rng.random((steps, n_inputs)) < rate * dt)
        return s, c

    base = draw()
    out = []
    for _ in range(m):
        s, c = draw() if jitter is None else base
        if jitter is not None:
            s = np.clip(s + np.rint(rng.normal(0, jitter / dt, s.size)).astype(np.int64), 0, steps - 1)
        key = np.unique(s * n_inputs + c)
        out.append(((key // n_inputs) * dt, key % n_inputs))
    return out


def _end_states(lsm: LiquidStateMachine, streams: list, steps: int, lookback: int) -> np.ndarray:
    dt, n = lsm.config.dt, lsm.config.n
    rows = []
    for sample in streams:
        st, idx = lsm.run(sample, steps * dt)
        rows.append(window_counts(st, idx, n, np.array([steps]), lookback)[0])
    return np.stack(rows)


def measure_liquid(n_inputs: int, config: ReservoirConfig, input_scale: float, recurrent_scale: float | None,
                   measure: MeasureConfig = MeasureConfig(), memory: StreamTask | None = None,
                   target_rate: float | None = None, inhibition_scale: float = 1.0) -> dict:
    """All measures of one setting (see the module docstring). With ``target_rate`` (Hz) the recurrent
    scale is instead bisected until the liquid fires at that rate on the memory task's input."""
    m = measure
    memory = memory or memory_task(m.n_values, m.bin_steps, n_inputs, m.max_rate, config.dt, seed=m.seed)
    lsm = LiquidStateMachine(n_inputs, config)
    lsm.set_input_scale(input_scale)
    lsm.set_inhibition_scale(inhibition_scale)
    if target_rate is not None:
        first = memory.times < m.calibration
        lsm.scale_to_rate([(memory.times[first], memory.indices[first])], m.calibration, target_rate,
                          low=1e-2, high=50.0, iterations=m.rate_iterations)
    else:
        lsm.set_scale(recurrent_scale)
    x, rate = lsm.stream_features(memory.spikes, memory.duration, memory.readout_steps, memory.lookback)
    curve = memory_curve(memory.values, x, range(0, m.max_delay + 1))
    steps = m.rank_steps
    distinct = _end_states(lsm, rank_streams(n_inputs, m.rank_streams, steps, m.rank_rate, config.dt, None,
                                             m.seed), steps, m.rank_lookback)
    noisy = _end_states(lsm, rank_streams(n_inputs, m.rank_streams, steps, m.rank_rate, config.dt, m.jitter,
                                          m.seed + 1), steps, m.rank_lookback)
    kq, gr = kernel_quality(distinct, m.rtol), generalization_rank(noisy, m.rtol)
    damage, persistent = damage_spreading(lsm, m)
    return {"input_scale": float(input_scale), "recurrent_scale": lsm.scale,
            "inhibition_scale": float(inhibition_scale),
            "spectral_radius": lsm.spectral_radius(), "rate_hz": float(rate),
            "mc": float(curve.r2[1:].sum()), "mc0": float(curve.r2[0]), "memory_curve": curve.r2.tolist(),
            "kernel_quality": kq, "generalization_rank": gr, "kq_minus_gr": kq - gr,
            "damage": damage, "persistent_rate_hz": persistent, "target_rate": target_rate}


def damage_spreading(lsm: LiquidStateMachine, measure: MeasureConfig | None = None) -> tuple[float, float]:
    """``(damage, persistent rate)``: the mean state distance 100-200 ms after one extra input spike at
    100 ms, relative to the mean state norm, over ``perturbations`` random 300 ms streams; and the
    firing rate (Hz) 20-200 ms after those streams end."""
    measure = measure or MeasureConfig()
    dt, n = lsm.config.dt, lsm.config.n
    steps, t0, tail = int(round(0.3 / dt)), int(round(0.1 / dt)), int(round(0.2 / dt))
    grid = np.arange(t0 + int(0.1 / dt), steps, 5)
    streams = rank_streams(lsm.n_inputs, measure.perturbations, steps, measure.rank_rate, dt, None,
                           measure.seed + 2)
    rng = np.random.default_rng([measure.seed, 23, 8])
    out, late = [], []
    for times, idx in streams:
        extra = int(rng.integers(lsm.n_inputs))
        perturbed = (np.r_[times, t0 * dt], np.r_[idx, extra])
        states = []
        for sample in ((times, idx), perturbed):
            st, ix = lsm.run(sample, (steps + tail) * dt)
            states.append(stream_traces(st, ix, n, grid, 30e-3 / dt))
        late.append(np.count_nonzero(st >= steps + int(round(0.02 / dt))) / (n * (tail * dt - 0.02)))
        norm = max(float(np.linalg.norm(states[0], axis=1).mean()), 1e-9)
        out.append(float(state_distance(*states).mean()) / norm)
    return float(np.mean(out)), float(np.mean(late))


def separation_curves(lsm: LiquidStateMachine, fractions: Sequence[float] = (0.0, 0.1, 0.2, 0.4),
                      pairs: int = 10, duration: float = 0.5, rate: float = 20.0, every: int = 5,
                      tau: float = 30e-3, seed: int = 0) -> dict:
    r"""Maass et al.'s separation picture: input pairs ``u, v`` where ``v`` is ``u`` with a fraction of
    its spikes moved to random times and channels; the liquid-state distance :math:`\|x_u(t) - x_v(t)\|`
    over time (traces with ``tau``, sampled every ``every`` steps), averaged over ``pairs`` pairs.

    Returns ``{"t": seconds, "curves": {fraction: mean distance [T]}, "input_distance": {fraction:
    mean van Rossum distance per input channel}}``.
    """
    from neuro.models.reservoir_measures import van_rossum_distance

    dt, n, n_in = lsm.config.dt, lsm.config.n, lsm.n_inputs
    steps = int(round(duration / dt))
    grid = np.arange(every, steps, every)
    rng = np.random.default_rng([seed, 23, 9])
    curves, inputs = {}, {}
    bases = rank_streams(n_in, pairs, steps, rate, dt, None, seed + 3)
    for frac in fractions:
        dist, din = [], []
        for times, idx in bases:
            moved = rng.random(times.size) < frac
            t2 = np.where(moved, rng.integers(0, steps, times.size) * dt, times)
            i2 = np.where(moved, rng.integers(0, n_in, times.size), idx)
            traces = []
            for sample in ((times, idx), (t2, i2)):
                st, ix = lsm.run(sample, duration)
                traces.append(stream_traces(st, ix, n, grid, tau / dt))
            dist.append(state_distance(*traces))
            s1, s2 = np.rint(times / dt).astype(int), np.rint(t2 / dt).astype(int)
            din.append(np.mean([van_rossum_distance(s1[idx == c], s2[i2 == c], steps, tau / dt)
                                for c in range(n_in)]))
        curves[float(frac)] = np.mean(dist, axis=0).tolist()
        inputs[float(frac)] = float(np.mean(din))
    return {"t": (grid * dt).tolist(), "curves": curves, "input_distance": inputs}


def sweep(n_inputs: int, config: ReservoirConfig, input_scales: Sequence[float],
          recurrent_scales: Sequence[float], measure: MeasureConfig = MeasureConfig(),
          inhibition_scales: Sequence[float] = (1.0,), progress: bool = True) -> list[dict]:
    """:func:`measure_liquid` over the grid ``inhibition_scales x input_scales x recurrent_scales``
    (one memory stream for all)."""
    memory = memory_task(measure.n_values, measure.bin_steps, n_inputs, measure.max_rate, config.dt,
                         seed=measure.seed)
    grid = [(g, a, b) for g in inhibition_scales for a in input_scales for b in recurrent_scales]
    it = grid
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(grid, desc="sweep", unit="setting")
    return [measure_liquid(n_inputs, config, a, b, measure, memory, inhibition_scale=g) for g, a, b in it]


def rate_series(n_inputs: int, config: ReservoirConfig, input_scale: float, target_rates: Sequence[float],
                measure: MeasureConfig = MeasureConfig(), inhibition_scale: float = 1.0) -> list[dict]:
    """:func:`measure_liquid` with the recurrent scale set to reach each of ``target_rates`` (Hz)."""
    memory = memory_task(measure.n_values, measure.bin_steps, n_inputs, measure.max_rate, config.dt,
                         seed=measure.seed)
    return [measure_liquid(n_inputs, config, input_scale, None, measure, memory, target_rate=r,
                           inhibition_scale=inhibition_scale) for r in target_rates]


def plot_sweep(records: Sequence[dict], path: str | PathLike,
               keys: Sequence[str] = ("rate_hz", "mc", "kq_minus_gr", "damage")) -> None:
    """Heat maps of ``keys`` over (recurrent scale, input scale), one panel per key (``records`` of one
    inhibition scale)."""
    from neuro._io import pyplot, save_figure

    if len({r.get("inhibition_scale", 1.0) for r in records}) > 1:
        raise ValueError("plot_sweep draws one inhibition scale: filter the records first")

    plt = pyplot()
    ins = sorted({r["input_scale"] for r in records})
    recs = sorted({round(r["recurrent_scale"], 9) for r in records})
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.6))
    labels = {"rate_hz": "firing rate (Hz)", "mc": "memory capacity (bins)",
              "kq_minus_gr": "kernel quality - generalisation rank", "damage": "damage spreading",
              "kernel_quality": "kernel quality", "generalization_rank": "generalisation rank"}
    for ax, key in zip(np.atleast_1d(axes), keys):
        grid = np.full((len(ins), len(recs)), np.nan)
        for r in records:
            grid[ins.index(r["input_scale"]), recs.index(round(r["recurrent_scale"], 9))] = r[key]
        im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(recs)), [f"{v:g}" for v in recs])
        ax.set_yticks(range(len(ins)), [f"{v:g}" for v in ins])
        ax.set_xlabel("recurrent scale (x Maass weights)")
        ax.set_ylabel("input scale")
        ax.set_title(labels.get(key, key), fontsize=10)
        for (i, j), v in np.ndenumerate(grid):
            ax.text(j, i, f"{v:.3g}", ha="center", va="center", color="w", fontsize=7)
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    save_figure(fig, path)


def plot_capacity_vs_rate(records: Sequence[dict], path: str | PathLike, title: str = "") -> None:
    """Memory capacity against firing rate, one line per (inhibition scale, input scale)."""
    from neuro._io import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for g, scale in sorted({(r.get("inhibition_scale", 1.0), r["input_scale"]) for r in records}):
        rs = sorted((r for r in records if r["input_scale"] == scale and r.get("inhibition_scale", 1.0) == g),
                    key=lambda r: r["rate_hz"])
        ax.plot([r["rate_hz"] for r in rs], [r["mc"] for r in rs], "o-",
                label=f"input x{scale:g}, inhibition x{g:g}")
    ax.set_xscale("log")
    ax.set_xlabel("mean firing rate (Hz)")
    ax.set_ylabel("memory capacity (sum of MC_k, k >= 1 bins)")
    ax.set_title(title or "memory capacity vs firing rate")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)

