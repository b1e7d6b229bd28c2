"""Monte-Carlo SDR estimates: kernels vs a NumPy reference (exact), vs torch and the exact formulas
(within 4 standard errors where P > 1e-3; smaller P in benchmarks/sdr_montecarlo.py)."""

import numba
import numpy as np
import pytest

from neuro.kernels import sdr_cpu
from neuro.sdr import montecarlo as mc
from neuro.sdr.theory import (
    p_false_match,
    p_false_match_union,
    p_false_match_union_exact,
    p_false_negative,
    p_match_any,
    union_bound,
)

# -- a NumPy reference of the kernels: the same draws (legacy RandomState = Numba's generator), sets
# -- instead of marker arrays


def _choose(rng, perm, lo, size, k):
    for i in range(k):
        j = i + int(rng.random_sample() * (size - i))
        perm[lo + i], perm[lo + j] = perm[lo + j], perm[lo + i]


def ref_false_match(n, a, s, theta, patterns, trials, seed):
    rng, perm, hits = np.random.RandomState(seed), list(range(n)), 0
    for _ in range(trials):
        segment = set()
        for _p in range(patterns):
            _choose(rng, perm, 0, n, a)
            _choose(rng, perm, 0, a, s)
            segment |= set(perm[:s])
        _choose(rng, perm, 0, n, a)
        hits += len(segment & set(perm[:a])) >= theta
    return hits


def ref_false_negative(n, a, s, theta, v, trials, seed):
    rng, perm, hits = np.random.RandomState(seed), list(range(n)), 0
    for _ in range(trials):
        _choose(rng, perm, 0, n, a)
        _choose(rng, perm, 0, a, s)
        segment = set(perm[:s])
        _choose(rng, perm, 0, a, v)
        _choose(rng, perm, a, n - a, v)
        noisy = set(perm[v:a + v])
        hits += len(segment & noisy) < theta
    return hits


def ref_match_any(n, w, theta, stored, trials, seed):
    rng, perm = np.random.RandomState(seed), list(range(n))
    memory = []
    for _ in range(stored):
        _choose(rng, perm, 0, n, w)
        memory.append(set(perm[:w]))
    hits = 0
    for _ in range(trials):
        _choose(rng, perm, 0, n, w)
        x = set(perm[:w])
        hits += any(len(x & m) >= theta for m in memory)
    return hits


def _kernel_hits(kernel, params, counts, seeds):
    hits = np.zeros(len(counts), np.int64)
    kernel(*params, np.asarray(counts, np.int64), np.asarray(seeds, np.int64), hits, 0, len(counts))
    return hits.tolist()


def test_kernels_match_the_numpy_reference_draw_for_draw():
    counts, seeds = [300, 200], [11, 12345]
    params = (60, 12, 6, 3, 2)
    assert _kernel_hits(sdr_cpu.false_match_trials, params, counts, seeds) == \
        [ref_false_match(*params, t, s) for t, s in zip(counts, seeds)]
    params = (80, 20, 10, 6, 8)
    assert _kernel_hits(sdr_cpu.false_negative_trials, params, counts, seeds) == \
        [ref_false_negative(*params, t, s) for t, s in zip(counts, seeds)]
    params = (40, 5, 2, 30)
    assert _kernel_hits(sdr_cpu.match_any_trials, params, counts, seeds) == \
        [ref_match_any(*params, t, s) for t, s in zip(counts, seeds)]
    assert sum(_kernel_hits(sdr_cpu.false_match_trials, (60, 12, 6, 3, 2), counts, seeds)) > 0


def test_results_depend_on_the_seed_only_not_on_threads():
    one = mc.simulate_false_match(500, 40, 20, 4, trials=20_000, seed=3, chunk=1000)
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        single = mc.simulate_false_match(500, 40, 20, 4, trials=20_000, seed=3, chunk=1000)
    finally:
        numba.set_num_threads(previous)
    assert one == single and one.trials == 20_000
    assert mc.simulate_false_match(500, 40, 20, 4, trials=20_000, seed=4, chunk=1000) != one


def within(est: mc.Estimate, expected: float, z: float = 4.0) -> None:
    assert abs(est.z(expected)) < z, (est, expected, est.z(expected))


