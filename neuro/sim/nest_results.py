"""What a network exported to NEST records, read back in neuro's conventions.

:class:`NestNetwork` (made by :func:`neuro.sim.to_nest`) runs the NEST kernel and reads its recorders:
``nest_net[monitor]`` gives, for a neuro monitor of the exported network, a :class:`NestSpikes`,
:class:`NestStates` or :class:`NestRates` with the read API of the neuro monitor (seconds, volts,
step indices, indices in the monitored group). Conventions: NEST stamps a spike of neuro's step
``k`` at ``(k + 1) dt``; its ``V_m`` at ``(t + 1) dt`` is neuro's ``v`` after step ``t``; its
``I_syn`` at ``(t + 1) dt`` already holds the spikes neuro adds at the start of step ``t + 1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from neuro.sim.network import Network

S_TO_MS = 1e3


@dataclass
class NestSpikes:
    """Spikes recorded in NEST, in neuro's conventions (read like a :class:`~neuro.sim.SpikeMonitor`)."""

    steps: np.ndarray
    indices: np.ndarray
    dt: float
    n: int

    @property
    def times(self) -> np.ndarray:
        """Time of every spike in seconds (neuro's step times, ``step * dt``)."""
        return self.steps * self.dt

    @property
    def num_spikes(self) -> int:
        """Total number of spikes recorded."""
        return int(self.steps.size)

    def count(self) -> np.ndarray:
        """Spike count per neuron of the monitored group, ``[n]``."""
        return np.bincount(self.indices, minlength=self.n)

    def spike_trains(self) -> dict[int, np.ndarray]:
        """Spike times in seconds per neuron index, for the neurons that spiked."""
        return {int(i): self.times[self.indices == i] for i in np.unique(self.indices)}


@dataclass
class NestStates:
    """State variables recorded in NEST (``states["v"]``: ``[records, neurons]``, neuro units)."""

    steps: np.ndarray
    values: dict
    dt: float

    @property
    def times(self) -> np.ndarray:
        """Time of every record in seconds: ``(step + 1) * dt``, the end of the step the values belong to."""
        return (self.steps + 1) * self.dt

    def __getitem__(self, variable: str) -> np.ndarray:
        return self.values[variable]


@dataclass
class NestRates:
    """Population spike counts per step recorded in NEST (read like a :class:`~neuro.sim.RateMonitor`)."""

    counts: np.ndarray
    dt: float
    n: int

    def rate(self, bin: float | None = None) -> np.ndarray:
        """Population rate in Hz per step (``counts / (n * dt)``), averaged over windows of ``bin`` seconds
        (centred box) if given.
        """
        r = self.counts / (self.n * self.dt)
        if bin is None:
            return r
        width = max(1, int(round(bin / self.dt)))
        return np.convolve(r, np.ones(width) / width, mode="same")

    def mean_rate(self) -> float:
        """Mean population rate in Hz over the whole recording (0 when nothing was recorded)."""
        return float(self.counts.sum() / (self.n * len(self.counts) * self.dt)) if len(self.counts) else 0.0


class NestNetwork:
    """A neuro network living in NEST's kernel (made by :func:`to_nest`).

    Attributes: ``nest`` (the PyNEST module), ``nodes`` (neuro group -> NodeCollection; Poisson
    inputs map to their parrot neurons), ``notes`` (the approximations made), ``step`` (steps
    simulated). With several MPI processes every process reads the events of its own neurons.
    """

    def __init__(self, nest, net: Network):
        self.nest, self.dt, self.step = nest, net.dt, 0
        self.nodes: dict = {}
        self.notes: list[str] = []
        self._recorders: dict = {}  # monitor -> (kind, recorder, extra)
        self._models = 0  # synapse models copied for plastic projections

    def run(self, duration: float) -> None:
        """Simulate ``duration`` seconds (rounded to whole steps)."""
        if not (isinstance(duration, (int, float)) and math.isfinite(duration) and duration >= 0):
            raise ValueError(f"duration must be a non-negative number of seconds, got {duration!r}")
        steps = int(math.floor(duration / self.dt + 0.5))
        if steps:
            self.nest.Simulate(steps * self.dt * S_TO_MS)
        self.step += steps

    def __getitem__(self, monitor) -> Any:
        """What ``monitor`` (a monitor of the exported network) recorded in NEST."""
        if monitor not in self._recorders:
            raise KeyError(f"{getattr(monitor, 'name', monitor)} was not exported to NEST")
        kind, rec, extra = self._recorders[monitor]
        ev = rec.events if kind != "states" else None
        h_ms = self.dt * S_TO_MS
        if kind == "spikes":
            index_of, n = extra
            steps = np.rint(np.asarray(ev["times"]) / h_ms).astype(np.int64) - 1
            idx = index_of[np.asarray(ev["senders"], np.int64)]
            order = np.lexsort((idx, steps))
            return NestSpikes(steps[order], idx[order], self.dt, n)
        if kind == "rate":
            n = extra
            steps = np.rint(np.asarray(ev["times"]) / h_ms).astype(np.int64) - 1
            return NestRates(np.bincount(steps, minlength=self.step)[:self.step], self.dt, n)
        if kind == "weights":  # one record per transmitted spike: group indices, neuro's weight units
            pre_of, post_of, factor = extra
            post = post_of[np.asarray(ev["targets"], np.int64)]
            return {"pre": pre_of[np.asarray(ev["senders"], np.int64)], "post": post,
                    "steps": np.rint(np.asarray(ev["times"]) / h_ms).astype(np.int64) - 1,
                    "weights": np.asarray(ev["weights"], np.float64) / factor[post]}
        columns, cols = extra  # node id -> column of the unique neurons; their monitor order
        parts = []
        for meter, recordables, shift in rec:
            ev = meter.events
            steps = np.rint(np.asarray(ev["times"]) / h_ms).astype(np.int64) + shift
            keep = steps < self.step  # the currents read one step ahead: drop the step after the run
            ev = {key: np.asarray(ev[key])[keep] for key in ["senders"] + [r[1] for r in recordables]}
            parts.append((steps[keep], columns[ev["senders"].astype(np.int64)], ev, recordables))
        steps = np.unique(parts[0][0])
        for p in parts[1:]:  # the steps every meter recorded (V_m may lack the run's last step)
            steps = np.intersect1d(steps, p[0])
        values = {}
        for steps_all, col, ev, recordables in parts:
            keep = np.isin(steps_all, steps)
            row = np.searchsorted(steps, steps_all[keep])
            for name, nest_name, scale in recordables:
                table = np.full((steps.size, scale.size), np.nan)
                table[row, col[keep]] = np.asarray(ev[nest_name], np.float64)[keep]
                values[name] = (table * scale)[:, cols]
        return NestStates(steps, values, self.dt)
