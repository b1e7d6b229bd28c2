r"""Neuron models described as data plus one scalar step, compiled for the CPU and CUDA kernels.

A :class:`NeuronSpec` is everything neuro needs to simulate *and train* a point-neuron model:

* ``states``: the state variables and their initial values (a number, a parameter's name, or a
  function of the parameters record such as ``lambda p: p.b * p.c``, evaluated in torch);
* ``parameters``: the per-neuron parameters and their defaults (``positive`` names those that must
  be > 0);
* ``step(s, x, p)``: one time step of the sub-threshold dynamics in plain scalar Python, returning
  every state's new value (a dict, or a tuple in ``states`` order); ``s.<state>``, ``p.<parameter>``,
  ``p.dt`` (the step, seconds) and ``x`` (this step's input) are scalars;
* ``threshold(s, p)``: a value ``z`` of the stepped state; the neuron spikes when ``z >= 0``
  (``threshold_op=">="``) or ``z > 0``;
* ``reset(s, p)`` (optional): the new values of the states a spike resets (others keep theirs);
* ``coefficients(p)`` (optional): per-neuron values derived from the parameters once per call on
  the host (e.g. a decay ``exp(-dt / tau)``), read by the step as ``p.<name>``.

One step of a spec, with ``y`` the states and ``x_t`` the input (``H`` the Heaviside step)::

    pre_t  = step(y_{t-1}, x_t)              # every state
    z_t    = threshold(pre_t)
    s_t    = H(z_t)                          # the spike (surrogate derivative in backward)
    post_t = reset(pre_t)                    # the states a spike resets
    y_t    = pre_t (1 - s_t) + post_t s_t    # exactly post_t when s_t = 1, pre_t when 0

:func:`build` traces the three functions with :mod:`symbolic` values once and writes straight-line
Python: a forward step, its exact reverse-mode derivative (the vector-Jacobian product of the whole
step, through the surrogate; ``detach_reset`` drops the spike's path through the reset) and the
load/store helpers of the model's state layout. :func:`compile_for` compiles that code for
``"cpu"`` (Numba, inlined into the kernels of ``spec_cpu``) or ``"cuda"`` (device functions for
``spec_cuda``); ``neuro.ops.spec`` runs the same text on torch tensors as the reference.

**For the network simulator.** The description is deliberately independent of the training
kernels: a simulator kernel can call ``compile_for(target).model_forward(x, y, p, kc, ge)`` — one
neuron, one step, tuples in and out — with its own input accumulation, refractoriness and
recording (``kc`` holds ``0, 1, dt`` and the model's literal constants, see :data:`KC_*`).

Constants: every Python number in the step becomes an entry of the constants array ``kc`` in the
compute dtype, so no float64 literal enters float32 arithmetic. Row layout of the coefficient
table ``prm [P, C]``: :attr:`GeneratedModel.rows` (the parameters, then the derived coefficients).
"""

from __future__ import annotations

import hashlib
import keyword
import linecache
import math
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from . import surrogate_math, symbolic
from ._jit import compile_math, device_decorator

# the fixed head of the constants array kc (then the model's literal constants)
KC_ZERO, KC_ONE, KC_DT, KC_KEEP, KC_SG_A, KC_SG_B = range(6)
N_KC_FIXED = 6

RESERVED = frozenset({"dt", "x"})


class Record:
    """Attribute access to named values (``s.v``, ``p.tau``) with errors that list the names."""

    def __init__(self, what: str, values: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_what", what)
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        what = object.__getattribute__(self, "_what")
        raise AttributeError(f"the model has no {what} {name!r} (its {what}s: {', '.join(values)})")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("model records are read-only: return new values from the step instead")

    def as_dict(self) -> dict[str, Any]:
        """A copy of the named values as a dict."""
        return dict(object.__getattribute__(self, "_values"))


def _check_name(name: str, what: str) -> None:
    if (not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name)
            or name.startswith("_")):
        raise ValueError(f"{what} name {name!r} must be a Python identifier not starting with '_'")
    if name in RESERVED:
        raise ValueError(f"{what} name {name!r} is reserved ({', '.join(sorted(RESERVED))})")


