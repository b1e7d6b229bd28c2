"""Delays that are learned: planted delays recovered, and a coincidence task only delays can solve."""

import pytest
import torch

from neuro.models.delay_snn import clamp_positions, rounded_delays
from neuro.nn import LI, LIF, DelayLinear, FixedDelay, Sequential
from neuro.train.losses import classification_loss, readout_logits

# many small ops per training step: a second torch thread only contends on a shared 2-core machine
# (measured 4 x slower with two under load)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _sigma(step, steps, start, end, fraction):
    """Exponential decay from ``start`` to ``end`` over ``fraction`` of the steps, then constant."""
    return max(end, start * (end / start) ** (step / (fraction * steps)))


@pytest.mark.slow
def test_planted_delays_are_learned_back():
    """A target made by known integer delays (and weights): >= 95 % of positions end within 0.5 step."""
    torch.manual_seed(0)
    I, O, K, T, B, steps = 16, 8, 15, 60, 32, 300
    d_true = torch.randint(0, K, (O, I))
    w_true = (torch.rand(O, I) + 0.5) * torch.where(torch.rand(O, I) < 0.5, -1.0, 1.0)
    target = FixedDelay(d_true, w_true)
    layer = DelayLinear(I, O, K, extra_steps=0, sigma=K / 2)  # weights and positions both learned
    opt_w = torch.optim.Adam([layer.weight], lr=0.05)
    opt_p = torch.optim.Adam([layer.position], lr=0.3)
    for step in range(steps):
        layer.set_sigma(_sigma(step, steps, K / 2, 0.23, 0.8))
        x = (torch.rand(T, B, I) < 0.1).float()
        with torch.no_grad():
            y_target, _ = target(x)
        loss = (layer(x)[0] - y_target).square().mean()
        opt_w.zero_grad()
        opt_p.zero_grad()
        loss.backward()
        opt_w.step()
        opt_p.step()
        layer.clamp_positions_()
    recovered = ((layer.delays[..., 0] - d_true).abs() < 0.5).float().mean().item()
    print(f"planted delays recovered within 0.5 step: {recovered:.1%}")
    assert recovered >= 0.95


LAGS = (2, 6, 10, 14)


def _coincidence_batch(n, generator, T=36):
    """Channel 0 spikes at t_a (random), channel 1 at t_a + LAGS[label]; channels 2-3 are noise."""
    x = torch.zeros(T, n, 4)
    label = torch.randint(0, len(LAGS), (n,), generator=generator)
    t_a = torch.randint(0, 20, (n,), generator=generator)
    rows = torch.arange(n)
    x[t_a, rows, 0] = 1
    x[t_a + torch.tensor(LAGS)[label], rows, 1] = 1
    x[:, :, 2:] = (torch.rand(T, n, 2, generator=generator) < 0.05).float()
    return x, label


def _train_coincidence(with_delays, steps=250, seed=0, hidden=16, K=16):
    """4 -> hidden LIF -> 4 LI, same sizes with and without delays in the first synapses.

    Delay net: sigma decays to 0.05 over half the steps; at 75 % the positions are rounded and the
    rest of training tunes the weights for the integer delays used at evaluation.
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    k = K if with_delays else 1
    net = Sequential(DelayLinear(4, hidden, k, sigma=k // 2, extra_steps=0),
                     LIF(beta=0.5, reset="zero", detach_reset=True),
                     DelayLinear(hidden, 4, 1), LI(beta=0.5))
    first = net[0]
    with torch.no_grad():
        first.weight.mul_(3.0)  # enough drive to spike through a blurred kernel at the start
    positions = [first.position] if with_delays else []
    for layer in (net[0], net[2]):
        if layer.kernel_size == 1:
            layer.position.requires_grad_(False)
    weights = [p for p in net.parameters() if p.requires_grad and all(p is not q for q in positions)]
    opt_w = torch.optim.Adam(weights, lr=1e-2)
    opt_p = torch.optim.Adam(positions, lr=0.3) if with_delays else None
    for step in range(steps):
        if with_delays:
            first.set_sigma(_sigma(step, steps, K // 2, 0.05, 0.5))
            if step == int(0.75 * steps):
                with torch.no_grad():
                    first.position.round_()
                first.mode, opt_p = "round", None
        x, y = _coincidence_batch(64, gen)
        loss, _ = classification_loss(net(x)[0], y, "sum_softmax")
        opt_w.zero_grad()
        if opt_p is not None:
            opt_p.zero_grad()
        loss.backward()
        opt_w.step()
        if opt_p is not None:
            opt_p.step()
            clamp_positions(net)
    x, y = _coincidence_batch(1024, torch.Generator().manual_seed(1234))
    net.eval()
    with torch.no_grad(), rounded_delays(net):
        return (readout_logits(net(x)[0], "sum_softmax").argmax(1) == y).float().mean().item()


@pytest.mark.slow
def test_coincidence_task_needs_delays():
    """Lag between two spikes -> class: a memoryless-ish LIF net of the same size cannot tell lags apart."""
    with_delays = _train_coincidence(True)
    without = _train_coincidence(False)
    print(f"coincidence task accuracy (chance 25 %): delays {with_delays:.1%}, no delays {without:.1%}")
    assert with_delays >= 0.9
    assert without <= 0.7
