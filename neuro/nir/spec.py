"""Parsed, validated NIR graphs: node fields, shape inference along edges and lenient fix-ups.

A graph comes either from a file (:func:`neuro.nir.hdf5.read_nir_file`) or from a ``nir.NIRGraph``
(``graph.to_dict()``); both give the same nested dict, parsed here into :class:`GraphSpec`.

Strict mode rejects anything the NIR specification does not allow, with an error that names the
node and the field. Lenient mode (``strict=False``) applies these documented fix-ups, each with a
:class:`~neuro.nir.NIRFixupWarning`:

1. an ``Input``/``Output`` whose ``shape`` differs from the shape arriving along its edge but has
   the same number of elements (e.g. Rockpool's ``Output`` of shape ``[1, 1, 1]`` after a 1-neuron
   layer) takes the arriving shape;
2. ``Affine``/``Linear`` weights stored transposed (``[in, out]``) are transposed back when only
   that orientation fits the arriving shape;
3. neuron, ``Scale`` and ``Threshold`` parameters stored as scalars (or size-1 arrays) next to
   per-neuron ones, or for a layer of ``N`` neurons, are broadcast to the per-neuron shape;
4. old-style ``Input``/``Output`` nodes that store ``input_type``/``output_type`` instead of
   ``shape`` are read;
5. fields that the node type does not define are ignored;
6. a cycle made only of stateless nodes gets NIR's implicit one-step delay on its back edge
   (strict mode asks for an explicit ``Delay`` or a stateful node in the cycle);
7. numeric fields stored as booleans are read as 0/1, complex ones with zero imaginary parts as
   their real parts (strict mode refuses both; complex values with an imaginary part, bytes and
   strings are refused in both modes).

Missing ``v_reset`` (zeros) and ``w_in`` (ones) are the NIR defaults, not fix-ups; integer-typed
parameters are read as floats.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuro.nir._deps import NIRError, NIRFixupWarning

Shape = tuple[int, ...]

NEURONS = ("IF", "LIF", "CubaLIF", "LI", "CubaLI", "I")
STATEFUL = NEURONS + ("Delay",)

# type -> (required fields, optional fields with their defaults: None = inferred)
FIELDS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "Input": (("shape",), {}),
    "Output": (("shape",), {}),
    "Affine": (("weight", "bias"), {}),
    "Linear": (("weight",), {}),
    "Scale": (("scale",), {}),
    "Threshold": (("threshold",), {}),
    "Conv1d": (("weight", "stride", "padding", "dilation", "groups", "bias"), {"input_shape": None}),
    "Conv2d": (("weight", "stride", "padding", "dilation", "groups", "bias"), {"input_shape": None}),
    "SumPool2d": (("kernel_size", "stride", "padding"), {}),
    "AvgPool2d": (("kernel_size", "stride", "padding"), {}),
    "Flatten": (("start_dim", "end_dim"), {"input_type": None}),
    "Delay": (("delay",), {}),
    "I": (("r",), {}),
    "IF": (("r", "v_threshold"), {"v_reset": 0.0}),
    "LIF": (("tau", "r", "v_leak", "v_threshold"), {"v_reset": 0.0}),
    "CubaLIF": (("tau_syn", "tau_mem", "r", "v_leak", "v_threshold"), {"v_reset": 0.0, "w_in": 1.0}),
    "LI": (("tau", "r", "v_leak"), {}),
    "CubaLI": (("tau_syn", "tau_mem", "r", "v_leak"), {"w_in": 1.0}),
    "NIRGraph": (("nodes", "edges"), {}),
}
SUPPORTED = tuple(sorted(FIELDS))
_PER_NEURON = {"Scale": ("scale",), "Threshold": ("threshold",), "I": ("r",),
               "IF": ("r", "v_threshold", "v_reset"),
               "LIF": ("tau", "r", "v_leak", "v_threshold", "v_reset"),
               "CubaLIF": ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in"),
               "LI": ("tau", "r", "v_leak"), "CubaLI": ("tau_syn", "tau_mem", "r", "v_leak", "w_in"),
               "Delay": ("delay",)}


@dataclass
class NodeSpec:
    """One node: its NIR ``type``, fields (numpy arrays), metadata and inferred feature shapes."""

    name: str  # path in the graph, for messages ("lif1/lin")
    type: str
    params: dict[str, Any]
    metadata: dict = field(default_factory=dict)
    graph: GraphSpec | None = None
    in_shape: Shape | None = None
    out_shape: Shape | None = None


@dataclass
class GraphSpec:
    """A (possibly nested) graph of :class:`NodeSpec`."""

    path: str
    nodes: dict[str, NodeSpec]
    edges: list[tuple[str, str]]
    metadata: dict = field(default_factory=dict)

    @property
    def inputs(self) -> list[str]:
        """Names of the graph's ``Input`` nodes, in node order."""
        return [n for n, s in self.nodes.items() if s.type == "Input"]

    @property
    def outputs(self) -> list[str]:
        """Names of the graph's ``Output`` nodes, in node order."""
        return [n for n, s in self.nodes.items() if s.type == "Output"]