@dataclass(frozen=True, eq=False)
class NeuronSpec:
    """A point-neuron model as data plus scalar Python functions (module docstring).

    Example (SpikingJelly's quadratic integrate-and-fire neuron)::

        QIF = NeuronSpec(
            "QIF", states={"v": "v_rest"},
            parameters={"tau": 2.0, "a0": 1.0, "v_rest": 0.0, "v_c": 0.8, "v_th": 1.0, "v_reset": -0.1},
            step=lambda s, x, p: {"v": s.v + (x + p.a0 * (s.v - p.v_rest) * (s.v - p.v_c)) / p.tau},
            threshold=lambda s, p: s.v - p.v_th,
            reset=lambda s, p: {"v": p.v_reset},
            positive=("tau",))
    """

    name: str
    states: Mapping[str, float | str | Callable]
    parameters: Mapping[str, float]
    step: Callable
    threshold: Callable
    reset: Callable | None = None
    coefficients: Callable | None = None
    positive: tuple[str, ...] = ()
    doc: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        states = dict(self.states)
        params = dict(self.parameters)
        if not states:
            raise ValueError(f"{self.name}: a neuron needs at least one state")
        for s in states:
            _check_name(s, "state")
        for p, value in params.items():
            _check_name(p, "parameter")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{self.name}: the default of parameter {p!r} must be a finite number, "
                                 f"got {value!r}")
        clash = set(states) & set(params)
        if clash:
            raise ValueError(f"{self.name}: {sorted(clash)} name both a state and a parameter")
        for s, init in states.items():
            if callable(init):
                continue
            if isinstance(init, str):
                if init not in params:
                    raise ValueError(f"{self.name}: state {s!r} starts at parameter {init!r}, which is "
                                     f"not one of the parameters {sorted(params)}")
            elif isinstance(init, bool) or not isinstance(init, (int, float)) or not math.isfinite(init):
                raise ValueError(f"{self.name}: the initial value of state {s!r} must be a finite number, "
                                 f"a parameter name or a function of the parameters, got {init!r}")
        unknown = set(self.positive) - set(params)
        if unknown:
            raise ValueError(f"{self.name}: positive= names unknown parameters {sorted(unknown)}")
        for fn, label in ((self.step, "step"), (self.threshold, "threshold")):
            if not callable(fn):
                raise TypeError(f"{self.name}: {label} must be a function, got {fn!r}")
        for fn, label in ((self.reset, "reset"), (self.coefficients, "coefficients")):
            if fn is not None and not callable(fn):
                raise TypeError(f"{self.name}: {label} must be a function or None, got {fn!r}")
        object.__setattr__(self, "states", types.MappingProxyType(states))
        object.__setattr__(self, "parameters", types.MappingProxyType(params))
        object.__setattr__(self, "positive", tuple(self.positive))


# --------------------------------------------------------------------------------------------
# Tracing and code generation


@dataclass(frozen=True, eq=False)
class GeneratedModel:
    """A spec traced and written out as code (see :func:`build`)."""

    spec: NeuronSpec
    states: tuple[str, ...]
    rows: tuple[str, ...]            # the coefficient table's rows: parameters, then derived values
    constants: tuple[float, ...]     # the literal constants, kc[N_KC_FIXED:]
    source: str
    key: str                         # hash of the source (names the compiled code)
    filename: str

    @property
    def n_states(self) -> int:
        """Number of state variables of the model."""
        return len(self.states)

    @property
    def n_rows(self) -> int:
        """Number of rows of the coefficient table (parameters, then derived coefficients)."""
        return len(self.rows)

    @property
    def coefficient_names(self) -> tuple[str, ...]:
        """Names of the derived coefficient rows (those after the parameters)."""
        return self.rows[len(self.spec.parameters):]


