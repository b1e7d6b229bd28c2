"""Human-readable summaries and drawings of NIR graphs (``neuro inspect``)."""

from __future__ import annotations

import warnings

import numpy as np

from neuro.nir._deps import NIRFixupWarning
from neuro.nir.hdf5 import PathLike, atomic_write, read_nir_file
from neuro.nir.spec import GraphSpec, NodeSpec, parse_graph
from neuro.nn.graph import back_edges


def _summary(value: object) -> str:
    arr = np.asarray(value) if not isinstance(value, str) else None
    if arr is None:
        return repr(value)
    if arr.size == 1:
        return f"{arr.reshape(-1)[0]:g}" if arr.dtype.kind in "fiu" else str(arr.reshape(-1)[0])
    if arr.dtype.kind not in "fiu":
        return f"<{arr.dtype} {list(arr.shape)}>"
    lo, hi = float(arr.min()), float(arr.max())
    spread = f"{lo:g}" if lo == hi else f"{lo:g}..{hi:g}"
    return f"[{'x'.join(map(str, arr.shape))}] {spread}"


def _back_edges(spec: GraphSpec) -> set:
    """Edges that close a cycle, by the same rule as ``neuro.nn.Graph`` (inputs first)."""
    succ: dict = {n: [] for n in spec.nodes}
    for a, b in spec.edges:
        succ[a].append(b)
    return back_edges(spec.inputs + [n for n in spec.nodes if n not in spec.inputs], succ)


def describe_spec(spec: GraphSpec, indent: str = "") -> list[str]:
    """Lines describing the nodes (type, shapes, parameters) and edges of ``spec``."""
    lines = []
    back = _back_edges(spec)
    for name, node in spec.nodes.items():
        shapes = f"{list(node.in_shape or [])} -> {list(node.out_shape or [])}"
        lines.append(f"{indent}{name:<24} {node.type:<10} {shapes}")
        if node.type == "NIRGraph":
            lines.extend(describe_spec(node.graph, indent + "    "))
            continue
        for key, value in node.params.items():
            if node.type in ("Input", "Output") or value is None:
                continue
            lines.append(f"{indent}    {key:<14} {_summary(value)}")
        if "neuro" in node.metadata:
            lines.append(f"{indent}    (metadata: exact neuro configuration recorded)")
    lines.append(f"{indent}edges:")
    for a, b in spec.edges:
        mark = "   [recurrent: previous step]" if (a, b) in back else ""
        lines.append(f"{indent}    {a} -> {b}{mark}")
    return lines


def describe(path: PathLike, strict: bool = False) -> tuple[str, GraphSpec]:
    """A text summary of a ``.nir`` file (and the parsed graph); fix-ups are listed, not hidden."""
    version, tree = read_nir_file(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NIRFixupWarning)
        spec = parse_graph(tree, strict=strict)
    lines = [f"{path}: NIR version {version}, {len(spec.nodes)} nodes, {len(spec.edges)} edges"]
    lines += [f"non-conforming (fixed leniently): {w.message}" for w in caught
              if issubclass(w.category, NIRFixupWarning)]
    lines += describe_spec(spec)
    return "\n".join(lines), spec


def _layers(spec: GraphSpec) -> dict[str, int]:
    back = _back_edges(spec)
    depth = {n: 0 for n in spec.nodes}
    for _ in range(len(spec.nodes)):  # longest path over forward edges
        for a, b in spec.edges:
            if (a, b) not in back:
                depth[b] = max(depth[b], depth[a] + 1)
    return depth


def draw(spec: GraphSpec, png: PathLike, title: str | None = None) -> None:
    """Draw the top-level graph to ``png`` (layers left to right; recurrent edges dashed red)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    depth = _layers(spec)
    columns: dict[int, list[str]] = {}
    for n, d in depth.items():
        columns.setdefault(d, []).append(n)
    pos = {n: (d, -k + (len(col) - 1) / 2) for d, col in columns.items() for k, n in enumerate(col)}
    back = _back_edges(spec)
    fig, ax = plt.subplots(figsize=(max(4, 2.2 * len(columns)),
                                    max(3, 1.4 * max(map(len, columns.values())))))
    for a, b in spec.edges:
        (x0, y0), (x1, y1) = pos[a], pos[b]
        style = dict(arrowstyle="-|>", shrinkA=22, shrinkB=22, mutation_scale=14,
                     color="tab:red" if (a, b) in back else "0.3",
                     linestyle="--" if (a, b) in back else "-",
                     connectionstyle="arc3,rad=0.35" if (a, b) in back or x1 <= x0 else "arc3")
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=style)
    for n, (x, y) in pos.items():
        node: NodeSpec = spec.nodes[n]
        ax.text(x, y, f"{n}\n{node.type} {list(node.out_shape or [])}", ha="center", va="center",
                fontsize=8, bbox=dict(boxstyle="round", fc="white", ec="tab:blue"))
    ax.set_xlim(-0.7, max(columns) + 0.7)
    ys = [y for _, y in pos.values()]
    ax.set_ylim(min(ys) - 1, max(ys) + 1)
    ax.axis("off")
    ax.set_title(title or "NIR graph (dashed red: recurrent edge, value of the previous step)", fontsize=9)
    atomic_write(png, lambda tmp: fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight"))
    plt.close(fig)
