"""Event arrays in tonic's layout and their binning into dense frames (numpy only, no tonic needed).

Events are numpy structured arrays with integer fields ``x, y, t, p`` (``t`` in microseconds,
``p`` = 1 for ON / brightness increase, 0 for OFF) — exactly ``tonic.datasets.NMNIST.dtype`` — so
every ``tonic.transforms`` transform applies to them. Audio-like sensors (SHD, N-TIDIGITS) use
tonic's ``t, x, p`` layout without ``y``.

:func:`bin_events` is the tonic-free binning used by the embedded digits (so ``neuro demo`` needs
no optional dependency); it equals ``tonic.transforms.ToFrame(sensor_size, time_window=w,
start_time=0, end_time=duration)`` (tested), i.e. frame ``k`` counts the events with
``k*w <= t < (k+1)*w`` for ``k < duration // w``, per polarity and pixel.
"""

from __future__ import annotations

import numpy as np

EVENT_DTYPE = np.dtype([("x", np.int64), ("y", np.int64), ("t", np.int64), ("p", np.int64)])


def make_events(x: np.ndarray, y: np.ndarray, t: np.ndarray, p: np.ndarray) -> np.ndarray:
    """A structured event array of :data:`EVENT_DTYPE` from equally long field arrays."""
    n = len(t)
    if not (len(x) == len(y) == len(p) == n):
        raise ValueError(f"event fields differ in length: x {len(x)}, y {len(y)}, t {n}, p {len(p)}")
    events = np.empty(n, dtype=EVENT_DTYPE)
    events["x"], events["y"], events["t"], events["p"] = x, y, t, p
    return events


def bin_events(events: np.ndarray, sensor_size: tuple[int, int, int], time_window_us: int,
               duration_us: int) -> np.ndarray:
    """Count events into frames ``[T, P, H, W]`` (``T = duration_us // time_window_us``).

    Args:
        events: structured array with ``x, y, t, p`` (microsecond ``t``).
        sensor_size: ``(W, H, P)`` as in tonic.
        time_window_us: frame length; ``duration_us``: total time covered from ``t = 0``
            (events at ``t >= T * time_window_us`` are dropped).

    Returns:
        ``int16`` counts of shape ``[T, P, H, W]`` (tonic's ``ToFrame`` dtype and layout).
    """
    width, height, polarities = sensor_size
    if time_window_us != int(time_window_us) or duration_us != int(duration_us):
        raise ValueError(f"time_window_us and duration_us must be whole microseconds, got "
                         f"{time_window_us}, {duration_us}")
    time_window_us, duration_us = int(time_window_us), int(duration_us)
    if time_window_us <= 0 or duration_us < time_window_us:
        raise ValueError(f"need 0 < time_window_us <= duration_us, got {time_window_us}, {duration_us}")
    n_frames = duration_us // time_window_us
    frame = events["t"] // time_window_us
    keep = (events["t"] >= 0) & (frame < n_frames)
    x, y, p = events["x"][keep], events["y"][keep], events["p"][keep]
    if x.size and (x.min() < 0 or x.max() >= width or y.min() < 0 or y.max() >= height
                   or p.min() < 0 or p.max() >= polarities):
        raise ValueError(f"events fall outside the sensor of size {sensor_size}")
    flat = ((frame[keep] * polarities + p) * height + y) * width + x
    counts = np.bincount(flat, minlength=n_frames * polarities * height * width)
    return counts.astype(np.int16).reshape(n_frames, polarities, height, width)
