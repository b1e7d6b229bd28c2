"""Tracing scalar Python into straight-line code, and its reverse-mode derivative (torch-free).

A model's step is written once as plain scalar Python (``v + dt * (0.04 * v * v + ...)``). Calling
it on :class:`Sym` values records every arithmetic operation, in Python's evaluation order, into a
:class:`Trace`; :func:`forward_lines` writes the trace back out as straight-line assignments and
:func:`adjoint_lines` writes its vector-Jacobian product (reverse-mode automatic differentiation,
one adjoint per recorded value). The emitted text calls only ``+ - * /``, unary minus, ``abs`` and
the named helpers of :data:`HELPERS`, so the same text runs

* under Numba on the CPU and as ``numba.cuda`` device functions (``neuron_spec`` binds the helpers
  to compiled scalar functions), and
* on torch tensors, where it is the model's torch reference (``neuro.ops.spec`` binds the helpers
  to torch functions) and autograd is the independent check of the generated derivative.

Because the emitted operations are exactly the recorded ones, in the recorded order, the kernels
and the reference perform the same IEEE operations in the same order (bit-identical unless a
transcendental helper differs between libm, libdevice and torch).

What a traced function may do: arithmetic between :class:`Sym` values and Python numbers
(``int`` / ``float``; integer powers ``v ** 2`` are expanded into multiplications), and the
functions below (:func:`exp`, :func:`log`, :func:`sqrt`, :func:`tanh`, :func:`minimum`,
:func:`maximum`, :func:`heaviside`, ``abs``). A Python ``if`` on a traced value is impossible (its
truth is unknown while tracing) and raises a ``TypeError`` that says to use :func:`maximum`,
:func:`minimum` or :func:`heaviside` instead. The same functions accept Python numbers and torch
tensors (duck-typed, so this module imports neither torch nor numpy), so a model description can
also be evaluated directly.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

Ref = tuple  # ("n", index) | ("c", value) | ("v", name): a node, a constant, a named input

#: helper names the emitted text calls; each flavour binds them (see module docstring)
HELPERS = ("exp", "log", "sqrt", "tanh", "powf", "maximum", "minimum", "step_gt", "step_ge",
           "select_lt", "select_ge")

_UNARY = {"exp": math.exp, "log": math.log, "sqrt": math.sqrt, "tanh": math.tanh}


class Trace:
    """The operations recorded while a function runs on :class:`Sym` values.

    ``nodes[i] = (op, operands)``; node ``i`` may only use nodes before it, so the list is in
    topological order. ``constants`` are the distinct Python numbers met, in order of first use.
    """

    def __init__(self) -> None:
        self.nodes: list[tuple[str, tuple[Ref, ...]]] = []
        self.constants: list[float] = []
        self._const_index: dict[str, int] = {}

    def input(self, name: str) -> Sym:
        """A named input value."""
        return Sym(self, ("v", name))

    def constant(self, value: float) -> Ref:
        """The reference of a Python number (registered once; ``-0.0`` is kept apart from ``0.0``)."""
        value = float(value)
        key = repr(value)
        if key not in self._const_index:
            self._const_index[key] = len(self.constants)
            self.constants.append(value)
        return ("c", value)

    def record(self, op: str, *operands: Ref) -> Sym:
        """Append one operation and return its result."""
        self.nodes.append((op, operands))
        return Sym(self, ("n", len(self.nodes) - 1))

    def ref_of(self, value: Any, what: str) -> Ref:
        """The reference of a traced value or a Python number returned by a model function."""
        if isinstance(value, Sym):
            if value.trace is not self:
                raise ValueError(f"{what} comes from another trace")
            return value.ref
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return self.constant(value)
        raise TypeError(f"{what} must be a traced value or a number, got {type(value).__name__}")


def _operand(trace: Trace, other: Any) -> Ref | None:
    if isinstance(other, Sym):
        if other.trace is not trace:
            raise ValueError("values of two different traces were combined")
        return other.ref
    if isinstance(other, numbers.Real) and not isinstance(other, bool):
        return trace.constant(other)
    return None


class Sym:
    """A scalar value being traced: arithmetic on it records operations into its :class:`Trace`."""

    __slots__ = ("trace", "ref")

    def __init__(self, trace: Trace, ref: Ref) -> None:
        self.trace = trace
        self.ref = ref

    def _binary(self, op: str, other: Any, swap: bool = False) -> Sym:
        ref = _operand(self.trace, other)
        if ref is None:
            return NotImplemented
        return self.trace.record(op, ref, self.ref) if swap else self.trace.record(op, self.ref, ref)

    def __add__(self, o): return self._binary("add", o)  # noqa: E704
    def __radd__(self, o): return self._binary("add", o, True)  # noqa: E704
    def __sub__(self, o): return self._binary("sub", o)  # noqa: E704
    def __rsub__(self, o): return self._binary("sub", o, True)  # noqa: E704
    def __mul__(self, o): return self._binary("mul", o)  # noqa: E704
    def __rmul__(self, o): return self._binary("mul", o, True)  # noqa: E704
    def __truediv__(self, o): return self._binary("div", o)  # noqa: E704
    def __rtruediv__(self, o): return self._binary("div", o, True)  # noqa: E704

    def __neg__(self) -> Sym:
        return self.trace.record("neg", self.ref)

    def __pos__(self) -> Sym:
        return self

    def __abs__(self) -> Sym:
        return self.trace.record("abs", self.ref)

    def __pow__(self, exponent: Any) -> Sym:
        if (isinstance(exponent, numbers.Real) and not isinstance(exponent, bool)
                and float(exponent).is_integer() and 1 <= exponent <= 8):
            out = self
            for _ in range(int(exponent) - 1):  # v ** 3 = (v * v) * v, as written out
                out = out * self
            return out
        ref = _operand(self.trace, exponent)
        if ref is None:
            return NotImplemented
        return self.trace.record("pow", self.ref, ref)

    def __rpow__(self, base: Any) -> Sym:
        ref = _operand(self.trace, base)
        if ref is None:
            return NotImplemented
        return self.trace.record("pow", ref, self.ref)

    def __bool__(self) -> bool:
        raise TypeError("a traced neuron value has no truth value while the step is compiled: write "
                        "branch-free code (maximum(a, b), minimum(a, b), heaviside(z)) instead of "
                        "Python 'if' / comparisons on states or parameters")

    def _compare(self, *_: Any) -> bool:
        raise TypeError("comparisons of traced neuron values are not supported (they would branch): write "
                        "branch-free code with maximum(a, b), minimum(a, b) or heaviside(z)")

    __lt__ = __le__ = __gt__ = __ge__ = _compare

    def __float__(self) -> float:
        raise TypeError("a traced neuron value is not a number; use neuro's exp/log/sqrt/tanh instead "
                        "of the math module's")

    def __repr__(self) -> str:
        return f"Sym({self.ref})"


Number = float | int


def _unary(name: str, x: Any) -> Any:
    if isinstance(x, Sym):
        return x.trace.record(name, x.ref)
    if isinstance(x, numbers.Real):
        return _UNARY[name](x)
    return getattr(x, name)()  # a tensor (torch.Tensor.exp, ...) or a numpy-like array


def exp(x: Any) -> Any:
    """``e ** x`` of a traced value, a number or a tensor."""
    return _unary("exp", x)


def log(x: Any) -> Any:
    """Natural logarithm of a traced value, a number or a tensor."""
    return _unary("log", x)


def sqrt(x: Any) -> Any:
    """Square root of a traced value, a number or a tensor."""
    return _unary("sqrt", x)


def tanh(x: Any) -> Any:
    """Hyperbolic tangent of a traced value, a number or a tensor."""
    return _unary("tanh", x)


def _binary_select(op: str, a: Any, b: Any) -> Any:
    for x in (a, b):
        if isinstance(x, Sym):
            trace = x.trace
            return trace.record(op, trace.ref_of(a, "operand"), trace.ref_of(b, "operand"))
    if isinstance(a, numbers.Real) and isinstance(b, numbers.Real):
        if op == "maximum":
            return b if a < b else a
        return b if b < a else a
    # tensors: the same tie rule as the kernels (a is kept on ties)
    if op == "maximum":
        return a.clamp(min=b) if isinstance(b, numbers.Real) else a.maximum(b) if hasattr(a, "maximum") \
            else b.clamp(min=a)
    return a.clamp(max=b) if isinstance(b, numbers.Real) else a.minimum(b) if hasattr(a, "minimum") \
        else b.clamp(max=a)


def maximum(a: Any, b: Any) -> Any:
    """``b if a < b else a`` (``a`` on ties): e.g. NEST's lower bound ``max(V, V_min)``.
    Its derivative goes to the operand it returns."""
    return _binary_select("maximum", a, b)


def minimum(a: Any, b: Any) -> Any:
    """``b if b < a else a`` (``a`` on ties); its derivative goes to the operand it returns."""
    return _binary_select("minimum", a, b)


def heaviside(z: Any, ge: bool = False) -> Any:
    """1 where ``z > 0`` (``z >= 0`` with ``ge``), else 0, with zero derivative: a detached step,
    e.g. snnTorch's delayed reset read from the previous membrane."""
    if isinstance(z, Sym):
        return z.trace.record("step_ge" if ge else "step_gt", z.ref)
    if isinstance(z, numbers.Real):
        return 1.0 if (z > 0 or (ge and z == 0)) else 0.0
    hit = (z >= 0) if ge else (z > 0)
    return hit.to(z.dtype) if hasattr(hit, "to") else hit.astype(z.dtype)


