r"""A saccade event-camera simulator for static images, in the spirit of N-MNIST.

N-MNIST (Orchard et al. 2015) was recorded by moving an ATIS event camera in front of a monitor
along three saccades that trace a triangle. This module simulates that recording for any small
grey-level image, deterministically:

1. **Optics.** The image (values in ``[0, 1]``) is magnified ``scale`` times onto a sensor of
   ``W = H = scale * size + amplitude + 2 * margin`` pixels. Sensor pixel ``(r, c)`` sees the image
   at ``((r + 1/2 - margin - dy(t)) / scale - 1/2, (c + 1/2 - margin - dx(t)) / scale - 1/2)``
   (bilinear interpolation, black outside the image).
2. **Saccades.** The displacement ``(dx, dy)`` moves linearly along the triangle
   ``(0, 0) -> (A/2, A) -> (A, 0) -> (0, 0)`` (``A = amplitude`` sensor pixels), one leg per
   ``saccade_us`` microseconds — N-MNIST's path (3.5, 7) -> (7, 0) -> (0, 0) for 28-pixel digits,
   scaled to the magnified image.
3. **Pixels.** Every pixel compares its log intensity :math:`L = \log(I + \epsilon)` with the
   level :math:`L_{ref}` of its last event (initially the first frame). Whenever
   :math:`L - L_{ref} \ge C_{on}` it emits ON events (``p = 1``), one per threshold crossed,
   moving :math:`L_{ref}` up by :math:`C_{on}` each; likewise OFF events (``p = 0``) for
   :math:`L_{ref} - L \ge C_{off}`. :math:`L` is sampled every ``step_us`` and interpolated
   linearly in between, so each crossing gets its own sub-step timestamp.
4. **Mismatch and noise** (from ``numpy.random.default_rng([seed, sample_id])``, so a sample's
   events do not depend on which other samples are simulated): per-pixel thresholds
   :math:`C (1 + \sigma_C n)`, :math:`n \sim N(0, 1)`, clipped at ``0.2 C``; Gaussian latency
   jitter of ``latency_jitter_us``; and uniform background events at ``noise_rate_hz`` per pixel.
   Timestamps are rounded to whole microseconds, clipped to ``[0, duration)`` and sorted.

The crossing detection is one Numba kernel (``cache=True``) run twice: a first pass counts the
events of every sample, a second fills preallocated arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from .events import EVENT_DTYPE


@dataclass(frozen=True)
class SaccadeConfig:
    """Parameters of the saccade simulator (defaults tuned for 8x8 images, 22x22 sensor)."""

    scale: int = 2
    amplitude: int = 4
    margin: int = 1
    saccade_us: int = 100_000
    step_us: int = 1000
    contrast_threshold: float = 0.25
    threshold_mismatch: float = 0.03
    log_eps: float = 0.1
    latency_jitter_us: float = 200.0
    noise_rate_hz: float = 0.5

    def __post_init__(self) -> None:
        if self.scale < 1 or self.amplitude < 0 or self.margin < 0:
            raise ValueError("scale must be >= 1, amplitude and margin >= 0")
        if self.step_us <= 0 or self.saccade_us % self.step_us:
            raise ValueError("step_us must be a positive divisor of saccade_us")
        if self.contrast_threshold <= 0 or self.log_eps <= 0:
            raise ValueError("contrast_threshold and log_eps must be positive")
        if self.threshold_mismatch < 0 or self.latency_jitter_us < 0 or self.noise_rate_hz < 0:
            raise ValueError("threshold_mismatch, latency_jitter_us and noise_rate_hz must be >= 0")

    def sensor_size(self, image_size: int) -> tuple[int, int, int]:
        """``(W, H, P)`` of the simulated sensor for square images of ``image_size`` pixels."""
        side = self.scale * image_size + self.amplitude + 2 * self.margin
        return (side, side, 2)

    @property
    def duration_us(self) -> int:
        """Duration of one recording in microseconds: the three saccades, ``3 * saccade_us``."""
        return 3 * self.saccade_us


def saccade_path(config: SaccadeConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample times (us) and displacements ``dx, dy`` (sensor pixels) of the three saccades."""
    a = float(config.amplitude)
    corners = np.array([[0.0, 0.0], [a / 2, a], [a, 0.0], [0.0, 0.0]])  # (dx, dy)
    steps = config.saccade_us // config.step_us
    times = np.arange(3 * steps + 1) * config.step_us
    leg = np.minimum(np.arange(3 * steps + 1) // steps, 2)
    frac = (np.arange(3 * steps + 1) - leg * steps) / steps
    pos = corners[leg] + (corners[leg + 1] - corners[leg]) * frac[:, None]
    return times, pos[:, 0], pos[:, 1]


def _bilinear_taps(image_size: int, config: SaccadeConfig) -> tuple[np.ndarray, np.ndarray]:
    """Image pixel indices and weights ``[H*W, S+1, 4]`` of every sensor pixel's view over time.

    Bilinear interpolation with zero outside the image: each sensor pixel at each sample time
    mixes at most four image pixels (out-of-image taps get weight 0 and index 0).
    """
    width, height, _ = config.sensor_size(image_size)
    _, dx, dy = saccade_path(config)
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    u = (rows.ravel()[:, None] + 0.5 - config.margin - dy[None]) / config.scale - 0.5
    v = (cols.ravel()[:, None] + 0.5 - config.margin - dx[None]) / config.scale - 0.5
    u0, v0 = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
    fu, fv = u - u0, v - v0
    index = np.zeros(u.shape + (4,), np.int64)
    weight = np.zeros(u.shape + (4,), np.float64)
    for k, (du, dv) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        ru, rv = u0 + du, v0 + dv
        inside = (ru >= 0) & (ru < image_size) & (rv >= 0) & (rv < image_size)
        wk = (fu if du else 1 - fu) * (fv if dv else 1 - fv)
        index[..., k] = np.where(inside, ru * image_size + rv, 0)
        weight[..., k] = np.where(inside, wk, 0.0)
    return index, weight


@njit(cache=True)
def _crossings(pixels, index, weight, eps, c_on, c_off, width, step_us, offsets, out_x, out_y,
               out_t, out_p, fill):  # pragma: no cover - compiled
    """Count (``fill=False``) or write (``fill=True``, from ``offsets``) every sample's events.

    ``pixels`` is ``[size*size, N]`` (image pixel-major), ``c_on``/``c_off`` are ``[H*W, N]``. The
    loops run sensor pixel -> time -> sample, so each pixel's interpolation taps are read once for
    all samples; per-sample results do not depend on which other samples are in the batch.
    One function serves both passes, so Numba compiles it once.
    """
    n_samples = pixels.shape[1]
    n_pixels, n_times, _ = index.shape
    cursor = offsets[:n_samples].copy() if fill else np.zeros(n_samples, np.int64)
    value = np.empty(n_samples)
    cur = np.empty(n_samples)
    ref = np.empty(n_samples)
    for q in range(n_pixels):
        for m in range(n_samples):
            v = 0.0
            for k in range(4):
                v += weight[q, 0, k] * pixels[index[q, 0, k], m]
            value[m] = v
            cur[m] = np.log(v + eps)
            ref[m] = cur[m]
        blank = weight[q, 0].sum() == 0.0
        for s in range(1, n_times):
            was_blank = blank
            blank = weight[q, s].sum() == 0.0
            if blank and was_blank:  # outside the image at both times: no change in any sample
                continue
            i0, i1, i2, i3 = index[q, s, 0], index[q, s, 1], index[q, s, 2], index[q, s, 3]
            w0, w1, w2, w3 = weight[q, s, 0], weight[q, s, 1], weight[q, s, 2], weight[q, s, 3]
            for m in range(n_samples):
                prev = cur[m]
                v = (w0 * pixels[i0, m] + w1 * pixels[i1, m] + w2 * pixels[i2, m]
                     + w3 * pixels[i3, m])
                if v != value[m]:  # most pixels see a constant (black) background
                    value[m] = v
                    cur[m] = np.log(v + eps)
                d = cur[m] - ref[m]
                if d >= c_on[q, m]:
                    c, sign, pol = c_on[q, m], 1.0, 1
                elif -d >= c_off[q, m]:
                    c, sign, pol = c_off[q, m], -1.0, 0
                else:
                    continue
                k = int(sign * d / c)
                if fill:
                    e = cursor[m]
                    for j in range(1, k + 1):  # crossing of level ref + sign*j*c, linear in time
                        frac = 1.0 if cur[m] == prev else (ref[m] + sign * j * c - prev) / (
                            cur[m] - prev)
                        frac = min(max(frac, 0.0), 1.0)
                        out_x[e] = q % width
                        out_y[e] = q // width
                        out_t[e] = (s - 1 + frac) * step_us
                        out_p[e] = pol
                        e += 1
                cursor[m] += k
                ref[m] += sign * k * c
    return cursor - offsets[:n_samples] if fill else cursor


def simulate_saccades(images: np.ndarray, sample_ids: np.ndarray, seed: int = 0,
                      config: SaccadeConfig = SaccadeConfig(),
                      batch: int = 2048) -> tuple[list[np.ndarray], tuple[int, int, int]]:
    """Events of square images ``[N, size, size]`` (values in ``[0, 1]``) seen along saccades.

    Args:
        images: grey levels in ``[0, 1]``.
        sample_ids: one integer per image, mixed into its random generator with ``seed``.
        seed: the simulation seed (threshold mismatch, jitter, noise).
        batch: images per kernel call (bounds memory).

    Returns:
        ``(events, sensor_size)``: one :data:`~neuro.datasets.events.EVENT_DTYPE` array per image,
        sorted by time, and the sensor size ``(W, H, 2)``.
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3 or images.shape[1] != images.shape[2]:
        raise ValueError(f"images must be [N, size, size], got shape {images.shape}")
    if len(sample_ids) != len(images):
        raise ValueError("need one sample id per image")
    if not np.isfinite(images).all() or images.min() < 0 or images.max() > 1:
        raise ValueError("image values must be finite and in [0, 1]")
    size = images.shape[1]
    sensor = config.sensor_size(size)
    width, height, _ = sensor
    n_pixels = width * height
    index, weight = _bilinear_taps(size, config)
    rngs = [np.random.default_rng([int(seed), int(i)]) for i in sample_ids]
    out = []
    for start in range(0, len(images), batch):
        chunk = images[start:start + batch].reshape(-1, size * size)
        pixels = np.ascontiguousarray(chunk.T)
        c = config.contrast_threshold
        mismatch = np.stack([r.standard_normal((2, n_pixels)) for r in rngs[start:start + len(chunk)]])
        thresholds = np.maximum(c * (1 + config.threshold_mismatch * mismatch), 0.2 * c)
        c_on = np.ascontiguousarray(thresholds[:, 0].T)  # [H*W, N]
        c_off = np.ascontiguousarray(thresholds[:, 1].T)
        eps, step = float(config.log_eps), float(config.step_us)
        none_i, none_f = np.empty(0, np.int64), np.empty(0, np.float64)
        counts = _crossings(pixels, index, weight, eps, c_on, c_off, width, step,
                            np.zeros(len(chunk), np.int64), none_i, none_i, none_f, none_i, False)
        offsets = np.concatenate([[0], np.cumsum(counts)])
        total = int(offsets[-1])
        xs, ys, ps = (np.empty(total, np.int64) for _ in range(3))
        ts = np.empty(total, np.float64)
        _crossings(pixels, index, weight, eps, c_on, c_off, width, step, offsets, xs, ys, ts, ps,
                   True)
        for k in range(len(chunk)):
            lo, hi = offsets[k], offsets[k + 1]
            out.append(_finish(rngs[start + k], xs[lo:hi], ys[lo:hi], ts[lo:hi], ps[lo:hi],
                               sensor, config))
    return out, sensor


def _finish(rng: np.random.Generator, x, y, t, p, sensor, config: SaccadeConfig) -> np.ndarray:
    """Add latency jitter and background noise, round to microseconds and sort by time."""
    width, height, _ = sensor
    duration = config.duration_us
    t = t + rng.normal(0.0, config.latency_jitter_us, len(t)) if config.latency_jitter_us else t
    n_noise = rng.poisson(config.noise_rate_hz * width * height * duration * 1e-6)
    events = np.empty(len(t) + n_noise, dtype=EVENT_DTYPE)
    events["x"] = np.concatenate([x, rng.integers(0, width, n_noise)])
    events["y"] = np.concatenate([y, rng.integers(0, height, n_noise)])
    events["t"] = np.clip(np.rint(np.concatenate([t, rng.uniform(0, duration, n_noise)])),
                          0, duration - 1)
    events["p"] = np.concatenate([p, rng.integers(0, 2, n_noise)])
    return events[np.argsort(events["t"], kind="stable")]


__all__ = ["SaccadeConfig", "saccade_path", "simulate_saccades"]
