"""Projections: synapses from a source group to a synaptic channel of a target population.

A spike of source ``j`` at step ``t`` adds ``weight`` to channel ``target`` of neuron ``i`` where
the step ``t + 1 + delay_steps`` reads it (``delay_steps = round(delay / dt)``; zero delay acts on
the next step, as in Brian2). Weights and delays are scalars, per-synapse arrays (in the order the
connector returns the synapses), distributions or callables ``f(rng, n_synapses)``.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from neuro.sim.connectivity import Connector
from neuro.sim.groups import GroupLike, Population, View
from neuro.sim.values import ValueSpec, resolve


class Synapses(NamedTuple):
    """Concrete synapses of one projection (local indices, float64 weights, delays in steps)."""

    pre: np.ndarray
    post: np.ndarray
    weight: np.ndarray
    delay: np.ndarray


class Projection:
    """Synapses from ``pre`` (any group or view) onto channel ``target`` of ``post`` (a population or view).

    Args:
        pre, post: source group and target population (or views: ``pop[:3200]``).
        connector: a rule of :mod:`neuro.sim.connectivity`.
        weight: added to the target channel per spike (units of the channel, e.g. volts or amperes).
        delay: transmission delay in seconds (>= 0), rounded to whole steps.
        target: the channel name (``Population(synapses=...)``); optional when the population has
            a single channel.
    """

    def __init__(self, pre: GroupLike, post: GroupLike, connector: Connector, weight: ValueSpec = 1.0,
                 delay: ValueSpec = 0.0, target: Optional[str] = None, name: Optional[str] = None):
        if not isinstance(connector, Connector):
            raise TypeError("connector must be a neuro.sim connectivity rule, "
                            f"got {type(connector).__name__}")
        if not isinstance(post.group, Population):
            raise TypeError("the target of a projection must be a Population (or a view of one), "
                            f"got {post!r}")
        channels = list(post.group.synapses)
        if target is None:
            if len(channels) != 1:
                raise ValueError(f"{post.group.name} has channels {channels}: name the target channel")
            target = channels[0]
        if target not in channels:
            raise ValueError(f"{post.group.name} has no synaptic channel {target!r}; it has {channels}")
        self.pre, self.post, self.connector = pre, post, connector
        self.weight, self.delay, self.target = weight, delay, target
        self.name = name or f"{pre.name}->{post.name}:{target}"
        if isinstance(delay, (int, float)) and delay < 0:
            raise ValueError(f"{self.name}: delays must be >= 0 seconds, got {delay}")

    def synapses(self, dt: float, rng: np.random.Generator) -> Synapses:
        """Draw the connectivity, weights and delays (indices local to the pre/post *groups*)."""
        same = self.pre.group is self.post.group
        pre_ids = self.pre.indices if same else None
        post_ids = self.post.indices if same else None
        pre, post = self.connector.connect(self.pre.n, self.post.n, rng, pre_ids, post_ids,
                                           self.pre.positions, self.post.positions)
        n = pre.size
        weight = resolve(self.weight, n, f"{self.name}.weight", rng)
        delay_s = resolve(self.delay, n, f"{self.name}.delay", rng)
        if (delay_s < 0).any():
            raise ValueError(f"{self.name}: delays must be >= 0 seconds, got min {delay_s.min()}")
        delay = np.floor(delay_s / dt + 0.5).astype(np.int64)
        # view-local indices -> indices in the underlying groups
        pre_g = self.pre.indices[pre] if isinstance(self.pre, View) else pre
        post_g = self.post.indices[post] if isinstance(self.post, View) else post
        return Synapses(pre_g, post_g, weight, delay)