def _returned_values(spec: NeuronSpec, result: Any, names: tuple[str, ...], label: str,
                     complete: bool) -> dict[str, Any]:
    if isinstance(result, Mapping):
        values = dict(result)
    elif isinstance(result, (tuple, list)) and complete:
        if len(result) != len(names):
            raise ValueError(f"{spec.name}: {label} returned {len(result)} values for the states {names}")
        values = dict(zip(names, result))
    elif len(names) == 1 and complete and not isinstance(result, Mapping):
        values = {names[0]: result}
    else:
        raise TypeError(f"{spec.name}: {label} must return a dict {{state: value}}, got "
                        f"{type(result).__name__}")
    unknown = set(values) - set(names)
    if unknown:
        raise ValueError(f"{spec.name}: {label} returned unknown states {sorted(unknown)} (states: {names})")
    if complete and set(values) != set(names):
        raise ValueError(f"{spec.name}: {label} must return every state {names}, missing "
                         f"{sorted(set(names) - set(values))}")
    return values


def _coefficient_names(spec: NeuronSpec) -> tuple[str, ...]:
    if spec.coefficients is None:
        return ()
    trace = symbolic.Trace()
    p = Record("parameter", {**{n: trace.input(n) for n in spec.parameters}, "dt": trace.input("dt")})
    out = symbolic.trace_call(spec.coefficients, p)
    if not isinstance(out, Mapping):
        raise TypeError(f"{spec.name}: coefficients must return a dict {{name: value}}, got "
                        f"{type(out).__name__}")
    for name in out:
        _check_name(name, "coefficient")
        if name in spec.parameters or name in spec.states:
            raise ValueError(f"{spec.name}: coefficient {name!r} clashes with a parameter or state")
    return tuple(out)


