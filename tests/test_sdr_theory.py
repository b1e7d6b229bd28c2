"""Exact SDR probabilities: every check value of Ahmad & Hawkins (2016) to 3 significant figures."""

import itertools
import math
from collections import Counter

import pytest
import torch

from neuro.sdr import theory
from neuro.sdr.theory import (
    false_match_medians,
    log10_p_false_match,
    log10_p_false_negative,
    overlap_tail,
    p_false_match,
    p_false_match_lgamma,
    p_false_match_union,
    p_false_match_union_exact,
    p_false_negative,
    p_match_any,
    union_bound,
    union_size_distribution,
)


def sig3(value: float, expected: float, figures: int = 3) -> None:
    """``value`` equals ``expected`` to 3 (or ``figures``) significant figures."""
    assert f"{value:.{figures - 1}e}" == f"{expected:.{figures - 1}e}", (value, expected)


@pytest.mark.parametrize("args, expected", [
    ((300, 64, 24, 12), 1.0946e-3),          # effect of n, first point
    ((10_000, 300, 24, 12), 8.3758e-13),
    ((500, 64, 24, 12), 5.69571108769533e-6),  # plot_effect_of_n.py's stored numbers
    ((500, 128, 24, 12), 0.00736788303358289),
    ((500, 256, 24, 12), 0.629372754740777),
    ((300, 75, 24, 12), 0.00518604306750049),  # the dense curve is a = n / 4
    ((19_900, 4975, 24, 12), 0.00716735111800491),
    ((2000, 32, 2, 1), 0.031752),            # effect of s, first point (32, 2000)
])
def test_effect_of_n_and_s(args, expected):
    sig3(p_false_match(*args), expected)


