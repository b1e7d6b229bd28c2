"""Compile the pure-Python step descriptions of the ``*_math`` modules for one Numba target.

Every ``*_math`` module describes its recurrence as plain scalar functions that call each other by
global name. A target is ``"cpu"`` (``numba.njit``, inlined into the calling kernel) or ``"cuda"``
(``numba.cuda`` device functions, force-inlined on a GPU; see ``_cuda_device``). Each math module
offers one entry point::

    ns = lif_math.compile_for("cpu")      # a namespace: ns.lif_forward_step, ns.fires, ...

    @njit
    def kernel(...):
        ... ns.lif_forward_step(...)   # resolved at compile time

built by :func:`compile_math`, which compiles each listed function once per target after rebinding
the global names it calls to their compiled versions for the same target — so a ``*_cpu`` or
``*_cuda`` module never lists the wiring by hand.
"""

from __future__ import annotations

import dis
import types
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any

TARGETS = ("cpu", "cuda")


def retarget(fn: Callable, jit: Callable, **helpers: Any) -> Any:
    """Compile ``fn`` with ``jit`` after binding the global names in ``helpers`` to compiled helpers.

    Numba needs a function's callees compiled for the same target (CPU ``njit`` or a CUDA device
    function), so each target compiles a clone of ``fn`` whose globals point at its own compiled
    helpers.

    Caveat of ``cache=True``: Numba keys a clone's on-disk cache by ``fn``'s source file and
    signature, not by the ``jit`` options, so after changing only the options (e.g.
    ``error_model``) in a calling module, delete ``kernels/__pycache__/*.nb[ic]`` once.
    """
    namespace = dict(fn.__globals__)
    namespace.update(helpers)
    clone = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__, fn.__closure__)
    clone.__module__ = fn.__module__
    clone.__qualname__ = fn.__qualname__
    return jit(clone)


@cache
def device_decorator(target: str) -> Callable:
    """The decorator of scalar helper functions for ``target`` (``"cpu"`` or ``"cuda"``)."""
    if target == "cpu":
        from numba import njit

        return njit(inline="always", cache=True)
    if target == "cuda":
        from ._cuda_device import device

        return device
    raise ValueError(f"target must be one of {TARGETS}, got {target!r}")


def _called_names(fn: Callable) -> set[str]:
    """Global names that ``fn``'s code loads (its possible callees; attribute names such as
    ``k.alpha`` are not globals and are left out)."""
    return {ins.argval for ins in dis.get_instructions(fn) if ins.opname == "LOAD_GLOBAL"}


def compile_math(functions: Iterable[Callable], target: str, *compiled: types.ModuleType,
                 jit_overrides: Mapping[str, Callable] | None = None, name: str = "") -> types.ModuleType:
    """Compile ``functions`` for ``target``, each bound to the compiled versions of its callees.

    A callee is another function of ``functions`` called by global name, or a member of one of the
    already compiled namespaces ``compiled`` (e.g. ``lif_math.compile_for(target)`` when an AM-SU
    step calls the LIF step). Callees are compiled before callers.

    Returns a namespace holding everything compiled (the members of ``compiled`` included, so a
    caller needs one namespace). It is a module object, because Numba resolves ``ns.f(...)`` inside
    jitted code for a module global (and for no other kind of namespace), so kernels call
    ``ns.lif_forward_step(...)`` directly. ``name`` names it in reprs (default: the first
    function's module and the target).

    ``jit_overrides`` maps a function name to the decorator to compile it with instead of the
    target's default (e.g. a CPU row function compiled as a separate ``njit(error_model="numpy")``
    function so that its divisions vectorise, or a large per-sample body called from a
    ``prange`` loop, which Numba's parallel lowering must not get inlined).
    """
    functions = tuple(functions)
    jit = device_decorator(target)
    overrides = dict(jit_overrides or {})
    pending = {fn.__name__: fn for fn in functions}
    inherited = {k: v for ns in compiled for k, v in vars(ns).items() if not k.startswith("__")}
    built: dict[str, Any] = {}
    visiting: set[str] = set()

    def build(fname: str) -> Any:
        if fname in built:
            return built[fname]
        if fname in visiting:
            raise ValueError(f"recursive step functions cannot be compiled by Numba: {fname}")
        visiting.add(fname)
        fn = pending[fname]
        helpers = {callee: build(callee) if callee in pending else inherited[callee]
                   for callee in _called_names(fn)
                   if callee != fname and (callee in pending or callee in inherited)}
        built[fname] = retarget(fn, overrides.get(fname, jit), **helpers)
        visiting.discard(fname)
        return built[fname]

    for fname in pending:
        build(fname)
    module = functions[0].__module__ if functions else "neuro.kernels"
    namespace = types.ModuleType(name or f"{module}[{target}]")
    namespace.__dict__.update(inherited)
    namespace.__dict__.update(built)
    return namespace