def _source(spec: NeuronSpec, rows: tuple[str, ...]) -> tuple[str, tuple[float, ...]]:
    states = tuple(spec.states)
    S, P = len(states), len(rows)
    trace = symbolic.Trace()
    x = trace.input("x")
    y = Record("state", {s: trace.input(s) for s in states})
    p = Record("parameter", {**{r: trace.input(r) for r in rows}, "dt": trace.input("dt")})
    new = _returned_values(spec, symbolic.trace_call(spec.step, y, x, p), states, "step", True)
    pre = {s: trace.ref_of(new[s], f"step's value of {s!r}") for s in states}
    pre_rec = Record("state", {s: symbolic.Sym(trace, ref) for s, ref in pre.items()})
    z = trace.ref_of(symbolic.trace_call(spec.threshold, pre_rec, p), "threshold's value")
    post: dict[str, symbolic.Ref] = {}
    if spec.reset is not None:
        got = _returned_values(spec, symbolic.trace_call(spec.reset, pre_rec, p), states, "reset", False)
        post = {s: trace.ref_of(v, f"reset's value of {s!r}") for s, v in got.items()}
        post = {s: r for s, r in post.items() if r != pre[s]}  # "reset" to itself: unchanged

    inputs = {"x": "x", "dt": f"k{KC_DT}", **{s: f"y{k}" for k, s in enumerate(states)},
              **{r: f"p{j}" for j, r in enumerate(rows)}}
    names = symbolic.Names(trace, inputs, N_KC_FIXED)
    zero, one = f"k{KC_ZERO}", f"k{KC_ONE}"
    n_consts = N_KC_FIXED + len(trace.constants)
    prologue = ([f"y{k} = y[{k}]" for k in range(S)] + [f"p{j} = p[{j}]" for j in range(P)]
                + [f"k{i} = kc[{i}]" for i in range(n_consts)])
    body = symbolic.forward_lines(trace, names, zero, one)
    spike = [f"z = {names(z)}", f"s = fires(z, ge, {one}, {zero})"]

    fwd = [*prologue, *body, *spike, "sr = gate(s)"]
    out = []
    for k, s in enumerate(states):
        if s in post:
            fwd.append(f"n{k} = {names(pre[s])} * ({one} - sr) + {names(post[s])} * sr")
            out.append(f"n{k}")
        else:
            out.append(names(pre[s]))
    fwd.append(f"return ({', '.join(out)},), s, z")

    adj = symbolic.Adjoints(names, frozenset({"x", *states, *rows}))
    bwd = [*prologue, *body, *spike, *(f"d{k} = dy[{k}]" for k in range(S)),
           f"sg = sg_pre if sg_kind < 0 else surrogate_grad(sg_kind, k{KC_SG_A}, k{KC_SG_B}, z, {one}, "
           f"{zero})",
           "ds = ds_ext"]
    for k, s in enumerate(states):
        if s in post:
            bwd.append(f"ds = ds + k{KC_KEEP} * (d{k} * ({names(post[s])} - {names(pre[s])}))")
    for k, s in enumerate(states):
        if s in post:
            adj.add(pre[s], f"d{k} * ({one} - s)")
            adj.add(post[s], f"d{k} * s")
        else:
            adj.add(pre[s], f"d{k}")
    adj.add(z, "ds * sg")
    symbolic.adjoint_lines(trace, adj, zero, one)
    grads = (adj.of(("v", "x"), zero), [adj.of(("v", s), zero) for s in states],
             [adj.of(("v", r), zero) for r in rows])
    bwd += adj.lines
    bwd.append(f"return {grads[0]}, ({', '.join(grads[1])},), ({', '.join(grads[2])},)")

    def fn(header: str, lines: list[str]) -> str:
        return header + "\n" + "\n".join("    " + line for line in lines) + "\n"

    def tup(fmt: str, n: int) -> str:
        return "(" + ", ".join(fmt.format(i=i) for i in range(n)) + ",)"

    text = [f"# neuron model {spec.name!r}: generated by neuro.kernels.neuron_spec (do not edit)\n",
            fn("def model_forward(x, y, p, kc, ge):", fwd),
            fn("def model_backward(x, y, p, kc, ge, dy, ds_ext, sg_kind, sg_pre):", bwd),
            fn("def load_state(a, j):", [f"return {tup('a[{i}, j]', S)}"]),
            fn("def store_state(a, j, y):", [f"a[{i}, j] = y[{i}]" for i in range(S)]),
            fn("def load_seq(a, t, n):", [f"return {tup('a[{i}, t, n]', S)}"]),
            fn("def store_seq(a, t, n, y):", [f"a[{i}, t, n] = y[{i}]" for i in range(S)]),
            fn("def add_seq(y, a, t, n):", [f"return {tup('y[{i}] + a[{i}, t, n]', S)}"]),
            fn("def load_slab(a, t, j):", [f"return {tup('a[t, {i}, j]', S)}"]),
            fn("def store_slab(a, t, j, y):", [f"a[t, {i}, j] = y[{i}]" for i in range(S)]),
            fn("def load_params(a, j):", [f"return {tup('a[{i}, j]', P)}"]),
            fn("def store_params(a, j, d):", [f"a[{i}, j] = d[{i}]" for i in range(P)] or ["pass"]),
            fn("def accumulate_params(a, j, d):", [f"a[{i}, j] += d[{i}]" for i in range(P)] or ["pass"]),
            fn("def add_params(acc, d):", [f"return {tup('acc[{i}] + d[{i}]', P)}"]),
            fn("def zero_params(zero):", [f"return {tup('zero', P)}"])]
    return "\n".join(text), tuple(trace.constants)


def _helper_sources() -> str:
    """The source of the modules whose functions the generated code calls (part of a model's key,
    so that cached kernels follow a change of a helper)."""
    from pathlib import Path

    here = Path(__file__).resolve().parent
    return "".join((here / name).read_text() for name in ("neuron_spec.py", "surrogate_math.py"))


_HELPER_SOURCES = _helper_sources()

GENERATED_FUNCTIONS = ("model_forward", "model_backward", "load_state", "store_state", "load_seq",
                       "store_seq", "add_seq", "load_slab", "store_slab", "load_params", "store_params",
                       "accumulate_params", "add_params", "zero_params")


