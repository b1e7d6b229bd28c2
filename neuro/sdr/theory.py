r"""Exact probabilities of SDR matching by dendritic segments (Ahmad & Hawkins 2015, 2016).

Symbols: ``n`` cells, ``a`` of them active; a segment has ``s`` synapses (a subsample of one
stored pattern) and fires when at least ``theta`` of them see an active cell; ``b`` is an overlap.

* False match of one segment by a random input of ``a`` active cells:

  .. math:: P_{fm}(n, a, s, \theta) = \sum_{b=\theta}^{s}
            \frac{\binom{s}{b}\binom{n-s}{a-b}}{\binom{n}{a}}.

* ``M`` patterns stored on one segment (unions): the segment holds on average
  :math:`s_M = n\,(1 - (1 - s/n)^M)` distinct synapses; the paper's estimate is
  :math:`P_{fm}(n, a, \mathrm{round}(s_M), \theta)` (:func:`p_false_match_union`). Its exact value
  averages :math:`P_{fm}` over the law of the union's size (:func:`union_size_distribution`,
  :func:`p_false_match_union_exact`).
* A random input against ``M`` stored random vectors of ``w`` active bits (2015 paper): a match
  with any of them has probability :math:`1 - (1 - P_{fm}(n, w, w, \theta))^M`
  (:func:`p_match_any`, exact: given the input, the ``M`` overlaps are independent), below the
  union bound :math:`M\,P_{fm}(n, w, w, \theta)` (:func:`union_bound`).
* False negative: noise moves ``v`` of a stored pattern's ``a`` active bits; the segment misses
  when more than :math:`s - \theta` of its ``s`` synapses lose their input:

  .. math:: P_{fn}(a, s, \theta, v) = \sum_{b=s-\theta+1}^{s}
            \frac{\binom{s}{b}\binom{a-s}{v-b}}{\binom{a}{v}}.

Accuracy. The default path is exact: the sums are Python integers (``math.comb``) and the float
is their quotient, which CPython rounds correctly, so the relative error is at most
:math:`2^{-53} \approx 1.1 \times 10^{-16}` while the result is a normal float (above
:math:`2.2 \times 10^{-308}`; the ``log10_*`` functions go below). Each sum uses the symmetric
form of the hypergeometric law with the smaller of the two sizes drawn
(:math:`\binom{s}{b}\binom{n-s}{a-b}/\binom{n}{a} = \binom{a}{b}\binom{n-a}{s-b}/\binom{n}{s}`),
so ``n = 100,000`` costs microseconds. Mixtures (:func:`p_false_match_union_exact`) and
:func:`p_match_any` combine correctly rounded terms in float64 (``math.fsum``, ``log1p``/``expm1``):
relative error below :math:`10^{-14}`. :func:`p_false_match_lgamma` is a vectorised float64
log-gamma form for torch tensors (relative error below :math:`10^{-8}` up to ``n = 10^6``, checked
against the exact form in the tests).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import torch

__all__ = ["expected_union_size", "log10_p_false_match", "log10_p_false_negative",
           "overlap_tail", "p_false_match", "p_false_match_lgamma", "p_false_match_union",
           "p_false_match_union_exact", "p_false_negative", "p_match_any", "union_bound",
           "union_segment_size", "union_size_distribution", "false_match_medians", "median",
           "OPTIMAL_THETA_GRID"]


def _int(name: str, value, low: int = 0) -> int:
    if isinstance(value, bool) or int(value) != value:
        raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return value


def _check_fm(n, a, s, theta) -> tuple[int, int, int, int]:
    n, a, s, theta = _int("n", n, 1), _int("a", a), _int("s", s), _int("theta", theta)
    if a > n:
        raise ValueError(f"a (active cells) must be <= n, got a={a}, n={n}")
    if s > n:
        raise ValueError(f"s (synapses) must be <= n, got s={s}, n={n}")
    return n, a, s, theta


@lru_cache(maxsize=4096)
def _tail_counts(total: int, k: int, draws: int) -> tuple[tuple[int, ...], int]:
    """Hypergeometric counts: ``counts[b] = C(k, b) C(total - k, draws - b)`` for every overlap
    ``b`` of a fixed ``k``-set with a random ``draws``-set of ``total``, as suffix sums (``tail[b]``
    = number of draws overlapping in ``>= b``), and the number of draws ``C(total, draws)``."""
    if k < draws:  # the symmetric form, fewer terms: C(k,b)C(t-k,d-b)/C(t,d) = C(d,b)C(t-d,k-b)/C(t,k)
        k, draws = draws, k
    top = min(k, draws)
    rest = total - k
    counts = [0] * (top + 1)
    lowest = max(0, draws - rest)  # fewer overlaps leave too few draws for the other cells
    if lowest <= top:
        term = math.comb(k, lowest) * math.comb(rest, draws - lowest)
        for b in range(lowest, top + 1):  # exact: term(b+1) (b+1)(rest-d+b+1) = term(b) (k-b)(d-b)
            counts[b] = term
            term = term * (k - b) * (draws - b) // ((b + 1) * (rest - draws + b + 1)) if b < top else 0
    tail = [0] * (top + 2)
    for b in range(top, -1, -1):
        tail[b] = tail[b + 1] + counts[b]
    return tuple(tail), math.comb(total, draws)


def _fraction_fm(n: int, a: int, s: int, theta: int) -> tuple[int, int]:
    tail, den = _tail_counts(n, s, a)
    if theta >= len(tail):
        return 0, den
    return tail[max(theta, 0)], den


def _to_float(num: int, den: int) -> float:
    """``num / den`` correctly rounded (CPython's integer true division; a subnormal or 0.0 below
    the float range, never an error)."""
    return num / den


def _log10(num: int, den: int) -> float:
    return -math.inf if num == 0 else math.log10(num) - math.log10(den)


def p_false_match(n: int, a: int, s: int, theta: int) -> float:
    r""":math:`P_{fm}(n, a, s, \theta)`: a random input of ``a`` of ``n`` active cells puts at
    least ``theta`` active cells on a segment's ``s`` synapses (module docstring; exact)."""
    return _to_float(*_fraction_fm(*_check_fm(n, a, s, theta)))


