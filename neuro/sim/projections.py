"""Projections: synapses from a source group to a synaptic channel of a target population.

A spike of source ``j`` at step ``t`` adds ``weight`` to channel ``target`` of neuron ``i`` where
the step ``t + 1 + delay_steps`` reads it (``delay_steps = round(delay / dt)``; zero delay acts on
the next step, as in Brian2). Weights and delays are scalars, per-synapse arrays (in the order the
connector returns the synapses), distributions or callables ``f(rng, n_synapses)``.

With astrocytes (:mod:`neuro.sim.astrocytes`) a projection has one of three kinds: ``"spike"``
(the above), ``"ip3"`` (spikes onto astrocytes: ``IP3 += delta_IP3 * weight`` on arrival) and
``"sic"`` (astrocytes onto neurons: ``weight * SIC`` as an input current).
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from neuro.sim.astrocytes import AstrocytePopulation
from neuro.sim.connectivity import Connector
from neuro.sim.groups import CURRENT_CHANNEL, GroupLike, Population, View
from neuro.sim.values import ValueSpec, resolve


_IP3_WEIGHTS = "weights onto astrocytes must be >= 0 (IP3 += delta_IP3 * weight; NEST rejects negative ones)"


class Synapses(NamedTuple):
    """Concrete synapses of one projection (local indices, float64 weights, delays in steps)."""

    pre: np.ndarray
    post: np.ndarray
    weight: np.ndarray
    delay: np.ndarray


class Projection:
    """Synapses from ``pre`` (any group or view) onto channel ``target`` of ``post`` (a population or view).

    Args:
        pre, post: source group and target population (or views: ``pop[:3200]``); either may be
            an :class:`~neuro.sim.AstrocytePopulation` (not both).
        connector: a rule of :mod:`neuro.sim.connectivity`.
        weight: added to the target channel per spike (units of the channel, e.g. volts or amperes);
            onto astrocytes: the IP3 weight (>= 0); from astrocytes: the factor of the SIC (pA).
        delay: transmission delay in seconds (>= 0), rounded to whole steps.
        target: the channel name (``Population(synapses=...)``); optional when the population has
            a single channel. Astrocyte projections have fixed targets (``"IP3"``, ``"SIC"``).
    """

    def __init__(self, pre: GroupLike, post: GroupLike, connector: Connector, weight: ValueSpec = 1.0,
                 delay: ValueSpec = 0.0, target: Optional[str] = None, name: Optional[str] = None):
        if not isinstance(connector, Connector):
            raise TypeError("connector must be a neuro.sim connectivity rule, "
                            f"got {type(connector).__name__}")
        self.kind, target, label = self._kind_and_target(pre, post, target)
        self.pre, self.post, self.connector = pre, post, connector
        self.weight, self.delay, self.target = weight, delay, target
        self.name = name or f"{pre.name}->{post.name}:{label}"
        if isinstance(delay, (int, float)) and delay < 0:
            raise ValueError(f"{self.name}: delays must be >= 0 seconds, got {delay}")
        if self.kind == "ip3" and isinstance(weight, (int, float)) and weight < 0:
            raise ValueError(f"{self.name}: {_IP3_WEIGHTS}, got {weight}")

    @staticmethod
    def _kind_and_target(pre: GroupLike, post: GroupLike, target: Optional[str]) -> tuple[str, str, str]:
        """``(kind, channel, label)`` of a projection from ``pre`` to ``post``."""
        pre_astro = isinstance(pre.group, AstrocytePopulation)
        if isinstance(post.group, AstrocytePopulation):
            if pre_astro:
                raise TypeError("astrocytes do not project onto astrocytes (no such NEST connection)")
            if target not in (None, "IP3"):
                raise ValueError(f"spikes onto astrocytes always drive IP3; got target={target!r}")
            return "ip3", "IP3", "IP3"
        if not isinstance(post.group, Population):
            raise TypeError("the target of a projection must be a Population, an AstrocytePopulation "
                            f"(or a view of one), got {post!r}")
        if pre_astro:
            if target not in (None, "SIC"):
                raise ValueError("the SIC of astrocytes enters the neurons as an input current "
                                 f"(like the bias); got target={target!r}")
            return "sic", CURRENT_CHANNEL, "SIC"
        channels = list(post.group.synapses)
        if target is None:
            if len(channels) != 1:
                raise ValueError(f"{post.group.name} has channels {channels}: name the target channel")
            target = channels[0]
        if target not in channels:
            raise ValueError(f"{post.group.name} has no synaptic channel {target!r}; it has {channels}")
        return "spike", target, target

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
        if self.kind == "ip3" and (weight < 0).any():
            raise ValueError(f"{self.name}: {_IP3_WEIGHTS}, got min {weight.min()}")
        delay = np.floor(delay_s / dt + 0.5).astype(np.int64)
        # view-local indices -> indices in the underlying groups
        pre_g = self.pre.indices[pre] if isinstance(self.pre, View) else pre
        post_g = self.post.indices[post] if isinstance(self.post, View) else post
        return Synapses(pre_g, post_g, weight, delay)
