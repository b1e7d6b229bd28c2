"""``Network``: populations, inputs, projections and monitors, run for seconds of biological time.

Example (Vogels & Abbott's CUBA network, see :func:`neuro.sim.examples.cuba`)::

    net = Network(dt=0.1e-3, seed=1)
    P = net.add(Population(4000, "LIF", tau_mem=20e-3, v_th=-50e-3, v_reset=-60e-3, v_leak=-49e-3,
                           refractory=5e-3, synapses={"exc": 5e-3, "inh": 10e-3},
                           v_init=Uniform(-60e-3, -50e-3)))
    net.add(Projection(P[:3200], P, FixedProbability(0.02), weight=1.62e-3, target="exc"))
    net.add(Projection(P[3200:], P, FixedProbability(0.02), weight=-9e-3, target="inh"))
    spikes = net.add(SpikeMonitor(P))
    net.run(1.0)

Astrocytes (NEST's ``astrocyte_lr_1994``, :mod:`neuro.sim.astrocytes`) join like populations,
driven by spikes through projections and sending their slow inward current back to neurons::

    astro = net.add(AstrocytePopulation(100, delta_IP3=0.2))
    net.connect_tripartite(P[:3200], P, astro, p_primary=0.02, p_third_if_primary=0.5, pool_size=4,
                           weight=1.62e-3, target="exc", weight_sic=1e-3, delay_sic=1e-3)
    ca = net.add(StateMonitor(astro, ["Ca_astro", "SIC"], every=1e-3))

The whole loop over steps runs inside one compiled kernel per chunk of steps (the chunks only
exist to update the progress bar). Everything random (connectivity, weights, initial values,
Poisson spikes) derives from ``seed``, so a run is reproducible, and the Poisson draws are the
same on every backend. Simulation needs no gradients and runs under ``torch.no_grad``.
"""

from __future__ import annotations

import math
import numbers
from typing import Optional, Union

import numpy as np
import torch

from neuro.astro.builder import draw_tripartite
from neuro.backends import resolve_backend
from neuro.sim.astrocytes import AstrocytePopulation
from neuro.sim.build import Compiled, compile_network, refresh_inputs
from neuro.sim.connectivity import FromList
from neuro.sim.groups import CurrentInput, Group, GroupLike, PoissonInput, Population, SpikeSource
from neuro.sim.monitors import Monitor, RateMonitor, SpikeMonitor, StateMonitor
from neuro.sim.projections import Projection
from neuro.sim.values import ValueSpec

Addable = Union[Group, Projection, Monitor, CurrentInput]