@pytest.mark.parametrize("args, trials", [
    ((2000, 32, 2, 1), 200_000),      # effect of s, first point: 0.0318
    ((500, 128, 24, 12), 100_000),    # effect of n, a = 128: 7.37e-3
    ((2000, 500, 24, 12), 50_000),    # the dense case a = n / 4: 6.6e-3
    ((1000, 64, 16, 4), 50_000),      # 0.11
])
def test_false_match_simulation_agrees_with_the_formula(args, trials):
    p = p_false_match(*args)
    assert p > 1e-3
    within(mc.simulate_false_match(*args, trials=trials, seed=1), p)


def test_union_simulation_agrees_with_the_exact_average_over_union_sizes():
    # n = 1000, a = 200, s = 25, theta = 15: M = 2 stored subsamples
    est = mc.simulate_false_match(1000, 200, 25, 15, patterns=2, trials=200_000, seed=2)
    within(est, p_false_match_union_exact(1000, 200, 25, 15, 2))
    # the paper's estimate (segment of round(s_M) = 49 synapses) is visibly below: 0.0474 vs 0.0508
    assert est.z(p_false_match_union(1000, 200, 25, 15, 2)) > 4
    est = mc.simulate_false_match(1000, 200, 25, 15, patterns=3, trials=20_000, seed=5)
    within(est, p_false_match_union_exact(1000, 200, 25, 15, 3))


@pytest.mark.parametrize("theta, v", [(12, 64), (16, 51), (8, 90)])
def test_noise_simulation_agrees_with_the_formula(theta, v):
    p = p_false_negative(128, 30, theta, v)
    assert p > 1e-3
    within(mc.simulate_false_negative(128, 30, theta, v, n=1024, trials=100_000, seed=theta), p)


@pytest.mark.parametrize("theta, trials", [(4, 20_000), (5, 200_000)])
def test_match_any_simulation_is_at_most_the_union_bound(theta, trials):
    est = mc.simulate_match_any(100, 7, theta, 500, trials=trials, seed=theta)
    within(est, p_match_any(100, 7, theta, 500))
    bound = union_bound(100, 7, theta, 500)
    assert est.p <= bound + 4 * est.se
    # the README simulation (1e6 trials): 0.1346 and 2.85e-3
    readme = {4: 0.1346, 5: 2.85e-3}[theta]
    assert abs(est.p - readme) < 4 * np.sqrt(readme * (1 - readme) / trials + readme * (1 - readme) / 1e6)


@pytest.mark.parametrize("name, run, expected", [
    ("false match", lambda: mc.simulate_false_match(300, 30, 12, 3, trials=8000, seed=0,
                                                    backend="torch", chunk=2000),
     p_false_match(300, 30, 12, 3)),
    ("union", lambda: mc.simulate_false_match(300, 60, 10, 5, patterns=3, trials=4000, seed=0,
                                              backend="torch", chunk=2000),
     p_false_match_union_exact(300, 60, 10, 5, 3)),
    ("noise", lambda: mc.simulate_false_negative(64, 20, 10, 24, n=256, trials=6000, seed=0,
                                                 backend="torch", chunk=2000),
     p_false_negative(64, 20, 10, 24)),
    ("match any", lambda: mc.simulate_match_any(100, 7, 4, 500, trials=8000, seed=0,
                                                backend="torch", chunk=2000),
     p_match_any(100, 7, 4, 500)),
])
def test_torch_reference_estimators_agree_with_the_formulas(name, run, expected):
    assert expected > 1e-2
    within(run(), expected)


def test_estimate_statistics():
    est = mc.Estimate(50, 1000)
    assert est.p == 0.05 and est.se == pytest.approx(np.sqrt(0.05 * 0.95 / 1000))
    lo, hi = est.interval()
    assert lo < 0.05 < hi and 0.035 < lo and hi < 0.07
    assert (est + mc.Estimate(0, 1000)).p == 0.025
    assert est.z(0.05) == 0.0


@pytest.mark.parametrize("call, match", [
    (lambda: mc.simulate_false_match(100, 10, 20, 5), "s <= a <= n"),
    (lambda: mc.simulate_false_negative(100, 10, 5, 50, n=120), "a \\+ v <= n"),
    (lambda: mc.simulate_match_any(100, 7, 4, 5, backend="cuda"), "backend must be one of"),
    (lambda: mc.simulate_false_match(100, 10, 5, 2, trials=0), "trials must be >= 1"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
