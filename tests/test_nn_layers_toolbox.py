"""Layers of the trainer's toolbox (batch norm through time, tdBN, sequence dropout, Stateless) and
the porting traps neuro now refuses (2-D sequence input, learn_tau with beta, user surrogates on
the kernels, the repr)."""

from dataclasses import dataclass

import pytest
import torch
from torch import nn

from neuro.nn import (
    LIF,
    BatchNormThroughTime,
    CubaLIF,
    IFCell,
    LIFCell,
    SequenceDropout,
    Sequential,
    Stateless,
    StepBatchNorm,
    ThresholdBatchNorm,
    reset_states,
)
from neuro.surrogate import Surrogate


def _x(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * 2 + 0.5


# ----------------------------------------------------------------------------- batch norm
def test_step_batchnorm_equals_batchnorm_over_time_and_batch():
    x = _x(6, 4, 5, 3, 3)
    bn = StepBatchNorm(5)
    y, _ = bn(x)
    ref = nn.functional.batch_norm(x.reshape(24, 5, 9), None, None, training=True)
    torch.testing.assert_close(y, ref.view_as(x))
    assert set(bn.state_dict()) >= {"bn.weight", "bn.bias", "bn.running_mean"}  # recipe checkpoints load
    from neuro.models.delay_snn import SequenceDropout as FromRecipe
    from neuro.models.delay_snn import StepBatchNorm as AlsoFromRecipe

    assert FromRecipe is SequenceDropout and AlsoFromRecipe is StepBatchNorm


def test_threshold_batchnorm_equals_spikingjelly_tdbn():
    layer = pytest.importorskip("spikingjelly.activation_based.layer")
    x = _x(6, 4, 5, 3, 3)
    peer = layer.ThresholdDependentBatchNorm2d(alpha=0.7, v_th=1.5, num_features=5)
    ours = ThresholdBatchNorm(5, alpha=0.7, v_th=1.5)
    torch.testing.assert_close(ours(x)[0], peer(x), rtol=1e-5, atol=1e-6)
    peer.eval()
    ours.eval()
    torch.testing.assert_close(ours(x)[0], peer(x), rtol=1e-5, atol=1e-6)  # running statistics


def test_bntt_equals_snntorch_and_spikingjelly():
    snn = pytest.importorskip("snntorch")
    x = _x(6, 8, 5, seed=1).requires_grad_()
    peer = snn.BatchNormTT1d(5, 6)
    ours = BatchNormThroughTime(5, 6)
    y_peer = torch.stack([peer[t](x[t]) for t in range(6)])
    y_ours, _ = ours(x)
    torch.testing.assert_close(y_ours, y_peer, rtol=1e-5, atol=1e-6)
    w = torch.randn_like(y_ours)
    g_peer = torch.autograd.grad((y_peer * w).sum(), [x, peer[2].weight])
    g_ours = torch.autograd.grad((y_ours * w).sum(), [x, ours.weight])
    torch.testing.assert_close(g_ours[0], g_peer[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(g_ours[1][2], g_peer[1], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ours.running_mean[3], peer[3].running_mean)
    sj = pytest.importorskip("spikingjelly.activation_based.layer")
    from spikingjelly.activation_based import functional

    images = _x(4, 3, 2, 5, 5, seed=2)
    peer2 = sj.BatchNormThroughTime2d(4, 2, step_mode="m")
    functional.reset_net(peer2)
    torch.testing.assert_close(BatchNormThroughTime(2, 4)(images)[0], peer2(images), rtol=1e-5, atol=1e-6)
    ours.eval()
    torch.testing.assert_close(ours(x[:4])[0][2], (x[2] - ours.running_mean[2])
                               / (ours.running_var[2] + 1e-5).sqrt(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="num_steps >= 7"):
        ours(_x(7, 8, 5))
    with pytest.raises(ValueError, match="channels come after"):
        ours(_x(6, 8, 4))


# ----------------------------------------------------------------------------- dropout, Stateless
def test_sequence_dropout_shares_one_mask_over_time():
    drop = SequenceDropout(0.5, generator=torch.Generator().manual_seed(0))
    y, _ = drop(torch.ones(7, 64, 10))
    assert bool((y == y[0]).all())                      # the same mask at every step
    assert set(y.unique().tolist()) == {0.0, 2.0}       # kept units scaled by 1 / (1 - p)
    assert 0.35 < float((y[0] == 0).float().mean()) < 0.65
    drop.eval()
    assert torch.equal(drop(torch.ones(3, 2, 2))[0], torch.ones(3, 2, 2))


def test_stateless_in_torch_sequential():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(10, 20), Stateless(LIF.snntorch(beta=0.9)), nn.Linear(20, 3),
                        Stateless(LIF.snntorch(beta=0.9)))
    x = _x(12, 4, 10)
    spikes = net(x)
    ref = Sequential(net[0], net[1].module, net[2], net[3].module)(x)[0]
    assert spikes.shape == (12, 4, 3) and torch.equal(spikes, ref)
    streaming = nn.Sequential(Stateless(LIF.snntorch(beta=0.9), carry_state=True))
    chunks = torch.cat([streaming(x[:5]), streaming(x[5:])])  # continues across calls
    assert torch.equal(chunks, LIF.snntorch(beta=0.9)(x)[0])
    reset_states(streaming)
    assert torch.equal(streaming(x[:5]), chunks[:5])
    cells = nn.Sequential(Stateless(LIFCell.snntorch(beta=0.9), carry_state=True))  # step by step
    steps = torch.stack([cells(x_t) for x_t in x])
    assert torch.equal(steps, LIF.snntorch(beta=0.9)(x)[0])
    cells[0].detach()
    with pytest.raises(TypeError, match="plain torch layer"):
        Stateless(nn.ReLU())


# ----------------------------------------------------------------------------- traps
def test_two_dimensional_input_to_a_sequence_module_is_refused():
    lif = LIF()
    with pytest.raises(ValueError, match=r"\[T, B, \*features\].*unsqueeze\(0\).*LIFCell"):
        lif(torch.rand(32, 100))
    assert lif(torch.rand(5, 32, 1))[0].shape == (5, 32, 1)   # [T, B] sequences of scalars: unsqueeze
    assert LIFCell()(torch.rand(32, 100))[0].shape == (32, 100)


def test_learn_tau_with_beta_learns_nothing_unused():
    with pytest.raises(ValueError, match="learn_beta=True"):
        LIF(beta=0.9, learn_tau=True)
    with pytest.raises(ValueError, match="IFCell has no time constant"):
        IFCell(learn_tau=True)
    with pytest.raises(ValueError, match="none was given"):
        LIF(learn_beta=True)
    cuba = CubaLIF(4, beta=0.9, learn_tau=True)
    assert [name for name, _ in cuba.named_parameters()] == ["log_tau_syn"]
    lif = LIF(4, beta=0.9, learn_beta=True)
    x = _x(20, 3, 4)  # no input gradient: the only parameter must receive one
    lif(x)[0].sum().backward()
    assert lif.beta.grad is not None and lif.beta.grad.shape == (4,) and lif.beta.grad.abs().sum() > 0
    with torch.no_grad():
        lif.beta.fill_(1.3)  # learned decays are clamped to [0, 1] when used
    assert float(lif.parameters_physical.beta.detach().max()) == 1.0


def test_alpha_given_directly():
    x = _x(30, 2, 5)
    by_tau = CubaLIF(tau_syn=4e-3, tau_mem=10e-3, dt=1e-3)
    by_decay = CubaLIF(alpha=0.75, beta=0.9, dt=1e-3)
    assert torch.equal(by_tau(x)[0], by_decay(x)[0])
    with pytest.raises(ValueError, match="no synaptic current"):
        LIF(alpha=0.5)
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\]"):
        CubaLIF(alpha=1.5)
    assert "alpha=0.75" in repr(by_decay) and "tau_syn" not in repr(by_decay)


def test_alpha_survives_a_nir_round_trip():
    pytest.importorskip("nir")
    from neuro.nir import from_nir, to_nir

    net = Sequential(nn.Linear(4, 5), CubaLIF(5, alpha=0.7, beta=0.85, reset="zero", threshold_op=">"))
    x = _x(15, 2, 4)
    back = from_nir(to_nir(net, dt=1e-3), dt=1e-3)
    torch.testing.assert_close(back(x)[0], net(x)[0])


@dataclass(frozen=True)
class _Gaussian(Surrogate):
    """A user-defined surrogate: its derivative is Python only."""

    def derivative(self, z: torch.Tensor) -> torch.Tensor:
        return torch.exp(-z * z)


def test_user_surrogates_fail_at_construction_on_the_kernels():
    with pytest.raises(ValueError, match="user-defined surrogate.*built-in surrogates.*ATan.*Triangle"):
        LIF(surrogate=_Gaussian())
    with pytest.raises(ValueError, match="backend='numba'"):
        LIF(surrogate=_Gaussian(), backend="numba")
    from neuro.functional import LIF as MODEL
    from neuro.functional import make_config, neuron_scan

    with pytest.raises(ValueError, match="user-defined surrogate"):
        neuron_scan(MODEL, _x(4, 2, 3), cfg=make_config(MODEL, surrogate=_Gaussian()))
    x = _x(10, 2, 3).requires_grad_()
    out, _ = LIF(surrogate=_Gaussian(), backend="torch")(x)  # the reference path runs it
    out.sum().backward()
    assert x.grad.abs().sum() > 0
    assert LIFCell(surrogate=_Gaussian())(x[0])[0].shape == (2, 3)


def test_repr_shows_what_the_output_depends_on():
    text = repr(LIF.snntorch(beta=0.95))
    assert "beta=0.95" in text and "tau_mem" not in text
    assert "reset='subtract_delayed'" in text and "threshold_op='>'" in text and "ATan" in text
    learned = repr(LIF(tau_mem=0.02, learn_tau=True, learn_threshold=True))
    assert "tau_mem=0.02 (learned)" in learned and "v_th=1 (learned)" in learned
    assert "beta=<(3,)> (learned)" in repr(LIF(3, beta=0.9, learn_beta=True))
