"""Monte-Carlo trials of SDR matching on the CPU (GIL-free ``@njit(nogil=True)`` kernels).

Every trial builds real sparse patterns as index sets and compares them by set membership, the way
a dendritic segment sees its input (Ahmad & Hawkins 2016); nothing samples an overlap count from a
hypergeometric law. Random ``k``-subsets come from a partial Fisher-Yates shuffle of a workspace
permutation ``perm`` of ``0..n-1`` (:func:`choose`: ``O(k)`` per draw, any starting order gives a
uniform subset, so the permutation is never restored). A marker array ``mark[n]`` holds a segment's
synapses while the input pattern is scanned, and is cleared cell by cell afterwards.

Work is split in chunks: chunk ``c`` runs ``trials[c]`` trials from its own seed ``seeds[c]``
(Numba's per-thread Mersenne twister, the same generator as NumPy's legacy ``RandomState``), so a
result depends on the seeds only, never on how chunks are spread over threads. Every kernel has the
signature ``(..., trials, seeds, hits, lo, hi)`` and writes the number of successes of chunk ``c``
into ``hits[c]`` for ``lo <= c < hi`` (``neuro.ops._launch.run_cpu_chunks``).
"""

import numpy as np
from numba import njit


@njit(inline="always", cache=True)
def choose(perm, lo, size, k):
    """Move a uniformly random ``k``-subset of ``perm[lo:lo + size]`` into ``perm[lo:lo + k]``."""
    for i in range(k):
        j = i + int(np.random.random() * (size - i))
        tmp = perm[lo + i]
        perm[lo + i] = perm[lo + j]
        perm[lo + j] = tmp


@njit(nogil=True, cache=True)
def false_match_trials(n, a, s, theta, patterns, trials, seeds, hits, lo, hi):
    """False matches of a segment storing ``patterns`` subsamples.

    Per trial: ``patterns`` random stored patterns of ``a`` of ``n`` cells; the segment's synapses
    are the union of ``s`` cells subsampled from each; a fresh random input of ``a`` active cells is
    a match when at least ``theta`` of its cells carry a synapse.
    """
    perm = np.arange(n)
    mark = np.zeros(n, np.uint8)
    segment = np.empty(max(1, patterns * s), np.int64)
    for c in range(lo, hi):
        np.random.seed(seeds[c])
        count = 0
        for _ in range(trials[c]):
            size = 0
            for _p in range(patterns):
                choose(perm, 0, n, a)  # a stored pattern: perm[:a]
                choose(perm, 0, a, s)  # the synapses it leaves on the segment: perm[:s]
                for i in range(s):
                    cell = perm[i]
                    if mark[cell] == 0:
                        mark[cell] = 1
                        segment[size] = cell
                        size += 1
            choose(perm, 0, n, a)  # the input pattern
            overlap = 0
            for i in range(a):
                overlap += mark[perm[i]]
            if overlap >= theta:
                count += 1
            for i in range(size):
                mark[segment[i]] = 0
        hits[c] = count


@njit(nogil=True, cache=True)
def false_negative_trials(n, a, s, theta, v, trials, seeds, hits, lo, hi):
    """Misses of a stored pattern after noise.

    Per trial: a random pattern of ``a`` of ``n`` cells, a segment with synapses on ``s`` of its
    cells, then noise moves ``v`` active bits: ``v`` active cells switch off and ``v`` cells that
    were inactive switch on (htm.core's ``addNoise``). A miss is an overlap of the noisy pattern
    with the segment below ``theta``.
    """
    perm = np.arange(n)
    mark = np.zeros(n, np.uint8)
    for c in range(lo, hi):
        np.random.seed(seeds[c])
        count = 0
        for _ in range(trials[c]):
            choose(perm, 0, n, a)  # the stored pattern: perm[:a]
            choose(perm, 0, a, s)  # the segment's synapses: perm[:s]
            for i in range(s):
                mark[perm[i]] = 1
            choose(perm, 0, a, v)  # active bits switched off: perm[:v]
            choose(perm, a, n - a, v)  # inactive bits switched on: perm[a:a + v]
            overlap = 0
            for i in range(v, a + v):  # the noisy pattern
                overlap += mark[perm[i]]
            if overlap < theta:
                count += 1
            for i in range(a):  # the segment lies within the stored pattern, perm[:a]
                mark[perm[i]] = 0
        hits[c] = count


@njit(nogil=True, cache=True)
def match_any_trials(n, w, theta, stored, trials, seeds, hits, lo, hi):
    """False matches against a set of ``stored`` random vectors (Ahmad & Hawkins 2015).

    Each chunk draws its own ``stored`` random vectors of ``w`` of ``n`` active bits; per trial a
    random input of ``w`` active bits matches when it overlaps any stored vector in at least
    ``theta`` bits.
    """
    perm = np.arange(n)
    mark = np.zeros(n, np.uint8)
    memory = np.empty((max(1, stored), w), np.int64)
    for c in range(lo, hi):
        np.random.seed(seeds[c])
        for m in range(stored):
            choose(perm, 0, n, w)
            for i in range(w):
                memory[m, i] = perm[i]
        count = 0
        for _ in range(trials[c]):
            choose(perm, 0, n, w)
            for i in range(w):
                mark[perm[i]] = 1
            for m in range(stored):
                overlap = 0
                for i in range(w):
                    overlap += mark[memory[m, i]]
                if overlap >= theta:
                    count += 1
                    break
            for i in range(w):
                mark[perm[i]] = 0
        hits[c] = count