class _Context:
    def __init__(self, strict: bool) -> None:
        self.strict = strict

    def fix(self, node: NodeSpec, what: str, error: str) -> None:
        """Apply a fix-up (lenient) or raise ``error`` (strict)."""
        if self.strict:
            raise NIRError(f"node {node.name!r} ({node.type}): {error}; pass strict=False to "
                           f"{what}")
        warnings.warn(f"node {node.name!r} ({node.type}): {error}; fixed: {what} (strict=False)",
                      NIRFixupWarning, stacklevel=4)


def _err(node: NodeSpec, text: str) -> NIRError:
    return NIRError(f"node {node.name!r} ({node.type}): {text}")


# ------------------------------------------------------------------------------------ parsing
def _shape_field(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        value = value.get(key, next(iter(value.values()), None))
    return value


def _as_shape(node: NodeSpec, value: Any, fname: str) -> Shape:
    try:
        arr = np.asarray(value)
        if arr.dtype.kind not in "iuf" or not np.all(arr == np.round(arr)) or np.any(arr < 0):
            raise ValueError
        return tuple(int(v) for v in arr.reshape(-1))
    except (TypeError, ValueError):
        raise _err(node, f"field {fname!r} must be a shape (non-negative integers), got {value!r}") \
            from None


def _parse_node(name: str, raw: Any, path: str, ctx: _Context) -> NodeSpec:
    full = f"{path}/{name}" if path else name
    if not isinstance(raw, dict) or "type" not in raw:
        raise NIRError(f"node {full!r} has no 'type' field")
    kind = str(raw["type"])
    node = NodeSpec(full, kind, {}, dict(raw.get("metadata") or {}))
    if kind not in FIELDS:
        raise NIRError(f"node {full!r} has type {kind!r}, which neuro cannot import; supported NIR "
                       f"node types: {', '.join(SUPPORTED)}")
    required, optional = FIELDS[kind]
    fields = {k: v for k, v in raw.items() if k not in ("type", "metadata")}
    if kind in ("Input", "Output") and "shape" not in fields:
        old = "input_type" if kind == "Input" else "output_type"
        if old in fields:
            ctx.fix(node, "read it", f"stores its shape in the old field {old!r} instead of 'shape'")
            fields["shape"] = _shape_field(fields.pop(old), old.split("_")[0])
    for fname in required:
        if fields.get(fname) is None:
            raise _err(node, f"required field {fname!r} is missing")
    unknown = sorted(set(fields) - set(required) - set(optional))
    if unknown:
        ctx.fix(node, "ignore them", f"has fields {unknown} that a {kind} node does not define")
    if kind == "NIRGraph":
        node.graph = parse_graph(fields, full, ctx)
        return node
    for fname in list(required) + list(optional):
        value = fields.get(fname, optional.get(fname))
        if fname in ("shape",):
            value = _as_shape(node, value, fname)
        elif fname == "input_type":
            value = None if value is None else _as_shape(node, _shape_field(value, "input"), fname)
        elif fname == "input_shape":
            value = None if value is None else _as_shape(node, value, fname)
        elif fname == "padding" and isinstance(value, (str, np.str_)):
            value = str(value)
            if value not in ("same", "valid"):
                raise _err(node, f"field 'padding' must be 'same', 'valid' or integers, got {value!r}")
        elif value is not None:
            value = _real_array(node, fname, value, ctx)
            try:
                value = np.asarray(value, dtype=np.float64 if fname not in _INT_FIELDS else np.int64)
            except (TypeError, ValueError):
                raise _err(node, f"field {fname!r} is not numeric: {value!r}") from None
            if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
                raise _err(node, f"field {fname!r} contains NaN or inf")
        node.params[fname] = value
    _unify_per_neuron(node, ctx)
    return node


_INT_FIELDS = ("stride", "padding", "dilation", "groups", "kernel_size", "start_dim", "end_dim")
_KIND_NAMES = {"b": "boolean", "c": "complex", "S": "bytes", "U": "string", "O": "object",
               "V": "raw (void)", "M": "datetime", "m": "timedelta"}


def _real_array(node: NodeSpec, fname: str, value: Any, ctx: _Context) -> np.ndarray:
    """``value`` as an array of real numbers (integers or floats).

    NIR stores numbers; a boolean, complex, bytes or string field is an error naming the node and
    the field. ``strict=False`` reads booleans as 0/1 and complex numbers whose imaginary parts
    are all zero as their real parts (fix-up 7, with a warning); other kinds are always refused
    (a complex number with an imaginary part has no real value to keep).
    """
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        raise _err(node, f"field {fname!r} is not numeric: {value!r}") from None
    kind = arr.dtype.kind
    if kind in "iuf":
        return arr
    what = f"field {fname!r} has {_KIND_NAMES.get(kind, kind)} values (dtype {arr.dtype})"
    if kind == "b" or (kind == "c" and not np.any(arr.imag)):
        ctx.fix(node, "read the real values", f"{what}; NIR fields are real numbers")
        return arr.astype(np.int64) if kind == "b" else arr.real
    if kind == "c":
        raise _err(node, f"{what} with non-zero imaginary parts; NIR fields are real numbers")
    raise _err(node, f"{what}; NIR fields are real numbers")


def _unify_per_neuron(node: NodeSpec, ctx: _Context) -> None:
    names = _PER_NEURON.get(node.type, ())
    if not names:
        return
    shapes = {n: node.params[n].shape for n in names}
    if len(set(shapes.values())) <= 1:
        return
    try:
        common = np.broadcast_shapes(*shapes.values())
    except ValueError:
        raise _err(node, f"per-neuron fields have incompatible shapes {shapes}") from None
    odd = {n: s for n, s in shapes.items() if s != common
           and not (s == () and n in FIELDS[node.type][1])}  # NIR defaults are not fix-ups
    if odd:
        ctx.fix(node, f"broadcast them to {common}",
                f"fields {sorted(odd)} have shapes {[odd[n] for n in sorted(odd)]} while the "
                f"per-neuron shape is {common}")
    for n in names:
        node.params[n] = np.broadcast_to(node.params[n], common).copy()


def _edges(raw: Any, path: str) -> list[tuple[str, str]]:
    if raw is None:
        return []
    arr = np.asarray(raw, dtype=object)
    if arr.size == 0:
        return []
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise NIRError(f"graph {path or '/'!r}: 'edges' must be an E x 2 list of node names, got "
                       f"shape {arr.shape}")
    return [(str(_decode(a)), str(_decode(b))) for a, b in arr]


def _decode(v: Any) -> Any:
    return v.decode("utf8") if isinstance(v, bytes) else v


def parse_graph(tree: dict, path: str = "", ctx: _Context | None = None,
                strict: bool = True) -> GraphSpec:
    """Parse the dict of a ``NIRGraph`` (from a file or ``graph.to_dict()``) and infer shapes."""
    ctx = ctx or _Context(strict)
    nodes_raw = tree.get("nodes")
    if not isinstance(nodes_raw, dict):
        raise NIRError(f"graph {path or '/'!r} has no 'nodes'")
    graph = GraphSpec(path, {k: _parse_node(str(k), v, path, ctx) for k, v in nodes_raw.items()},
                      _edges(tree.get("edges"), path), dict(tree.get("metadata") or {}))
    for a, b in graph.edges:
        for end in (a, b):
            if end not in graph.nodes:
                raise NIRError(f"graph {path or '/'!r}: edge ({a!r}, {b!r}) refers to {end!r}, "
                               f"which is not a node (nodes: {sorted(graph.nodes)})")
    if not graph.inputs:
        raise NIRError(f"graph {path or '/'!r} has no Input node")
    if not graph.outputs:
        raise NIRError(f"graph {path or '/'!r} has no Output node")
    _infer_shapes(graph, ctx)
    _check_cycles(graph, ctx)
    return graph


# ------------------------------------------------------------------------------- shapes
def _conv_out(size: int, k: int, s: int, p: Any, d: int) -> int:
    if p == "same":
        return size
    p = 0 if p == "valid" else int(p)
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _per_dim(value: Any, n: int) -> list:
    if isinstance(value, str):
        return [value] * n
    arr = np.asarray(value).reshape(-1)
    return [int(arr[0])] * n if arr.size == 1 else [int(v) for v in arr]


# Shape rules: one per node type. ``rule(node, arriving, src, ctx)`` sets ``node.in_shape`` and
# ``node.out_shape`` from the shape arriving on the edge from ``src`` (None: not known yet) and the
# node's fields, applying lenient fix-ups through ``ctx``; it returns False when neither fixes a shape.
ShapeRule = Callable[[NodeSpec, Shape | None, str, _Context], bool]


def _accept_input(node: NodeSpec, arriving: Shape | None, src: str, ctx: _Context) -> bool:
    node.in_shape = node.out_shape = node.params["shape"]
    return True


def _accept_output(node: NodeSpec, arriving: Shape | None, src: str, ctx: _Context) -> bool:
    p = node.params
    want = p["shape"]
    if arriving is not None and arriving != want:
        if math.prod(arriving) != math.prod(want):
            raise _err(node, f"field 'shape' is {list(want)} but the edge from {src!r} delivers "
                             f"{list(arriving)}")
        ctx.fix(node, f"use {list(arriving)}", f"field 'shape' is {list(want)} but the edge "
                f"from {src!r} delivers {list(arriving)}")
        p["shape"] = want = arriving
    node.in_shape = node.out_shape = want
    return True


def _accept_dense(node: NodeSpec, arriving: Shape | None, src: str, ctx: _Context) -> bool:
    """``Affine`` and ``Linear``: weight ``[out, in]`` (fix-up: stored ``[in, out]``), bias ``[out]``."""
    p = node.params
    w = p["weight"]
    if w.ndim != 2:
        raise _err(node, f"field 'weight' must be 2-D [out, in], got shape {w.shape}")
    if arriving is not None and arriving != (w.shape[1],):
        if arriving == (w.shape[0],):
            ctx.fix(node, "transpose it", f"field 'weight' has shape {w.shape} but the edge from "
                    f"{src!r} delivers {list(arriving)} features (weights stored [in, out]?)")
            p["weight"] = w = np.ascontiguousarray(w.T)
        else:
            raise _err(node, f"field 'weight' has shape {w.shape} (expects {w.shape[1]} input "
                             f"features) but the edge from {src!r} delivers {list(arriving)}"
                       + (" (insert a Flatten)" if math.prod(arriving) == w.shape[1] else ""))
    if node.type == "Affine" and p["bias"].shape != (w.shape[0],):
        if p["bias"].size == 1:
            ctx.fix(node, f"broadcast it to ({w.shape[0]},)", "field 'bias' is a scalar")
            p["bias"] = np.full(w.shape[0], float(p["bias"].reshape(-1)[0]))
        else:
            raise _err(node, f"field 'bias' has shape {p['bias'].shape}, expected ({w.shape[0]},)")
    node.in_shape, node.out_shape = (w.shape[1],), (w.shape[0],)
    return True


def _accept_per_neuron(node: NodeSpec, arriving: Shape | None, src: str, ctx: _Context) -> bool:
    """Neurons, ``Scale``, ``Threshold``, ``Delay``: the shape of the per-neuron fields
    (fix-up: scalars broadcast to the arriving shape)."""
    p, names = node.params, _PER_NEURON[node.type]
    shape = p[names[0]].shape
    if arriving is not None and arriving != shape:
        if math.prod(shape) == 1:
            ctx.fix(node, f"broadcast them to {list(arriving)}", f"per-neuron fields have shape "
                    f"{list(shape)} but the edge from {src!r} delivers {list(arriving)}")
            for n in names:
                p[n] = np.broadcast_to(p[n].reshape(()), arriving).copy()
            shape = arriving
        else:
            raise _err(node, f"per-neuron fields have shape {list(shape)} but the edge from "
                             f"{src!r} delivers {list(arriving)}")
    node.in_shape = node.out_shape = tuple(shape)
    return True


def _accept_conv(node: NodeSpec, arriving: Shape | None, src: str, ctx: _Context) -> bool:
    """``Conv1d``/``Conv2d``: input ``[C_in, *spatial]`` from the edge or ``input_shape``."""
    p = node.params
    nd = 1 if node.type == "Conv1d" else 2
    w = p["weight"]
    if w.ndim != nd + 2:
        raise _err(node, f"field 'weight' must be {nd + 2}-D, got shape {w.shape}")
    groups = int(np.asarray(p["groups"]).reshape(-1)[0])
    c_in = w.shape[1] * groups
    given = p.get("input_shape")
    shape = arriving
    if shape is None and given is not None:
        shape = (c_in, *given)
    if shape is None:
        return False
    if len(shape) != nd + 1 or shape[0] != c_in:
        raise _err(node, f"expects input [{c_in}, {', '.join(['...'] * nd)}] (field 'weight' "
                         f"{w.shape}, groups {groups}) but the edge from {src!r} delivers "
                         f"{list(shape)}")
    if given is not None and tuple(given) != tuple(shape[1:]):
        ctx.fix(node, f"use {list(shape[1:])}", f"field 'input_shape' is {list(given)} but the "
                f"edge from {src!r} delivers spatial shape {list(shape[1:])}")
    p["input_shape"] = tuple(shape[1:])
    k, s = w.shape[2:], _per_dim(p["stride"], nd)
    pad, d = _per_dim(p["padding"], nd), _per_dim(p["dilation"], nd)
    out = tuple(_conv_out(shape[1 + i], k[i], s[i], pad[i], d[i]) for i in range(nd))
    if min(out) <= 0:
        raise _err(node, f"input {list(shape)} is too small for the kernel {list(k)}")
    node.in_shape, node.out_shape = tuple(shape), (w.shape[0], *out)
    return True


def _accept_pool(node: NodeSpec, arriving: Shape | None, src: str, ctx: _Context) -> bool:
    """``SumPool2d``/``AvgPool2d``: input ``[C, H, W]`` from the edge only."""
    if arriving is None:
        return False
    if len(arriving) != 3:
        raise _err(node, f"expects input [C, H, W] but the edge from {src!r} delivers "
                         f"{list(arriving)}")
    k, s, pad = (_per_dim(node.params[f], 2) for f in ("kernel_size", "stride", "padding"))
    out = tuple(_conv_out(arriving[1 + i], k[i], s[i], pad[i], 1) for i in range(2))
    node.in_shape, node.out_shape = tuple(arriving), (arriving[0], *out)
    return True


def _accept_flatten(node: NodeSpec, arriving: Shape | None, src: str, ctx: _Context) -> bool:
    """``Flatten``: dims ``start_dim..end_dim`` (negative from the end, batch excluded) merged."""
    p = node.params
    given = p.get("input_type")
    shape = arriving if arriving is not None else given
    if shape is None:
        return False
    if given is not None and arriving is not None and tuple(given) != tuple(arriving):
        ctx.fix(node, f"use {list(arriving)}", f"field 'input_type' is {list(given)} but the "
                f"edge from {src!r} delivers {list(arriving)}")
    n = len(shape)
    start, end = int(p["start_dim"]), int(p["end_dim"])
    start, end = start + n if start < 0 else start, end + n if end < 0 else end
    if not 0 <= start <= end < n:
        raise _err(node, f"start_dim {int(p['start_dim'])} / end_dim {int(p['end_dim'])} do not "
                         f"fit an input of shape {list(shape)} (NIR dims exclude the batch)")
    p["input_type"] = tuple(shape)
    node.in_shape = tuple(shape)
    node.out_shape = (*shape[:start], math.prod(shape[start:end + 1]), *shape[end + 1:])
    return True


def _accept_graph(node: NodeSpec, arriving: Shape | None, src: str, ctx: _Context) -> bool:
    """A nested ``NIRGraph``: the shapes of its single Input and Output."""
    sub = node.graph
    if len(sub.inputs) != 1 or len(sub.outputs) != 1:
        raise _err(node, f"a nested graph needs exactly one Input and one Output, it has "
                         f"{sub.inputs} and {sub.outputs}")
    inner_in = sub.nodes[sub.inputs[0]].out_shape
    if arriving is not None and arriving != inner_in:
        raise _err(node, f"its Input {sub.inputs[0]!r} has shape {list(inner_in)} but the edge "
                         f"from {src!r} delivers {list(arriving)}")
    node.in_shape, node.out_shape = inner_in, sub.nodes[sub.outputs[0]].out_shape
    return True


_SHAPE_RULES: dict[str, ShapeRule] = {
    "Input": _accept_input, "Output": _accept_output,
    "Affine": _accept_dense, "Linear": _accept_dense,
    **dict.fromkeys(_PER_NEURON, _accept_per_neuron),
    "Conv1d": _accept_conv, "Conv2d": _accept_conv,
    "SumPool2d": _accept_pool, "AvgPool2d": _accept_pool,
    "Flatten": _accept_flatten,
    "NIRGraph": _accept_graph,
}


def _accept(node: NodeSpec, arriving: Shape | None, src: str, ctx: _Context) -> bool:
    """Set ``node.in_shape``/``out_shape`` given the shape arriving on an edge (None: unknown)."""
    rule = _SHAPE_RULES.get(node.type)
    if rule is None:  # every type in FIELDS has a rule in _SHAPE_RULES
        raise _err(node, "internal error: no shape rule")
    return rule(node, arriving, src, ctx)


def _infer_shapes(graph: GraphSpec, ctx: _Context) -> None:
    preds: dict[str, list[str]] = {n: [] for n in graph.nodes}
    for a, b in graph.edges:
        preds[b].append(a)
    for name in graph.inputs:
        _accept(graph.nodes[name], None, "", ctx)
    todo = [n for n in graph.nodes if n not in graph.inputs]
    while todo:
        # nodes fed by a node of known shape first (so fix-ups see the arriving shape), then
        # nodes whose own fields fix their shape (cycles, nodes not reached from an Input)
        progress = False
        for name in list(todo):
            known = [p for p in preds[name] if graph.nodes[p].out_shape is not None]
            if known and _accept(graph.nodes[name], graph.nodes[known[0]].out_shape, known[0], ctx):
                todo.remove(name)
                progress = True
        if progress:
            continue
        for name in list(todo):
            if graph.nodes[name].type != "Output" and _accept(graph.nodes[name], None, "", ctx):
                todo.remove(name)
                progress = True
                break
        if not progress:
            raise NIRError(f"graph {graph.path or '/'!r}: cannot infer the shapes of {todo} "
                           "(no Input reaches them and their fields do not fix a shape)")
    for a, b in graph.edges:
        out, inp = graph.nodes[a].out_shape, graph.nodes[b].in_shape
        if out != inp:
            node = graph.nodes[b]
            raise NIRError(f"shape mismatch on edge {a!r} -> {b!r} in graph {graph.path or '/'!r}: "
                           f"{a!r} ({graph.nodes[a].type}) outputs {list(out)} but {b!r} "
                           f"({node.type}) expects {list(inp)}")


def _check_cycles(graph: GraphSpec, ctx: _Context) -> None:
    """A cycle needs a stateful node (neuron, integrator, Delay) to define when values arrive."""
    succ: dict[str, list[str]] = {n: [] for n in graph.nodes}
    for a, b in graph.edges:
        succ[a].append(b)
    for start in graph.nodes:
        # nodes on a cycle through `start` = reachable from start and reaching start
        seen, stack = set(), [start]
        while stack:
            for nxt in succ[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        if start not in seen:
            continue
        cycle = sorted(n for n in seen if _reaches(succ, n, start))
        if not any(_stateful(graph.nodes[n]) for n in cycle):
            ctx.fix(graph.nodes[start], "apply a one-step delay on the back edge",
                    f"lies on the cycle {cycle}, which has no stateful node (neuron, integrator or "
                    "Delay) to define when its values are available")
            return


def _reaches(succ: dict, a: str, b: str) -> bool:
    seen, stack = {a}, [a]
    while stack:
        n = stack.pop()
        if n == b:
            return True
        for nxt in succ[n]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False


def _stateful(node: NodeSpec) -> bool:
    if node.type == "NIRGraph":
        return any(_stateful(n) for n in node.graph.nodes.values())
    return node.type in STATEFUL
