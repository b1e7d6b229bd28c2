"""Monitors: what a simulation records while it runs (numpy arrays, appended run after run).

* :class:`SpikeMonitor` — spike steps/times and indices of a group (or view).
* :class:`StateMonitor` — state variables (``v``, ``i``, ``a``, ``g_<channel>``) of chosen neurons,
  or (``IP3``, ``Ca_astro``, ``h_IP3R``, ``SIC``) of chosen astrocytes, every ``every`` seconds (the
  values after the update of the recorded step, in the network's dtype).
* :class:`RateMonitor` — the population's spike count at every step, and rates from it.
* :class:`WeightMonitor` — the weights of chosen synapses of a projection every ``every`` seconds.

Spike times are ``step * dt`` (Brian2's convention: the step that crossed the threshold).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neuro.sim.astrocytes import AstrocytePopulation
from neuro.sim.groups import GroupLike, Population, View
from neuro.sim.projections import Projection


def _concat(chunks: list, dtype, shape_tail=()) -> np.ndarray:
    return np.concatenate(chunks) if chunks else np.zeros((0, *shape_tail), dtype)


class Monitor:
    """Base: holds the recorded chunks and the step length of the network it belongs to."""

    dt: float | None = None

    def _bind(self, dt: float) -> None:
        self.dt = dt

    def _clear(self) -> None:
        raise NotImplementedError


class SpikeMonitor(Monitor):
    """Records the spikes of ``source`` (a population, input or a view)."""

    def __init__(self, source: GroupLike, name: str | None = None):
        if isinstance(source.group, AstrocytePopulation):
            raise TypeError(f"astrocytes do not spike: record {source.group.name}'s variables "
                            f"{AstrocytePopulation.variables} with a StateMonitor")
        self.source, self.name = source, name or f"spikes:{source.name}"
        self._clear()

    def _clear(self) -> None:
        self._steps: list[np.ndarray] = []
        self._idx: list[np.ndarray] = []

    def _append(self, steps: np.ndarray, group_idx: np.ndarray) -> None:
        if isinstance(self.source, View):
            keep = np.isin(group_idx, self.source.indices)
            steps, group_idx = steps[keep], group_idx[keep]
        self._steps.append(steps.astype(np.int64))
        self._idx.append(group_idx.astype(np.int64))

    @property
    def steps(self) -> np.ndarray:
        """Step of every spike (sorted by step, then index)."""
        return _concat(self._steps, np.int64)

    @property
    def indices(self) -> np.ndarray:
        """Index in the monitored group of every spike."""
        return _concat(self._idx, np.int64)

    @property
    def times(self) -> np.ndarray:
        """Time of every spike in seconds."""
        return self.steps * self.dt

    @property
    def num_spikes(self) -> int:
        """Total number of spikes recorded so far."""
        return int(sum(len(s) for s in self._steps))

    def count(self) -> np.ndarray:
        """Spikes per element of the monitored group."""
        return np.bincount(self.indices, minlength=self.source.group.n)

    def spike_trains(self) -> dict[int, np.ndarray]:
        """Spike times (seconds) of every recorded element."""
        idx, t = self.indices, self.times
        order = np.argsort(idx, kind="stable")
        bounds = np.searchsorted(idx[order], np.arange(self.source.group.n + 1))
        members = self.source.indices
        return {int(i): t[order[bounds[i]:bounds[i + 1]]] for i in members}


class _RowRecorder(Monitor):
    """A monitor recording rows every ``every`` seconds (``None``: every step): state and weights."""

    every: float | None = None

    def _clear(self) -> None:
        self._steps: list[np.ndarray] = []
        self._rows: list[np.ndarray] = []

    def every_steps(self, dt: float) -> int:
        """Recording interval in steps (at least 1)."""
        return 1 if self.every is None else max(1, int(np.floor(self.every / dt + 0.5)))

    def _append(self, steps: np.ndarray, rows: np.ndarray) -> None:
        self._steps.append(steps.astype(np.int64))
        self._rows.append(rows)

    @property
    def steps(self) -> np.ndarray:
        return _concat(self._steps, np.int64)

    @property
    def times(self) -> np.ndarray:
        """Time of every recorded row (end of the recorded step), seconds."""
        return (self.steps + 1) * self.dt


class StateMonitor(_RowRecorder):
    """Records ``variables`` of the elements ``indices`` of ``population`` (neurons or astrocytes)
    every ``every`` seconds.

    Variables are those of ``population.variables``; read them as ``monitor.v``,
    ``monitor["g_exc"]`` or ``monitor.Ca_astro`` (shape ``[recorded steps, len(indices)]``).
    """

    def __init__(self, population: GroupLike, variables: Sequence[str] = ("v",),
                 indices: Sequence[int] | None = None, every: float | None = None,
                 name: str | None = None):
        pop = population.group
        if not isinstance(pop, (Population, AstrocytePopulation)):
            raise TypeError(f"StateMonitor records neuron or astrocyte populations, got {population!r}")
        variables = (variables,) if isinstance(variables, str) else tuple(variables)
        unknown = [v for v in variables if v not in pop.variables]
        if unknown or not variables:
            raise ValueError(f"{pop.name} has no variable(s) {unknown}: it can record {pop.variables}")
        base = population.indices
        idx = base if indices is None else base[np.asarray(indices, dtype=np.int64)]
        if idx.size == 0:
            raise ValueError("StateMonitor needs at least one neuron index")
        if every is not None and not (every > 0):
            raise ValueError(f"StateMonitor every must be > 0 seconds, got {every!r}")
        self.population, self.variables, self.indices, self.every = pop, variables, idx, every
        self.name = name or f"state:{pop.name}"
        self._clear()

    def __getitem__(self, variable: str) -> np.ndarray:
        if variable not in self.variables:
            raise KeyError(f"{self.name} records {self.variables}, not {variable!r}")
        k = self.variables.index(variable)
        n = len(self.indices)
        if not self._rows:
            return np.zeros((0, n))
        return np.concatenate(self._rows)[:, k * n:(k + 1) * n]

    def __getattr__(self, variable: str) -> np.ndarray:
        if variable.startswith("_") or variable not in self.__dict__.get("variables", ()):
            raise AttributeError(variable)
        return self[variable]


class RateMonitor(Monitor):
    """Spike count of a whole population at every step; :meth:`rate` turns it into Hz."""

    def __init__(self, population: Population, name: str | None = None):
        if not isinstance(population, Population):
            raise TypeError(f"RateMonitor records a whole Population, got {population!r}")
        self.population, self.name = population, name or f"rate:{population.name}"
        self._clear()

    def _clear(self) -> None:
        self._counts: list[np.ndarray] = []

    def _append(self, counts: np.ndarray) -> None:
        self._counts.append(counts.astype(np.int64))

    @property
    def counts(self) -> np.ndarray:
        """Population spike count of every recorded step, ``int64 [steps]``."""
        return _concat(self._counts, np.int64)

    @property
    def times(self) -> np.ndarray:
        """Time of every recorded step in seconds, ``[steps]`` (``step * dt``)."""
        return np.arange(len(self.counts)) * self.dt

    def rate(self, bin: float | None = None) -> np.ndarray:
        """Population rate in Hz per step, averaged over windows of ``bin`` seconds (centred box)."""
        r = self.counts / (self.population.n * self.dt)
        if bin is None:
            return r
        width = max(1, int(round(bin / self.dt)))
        return np.convolve(r, np.ones(width) / width, mode="same")

    def mean_rate(self) -> float:
        """Mean rate per neuron over everything recorded, Hz."""
        c = self.counts
        return float(c.sum() / (self.population.n * len(c) * self.dt)) if len(c) else 0.0


class WeightMonitor(_RowRecorder):
    """Records the weights of chosen synapses of ``projection`` every ``every`` seconds.

    ``synapses``: indices in the projection's own order (that of ``proj.weights``; default: all).
    Read ``monitor.weights`` (``[records, len(synapses)]``, float64) with ``monitor.steps`` /
    ``monitor.times``; a record at step ``t`` holds the weights after step ``t`` (the convention of
    :class:`StateMonitor`), so ``times`` are ``(steps + 1) * dt``.

    How it records: the weights live in the network's compiled table; after every piece of a run
    the network copies the recorded ones out (``Network._record_weights``). Static weights change
    only between runs (:meth:`Projection.set_weights`), so each record of a run repeats the current
    values. A projection with a plasticity rule (``proj.plasticity`` not None) makes the network
    split the run at every recording step and ask the runner for its current weights first: every
    runner that runs plasticity keeps the plastic weights in its own vector (on the GPU for CUDA) and
    ``runner.sync_weights()`` copies them to the table before they are recorded.
    """

    def __init__(self, projection: Projection, synapses: Sequence[int] | None = None,
                 every: float | None = None, name: str | None = None):
        if not isinstance(projection, Projection):
            raise TypeError(f"WeightMonitor records a Projection, got {type(projection).__name__}")
        if every is not None and not (isinstance(every, (int, float)) and np.isfinite(every) and every > 0):
            raise ValueError(f"WeightMonitor every must be > 0 seconds, got {every!r}")
        chosen = None
        if synapses is not None:
            chosen = np.atleast_1d(np.asarray(synapses))
            if chosen.size == 0 or chosen.dtype == bool or not np.issubdtype(chosen.dtype, np.integer):
                raise ValueError(f"WeightMonitor synapses must be a non-empty list of synapse indices, "
                                 f"got {synapses!r}")
            chosen = chosen.astype(np.int64).ravel()
        self.projection, self.every, self.name = projection, every, name or f"weights:{projection.name}"
        self._requested = chosen
        self.synapses: np.ndarray | None = chosen  # resolved to all synapses when the network builds
        self._clear()

    def _resolve(self, n_synapses: int) -> np.ndarray:
        """The recorded synapse indices, validated against the projection's ``n_synapses``."""
        if self._requested is None:
            self.synapses = np.arange(n_synapses)
        else:
            bad = (self._requested < 0) | (self._requested >= n_synapses)
            if bad.any():
                first = int(self._requested[bad][0])
                raise ValueError(f"{self.name}: synapse index {first} is out of range: "
                                 f"{self.projection.name} has {n_synapses} synapses")
            self.synapses = self._requested
        return self.synapses

    @property
    def weights(self) -> np.ndarray:
        """``[records, recorded synapses]`` weights (float64)."""
        n = 0 if self.synapses is None else len(self.synapses)
        return _concat(self._rows, np.float64, (n,))
