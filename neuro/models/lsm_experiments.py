"""LSM experiments on event data: reservoir vs raw-input readout, and zero-shot cross-modal retrieval.

Both experiments take samples as spike lists ``(times in seconds, input indices)`` with labels, so
any event dataset plugs in (tonic events via :func:`neuro.sim.events_to_spikes`).
:func:`digit_views` gives the project's two renderings of scikit-learn's 1797 handwritten digits,
used as two sensor "modalities": the embedded event dataset ``neuro.datasets.digits_events``
(a simulated event camera making N-MNIST's saccades, 22x22x2 = 968 inputs, 300 ms) and a Poisson
rate code of the same 8x8 images (64 inputs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from neuro.models.lsm import (
    LiquidStateMachine,
    ReservoirConfig,
    Sample,
    SynapseModel,
    binned_input_features,
    linear_readout,
)

# -- the two renderings of the digits ------------------------------------------------------------------


def poisson_rate_view(images: np.ndarray, duration: float = 60e-3, max_rate: float = 150.0,
                      dt: float = 1e-3, seed: int = 0) -> list[Sample]:
    """Rate code: pixel ``k`` of each image spikes as a Bernoulli process of rate
    ``max_rate * intensity / max(intensity)`` per ``dt`` step, for ``duration`` seconds."""
    rng = np.random.default_rng(seed)
    steps = int(round(duration / dt))
    out = []
    for img in np.asarray(images, dtype=np.float64).reshape(len(images), -1):
        p = img / max(img.max(), 1e-9) * max_rate * dt
        t, i = np.nonzero(rng.random((steps, p.size)) < p)
        out.append((t * dt, i))
    return out


class DigitViews(NamedTuple):
    """Two renderings of the same digits (sample ``k`` of both views shows digit ``labels[k]``)."""

    events: list  # digits_events saccade recordings, 968 inputs
    rate: list  # Poisson rate code of the 8x8 image, 64 inputs
    labels: np.ndarray
    n_inputs: tuple
    durations: tuple  # seconds, per view


def digit_views(limit: int | None = None, seed: int = 0) -> DigitViews:
    """All 1797 digits (or a random ``limit`` of them) as ``digits_events`` recordings and as rates."""
    from neuro.datasets import DigitsEvents
    from neuro.sim import events_to_spikes

    data = DigitsEvents("all", seed=seed)
    order = np.arange(len(data.targets))
    if limit is not None:
        order = np.sort(np.random.default_rng(seed).permutation(len(order))[:limit])
    events = []
    for k in order:
        t, idx, n_in = events_to_spikes(data[int(k)][0], data.sensor_size, t_start=0.0)
        events.append((t, idx))
    return DigitViews(events, poisson_rate_view(data.images[order], seed=seed),
                      np.asarray(data.targets[order]), (n_in, 64),
                      (data.duration_us * 1e-6, 60e-3))


# -- experiment 1: reservoir vs raw input ---------------------------------------------------------------


def split(labels: np.ndarray, test_fraction: float = 0.3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train / test indices."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    return train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=labels)


def reservoir_vs_raw(samples: Sequence[Sample], labels: np.ndarray, n_inputs: int, duration: float,
                     config: ReservoirConfig, windows: int = 3, raw_windows: int | None = None,
                     input_scale: float = 1.0, rate_target: float | None = None,
                     spectral_radius: float | None = None,
                     readouts: Sequence[str] = ("ridge", "logistic"), seed: int = 0,
                     progress: bool = True) -> dict:
    """Test accuracy of linear readouts on reservoir spike counts vs on the binned raw input.

    Feature counts are matched when ``config.n * windows == n_inputs * raw_windows`` (the default
    ``raw_windows`` picks the closest match and the result reports both counts).
    """
    labels = np.asarray(labels)
    train, test = split(labels, seed=seed)
    lsm = build_reservoir(n_inputs, config, input_scale, spectral_radius)
    if rate_target is not None:
        calib = [samples[i] for i in train[:20]]
        lsm.scale_to_rate(calib, duration, rate_target)
    x_res = lsm.transform(samples, duration, windows=windows, progress=progress)
    raw_windows = raw_windows or max(1, int(round(config.n * windows / n_inputs)))
    x_raw = np.stack([binned_input_features(s, n_inputs, duration, raw_windows) for s in samples])
    result = {"reservoir_features": x_res.shape[1], "raw_features": x_raw.shape[1],
              "reservoir_rate_hz": float(x_res.sum() / (len(samples) * config.n * duration)),
              "recurrent_scale": lsm.scale, "train": len(train), "test": len(test)}
    for kind in readouts:
        for name, x in (("reservoir", x_res), ("raw", x_raw)):
            clf = linear_readout(kind, seed=seed).fit(x[train], labels[train])
            result[f"{name}_{kind}_accuracy"] = float(clf.score(x[test], labels[test]))
    return result


# -- experiment 2: zero-shot cross-modal retrieval ---------------------------------------------------


def build_reservoir(n_inputs: int, config: ReservoirConfig, input_scale: float = 1.0,
                    spectral_radius: float | None = None, synapse: SynapseModel | None = None
                    ) -> LiquidStateMachine:
    """A reservoir with its input weights scaled and, optionally, a recurrent spectral radius set
    (``synapse``: a synapse model, see :class:`LiquidStateMachine`)."""
    lsm = LiquidStateMachine(n_inputs, config, synapse=synapse)
    lsm.set_input_scale(input_scale)
    if spectral_radius is not None:
        lsm.scale_spectral_radius(spectral_radius)
    return lsm


def zero_shot(samples_a: Sequence[Sample], samples_b: Sequence[Sample], labels: np.ndarray,
              encoders: tuple[LiquidStateMachine, LiquidStateMachine],
              duration: float | tuple[float, float], seen: Sequence[int] = tuple(range(7)), windows: int = 3,
              dim: int = 64,
              epochs: int = 100, temperature: float = 1.0, lr: float = 1e-3, seed: int = 0,
              progress: bool = True) -> dict:
    """Lin et al.'s protocol on two views: fixed reservoirs per view, CLIP heads trained on ``seen``
    classes, top-1 cross-modal retrieval on held-out samples of seen and unseen classes.

    The held-out samples are split in two halves: queries (view A) from one half, the gallery
    (view B) from the other, so a query's own other rendering is never in its gallery.
    ``duration``: seconds per sample, one value or one per view.
    """
    from neuro.models.contrastive import (
        embed,
        prototype_accuracy,
        retrieval_accuracy,
        retrieval_chance,
        train_contrastive,
    )

    labels = np.asarray(labels)
    durations = duration if isinstance(duration, tuple) else (duration, duration)
    feats = [enc.transform(s, d, windows=windows, progress=progress)
             for s, enc, d in zip((samples_a, samples_b), encoders, durations)]
    rng = np.random.default_rng(seed)
    is_seen = np.isin(labels, seen)
    seen_idx, unseen_idx = np.flatnonzero(is_seen), np.flatnonzero(~is_seen)
    rng.shuffle(seen_idx)
    n_train = int(0.7 * len(seen_idx))
    train, seen_test = seen_idx[:n_train], seen_idx[n_train:]
    head_a, head_b, history = train_contrastive(
        feats[0][train], labels[train], feats[1][train], labels[train], dim=dim, epochs=epochs, lr=lr,
        temperature=temperature, seed=seed)
    result = {"train_pairs_classes": sorted(int(c) for c in np.unique(labels[train])),
              "final_loss": history[-1], "first_loss": history[0]}
    for name, held in (("seen", seen_test), ("unseen", unseen_idx)):
        held = held.copy()
        rng.shuffle(held)
        q, g = held[: len(held) // 2], held[len(held) // 2:]
        za, zb = embed(head_a, feats[0][q]), embed(head_b, feats[1][g])
        result[f"{name}_retrieval_a_to_b"] = retrieval_accuracy(za, labels[q], zb, labels[g])
        result[f"{name}_retrieval_b_to_a"] = retrieval_accuracy(
            embed(head_b, feats[1][q]), labels[q], embed(head_a, feats[0][g]), labels[g])
        result[f"{name}_prototype_a_to_b"] = prototype_accuracy(za, labels[q], zb, labels[g])
        result[f"{name}_chance"] = retrieval_chance(labels[q], labels[g])
        result[f"{name}_queries"] = int(len(q))
    return result
