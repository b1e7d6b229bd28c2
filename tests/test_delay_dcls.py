"""Equivalence of DelayLinear with DCLS 0.1.1 ``Dcls1d`` (gauss version), as used by SNN-delays."""

import pytest
import torch
import torch.nn.functional as F

from neuro.nn import DelayLinear

DCLS = pytest.importorskip("DCLS.construct.modules",
                           reason="dcls is a dev dependency (requirements-peers.txt)")


def _pair(I, O, K, KC, sigma, bias=False, seed=0, **kwargs):
    torch.manual_seed(seed)
    ref = DCLS.Dcls1d(I, O, kernel_count=KC, dilated_kernel_size=K, bias=bias, version="gauss")
    with torch.no_grad():
        ref.P.uniform_(-(K // 2), K // 2)
        ref.SIG.fill_(sigma)
    return ref, DelayLinear.from_dcls(ref, **kwargs)


def _dcls_forward(ref, x, K):
    """SNN-delays' use: [T, B, I] -> pad (K-1 left, (K-1)//2 right) -> Dcls1d -> [T', B, O]."""
    return ref(F.pad(x.permute(1, 2, 0), (K - 1, (K - 1) // 2))).permute(2, 0, 1)


def _rel(a, b):
    return float(((a - b).abs().max() / b.abs().max()).detach())


@pytest.mark.parametrize("sigma", [12.0, 2.0, 0.23, 0.0])
@pytest.mark.parametrize("method", ["sparse", "dense", "auto"])
def test_outputs_and_gradients_match_dcls(sigma, method):
    I, O, K, KC, T, B = 24, 10, 25, 1, 40, 6
    ref, ours = _pair(I, O, K, KC, sigma, method=method, backend="numba")
    x = (torch.rand(T, B, I) < 0.3).float().requires_grad_()
    y_ref = _dcls_forward(ref, x, K)
    y, state = ours(x)
    assert state is None and y.shape == y_ref.shape == (T + (K - 1) // 2, B, O)
    assert _rel(y, y_ref) <= 1e-5
    g = torch.randn_like(y_ref)
    grads_ref = torch.autograd.grad((y_ref * g).sum(), [x, ref.weight, ref.P])
    grads = torch.autograd.grad((y * g).sum(), [x, ours.weight, ours.position])
    for a, b, tol in zip(grads, grads_ref, (1e-5, 1e-5, 1e-4)):  # position: derivative of the tails
        assert _rel(a, b.reshape(a.shape)) <= tol


def test_several_elements_per_synapse_bias_and_learnable_sigma():
    I, O, K, KC, T, B = 9, 5, 13, 2, 20, 3
    ref, ours = _pair(I, O, K, KC, 0.7, bias=True, seed=1, method="sparse", learn_sigma=True)
    x = torch.randn(T, B, I, requires_grad=True)
    y_ref = _dcls_forward(ref, x, K)
    y, _ = ours(x)
    assert _rel(y, y_ref) <= 1e-5
    g = torch.randn_like(y)
    ga = torch.autograd.grad((y_ref * g).sum(), [ref.weight, ref.bias, ref.SIG])
    gb = torch.autograd.grad((y * g).sum(), [ours.weight, ours.bias, ours.sigma])
    assert _rel(gb[0], ga[0]) <= 1e-5 and _rel(gb[1], ga[1]) <= 1e-5
    # DCLS's SIG is per synapse; our scalar sigma receives the sum of its gradients
    assert abs(float(gb[2]) - float(ga[2].sum())) <= 1e-4 * float(ga[2].abs().sum())


def test_matches_dcls_on_the_cuda_kernels(cuda_device):
    I, O, K, T, B = 4, 3, 7, 6, 2
    ref, ours = _pair(I, O, K, 1, 0.3, method="sparse", backend="cuda")
    ref, ours = ref.to(cuda_device), ours.to(cuda_device)
    x = torch.randn(T, B, I, device=cuda_device, requires_grad=True)
    y_ref = _dcls_forward(ref, x, K)
    y, _ = ours(x)
    assert _rel(y, y_ref) <= 1e-5
    g = torch.randn_like(y)
    ga = torch.autograd.grad((y_ref * g).sum(), [x, ref.weight, ref.P])
    gb = torch.autograd.grad((y * g).sum(), [x, ours.weight, ours.position])
    for a, b, tol in zip(gb, ga, (1e-5, 1e-5, 1e-4)):
        assert _rel(a, b.reshape(a.shape)) <= tol