def _real(value: object) -> bool:
    """Any real scalar (``float``, ``int``, ``np.float32(1e-3)`` ...), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _positions_of(ids: np.ndarray) -> np.ndarray:
    """A lookup table ``table[ids[k]] == k`` (ids are distinct non-negative integers)."""
    table = np.full(int(ids.max()) + 1, -1, np.int64)
    table[ids] = np.arange(ids.size)
    return table


class Network:
    """A simulated network.

    Args:
        dt: time step in seconds.
        seed: seed of everything random in the network.
        dtype: ``torch.float32`` (default) or ``torch.float64`` state and weights.
        device: ``"cpu"`` or a CUDA device; selects the backend with ``backend="auto"``.
        backend: ``"auto"``, ``"numba"`` (CPU kernel), ``"cuda"`` (GPU kernel; on CPU arrays under
            Numba's CUDA simulator) or ``"torch"`` (the dense reference: small networks only).
    """

    def __init__(self, dt: float = 1e-4, seed: int = 0, dtype: torch.dtype = torch.float32,
                 device: Union[str, torch.device] = "cpu", backend: str = "auto"):
        if not (_real(dt) and math.isfinite(dt) and dt > 0):
            raise ValueError(f"dt must be a positive number of seconds, got {dt!r}")
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.dt, self.seed, self.dtype = float(dt), int(seed), dtype
        self.device = torch.device(device)
        self.backend = resolve_backend(backend, torch.empty(0, device=self.device))
        self._groups: list = []
        self._projections: list[Projection] = []
        self._monitors: list[Monitor] = []
        self._compiled: Optional[Compiled] = None
        self._runner = None
        self.step = 0

    # -- building -------------------------------------------------------------------------------
    def add(self, *objects: Addable):
        """Add populations, inputs, projections and monitors; returns the object (or the tuple)."""
        if self._compiled is not None:
            raise RuntimeError("the network has already run; build a new Network to change its structure")
        for obj in objects:
            if isinstance(obj, (Population, PoissonInput, SpikeSource, CurrentInput, AstrocytePopulation)):
                target = self._groups
            elif isinstance(obj, Projection):
                target = self._projections
            elif isinstance(obj, Monitor):
                target = self._monitors
            else:
                raise TypeError(f"cannot add {type(obj).__name__} to a Network")
            if any(o is obj for o in target):
                raise ValueError(f"{getattr(obj, 'name', obj)} was added twice")
            target.append(obj)
        return objects[0] if len(objects) == 1 else objects

    def connect_tripartite(self, pre: GroupLike, post: GroupLike, astrocytes: GroupLike,
                           p_primary: float = 1.0, p_third_if_primary: float = 1.0,
                           pool_size: int = 1, pool_type: str = "random", *,
                           weight: ValueSpec = 1.0, delay: ValueSpec = 0.0, target: Optional[str] = None,
                           weight_astro: ValueSpec = 1.0, delay_astro: ValueSpec = 0.0,
                           weight_sic: ValueSpec = 1.0, delay_sic: ValueSpec = 0.0,
                           allow_autapses: bool = False) -> tuple[Projection, Projection, Projection]:
        """NEST's ``tripartite_bernoulli_with_pool`` rule (:func:`neuro.astro.draw_tripartite`).

        Every ``pre -> post`` pair gets a synapse (onto channel ``target``) with probability
        ``p_primary``; each such synapse is paired, with probability ``p_third_if_primary``, with an
        astrocyte drawn uniformly from the target neuron's pool of ``pool_size`` astrocytes
        (``pool_type`` ``"random"`` or ``"block"``), which adds ``pre -> astrocyte`` (IP3 weight
        ``weight_astro``) and ``astrocyte -> post`` (SIC weight ``weight_sic``) connections. Weights
        and delays (seconds) take any per-synapse value. The draw uses the network's seed. Returns
        the three projections ``(primary, neuron -> astrocyte, astrocyte -> neuron)``, added.
        """
        if not isinstance(astrocytes.group, AstrocytePopulation):
            raise TypeError("astrocytes must be an AstrocytePopulation (or a view of one), "
                            f"got {astrocytes!r}")
        if self._compiled is not None:
            raise RuntimeError("the network has already run; build a new Network to change its structure")
        same = pre.group is post.group  # then equal group indices are the same neuron
        pre_ids = pre.indices if same else np.arange(pre.n)
        post_ids = post.indices if same else pre.n + np.arange(post.n)
        rng = np.random.default_rng([self.seed, len(self._projections), 3])  # own stream per call
        drawn = draw_tripartite(pre_ids, post_ids, np.arange(astrocytes.n), p_primary, p_third_if_primary,
                                pool_size, pool_type, rng, allow_autapses)
        pre_local, post_local = _positions_of(pre_ids), _positions_of(post_ids)  # ids -> view positions
        primary = Projection(pre, post, FromList(pre_local[drawn["pre"]], post_local[drawn["post"]]),
                             weight=weight, delay=delay, target=target)
        to_astro = Projection(pre, astrocytes, FromList(pre_local[drawn["astro_pre"]], drawn["astro"]),
                              weight=weight_astro, delay=delay_astro)
        sic = Projection(astrocytes, post, FromList(drawn["astro"], post_local[drawn["astro_post"]]),
                         weight=weight_sic, delay=delay_sic)
        self.add(primary, to_astro, sic)
        return primary, to_astro, sic

    @property
    def t(self) -> float:
        """Current simulation time in seconds."""
        return self.step * self.dt

    @property
    def compiled(self) -> Compiled:
        """The flat arrays of the network (built, and validated, on first use)."""
        if self._compiled is None:
            self._compiled = compile_network(self._groups, self._projections, self._monitors,
                                             self.dt, self.seed, self.dtype)
        return self._compiled

    def _make_runner(self):
        from neuro.sim import runners

        if self.backend == "numba":
            return runners.NumbaRunner(self.compiled)
        if self.backend == "cuda":
            from neuro.sim.cuda_runner import CudaRunner

            return CudaRunner(self.compiled, self.device)
        from neuro.sim.reference import TorchRunner

        return TorchRunner(self.compiled, self.device)

    # -- running --------------------------------------------------------------------------------
    def run(self, duration: float, progress: bool = True, chunk_steps: Optional[int] = None) -> None:
        """Advance by ``duration`` seconds (rounded to whole steps), recording into the monitors."""
        if not (_real(duration) and math.isfinite(duration) and duration >= 0):
            raise ValueError(f"duration must be a non-negative number of seconds, got {duration!r}")
        duration = float(duration)
        steps = int(math.floor(duration / self.dt + 0.5))
        net = self.compiled
        if self._runner is None:
            self._runner = self._make_runner()
        t0, t_end = self.step, self.step + steps
        refresh_inputs(net, self._groups, t_end)
        chunk = chunk_steps or max(1000, min(50_000, steps // 20 or 1))
        bar = None
        if progress and steps > 0:
            from tqdm.auto import tqdm

            bar = tqdm(total=steps, unit="step", desc=f"simulating {duration:g} s", leave=False)
        try:
            with torch.no_grad():
                for lo in range(t0, t_end, chunk):
                    hi = min(t_end, lo + chunk)
                    self._record(self._runner.run(lo, hi))
                    self.step = hi
                    if bar is not None:
                        bar.update(hi - lo)
        finally:
            if bar is not None:
                bar.close()

    def _record(self, res) -> None:
        net = self._compiled
        for m in self._monitors:
            if isinstance(m, SpikeMonitor):
                lo = net.offsets[m.source.group]
                keep = (res.spike_idx >= lo) & (res.spike_idx < lo + m.source.group.n)
                m._append(res.spike_steps[keep], res.spike_idx[keep] - lo)
            elif isinstance(m, RateMonitor):
                m._append(res.counts[:, net.populations.index(m.population)])
        col = 0
        for m in self._monitors:
            if isinstance(m, StateMonitor):
                width = len(m.variables) * len(m.indices)
                every = m.every_steps(self.dt)
                keep = res.mon_steps % every == 0
                m._append(res.mon_steps[keep], res.mon_rows[keep, col:col + width].astype(np.float64))
                col += width

    def synapses(self, projection: Projection) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(pre, post, weight)`` of a projection's synapses: indices in the pre / post groups."""
        net, k = self.compiled, self._projection_index(projection)
        table = net.table(projection.kind)
        sel = table.proj_id == k
        first = {**net.offsets, **net.astro_offsets}
        rows = np.repeat(np.arange(len(table.row_ptr) - 1), np.diff(table.row_ptr))[sel]
        cols = table.col[sel].astype(np.int64)
        post = cols if projection.kind == "ip3" else cols % net.N
        return (rows - first[projection.pre.group], post - first[projection.post.group],
                table.weight[sel].astype(np.float64))

    def scale_projections(self, projections, factor: float) -> None:
        """Set the weights of ``projections`` to ``factor`` times their drawn values.

        The state is kept on the CPU kernel; other backends restart from the initial state.
        """
        if not (isinstance(factor, (int, float)) and math.isfinite(factor)):
            raise ValueError(f"factor must be a finite number, got {factor!r}")
        net = self.compiled
        for proj in projections:
            table = net.table(proj.kind)
            sel = table.proj_id == self._projection_index(proj)
            table.weight[sel] = (table.base_weight[sel] * factor).astype(table.weight.dtype)
        if self._runner is not None and self.backend != "numba":
            self._runner = None  # the other runners copy the weights when they start

    def _projection_index(self, projection: Projection) -> int:
        for k, p in enumerate(self._projections):
            if p is projection:
                return k
        raise ValueError(f"{projection.name} is not a projection of this network")

    def reset(self) -> None:
        """Back to time 0 with the initial state; monitors are cleared, connectivity is kept."""
        if self._runner is not None:
            self._runner.reset()
        self.step = 0
        for m in self._monitors:
            m._clear()

    def state(self) -> dict:
        """The current state arrays (``v``, ``i``, ``a`` per neuron, channel currents ``g [C, N]``;
        with astrocytes also ``IP3``, ``Ca_astro``, ``h_IP3R``, ``SIC`` per astrocyte)."""
        if self._runner is None:
            self._runner = self._make_runner()
        return self._runner.state()

    def __repr__(self) -> str:
        pops = sum(isinstance(g, (Population, AstrocytePopulation)) for g in self._groups)
        return (f"Network(dt={self.dt}, populations={pops}, projections={len(self._projections)}, "
                f"monitors={len(self._monitors)}, t={self.t:g} s, backend={self.backend!r})")
