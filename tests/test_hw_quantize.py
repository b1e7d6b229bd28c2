"""Quantisation of trained float networks to Loihi fixed point, and float-vs-emulator agreement.

A small spiking MLP is trained here on scikit-learn's 8x8 digits (rate-coded spikes) and quantised
to 8-bit weights; the test asserts loose bounds (accuracy loss <= 3 points, decision agreement
>= 95 %, no overflow) and the issue's figures for the demo CSNN are produced by
``benchmarks/hw_quantization.py`` (results in ``benchmarks/results/``). Convolutions and pooling are
checked through their unrolled synapse matrices.
"""

import numpy as np
import pytest
import torch
from torch import nn

from neuro.hw import emulate, plot, quantize, quantize_and_compare, read_image, write_image
from neuro.hw.quantize import affine_map, float_outputs, readout
from neuro.models.classifiers import conv_snn
from neuro.nn import LI, LIF, CubaLIF, Sequential, SumPool2d

LIF_OPTS = dict(reset="zero", threshold_op=">", surrogate="fast_sigmoid")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def digits():
    datasets = pytest.importorskip("sklearn.datasets")
    x, y = datasets.load_digits(return_X_y=True)
    gen = torch.Generator().manual_seed(0)
    spikes = (torch.rand(8, *x.shape, generator=gen) < torch.tensor(x / 16.0)).float()  # [T, N, 64]
    return spikes, torch.tensor(y)


def _train(net, spikes, y, epochs=4, batch=100):
    torch.manual_seed(0)
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    for _ in range(epochs):
        perm = torch.randperm(y.shape[0])
        for k in range(0, y.shape[0], batch):
            idx = perm[k:k + batch]
            out, _ = net(spikes[:, idx])
            loss = nn.functional.cross_entropy(out.sum(0), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net


def test_quantized_mlp_agrees_with_float(digits, tmp_path):
    spikes, y = digits
    torch.manual_seed(0)
    net = Sequential(nn.Linear(64, 48), LIF(tau_mem=20e-3, **LIF_OPTS),
                     nn.Linear(48, 10), LIF(tau_mem=20e-3, **LIF_OPTS))
    _train(net, spikes[:, :1300], y[:1300])
    network, report = quantize_and_compare(net, spikes[:, :200], spikes[:, 1300:], y[1300:])
    assert report.float_accuracy > 0.75  # the float model learned the task
    assert report.float_accuracy - report.int_accuracy <= 0.03
    assert report.agreement >= 0.95
    assert report.overflow_events == 0
    assert report.synops_per_inference[0] > 0 and sum(report.int_spikes_per_inference) > 0
    layer = network.layers[0]
    assert np.abs(layer.weight_mantissa).max() <= 127 and layer.decay_u.tolist()[0] == 4095
    # the image holds everything needed to run it again, bit for bit
    path = write_image(network, tmp_path / "mlp.h5", report.resources)
    back, resources = read_image(path)
    test = spikes[:, 1300:1400]
    a, b = emulate(network, test), emulate(back, test)
    assert all(np.array_equal(p, q) for p, q in zip(a.spikes, b.spikes))
    assert resources["total"]["synops_per_inference"] == pytest.approx(sum(report.synops_per_inference))
    plot(report, tmp_path / "spikes.png")
    assert (tmp_path / "spikes.png").stat().st_size > 1000


def test_fewer_bits_cost_agreement(digits):
    spikes, y = digits
    torch.manual_seed(1)
    net = _train(Sequential(nn.Linear(64, 32), LIF(tau_mem=20e-3, **LIF_OPTS),
                            nn.Linear(32, 10), LIF(tau_mem=20e-3, **LIF_OPTS)),
                 spikes[:, :600], y[:600], epochs=3)
    test = spikes[:, 1300:1500], y[1300:1500]
    _, eight = quantize_and_compare(net, spikes[:, :100], *test, weight_bits=8)
    _, three = quantize_and_compare(net, spikes[:, :100], *test, weight_bits=3)
    assert eight.agreement > three.agreement


def test_affine_map_unrolls_convolution_and_pooling():
    torch.manual_seed(0)
    chain = [nn.Conv2d(2, 3, 3, padding=1, stride=1), nn.ReLU()][:1] + [SumPool2d(2), nn.AvgPool2d(2),
                                                                      nn.Flatten()]
    m, b, out_shape = affine_map(chain, (2, 8, 8))
    x = torch.randn(5, 2, 8, 8, dtype=torch.float64)
    want = x
    for layer in chain:
        want = layer.double()(want)
    got = x.reshape(5, -1).numpy() @ m.T + b
    np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-12, atol=1e-12)
    assert out_shape == (3 * 2 * 2,) and m.shape == (12, 128)


