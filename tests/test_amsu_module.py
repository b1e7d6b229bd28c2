"""The AMSU / CubaAMSU modules: equivalence with LIF when uncoupled, states, domains, learning
signals, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuro.nn import AMSU, LIF, AMSUState, CubaAMSU, CubaAMSUState, CubaLIF, Sequential
from neuro.ops.amsu import Domains


def _x(T=25, B=3, F=12, seed=0, scale=1.5):
    return torch.rand(T, B, F, generator=torch.Generator().manual_seed(seed)) * scale


def test_uncoupled_amsu_is_exactly_lif():
    x = _x()
    lif_out, lif_state = LIF(12, tau_mem=5e-3)(x)
    out, state = AMSU(12, domains=3, tau_mem=5e-3)(x)
    assert torch.equal(out, lif_out) and torch.equal(state.v, lif_state.v)
    cuba_out, _ = CubaLIF(12, tau_mem=5e-3, tau_syn=2e-3)(x)
    out, state = CubaAMSU(12, domains=4, tau_mem=5e-3, tau_syn=2e-3)(x)
    assert torch.equal(out, cuba_out) and isinstance(state, CubaAMSUState)
    assert state.a.shape == (3, 4) and bool((state.a > 0).all())  # astrocytes saw the activity


@pytest.mark.parametrize("modulation,kappa,expect", [
    (("gain",), {"kappa_gain": 2.0}, "more"), (("threshold",), {"kappa_threshold": 1.0}, "less"),
    (("current",), {"kappa_current": -1.0}, "less")])
def test_each_modulation_acts_in_its_direction(modulation, kappa, expect):
    x = _x(T=80, seed=1, scale=0.6)
    base, _ = AMSU(12, domains=3, modulation=modulation, tau_astro=5e-3, K=0.05)(x)
    mod, _ = AMSU(12, domains=3, modulation=modulation, tau_astro=5e-3, K=0.05, **kappa)(x)
    assert (mod.sum() > base.sum()) if expect == "more" else (mod.sum() < base.sum())


def test_backends_agree_and_states_continue():
    m = AMSU((3, 4), domains=Domains.grid((3, 4), 2), kappa_gain=0.5, kappa_current=0.3,
             kappa_threshold=-0.2, tau_astro=0.02, learn_tau=True, learn_threshold=True)
    x = _x(F=12, seed=2).view(25, 3, 3, 4)
    out, state = m(x)
    m.backend = "torch"
    ref, ref_state = m(x)
    assert torch.equal(out, ref) and torch.equal(state.a, ref_state.a)
    m.backend = "auto"
    first, s1 = m(x[:11])
    second, s2 = m(x[11:], s1)
    assert torch.equal(torch.cat([first, second]), out)
    assert torch.equal(s2.v, state.v) and torch.equal(s2.a, state.a)
    detached = s1.detach()
    assert isinstance(detached, AMSUState) and not detached.a.requires_grad


def test_record_states_trace():
    m = CubaAMSU(6, domains=[[0, 5], [1, 2, 3, 4]], record_states=True, kappa_gain=0.4)
    out, trace = m(_x(T=7, B=2, F=6))
    assert trace.i.shape == trace.v.shape == (7, 2, 6) and trace.a.shape == (7, 2, 2)
    m.record_states = False
    _, final = m(_x(T=7, B=2, F=6))
    assert torch.equal(trace.last().a, final.a) and torch.equal(trace.last().v, final.v)


def test_parameters_learn():
    m = AMSU(12, domains=3, kappa_gain=0.2, kappa_threshold=0.1, kappa_current=0.1,
             learn_tau=True, tau_astro=0.01)
    assert sum(p.numel() for p in m.parameters()) == 12 + 3 * 5
    net = Sequential(torch.nn.Linear(5, 12), m, torch.nn.Linear(12, 2))
    x = torch.rand(30, 4, 5, generator=torch.Generator().manual_seed(3)) * 2
    out, _ = net(x)
    out.sum().backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and bool(p.grad.abs().sum() > 0), name
    fixed = AMSU(12, domains=3, learn_astro=False, modulation=("gain",))
    assert sum(p.numel() for p in fixed.parameters()) == 0


def test_half_precision_input_runs_in_float32():
    m = AMSU(12, domains=2, kappa_gain=0.3)
    out, state = m(_x().half())
    assert out.dtype == torch.float16 and state.v.dtype == torch.float32


def test_domain_builders():
    d = Domains.grid((2, 4, 6), tile=(2, 3))
    assert d.D == 4 and d.n == 48 and set(d.sizes) == {12}
    assert d.of.reshape(2, 4, 6)[1, 3, 5] == d.of.reshape(2, 4, 6)[0, 2, 3] == 3
    c = Domains.contiguous(10, 3)
    assert c.sizes.tolist() == [4, 3, 3]
    g = Domains.from_groups([[4, 0], [1, 2, 3]], 5)
    assert g.of.tolist() == [0, 1, 1, 1, 0] and g.idx.tolist() == [0, 4, 1, 2, 3]
    assert AMSU(6, domains=np.array([1, 0, 1, 0, 2, 2])).domains.D == 3


@pytest.mark.parametrize("domains,err,match", [
    ([[0, 1, 2], [2, 3, 4, 5]], ValueError, "overlapping domains are not allowed: neuron 2 is in "
                                            "domains 0 and 1"),
    ([[0, 1, 2], [3, 4, 9]], IndexError, "out of range 0..5"),
    ([[0, 1, 2], [3, 4]], ValueError, r"neurons \[5\] belong to no domain"),
    (np.array([0, 0, 1, 1, 3, 3]), ValueError, "without gaps"),
    (np.array([0, 0, 1, 1, -1, 1]), ValueError, "must be >= 0"),
    (np.array([0, 1, 1]), ValueError, "cover 3 neurons, the layer has 6"),
    (7, ValueError, "n_domains must be in 1..6"),
    ([[0, 1, 2], []], ValueError, "domain 1 is empty"),
    ([[0, 4, 4], [1, 2, 3, 5]], ValueError, "domain 0 lists neuron 4 twice"),
])
def test_bad_domains(domains, err, match):
    with pytest.raises(err, match=match):
        AMSU(6, domains=domains)


def test_overlapping_neighbourhoods_rejected():
    with pytest.raises(ValueError, match="overlapping domains are not allowed"):
        Domains.grid((4, 4), tile=2, stride=1)


@pytest.mark.parametrize("kwargs,match", [
    ({"tau_astro": -0.1}, "tau_astro must be > 0"), ({"K": 0.0}, "K must be > 0"),
    ({"kappa_gain": float("nan")}, "kappa_gain must be finite"),
    ({"tau_astro": [0.1, 0.2]}, "one value per domain"),
    ({"modulation": ("gain", "bias")}, "modulation must be a subset"),
    ({"reset": "subtract_delayed"}, "support reset"),
])
def test_bad_astrocyte_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AMSU(6, domains=3, **kwargs)


def test_bad_inputs_and_states():
    m = AMSU(6, domains=3)
    with pytest.raises(ValueError, match="features"):
        m(torch.rand(4, 2, 7))
    with pytest.raises(ValueError, match="NaN"):
        m(torch.full((4, 2, 6), float("nan")))
    _, state = m(torch.rand(4, 2, 6))
    with pytest.raises(ValueError, match=r"state.a has shape \(2, 2\), expected \(2, 3\)"):
        m(torch.rand(4, 2, 6), AMSUState(state.v, state.a[:, :2]))
    with pytest.raises(ValueError, match="state.a .* must be >= 0"):
        m(torch.rand(4, 2, 6), AMSUState(state.v, -state.a - 1))
    with pytest.raises(TypeError, match="AMSUState"):
        m(torch.rand(4, 2, 6), (state.v, state.a))
    with pytest.raises(ValueError, match="shape="):
        AMSU((), domains=1)


def test_functional_scan_checks_its_arguments():
    import amsu_cases as C
    from neuro.ops.amsu import amsu_scan

    cfg, dom, x, prm, aprm, i0, v0, a0 = C.make_case((False, "subtract"), T=3, B=2)
    bad_k = aprm.clone()
    bad_k[1, 0] = 0.0
    cases = [((x, prm[:, :3], aprm, dom, i0, v0, a0), "prm must be"),
             ((x, prm, aprm[:, :2], dom, i0, v0, a0), "aprm must be"),
             ((x, prm, bad_k, dom, i0, v0, a0), "K must be > 0"),
             ((x, prm, aprm, dom, i0, v0, -a0 - 0.1), "a0 .* must be >= 0"),
             ((x, prm, aprm, dom, i0, v0[:1], a0), "v0 must have shape"),
             ((x[..., :5], prm, aprm, dom, i0, v0, a0), "domains cover 10 neurons")]
    for args, match in cases:
        with pytest.raises(ValueError, match=match):
            amsu_scan(*args, cfg)
