"""Projections: synapses from a source group to a synaptic channel of a target population.

A spike of source ``j`` at step ``t`` adds ``weight`` to channel ``target`` of neuron ``i`` where
the step ``t + 1 + delay_steps`` reads it (``delay_steps = round(delay / dt)``; zero delay acts on
the next step, as in Brian2). Weights and delays are scalars, per-synapse arrays (in the order the
connector returns the synapses), distributions or callables ``f(rng, n_synapses)``.

With astrocytes (:mod:`neuro.sim.astrocytes`) a projection has one of three kinds: ``"spike"``
(the above), ``"ip3"`` (spikes onto astrocytes: ``IP3 += delta_IP3 * weight`` on arrival) and
``"sic"`` (astrocytes onto neurons: ``weight * SIC`` as an input current).

Weights between runs: ``proj.weights`` is a copy of the current weights in the projection's own
order (the order of the connector's synapses, the order a per-synapse ``weight`` array is given in),
``proj.set_weights(w)`` replaces them from the next run on, keeping the state; ``proj.connections``
gives the matching ``(pre, post)`` indices. :class:`neuro.sim.WeightMonitor` records chosen synapses
while the network runs. (The projection must belong to one :class:`~neuro.sim.Network`; the same
calls exist on the network: ``net.get_weights(proj)``, ``net.set_weights(proj, w)``.)

Size and delay limits are checked before anything is drawn or allocated: a projection whose
synapses cannot fit in memory raises a ``MemoryError`` with its name and the size it needs, delays
must stay below ``2**31 - 2`` steps (the kernels store them as int32).
"""

from __future__ import annotations

import weakref
from typing import Any, NamedTuple

import numpy as np

from neuro.sim.astrocytes import AstrocytePopulation
from neuro.sim.connectivity import Connector
from neuro.sim.groups import CURRENT_CHANNEL, GroupLike, Population, View
from neuro.sim.plasticity import PlasticityRule
from neuro.sim.values import BYTES_PER_SYNAPSE, ValueSpec, check_allocation, out_of_memory, resolve

