"""The one base of every state type: ``detach``, ``to``, ``last`` and ``map`` written once.

States are ``typing.NamedTuple`` classes (used by position and by field, unpacked, compared as
tuples); the :func:`stateclass` decorator puts such a class on the :class:`State` base::

    @stateclass
    class LIFState(NamedTuple):
        v: torch.Tensor

    s.detach()            # every tensor detached (truncated BPTT)
    s.to("cuda")          # every tensor through Tensor.to
    trace.last()          # a recorded [T, ...] state sequence -> its final state [...]
    s.map(fn)             # fn applied to every array field (None kept, nested states recursed)

Fields may hold tensors, ``numpy`` arrays (the states of :mod:`neuro.astro`), ``None``, nested
states, or dicts / lists / tuples of those (:class:`neuro.nn.GraphState` holds a dict of node
states). ``detach`` and ``to`` touch only torch tensors; ``last`` and ``map`` every array.

This module imports neither torch nor numpy, so every layer of the package may use it.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, TypeVar

S = TypeVar("S", bound="State")
T = TypeVar("T", bound=type)

_METHODS = ("map", "detach", "to", "last")


def map_state(obj: Any, fn: Callable[[Any], Any]) -> Any:
    """``fn`` applied to every array of a (nested) state, rebuilding the containers.

    ``obj`` may be a :class:`State`, a dict, list or tuple (also a foreign NamedTuple) of such
    values, ``None`` (kept) or an array (a torch tensor, a numpy array: ``fn(obj)``).
    """
    if obj is None:
        return None
    if isinstance(obj, State):
        return obj.map(fn)
    if isinstance(obj, dict):
        return {key: map_state(value, fn) for key, value in obj.items()}
    if isinstance(obj, list):
        return [map_state(value, fn) for value in obj]
    if isinstance(obj, tuple):
        values = (map_state(value, fn) for value in obj)
        return type(obj)(*values) if hasattr(obj, "_fields") else type(obj)(values)
    return fn(obj)


def _detach(array: Any) -> Any:
    return array.detach() if _is_torch_tensor(array) else array


def _is_torch_tensor(array: Any) -> bool:
    # duck-typed so that this module needs no torch import: numpy arrays have neither method
    return hasattr(array, "detach") and hasattr(array, "requires_grad")


class State(abc.ABC):  # noqa: B024 (no abstract methods: an ABC for register())
    """Base of every state type (a NamedTuple class decorated with :func:`stateclass`)."""

    __slots__ = ()

    def map(self: S, fn: Callable[[Any], Any]) -> S:
        """The same state with ``fn`` applied to every array field; ``None`` fields are kept and
        nested states, dicts, lists and tuples are mapped recursively."""
        return type(self)(*(map_state(value, fn) for value in self))  # type: ignore[call-arg]

    def detach(self: S) -> S:
        """The same state with every tensor detached from the autograd graph (truncated BPTT)."""
        return self.map(_detach)

    def to(self: S, *args: Any, **kwargs: Any) -> S:
        """The same state with every tensor moved / cast by ``Tensor.to(*args, **kwargs)``."""
        return self.map(lambda a: a.to(*args, **kwargs) if _is_torch_tensor(a) else a)

    def last(self: S) -> S:
        """The final state of a recorded state sequence: every ``[T, ...]`` field -> ``[...]``."""
        return self.map(lambda a: a[-1])


def stateclass(cls: T) -> T:
    """Class decorator putting a NamedTuple state class on the :class:`State` base.

    ``typing.NamedTuple`` classes cannot inherit from a mixin, so the base's methods are attached
    and the class is registered as a virtual subclass (``isinstance(s, State)`` holds). A class
    that defines one of ``map``, ``detach``, ``to``, ``last`` itself is refused: the base's
    versions are the only ones.
    """
    if not (isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "_fields")):
        raise TypeError(f"stateclass decorates NamedTuple classes, got {cls!r}")
    own = [name for name in _METHODS if name in cls.__dict__]
    if own:
        raise TypeError(f"{cls.__name__} defines {own} itself; the State base provides them")
    for name in _METHODS:
        setattr(cls, name, State.__dict__[name])
    State.register(cls)
    return cls


def detach_states(states: Any) -> Any:
    """Detach every tensor of a (nested) state for truncated BPTT (``None`` stays ``None``)."""
    return map_state(states, _detach)
