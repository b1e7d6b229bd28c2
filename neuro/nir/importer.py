"""``from_nir``: any NIR graph of supported nodes -> a runnable :class:`neuro.nn.Graph`.

Node mapping (time step ``dt``, see :mod:`neuro.nir.discretization` for the neuron equations):

==============  ===========================================================================
NIR             neuro
==============  ===========================================================================
Affine/Linear   ``nn.Linear`` (weights ``[out, in]``)
Conv1d/Conv2d   ``nn.Conv1d`` / ``nn.Conv2d`` (zero padding, groups, dilation)
AvgPool2d       ``nn.AvgPool2d`` (padding counted in the mean, as NIR/PyTorch define it)
SumPool2d       :class:`neuro.nn.SumPool2d`
Flatten         ``nn.Flatten`` (NIR dims exclude the batch)
Scale           :class:`neuro.nn.Scale`
Threshold       :class:`neuro.nn.Threshold` (``>``)
I               :class:`neuro.nn.Integrator`, ``r = R dt``
IF              ``IF(r = R dt, reset="zero", threshold_op=">")``
LIF / LI        Euler ``LIF`` / ``LI`` with ``decay_input=True``
CubaLIF/CubaLI  Euler ``CubaLIF`` / ``CubaLI`` with ``decay_input=True``
NIRGraph        a nested :class:`neuro.nn.Graph`
Delay           :class:`neuro.nn.FixedDelay`, ``delay / dt`` steps (whole numbers, see below)
==============  ===========================================================================

A ``Delay`` of ``delay`` seconds per channel (1-D) becomes a per-neuron ``FixedDelay`` of
``round(delay / dt)`` steps; a delay that is not a whole number of steps (within
:data:`DELAY_STEP_TOLERANCE` of a step), negative, or of more than one dimension is an error naming
the node. A per-synapse ``FixedDelay`` exported by neuro comes back as the equivalent subgraph
of ``Linear -> Delay`` branches (same outputs up to float summation order).

Cycles run with NIR's one-step semantics (:mod:`neuro.nn.graph`). Nodes exported by neuro carry
``metadata["neuro"]``; when it agrees with the standard fields the exact neuro neuron is rebuilt
(bit-identical round trips, including semantics NIR lacks such as subtract resets).
"""

from __future__ import annotations

import json
import os
from typing import Any, Union

import numpy as np
import torch
from torch import nn

from neuro.nir import discretization as D
from neuro.nir._deps import NIRError
from neuro.nir.hdf5 import read_nir_file
from neuro.nir.spec import NEURONS, GraphSpec, NodeSpec, parse_graph
from neuro.nn.delay import FixedDelay
from neuro.nn.graph import Graph
from neuro.nn.layers import Scale, SumPool2d, Threshold

Source = Union[str, "os.PathLike[str]", Any]  # a path or a nir.NIRGraph

# how far (in steps) delay / dt may be from a whole number: float32-stored delays of up to ~10^4
# steps stay within it, a delay that falls between two steps does not
DELAY_STEP_TOLERANCE = 1e-3


def _to_tree(source: Source) -> tuple[dict, str | None]:
    if isinstance(source, (str, os.PathLike)):
        version, tree = read_nir_file(source)
        return tree, version
    if type(source).__name__ == "NIRGraph" and hasattr(source, "to_dict"):
        return source.to_dict(), None
    raise TypeError(f"from_nir expects a path to a .nir file or a nir.NIRGraph, got "
                    f"{type(source).__name__}")


def load_spec(source: Source, strict: bool = True) -> GraphSpec:
    """Parse and validate a NIR graph (file or ``nir.NIRGraph``) without building modules."""
    tree, _ = _to_tree(source)
    return parse_graph(tree, strict=strict)


def _ints(value: Any, n: int) -> tuple[int, ...] | str:
    if isinstance(value, str):
        return value
    arr = np.asarray(value).reshape(-1)
    return tuple(int(arr[0]) for _ in range(n)) if arr.size == 1 else tuple(int(v) for v in arr)