def log10_p_false_match(n: int, a: int, s: int, theta: int) -> float:
    """``log10`` of :func:`p_false_match` from the exact integers (no underflow; ``-inf`` for 0)."""
    return _log10(*_fraction_fm(*_check_fm(n, a, s, theta)))


def overlap_tail(n: int, a: int, s: int) -> list[float]:
    r"""``[P(overlap >= theta) for theta in 0..min(a, s)]`` between a random ``a``-of-``n`` input
    and a fixed ``s``-synapse segment: :math:`P_{fm}` for every threshold at once (exact)."""
    n, a, s, _ = _check_fm(n, a, s, 0)
    tail, den = _tail_counts(n, s, a)
    return [t / den for t in tail[:-1]]


def expected_union_size(n: int, s: int, patterns: int) -> float:
    r""":math:`s_M = n\,(1 - (1 - s/n)^M)`: expected distinct synapses after storing ``M``
    random ``s``-subsamples of ``n`` cells on one segment."""
    n, s, patterns = _int("n", n, 1), _int("s", s), _int("patterns", patterns)
    return n * (1.0 - (1.0 - s / n) ** patterns)


def union_segment_size(n: int, s: int, patterns: int) -> int:
    """:func:`expected_union_size` rounded half up: the segment size of the paper's estimate."""
    return int(math.floor(expected_union_size(n, s, patterns) + 0.5))


def p_false_match_union(n: int, a: int, s: int, theta: int, patterns: int) -> float:
    r"""The paper's union estimate :math:`P_{fm}(n, a, \mathrm{round}(s_M), \theta)` for ``M =
    patterns`` stored subsamples of ``s`` synapses (what the paper tabulates and plots)."""
    n, a, s, theta = _check_fm(n, a, s, theta)
    return p_false_match(n, a, union_segment_size(n, s, _int("patterns", patterns, 1)), theta)