def test_effect_of_n_a128_is_a_little_above_1e_12_near_n_4000_and_dense_plateau():
    assert 1e-12 < p_false_match(4100, 128, 24, 12) < 1.1e-12
    dense = [p_false_match(n, n // 4, 24, 12) for n in range(300, 20_000, 200)]
    assert 5e-3 < min(dense) and max(dense) < 7.2e-3
    assert p_false_match(16_000, 4000, 30, 15) == pytest.approx(2.7e-3, rel=0.05)  # effect of s


@pytest.mark.parametrize("s, expected", [(6, 6.35e-11), (8, 2.53e-14), (10, 1.00e-17)])
def test_table_1b_theta_equals_s(s, expected):
    sig3(p_false_match(100_000, 2000, s, s), expected)


@pytest.mark.parametrize("theta, expected", [(6, 5.29e-8), (8, 2.82e-10), (10, 1.54e-12),
                                             (12, 8.59e-15)])
def test_table_1c_s_is_twice_theta(theta, expected):
    sig3(p_false_match(100_000, 2000, 2 * theta, theta), expected)


@pytest.mark.parametrize("theta, m, expected", [(10, 2, 4.92e-9), (10, 4, 4.63e-6), (10, 6, 1.59e-4),
                                                (20, 6, 1.08e-7)])
def test_table_1d_m_patterns_per_segment(theta, m, expected):
    sig3(p_false_match(100_000, 2000, 2 * m * theta, theta), expected)


@pytest.mark.parametrize("n, m, expected, figures", [
    (1000, 1, 1.0014e-5, 3), (1000, 2, 0.0474, 3), (1000, 3, 0.50, 2),  # given as 0.50 (0.5017)
    (1000, 5, 0.991, 3), (10_000, 1, 5.30e-20, 3), (10_000, 2, 2.36e-14, 3), (10_000, 5, 2.28e-8, 3)])
def test_unions_paper_estimate(n, m, expected, figures):
    sig3(p_false_match_union(n, 200, 25, 15, m), expected, figures)


@pytest.mark.parametrize("theta, expected", [(8, 7.354e-4), (12, 0.0717)])
def test_noise_false_negatives_at_half_noise(theta, expected):
    sig3(p_false_negative(128, 30, theta, 64), expected)


def test_noise_curves_match_the_stored_theory_and_lower_theta_tolerates_more_noise():
    # plot_noise_results.py's stored theoretical values at noise 0.5 and 0.25 (v = 64, 32)
    sig3(p_false_negative(128, 30, 16, 64), 0.582501773030327)
    sig3(p_false_negative(128, 30, 12, 32), 2.16302525195240e-7)
    sig3(p_false_negative(128, 30, 12, 38), 1.09248135880715e-5)
    for v in (32, 64, 90):
        p = [p_false_negative(128, 30, theta, v) for theta in (8, 12, 16)]
        assert p[0] < p[1] < p[2]


@pytest.mark.parametrize("theta, expected", [(8, 4.8e-8), (9, 2.0e-9), (10, 7.4e-11), (12, 7.6e-14),
                                             (16, 2.0e-20)])
def test_optimal_theta_medians(theta, expected):
    assert f"{false_match_medians([theta])[theta]:.1e}" == f"{expected:.1e}"


def test_optimal_theta_medians_to_3_figures_of_the_stored_table():
    # plot_optimal_threshold.py's table (3 figures): median for theta 3, 8, 9, 10, 12, 16
    medians = false_match_medians([3, 8, 9, 10, 12, 16])
    for theta, expected in ((3, 0.018156949), (8, 4.83e-08), (9, 2.04e-09), (10, 7.40e-11),
                            (12, 7.63e-14), (16, 1.95e-20)):
        sig3(medians[theta], expected)
    assert medians[9] > 1e-9 > medians[10]  # the shaded "error <= 1e-9" region starts near 10


@pytest.mark.parametrize("theta, bound", [(4, 0.1447), (5, 2.826e-3), (6, 2.04e-5)])
def test_union_bound_of_the_2015_paper(theta, bound):
    sig3(union_bound(100, 7, theta, 500), bound)
    exact = p_match_any(100, 7, theta, 500)
    assert exact <= union_bound(100, 7, theta, 500)


def test_exact_match_any_sits_where_the_readme_simulation_does():
    # README simulation: 0.1346, 2.85e-3, 1.7e-5 (1e6 trials); the exact value for independent
    # stored vectors is 1 - (1 - P)^M
    assert p_match_any(100, 7, 4, 500) == pytest.approx(0.1347, abs=2e-4)
    assert p_match_any(100, 7, 5, 500) == pytest.approx(2.822e-3, rel=1e-3)
    assert p_match_any(100, 7, 6, 500) == pytest.approx(2.0365e-5, rel=1e-3)


def test_exact_against_brute_force_enumeration():
    n, a, s = 9, 4, 3
    segment = set(range(s))
    counts = Counter(len(segment & set(c)) for c in itertools.combinations(range(n), a))
    total = sum(counts.values())
    for theta in range(0, 5):
        expected = sum(v for b, v in counts.items() if b >= theta) / total
        assert p_false_match(n, a, s, theta) == pytest.approx(expected, rel=1e-15, abs=0)
    assert overlap_tail(n, a, s) == pytest.approx([sum(v for b, v in counts.items() if b >= t) / total
                                                   for t in range(4)])
    # noise: v of a active bits switched off, segment = s of them
    a, s, v = 6, 3, 2
    seg = set(range(s))
    miss = Counter(len(seg - set(off)) for off in itertools.combinations(range(a), v))
    tot = sum(miss.values())
    for theta in range(0, 4):
        expected = sum(c for kept, c in miss.items() if kept < theta) / tot
        assert p_false_negative(a, s, theta, v) == pytest.approx(expected, rel=1e-15, abs=0)


def test_union_size_law_and_exact_union_average():
    n, s, m = 8, 3, 3
    subsets = list(itertools.combinations(range(n), s))
    sizes = Counter(len(set().union(*c)) for c in itertools.product(subsets, repeat=m))
    total = sum(sizes.values())
    law = union_size_distribution(n, s, m)
    assert law == pytest.approx({k: v / total for k, v in sizes.items()}, rel=1e-14)
    exact = p_false_match_union_exact(n, 3, s, 2, m)
    assert exact == pytest.approx(sum(v / total * p_false_match(n, 3, k, 2) for k, v in sizes.items()),
                                  rel=1e-14)
    # the paper's estimate uses the rounded mean size; the exact average differs
    assert p_false_match_union_exact(1000, 200, 25, 15, 2) == pytest.approx(0.0508, abs=1e-4)
    assert p_false_match_union(1000, 200, 25, 15, 2) == pytest.approx(0.0474, abs=1e-4)
    assert theory.expected_union_size(1000, 25, 2) == pytest.approx(49.375)


def test_no_underflow_at_n_100000_and_logs_go_below_the_float_range():
    assert p_false_match(100_000, 2000, 10, 10) > 0
    assert log10_p_false_match(100_000, 2000, 10, 10) == pytest.approx(math.log10(1.0016321617811334e-17),
                                                                       abs=1e-12)
    deep = log10_p_false_match(1_000_000, 1000, 200, 200)  # about 1e-600
    assert deep < -400 and p_false_match(1_000_000, 1000, 200, 200) == 0.0
    assert log10_p_false_negative(128, 30, 8, 6) == -math.inf  # 6 moved bits cannot break 23 of 30
    assert p_false_match(100, 7, 7, 8) == 0.0 and p_false_match(100, 7, 7, 0) == 1.0


def test_lgamma_form_agrees_with_the_exact_one():
    cases = [(300, 64, 24, 12), (10_000, 300, 24, 12), (100_000, 2000, 20, 10),
             (1_000_000, 20_000, 40, 20), (2000, 32, 2, 1)]
    got = p_false_match_lgamma(*(torch.tensor([c[i] for c in cases]) for i in range(4)))
    for value, case in zip(got.tolist(), cases):
        assert value == pytest.approx(p_false_match(*case), rel=1e-8)


@pytest.mark.parametrize("call, match", [
    (lambda: p_false_match(100, 200, 10, 5), "a \\(active cells\\) must be <= n"),
    (lambda: p_false_match(100, 20, 10.5, 5), "s must be an integer"),
    (lambda: p_false_match(100, 20, 10, -1), "theta must be >= 0"),
    (lambda: p_false_negative(128, 200, 10, 5), "s \\(synapses"),
    (lambda: p_false_negative(128, 30, 10, 129), "v \\(moved bits\\)"),
    (lambda: p_match_any(100, 7, 4, 0), "stored must be >= 1"),
])
def test_bad_arguments_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_figures_command_writes_the_five_figures(tmp_path):
    import json

    from neuro.sdr import figures

    assert figures.main(["--out", str(tmp_path), "--no-simulation"]) == 0
    for name in ("effect_of_n", "effect_of_s", "unions", "noise", "optimal_theta"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    data = json.loads((tmp_path / "figures.json").read_text())
    assert data["effect_of_n"]["curves"]["a=64"]["p"][0] == pytest.approx(1.0946e-3, rel=1e-4)
    assert data["optimal_theta"]["median"][data["optimal_theta"]["theta"].index(10)] == \
        pytest.approx(7.40e-11, rel=1e-2)
    assert figures._simulate(1e-6, 1000, None) is None  # too few expected hits: no dot