def _tensor(a: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    return torch.tensor(np.asarray(a), dtype=dtype)


def _delay_module(node: NodeSpec, dt: float, backend: str) -> FixedDelay:
    """``FixedDelay`` of ``round(delay / dt)`` steps per channel (module docstring)."""
    delay = np.asarray(node.params["delay"], dtype=np.float64)
    where = f"node {node.name!r} (Delay)"
    if delay.ndim != 1:
        raise NIRError(f"{where}: field 'delay' has shape {list(delay.shape)}; neuro's FixedDelay "
                       "delays the channels of [T, B, C] (one delay per channel, 1-D): insert a "
                       "Flatten before the Delay")
    if delay.size and delay.min() < 0:
        raise NIRError(f"{where}: field 'delay' must be >= 0 seconds, got {delay.min():g} at "
                       f"channel {int(delay.argmin())}")
    steps = delay / dt
    whole = np.round(steps)
    off = np.abs(steps - whole)
    if delay.size and off.max() > DELAY_STEP_TOLERANCE:
        k = int(off.argmax())
        raise NIRError(f"{where}: delay {delay[k]:g} s at channel {k} is {steps[k]:g} steps of "
                       f"dt = {dt:g} s, not a whole number of steps (tolerance "
                       f"{DELAY_STEP_TOLERANCE} step); pass a dt that divides every delay")
    max_delay = int(whole.max()) if whole.size else 0
    text = node.metadata.get("neuro")
    if isinstance(text, str):  # a neuro export: keep its state length (streaming state shape)
        try:
            info = json.loads(text)
            if info.get("class") == "FixedDelay" and info.get("export_dt") == dt:
                max_delay = max(max_delay, int(info["max_delay"]))
        except (ValueError, KeyError, TypeError):
            pass
    return FixedDelay(torch.as_tensor(whole, dtype=torch.long), max_delay=max_delay,
                      backend=backend)


def _module(node: NodeSpec, dt: float, backend: str, dtype: torch.dtype, strict: bool) -> nn.Module:
    p, t = node.params, node.type
    if t in ("Affine", "Linear"):
        w = p["weight"]
        layer = nn.Linear(w.shape[1], w.shape[0], bias=t == "Affine", dtype=dtype)
        with torch.no_grad():
            layer.weight.copy_(_tensor(w, dtype))
            if t == "Affine":
                layer.bias.copy_(_tensor(p["bias"], dtype))
        return layer
    if t in ("Conv1d", "Conv2d"):
        nd = 1 if t == "Conv1d" else 2
        w = p["weight"]
        groups = int(np.asarray(p["groups"]).reshape(-1)[0])
        cls = nn.Conv1d if nd == 1 else nn.Conv2d
        layer = cls(w.shape[1] * groups, w.shape[0], tuple(w.shape[2:]), stride=_ints(p["stride"], nd),
                    padding=_ints(p["padding"], nd), dilation=_ints(p["dilation"], nd), groups=groups,
                    bias=True, dtype=dtype)
        with torch.no_grad():
            layer.weight.copy_(_tensor(w, dtype))
            layer.bias.copy_(_tensor(p["bias"], dtype))
        return layer
    if t == "AvgPool2d":
        return nn.AvgPool2d(_ints(p["kernel_size"], 2), _ints(p["stride"], 2), _ints(p["padding"], 2))
    if t == "SumPool2d":
        return SumPool2d(_ints(p["kernel_size"], 2), _ints(p["stride"], 2), _ints(p["padding"], 2))
    if t == "Flatten":
        n = len(node.in_shape)
        start, end = int(p["start_dim"]), int(p["end_dim"])
        start, end = start + n if start < 0 else start, end + n if end < 0 else end
        return nn.Flatten(start + 1, end + 1)  # + the batch dim
    if t == "Scale":
        return Scale(_tensor(p["scale"], dtype))
    if t == "Threshold":
        return Threshold(_tensor(p["threshold"], dtype))
    if t == "Delay":
        return _delay_module(node, dt, backend)
    if t in NEURONS:
        neuron = D.neuron_from_fields(t, p, dt, backend, node.name, dtype)
        exact = D.metadata_module(node.metadata, neuron, node.in_shape, backend, node.name, dtype)
        return exact or neuron
    if t == "NIRGraph":
        return _graph(node.graph, dt, backend, dtype, strict)
    raise NIRError(f"node {node.name!r}: type {t} has no neuro module")


def _graph(spec: GraphSpec, dt: float, backend: str, dtype: torch.dtype, strict: bool) -> Graph:
    inputs, outputs = spec.inputs, spec.outputs
    nodes = {name: _module(node, dt, backend, dtype, strict) for name, node in spec.nodes.items()
             if node.type not in ("Input", "Output")}
    return Graph(nodes, spec.edges, inputs, outputs,
                 input_shapes={i: spec.nodes[i].out_shape for i in inputs},
                 node_shapes={n: (spec.nodes[n].in_shape, spec.nodes[n].out_shape) for n in nodes})


def _needs_dt(spec: GraphSpec) -> bool:
    return any(_needs_dt(n.graph) if n.type == "NIRGraph" else n.type in NEURONS + ("Delay",)
               for n in spec.nodes.values())


def _export_dt(spec: GraphSpec) -> float | None:
    for node in spec.nodes.values():
        if node.type == "NIRGraph":
            found = _export_dt(node.graph)
            if found is not None:
                return found
        text = node.metadata.get("neuro")
        if isinstance(text, str):
            try:
                return float(json.loads(text)["export_dt"])
            except (ValueError, KeyError, TypeError):
                continue
    return None


def from_nir(source: Source, dt: float | None = None, *, strict: bool = True,
             backend: str = "auto", dtype: torch.dtype | None = None) -> Graph:
    """Build a runnable neuro :class:`~neuro.nn.Graph` from a NIR graph.

    Args:
        source: path of a ``.nir`` file, or a ``nir.NIRGraph``.
        dt: time step (seconds) used to discretise the continuous-time neuron nodes. NIR files do
            not store one; ``None`` uses the ``dt`` recorded by a neuro export, else raises.
        strict: reject non-conforming graphs (errors name the node and field); ``False`` applies
            the fix-ups of :mod:`neuro.nir.spec` with a warning each.
        backend: kernel backend of the neuron layers (``"auto"|"torch"|"numba"|"cuda"``).
        dtype: parameter dtype of the layers (default: torch's default dtype).

    Returns a module ``graph(x[T, B, *input_shape], state=None) -> (out, state)``.
    """
    tree, _ = _to_tree(source)
    spec = parse_graph(tree, strict=strict)
    if dt is None:
        dt = _export_dt(spec)
        if dt is None and not _needs_dt(spec):
            dt = 1e-3  # no neuron or delay: the time step does not enter the computation
        if dt is None:
            raise ValueError("NIR graphs do not store a time step: pass dt= (seconds; the NIR "
                             "paper's examples use 1e-4)")
    if not (isinstance(dt, (int, float)) and np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive number of seconds, got {dt!r}")
    return _graph(spec, float(dt), backend, dtype or torch.get_default_dtype(), strict)
