"""A module that executes a directed graph of neuro layers: DAGs, cycles and nested graphs.

Semantics (those of NIR):

* every node receives the **sum** of the outputs of its incoming edges (in edge order);
* edges carry values within the same time step, except **back edges**: an edge closing a cycle
  carries its source's output of the **previous** step (NIR's one-step semantics of recurrence).
  Before the first step a back edge carries the source's resting output: a stateless source
  (``Linear``, ``Conv``, ``Scale``...) applied to a zero input (so an ``Affine`` gives its bias, as
  in snnTorch's ``RLeaky``), a spiking neuron zeros, a non-spiking neuron its resting membrane.
* back edges are the edges that close a cycle in a depth-first traversal that starts from the
  inputs (in order) and then from the remaining nodes (in order), following edges in the order given.

Execution: the graph is split into strongly connected components. A node outside any cycle runs
once over the whole sequence ``[T, B, ...]`` (fused scan kernels for neurons, time folded into the
batch for stateless layers); the nodes of a cycle are advanced together one step at a time
(:func:`neuro.nn.recurrent.step_module`). A nested ``Graph`` is just another node.

``forward(x, state=None) -> (out, GraphState)``: ``x`` is a tensor ``[T, B, *shape]`` when the
graph has one input, else a dict ``{input_name: tensor}``; ``out`` likewise for the outputs.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import torch
from torch import nn

from neuro.nn.containers import TimeDistributed
from neuro.nn.neurons import SpikingModule
from neuro.nn.recurrent import rest_output, step_module
from neuro.state import stateclass

Shape = tuple[int, ...]


@stateclass
class GraphState(NamedTuple):
    """State of a :class:`Graph`: each node's state (``{name: state}``) and the values carried by
    back edges (``{name: tensor}``); ``map``/``detach``/``to`` recurse into both."""

    nodes: dict
    carries: dict


class _Unit(NamedTuple):
    """One step of the execution plan: a node outside cycles, or the nodes of one cycle."""

    nodes: tuple[str, ...]
    cyclic: bool
    carry_sources: tuple[str, ...]  # sources of back edges inside this unit


def _sanitize(name: str, taken: set) -> str:
    key = "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "node"
    if key[0].isdigit():
        key = "n" + key
    base, k = key, 1
    while key in taken:
        key, k = f"{base}_{k}", k + 1
    taken.add(key)
    return key


class Graph(SpikingModule):
    """Execute a graph of neuro layers (see the module docstring for the semantics).

    Args:
        nodes: ``{name: module}`` of the computational nodes (plain stateless ``nn.Module``\\ s are
            wrapped in :class:`~neuro.nn.TimeDistributed`).
        edges: ``(source, target)`` pairs over node, input and output names.
        inputs: names of the graph inputs (no incoming edges).
        outputs: names of the graph outputs (the sum of their incoming edges is returned).
        input_shapes: optional ``{input: feature shape}`` checked at every call.
        node_shapes: optional ``{node: (input feature shape, output feature shape)}``; needed for
            the resting value of back edges whose source is stateless or a nested graph.
    """

    def __init__(self, nodes: Mapping[str, nn.Module], edges: Sequence[tuple[str, str]],
                 inputs: Sequence[str], outputs: Sequence[str],
                 input_shapes: Mapping[str, Shape] | None = None,
                 node_shapes: Mapping[str, tuple[Shape, Shape]] | None = None) -> None:
        super().__init__()
        self.node_names = list(nodes)
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.edges = [(str(a), str(b)) for a, b in edges]
        self.input_shapes = {k: tuple(int(d) for d in v) for k, v in (input_shapes or {}).items()}
        self.node_shapes = {k: (tuple(i), tuple(o)) for k, (i, o) in (node_shapes or {}).items()}
        self._validate()
        taken: set = set()
        self._keys = {name: _sanitize(name, taken) for name in self.node_names}
        self.layers = nn.ModuleDict({
            self._keys[name]: (m if isinstance(m, SpikingModule) else TimeDistributed(m))
            for name, m in nodes.items()})
        self._preds = {name: [a for a, b in self.edges if b == name]
                       for name in self.node_names + self.outputs}
        self.back_edges = self._find_back_edges()
        self._plan = self._make_plan()
        self._shape_log: dict | None = None

    # ---------------------------------------------------------------- structure
    def _validate(self) -> None:
        names = self.inputs + self.node_names + self.outputs
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"graph names must be unique across inputs, nodes and outputs; "
                             f"repeated: {sorted(dup)}")
        if not self.inputs:
            raise ValueError("the graph has no input")
        if not self.outputs:
            raise ValueError("the graph has no output")
        known = set(names)
        for a, b in self.edges:
            for end in (a, b):
                if end not in known:
                    raise ValueError(f"edge ({a!r}, {b!r}) refers to {end!r}, which is not a node, "
                                     f"input or output of the graph")
            if b in self.inputs:
                raise ValueError(f"edge ({a!r}, {b!r}) points into the graph input {b!r}")
            if a in self.outputs:
                raise ValueError(f"edge ({a!r}, {b!r}) leaves the graph output {a!r}")
        if len(set(self.edges)) != len(self.edges):
            raise ValueError("the graph has duplicate edges")
        for name in self.node_names + self.outputs:
            if not any(b == name for _, b in self.edges):
                raise ValueError(f"{name!r} has no incoming edge: nothing drives it")

    def _succ(self) -> dict[str, list[str]]:
        succ: dict[str, list[str]] = {n: [] for n in self.inputs + self.node_names + self.outputs}
        for a, b in self.edges:
            succ[a].append(b)
        return succ

    def _find_back_edges(self) -> set[tuple[str, str]]:
        return back_edges(self.inputs + self.node_names + self.outputs, self._succ())

    def _components(self) -> dict[str, int]:
        """Strongly connected component index of every node (Kosaraju, iterative)."""
        succ = self._succ()
        pred: dict[str, list[str]] = {n: [] for n in succ}
        for a, b in self.edges:
            pred[b].append(a)
        order, seen = [], set()
        for root in succ:
            if root in seen:
                continue
            seen.add(root)
            stack = [(root, iter(succ[root]))]
            while stack:
                node, it = stack[-1]
                nxt = next(it, None)
                if nxt is None:
                    order.append(node)
                    stack.pop()
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, iter(succ[nxt])))
        comp: dict[str, int] = {}
        for root in reversed(order):
            if root in comp:
                continue
            label = len(set(comp.values()))
            comp[root] = label
            todo = [root]
            while todo:
                node = todo.pop()
                for p in pred[node]:
                    if p not in comp:
                        comp[p] = label
                        todo.append(p)
        return comp

    def _make_plan(self) -> list[_Unit]:
        comp = self._components()
        position = {n: k for k, n in enumerate(self.inputs + self.node_names + self.outputs)}
        members: dict[int, list[str]] = {}
        for n in self.node_names:
            members.setdefault(comp[n], []).append(n)
        # topological order inside a cycle: the forward (non-back) edges between its members
        forward = [(a, b) for a, b in self.edges if (a, b) not in self.back_edges]
        units: dict[int, _Unit] = {}
        for c, nodes in members.items():
            cyclic = len(nodes) > 1 or (nodes[0], nodes[0]) in set(self.edges)
            inside = set(nodes)
            order = _toposort(nodes, [(a, b) for a, b in forward if a in inside and b in inside],
                              position)
            carries = tuple(sorted({a for a, b in self.back_edges if b in inside}, key=position.get))
            units[c] = _Unit(tuple(order), cyclic, carries)
        # order the units by the edges between them
        unit_edges = {(comp[a], comp[b]) for a, b in self.edges
                      if a in self.node_names and b in self.node_names and comp[a] != comp[b]}
        unit_pos = {c: min(position[n] for n in nodes) for c, nodes in members.items()}
        ordered = _toposort(list(members), sorted(unit_edges), unit_pos)
        return [units[c] for c in ordered]

    def module(self, name: str) -> nn.Module:
        """The layer of node ``name`` (unwrapped from ``TimeDistributed``)."""
        m = self.layers[self._keys[name]]
        return m.layer if isinstance(m, TimeDistributed) else m

    # ---------------------------------------------------------------- execution
    def _bind_inputs(self, x: torch.Tensor | Mapping[str, torch.Tensor]) -> dict:
        if isinstance(x, torch.Tensor):
            if len(self.inputs) != 1:
                raise ValueError(f"the graph has {len(self.inputs)} inputs {self.inputs}; pass a "
                                 "dict {input_name: tensor}")
            x = {self.inputs[0]: x}
        if not isinstance(x, Mapping):
            raise TypeError(f"x must be a tensor or a dict of tensors, got {type(x).__name__}")
        missing = set(self.inputs) - set(x)
        extra = set(x) - set(self.inputs)
        if missing or extra:
            raise ValueError(f"graph inputs are {self.inputs}; missing {sorted(missing)}, "
                             f"unknown {sorted(extra)}")
        lead = None
        for name in self.inputs:
            t = x[name]
            if not isinstance(t, torch.Tensor) or t.dim() < 2:
                raise ValueError(f"input {name!r} must be a tensor [T, B, ...], got "
                                 f"{getattr(t, 'shape', type(t).__name__)}")
            want = self.input_shapes.get(name)
            if want is not None and tuple(t.shape[2:]) != want:
                raise ValueError(f"input {name!r} expects feature shape {want} ([T, B, *{want}]), "
                                 f"got shape {tuple(t.shape)}")
            if lead is None:
                lead = tuple(t.shape[:2])
            elif tuple(t.shape[:2]) != lead:
                raise ValueError(f"all inputs must share [T, B] = {lead}; {name!r} has "
                                 f"{tuple(t.shape[:2])}")
        return {name: x[name] for name in self.inputs}

    def _gather(self, name: str, value_of) -> torch.Tensor:
        terms = [value_of(src) for src in self._preds[name]]
        try:
            return functools.reduce(operator.add, terms)
        except RuntimeError as err:
            shapes = {src: tuple(t.shape) for src, t in zip(self._preds[name], terms)}
            raise ValueError(f"the inputs of {name!r} cannot be summed: shapes {shapes}") from err

    def _initial_carry(self, name: str, like: torch.Tensor) -> torch.Tensor:
        module = self.layers[self._keys[name]]
        shapes = self.node_shapes.get(name)
        batch = like.shape[0]
        if isinstance(module, TimeDistributed):
            if shapes is None:
                raise ValueError(f"node {name!r} closes a cycle and is stateless: its resting output "
                                 "is its value for a zero input, which needs its input shape "
                                 "(pass node_shapes)")
            zeros = like.new_zeros((batch, *shapes[0]))
            return module.layer(zeros)
        if shapes is None:
            raise ValueError(f"node {name!r} closes a cycle: its output shape is needed for the "
                             "first step (pass node_shapes)")
        return rest_output(module, like.new_zeros((batch, *shapes[1])))

    def _log(self, name: str, inp: torch.Tensor, out: torch.Tensor, lead: int) -> None:
        if self._shape_log is not None:
            self._shape_log[name] = (tuple(inp.shape[lead:]), tuple(out.shape[lead:]))

    def forward(self, x, state: GraphState | None = None):
        """Run the graph on ``x [T, B, ...]`` (a tensor for one input, else ``{input name: tensor}``): acyclic
        nodes a whole sequence at a time, cycles step by step through their back edges. Returns the output
        (``{name: tensor}`` for several outputs) and the :class:`GraphState` (every node's state and the
        back-edge carries) to continue from.
        """
        values = self._bind_inputs(x)
        if state is not None and not isinstance(state, GraphState):
            raise TypeError(f"state must be a GraphState or None, got {type(state).__name__}")
        old_nodes = state.nodes if state is not None else {}
        old_carries = state.carries if state is not None else {}
        first = values[self.inputs[0]]
        new_nodes: dict = {}
        new_carries: dict = {}
        for unit in self._plan:
            if not unit.cyclic:
                name = unit.nodes[0]
                inp = self._gather(name, values.__getitem__)
                out, new_nodes[name] = self.layers[self._keys[name]](inp, old_nodes.get(name))
                self._log(name, inp, out, 2)
                values[name] = out
                continue
            states = {n: old_nodes.get(n) for n in unit.nodes}
            carry = {u: old_carries[u] if u in old_carries else self._initial_carry(u, first[0])
                     for u in unit.carry_sources}
            inside = set(unit.nodes)
            seqs: dict[str, list] = {n: [] for n in unit.nodes}
            for t in range(first.shape[0]):
                now: dict = {}
                for n in unit.nodes:
                    def value_of(src, n=n, t=t, now=now, carry=carry, inside=inside):
                        if (src, n) in self.back_edges:
                            return carry[src]
                        return now[src] if src in inside else values[src][t]

                    inp = self._gather(n, value_of)
                    now[n], states[n] = step_module(self.layers[self._keys[n]], inp, states[n])
                    self._log(n, inp, now[n], 1)
                    seqs[n].append(now[n])
                for u in unit.carry_sources:
                    carry[u] = now[u]
            for n in unit.nodes:
                values[n] = torch.stack(seqs[n])
            new_nodes.update(states)
            new_carries.update(carry)
        outs = {o: self._gather(o, values.__getitem__) for o in self.outputs}
        out = outs[self.outputs[0]] if len(self.outputs) == 1 else outs
        return out, GraphState(new_nodes, new_carries)

    def trace_shapes(self, input_shapes: Mapping[str, Shape] | None = None,
                     dtype: torch.dtype | None = None) -> dict[str, tuple[Shape, Shape]]:
        """Feature shapes ``{node: (input, output)}`` found by running one zero step."""
        if dtype is None:  # the layers' own dtype
            floats = [t.dtype for t in list(self.parameters()) + list(self.buffers())
                      if t.dtype.is_floating_point]
            dtype = floats[0] if floats else torch.get_default_dtype()
        shapes = dict(self.input_shapes)
        shapes.update(input_shapes or {})
        missing = [i for i in self.inputs if i not in shapes]
        if missing:
            raise ValueError(f"the shapes of inputs {missing} are unknown; pass input_shapes")
        self._shape_log = {}
        try:
            with torch.no_grad():
                self.forward({i: torch.zeros((1, 1, *shapes[i]), dtype=dtype) for i in self.inputs})
            return dict(self._shape_log)
        finally:
            self._shape_log = None

    def extra_repr(self) -> str:
        """Inputs, outputs, number of edges, back edges and the cycles run step by step."""
        cycles = [u.nodes for u in self._plan if u.cyclic]
        return (f"inputs={self.inputs}, outputs={self.outputs}, edges={len(self.edges)}, "
                f"back_edges={sorted(self.back_edges)}" + (f", cycles={cycles}" if cycles else ""))


def back_edges(roots: Sequence[str], succ: Mapping[str, Sequence[str]]) -> set[tuple[str, str]]:
    """Edges that close a cycle, found by iterative DFS from ``roots`` in order, successors in
    list order (so the choice of which edge of a cycle carries the delay is deterministic)."""
    color: dict[str, int] = {}  # 1 = on the DFS stack, 2 = finished
    back: set[tuple[str, str]] = set()
    for root in roots:
        if root in color:
            continue
        color[root] = 1
        stack = [(root, iter(succ[root]))]
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                color[node] = 2
                stack.pop()
            elif color.get(nxt) == 1:
                back.add((node, nxt))
            elif nxt not in color:
                color[nxt] = 1
                stack.append((nxt, iter(succ[nxt])))
    return back


def _toposort(items: list, edges: list[tuple], position: Mapping) -> list:
    """Kahn's algorithm, always taking the ready item that comes first in ``position``."""
    indeg = {i: 0 for i in items}
    succ: dict = {i: [] for i in items}
    for a, b in edges:
        succ[a].append(b)
        indeg[b] += 1
    ready = sorted((i for i in items if indeg[i] == 0), key=position.get)
    order = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for b in succ[node]:
            indeg[b] -= 1
            if indeg[b] == 0:
                ready.append(b)
                ready.sort(key=position.get)
    if len(order) != len(items):  # cannot happen once back edges are removed
        raise RuntimeError("internal error: cycle left after removing back edges")
    return order
