"""HLOP's lateral Hebbian circuit: Oja subspace convergence, task growth, spiking lateral neurons."""

import math

import pytest
import torch

from neuro.learning import (
    HebbianSubspace,
    SpikingLateralCircuit,
    quantize_rate,
    subspace_angles,
    weighted_rate,
)
from neuro.learning.sites import TraceRecorder

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _source(n: int, scales: list[float], noise: float, seed: int = 0):
    """Gaussian data with known principal axes: the first columns of a random rotation ``Q``."""
    g = torch.Generator().manual_seed(seed)
    q = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64)).Q
    s = torch.tensor(scales + [noise] * (n - len(scales)), dtype=torch.float64)

    def sample(batch: int) -> torch.Tensor:
        return (torch.randn(batch, n, generator=g, dtype=torch.float64) * s) @ q.T
    return q, sample


def _train(sub: HebbianSubspace, sample, batches: int, batch: int = 64) -> None:
    for _ in range(batches):
        sub.update(sample(batch))


def test_subspace_rule_finds_the_known_principal_subspace():
    q, sample = _source(32, [3.0, 2.6, 2.2, 1.9], noise=0.3)
    sub = HebbianSubspace(32, lr=0.01).double()  # paper defaults: momentum 0.9, 5 iterations, clamp
    sub.add_rows(4, torch.Generator().manual_seed(1))
    before = subspace_angles(sub.weight, q[:, :4].T).max()
    _train(sub, sample, 300)
    angles = subspace_angles(sub.weight, q[:, :4].T)
    gram = sub.weight @ sub.weight.T
    assert before > 0.5
    assert angles.max() < 0.05, angles  # radians
    assert (gram - torch.eye(4, dtype=gram.dtype)).abs().max() < 0.02  # H H^T -> I


def test_new_rows_learn_the_next_directions_and_frozen_rows_stay():
    q, sample = _source(24, [3.0, 2.7, 2.4, 1.6, 1.4, 1.2], noise=0.2, seed=3)
    sub = HebbianSubspace(24, lr=0.01).double()
    sub.add_rows(3, torch.Generator().manual_seed(0))
    _train(sub, sample, 300)
    old = sub.weight.clone()
    sub.add_rows(3, torch.Generator().manual_seed(1))  # task 2: freeze 3 rows, add 3
    assert sub.n_frozen == 3 and sub.n_rows == 6
    _train(sub, sample, 400)
    assert torch.equal(sub.weight[:3], old)  # frozen rows never change
    assert subspace_angles(sub.weight, q[:, :6].T).max() < 0.08
    assert subspace_angles(sub.weight[3:], q[:, 3:6].T).max() < 0.15  # the residual directions
    assert torch.equal(sub.basis, sub.weight[:3])