# --------------------------------------------------------------------------------------------
# Emitting the trace as Python source


class Names:
    """How references are spelt in emitted code: nodes ``t<i>``, constants ``k<j>`` (loaded from the
    constants array), named inputs through ``inputs`` (e.g. ``{"v": "y0", "dt": "k2"}``)."""

    def __init__(self, trace: Trace, inputs: dict[str, str], const_offset: int) -> None:
        self.trace = trace
        self.inputs = inputs
        self.const_offset = const_offset

    def const_index(self, value: float) -> int:
        """Index in the constants array of the traced literal ``value`` (``const_offset`` plus its position in
        the trace's constant table).
        """
        return self.const_offset + self.trace._const_index[repr(float(value))]

    def __call__(self, ref: Ref) -> str:
        kind, key = ref
        if kind == "n":
            return f"t{key}"
        if kind == "c":
            return f"k{self.const_index(key)}"
        return self.inputs[key]


def _expression(op: str, args: Sequence[str], zero: str, one: str) -> str:
    a = args[0]
    if op in ("add", "sub", "mul", "div"):
        sym = {"add": "+", "sub": "-", "mul": "*", "div": "/"}[op]
        return f"{a} {sym} {args[1]}"
    if op == "neg":
        return f"-{a}"
    if op == "abs":
        return f"abs({a})"
    if op in _UNARY:
        return f"{op}({a})"
    if op == "pow":
        return f"powf({a}, {args[1]})"
    if op in ("maximum", "minimum"):
        return f"{op}({a}, {args[1]})"
    if op in ("step_gt", "step_ge"):
        return f"{op}({a}, {one}, {zero})"
    raise ValueError(f"unknown traced operation {op!r}")


