"""User-defined neurons (``NeuronSpec`` -> generated kernels, issue 19): the generated kernels against
the torch reference (forward bit-identical, gradients to rounding), CPU against CUDA, float64
gradcheck on both backends, user surrogates on the fast path, SpikingJelly's QIF and Izhikevich
nodes written as specs, every traced operation's derivative, and the errors a wrong description gets.
"""

from __future__ import annotations

import pytest
import torch

from neuro.kernels import neuron_spec
from neuro.kernels.neuron_spec import NeuronSpec
from neuro.nn.custom import SpecNeuron, exp, heaviside, log, maximum, minimum, sqrt, tanh
from neuro.ops._launch import NonFiniteError
from neuro.ops.spec import SpecConfig, spec_scan
from neuro.surrogate import Sigmoid, Surrogate, Triangle
from spec_cases import QIF, run, smooth_outputs, table

T, B, F = 24, 2, 5


class Lorentz(Surrogate):
    """A user-defined surrogate: only a torch ``derivative``."""

    def derivative(self, z: torch.Tensor) -> torch.Tensor:
        return 1.0 / (1.0 + 9.0 * z * z)


def _case(dtype, seed=0, spec=QIF, values=None, scale=1.0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(T, B * F, dtype=dtype, generator=gen) * scale
    prm = table(spec, values or {}, F, dtype, gen)
    y0 = torch.rand(len(spec.states), B * F, dtype=dtype, generator=gen) * 0.3
    return x, prm, y0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("surrogate", [Sigmoid(4.0), Lorentz()], ids=["builtin", "user"])
def test_kernels_equal_reference(dtype, surrogate):
    x, prm, y0 = _case(dtype)
    cfg = SpecConfig(surrogate=surrogate)
    (ref, gref), (ker, gker) = run(QIF, x, prm, y0, cfg, "torch"), run(QIF, x, prm, y0, cfg, "numba")
    assert ref[0].sum() > 10  # the neurons spike
    for a, b in zip(ref, ker):
        assert torch.equal(a, b)  # spikes, every state, final states: bit-identical
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    for a, b in zip(gref, gker):
        torch.testing.assert_close(b, a, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda_equals_cpu(dtype, cuda_device):
    x, prm, y0 = _case(dtype, seed=1)
    for surrogate in (Triangle(1.0), Lorentz()):
        cfg = SpecConfig(surrogate=surrogate, ge=False)
        cpu, gcpu = run(QIF, x, prm, y0, cfg, "numba")
        gpu, ggpu = run(QIF, x, prm, y0, cfg, "cuda", device=cuda_device)
        for a, b in zip(cpu + gcpu, gpu + ggpu):
            assert torch.equal(a, b)  # the same generated operations in the same order


@pytest.mark.parametrize("backend", ["numba", pytest.param("cuda", marks=pytest.mark.cuda)])
def test_gradcheck(backend, request):
    device = request.getfixturevalue("cuda_device") if backend == "cuda" else "cpu"
    x, prm, y0 = _case(torch.float64, seed=2)
    cfg = SpecConfig(detach_reset=True)
    inputs = [t.to(device).requires_grad_() for t in (x[:6, :F] * 2, prm, y0[:, :F])]
    assert spec_scan(QIF, *(t.detach() for t in inputs), cfg, 1e-3, backend="torch").spikes.sum() > 0
    assert torch.autograd.gradcheck(smooth_outputs(QIF, cfg, backend), inputs, eps=1e-6, atol=1e-7, rtol=1e-5)


def _every_operation(s, x, p):
    u = maximum(s.u, -2.0) + minimum(x, 0.8) * p.k
    w = exp(-abs(s.v) / p.tau) + log(1.0 + s.u * s.u) - sqrt(1.0 + x * x) + tanh(p.k * s.v) ** 2
    return {"v": s.v + 0.3 * w / (1.0 + p.k) + x * 0.5,
            "u": 0.9 * u + 0.1 * (s.v ** 3) * heaviside(s.v - 0.2)}


EVERY_OP = NeuronSpec("EveryOp", states={"v": 0.0, "u": 0.1}, parameters={"k": 0.7, "tau": 1.5, "v_th": 1.0},
                      step=_every_operation, threshold=lambda s, p: s.v - p.v_th,
                      reset=lambda s, p: {"v": s.v - p.v_th, "u": s.u * 0.5}, positive=("tau",))


def test_every_traced_operation_differentiates_like_autograd():
    """The generated reverse step against torch autograd through the reference, on a model using
    every operation the tracer records (exp, log, sqrt, tanh, powers, division, abs, min, max,
    the detached step, a subtractive and a scaling reset)."""
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(T, B * F, dtype=torch.float64, generator=gen)
    prm = table(EVERY_OP, {"v_th": 0.5}, F, torch.float64, gen, jitter=0.2)
    y0 = torch.randn(2, B * F, dtype=torch.float64, generator=gen) * 0.5
    cfg = SpecConfig(surrogate=Sigmoid(2.0))
    (ref, gref), (ker, gker) = (run(EVERY_OP, x, prm, y0, cfg, backend) for backend in ("torch", "numba"))
    assert ref[0].sum() > 5
    for a, b in zip(ref, ker):  # exp/log/tanh: torch's against libm's, within rounding
        torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-12)
    for a, b in zip(gref, gker):
        torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-10)


