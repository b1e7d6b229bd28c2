"""The alpha-synapse LIF (snnTorch's ``Alpha``): spikes, membranes and gradients equal to snnTorch's
for every reset mechanism, kernels against the reference, CPU against CUDA, float64 gradcheck."""

from __future__ import annotations

import pytest
import torch

from neuro.functional.alpha import SPEC, AlphaLIFState, alpha_lif_scan
from neuro.kernels import alpha_math
from neuro.nn import AlphaLIF
from neuro.ops.spec import SpecConfig
from spec_cases import run, smooth_outputs, table


def _snntorch_run(x, alpha, beta, reset):
    snn = pytest.importorskip("snntorch")
    ref = snn.Alpha(alpha=alpha, beta=beta, reset_mechanism=reset)
    xr = x.clone().requires_grad_()
    spk, mem = [], []
    for x_t in xr:
        s, _, _, m = ref(x_t)
        spk.append(s)
        mem.append(m)
    S, M = torch.stack(spk), torch.stack(mem)
    (S * torch.linspace(0.1, 1, x.shape[-1])).sum().backward()
    return S.detach(), M.detach(), xr.grad


@pytest.mark.parametrize("reset", ["zero", "subtract", "none"])
@pytest.mark.parametrize("backend", ["torch", "numba"])
def test_equals_snntorch(reset, backend):
    x = torch.randn(60, 4, 16) * 0.8
    s_ref, m_ref, g_ref = _snntorch_run(x, 0.9, 0.8, reset)
    layer = AlphaLIF.snntorch(0.9, 0.8, reset_mechanism=reset, backend=backend, record_states=True)
    xo = x.clone().requires_grad_()
    s, trace = layer(xo)
    (s * torch.linspace(0.1, 1, 16)).sum().backward()
    assert s_ref.sum() > 50
    assert torch.equal(s, s_ref) and torch.equal(trace.v, m_ref)
    torch.testing.assert_close(xo.grad, g_ref, rtol=1e-5, atol=1e-6)  # autograd's sums vs the kernel's


def test_equals_snntorch_on_cuda(cuda_device):
    x = torch.randn(20, 2, 6) * 0.8
    s_ref, m_ref, g_ref = _snntorch_run(x, 0.85, 0.6, "subtract")
    layer = AlphaLIF.snntorch(0.85, 0.6, reset_mechanism="subtract", backend="cuda", record_states=True)
    xo = x.clone().to(cuda_device).requires_grad_()
    s, trace = layer.to(cuda_device)(xo)
    (s * torch.linspace(0.1, 1, 6, device=cuda_device)).sum().backward()
    assert torch.equal(s.cpu(), s_ref) and torch.equal(trace.v.cpu(), m_ref)
    torch.testing.assert_close(xo.grad.cpu(), g_ref, rtol=1e-5, atol=1e-6)


def test_kernels_equal_reference_float64():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(80, 12, dtype=torch.float64, generator=gen)
    values = {"alpha": 0.9, "beta": 0.7, **alpha_math.reset_factors("subtract")}
    prm = table(SPEC, values, 6, torch.float64, gen, jitter=0.05)
    y0 = torch.zeros(3, 12, dtype=torch.float64)
    cfg = SpecConfig(ge=False)
    (ref, gref), (ker, gker) = run(SPEC, x, prm, y0, cfg, "torch"), run(SPEC, x, prm, y0, cfg, "numba")
    assert ref[0].sum() > 20
    for a, b in zip(ref, ker):
        assert torch.equal(a, b)
    for a, b in zip(gref, gker):
        torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-10)


def test_gradcheck():
    """float64 gradcheck on the CPU kernels (the CUDA kernels run the same generated code and are
    checked equal to them; ``test_spec_neuron`` gradchecks the CUDA backend)."""
    backend, device = "numba", "cpu"
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(10, 4, dtype=torch.float64, generator=gen) * 1.5
    prm = table(SPEC, {"alpha": 0.9, "beta": 0.7, **alpha_math.reset_factors("zero")}, 4, torch.float64, gen)
    y0 = torch.rand(3, 4, dtype=torch.float64, generator=gen) * 0.3
    inputs = [t.to(device).requires_grad_() for t in (x, prm, y0)]
    # the reset is detached in the model itself (snnTorch's); the spike output is left out
    assert torch.autograd.gradcheck(smooth_outputs(SPEC, SpecConfig(ge=False), backend), inputs, eps=1e-6,
                                    atol=1e-7, rtol=1e-5)


def test_module_and_functional():
    layer = AlphaLIF(8, tau_decay=10e-3, tau_rise=3e-3, learn=True)
    s, st = layer(torch.rand(30, 2, 8) * 2)
    assert isinstance(st, AlphaLIFState) and set(layer._parameters) == {"alpha", "beta", "v_th"}
    (s.sum() + st.v.sum()).backward()
    assert layer.alpha.grad.abs().sum() > 0
    assert "reset='zero'" in repr(layer) and "zero=" not in repr(layer)
    s2, _ = alpha_lif_scan(torch.rand(30, 2, 8) * 2, alpha=0.9, beta=0.8, reset="none")
    assert s2.shape == (30, 2, 8)
    with pytest.raises(ValueError, match="0 < beta < alpha"):
        AlphaLIF(alpha=0.5, beta=0.8)
    with pytest.raises(ValueError, match="reset must be one of"):
        AlphaLIF(reset="soft")