def forward_lines(trace: Trace, names: Names, zero: str, one: str, upto: int | None = None) -> list[str]:
    """One assignment ``t<i> = ...`` per recorded node (the first ``upto`` nodes)."""
    nodes = trace.nodes if upto is None else trace.nodes[:upto]
    return [f"t{i} = {_expression(op, [names(r) for r in refs], zero, one)}"
            for i, (op, refs) in enumerate(nodes)]


class Adjoints:
    """Accumulates adjoint expressions per reference while emitting reverse-mode code.

    The first contribution to a value assigns its adjoint variable, later ones add to it, in the
    order they are emitted (so every target that runs the text sums in the same order).
    """

    def __init__(self, names: Names, differentiable: frozenset) -> None:
        self.names = names
        self.differentiable = differentiable  # the named inputs that get an adjoint
        self.var: dict[Ref, str] = {}
        self.lines: list[str] = []
        self._count = 0

    def add(self, ref: Ref, expr: str) -> None:
        """``adjoint(ref) += expr`` (constants have no adjoint)."""
        if ref[0] == "c" or (ref[0] == "v" and ref[1] not in self.differentiable):
            return
        if ref in self.var:
            v = self.var[ref]
            self.lines.append(f"{v} = {v} + {expr}")
        else:
            v = f"g{self._count}"
            self._count += 1
            self.var[ref] = v
            self.lines.append(f"{v} = {expr}")

    def of(self, ref: Ref, zero: str) -> str:
        """The adjoint variable of ``ref`` (``zero`` when nothing reached it)."""
        return self.var.get(ref, zero)


