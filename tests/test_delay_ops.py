"""Sparse-tap delay kernels against the dense torch oracle (dense kernel + conv1d), and gradchecks."""

import numpy as np
import pytest
import torch

from neuro.kernels import delay_math
from neuro.ops import delay as D


def _params(O, I, KC, K, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(O, I, KC, generator=g, dtype=dtype)
    p = (torch.rand(O, I, KC, generator=g, dtype=dtype) * 2 - 1) * (K // 2)
    return w, p


def test_window_drops_at_most_the_tolerance_of_every_gaussian():
    """The window keeps all but <= 5e-6 of each normalised Gaussian, checked on a real kernel."""
    K = 61
    n = np.arange(K)
    expected = {0.27: 3, 0.5: 5, 1.0: 10}  # sigma_e -> taps (0.5 = the recipe's end of training)
    for sigma_eff in (0.27, 0.3, 0.4, 0.5, 0.75, 1.0, 1.7, 3.0, 6.0):
        W = delay_math.window_size(sigma_eff, K)
        assert W == expected.get(sigma_eff, W) and W <= 10 * sigma_eff + 1
        for q in np.linspace(25, 26, 41):
            g = np.exp(-0.5 * ((n - q) / sigma_eff) ** 2)
            start = int(np.clip(np.round(q - (W - 1) / 2), 0, K - W))  # as gaussian_taps
            kept = g[start:start + W].sum()
            assert 1 - kept / g.sum() <= delay_math.TOLERANCE
    assert delay_math.window_size(12.27, 25) == 25  # wide Gaussian: the whole kernel


def test_gaussian_taps_match_the_dense_kernel():
    """Per synapse, the L1 distance to the dense kernel is at most 2 * tolerance * sum |w|."""
    O, I, KC, K = 5, 7, 2, 25
    w, p = _params(O, I, KC, K)
    conn = D.dense_connectivity(I, O)
    for sigma in (0.0, 0.23, 1.0, 3.0, 12.0):
        dense = D.gaussian_kernel(w, p, sigma, K)
        taps = D.gaussian_taps(w, p, sigma, K)
        approx = D.taps_to_kernel(taps.coef, taps.delays, conn, taps.r_per_syn, K - 1)
        bound = 2 * delay_math.TOLERANCE * w.abs().sum(-1) + 1e-12
        assert ((approx - dense).abs().sum(-1) <= bound).all()
        # kernel rows sum to the element weights (normalisation), as in DCLS
        torch.testing.assert_close(dense.sum(-1), w.sum(-1), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("B,extra,KC", [(3, 4, 1), (8, 0, 2), (10, 12, 1)])
def test_numba_taps_equal_the_oracle(B, extra, KC):
    O, I, K, T = 6, 5, 9, 13
    w, p = _params(O, I, KC, K, seed=B)
    x = torch.randn(T, B, I, dtype=torch.float64)
    conn = D.dense_connectivity(I, O)
    for taps in (D.gaussian_taps(w, p, 0.4, K), D.rounded_taps(w, p, K)):
        y = D.delay_taps(x, taps, conn, K - 1, extra, backend="numba")
        ref = D.delay_taps_reference(x, taps, conn, K - 1, extra)
        assert y.shape == (T + extra, B, O)
        torch.testing.assert_close(y, ref, rtol=1e-12, atol=1e-12)


def test_numba_taps_float32_parallel_path():
    """A problem large enough for the threaded kernels, in float32."""
    O, I, K, T, B = 40, 60, 25, 50, 16
    w, p = _params(O, I, 1, K, dtype=torch.float32)
    x = (torch.rand(T, B, I) < 0.2).float().requires_grad_()
    conn = D.dense_connectivity(I, O)
    base = D.gaussian_taps(w, p, 0.23, K)
    coef = base.coef.detach().requires_grad_()
    taps = D.Taps(coef, base.delays, base.r_per_syn)
    g = torch.randn(T + 12, B, O)
    out = []
    for backend in ("numba", "torch"):
        x.grad = coef.grad = None
        y = D.delay_taps(x, taps, conn, K - 1, 12, backend=backend)
        (y * g).sum().backward()
        out.append((y.detach(), x.grad.clone(), coef.grad.clone()))
    for a, b in zip(*out):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4 * float(b.abs().max()))


def test_history_and_one_to_one_connectivity_equal_the_oracle():
    C, D_max, T, B = 4, 6, 9, 3
    delays = torch.tensor([[0], [6], [2], [5]], dtype=torch.int32)
    taps = D.Taps(torch.ones(C, 1, dtype=torch.float64), delays, 1)
    conn = D.one_to_one_connectivity(C)
    x = torch.randn(T, B, C, dtype=torch.float64)
    for history in (0, 2, D_max):
        y = D.delay_taps(x, taps, conn, D_max, 0, backend="numba", history=history)
        ref = D.delay_taps_reference(x, taps, conn, D_max, 0, history)
        assert y.shape == (T - history, B, C)
        torch.testing.assert_close(y, ref)
    # a delay per neuron is a shift of each channel
    y = D.delay_taps(x, taps, conn, D_max, 0, backend="numba")
    for c, d in enumerate(delays[:, 0].tolist()):
        torch.testing.assert_close(y[d:, :, c], x[:T - d, :, c])
        assert (y[:d, :, c] == 0).all()


def test_event_driven_inference_equals_the_oracle():
    """Sparse input without gradients takes the scatter kernel; it equals the gather path and oracle."""
    O, I, K, T, B = 7, 40, 9, 30, 5
    w, p = _params(O, I, 2, K)
    x = torch.randn(T, B, I, dtype=torch.float64) * (torch.rand(T, B, I) < 0.005)
    assert 0 < float(torch.count_nonzero(x)) / x.numel() <= D.EVENT_DENSITY
    dense, diag = D.dense_connectivity(I, O), D.one_to_one_connectivity(I)
    shift = D.Taps(torch.ones(I, 1, dtype=torch.float64), torch.randint(0, K, (I, 1), dtype=torch.int32), 1)
    for taps, conn in ((D.rounded_taps(w, p, K), dense), (D.gaussian_taps(w, p, 0.5, K), dense),
                       (shift, diag)):
        for history, extra in ((0, 4), (3, 0)):
            ref = D.delay_taps_reference(x, taps, conn, K - 1, extra, history)
            with torch.no_grad():
                y = D.delay_taps(x, taps, conn, K - 1, extra, backend="numba", history=history)
            torch.testing.assert_close(y, ref)
            y_grad = D.delay_taps(x.requires_grad_(), taps, conn, K - 1, extra, backend="numba",
                                  history=history)  # gather path: the autograd op
            x.requires_grad_(False)
            torch.testing.assert_close(y_grad.detach(), ref)


def test_gradcheck_tap_function_numba():
    O, I, K, T, B = 3, 4, 5, 6, 2
    w, p = _params(O, I, 2, K)
    taps = D.gaussian_taps(w, p, 0.5, K)
    conn = D.dense_connectivity(I, O)
    x = torch.randn(T, B, I, dtype=torch.float64, requires_grad=True)
    coef = taps.coef.detach().clone().requires_grad_()

    def f(x, coef):
        return D.DelayTapsFunction.apply(x, coef, taps.delays, conn, K - 1, 1, 2, taps.r_per_syn, "numba")

    assert torch.autograd.gradcheck(f, (x, coef))


@pytest.mark.parametrize("sigma", [4.0, 0.6])
def test_gradcheck_weights_positions_sigma_through_the_kernels(sigma):
    """Full window (sigma 4 with K=7) and truncated window (sigma 0.6): weight, position, sigma."""
    O, I, K, T, B = 2, 3, 7, 6, 2
    w, p = _params(O, I, 1, K, seed=3)
    p = p.round() + 0.3  # away from the window edges, where dropped taps make the map non-smooth
    x = torch.randn(T, B, I, dtype=torch.float64)
    conn = D.dense_connectivity(I, O)
    s = torch.tensor(sigma, dtype=torch.float64, requires_grad=True)
    args = (w.requires_grad_(), p.requires_grad_(), s)

    def f(w, p, s):
        return D.delay_taps(x, D.gaussian_taps(w, p, s, K, backend="numba"), conn, K - 1, 3,
                            backend="numba")

    assert torch.autograd.gradcheck(f, args)


@pytest.mark.parametrize("sigma_shape", [(), (4, 3, 2)])
def test_gaussian_tap_kernels_equal_the_torch_taps(sigma_shape):
    """Window, coefficients and gradients (weight, position, sigma) of the tap-construction kernels."""
    O, I, KC, K = 4, 3, 2, 15
    w, p = _params(O, I, KC, K, seed=5)
    sigma = (torch.rand(sigma_shape, dtype=torch.float64) + 0.1).requires_grad_()
    w.requires_grad_()
    p.requires_grad_()
    ref = D.gaussian_taps(w, p, sigma, K, backend="torch")
    got = D.gaussian_taps(w, p, sigma, K, backend="numba")
    assert got.r_per_syn == ref.r_per_syn and torch.equal(got.delays, ref.delays)
    torch.testing.assert_close(got.coef, ref.coef)
    g = torch.randn_like(ref.coef)
    for a, b in zip(torch.autograd.grad((got.coef * g).sum(), (w, p, sigma)),
                    torch.autograd.grad((ref.coef * g).sum(), (w, p, sigma))):
        torch.testing.assert_close(a, b)
    assert torch.autograd.gradcheck(lambda w, p, s: D.gaussian_taps(w, p, s, K, backend="numba").coef,
                                    (w, p, sigma))


def test_cuda_kernels_on_the_simulator_equal_the_oracle(cuda_device):
    O, I, K, T, B = 2, 3, 5, 5, 2
    w, p = _params(O, I, 1, K)
    w, p = w.to(cuda_device), p.to(cuda_device)
    conn = D.dense_connectivity(I, O, torch.device(cuda_device))
    x = torch.randn(T, B, I, dtype=torch.float64, device=cuda_device, requires_grad=True)
    base = D.gaussian_taps(w, p, 0.3, K)
    cuda_taps = D.gaussian_taps(w, p, 0.3, K, backend="cuda")  # the tap-construction kernel
    torch.testing.assert_close(cuda_taps.coef, base.coef)
    assert torch.equal(cuda_taps.delays, base.delays)
    coef = base.coef.detach().requires_grad_()
    taps = D.Taps(coef, base.delays, base.r_per_syn)
    g = torch.randn(T + 2, B, O, dtype=torch.float64, device=cuda_device)
    out = []
    for backend in ("cuda", "torch"):
        x.grad = coef.grad = None
        y = D.delay_taps(x, taps, conn, K - 1, 2, backend=backend)
        (y * g).sum().backward()
        out.append((y.detach(), x.grad.clone(), coef.grad.clone()))
    for a, b in zip(*out):
        torch.testing.assert_close(a, b)


def test_rounded_taps_equal_the_dense_oracle_at_sigma_zero():
    """Integer-delay inference kernel == DCLS's evaluation kernel (triangle, sigma 0, rounded P)."""
    from DCLS.construct.modules import Dcls1d

    O, I, KC, K, T, B = 6, 5, 2, 11, 20, 4
    w, p = _params(O, I, KC, K, dtype=torch.float32)
    x = (torch.rand(T, B, I) < 0.3).float()
    extra = (K - 1) // 2
    y = D.delay_taps(x, D.rounded_taps(w, p, K), D.dense_connectivity(I, O), K - 1, extra,
                     backend="numba")
    oracle = D.conv_reference(x, D.triangle_kernel(w, p.round(), 0.0, K), extra)
    torch.testing.assert_close(y, oracle, rtol=1e-6, atol=1e-6)
    dcls = Dcls1d(I, O, kernel_count=KC, dilated_kernel_size=K, bias=False, version="max")
    with torch.no_grad():
        dcls.weight.copy_(w)
        dcls.P.copy_(p.round()[None])
        dcls.SIG.zero_()
        ref = dcls(torch.nn.functional.pad(x.permute(1, 2, 0), (K - 1, extra))).permute(2, 0, 1)
    torch.testing.assert_close(y, ref, rtol=1e-6, atol=1e-6)


def test_choose_method_by_cost():
    assert D.choose_method(1, 25, "numba") == "sparse"
    assert D.choose_method(5, 25, "numba") == "sparse"  # sigma 0.23 at the end of training
    assert D.choose_method(25, 25, "numba") == "dense"  # sigma 12 at the start
    assert D.choose_method(1, 25, "torch") == "dense"
    w = torch.zeros(2, 3, 1)
    assert D.gaussian_window(12.0, w, 25) == 25
    assert D.gaussian_window(0.23, w, 25) == 5
    assert D.gaussian_window(0.23, w, 250) == 5


def test_layout_round_trip():
    x = torch.randn(7, 11, 3)
    for bc in (1, 4, 8):
        xb = D.to_blocks(x, bc, 2, 1)
        assert xb.shape == (-(-11 // bc), 3, (2 + 7 + 1) * bc)
        back = D.from_blocks(xb, 11, bc)
        torch.testing.assert_close(back[2:9], x)
        assert (back[:2] == 0).all() and (back[9:] == 0).all()
