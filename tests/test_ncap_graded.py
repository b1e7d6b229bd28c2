"""Graded neurons and sign-constrained synapses (neuro.nn.graded): the constraint acts in the forward
pass on free raw parameters, gradients follow the projection, and the layers run time-major."""

import pytest
import torch

from neuro.nn import Graded, Sequential, SignedLinear, constrain_sign, excitatory, graded, inhibitory
from neuro.nn.graded import sign_tensor, signed_init_


def test_graded_clamps_to_unit_interval_with_zero_gradient_outside():
    x = torch.tensor([-2.0, -0.0, 0.25, 1.0, 3.0], requires_grad=True)
    y = graded(x)
    assert torch.equal(y, torch.tensor([0.0, 0.0, 0.25, 1.0, 1.0]))
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]
    assert torch.equal(Graded(-1.0, 2.0)(x), x.detach().clamp(-1, 2))
    with pytest.raises(ValueError, match="low < high"):
        Graded(1.0, 1.0)


def test_excitatory_and_inhibitory_projection():
    w = torch.tensor([-1.5, 0.0, 0.7])
    assert excitatory(w).tolist() == [0.0, 0.0, pytest.approx(0.7)]
    assert inhibitory(w).tolist() == [-1.5, 0.0, 0.0]
    signs = torch.tensor([1, -1, 0])
    assert constrain_sign(w, signs).tolist() == [0.0, 0.0, pytest.approx(0.7)]
    assert torch.equal(constrain_sign(w, "inhibitory"), inhibitory(w))
    assert torch.equal(constrain_sign(w, 0), w)


@pytest.mark.parametrize("bad", [2, "positive", torch.tensor([0.5, 1.0])])
def test_bad_sign_is_refused(bad):
    with pytest.raises(ValueError, match="sign"):
        sign_tensor(bad)


def test_sign_shape_must_broadcast():
    with pytest.raises(ValueError, match="broadcast"):
        SignedLinear(3, 2, sign=torch.tensor([1, -1]))


def test_signed_linear_uses_the_constrained_weight_and_keeps_the_raw_one_free():
    layer = SignedLinear(3, 2, sign=torch.tensor([1, 1, -1]))  # Dale: presynaptic neuron 2 inhibitory
    with torch.no_grad():
        layer.raw_weight.copy_(torch.tensor([[0.5, -0.3, 0.4], [1.0, 2.0, -1.0]]))
    assert layer.raw_weight[0, 1] < 0  # the raw parameter is untouched
    expected = torch.tensor([[0.5, 0.0, 0.0], [1.0, 2.0, -1.0]])
    assert torch.equal(layer.weight, expected)
    x = torch.randn(4, 3)
    torch.testing.assert_close(layer(x), x @ expected.T)
    layer(x).sum().backward()
    # no gradient through a projected-away (wrong-sign) weight
    assert layer.raw_weight.grad[0, 1] == 0 and layer.raw_weight.grad[0, 2] == 0
    assert layer.raw_weight.grad[1, 2] != 0
    free = SignedLinear(3, 2, sign=torch.tensor([1, 1, -1]), constrained=False)
    with torch.no_grad():
        free.raw_weight.copy_(layer.raw_weight)
    assert torch.equal(free.weight, free.raw_weight)


def test_signed_init_constant_and_uniform():
    sign = torch.tensor([[1, -1, 0, 0] * 50])
    w = signed_init_(torch.empty(1, 200), sign, "constant", generator=torch.Generator().manual_seed(0))
    assert torch.all(w[sign == 1] == 1) and torch.all(w[sign == -1] == -1)
    unsigned = w[sign == 0]
    assert set(unsigned.tolist()) == {1.0, -1.0}  # constant init without a sign: random +-1
    u = signed_init_(torch.empty(1, 200), sign, "uniform", scale=0.5)
    assert torch.all((u[sign == 1] >= 0) & (u[sign == 1] <= 0.5))
    assert torch.all((u[sign == -1] <= 0) & (u[sign == -1] >= -0.5))
    assert u[sign == 0].min() < 0 < u[sign == 0].max()
    with pytest.raises(ValueError, match="mode"):
        signed_init_(torch.empty(2), 1, "normal")


def test_graded_layers_run_time_major_in_sequential():
    net = Sequential(SignedLinear(5, 4, sign="excitatory"), Graded())
    x = torch.randn(7, 3, 5)
    out, _ = net(x)
    assert out.shape == (7, 3, 4)
    assert out.min() >= 0 and out.max() <= 1