def test_spikingjelly_qif_node_is_bit_identical():
    neuron = pytest.importorskip("spikingjelly.activation_based.neuron")
    x = torch.rand(40, 3, 7) * 1.5
    sj = neuron.QIFNode(tau=2.0, v_c=0.8, a0=1.0, v_threshold=1.0, v_rest=0.0, v_reset=-0.1, step_mode="m",
                        store_v_seq=True)
    xs = x.clone().requires_grad_()
    s_sj = sj(xs)
    (s_sj * torch.linspace(0, 1, 7)).sum().backward()
    ours = SpecNeuron(QIF, surrogate=Sigmoid(4.0), record_states=True)  # SpikingJelly's default surrogate
    xo = x.clone().requires_grad_()
    s, trace = ours(xo, ours.initial_state(x[0])._replace(v=torch.full((3, 7), -0.1)))  # SJ starts at v_reset
    (s * torch.linspace(0, 1, 7)).sum().backward()
    assert s.sum() > 20
    assert torch.equal(s, s_sj)
    assert torch.equal(trace.v, sj.v_seq)
    torch.testing.assert_close(xo.grad, xs.grad, rtol=1e-4, atol=1e-6)


def _sj_izhikevich_step(s, x, p):
    h = s.v + (x + p.a0 * (s.v - p.v_rest) * (s.v - p.v_c) - s.w) / p.tau
    return {"v": h, "w": s.w + (p.a * (h - p.v_rest) - s.w) / p.tau_w}


#: SpikingJelly's IzhikevichNode (a QIF with adaptation, dimensionless) described in a few lines
SJ_IZHIKEVICH = NeuronSpec(
    "SJIzhikevich", states={"v": "v_rest", "w": 0.0},
    parameters={"tau": 2.0, "v_c": 0.8, "a0": 1.0, "v_th": 1.0, "v_reset": 0.0, "v_rest": -0.1, "tau_w": 2.0,
                "a": 0.1, "b": 0.2},
    step=_sj_izhikevich_step, threshold=lambda s, p: s.v - p.v_th,
    reset=lambda s, p: {"v": p.v_reset, "w": s.w + p.b})


def test_spikingjelly_izhikevich_node_as_a_spec():
    neuron = pytest.importorskip("spikingjelly.activation_based.neuron")
    x = torch.rand(40, 3, 7) * 2.0
    sj = neuron.IzhikevichNode(tau=2.0, v_c=0.8, a0=1.0, v_threshold=1.0, v_reset=0.0, v_rest=-0.1, tau_w=2.0,
                               a=0.1, b=0.2, step_mode="m")
    s_sj = sj(x)
    ours = SpecNeuron(SJ_IZHIKEVICH, surrogate=Sigmoid(4.0))
    s, state = ours(x, ours.initial_state(x[0])._replace(v=torch.zeros(3, 7)))  # SJ starts at v_reset
    assert s.sum() > 20
    assert torch.equal(s, s_sj)
    assert torch.equal(state.v, sj.v) and torch.equal(state.w, sj.w)


