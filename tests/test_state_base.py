"""Every state type sits on one base (neuro.state): detach, to, last and map, nested states."""

from typing import NamedTuple

import numpy as np
import pytest
import torch
from torch import nn

from neuro.astro.populations import AeifAstroState, AstrocyteState
from neuro.functional import ALIFState, CubaLIFState, CubaLIState, LIFState, LIState
from neuro.functional.astro import AMSUState, CubaAMSUState
from neuro.functional.delay import DelayState
from neuro.nn import (
    ALIF,
    AMSU,
    IF,
    LI,
    LIF,
    CubaAMSU,
    CubaLI,
    CubaLIF,
    Graph,
    GraphState,
    Integrator,
    IntegratorState,
    Recurrent,
    RecurrentState,
    Sequential,
    detach_states,
)
from neuro.ops.elm import ELMState
from neuro.state import State, map_state, stateclass

TENSOR_STATES = [LIFState, CubaLIFState, ALIFState, LIState, CubaLIState, IntegratorState, AMSUState,
                 CubaAMSUState, ELMState, DelayState]


def _filled(cls, lead=(), requires_grad=False):
    """A state of ``cls`` whose field k holds ``k + [0, 1, ...]`` shaped ``lead + (2, 3)``."""
    fields = []
    for k in range(len(cls._fields)):
        t = (torch.arange(6.0).reshape(2, 3) + k).expand(*lead, 2, 3).clone()
        fields.append(t.requires_grad_(requires_grad))
    return cls(*fields)


@pytest.mark.parametrize("cls", TENSOR_STATES, ids=lambda c: c.__name__)
def test_tensor_states_are_named_tuples_on_the_base(cls):
    s = _filled(cls)
    assert isinstance(s, State) and isinstance(s, tuple) and isinstance(s, cls)
    assert len(s) == len(cls._fields) and s._fields == cls._fields
    first, *_ = s  # unpacking and field access still work
    assert first is getattr(s, cls._fields[0]) is s[0]
    for name in ("map", "detach", "to", "last"):
        assert getattr(cls, name) is State.__dict__[name]


@pytest.mark.parametrize("cls", TENSOR_STATES, ids=lambda c: c.__name__)
def test_detach_to_last_map(cls):
    s = _filled(cls, requires_grad=True)
    d = s.detach()
    assert type(d) is cls and all(not t.requires_grad for t in d)
    assert all(torch.equal(a, b) for a, b in zip(d, s))

    c = s.to(torch.float64)
    assert type(c) is cls and all(t.dtype == torch.float64 for t in c)

    trace = _filled(cls, lead=(5,))
    last = trace.last()
    assert type(last) is cls and all(torch.equal(a, b[-1]) for a, b in zip(last, trace))

    doubled = s.map(lambda t: 2 * t)
    assert type(doubled) is cls and all(torch.equal(a, 2 * b) for a, b in zip(doubled, s))


def test_map_keeps_none_fields():
    s = RecurrentState(None, torch.ones(2))
    m = s.map(lambda t: t + 1)
    assert m.neuron is None and torch.equal(m.s, torch.full((2,), 2.0))


def test_nested_recurrent_state():
    inner = CubaLIFState(torch.ones(2, 3, requires_grad=True), torch.zeros(2, 3, requires_grad=True))
    s = RecurrentState(inner, torch.ones(2, 3, requires_grad=True))
    d = s.detach()
    assert isinstance(d.neuron, CubaLIFState) and not d.neuron.i.requires_grad and not d.s.requires_grad
    assert s.to(torch.float64).neuron.v.dtype == torch.float64
    trace = RecurrentState(LIFState(torch.arange(4.0).reshape(4, 1)), torch.arange(4.0).reshape(4, 1))
    assert trace.last().neuron.v.item() == 3.0 and trace.last().s.item() == 3.0


def test_graph_state_map_recurses_into_nodes_and_carries():
    g = torch.ones(2, 3, requires_grad=True)
    s = GraphState(nodes={"lif": LIFState(g * 1), "seq": [None, LIState(g * 2)],
                          "rec": RecurrentState(ALIFState(g * 3, g * 4), g * 5), "lin": None,
                          "sub": GraphState({"x": IntegratorState(g * 6)}, {"x": g * 7})},
                   carries={"lif": g * 8})
    d = s.detach()
    assert isinstance(d, GraphState)
    leaves = []
    map_state(d, lambda t: leaves.append(t) or t)
    assert len(leaves) == 8 and all(not t.requires_grad for t in leaves)
    assert d.nodes["lin"] is None and d.nodes["seq"][0] is None
    assert isinstance(d.nodes["seq"], list) and isinstance(d.nodes["sub"], GraphState)
    assert torch.equal(d.nodes["rec"].neuron.a, g.detach() * 4)
    c = s.to(torch.float64)
    assert c.nodes["sub"].carries["x"].dtype == torch.float64 and c.carries["lif"].dtype == torch.float64
    assert torch.equal(s.map(lambda t: -t).nodes["sub"].nodes["x"].v, -g.detach() * 6)


