"""``to_nir`` / ``write_nir``: neuro models -> NIR graphs with every node's shape filled in.

Accepted models: :class:`neuro.nn.Sequential` (nested ones become NIR subgraphs),
:class:`neuro.nn.Graph` (e.g. one returned by :func:`neuro.nir.from_nir`; node names are kept), or a
single layer. Layers: ``nn.Linear`` (``Affine``, or ``Linear`` without bias), ``nn.Conv1d``/``Conv2d``,
``nn.AvgPool2d``, :class:`~neuro.nn.SumPool2d`, ``nn.Flatten``, :class:`~neuro.nn.Scale`,
:class:`~neuro.nn.Threshold`, the neurons ``IF``, ``LIF``, ``CubaLIF``, ``LI``, ``CubaLI``,
:class:`~neuro.nn.Integrator` (``I``), and :class:`~neuro.nn.Recurrent`, which becomes the cycle
``k.neuron -> k.w_rec -> k.neuron`` (the layout of the NIR paper's recurrent graphs, which
snnTorch's importer recognises). ``nn.Identity``/``nn.Dropout`` are skipped (inference semantics).

:class:`~neuro.nn.FixedDelay` with per-neuron integer delays ``d`` (``y_t = x_{t-d}``) becomes
``Delay(delay = d * dt)`` (seconds). A per-synapse ``FixedDelay`` (``y_t[o] = sum_i w_oi
x_{t - d_oi}[i]``) has no single NIR node; it is exported exactly as a nested ``NIRGraph``: the
delay commutes with the weights, so for each distinct delay ``d`` there is a branch
``Linear(W_d) -> Delay(d * dt)`` (``W_d`` keeps the weights of the synapses with delay ``d``,
zeros elsewhere; the ``d = 0`` branch has no ``Delay``), and the output sums the branches.

Shapes are found by running the model once on zeros (``input_shape`` is the feature shape of one
time step; it defaults to what the first layer implies). Neuron parameters are converted as
documented in :mod:`neuro.nir.discretization`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from neuro.nir import discretization as D
from neuro.nir._deps import NIRError, require_nir
from neuro.nir.hdf5 import PathLike, atomic_write
from neuro.nn.containers import Sequential, TimeDistributed
from neuro.nn.delay import FixedDelay
from neuro.nn.fold import fold_batch_norm
from neuro.nn.graph import Graph
from neuro.nn.layers import Scale, SumPool2d, Threshold
from neuro.nn.neurons import NeuronBase
from neuro.nn.recurrent import Recurrent

Shape = tuple[int, ...]
_SKIP = (nn.Identity, nn.Dropout)
_EXPORTABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.AvgPool2d, SumPool2d, nn.Flatten, Scale, Threshold,
               NeuronBase, FixedDelay, Recurrent, Sequential, Graph, TimeDistributed)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().copy()


def _neuron_dts(model: nn.Module) -> set:
    return {m.dt for m in model.modules() if isinstance(m, NeuronBase)}


def _as_graph(model: nn.Module) -> Graph:
    """A :class:`Graph` view of ``model`` (sharing its layers)."""
    if isinstance(model, Graph):
        return model
    layers = list(model.layers) if isinstance(model, Sequential) else [model]
    layers = [m.layer if isinstance(m, TimeDistributed) else m for m in layers]
    kept = [(str(k), m) for k, m in enumerate(layers) if not isinstance(m, _SKIP)]
    if not kept:
        raise NIRError("the model has no layer to export")
    names = [k for k, _ in kept]
    chain = ["input", *names, "output"]
    return Graph(dict(kept), list(zip(chain[:-1], chain[1:])), ["input"], ["output"])


def _default_input_shape(model: nn.Module) -> Shape:
    first = model
    while True:
        if isinstance(first, Sequential):
            first = [m for m in first.layers
                     if not isinstance(m.layer if isinstance(m, TimeDistributed) else m, _SKIP)][0]
        elif isinstance(first, TimeDistributed):
            first = first.layer
        elif isinstance(first, Recurrent):
            first = first.neuron
        else:
            break
    if isinstance(first, nn.Linear):
        return (first.in_features,)
    if isinstance(first, FixedDelay):  # delays [C] or [out, in]
        return (int(first.delays.shape[-1]),)
    if isinstance(first, NeuronBase) and first.shape:
        return tuple(first.shape)
    raise NIRError(f"cannot tell the input shape of a model starting with {type(first).__name__}; "
                   "pass input_shape= (the feature shape of one time step, e.g. (2, 34, 34))")


class _Builder:
    def __init__(self, nir: Any, dt: float, strict: bool) -> None:
        self.nir, self.dt, self.strict = nir, dt, strict

    def typed(self, node: Any, in_shape: Shape, out_shape: Shape) -> Any:
        node.input_type = {"input": np.array(in_shape)}
        node.output_type = {"output": np.array(out_shape)}
        return node

    def layer(self, m: nn.Module, name: str, in_shape: Shape, out_shape: Shape) -> Any:
        nir = self.nir
        if isinstance(m, TimeDistributed):
            m = m.layer
        if isinstance(m, nn.Linear):
            node = (nir.Affine(_np(m.weight), _np(m.bias)) if m.bias is not None
                    else nir.Linear(_np(m.weight)))
        elif isinstance(m, (nn.Conv1d, nn.Conv2d)):
            if m.padding_mode != "zeros":
                raise NIRError(f"layer {name!r}: NIR convolutions are zero-padded, got "
                               f"padding_mode={m.padding_mode!r}")
            one = isinstance(m, nn.Conv1d)
            pad = m.padding if isinstance(m.padding, str) else (
                int(m.padding[0]) if one else tuple(int(p) for p in m.padding))
            bias = _np(m.bias) if m.bias is not None else np.zeros(m.out_channels, np.float32)
            cls = nir.Conv1d if one else nir.Conv2d
            node = cls(input_shape=int(in_shape[1]) if one else tuple(in_shape[1:]),
                       weight=_np(m.weight), stride=int(m.stride[0]) if one else tuple(m.stride),
                       padding=pad, dilation=int(m.dilation[0]) if one else tuple(m.dilation),
                       groups=int(m.groups), bias=bias)
        elif isinstance(m, nn.AvgPool2d):
            if m.ceil_mode or not m.count_include_pad or m.divisor_override is not None:
                raise NIRError(f"layer {name!r}: NIR AvgPool2d has no ceil_mode, "
                               "count_include_pad=False or divisor_override")
            k, s, p = (np.array(v if isinstance(v, (tuple, list)) else (v, v))
                       for v in (m.kernel_size, m.stride or m.kernel_size, m.padding))
            node = nir.AvgPool2d(kernel_size=k, stride=s, padding=p)
        elif isinstance(m, SumPool2d):
            node = nir.SumPool2d(kernel_size=np.array(m.kernel_size), stride=np.array(m.stride),
                                 padding=np.array(m.padding))
        elif isinstance(m, nn.Flatten):
            if m.start_dim == 0:
                raise NIRError(f"layer {name!r}: Flatten(start_dim=0) would merge the batch")
            shift = lambda d: d - 1 if d > 0 else d  # noqa: E731  (NIR dims exclude the batch)
            node = nir.Flatten(input_type={"input": np.array(in_shape)},
                               start_dim=shift(m.start_dim), end_dim=shift(m.end_dim))
        elif isinstance(m, Scale):
            node = nir.Scale(np.broadcast_to(_np(m.scale), in_shape).copy())
        elif isinstance(m, Threshold):
            node = nir.Threshold(np.broadcast_to(_np(m.threshold), in_shape).copy())
        elif isinstance(m, NeuronBase):
            kind, fields, meta = D.neuron_fields(m, in_shape, self.dt, name)
            node = getattr(nir, kind)(**fields)
            node.metadata = meta
        elif isinstance(m, FixedDelay):
            if m.weight is not None:
                return self.typed(self.synaptic_delays(m, in_shape, out_shape), in_shape, out_shape)
            node = self.delay(m.delays, m.max_delay)
        else:
            raise NIRError(f"cannot export layer {name!r} of type {type(m).__name__} to NIR; "
                           f"supported: {', '.join(t.__name__ for t in _EXPORTABLE)}")
        return self.typed(node, in_shape, out_shape)

    def graph(self, g: Graph, input_shapes: dict[str, Shape]) -> Any:
        nir = self.nir
        for name in g.node_names:  # before running anything: say which layer NIR cannot hold
            m = g.module(name)
            if not isinstance(m, _EXPORTABLE):
                raise NIRError(f"cannot export layer {name!r} of type {type(m).__name__} to NIR; "
                               f"supported: {', '.join(t.__name__ for t in _EXPORTABLE)}")
            for sub_name, neuron in _neurons(m, name):
                D.check_exportable(neuron, sub_name, self.strict)
        shapes = g.trace_shapes(input_shapes)
        nodes: dict[str, Any] = {}
        edges: list[tuple[str, str]] = list(g.edges)
        for name in g.inputs:
            nodes[name] = nir.Input(input_type={"input": np.array(input_shapes[name])})
        for name in g.node_names:
            m = g.module(name)
            in_shape, out_shape = shapes[name]
            if isinstance(m, Recurrent):
                nodes.update(self.recurrent(m, name, in_shape))
                edges = _expand_recurrent(edges, name)
            elif isinstance(m, (Sequential, Graph)):
                sub = _as_graph(m)
                nodes[name] = self.typed(self.graph(sub, {sub.inputs[0]: in_shape}), in_shape,
                                         out_shape)
            else:
                nodes[name] = self.layer(m, name, in_shape, out_shape)
        for name in g.outputs:
            src = next(a for a, b in g.edges if b == name)
            shape = (input_shapes[src] if src in g.inputs else shapes[src][1])
            nodes[name] = nir.Output(output_type={"output": np.array(shape)})
        return nir.NIRGraph(nodes=nodes, edges=edges, type_check=True)

    def delay(self, steps: torch.Tensor, max_delay: int) -> Any:
        """``Delay`` of ``steps * dt`` seconds; the metadata keeps ``dt`` and the state length."""
        node = self.nir.Delay(delay=steps.detach().cpu().numpy().astype(np.float64) * self.dt)
        node.metadata = {"neuro": json.dumps({"class": "FixedDelay", "export_dt": self.dt,
                                              "max_delay": int(max_delay)})}
        return node

    def synaptic_delays(self, m: FixedDelay, in_shape: Shape, out_shape: Shape) -> Any:
        """A per-synapse ``FixedDelay`` as a subgraph of ``Linear -> Delay`` branches, one per
        distinct delay (module docstring)."""
        nir = self.nir
        weight, delays = _np(m.weight), m.delays.detach().cpu().numpy()
        nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array(in_shape)}),
                                 "output": nir.Output(output_type={"output": np.array(out_shape)})}
        edges: list[tuple[str, str]] = []
        for d in np.unique(delays):
            w = np.where(delays == d, weight, 0).astype(weight.dtype)
            lin = f"w{d}"
            nodes[lin] = self.typed(nir.Linear(w), in_shape, out_shape)
            edges.append(("input", lin))
            if d == 0:
                edges.append((lin, "output"))
                continue
            nodes[f"d{d}"] = self.typed(self.delay(torch.full(out_shape, int(d)), m.max_delay),
                                        out_shape, out_shape)
            edges += [(lin, f"d{d}"), (f"d{d}", "output")]
        return nir.NIRGraph(nodes=nodes, edges=edges, type_check=True)

    def recurrent(self, m: Recurrent, name: str, shape: Shape) -> dict[str, Any]:
        return {f"{name}.neuron": self.layer(m.neuron, f"{name}.neuron", shape, shape),
                f"{name}.w_rec": self.layer(m.recurrent, f"{name}.w_rec", shape, shape)}


def _neurons(m: nn.Module, name: str) -> list:
    """The neurons of layer ``m`` with the node names they get (nested graphs are checked later)."""
    if isinstance(m, NeuronBase):
        return [(name, m)]
    if isinstance(m, Recurrent):
        return [(f"{name}.neuron", m.neuron)]
    return []


def _expand_recurrent(edges: list[tuple[str, str]], name: str) -> list[tuple[str, str]]:
    """Replace node ``name`` by ``name.neuron`` (+ its cycle through ``name.w_rec``)."""
    neuron, w_rec = f"{name}.neuron", f"{name}.w_rec"
    out = [(neuron if a == name else a, neuron if b == name else b) for a, b in edges]
    # external inputs first, so the neuron sums "input + recurrent" like Recurrent does
    last_in = max(k for k, (_, b) in enumerate(out) if b == neuron)
    out[last_in + 1:last_in + 1] = [(neuron, w_rec), (w_rec, neuron)]
    return out


def to_nir(model: nn.Module, dt: float | None = None, *,
           input_shape: Shape | dict | None = None, strict: bool = True) -> Any:
    """Export ``model`` to a ``nir.NIRGraph`` (see the module docstring).

    Args:
        model: ``Sequential``, ``Graph`` or a single layer.
        dt: the time step NIR's Euler discretisation is taken at (seconds). ``None`` uses the
            neurons' own ``dt`` (which must then agree). A different ``dt`` rescales the time
            constants so that NIR's Euler step at ``dt`` reproduces the discrete model.
        input_shape: feature shape of one time step (dict ``{input: shape}`` for graphs with
            several inputs); default: implied by the first layer.
        strict: refuse semantics NIR cannot express (subtract / delayed resets, ``>=``
            thresholds); ``False`` exports the nearest NIR node with a warning and keeps the exact
            configuration in ``metadata["neuro"]``.
    """
    nir = require_nir()
    dts = _neuron_dts(model)
    if dt is None:
        if len(dts) > 1:
            raise NIRError(f"the model's neurons use different dt {sorted(dts)}; pass dt=")
        dt = dts.pop() if dts else 1e-3
    if not (isinstance(dt, (int, float)) and np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive number of seconds, got {dt!r}")
    graph = _as_graph(model)  # names and input shapes (BatchNorm is folded before building)
    if isinstance(input_shape, dict):
        shapes = {k: tuple(v) for k, v in input_shape.items()}
    elif input_shape is not None:
        shapes = {graph.inputs[0]: tuple(int(d) for d in input_shape)}
    elif graph.input_shapes:
        shapes = dict(graph.input_shapes)
    else:
        shapes = {graph.inputs[0]: _default_input_shape(model)}
    was_training = model.training
    model.eval()
    try:
        return _Builder(nir, float(dt), strict).graph(_as_graph(fold_batch_norm(model)), shapes)
    finally:
        model.train(was_training)


def write_nir(model_or_graph: Any, path: PathLike, dt: float | None = None, *,
              input_shape: Sequence[int] | dict | None = None, strict: bool = True) -> Any:
    """Export (if needed) and write a ``.nir`` file atomically; returns the ``nir.NIRGraph``.

    This is the function behind ``neuro export``: give it the model restored from a checkpoint.
    """
    nir = require_nir()
    graph = model_or_graph if isinstance(model_or_graph, nir.NIRGraph) else to_nir(
        model_or_graph, dt, input_shape=input_shape, strict=strict)
    atomic_write(path, lambda tmp: nir.write(tmp, graph))
    return graph
