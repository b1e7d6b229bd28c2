"""neuro.encoding: deterministic encoders equal the peers' (snnTorch spikegen, Norse, SpikingJelly)
under mapped parameters; stochastic ones have the expected rates; seeds, shapes and errors."""

import math

import pytest
import torch

from neuro import encoding as E


def _images(B=16, N=30, seed=0):
    x = torch.rand(B, N, generator=torch.Generator().manual_seed(seed))
    x[0, :3] = torch.tensor([0.0, 0.005, 1.0])  # below threshold, at the edges
    return x


LATENCY_CASES = [dict(), dict(linear=True), dict(normalize=True), dict(linear=True, normalize=True),
                 dict(tau=5.0, clip=True), dict(normalize=True, first_spike_time=3),
                 dict(linear=True, normalize=True, first_spike_time=2, clip=True, threshold=0.2),
                 dict(tau=3.0, first_spike_time=2)]


@pytest.mark.parametrize("kwargs", LATENCY_CASES, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_latency_equals_snntorch(kwargs):
    spikegen = pytest.importorskip("snntorch.spikegen")
    x = _images()
    reference = spikegen.latency(x, num_steps=25, bypass=True, **kwargs)
    ours = E.latency(x, 25, **kwargs)
    assert reference.sum() > 0 and torch.equal(ours, reference)
    times, _ = spikegen.latency_code(x, num_steps=25, **{k: v for k, v in kwargs.items() if k != "clip"})
    torch.testing.assert_close(E.latency_times(x, 25, **{k: v for k, v in kwargs.items() if k != "clip"}),
                               times, rtol=0, atol=0)


def test_latency_is_one_spike_per_input_and_times_are_differentiable():
    x = _images().requires_grad_()
    spikes = E.latency(x.detach(), 20, normalize=True)
    assert torch.equal(spikes.sum(0), torch.ones_like(x))
    times = E.latency_times(x, 20, normalize=True)
    assert bool((times.detach() <= 19 + 1e-4).all())
    times.sum().backward()
    assert bool((x.grad <= 0).all()) and x.grad.abs().sum() > 0  # brighter fires earlier


@pytest.mark.parametrize("padding", [False, True])
@pytest.mark.parametrize("off", [False, True])
def test_delta_equals_snntorch(padding, off):
    spikegen = pytest.importorskip("snntorch.spikegen")
    signal = torch.cumsum(torch.randn(50, 4, 8, generator=torch.Generator().manual_seed(1)) * 0.2, 0)
    reference = spikegen.delta(signal, threshold=0.15, padding=padding, off_spike=off)
    ours = E.delta(signal, 0.15, padding=padding, off_spikes=off)
    assert reference.abs().sum() > 0 and torch.equal(ours, reference)
    channels = E.delta(signal, 0.15, padding=padding, off_spikes="channels")
    assert channels.shape == (50, 4, 2, 8) and bool((channels >= 0).all())
    if off:
        assert torch.equal(channels[:, :, 0] - channels[:, :, 1], reference)


def test_delta_modulation_tracks_the_signal_within_one_threshold():
    signal = torch.cumsum(torch.randn(200, 3, 5, generator=torch.Generator().manual_seed(2)) * 0.05, 0)
    counts = E.delta_modulation(signal, 0.1)
    rebuilt = signal[0] + 0.1 * torch.cumsum(counts, 0)
    assert float((rebuilt - signal).abs().max()) < 0.1 + 1e-5
    slow = torch.linspace(0, 1, 100).view(100, 1, 1)  # a drift of 0.01 per step
    assert E.delta(slow, 0.1).sum() == 0               # step differences miss it
    assert E.delta_modulation(slow, 0.1).sum() >= 9    # the tracked reference does not
    capped = E.delta_modulation(signal * 10, 0.1, max_events=1, off_spikes="channels")
    assert capped.shape == (200, 3, 2, 5) and float(capped.max()) == 1.0


def test_rate_equals_snntorch_under_the_same_seed():
    spikegen = pytest.importorskip("snntorch.spikegen")
    x = _images()
    torch.manual_seed(3)
    reference = spikegen.rate(x, num_steps=10, gain=0.7, offset=0.05)
    torch.manual_seed(3)
    assert torch.equal(E.rate(x, 10, gain=0.7, offset=0.05), reference)
    torch.manual_seed(4)
    reference = spikegen.rate(x, num_steps=10, first_spike_time=4)
    torch.manual_seed(4)
    assert torch.equal(E.rate(x, 10, first_spike_time=4), reference)


def _binomial_bound(p, n):
    """A 6-sigma band on the mean of n Bernoulli(p) draws."""
    return 6 * math.sqrt(p * (1 - p) / n) + 1e-9


def test_rate_statistics():
    g = torch.Generator().manual_seed(5)
    levels = torch.tensor([0.0, 0.05, 0.3, 0.7, 1.0, 1.4]).repeat(200, 1)  # [B, 6]
    spikes = E.rate(levels, 500, generator=g)
    assert spikes.shape == (500, 200, 6) and set(spikes.unique().tolist()) <= {0.0, 1.0}
    mean = spikes.mean((0, 1))
    for p, m in zip([0.0, 0.05, 0.3, 0.7, 1.0, 1.0], mean.tolist()):
        assert abs(m - p) <= _binomial_bound(p, 100_000)
    counts = E.rate(levels, 500, counts=True, gain=2.0, generator=g)   # Poisson, mean 2 x
    lam = torch.tensor([0.0, 0.1, 0.6, 1.4, 2.0, 2.8])
    n = 100_000
    assert bool(((counts.mean((0, 1)) - lam).abs() <= 6 * (lam / n).sqrt() + 1e-9).all())
    assert bool(((counts.var((0, 1)) - lam).abs() <= 0.05 * lam + 1e-9).all())  # Poisson: var = mean
    varying = torch.linspace(0, 1, 400).view(400, 1, 1).expand(400, 500, 1)  # time-varying input
    observed = E.rate(varying, generator=g).mean((1, 2))
    assert abs(float(observed[:100].mean()) - 0.125) < 0.01
    assert abs(float(observed[-100:].mean()) - 0.875) < 0.01


def test_rate_is_seeded_signed_and_straight_through():
    x = torch.rand(8, 5) * 2 - 1
    a = E.rate(x, 20, signed=True, generator=torch.Generator().manual_seed(7))
    b = E.rate(x, 20, signed=True, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    assert bool(((a * torch.sign(x)) >= 0).all()) and a.abs().sum() > 0
    xg = torch.rand(8, 5, requires_grad=True) * 0.8
    xg.retain_grad()
    E.rate(xg, 20, gain=0.5, straight_through=True).sum().backward()
    torch.testing.assert_close(xg.grad, torch.full_like(xg, 20 * 0.5))
    with pytest.raises(ValueError, match="num_steps"):
        E.rate(x, 0)
    with pytest.raises(ValueError, match="time-varying"):
        E.rate(torch.rand(5))


def test_norse_constant_current_and_first_spike():
    encode = pytest.importorskip("norse.torch.functional.encode")
    x = torch.rand(8, 12, generator=torch.Generator().manual_seed(8)) * 3
    reference = encode.constant_current_lif_encode(x, 40)
    assert reference.sum() > 0 and torch.equal(E.constant_current(x, 40), reference)
    assert torch.equal(E.constant_current(x, 40, first_spike_only=True),
                       encode.spike_latency_lif_encode(x, 40))
    spikes = (torch.rand(30, 4, 5, generator=torch.Generator().manual_seed(9)) < 0.3).float()
    assert torch.equal(E.first_spike(spikes), encode.spike_latency_encode(spikes))


def test_population_equals_spikingjelly_with_gradients():
    sj = pytest.importorskip("spikingjelly.activation_based.encoding")
    torch.manual_seed(0)
    obs = torch.rand(6, 3) * 2 - 1
    reference = sj.PopSpikeEncoderDeterministic(3, 10, 5, (-1, 1), 0.3)
    ours = E.GaussianPopulation(3, 10, 5, low=-1, high=1, std=0.3, learnable=True)
    a, (b, _) = reference(obs), ours(obs)
    assert a.sum() > 0 and torch.equal(a, b)
    w = torch.randn_like(a)
    (a * w).sum().backward()
    (b * w).sum().backward()
    torch.testing.assert_close(ours.centers.grad, reference.mean.grad.reshape(3, 10))
    torch.testing.assert_close(ours.std.grad, reference.std.grad.reshape(3, 10))


def test_population_modes_and_fields():
    x = torch.tensor([[0.0, 0.5], [1.0, 0.25]])
    r = E.population(x, 5)                                  # centres 0, .25, .5, .75, 1
    assert r.shape == (2, 10)
    assert float(r[0, 0]) == 1.0 and float(r[0, 7]) == 1.0 and float(r[1, 4]) == 1.0
    for mode in ("rate", "latency", "response", "deterministic"):
        out, _ = E.GaussianPopulation(2, 5, 12, mode=mode, seed=1)(x)
        assert out.shape == (12, 2, 10)
    latency, _ = E.GaussianPopulation(2, 5, 12, mode="latency")(x)
    assert bool((latency.sum(0) <= 1).all())
    with pytest.raises(ValueError, match="features"):
        E.GaussianPopulation(3, 5, 12)(x)


def test_encoder_modules():
    x = torch.rand(4, 6)
    enc = E.RateEncoder(15, seed=3, gain=0.5)
    first, _ = enc(x)
    enc.reseed(3)
    assert torch.equal(enc(x)[0], first) and first.shape == (15, 4, 6)
    assert not torch.equal(enc(x)[0], first)  # the stream continues
    spikes, _ = E.LatencyEncoder(10, normalize=True)(x)
    assert torch.equal(spikes, E.latency(x, 10, normalize=True))
    signal = torch.randn(20, 4, 6).cumsum(0)
    assert torch.equal(E.DeltaEncoder(0.5, off_spikes=True)(signal)[0], E.delta(signal, 0.5, off_spikes=True))
    assert torch.equal(E.DeltaEncoder(0.5, modulation=True)(signal)[0], E.delta_modulation(signal, 0.5))
    with pytest.raises(ValueError, match="threshold"):
        E.LatencyEncoder(10, threshold=2.0)
    with pytest.raises(TypeError):
        E.RateEncoder(10, frobnicate=True)


def test_repeat_and_input_errors():
    x = torch.rand(3, 4)
    r = E.repeat(x, 7)
    assert r.shape == (7, 3, 4) and r.data_ptr() == x.data_ptr()  # a view
    with pytest.raises(ValueError, match=r"x in \[0, 1\]"):
        E.latency(x * 2, 10)
    with pytest.raises(ValueError, match="normalize=True needs num_steps"):
        E.latency_times(x, normalize=True)
    with pytest.raises(TypeError, match="floating-point"):
        E.rate(torch.ones(2, 2, dtype=torch.long), 3)
    with pytest.raises(ValueError, match="off_spikes"):
        E.delta(torch.rand(5, 2, 2), 0.1, off_spikes="both")
