"""Monte-Carlo estimates of the SDR matching probabilities of :mod:`neuro.sdr.theory`.

Each trial builds real patterns and segments and counts the overlap by set membership:

* :func:`simulate_false_match` — ``patterns`` random stored patterns of ``a`` of ``n`` active
  cells; the segment's synapses are the union of an ``s``-cell subsample of each; a fresh random
  input of ``a`` active cells matches when at least ``theta`` of its cells carry a synapse
  (:math:`P_{fm}` for one pattern; the union estimates for several);
* :func:`simulate_false_negative` — a stored pattern, a segment on ``s`` of its cells, then noise
  moves ``v`` active bits to inactive positions; a miss is an overlap below ``theta``
  (:math:`P_{fn}`);
* :func:`simulate_match_any` — ``stored`` random vectors of ``w`` bits and random inputs of ``w``
  bits; a hit is an overlap of at least ``theta`` with any stored vector (the 2015 union bound).

Backends: ``"numba"`` (default) runs the ``neuro.kernels.sdr_cpu`` kernels: chunks of trials, each
from its own seed (``numpy.random.SeedSequence(seed)``), spread over Numba's threads — the result
depends on ``seed``, ``trials`` and ``chunk`` only. ``"torch"`` builds the same trials from
:class:`~neuro.sdr.SDRBatch` operations (random rows, per-row subsamples, moved bits, overlaps) in
batches, from a ``torch.Generator`` seeded with ``seed``; it is the reference (``O(batch * n)`` per
draw, the kernels ``O(a)``), and runs on any torch device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from neuro.sdr.batch import SDRBatch
from neuro.sdr.theory import _int

BACKENDS = ("numba", "torch")


@dataclass(frozen=True)
class Estimate:
    """``hits`` successes out of ``trials`` Bernoulli trials."""

    hits: int
    trials: int

    @property
    def p(self) -> float:
        """The estimated probability ``hits / trials``."""
        return self.hits / self.trials

    @property
    def se(self) -> float:
        """Standard error of :attr:`p` from the estimate itself, ``sqrt(p (1 - p) / trials)``."""
        return math.sqrt(self.p * (1.0 - self.p) / self.trials)

    def z(self, expected: float) -> float:
        """Deviation from an expected probability in standard errors of that probability
        (``(p - P) / sqrt(P (1 - P) / trials)``; robust when few hits were seen)."""
        if expected <= 0.0 or expected >= 1.0:
            return 0.0 if self.p == expected else math.inf
        return (self.p - expected) / math.sqrt(expected * (1.0 - expected) / self.trials)

    def interval(self, z: float = 1.96) -> tuple[float, float]:
        """Wilson score interval of the probability (default 95 %)."""
        n, p = self.trials, self.p
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return max(0.0, centre - half), min(1.0, centre + half)

    def __add__(self, other: Estimate) -> Estimate:
        return Estimate(self.hits + other.hits, self.trials + other.trials)


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")


def _chunks(trials: int, chunk: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-chunk trial counts and seeds (uint32 values from ``SeedSequence(seed)``)."""
    trials, chunk = _int("trials", trials, 1), _int("chunk", chunk, 1)
    n_chunks = -(-trials // chunk)
    counts = np.full(n_chunks, chunk, np.int64)
    counts[-1] = trials - chunk * (n_chunks - 1)
    seeds = np.random.SeedSequence(_int("seed", seed)).generate_state(n_chunks).astype(np.int64)
    return counts, seeds


def _run_kernel(kernel, params: tuple, trials: int, chunk: int, seed: int) -> Estimate:
    from neuro.ops._launch import run_cpu_chunks

    counts, seeds = _chunks(trials, chunk, seed)
    hits = np.zeros(len(counts), np.int64)
    run_cpu_chunks(kernel, len(counts), *params, counts, seeds, hits)
    return Estimate(int(hits.sum()), int(counts.sum()))


def _torch_batches(trials: int, batch: int, seed: int, device) -> tuple[torch.Generator, list[int]]:
    trials, batch = _int("trials", trials, 1), _int("batch", batch, 1)
    g = torch.Generator(device=device or "cpu").manual_seed(_int("seed", seed))
    sizes = [batch] * (trials // batch) + ([trials % batch] if trials % batch else [])
    return g, sizes


def simulate_false_match(n: int, a: int, s: int, theta: int, *, patterns: int = 1,
                         trials: int = 100_000, seed: int = 0, backend: str = "numba",
                         chunk: int = 4096, device=None) -> Estimate:
    """Monte-Carlo :math:`P_{fm}` (module docstring); ``patterns > 1`` stores a union."""
    n, a, s, theta = _int("n", n, 1), _int("a", a), _int("s", s), _int("theta", theta)
    patterns = _int("patterns", patterns, 1)
    if a > n or s > a:
        raise ValueError(f"need s <= a <= n (the segment subsamples a stored pattern), got n={n}, "
                         f"a={a}, s={s}")
    _check_backend(backend)
    if backend == "numba":
        from neuro.kernels.sdr_cpu import false_match_trials

        return _run_kernel(false_match_trials, (n, a, s, theta, patterns), trials, chunk, seed)
    g, sizes = _torch_batches(trials, chunk, seed, device)
    hits = 0
    for size in sizes:
        segment = None
        for _ in range(patterns):
            stored = SDRBatch.random(size, n, active=a, generator=g, device=device)
            part = stored.subsample(s, g)
            segment = part if segment is None else segment | part
        inputs = SDRBatch.random(size, n, active=a, generator=g, device=device)
        hits += int((inputs.overlap(segment) >= theta).sum())
    return Estimate(hits, sum(sizes))


def simulate_false_negative(a: int, s: int, theta: int, v: int, *, n: int | None = None,
                            trials: int = 100_000, seed: int = 0, backend: str = "numba",
                            chunk: int = 4096, device=None) -> Estimate:
    """Monte-Carlo :math:`P_{fn}` (module docstring) in a space of ``n`` cells (default ``4 a``,
    at least ``a + v``; the probability does not depend on it)."""
    a, s, theta, v = _int("a", a, 1), _int("s", s), _int("theta", theta), _int("v", v)
    n = max(4 * a, a + v) if n is None else _int("n", n, 1)
    if s > a or v > a or a + v > n:
        raise ValueError(f"need s <= a, v <= a and a + v <= n, got a={a}, s={s}, v={v}, n={n}")
    _check_backend(backend)
    if backend == "numba":
        from neuro.kernels.sdr_cpu import false_negative_trials

        return _run_kernel(false_negative_trials, (n, a, s, theta, v), trials, chunk, seed)
    g, sizes = _torch_batches(trials, chunk, seed, device)
    hits = 0
    for size in sizes:
        stored = SDRBatch.random(size, n, active=a, generator=g, device=device)
        segment = stored.subsample(s, g)
        noisy = stored.move_bits(v, g)
        hits += int((noisy.overlap(segment) < theta).sum())
    return Estimate(hits, sum(sizes))


def simulate_match_any(n: int, w: int, theta: int, stored: int, *, trials: int = 100_000,
                       seed: int = 0, backend: str = "numba", chunk: int = 4096,
                       device=None) -> Estimate:
    """Monte-Carlo false matches against ``stored`` random vectors (module docstring); every
    chunk of ``chunk`` trials draws a new stored set."""
    n, w, theta = _int("n", n, 1), _int("w", w), _int("theta", theta)
    stored = _int("stored", stored, 1)
    if w > n:
        raise ValueError(f"w must be <= n, got w={w}, n={n}")
    _check_backend(backend)
    if backend == "numba":
        from neuro.kernels.sdr_cpu import match_any_trials

        return _run_kernel(match_any_trials, (n, w, theta, stored), trials, chunk, seed)
    g, sizes = _torch_batches(trials, chunk, seed, device)
    hits = 0
    for size in sizes:
        memory = SDRBatch.random(stored, n, active=w, generator=g, device=device)
        inputs = SDRBatch.random(size, n, active=w, generator=g, device=device)
        hits += int((inputs.overlap_matrix(memory) >= theta).any(1).sum())
    return Estimate(hits, sum(sizes))