def test_conv_network_and_readout_quantization(digits):
    spikes, y = digits
    torch.manual_seed(0)
    x = spikes[:, :64].reshape(8, 64, 1, 8, 8)
    net = Sequential(nn.Conv2d(1, 4, 3, padding=1), LIF(tau_mem=10e-3, **LIF_OPTS), SumPool2d(2),
                     nn.Flatten(), nn.Linear(64, 10), CubaLIF(tau_mem=20e-3, tau_syn=5e-3, **LIF_OPTS),
                     nn.Linear(10, 10, bias=False), LI(tau_mem=20e-3))
    with torch.no_grad():
        net[0].layer.weight.mul_(3)
        net[4].layer.weight.mul_(4)
    with pytest.warns(RuntimeWarning, match="constant input current of a CubaLIF"):
        network = quantize(net, x, weight_bits=8)
    res = emulate(network, x, record_v=True)
    run = float_outputs(net, x)
    floats = run.outputs
    assert not run.spiking and network.layers[-1].reset == "none"
    assert res.counts[:, 0].sum() > 100
    mismatch = np.mean(res.spikes[0] != floats[0])
    assert mismatch < 0.02  # first layer: 8-bit weights, exact input
    readout = res.v[-1].sum(0) / network.layers[-1].scale
    float_readout = floats[-1].sum(0)
    corr = np.corrcoef(readout.reshape(-1), float_readout.reshape(-1))[0, 1]
    assert corr > 0.9


def test_quantize_rejects_what_the_chip_cannot_run():
    x = torch.zeros(4, 2, 3)
    with pytest.raises(TypeError, match="neuro.nn.Sequential"):
        quantize(nn.Linear(3, 3), x)
    with pytest.raises(ValueError, match="must end with a neuron"):
        quantize(Sequential(nn.Linear(3, 3), LIF(**LIF_OPTS), nn.Linear(3, 2)), x)
    with pytest.raises(ValueError, match=r"layer 1 \(GRU\) cannot be quantised"):
        quantize(Sequential(nn.Linear(3, 3), nn.GRU(3, 3), LIF(**LIF_OPTS)), x)
    with pytest.raises(ValueError, match="subtract_delayed"):
        quantize(Sequential(nn.Linear(3, 3), LIF(reset="subtract_delayed")), x)


def test_readout_decisions_follow_the_training_losses():
    out = np.zeros((3, 1, 3))
    out[:, 0, 0] = [0, 0, 5]    # highest maximum, but late
    out[:, 0, 1] = [3, 3, 0]    # highest sum
    out[:, 0, 2] = [-9, 0, 4.5]  # ... and a last step below class 0's
    assert readout(out, False, decision="sum").tolist() == [1]
    assert readout(out, False, decision="max").tolist() == [0]
    assert readout(out * 7, False, 7.0, "last").tolist() == [0]
    with pytest.raises(ValueError, match="decision must be one of"):
        readout(out, False, decision="mean")
    with pytest.raises(ValueError, match="spiking readout is decided by its spike counts"):
        readout(out, True, decision="max")


def test_batch_norm_csnn_is_folded_and_quantized(digits):
    """The demo's CSNN (Conv -> BatchNorm -> LIF -> AvgPool, LI readout): BatchNorm is folded."""
    spikes, _ = digits
    x = spikes[:, :64].reshape(8, 64, 1, 8, 8)
    torch.manual_seed(0)
    net = conv_snn((1, 8, 8), 10, dt=1e-3, channels=(4,), backend="numba")
    bn = net[1].layer
    assert isinstance(bn, nn.BatchNorm2d)
    with torch.no_grad():  # non-trivial running statistics and affine parameters
        bn.running_mean.uniform_(-0.2, 0.2)
        bn.running_var.uniform_(0.05, 0.2)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.1, 0.1)
    net.eval()
    with torch.no_grad():
        want, _ = net(x)
    run = float_outputs(net, x)  # stage by stage on the folded network
    np.testing.assert_allclose(run.outputs[-1], want.double().numpy(), rtol=1e-4, atol=1e-5)
    network, report = quantize_and_compare(net, x, x, np.zeros(64, int), decision="max")
    assert len(network.layers) == 2 and network.layers[-1].reset == "none"
    assert report.int_spikes_per_inference[0] > 10 and report.overflow_events == 0
    assert report.agreement >= 0.9
