r"""Regulated variables: the internal state a need acts on, behind one small protocol.

A *regulated variable* is any scalar that shapes how a learner learns or computes, exposed as

.. code-block:: python

    class RegulatedVariable(Protocol):
        name: str                        # for logs and plots
        bounds: tuple[float, float]      # hard validity limits (the regulator's floor/ceiling lie inside)
        def get(self) -> float: ...      # current value
        def set(self, value: float) -> None: ...   # new value, validated against ``bounds``

Implementations here:

* :class:`LearningRate` — the learning rate of any ``torch.optim.Optimizer`` (all or some
  parameter groups; groups keep their ratios to the first regulated group);
* :class:`NeuronParameter` — a physical parameter of engine neurons (``tau_adapt`` /
  ``beta_adapt`` of :class:`neuro.nn.ALIF`, or any time constant / threshold stored as a tensor);
* :class:`AttributeVariable` — ``obj.<attr>`` of any object (e.g. a simulator's plasticity
  amplitude or neuromodulator level, once they exist), and :class:`CallbackVariable` — any
  ``get``/``set`` pair.

A new kind of variable needs only ``name``, ``bounds``, ``get`` and ``set`` (duck typing; the
protocol is ``runtime_checkable``). :func:`temporarily` sets a value for the duration of a block
(what the look-ahead decision uses to evaluate "take it").

Changing neuron parameters between steps. Neuron modules keep fixed tensor parameters as buffers
and learned time constants as ``log_<name>`` parameters; :class:`NeuronParameter` writes both in
place under ``torch.no_grad()``. The engine's forward derives its decay coefficients from the
values when it runs, so a graph already built keeps the values its forward used: a change between
an optimiser step and the next forward never alters a pending gradient (tested). Parameters given
as plain numbers are compiled in as constants; build the neuron with a tensor
(``ALIF(beta_adapt=torch.tensor(0.2))``) to regulate them.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, runtime_checkable

import torch

__all__ = ["AttributeVariable", "CallbackVariable", "LearningRate", "NeuronParameter",
           "RegulatedVariable", "check_value", "temporarily"]

INF = math.inf


@runtime_checkable
class RegulatedVariable(Protocol):
    """A scalar internal variable with validity bounds (see the module docstring)."""

    name: str
    bounds: tuple[float, float]

    def get(self) -> float:
        """The current value."""
        ...

    def set(self, value: float) -> None:
        """Store ``value`` (inside :attr:`bounds`)."""
        ...


def check_value(variable: Any, value: float) -> float:
    """``value`` as a float if finite and inside ``variable.bounds``, else :class:`ValueError`."""
    value = float(value)
    low, high = variable.bounds
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{variable.name}: value {value!r} is outside its bounds [{low}, {high}] "
                         "(or not finite)")
    return value


@contextlib.contextmanager
def temporarily(variable: RegulatedVariable, value: float) -> Iterator[None]:
    """Set ``variable`` to ``value`` inside the block and restore the previous value after it."""
    old = variable.get()
    variable.set(value)
    try:
        yield
    finally:
        variable.set(old)


class LearningRate:
    """The learning rate of a torch optimiser as a regulated variable.

    Args:
        optimizer: any ``torch.optim.Optimizer``.
        groups: indices of the parameter groups to regulate (default: all). The value is the
            learning rate of the first of them; the others keep the ratio to it they had at
            construction (e.g. a 100x group for delays stays 100x).
        name: label in logs.

    Bounds ``[0, inf)``. A learning-rate scheduler stepping the same optimiser overwrites the value;
    use one or the other.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, groups: Iterable[int] | None = None,
                 name: str = "lr") -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        n = len(optimizer.param_groups)
        self.groups = tuple(range(n)) if groups is None else tuple(int(g) for g in groups)
        if not self.groups or any(not 0 <= g < n for g in self.groups):
            raise ValueError(f"groups must be indices of the optimiser's {n} parameter groups, "
                             f"got {self.groups}")
        self.optimizer, self.name, self.bounds = optimizer, name, (0.0, INF)
        first = self._read(self.groups[0])
        self._ratios = tuple(1.0 if first == 0 else self._read(g) / first for g in self.groups)

    def _read(self, g: int) -> float:
        lr = self.optimizer.param_groups[g]["lr"]
        return float(lr.item() if isinstance(lr, torch.Tensor) else lr)

    def get(self) -> float:
        """The learning rate of the first regulated parameter group (the others keep their initial ratio to
        it).
        """
        return self._read(self.groups[0])

    def set(self, value: float) -> None:
        """Set the first regulated group's learning rate to ``value`` and each other regulated group's to
        ``value`` times its initial ratio (tensor learning rates are filled in place); raises
        ``ValueError`` outside ``bounds``.
        """
        value = check_value(self, value)
        for g, ratio in zip(self.groups, self._ratios):
            group = self.optimizer.param_groups[g]
            if isinstance(group["lr"], torch.Tensor):  # capturable / tensor learning rates
                group["lr"].fill_(value * ratio)
            else:
                group["lr"] = value * ratio

    def __repr__(self) -> str:
        return f"LearningRate({type(self.optimizer).__name__}, groups={self.groups}, value={self.get():g})"