@lru_cache(maxsize=256)
def _union_law(n: int, s: int, patterns: int) -> tuple[tuple[int, float], ...]:
    """``((size, probability), ...)`` of the union of ``patterns`` random ``s``-subsets of ``n``.

    A Markov chain over the union's size: a new subset adds ``j`` new cells with probability
    ``C(n - size, j) C(size, s - j) / C(n, s)`` (each transition an exact quotient, correctly
    rounded; the chain sums ``patterns - 1`` steps of them in float64).
    """
    den = math.comb(n, s)
    law = {s: 1.0}
    for _ in range(patterns - 1):
        nxt: dict[int, float] = {}
        for size, prob in law.items():
            lo, hi = max(0, s - size), min(s, n - size)  # new cells, not yet in the union
            w = math.comb(n - size, lo) * math.comb(size, s - lo)
            for new in range(lo, hi + 1):
                nxt[size + new] = nxt.get(size + new, 0.0) + prob * (w / den)
                if new < hi:  # exact: C(n-u, j+1) C(u, s-j-1) from C(n-u, j) C(u, s-j)
                    w = w * (n - size - new) * (s - new) // ((new + 1) * (size - s + new + 1))
        law = nxt
    return tuple(sorted(law.items()))


def union_size_distribution(n: int, s: int, patterns: int) -> dict[int, float]:
    """Law of the number of distinct synapses after storing ``patterns`` independent random
    ``s``-subsamples of ``n`` cells: ``{size: probability}``."""
    n, s, patterns = _int("n", n, 1), _int("s", s), _int("patterns", patterns, 1)
    if s > n:
        raise ValueError(f"s must be <= n, got s={s}, n={n}")
    return dict(_union_law(n, s, patterns))


def p_false_match_union_exact(n: int, a: int, s: int, theta: int, patterns: int) -> float:
    r"""False match of a segment storing ``M = patterns`` random subsamples of ``s`` synapses,
    averaged over the union's size: :math:`\sum_k P(|U| = k)\, P_{fm}(n, a, k, \theta)` (what a
    simulation of stored subsamples measures; :func:`p_false_match_union` is its estimate)."""
    n, a, s, theta = _check_fm(n, a, s, theta)
    law = union_size_distribution(n, s, patterns)
    return math.fsum(prob * p_false_match(n, a, size, theta) for size, prob in law.items())


def p_match_any(n: int, w: int, theta: int, stored: int) -> float:
    r""":math:`1 - (1 - P_{fm}(n, w, w, \theta))^M`: a random input of ``w`` active bits overlaps
    at least one of ``M = stored`` random vectors of ``w`` bits in ``>= theta`` bits (exact for
    independent stored vectors)."""
    p = p_false_match(n, w, w, theta)
    stored = _int("stored", stored, 1)
    if p >= 1.0:
        return 1.0
    return -math.expm1(stored * math.log1p(-p))


def union_bound(n: int, w: int, theta: int, stored: int) -> float:
    r"""The 2015 paper's bound :math:`M\,P_{fm}(n, w, w, \theta)` on :func:`p_match_any` (may
    exceed 1)."""
    return _int("stored", stored, 1) * p_false_match(n, w, w, theta)


def _check_fn(a, s, theta, v) -> tuple[int, int, int, int]:
    a, s, theta, v = _int("a", a, 1), _int("s", s), _int("theta", theta), _int("v", v)
    if s > a:
        raise ValueError(f"s (synapses, a subsample of the pattern) must be <= a, got s={s}, a={a}")
    if v > a:
        raise ValueError(f"v (moved bits) must be <= a, got v={v}, a={a}")
    return a, s, theta, v


def _fraction_fn(a: int, s: int, theta: int, v: int) -> tuple[int, int]:
    tail, den = _tail_counts(a, s, v)  # b = synapses among the v removed cells
    first = max(s - theta + 1, 0)
    if first >= len(tail):
        return 0, den
    return tail[first], den


