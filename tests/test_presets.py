"""Peer presets: LIF.snntorch / CubaLIF.snntorch (snnTorch Leaky / Synaptic), LIF.norse /
CubaLIF.norse / LI.norse (Norse LIFBoxCell / LIFCell / LIBoxCell), LIF.spikingjelly / IF.spikingjelly
(SpikingJelly LIFNode / IFNode) give the peer's spikes exactly and its gradients (to rounding),
learned decays and thresholds included."""

import pytest
import torch

from neuro.nn import IF, LI, LIF, CubaLIF, LIFCell
from neuro.surrogate import ATan, FastSigmoid

BACKENDS = ["torch", "numba"]


def _drive(T=80, B=3, N=24, dtype=torch.float32, scale=0.5, offset=0.2, seed=1):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(T, B, N, generator=g) * scale + offset).to(dtype)


def _grads(fn, x, params=()):
    x = x.clone().requires_grad_()
    out = fn(x)
    w = torch.linspace(-1, 1, out.numel(), dtype=x.dtype).view_as(out)
    (out * w).sum().backward()
    return out.detach(), x.grad, [p.grad.clone() for p in params]


def _loop(cell, x, n_state):
    """Step a peer cell returning (spikes, *state) through the sequence."""
    state, spikes = None, []
    for x_t in x:
        out = cell(x_t) if state is None else cell(x_t, *state)
        spikes.append(out[0])
        state = out[1:1 + n_state]
    return torch.stack(spikes)


