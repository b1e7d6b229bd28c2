"""Reservoir measures against hand-computable cases: delay lines, one leaky unit, known matrices."""

import math

import numpy as np
import pytest

from neuro.models.reservoir_measures import (
    MemoryCurve,
    class_separation,
    delay_line_states,
    fading_time,
    generalization_rank,
    kernel_quality,
    leaky_unit_memory,
    linear_reservoir_states,
    memory_capacity,
    memory_curve,
    nrmse,
    numerical_rank,
    ridge_fit,
    state_distance,
    van_rossum_distance,
)


@pytest.fixture(scope="module")
def u():
    return np.random.default_rng(0).uniform(-1, 1, 6000)


@pytest.mark.parametrize("n", [1, 5, 20])
def test_delay_line_capacity_equals_its_size(u, n):
    """x_t = (u_{t-1}, ..., u_{t-n}): MC_k = 1 for k = 1..n and 0 beyond, so MC = n (Jaeger's sum from 1)."""
    mc = memory_capacity(u, delay_line_states(u, n), max_delay=n + 10)
    assert np.allclose(mc.r2[:n], 1.0, atol=1e-9)
    assert mc.r2[n:].max() < 5e-3  # held-out correlation of unrelated delays: sampling noise only
    assert mc.capacity == pytest.approx(n, abs=0.03)
    # the input of the current step is not in this delay line; it is with shift = 0
    assert memory_curve(u, delay_line_states(u, n), [0]).r2[0] < 5e-3
    assert memory_curve(u, delay_line_states(u, n, shift=0), range(n)).capacity == pytest.approx(n, abs=1e-6)


@pytest.mark.parametrize("a", [0.5, 0.9])
def test_leaky_unit_fading_memory_curve(u, a):
    """x_t = a x_{t-1} + u_t has MC_k = a^{2k} (1 - a^2) and MC (from k = 0) = 1."""
    x = linear_reservoir_states(u, np.array([[a]]), np.array([1.0]))
    curve = memory_curve(u, x, range(8))
    np.testing.assert_allclose(curve.r2, leaky_unit_memory(a, range(8)), atol=0.03)
    exact = MemoryCurve(np.arange(40), leaky_unit_memory(a, range(40)), 1.0)
    assert fading_time(exact, 0.5 * (1 - a * a)) == math.ceil(math.log(0.5) / (2 * math.log(a)))
    assert fading_time(exact, 0.0) == 40  # never below: one past the last delay


def test_linear_reservoir_capacity_is_bounded_by_its_size(u):
    """Jaeger: a linear reservoir of N units has MC <= N; an orthogonal one near the edge gets close."""
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.normal(size=(10, 10)))
    mc = memory_capacity(u, linear_reservoir_states(u, 0.95 * q, rng.normal(size=10)), max_delay=60)
    assert 8.5 < mc.capacity <= 10.2


def test_memory_curve_holds_out_test_steps():
    """Pure-noise states earn no capacity: the readout is scored on steps it was not fitted on."""
    rng = np.random.default_rng(2)
    u, x = rng.uniform(size=1000), rng.normal(size=(1000, 100))
    assert memory_capacity(u, x, 5).capacity < 0.2


def test_ridge_fit_recovers_a_linear_map():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(500, 4)) * [1, 10, 0.1, 3] + [0, 5, -2, 1]
    w_true = np.array([[1.0, -2.0], [0.5, 0.0], [3.0, 1.0], [-1.0, 2.0]])
    w, b = ridge_fit(x, x @ w_true + [0.7, -0.3], alpha=0.0)
    np.testing.assert_allclose(w, w_true, atol=1e-8)
    np.testing.assert_allclose(b, [0.7, -0.3], atol=1e-8)


def test_ranks_on_known_matrices():
    assert numerical_rank(np.eye(5)) == 5
    assert numerical_rank(np.zeros((3, 4))) == 0
    a = np.outer([1.0, 2.0, 3.0], [1.0, -1.0, 0.5])
    assert numerical_rank(a) == 1
    assert numerical_rank(a + 1e-4 * np.eye(3)) == 1  # below rtol = 1e-2 of the largest singular value
    assert numerical_rank(a + 1e-4 * np.eye(3), rtol=1e-6) == 3


def test_kernel_quality_and_generalization_rank_of_a_delay_line():
    """The end state of an n-unit delay line is the last n inputs: m different streams give rank
    min(m, n); streams that differ only more than n steps back all give the same state (rank 1)."""
    rng = np.random.default_rng(4)
    n, length = 8, 30
    ends = lambda streams: np.stack([delay_line_states(s, n)[-1] for s in streams])  # noqa: E731
    distinct = [rng.normal(size=length) for _ in range(12)]
    assert kernel_quality(ends(distinct)) == 8
    assert kernel_quality(ends(distinct[:5])) == 5
    tail = rng.normal(size=n + 1)
    old_noise = [np.r_[rng.normal(size=length - n - 1), tail] for _ in range(12)]
    assert generalization_rank(ends(old_noise)) == 1


def test_state_and_spike_train_distances():
    a = np.zeros((4, 2))
    b = np.array([[0, 0], [3, 4], [1, 0], [0, 0]], float)
    np.testing.assert_allclose(state_distance(a, b), [0, 5, 1, 0])
    tau = 10.0
    lone = (1 / tau) * sum(math.exp(-2 * k / tau) for k in range(195))  # spike at step 5 of 200
    assert van_rossum_distance([5], [], 200, tau) == pytest.approx(math.sqrt(lone), rel=1e-9)
    assert van_rossum_distance([5, 50], [5, 50], 200, tau) == 0.0
    assert van_rossum_distance([5], [6], 200, tau) < van_rossum_distance([5], [15], 200, tau)


def test_class_separation_by_hand():
    x = np.array([[0, 0], [0, 0], [3, 4], [3, 4]], float)
    assert class_separation(x, [0, 0, 1, 1]) == pytest.approx(5.0)  # C_d = 5, C_v = 0
    x = np.array([[-1, 0], [1, 0], [2, 4], [4, 4]], float)  # centres (0,0), (3,4); spread 1 each
    assert class_separation(x, [0, 0, 1, 1]) == pytest.approx(5.0 / 2.0)


def test_nrmse():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert nrmse(y, y) == 0.0
    assert nrmse(y, np.full(4, y.mean())) == pytest.approx(1.0)


@pytest.mark.parametrize("call, message", [
    (lambda: memory_curve(np.zeros(10), np.zeros((9, 2)), [1]), "rows"),
    (lambda: memory_curve(np.zeros(10), np.zeros((10, 2)), []), "delays"),
    (lambda: memory_curve(np.zeros(10), np.zeros((10, 2)), [9]), "too few steps"),
    (lambda: memory_capacity(np.zeros(10), np.zeros((10, 2)), 1, min_delay=2), "min_delay"),
    (lambda: leaky_unit_memory(1.0, [1]), "stable"),
    (lambda: numerical_rank(np.eye(2), rtol=0), "rtol"),
    (lambda: class_separation(np.zeros((3, 2)), [1, 1, 1]), "two classes"),
    (lambda: nrmse(np.ones(3), np.ones(3)), "constant"),
    (lambda: state_distance(np.zeros((2, 2)), np.zeros((3, 2))), "shape"),
    (lambda: ridge_fit(np.zeros((3, 2)), np.zeros(4)), "rows"),
])
def test_measure_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
