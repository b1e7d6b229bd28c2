"""The SDR type (htm.core's three views and operations), its batched torch form and its metrics."""

import numpy as np
import pytest
import torch

from neuro.sdr import SDR, ActivationFrequency, Overlap, SDRBatch, Sparsity, concatenate, intersection, union


def test_three_views_convert_lazily_like_htm_core():
    x = SDR((3, 3))
    x.dense = [0, 1, 0, 0, 1, 0, 0, 0, 1]
    assert x.sparse.tolist() == [1, 4, 8]
    assert [c.tolist() for c in x.coordinates] == [[0, 1, 2], [1, 1, 2]]
    y = SDR((3, 3), sparse=[8, 1, 4])          # unsorted input is sorted
    z = SDR((3, 3), coordinates=[[0, 1, 2], [1, 1, 2]])
    assert x == y == z and x.dense.shape == (3, 3) and x.dense.dtype == np.uint8
    d = x.dense.copy()
    d[0, 0] = 1
    x.dense = d                                 # edit, then assign back (htm.core's protocol)
    assert x.sparse.tolist() == [0, 1, 4, 8] and x.sum == 4 and x.getSum() == 4
    assert x.sparsity == pytest.approx(4 / 9) and x.getSparsity() == x.sparsity
    assert x.at((2, 2)) and not x.at((2, 0))
    assert x.zero().sum == 0


def test_bad_values_are_refused():
    x = SDR(10)
    with pytest.raises(ValueError, match="in \\[0, 10\\)"):
        x.sparse = [3, 10]
    with pytest.raises(ValueError, match="must not repeat"):
        x.sparse = [3, 3]
    with pytest.raises(ValueError, match="has 9 bits"):
        x.dense = np.zeros(9)
    with pytest.raises(ValueError, match="2 index arrays"):
        SDR((2, 5)).coordinates = [[1]]
    with pytest.raises(ValueError, match="dimensions must be positive"):
        SDR((0, 3))
    with pytest.raises(ValueError, match="cannot reshape"):
        SDR(10).reshape((3, 3))
    with pytest.raises(ValueError, match="sizes differ"):
        SDR(10).overlap(SDR(11))


def test_overlap_union_intersection_concatenate_reshape():
    a, b = SDR(10, sparse=[0, 1, 2, 3]), SDR(10, sparse=[2, 3, 4, 5])
    assert a.overlap(b) == 2 == a.getOverlap(b)
    assert intersection(a, b).sparse.tolist() == [2, 3] == (a & b).sparse.tolist()
    assert union(a, b).sparse.tolist() == [0, 1, 2, 3, 4, 5] == (a | b).sparse.tolist()
    c = concatenate([SDR(10, sparse=[0, 1, 2]), SDR(10, sparse=[0, 1, 2])])
    assert c.dimensions == (20,) and c.sparse.tolist() == [0, 1, 2, 10, 11, 12]
    grid = concatenate([SDR((2, 3), sparse=[0]), SDR((2, 3), sparse=[5])], axis=1)
    assert grid.dimensions == (2, 6) and [c.tolist() for c in grid.coordinates] == [[0, 1], [0, 5]]
    r = SDR(12, sparse=[0, 5, 11]).reshape((3, 4))
    assert r.dimensions == (3, 4) and [c.tolist() for c in r.coordinates] == [[0, 1, 2], [0, 1, 3]]


def test_randomize_add_noise_kill_cells_subsample():
    x = SDR((100, 20)).randomize(0.02, seed=1)
    assert x.sum == 40 and x == SDR((100, 20)).randomize(0.02, seed=1)
    noisy = x.copy().add_noise(0.25, seed=2)
    assert noisy.sum == 40 and noisy.overlap(x) == 30   # 10 bits moved
    assert x.copy().addNoise(0.25, seed=2) == noisy
    rng = np.random.default_rng(0)
    assert SDR(50).randomize(0.1, rng) != SDR(50).randomize(0.1, rng)  # a generator advances
    full = SDR(100, dense=np.ones(100))
    dead = full.copy().kill_cells(0.3, seed=7)
    assert dead.sum == 70 and dead == full.copy().kill_cells(0.3, seed=7)
    seg = x.subsample(10, seed=3)
    assert seg.sum == 10 and seg.overlap(x) == 10
    with pytest.raises(ValueError, match="fraction must be in"):
        x.add_noise(1.5)
    assert x.to_torch().dtype == torch.bool and int(x.to_torch().sum()) == 40


def test_batch_random_subsample_noise_and_overlaps():
    g = torch.Generator().manual_seed(0)
    batch = SDRBatch.random(64, (10, 30), active=15, generator=g)
    assert batch.dense.shape == (64, 10, 30) and (batch.sum() == 15).all()
    assert batch.sparsity().allclose(torch.full((64,), 15 / 300, dtype=torch.float64))
    seg = batch.subsample(6, g)
    assert (seg.sum() == 6).all() and (seg.overlap(batch) == 6).all()
    noisy = batch.move_bits(5, g)
    assert (noisy.sum() == 15).all() and (noisy.overlap(batch) == 10).all()
    assert (batch.add_noise(0.2, g).overlap(batch) == 12).all()
    other = SDRBatch.random(7, 300, sparsity=0.05, generator=g)
    m = batch.overlap_matrix(other)
    loops = torch.tensor([[batch[i].overlap(other[j]) for j in range(7)] for i in range(64)])
    assert torch.equal(m, loops)
    idx = batch.sparse()
    assert idx.shape == (64, 15) and torch.equal(idx[3], torch.from_numpy(batch[3].sparse))
    assert SDRBatch.from_sdrs(batch.to_sdrs()).dense.equal(batch.dense.reshape(64, 10, 30))
    assert ((batch | seg).sum() == 15).all() and ((batch & seg).sum() == 6).all()


def test_batch_draws_are_uniform():
    g = torch.Generator().manual_seed(1)
    counts = SDRBatch.random(20_000, 20, active=3, generator=g).flat.sum(0).double()
    expected = 20_000 * 3 / 20
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 45  # 19 degrees of freedom: P(chi2 > 45) ~ 1e-3


def test_sparsity_and_overlap_metrics():
    s = Sparsity(100, period=1000)
    for k in (2, 4, 6):
        s.add_data(SDR(100, sparse=range(k)))
    assert s.sparsity == 0.06 and s.min() == 0.02 and s.max() == 0.06
    assert s.mean() == pytest.approx(0.04) and s.std() == pytest.approx(np.std([0.02, 0.04, 0.06]))
    o = Overlap(10)
    o.add_data(SDR(10, sparse=[0, 1, 2, 3]))
    o.add_data(SDR(10, sparse=[2, 3, 4, 5]))
    o.add_data(SDR(10, sparse=[2, 3, 4, 5]))
    assert o.samples == 2 and o.min() == 0.5 and o.overlap == 1.0


def test_activation_frequency_entropy():
    g = torch.Generator().manual_seed(2)
    uniform = ActivationFrequency(200, period=100_000)
    uniform.add_data(SDRBatch.random(5000, 200, active=10, generator=g))
    assert uniform.mean() == pytest.approx(0.05) and uniform.entropy() > 0.99
    skewed = ActivationFrequency(200, period=100_000)
    skewed.add_data(np.tile(np.arange(200) < 10, (100, 1)))  # the same 10 bits every time
    assert skewed.entropy() == 0.0 and skewed.max() == 1.0
    with pytest.raises(ValueError, match="period"):
        ActivationFrequency(10, period=0)