class NeuronParameter:
    r"""A physical parameter of engine neuron modules (``tau_adapt``, ``beta_adapt``, ...).

    Args:
        modules: one neuron module or several sharing the parameter (e.g. every ``ALIF`` layer).
        name: the parameter (one of ``module.physical_names``).
        bounds: validity limits; default ``[dt, inf)`` for a time constant with Euler decays,
            ``(0, inf)`` with exact decays, ``(-inf, inf)`` otherwise.

    The value is the mean over the neurons of the first module. :meth:`set` rescales every stored
    value by ``value / current mean`` (per-neuron heterogeneity is kept), or fills it with
    ``value`` when the current mean is 0. Writes are in place under ``torch.no_grad()`` on the
    buffer, or on ``log_<name>`` for a learned time constant (see the module docstring).
    """

    def __init__(self, modules: torch.nn.Module | Iterable[torch.nn.Module], name: str,
                 bounds: tuple[float, float] | None = None) -> None:
        mods = [modules] if isinstance(modules, torch.nn.Module) else list(modules)
        if not mods:
            raise ValueError("modules is empty: give at least one neuron module")
        self.name, self.modules = name, mods
        self._slots = [self._slot(m, name) for m in mods]
        if bounds is None:
            bounds = self._default_bounds(mods[0], name)
        if not bounds[0] <= bounds[1]:
            raise ValueError(f"bounds must be (low, high) with low <= high, got {bounds}")
        self.bounds = (float(bounds[0]), float(bounds[1]))

    @staticmethod
    def _slot(module: torch.nn.Module, name: str) -> tuple[torch.Tensor, bool]:
        """The tensor holding ``name`` and whether it stores the logarithm."""
        names = getattr(module, "physical_names", None)
        if names is None:
            raise TypeError(f"{type(module).__name__} is not an engine neuron module (no physical_names)")
        if name not in names:
            raise ValueError(f"{type(module).__name__} has no parameter {name!r} (its parameters: "
                             f"{', '.join(names)})")
        params = dict(module.named_parameters(recurse=False))
        if "log_" + name in params:
            return params["log_" + name], True
        if name in params:
            return params[name], False
        buffers = dict(module.named_buffers(recurse=False))
        if name in buffers:
            return buffers[name], False
        raise TypeError(f"{type(module).__name__}.{name} is a fixed number compiled into the kernels; "
                        f"build the module with a tensor value (e.g. {name}=torch.tensor("
                        f"{float(module.physical(name))!r})) to regulate it between steps")

    @staticmethod
    def _default_bounds(module: torch.nn.Module, name: str) -> tuple[float, float]:
        if name.startswith("tau_"):
            p = module.parameters_physical
            return (float(p.dt), INF) if p.integration == "euler" else (math.ulp(0.0), INF)
        return (-INF, INF)

    def _values(self, k: int) -> torch.Tensor:
        tensor, is_log = self._slots[k]
        return tensor.detach().exp() if is_log else tensor.detach()

    def get(self) -> float:
        """The mean over neurons of the parameter's value in physical units (a log-parametrised value is
        exponentiated), taken from the first module.
        """
        return float(self._values(0).double().mean())

    def set(self, value: float) -> None:
        """Rescale every module's per-neuron values by ``value / get()`` so their mean becomes ``value`` (the
        spread across neurons is kept; filled with ``value`` when the current mean is 0). Raises
        ``ValueError`` if ``value`` or a rescaled per-neuron value leaves ``bounds``.
        """
        value = check_value(self, value)
        current = self.get()
        with torch.no_grad():
            for k, (tensor, is_log) in enumerate(self._slots):
                new = self._values(k) * (value / current) if current != 0 else torch.full_like(tensor, value)
                if float(new.min()) < self.bounds[0] or float(new.max()) > self.bounds[1]:
                    raise ValueError(f"{self.name}: rescaled per-neuron values leave the bounds "
                                     f"{self.bounds}")
                tensor.copy_(new.log() if is_log else new)

    def __repr__(self) -> str:
        return f"NeuronParameter({self.name!r}, {len(self.modules)} module(s), value={self.get():g})"


class AttributeVariable:
    """``obj.<attr>`` (a number) as a regulated variable; e.g. a plasticity amplitude.

    Args: ``obj``, ``attr``; ``bounds`` (default unbounded); ``name`` (default ``attr``).
    """

    def __init__(self, obj: Any, attr: str, bounds: tuple[float, float] = (-INF, INF),
                 name: str | None = None) -> None:
        if not hasattr(obj, attr):
            raise AttributeError(f"{type(obj).__name__} has no attribute {attr!r}")
        self.obj, self.attr, self.bounds, self.name = obj, attr, tuple(bounds), name or attr

    def get(self) -> float:
        """The attribute's current value as a float (a tensor attribute is read with ``item()``)."""
        value = getattr(self.obj, self.attr)
        return float(value.item() if isinstance(value, torch.Tensor) else value)

    def set(self, value: float) -> None:
        """Set the attribute to ``value`` (a tensor attribute is filled in place, without autograd); raises
        ``ValueError`` outside ``bounds``.
        """
        value = check_value(self, value)
        current = getattr(self.obj, self.attr)
        if isinstance(current, torch.Tensor):
            with torch.no_grad():
                current.fill_(value)
        else:
            setattr(self.obj, self.attr, value)


class CallbackVariable:
    """A regulated variable from a ``get()`` and a ``set(value)`` function."""

    def __init__(self, get: Callable[[], float], set: Callable[[float], None], name: str,
                 bounds: tuple[float, float] = (-INF, INF)) -> None:
        self._get, self._set, self.name, self.bounds = get, set, name, tuple(bounds)

    def get(self) -> float:
        """The value returned by the ``get`` callback, as a float."""
        return float(self._get())

    def set(self, value: float) -> None:
        """Pass ``value`` to the ``set`` callback after checking it is finite and inside ``bounds``
        (``ValueError`` otherwise).
        """
        self._set(check_value(self, value))
