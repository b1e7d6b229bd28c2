"""The surrogates added for issue 19 (SpikingJelly's PiecewiseQuadratic, Erf, LeakyKReLU, SoftSign,
and a Gaussian): the torch formulas against SpikingJelly's own backward, and the fused kernels
(LIF family and the spec models) evaluating each kind as the torch reference does."""

from __future__ import annotations

import math

import pytest
import torch

from neuro import surrogate as S
from neuro.ops.lif import LIFConfig, lif_scan
from neuro.ops.spec import SpecConfig
from spec_cases import QIF, run, table

NEW = [S.PiecewiseQuadratic(1.5), S.Erf(2.0), S.Gaussian(0.4), S.LeakyReLU(k=1.0, leak=0.1), S.SoftSign(2.0)]


def _sj_derivative(fn, z: torch.Tensor) -> torch.Tensor:
    zz = z.clone().requires_grad_()
    fn(zz).sum().backward()
    return zz.grad


@pytest.mark.parametrize("name,ours,args", [("PiecewiseQuadratic", S.PiecewiseQuadratic, {"alpha": 1.5}),
                                            ("Erf", S.Erf, {"alpha": 2.0}),
                                            ("LeakyKReLU", S.LeakyReLU, {"leak": 0.1, "k": 0.8}),
                                            ("SoftSign", S.SoftSign, {"alpha": 2.0})])
def test_equals_spikingjelly(name, ours, args):
    sg = pytest.importorskip("spikingjelly.activation_based.surrogate")
    z = torch.linspace(-2, 2, 4001, dtype=torch.float64)
    theirs = _sj_derivative(getattr(sg, name)(**args), z)
    mine = ours(**args).derivative(z)
    if name == "LeakyKReLU":
        assert torch.equal(mine, theirs)
    else:  # the same function, its operations ordered differently
        torch.testing.assert_close(mine, theirs, rtol=1e-12, atol=1e-12)


def test_gaussian_is_a_normal_density():
    g = S.Gaussian(0.4)
    z = torch.linspace(-4, 4, 80001, dtype=torch.float64)
    d = g.derivative(z)
    assert abs(float(torch.trapezoid(d, z)) - 1.0) < 1e-9
    peak = float(g.derivative(torch.zeros(1, dtype=torch.float64)))
    assert peak == pytest.approx(1 / (math.sqrt(2 * math.pi) * 0.4))
    assert S.get_surrogate("gaussian") == S.Gaussian() and S.get_surrogate("piecewise_quadratic").alpha == 1.0


@pytest.mark.parametrize("surrogate", NEW, ids=lambda s: type(s).__name__)
def test_lif_kernels_evaluate_the_new_kinds(surrogate):
    """The LIF-family kernels pick the new kinds up from ``surrogate_math`` (no LIF code changed)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(40, 24, dtype=torch.float64, generator=gen) * 0.8
    prm = torch.tensor([[0.0], [1.0], [0.9], [1.0], [0.0], [1.0], [0.0], [0.0], [0.0]], dtype=torch.float64)
    zeros = torch.zeros(24, dtype=torch.float64)
    cfg = LIFConfig(surrogate=surrogate)
    grads = []
    for backend in ("torch", "numba"):
        xx = x.clone().requires_grad_()
        res = lif_scan(xx, prm, zeros, zeros, zeros, cfg, backend=backend)
        (res.spikes * torch.linspace(0, 1, 24, dtype=torch.float64)).sum().backward()
        grads.append(xx.grad)
    assert grads[0].abs().sum() > 0
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-10, atol=1e-12)


def test_spec_kernels_evaluate_the_new_kinds(cuda_device):
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(16, 6, dtype=torch.float64, generator=gen) * 1.5
    prm = table(QIF, {}, 6, torch.float64, gen)
    y0 = torch.zeros(1, 6, dtype=torch.float64)
    for surrogate in NEW:
        cfg = SpecConfig(surrogate=surrogate)
        (_, gref), (_, gcpu) = run(QIF, x, prm, y0, cfg, "torch"), run(QIF, x, prm, y0, cfg, "numba")
        _, ggpu = run(QIF, x, prm, y0, cfg, "cuda", device=cuda_device)
        for a, b, c in zip(gref, gcpu, ggpu):
            torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(c, b, rtol=1e-14, atol=1e-15)