def p_false_negative(a: int, s: int, theta: int, v: int) -> float:
    r""":math:`P_{fn}(a, s, \theta, v)`: after noise moves ``v`` of the ``a`` active bits, fewer
    than ``theta`` of the segment's ``s`` synapses still see an active cell (exact; ``n`` drops
    out)."""
    return _to_float(*_fraction_fn(*_check_fn(a, s, theta, v)))


def log10_p_false_negative(a: int, s: int, theta: int, v: int) -> float:
    """``log10`` of :func:`p_false_negative` from the exact integers (``-inf`` for 0)."""
    return _log10(*_fraction_fn(*_check_fn(a, s, theta, v)))


def _lchoose(n: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    valid = (k >= 0) & (k <= n)
    n_, k_ = n.clamp(min=0), k.clamp(min=0)
    out = torch.lgamma(n_ + 1) - torch.lgamma(k_ + 1) - torch.lgamma((n_ - k_).clamp(min=0) + 1)
    return torch.where(valid, out, torch.full_like(out, -math.inf))


def p_false_match_lgamma(n, a, s, theta, max_synapses: int | None = None) -> torch.Tensor:
    r""":math:`P_{fm}` for broadcastable tensors (or numbers) through log-gamma in float64:
    :math:`\log \sum_b \exp(\ln\binom{s}{b} + \ln\binom{n-s}{a-b} - \ln\binom{n}{a})`.

    ``max_synapses`` bounds the sum's length (default: the largest ``s``). Relative error below
    ``1e-8`` for ``n <= 10^6`` (module docstring).
    """
    n, a, s, theta = (torch.as_tensor(x, dtype=torch.float64) for x in (n, a, s, theta))
    n, a, s, theta = torch.broadcast_tensors(n, a, s, theta)
    if bool((a > n).any()) or bool((s > n).any()) or bool((n < 1).any()):
        raise ValueError("p_false_match_lgamma needs 1 <= n, a <= n and s <= n everywhere")
    top = int(s.max()) if max_synapses is None else int(max_synapses)
    b = torch.arange(top + 1, dtype=torch.float64).reshape((-1,) + (1,) * n.dim())
    terms = _lchoose(s, b) + _lchoose(n - s, a - b) - _lchoose(n, a)
    terms = torch.where(b >= theta, terms, torch.full_like(terms, -math.inf))
    return torch.logsumexp(terms, dim=0).exp()


def median(values: Sequence[float]) -> float:
    """Median of a sequence (the mean of the two middle values for an even count, as NumPy)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("median of an empty sequence")
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])


#: The grid behind the paper's optimal-threshold figure (htmresearch ``compute_optimal_threshold.py``
#: at the commit whose output ``plot_optimal_threshold.py`` stores): n = 10,000 ... 190,000 in steps
#: of 20,000, sparsity 0.5 % ... 3.0 % in steps of 0.5 % (a = sparsity * n rounded half up) and
#: s = 20 ... 50 in steps of 5: 420 points per threshold.
OPTIMAL_THETA_GRID = {"n": tuple(range(10_000, 200_000, 20_000)),
                      "sparsity": tuple(k * 0.005 for k in range(1, 7)),
                      "s": tuple(range(20, 51, 5))}


def false_match_medians(thetas: Sequence[int], grid: dict | None = None) -> dict[int, float]:
    """Median of :func:`p_false_match` over a grid of ``n``, sparsity and ``s`` for each threshold
    (the paper's optimal-threshold figure; ``grid`` defaults to :data:`OPTIMAL_THETA_GRID`)."""
    grid = OPTIMAL_THETA_GRID if grid is None else grid
    tails = [(_tail_counts(n, s, int(math.floor(sp * n + 0.5))))
             for n in grid["n"] for sp in grid["sparsity"] for s in grid["s"]]
    out = {}
    for theta in thetas:
        theta = _int("theta", theta)
        out[theta] = median([(tail[theta] if theta < len(tail) else 0) / den for tail, den in tails])
    return out