def test_projection_removes_the_frozen_subspace():
    sub = HebbianSubspace(10).double()
    sub.add_rows(3, torch.Generator().manual_seed(0))
    v = torch.randn(5, 10, dtype=torch.float64)
    assert torch.equal(sub.project(v), v)  # nothing frozen yet: task 0 is unprojected
    sub.add_rows(2)
    p = sub.project(v)
    assert torch.allclose(p @ sub.weight[:3].T, torch.zeros(5, 3, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(sub.project(p), p, atol=1e-12)  # idempotent with orthonormal rows


def test_clamp_and_momentum_follow_the_paper():
    sub = HebbianSubspace(3, lr=1.0, momentum=0.9, iterations=1, clamp=0.5).double()
    sub.weight = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
    sub.velocity = torch.zeros(1, 3, dtype=torch.float64)
    sub.n_frozen = 0
    x = torch.tensor([[2.0, 3.0, 0.0]], dtype=torch.float64)
    # y = 2, residual = x - H^T y = [0, 3, 0], dH = y * residual = [0, 6, 0] -> clamped to 0.5
    sub.update(x)
    assert torch.allclose(sub.velocity, torch.tensor([[0.0, 0.05, 0.0]], dtype=torch.float64))
    assert torch.allclose(sub.weight, torch.tensor([[1.0, 0.05, 0.0]], dtype=torch.float64))


def test_state_dict_of_grown_rows_loads_into_a_fresh_module():
    sub = HebbianSubspace(8)
    sub.add_rows(3)
    sub.add_rows(2)
    fresh = HebbianSubspace(8)
    fresh.load_state_dict(sub.state_dict())
    assert torch.equal(fresh.weight, sub.weight) and fresh.n_frozen == 3
    with pytest.raises(ValueError, match="expected"):
        HebbianSubspace(9).load_state_dict(sub.state_dict())


def test_bad_input_and_divergence_are_reported():
    sub = HebbianSubspace(4, lr=50.0, momentum=0.0)
    sub.add_rows(2)
    with pytest.raises(ValueError, match=r"\[B, 4\]"):
        sub.update(torch.ones(3, 5))
    with pytest.raises(ValueError, match="NaN"):
        sub.update(torch.full((2, 4), float("nan")))
    with pytest.raises(FloatingPointError, match="lower the Hebbian lr"):
        for _ in range(20):
            sub.update(torch.randn(16, 4) * 30)
    with pytest.raises(ValueError, match="lateral"):
        HebbianSubspace(4, lateral="dendrites")


def test_weighted_rate_is_the_normalised_online_trace():
    x = torch.rand(7, 3, 5, dtype=torch.float64)
    decay = math.exp(-1 / 2.0)
    w = torch.tensor([decay ** (6 - t) for t in range(7)], dtype=torch.float64)
    expected = (w[:, None, None] * x).sum(0) / w.sum()
    assert torch.allclose(weighted_rate(x, decay), expected)
    online = TraceRecorder("rate", decay)
    for t in range(7):  # one step per call, as in online training
        online.observe(x[t: t + 1])
    assert torch.allclose(online.samples(), expected)
    filtered, stepwise = TraceRecorder("filtered", decay), TraceRecorder("filtered", decay)
    filtered.observe(x)
    for t in range(7):
        stepwise.observe(x[t: t + 1])
    assert torch.allclose(filtered.samples(), stepwise.samples())
    assert torch.allclose(filtered.samples()[-3:], expected)  # its last step is the rate
    assert torch.allclose(filtered.samples()[:3], x[0])
    steps = TraceRecorder("spikes")
    steps.observe(x)
    assert steps.samples().shape == (21, 5)


def test_spiking_lateral_neurons_reproduce_the_rate_code():
    y = torch.randn(6, 9) * 8
    circuit = SpikingLateralCircuit(scale=20.0, steps=200, backend="numba")
    rates = circuit.rates(y)
    # IF neurons starting at half threshold fire round(T c) times: the paper's quantisation
    assert torch.allclose(rates, quantize_rate(y, 20.0, 200), atol=1e-5)
    assert (rates - y).abs().max() <= 20.0 / (2 * 200) + 1e-5


def test_neuronal_projection_converges_to_the_matrix_projection():
    g = torch.Generator().manual_seed(0)
    h = torch.linalg.qr(torch.randn(16, 4, generator=g)).Q.T  # orthonormal lateral weights
    x = torch.rand(5, 16, generator=g) * 2
    exact = x - (x @ h.T) @ h
    errors = []
    for steps in (20, 100, 500):
        neural = SpikingLateralCircuit(scale=4.0, steps=steps, backend="numba").project(x, h)
        errors.append(float((neural - exact).abs().max()))
        # |y_hat - Hx| <= S / 2T per lateral unit, |H^T e| <= sqrt(M) S / 2T
        assert errors[-1] <= math.sqrt(4) * 4.0 / (2 * steps) + 1e-5
    assert errors[2] < errors[0] / 5
    assert errors[2] < 0.01


def test_hebbian_learning_with_spiking_lateral_neurons_converges():
    q, sample = _source(12, [3.0, 2.5, 2.0], noise=0.2, seed=5)
    sub = HebbianSubspace(12, lr=0.02, iterations=2, lateral="neurons", spike_scale=8.0,
                          spike_steps=400, backend="numba")
    sub.add_rows(3, torch.Generator().manual_seed(0))
    for _ in range(150):
        sub.update(sample(32).float())
    assert subspace_angles(sub.weight, q[:, :3].T).max() < 0.15


def test_normalized_learning_rate_converges_at_any_activity_scale():
    q, sample = _source(16, [3.0, 2.5], noise=0.2, seed=7)
    for scale in (0.01, 1.0, 100.0):
        sub = HebbianSubspace(16, lr=0.5, normalize=True).double()
        sub.add_rows(2, torch.Generator().manual_seed(0))
        for _ in range(150):
            sub.update(sample(64) * scale)
        assert subspace_angles(sub.weight, q[:, :2].T).max() < 0.1, scale
    plain = HebbianSubspace(16, lr=0.5).double()  # the paper's rule at this lr and scale fails
    plain.add_rows(2, torch.Generator().manual_seed(0))
    try:
        for _ in range(150):
            plain.update(sample(64) * 100.0)
        assert subspace_angles(plain.weight, q[:, :2].T).max() > 0.3
    except FloatingPointError:
        pass


def test_new_rows_start_orthogonal_to_the_frozen_rows():
    sub = HebbianSubspace(12).double()
    sub.add_rows(4, torch.Generator().manual_seed(0))
    sub.weight[:4] *= 1.3  # frozen rows need not be orthonormal
    sub.add_rows(5, torch.Generator().manual_seed(1))
    gram = sub.weight @ sub.weight.T
    assert gram[4:, :4].abs().max() < 1e-12  # new rows orthogonal to the frozen ones
    assert torch.allclose(gram[4:, 4:], torch.eye(5, dtype=gram.dtype), atol=1e-12)
    sub.add_rows(6)  # only 3 free dimensions left: the rest are plain orthonormal rows
    assert sub.n_rows == 15 and bool(torch.isfinite(sub.weight).all())