# --------------------------------------------------------------------------------------------
# The module and the description's errors


def test_module_learns_state_continues_and_records():
    layer = SpecNeuron(QIF, shape=F, learn=("tau", "v_th"))
    x = torch.rand(T, B, F) * 1.5
    s, state = layer(x)
    (s.sum() + state.v.sum()).backward()
    assert layer.tau.grad is not None and layer.tau.grad.abs().sum() > 0
    assert layer.v_th.grad.abs().sum() > 0
    with torch.no_grad():
        s1, st1 = layer(x[:10])
        s2, st2 = layer(x[10:], st1)
        assert torch.equal(torch.cat([s1, s2]), s) and torch.equal(st2.v, state.v)
        rec = SpecNeuron(QIF, shape=F, record_states=True)
        rec.load_state_dict(layer.state_dict(), strict=False)
        out, trace = SpecNeuron(QIF, record_states=True, tau=2.0)(x)
        assert trace.v.shape == x.shape and torch.equal(trace.last().v, SpecNeuron(QIF)(x)[1].v)
        one, st = layer.step(x[0])  # the pure-torch step equals the first step of the scan
        assert torch.equal(one, s[0]) and torch.equal(st.v, layer(x[:1])[1].v)
    assert "QIF" in repr(layer) and "tau=<(5,)> (learned)" in repr(layer)


def test_module_errors():
    with pytest.raises(ValueError, match=r"\[T, B, \*features\]"):
        SpecNeuron(QIF)(torch.rand(4, 3))
    with pytest.raises(ValueError, match="tau must be positive"):
        SpecNeuron(QIF, tau=-1.0)
    with pytest.raises(TypeError, match="no parameter"):
        SpecNeuron(QIF, taus=1.0)
    with pytest.raises(ValueError, match="learn names unknown"):
        SpecNeuron(QIF, learn=("beta",))
    x = torch.rand(5, 2, 3)
    x[2, 1, 0] = float("nan")
    for backend in ("torch", "numba"):
        with pytest.raises(NonFiniteError):
            SpecNeuron(QIF, backend=backend)(x)


def test_description_errors_name_the_problem():
    good = dict(states={"v": 0.0}, parameters={"v_th": 1.0}, threshold=lambda s, p: s.v - p.v_th)

    def branching(s, x, p):
        return {"v": s.v + x if s.v > 0 else s.v}

    with pytest.raises(TypeError, match="branch-free"):
        neuron_spec.build(NeuronSpec("Bad", step=branching, **good))
    with pytest.raises(ValueError, match="must return every state"):
        neuron_spec.build(NeuronSpec("Bad", step=lambda s, x, p: {}, **good))
    with pytest.raises(AttributeError, match="no parameter 'tau'"):
        neuron_spec.build(NeuronSpec("Bad", step=lambda s, x, p: {"v": s.v / p.tau}, **good))
    with pytest.raises(TypeError, match="math module"):
        import math
        neuron_spec.build(NeuronSpec("Bad", step=lambda s, x, p: {"v": math.exp(s.v)}, **good))
    with pytest.raises(ValueError, match="reserved"):
        NeuronSpec("Bad", states={"dt": 0.0}, parameters={}, step=lambda s, x, p: s, threshold=lambda s, p: 0)
    with pytest.raises(ValueError, match="both a state and a parameter"):
        NeuronSpec("Bad", states={"v": 0.0}, parameters={"v": 1.0}, step=lambda s, x, p: s,
                   threshold=lambda s, p: 0)
    with pytest.raises(ValueError, match="not one of the parameters"):
        NeuronSpec("Bad", states={"v": "v0"}, parameters={}, step=lambda s, x, p: s, threshold=lambda s, p: 0)


def test_spec_scan_checks_shapes():
    x, prm, y0 = _case(torch.float64)
    with pytest.raises(ValueError, match="prm must be"):
        spec_scan(QIF, x, prm[:3], y0, SpecConfig(), 1e-3)
    with pytest.raises(ValueError, match="y0 must be"):
        spec_scan(QIF, x, prm, y0[:, :3], SpecConfig(), 1e-3)
