"""Identical spikes (and matching surrogate gradients) against SpikingJelly, snnTorch and Norse.

Mappings (see ../shared/anchors.md): SpikingJelly ``LIFNode(tau, decay_input=False)`` is our LIF with
``beta = 1 - 1/tau``, ``>=``; snnTorch ``Leaky`` zero reset is our zero reset with ``>`` and a detached
reset, its default subtract reset is our ``"subtract_delayed"``; Norse ``LIFBoxCell`` / ``LIF`` with
``tau_syn_inv = 1/dt`` is our Euler LIF with ``decay_input=True`` and ``>``. SpikingJelly computes
``v - v/tau`` where we compute ``beta * v``, so it is compared in float64 (no rounding ties);
snnTorch performs our exact operations, so it is compared in float32 too.
"""

import pytest
import torch

from neuro.nn import LIF
from neuro.surrogate import ATan, FastSigmoid

BACKENDS = ["torch", "numba"]


def _drive(T=200, B=4, N=64, dtype=torch.float64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(T, B, N, dtype=dtype, generator=gen) * 0.4 + 0.15


def _grad(fn, x):
    x = x.clone().requires_grad_()
    out = fn(x)
    w = torch.linspace(-1, 1, out.numel(), dtype=x.dtype).view_as(out)
    (out * w).sum().backward()
    return out.detach(), x.grad


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("v_reset", [None, 0.0])
def test_spikingjelly_lifnode(backend, v_reset):
    sj = pytest.importorskip("spikingjelly.activation_based.neuron")
    from spikingjelly.activation_based import functional, surrogate

    tau = 3.0
    x = _drive()

    def peer(x):
        node = sj.LIFNode(tau=tau, decay_input=False, v_reset=v_reset,
                          surrogate_function=surrogate.ATan(alpha=2.0), step_mode="m")
        functional.reset_net(node)
        return node(x)

    ours = LIF(beta=1 - 1 / tau, reset="subtract" if v_reset is None else "zero", v_reset=0.0,
               threshold_op=">=", surrogate=ATan(2.0), backend=backend)
    s_peer, g_peer = _grad(peer, x)
    s_ours, g_ours = _grad(lambda x: ours(x)[0], x)
    assert s_peer.sum() > 100
    assert torch.equal(s_ours, s_peer)
    torch.testing.assert_close(g_ours, g_peer, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("mechanism", ["zero", "subtract"])
def test_snntorch_leaky(backend, dtype, mechanism):
    snn = pytest.importorskip("snntorch")
    beta = 0.9
    x = _drive(dtype=dtype)

    def peer(x):
        leaky = snn.Leaky(beta=beta, reset_mechanism=mechanism,
                          spike_grad=snn.surrogate.atan(alpha=2.0)).to(dtype)
        mem = torch.zeros_like(x[0])
        spikes = []
        for x_t in x.unbind(0):
            spk, mem = leaky(x_t, mem)
            spikes.append(spk)
        return torch.stack(spikes)

    reset = "zero" if mechanism == "zero" else "subtract_delayed"
    # snnTorch stores beta (and casts spikes) in float32 even after .to(float64)
    beta32 = float(torch.tensor(beta, dtype=torch.float32))
    ours = LIF(beta=beta32, reset=reset, threshold_op=">", detach_reset=True, surrogate=ATan(2.0),
               backend=backend)
    s_peer, g_peer = _grad(peer, x)
    s_ours, g_ours = _grad(lambda x: ours(x.to(dtype))[0], x)
    assert s_peer.sum() > 100
    assert torch.equal(s_ours, s_peer)
    tol = 1e-6 if dtype == torch.float64 else 1e-4
    torch.testing.assert_close(g_ours, g_peer, rtol=tol, atol=tol)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("peer_kind", ["LIFBoxCell", "LIF"])
def test_norse_lif(backend, peer_kind):
    norse = pytest.importorskip("norse.torch")
    dt, tau = 1e-3, 10e-3
    x = _drive() * 8

    def f64(value):
        return torch.tensor(value, dtype=torch.float64)

    def peer(x):
        if peer_kind == "LIFBoxCell":
            cell = norse.LIFBoxCell(norse.LIFBoxParameters(tau_mem_inv=f64(1 / tau), v_reset=f64(0.0),
                                                           method="super", alpha=f64(100.0)),
                                    dt=dt)
            state, spikes = None, []
            for x_t in x.unbind(0):
                z, state = cell(x_t, state)
                spikes.append(z)
            return torch.stack(spikes)
        layer = norse.LIF(norse.LIFParameters(tau_mem_inv=f64(1 / tau), tau_syn_inv=f64(1 / dt),
                                              v_leak=f64(0.0), v_th=f64(1.0), v_reset=f64(0.0),
                                              method="super", alpha=f64(100.0)), dt=dt)
        return layer(x)[0]

    # Norse 1.1.0's SuperSpike backward ignores its alpha: it is 1 / (|z| + 1)^2, our FastSigmoid(1)
    ours = LIF(tau_mem=tau, dt=dt, decay_input=True, reset="zero", threshold_op=">",
               surrogate=FastSigmoid(1.0), backend=backend)
    s_peer, g_peer = _grad(peer, x)
    s_ours, g_ours = _grad(lambda x: ours(x)[0], x)
    assert s_peer.sum() > 100
    assert torch.equal(s_ours, s_peer)
    torch.testing.assert_close(g_ours, g_peer, rtol=1e-8, atol=1e-10)