@cache
def build(spec: NeuronSpec) -> GeneratedModel:
    """Trace ``spec`` and write its code (cached per spec object). Errors in the description (an
    ``if`` on a state, a missing state, an unknown name) are raised here, naming the function."""
    if not isinstance(spec, NeuronSpec):
        raise TypeError(f"expected a NeuronSpec, got {type(spec).__name__}")
    rows = tuple(spec.parameters) + _coefficient_names(spec)
    source, constants = _source(spec, rows)
    key = hashlib.sha1((source + _HELPER_SOURCES).encode()).hexdigest()[:16]
    filename = f"<neuro neuron model {spec.name} {key}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # tracebacks
    return GeneratedModel(spec, tuple(spec.states), rows, constants, source, key, filename)


def constants_of(model: GeneratedModel, dt: float, keep_reset: bool, sg_a: float,
                 sg_b: float) -> tuple[float, ...]:
    """The constants array ``kc`` of a run: ``0, 1, dt, keep_reset, sg_a, sg_b`` and the model's
    literal constants (convert it to the compute dtype once)."""
    return (0.0, 1.0, float(dt), float(keep_reset), float(sg_a), float(sg_b), *model.constants)


def namespace(model: GeneratedModel, helpers: Mapping[str, Any]) -> dict[str, Any]:
    """Execute the model's code with ``helpers`` bound (a flavour: Numba scalars or torch) and
    return its functions by name."""
    scope: dict[str, Any] = dict(helpers)
    scope["__name__"] = f"neuro.kernels.neuron_spec.{model.spec.name}"
    exec(compile(model.source, model.filename, "exec"), scope)  # noqa: S102 (our own generated code)
    return {name: scope[name] for name in GENERATED_FUNCTIONS}


# --------------------------------------------------------------------------------------------
# The Numba flavour of the helpers the generated code calls


def exp(x):
    return math.exp(x)


def log(x):
    return math.log(x)


def sqrt(x):
    return math.sqrt(x)


def tanh(x):
    return math.tanh(x)


def powf(a, b):
    return a ** b


def maximum(a, b):
    return b if a < b else a


def minimum(a, b):
    return b if b < a else a


def step_gt(z, one, zero):
    return one if z > zero else zero


def step_ge(z, one, zero):
    return one if z >= zero else zero


def select_lt(a, b, x, y):
    return x if a < b else y


def select_ge(a, b, x, y):
    return x if a >= b else y


def fires(z, ge, one, zero):
    """The spike: ``z >= 0`` (ge) or ``z > 0``, in the compute dtype."""
    return one if (z > zero) | (ge & (z == zero)) else zero


def gate(s):
    """The spike as the reset sees it (the torch flavour detaches it with ``detach_reset``)."""
    return s


HELPER_FUNCTIONS = (exp, log, sqrt, tanh, powf, maximum, minimum, step_gt, step_ge, select_lt, select_ge,
                    fires, gate)


@cache
def helpers_for(target: str) -> types.ModuleType:
    """The helpers compiled for ``target``, with the surrogate derivatives."""
    return compile_math(HELPER_FUNCTIONS, target, surrogate_math.compile_for(target),
                        name=f"neuro.kernels.neuron_spec.helpers[{target}]")


@cache
def _compile(model: GeneratedModel, target: str) -> types.ModuleType:
    helpers = helpers_for(target)
    funcs = namespace(model, {k: v for k, v in vars(helpers).items() if not k.startswith("__")})
    overrides = {}
    if target == "cpu":  # generated code has no source file for Numba's on-disk cache
        from numba import njit

        overrides = {name: njit(inline="always") for name in GENERATED_FUNCTIONS}
    return compile_math(tuple(funcs.values()), target, helpers, jit_overrides=overrides,
                        name=f"neuron model {model.spec.name}[{target}]")


def compile_for(model: GeneratedModel | NeuronSpec, target: str) -> types.ModuleType:
    """The model's generated functions compiled for ``target`` (``"cpu"`` or ``"cuda"``), one
    namespace (``ns.model_forward``, ``ns.model_backward``, ``ns.load_state``, ...)."""
    if isinstance(model, NeuronSpec):
        model = build(model)
    if target not in ("cpu", "cuda"):
        device_decorator(target)  # raises the error naming the targets
    return _compile(model, target)
