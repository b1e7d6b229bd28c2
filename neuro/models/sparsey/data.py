"""Binary inputs for Sparsey from the embedded datasets (no download).

* :func:`binary_digits` — scikit-learn's handwritten digits (``neuro.datasets`` split) prepared the
  way Rinkus prepared MNIST: resized (here from 8x8 to 24 rows x 16 columns, bilinear), binarised and
  skeletonised (Zhang-Suen thinning), so each digit is a thin line drawing of ~20-40 pixels.
* :func:`event_sequences` — ``digits_events`` recordings as sequences of binary event frames (ON/OFF
  events of a window, optionally max-pooled), the frames of one saccade sequence in order.
* :func:`thin` — Zhang & Suen's (1984) parallel thinning of binary images.
"""

from __future__ import annotations

import numpy as np

SHAPE_16X24 = (24, 16)  # rows, columns: Rinkus's 16x24 MNIST size


def thin(images: np.ndarray, max_iterations: int = 50) -> np.ndarray:
    """Zhang-Suen thinning of binary images ``[..., H, W]`` to one-pixel-wide lines (uint8)."""
    img = (np.asarray(images) != 0).astype(np.uint8)
    lead, (H, W) = img.shape[:-2], img.shape[-2:]
    img = img.reshape(-1, H, W)
    for _ in range(max_iterations):
        changed = False
        for step in (0, 1):
            p = np.pad(img, ((0, 0), (1, 1), (1, 1)))
            # neighbours P2..P9, clockwise from north
            nb = [p[:, :-2, 1:-1], p[:, :-2, 2:], p[:, 1:-1, 2:], p[:, 2:, 2:],
                  p[:, 2:, 1:-1], p[:, 2:, :-2], p[:, 1:-1, :-2], p[:, :-2, :-2]]
            count = sum(n.astype(np.int32) for n in nb)
            ring = nb + nb[:1]
            transitions = sum(((ring[i] == 0) & (ring[i + 1] == 1)).astype(np.int32) for i in range(8))
            p2, p4, p6, p8 = nb[0], nb[2], nb[4], nb[6]
            if step == 0:
                c1, c2 = p2 * p4 * p6, p4 * p6 * p8
            else:
                c1, c2 = p2 * p4 * p8, p2 * p6 * p8
            remove = (img == 1) & (count >= 2) & (count <= 6) & (transitions == 1) & (c1 == 0) & (c2 == 0)
            if remove.any():
                img = img & ~remove
                changed = True
        if not changed:
            break
    return img.astype(np.uint8).reshape(*lead, H, W)


def binary_digits(split: str = "train", shape: tuple[int, int] = SHAPE_16X24, threshold: float = 0.35,
                  skeleton: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(images [N, rows, cols] uint8, labels [N])`` of the embedded digits' fixed ``split``
    (``"train"`` 1437, ``"test"`` 360, ``"all"``): resized to ``shape`` (bilinear), binarised at
    ``threshold`` (of the 0..1 grey level) and thinned when ``skeleton``."""
    from scipy.ndimage import zoom
    from sklearn.datasets import load_digits

    from neuro.datasets.digits import split_indices

    idx = split_indices(split)
    digits = load_digits()
    grey = digits.images[idx] / 16.0
    factor = (shape[0] / grey.shape[1], shape[1] / grey.shape[2])
    big = np.stack([zoom(g, factor, order=1) for g in grey])
    binary = (big >= threshold).astype(np.uint8)
    images = thin(binary) if skeleton else binary
    return images, digits.target[idx].astype(np.int64)


def event_sequences(split: str = "train", count: int = 20, window_us: int = 30_000, pool: int = 2,
                    polarity: str = "both", seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(frames [count, T, C, H, W] uint8, labels [count])``: the first ``count`` samples of the
    ``digits_events`` split binned in windows of ``window_us`` (``T = 300 ms / window``), binarised
    (an event in the window), max-pooled by ``pool`` x ``pool``; ``polarity``: ``"both"`` (C = 2),
    ``"on"`` or ``"off"`` (C = 1)."""
    from sklearn.datasets import load_digits

    from neuro.datasets.digits import split_indices
    from neuro.datasets.events import bin_events
    from neuro.datasets.saccades import SaccadeConfig, simulate_saccades

    if polarity not in ("both", "on", "off"):
        raise ValueError(f"polarity must be 'both', 'on' or 'off', got {polarity!r}")
    ids = split_indices(split)[:count]                # the same events as DigitsEvents(split, seed)
    digits = load_digits()
    config = SaccadeConfig()
    events, sensor = simulate_saccades(digits.images[ids] / 16.0, ids, seed, config)
    seqs = []
    for ev in events:
        f = bin_events(ev, sensor, window_us, config.duration_us) > 0          # [T, 2, H, W]
        if polarity != "both":
            f = f[:, [1 if polarity == "on" else 0]]
        T, C, H, W = f.shape
        Hp, Wp = H // pool, W // pool
        f = f[:, :, :Hp * pool, :Wp * pool].reshape(T, C, Hp, pool, Wp, pool).any((3, 5))
        seqs.append(f.astype(np.uint8))
    return np.stack(seqs), digits.target[ids].astype(np.int64)


def read_nmnist_file(path) -> np.ndarray:
    """Events of one N-MNIST recording (the 40-bit ``.bin`` format, also SLAYER's ``.bs2``) in tonic's
    event dtype (``x, y, t, p``; sensor 34 x 34 x 2, microseconds, ``p = 1`` ON)."""
    from neuro.datasets import CorruptFileError
    from neuro.datasets.events import EVENT_DTYPE

    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % 5:
        raise CorruptFileError(f"{path}: {raw.size} bytes is not a whole number of 5-byte N-MNIST events")
    r = raw.reshape(-1, 5).astype(np.int64)
    ev = np.zeros(len(r), EVENT_DTYPE)
    ev["x"], ev["y"], ev["p"] = r[:, 0], r[:, 1], r[:, 2] >> 7
    ev["t"] = ((r[:, 2] & 0x7F) << 16) | (r[:, 3] << 8) | r[:, 4]
    if ev["x"].max() > 33 or ev["y"].max() > 33:
        raise CorruptFileError(f"{path}: events outside the 34 x 34 N-MNIST sensor")
    return ev


def nmnist_sequences(paths, window_us: int = 30_000, pool: int = 2, polarity: str = "on",
                     duration_us: int = 300_000) -> np.ndarray:
    """N-MNIST recordings as binary event-frame sequences ``[N, T, C, 34 // pool, 34 // pool]``
    (as :func:`event_sequences`)."""
    from neuro.datasets.events import bin_events

    if polarity not in ("both", "on", "off"):
        raise ValueError(f"polarity must be 'both', 'on' or 'off', got {polarity!r}")
    seqs = []
    for path in paths:
        f = bin_events(read_nmnist_file(path), (34, 34, 2), window_us, duration_us) > 0
        if polarity != "both":
            f = f[:, [1 if polarity == "on" else 0]]
        T, C, H, W = f.shape
        Hp, Wp = H // pool, W // pool
        f = f[:, :, :Hp * pool, :Wp * pool].reshape(T, C, Hp, pool, Wp, pool).any((3, 5))
        seqs.append(f.astype(np.uint8))
    return np.stack(seqs)