def test_graph_state_of_a_real_graph_continues_after_detach():
    graph = Graph({"fc": nn.Linear(3, 3), "lif": LIF(tau_mem=5e-3), "w": nn.Linear(3, 3)},
                  [("in", "fc"), ("fc", "lif"), ("lif", "w"), ("w", "lif"), ("lif", "out")],
                  ["in"], ["out"], node_shapes={"w": ((3,), (3,))})
    x = torch.rand(10, 2, 3)
    full, _ = graph(x)
    first, state = graph(x[:4])
    rest, _ = graph(x[4:], state.detach())
    assert torch.equal(torch.cat([first, rest]), full.detach())


def test_detach_states_of_sequential_states():
    net = Sequential(nn.Linear(3, 4), LIF(tau_mem=5e-3), nn.Linear(4, 2), LI(tau_mem=5e-3))
    _, states = net(torch.rand(5, 2, 3))
    detached = detach_states(states)
    assert [type(s).__name__ for s in detached] == ["NoneType", "LIFState", "NoneType", "LIState"]
    assert not detached[1].v.requires_grad
    assert detach_states(None) is None
    t = torch.ones(2, requires_grad=True)
    assert not detach_states(t).requires_grad


@pytest.mark.parametrize("make", [
    lambda: IF(record_states=True), lambda: LIF(tau_mem=5e-3, record_states=True),
    lambda: CubaLIF(tau_mem=5e-3, tau_syn=2e-3, record_states=True),
    lambda: ALIF(tau_mem=5e-3, record_states=True), lambda: LI(tau_mem=5e-3, record_states=True),
    lambda: CubaLI(tau_mem=5e-3, tau_syn=2e-3, record_states=True),
    lambda: Integrator(3, r=0.5, record_states=True),
    lambda: AMSU(3, domains=1, kappa_gain=0.3, record_states=True),
    lambda: CubaAMSU(3, domains=1, kappa_gain=0.3, record_states=True),
    lambda: Recurrent(LIF(tau_mem=5e-3), nn.Linear(3, 3)),
], ids=["IF", "LIF", "CubaLIF", "ALIF", "LI", "CubaLI", "Integrator", "AMSU", "CubaAMSU", "Recurrent"])
def test_module_states_are_on_the_base_and_traces_end_at_the_final_state(make):
    module = make()
    x = torch.rand(6, 2, 3) * 2
    out, state = module(x)
    assert isinstance(state, State)
    if getattr(module, "record_states", False):
        final = state.last()
        module.record_states = False
        _, want = module(x)
        assert type(final) is type(want)
        assert all(torch.equal(a, b) for a, b in zip(final, want))
        # the trace's final state continues the sequence exactly
        out2, _ = module(x, final)
        ref, _ = module(torch.cat([x, x]))
        assert torch.equal(out2, ref[6:])


def test_numpy_states_of_the_astrocyte_populations():
    a = AstrocyteState(*(np.arange(4.0) + k for k in range(6)))
    assert isinstance(a, State)
    assert all(x is y for x, y in zip(a.detach(), a)) and all(x is y for x, y in zip(a.to("cpu"), a))
    trace = AstrocyteState(*(np.arange(12.0).reshape(3, 4) + k for k in range(6)))
    last = trace.last()
    assert isinstance(last, AstrocyteState) and np.array_equal(last.IP3, np.arange(8.0, 12.0))
    assert np.array_equal(AstrocyteState.from_table(a.table()).Ca_astro, a.Ca_astro)
    n = AeifAstroState(*(np.zeros(3) for _ in AeifAstroState._fields))
    assert np.array_equal(n.map(lambda v: v + 1).V_m, np.ones(3))


def test_stateclass_refuses_own_methods_and_non_tuples():
    with pytest.raises(TypeError, match="defines"):
        @stateclass
        class Bad(NamedTuple):
            v: torch.Tensor

            def detach(self):
                return self

    with pytest.raises(TypeError, match="NamedTuple"):
        stateclass(dict)


def test_foreign_named_tuples_inside_a_state_are_rebuilt():
    class Pair(NamedTuple):
        a: torch.Tensor
        b: torch.Tensor

    s = RecurrentState(Pair(torch.ones(1), torch.zeros(1)), torch.ones(1))
    m = s.map(lambda t: t + 1)
    assert isinstance(m.neuron, Pair) and m.neuron.b.item() == 1.0
