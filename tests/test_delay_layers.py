"""DelayLinear / FixedDelay: delay conventions, streaming state, containers and bad input."""

import pytest
import torch

from neuro.functional.delay import DelayState, fixed_delay
from neuro.nn import LIF, DelayLinear, FixedDelay, Sequential


def test_output_length_and_exact_integer_shift():
    """sigma -> 0 with rounded positions: output = input shifted by d = K - 1 - q (spec 2.6 a, c)."""
    K, T, B = 9, 12, 3
    d = torch.tensor([[0, 3], [8, 5]])
    layer = DelayLinear.from_delays(torch.ones(2, 2), d, K)
    assert layer.extra_steps == (K - 1) // 2
    assert torch.equal(layer.integer_delays()[..., 0], d)
    torch.testing.assert_close(layer.delays[..., 0], d.float())
    x = torch.randn(T, B, 2)
    for backend in ("numba", "torch"):
        layer.backend = backend
        y, _ = layer(x)
        assert y.shape == (T + (K - 1) // 2, B, 2)
        for o in range(2):
            expected = torch.zeros(T + (K - 1) // 2, B)
            for i in range(2):
                n = min(T, T + (K - 1) // 2 - int(d[o, i]))  # steps that still reach the output
                expected[d[o, i]:d[o, i] + n] += x[:n, :, i]
            torch.testing.assert_close(y[:, :, o], expected)


def test_gauss_mode_approaches_the_integer_delay_as_sigma_shrinks():
    K, T, B = 11, 15, 2
    d = torch.tensor([[4]])
    layer = DelayLinear.from_delays(torch.ones(1, 1), d, K, mode="gauss", extra_steps=0)
    x = torch.randn(T, B, 1)
    y_round, _ = DelayLinear.from_delays(torch.ones(1, 1), d, K, extra_steps=0)(x)
    errors = []
    with torch.no_grad():
        for sigma in (3.0, 1.0, 0.0):
            layer.set_sigma(sigma)
            errors.append(float((layer(x)[0] - y_round).abs().max() / x.abs().max()))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 3e-3  # sigma_e = 0.27: each neighbour keeps exp(-1/(2*0.27^2)) ~ 1e-3


def test_position_gradient_is_nonzero_for_positive_sigma():
    layer = DelayLinear(3, 2, 7, sigma=1.0, method="sparse")
    y, _ = layer(torch.randn(10, 4, 3))
    y.square().sum().backward()
    assert layer.position.grad.abs().min() > 0


def test_clamp_and_sigma_helpers():
    layer = DelayLinear(3, 2, 7)
    with torch.no_grad():
        layer.position.fill_(10.0)
    layer.clamp_positions_()
    assert float(layer.position.detach().max()) == 3.0 and int(layer.integer_delays().min()) == 0
    layer.set_sigma(0.5)
    assert float(layer.sigma) == 0.5
    assert "kernel_size=7" in repr(layer)


def test_fixed_delay_per_neuron_streaming_equals_one_call():
    delays = torch.tensor([0, 2, 5, 1])
    module = FixedDelay(delays)
    x = torch.randn(17, 3, 4)
    y, state = module(x)
    for c, dc in enumerate(delays.tolist()):
        torch.testing.assert_close(y[dc:, :, c], x[:17 - dc, :, c])
    assert isinstance(state, DelayState) and state.history.shape == (5, 3, 4)
    pieces, st = [], None
    for chunk in (x[:1], x[1:4], x[4:12], x[12:]):
        out, st = module(chunk, st)
        pieces.append(out)
    torch.testing.assert_close(torch.cat(pieces), y)
    torch.testing.assert_close(st.history, state.history)


def test_fixed_delay_per_synapse_is_the_integer_delay_layer_and_trains_its_weights():
    torch.manual_seed(1)
    K = 6
    d = torch.randint(0, K, (3, 4))
    w = torch.randn(3, 4)
    fixed = FixedDelay(d, w, max_delay=K - 1, learn_weight=True)
    layer = DelayLinear.from_delays(w, d, K, extra_steps=0)
    x = torch.randn(10, 2, 4, requires_grad=True)
    y, _ = fixed(x)
    torch.testing.assert_close(y, layer(x)[0])
    y.sum().backward()
    assert fixed.weight.grad is not None and x.grad is not None
    assert not hasattr(fixed.delays, "grad") or fixed.delays.grad is None
    ref, _ = fixed_delay(x.detach(), d, w, backend="torch", max_delay=K - 1)
    torch.testing.assert_close(y.detach(), ref)


def test_sequential_threads_delay_layers():
    net = Sequential(DelayLinear(5, 4, 5), LIF(), DelayLinear(4, 2, 5))
    out, states = net((torch.rand(8, 3, 5) < 0.5).float())
    assert out.shape == (8 + 2 + 2, 3, 2) and len(states) == 3 and states[0] is None


@pytest.mark.parametrize("build, message", [
    (lambda: DelayLinear(3, 2, 0), "kernel_size"),
    (lambda: DelayLinear(3, 2, 5, mode="nearest"), "mode"),
    (lambda: DelayLinear.from_delays(torch.ones(2, 2), torch.tensor([[0, 5], [1, 2]]), 5), r"\[0, 4\]"),
    (lambda: DelayLinear.from_delays(torch.ones(2, 2), torch.tensor([[0, -1], [1, 2]]), 5), r"\[0, 4\]"),
    (lambda: DelayLinear.from_delays(torch.ones(2, 3), torch.zeros(2, 2, dtype=torch.long), 5), "both"),
    (lambda: FixedDelay(torch.tensor([0.5, 1.0])), "whole numbers"),
    (lambda: FixedDelay(torch.tensor([1, 2]), max_delay=1), r"\[0, 1\]"),
    (lambda: FixedDelay(torch.zeros(2, 2, dtype=torch.long)), "need a weight"),
])
def test_bad_construction_is_refused(build, message):
    with pytest.raises((ValueError, TypeError), match=message):
        build()


def test_bad_forward_input_is_refused():
    layer = DelayLinear(3, 2, 5)
    with pytest.raises(ValueError, match="5 input features but the weights expect 3"):
        layer(torch.zeros(4, 2, 5))
    with pytest.raises(ValueError, match="shape"):
        layer(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="NaN"):
        layer(torch.full((4, 2, 3), float("nan")))
    with pytest.raises(ValueError, match="state"):
        layer(torch.zeros(4, 2, 3), state=torch.zeros(1))
    with pytest.raises(TypeError, match="floating-point"):
        layer(torch.zeros(4, 2, 3, dtype=torch.long))
    fixed = FixedDelay(torch.tensor([1, 2, 0]))
    with pytest.raises(ValueError, match="one per input channel"):
        fixed(torch.zeros(4, 2, 5))
    with pytest.raises(ValueError, match="state.history"):
        fixed(torch.zeros(4, 2, 3), DelayState(torch.zeros(1, 2, 3)))