def adjoint_lines(trace: Trace, adj: Adjoints, zero: str, one: str) -> None:
    """Emit the reverse sweep over every recorded node that received an adjoint, last node first
    (a node only uses earlier nodes, so each adjoint is complete when its node is reached)."""
    n = adj.names
    for i in range(len(trace.nodes) - 1, -1, -1):
        me = ("n", i)
        if me not in adj.var:
            continue
        g = adj.var[me]
        op, refs = trace.nodes[i]
        a = n(refs[0])
        b = n(refs[1]) if len(refs) > 1 else ""
        out = f"t{i}"
        if op == "add":
            adj.add(refs[0], g)
            adj.add(refs[1], g)
        elif op == "sub":
            adj.add(refs[0], g)
            adj.add(refs[1], f"-{g}")
        elif op == "mul":
            adj.add(refs[0], f"{g} * {b}")
            adj.add(refs[1], f"{g} * {a}")
        elif op == "div":
            adj.add(refs[0], f"{g} / {b}")
            adj.add(refs[1], f"-({g} * {out}) / {b}")
        elif op == "neg":
            adj.add(refs[0], f"-{g}")
        elif op == "abs":
            adj.add(refs[0], f"select_ge({a}, {zero}, {g}, -{g})")
        elif op == "exp":
            adj.add(refs[0], f"{g} * {out}")
        elif op == "log":
            adj.add(refs[0], f"{g} / {a}")
        elif op == "sqrt":
            adj.add(refs[0], f"{g} / ({out} + {out})")
        elif op == "tanh":
            adj.add(refs[0], f"{g} * ({one} - {out} * {out})")
        elif op == "pow":
            adj.add(refs[0], f"{g} * {b} * powf({a}, {b} - {one})")
            adj.add(refs[1], f"{g} * {out} * log({a})")
        elif op == "maximum":  # b if a < b else a
            adj.add(refs[0], f"select_lt({a}, {b}, {zero}, {g})")
            adj.add(refs[1], f"select_lt({a}, {b}, {g}, {zero})")
        elif op == "minimum":  # b if b < a else a
            adj.add(refs[0], f"select_lt({b}, {a}, {zero}, {g})")
            adj.add(refs[1], f"select_lt({b}, {a}, {g}, {zero})")
        elif op in ("step_gt", "step_ge"):
            pass  # a detached step: no derivative
        else:  # pragma: no cover - every recorded op is listed above
            raise ValueError(f"no derivative for {op!r}")


def trace_call(fn: Callable, *args: Any) -> Any:
    """``fn(*args)``, turning the errors of untraceable code into messages that name ``fn``."""
    try:
        return fn(*args)
    except TypeError as err:
        name = getattr(fn, "__qualname__", repr(fn))
        raise TypeError(f"{name} cannot be compiled as a neuron step: {err}") from err