SNNTORCH_LEAKY = [("subtract", True), ("zero", True), ("zero", False), ("none", True)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("mechanism,delay", SNNTORCH_LEAKY)
def test_snntorch_leaky(backend, dtype, mechanism, delay):
    snn = pytest.importorskip("snntorch")
    x = _drive(dtype=dtype)
    peer = snn.Leaky(beta=0.9, threshold=0.8, reset_mechanism=mechanism, reset_delay=delay,
                     learn_beta=True, learn_threshold=True).to(dtype)
    ours = LIF.snntorch(beta=0.9, threshold=0.8, reset_mechanism=mechanism, reset_delay=delay,
                        learn_beta=True, learn_threshold=True, backend=backend).to(dtype)
    s_peer, g_peer, p_peer = _grads(lambda x: _loop(peer, x, 1), x, [peer.beta, peer.threshold])
    s_ours, g_ours, p_ours = _grads(lambda x: ours(x)[0], x, [ours.beta, ours.v_th])
    assert s_peer.sum() > 100 and torch.equal(s_ours, s_peer)
    if dtype == torch.float32:  # the same float32 operations: the same input gradient, bit for bit
        assert torch.equal(g_ours, g_peer)
    torch.testing.assert_close(g_ours, g_peer, rtol=1e-6, atol=1e-6)
    for ours_grad, peer_grad in zip(p_ours, p_peer):  # sums over neurons: rounding-level differences
        torch.testing.assert_close(ours_grad.reshape(peer_grad.shape), peer_grad, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mechanism,delay", [("subtract", True), ("zero", False), ("none", True)])
def test_snntorch_synaptic(mechanism, delay):
    snn = pytest.importorskip("snntorch")
    x = _drive(scale=0.3, offset=0.05)
    peer = snn.Synaptic(alpha=0.8, beta=0.9, reset_mechanism=mechanism, reset_delay=delay,
                        learn_alpha=True, learn_beta=True)
    ours = CubaLIF.snntorch(alpha=0.8, beta=0.9, reset_mechanism=mechanism, reset_delay=delay,
                            learn_alpha=True, learn_beta=True)
    s_peer, g_peer, p_peer = _grads(lambda x: _loop(peer, x, 2), x, [peer.alpha, peer.beta])
    s_ours, g_ours, p_ours = _grads(lambda x: ours(x)[0], x, [ours.alpha, ours.beta])
    assert s_peer.sum() > 100 and torch.equal(s_ours, s_peer)
    assert torch.equal(g_ours, g_peer)
    for ours_grad, peer_grad in zip(p_ours, p_peer):
        torch.testing.assert_close(ours_grad.reshape(peer_grad.shape), peer_grad, rtol=1e-5, atol=1e-5)


def test_snntorch_membrane_trace_and_cell():
    snn = pytest.importorskip("snntorch")
    x = _drive()
    leaky, mem, mems = snn.Leaky(beta=0.9), None, []
    for x_t in x:
        _, mem = leaky(x_t) if mem is None else leaky(x_t, mem)
        mems.append(mem)
    _, trace = LIF.snntorch(beta=0.9, record_states=True)(x)
    assert torch.equal(trace.v, torch.stack(mems))  # snnTorch's `mem`, step by step
    cell, state, spikes = LIFCell.snntorch(beta=0.9), None, []
    for x_t in x:
        s, state = cell(x_t, state)
        spikes.append(s)
    assert torch.equal(torch.stack(spikes), LIF.snntorch(beta=0.9)(x)[0])


def test_norse_presets():
    norse = pytest.importorskip("norse.torch")
    x = _drive(scale=3, offset=1.5)
    box = norse.LIFBoxCell()
    s_peer, g_peer, _ = _grads(lambda x: _loop(box, x, 1), x)
    s_ours, g_ours, _ = _grads(lambda x: LIF.norse()(x)[0], x)
    assert s_peer.sum() > 100 and torch.equal(s_ours, s_peer)
    torch.testing.assert_close(g_ours, g_peer, rtol=1e-5, atol=1e-6)
    x = _drive(scale=6, offset=4)
    layer = norse.LIF()  # current based, Norse's defaults
    s_peer, g_peer, _ = _grads(lambda x: layer(x)[0], x)
    s_ours, g_ours, _ = _grads(lambda x: CubaLIF.norse()(x)[0], x)
    assert s_peer.sum() > 100 and torch.equal(s_ours, s_peer)
    torch.testing.assert_close(g_ours, g_peer, rtol=1e-5, atol=1e-6)
    li = norse.LIBoxCell(p=norse.LIBoxParameters(tau_mem_inv=torch.tensor(50.0)))
    v_peer, state = [], None
    for x_t in x:
        v, state = li(x_t, state)
        v_peer.append(v)
    torch.testing.assert_close(LI.norse(tau_mem_inv=50.0)(x)[0], torch.stack(v_peer), rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("decay_input", [True, False])
@pytest.mark.parametrize("v_reset", [0.0, None, -0.2])
@pytest.mark.parametrize("detach_reset", [False, True])
def test_spikingjelly_lif(decay_input, v_reset, detach_reset):
    sj = pytest.importorskip("spikingjelly.activation_based.neuron")
    from spikingjelly.activation_based import functional

    x = _drive(scale=0.8, offset=0.4)
    node = sj.LIFNode(tau=3.0, decay_input=decay_input, v_reset=v_reset, detach_reset=detach_reset,
                      step_mode="m")

    def peer(x):
        functional.reset_net(node)
        return node(x)

    ours = LIF.spikingjelly(tau=3.0, decay_input=decay_input, v_reset=v_reset, detach_reset=detach_reset)
    s_peer, g_peer, _ = _grads(peer, x)
    s_ours, g_ours, _ = _grads(lambda x: ours(x)[0], x)
    assert s_peer.sum() > 30 and torch.equal(s_ours, s_peer)
    torch.testing.assert_close(g_ours, g_peer, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("v_reset", [0.0, None])
def test_spikingjelly_if_with_its_surrogate_object(v_reset):
    sj = pytest.importorskip("spikingjelly.activation_based.neuron")
    from spikingjelly.activation_based import functional, surrogate

    x = _drive(scale=0.8, offset=0.1)
    node = sj.IFNode(v_reset=v_reset, surrogate_function=surrogate.ATan(), step_mode="m")

    def peer(x):
        functional.reset_net(node)
        return node(x)

    ours = IF.spikingjelly(v_reset=v_reset, surrogate_function=surrogate.ATan())
    assert ours.cfg.surrogate == ATan(2.0)
    s_peer, g_peer, _ = _grads(peer, x)
    s_ours, g_ours, _ = _grads(lambda x: ours(x)[0], x)
    assert s_peer.sum() > 100 and torch.equal(s_ours, s_peer) and torch.equal(g_ours, g_peer)


def test_cuda_kernels_run_the_presets(cuda_device):
    x = _drive(B=2, N=12)  # 24 neurons x 80 steps: the CUDA simulator runs a Python thread per neuron
    spikes = []
    for make in (lambda b: LIF.snntorch(beta=0.9, backend=b), lambda b: LIF.spikingjelly(tau=3.0, backend=b),
                 lambda b: CubaLIF.snntorch(alpha=0.8, beta=0.9, backend=b)):
        ref = make("numba")(x)[0]
        out = make("cuda")(x.to(cuda_device))[0]
        assert torch.equal(out.cpu(), ref)
        spikes.append(int(ref.sum()))
    assert spikes[0] > 50 and spikes[2] > 50, spikes  # the snnTorch presets spike: their reset paths run


def test_presets_refuse_what_they_cannot_reproduce():
    with pytest.raises(ValueError, match="reset_delay=False"):
        LIF.snntorch(beta=0.9, reset_delay=False)
    with pytest.raises(ValueError, match="input included"):
        CubaLIF.snntorch(alpha=0.5, beta=0.9, reset_mechanism="zero")
    with pytest.raises(ValueError, match="reset_mechanism must be one of"):
        LIF.snntorch(beta=0.9, reset_mechanism="soft")
    with pytest.raises(ValueError, match="method='tanh'"):
        LIF.norse(method="tanh")
    with pytest.raises(TypeError, match="build the module directly"):
        LIF.snntorch(beta=0.9, threshold_op=">=")
    with pytest.raises(TypeError, match="neuro.surrogate equivalent"):
        LIF.snntorch(beta=0.9, spike_grad=lambda z: z)
    with pytest.raises(ValueError, match="tau must be > 1"):
        LIF.spikingjelly(tau=1.0)


def test_preset_values_are_stored_as_the_peer_stores_them():
    lif = LIF.snntorch(beta=0.95, threshold=0.3, shape=4)
    p = lif.parameters_physical
    assert p.beta == float(torch.tensor(0.95)) and p.v_th == float(torch.tensor(0.3))
    assert lif.shape == (4,) and lif.cfg.reset == "subtract_delayed" and not lif.cfg.ge
    assert LIF.norse().cfg.surrogate == FastSigmoid(1.0)