#: the longest delay in steps: the kernels store delays as int32 and read ``t + 1 + delay``
MAX_DELAY_STEPS = 2 ** 31 - 3


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
        plasticity: a rule of :mod:`neuro.sim.plasticity` (``STDP(...)``) that changes the weights
            while the network runs (on every backend), or None (static synapses).
    """

    def __init__(self, pre: GroupLike, post: GroupLike, connector: Connector, weight: ValueSpec = 1.0,
                 delay: ValueSpec = 0.0, target: str | None = None, name: str | None = None,
                 plasticity: PlasticityRule | None = None):
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
        if plasticity is not None and not isinstance(plasticity, PlasticityRule):
            raise TypeError(f"{self.name}: plasticity must be a neuro.sim.plasticity rule (e.g. STDP(...)) "
                            f"or None, got {type(plasticity).__name__}")
        if plasticity is not None and self.kind != "spike":
            raise ValueError(f"{self.name}: plasticity applies to spike synapses onto neurons, "
                             f"not {self.kind!r}")
        self.plasticity = plasticity
        self._networks: list = []  # weak references to the networks this projection was added to
        self._drawn_order: tuple | None = None  # set by synapses(), collected by the network

    # -- weights between runs ------------------------------------------------------------------
    def _network(self) -> Any:
        """The one live :class:`~neuro.sim.Network` this projection was added to (typed ``Any``: this
        module sits below ``neuro.sim.network`` and must not import it, not even for type checking)."""
        live = [n for n in (ref() for ref in self._networks) if n is not None]
        if not live:
            raise RuntimeError(f"{self.name} has not been added to a Network: its synapses do not exist yet")
        if len(live) > 1:
            raise RuntimeError(f"{self.name} belongs to {len(live)} networks: use net.get_weights(proj) / "
                               "net.set_weights(proj, w) on the one you mean")
        return live[0]

    def _bind(self, network: Any) -> None:
        self._networks = [r for r in self._networks if r() is not None and r() is not network]
        self._networks.append(weakref.ref(network))

    @property
    def weights(self) -> np.ndarray:
        """A float64 copy of the current weights, in the projection's own order (the connector's
        order of synapses), after any runs; writing into it changes nothing (use
        :meth:`set_weights`). Weights are stored in the network's dtype (float32 by default)."""
        return self._network().get_weights(self)

    def set_weights(self, weights: ValueSpec) -> None:
        """Replace the weights (a scalar or one value per synapse, in the order of
        :attr:`weights`); they take effect from the next run, the state is kept."""
        self._network().set_weights(self, weights)

    @property
    def connections(self) -> tuple[np.ndarray, np.ndarray]:
        """``(pre, post)`` indices of the synapses in the pre / post *groups*, in the order of
        :attr:`weights`."""
        return self._network().connections(self)

    @property
    def n_synapses(self) -> int:
        """Number of synapses (the network draws them on first use)."""
        return int(self._network().connections(self)[0].size)

    @staticmethod
    def _kind_and_target(pre: GroupLike, post: GroupLike, target: str | None) -> tuple[str, str, str]:
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

    def check_size(self) -> None:
        """Raise a ``MemoryError`` naming this projection when its synapses cannot fit in memory
        (from the connector's expected count, before anything is drawn)."""
        n = self.connector.expected_synapses(self.pre.n, self.post.n)
        if n is None:
            return
        check_allocation(n * BYTES_PER_SYNAPSE,
                         f"projection {self.name} ({type(self.connector).__name__} on {self.pre.n} x "
                         f"{self.post.n}: {n:.3g} synapses)",
                         f" (at least {BYTES_PER_SYNAPSE} bytes per synapse); use a sparser rule, "
                         "fewer neurons or a machine with more memory")

    def synapses(self, dt: float, rng: np.random.Generator) -> Synapses:
        """Draw the connectivity, weights and delays (indices local to the pre/post *groups*).

        The size is checked first (:meth:`check_size`), out-of-memory errors name the projection,
        and delays must be below :data:`MAX_DELAY_STEPS` steps.
        """
        self.check_size()
        try:
            return self._draw(dt, rng)
        except MemoryError as err:
            if str(err).startswith("out of memory while"):
                raise
            n = self.connector.expected_synapses(self.pre.n, self.post.n)
            size = "" if n is None else f", {n:.3g} synapses"
            raise out_of_memory(err, f"drawing the synapses of projection {self.name} "
                                     f"({type(self.connector).__name__} on {self.pre.n} x {self.post.n}"
                                     f"{size})") from err

    def _draw(self, dt: float, rng: np.random.Generator) -> Synapses:
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
        steps = np.floor(delay_s / dt + 0.5)  # float: no int64 overflow before the check
        if n and steps.max() > MAX_DELAY_STEPS:
            raise ValueError(f"{self.name}: a delay of {delay_s.max():g} s is {steps.max():.4g} steps of "
                             f"dt = {dt:g} s; delays must stay below 2**31 - 2 = {MAX_DELAY_STEPS + 1} "
                             "steps (stored as int32)")
        delay = steps.astype(np.int64)
        # view-local indices -> indices in the underlying groups
        pre_g = self.pre.indices[pre] if isinstance(self.pre, View) else pre
        post_g = self.post.indices[post] if isinstance(self.post, View) else post
        # the compiled table keeps synapses sorted by source (stable): remember the permutation when
        # the connector's order differs, so weights can be read and written in the projection's order
        ordered = n < 2 or bool(np.all(pre_g[1:] >= pre_g[:-1]))
        self._drawn_order = (n, None if ordered else np.argsort(pre_g, kind="stable"))
        return Synapses(pre_g, post_g, weight, delay)
