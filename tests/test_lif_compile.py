"""``torch.compile`` over the LIF kernels: no graph break, compiled == eager (outputs and gradients).

The fused scan runs as the ``torch.library`` ops ``neuro::lif_scan_forward`` / ``lif_scan_backward``
(fake implementations for tracing, autograd registered between them). The ``aot_eager`` backend
traces with fake tensors and AOTAutograd as inductor does, without compiling C++ (fast on CI).
"""

from __future__ import annotations

import pytest
import torch

from lif_cases import STRUCTURES, make_case, structure_id
from neuro.ops.lif import lif_scan


def _op_fn(cfg, record):
    def f(x, prm, i0, v0, a0):
        res = lif_scan(x, prm, i0, v0, a0, cfg, record=record, backend="numba")
        return tuple(r for r in res if r is not None)
    return f


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.mark.parametrize("structure", [STRUCTURES[6], STRUCTURES[8]], ids=structure_id)
def test_compiled_op_equals_eager(structure):
    cfg, x, prm, i0, v0, a0 = make_case(structure, T=13, N=24, P=6, dtype=torch.float32, seed=8)
    f = _op_fn(cfg, record=True)
    leaves = {}
    results = {}
    for mode, fn in (("eager", f), ("compiled", torch.compile(f, backend="aot_eager", fullgraph=True))):
        leaves[mode] = [t.clone().requires_grad_() for t in (x, prm, i0, v0, a0)]
        outs = fn(*leaves[mode])
        gen = torch.Generator().manual_seed(1)
        loss = sum((o * torch.randn(o.shape, generator=gen)).sum() for o in outs)
        loss.backward()
        results[mode] = outs
    for a, b in zip(results["eager"], results["compiled"]):
        assert torch.equal(a, b)
    for a, b in zip(leaves["eager"], leaves["compiled"]):
        assert torch.equal(a.grad, b.grad)


def test_no_graph_break_in_the_op_or_a_module():
    from neuro.nn import LIF

    cfg, x, prm, i0, v0, a0 = make_case(STRUCTURES[0], T=9, N=16, P=1, dtype=torch.float32, seed=2)
    explained = torch._dynamo.explain(_op_fn(cfg, record=False))(x.requires_grad_(), prm, i0, v0, a0)
    assert explained.graph_break_count == 0, explained.break_reasons
    lin, lif = torch.nn.Linear(16, 16), LIF(beta=0.9)
    explained = torch._dynamo.explain(lambda inp: lif(lin(inp))[0])(torch.randn(9, 2, 16))
    assert explained.graph_break_count == 0, explained.break_reasons


def test_compiled_module_training_step_equals_eager():
    from neuro.nn import LIF

    torch.manual_seed(0)
    lin = torch.nn.Linear(16, 16)
    lif = LIF(beta=0.9, learn_beta=True)  # coefficient gradients too
    x = torch.randn(11, 3, 16)

    def step(inp):
        return lif(lin(inp))[0]

    grads = {}
    for mode, fn in (("eager", step), ("compiled", torch.compile(step, backend="aot_eager", fullgraph=True))):
        lin.zero_grad(set_to_none=True)
        lif.zero_grad(set_to_none=True)
        out = fn(x)
        out.sum().backward()
        grads[mode] = [out.detach(), lin.weight.grad.clone()] + [p.grad.clone() for p in lif.parameters()]
    assert len(grads["eager"]) == 3  # the learned beta has a gradient
    for a, b in zip(grads["eager"], grads["compiled"]):
        assert torch.equal(a, b)


def test_second_order_gradient_through_the_compiled_op_raises():
    cfg, x, prm, i0, v0, a0 = make_case(STRUCTURES[0], T=5, N=8, P=1, dtype=torch.float32, seed=3)
    xg = x.requires_grad_()
    f = torch.compile(_op_fn(cfg, record=False), backend="aot_eager", fullgraph=True)
    (g,) = torch.autograd.grad(f(xg, prm, i0, v0, a0)[0].sum(), xg, create_graph=True)
    with pytest.raises(RuntimeError):
        g.sum().backward()
