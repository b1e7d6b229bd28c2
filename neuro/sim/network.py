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

Weights between runs: ``proj.weights`` / ``proj.set_weights(w)`` (or ``net.get_weights(proj)`` /
``net.set_weights(proj, w)``) read and replace a projection's weights in its own synapse order;
the next run uses them and keeps the state. :class:`~neuro.sim.WeightMonitor` records chosen
synapses. A runner that keeps its own copy of the weights (GPU memory) provides
``refresh_weights()`` (host table -> runner, called after ``set_weights``) and, once weights change
inside the kernels, ``sync_weights()`` (runner -> host table, called before weights are read).

Sizes are checked before anything large is allocated (neuron tables, synapses, the delivery ring
buffer): what cannot fit raises a ``MemoryError`` naming the population or projection and the size
it needs, and an allocation that fails anyway names what was being built.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from neuro.astro.builder import draw_tripartite
from neuro.backends import resolve_backend
from neuro.kernels import lif_math
from neuro.sim.astrocytes import AstrocytePopulation
from neuro.sim.build import Compiled, compile_network, keep_thresholds, refresh_inputs, theta_state
from neuro.sim.connectivity import FromList
from neuro.sim.groups import CurrentInput, Group, GroupLike, PoissonInput, Population, SpikeSource
from neuro.sim.monitors import Monitor, RateMonitor, SpikeMonitor, StateMonitor, WeightMonitor
from neuro.sim.projections import Projection
from neuro.sim.values import (
    BYTES_PER_NEURON,
    BYTES_PER_SYNAPSE,
    ValueSpec,
    check_allocation,
    format_bytes,
    out_of_memory,
    resolve,
)

#: the coefficient rows of ``lif_math`` and the Population parameter each comes from (error messages)
_PRM_SOURCES = {lif_math.P_ALPHA: "tau_syn", lif_math.P_GI: "w_in", lif_math.P_BETA: "tau_mem",
                lif_math.P_GV: "r", lif_math.P_C: "v_leak", lif_math.P_TH: "v_th", lif_math.P_VR: "v_reset",
                lif_math.P_RHO: "tau_adapt", lif_math.P_BA: "beta_adapt"}
#: a run below this interval is "too fine" for dt (seconds as milliseconds): dt must not exceed it
MAX_DT = 10e-3

Addable = Group | Projection | Monitor | CurrentInput


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
        check_ranges: reject a ``dt`` above 10 ms (almost surely milliseconds given as seconds).
    """

    def __init__(self, dt: float = 1e-4, seed: int = 0, dtype: torch.dtype = torch.float32,
                 device: str | torch.device = "cpu", backend: str = "auto", check_ranges: bool = True):
        if not (_real(dt) and math.isfinite(dt) and dt > 0):
            raise ValueError(f"dt must be a positive number of seconds, got {dt!r}")
        if check_ranges and dt > MAX_DT:
            raise ValueError(f"dt = {dt!r} s is implausibly long for a spiking network (more than "
                             f"{MAX_DT * 1e3:g} ms): neuro takes plain SI units, seconds; 0.1 ms is 1e-4 "
                             "(check_ranges=False to allow it)")
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
        self._compiled: Compiled | None = None
        self._runner = None
        self.step = 0
        self._orders: dict[int, tuple] = {}  # projection index -> (n synapses, permutation or None)
        self._positions: dict[int, np.ndarray] = {}  # projection index -> table positions, own order

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
            if isinstance(obj, Projection):
                obj._bind(self)
        return objects[0] if len(objects) == 1 else objects

    def connect_tripartite(self, pre: GroupLike, post: GroupLike, astrocytes: GroupLike,
                           p_primary: float = 1.0, p_third_if_primary: float = 1.0,
                           pool_size: int = 1, pool_type: str = "random", *,
                           weight: ValueSpec = 1.0, delay: ValueSpec = 0.0, target: str | None = None,
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
            self._check_sizes()
            try:
                net = compile_network(self._groups, self._projections, self._monitors,
                                      self.dt, self.seed, self.dtype)
            except MemoryError as err:
                if str(err).startswith("out of memory while") or "needs at least" in str(err):
                    raise
                raise out_of_memory(err, f"building the network ({self._size_summary()})") from err
            self._collect_orders()
            _apply_delta_jumps(net)
            _check_finite(net, self._projections)
            for m in self._monitors:
                if isinstance(m, WeightMonitor):
                    if not any(p is m.projection for p in self._projections):
                        raise ValueError(f"{m.name} watches {m.projection.name}, which is not in the network")
                    m._resolve(self._orders[self._projection_index(m.projection)][0])
            self._compiled = net
        return self._compiled

    def _check_sizes(self) -> None:
        """Neuron tables and synapses that cannot fit in memory fail before anything is allocated."""
        pops = [g for g in self._groups if isinstance(g, (Population, PoissonInput, SpikeSource))]
        channels = max((len(p.synapses) + 1 for p in pops if isinstance(p, Population)), default=1)
        per_neuron = BYTES_PER_NEURON + 3 * 8 * channels  # coefficients, channel tables, state, ring
        if pops:
            big = max(pops, key=lambda g: g.n)
            n = sum(g.n for g in pops)
            check_allocation(n * per_neuron, f"the {n:.3g} neurons and inputs of the network (largest: "
                                             f"{type(big).__name__} {big.name}, n = {big.n:.3g})",
                             f" (at least {per_neuron} bytes per neuron)")
        for proj in self._projections:
            proj.check_size()
        counts = [(proj.connector.expected_synapses(proj.pre.n, proj.post.n) or 0.0, proj)
                  for proj in self._projections]
        total = sum(c for c, _ in counts)
        if counts and len(counts) > 1:
            names = ", ".join(f"{p.name} ({c:.3g})" for c, p in sorted(counts, key=lambda cp: -cp[0])[:3])
            check_allocation(total * BYTES_PER_SYNAPSE, f"the {total:.3g} synapses of all projections "
                                                        f"(largest: {names})",
                             f" (at least {BYTES_PER_SYNAPSE} bytes per synapse)")

    def _size_summary(self) -> str:
        pops = ", ".join(f"{g.name}: {g.n}" for g in self._groups if hasattr(g, "n"))
        syn = ", ".join(f"{p.name}: ~{p.connector.expected_synapses(p.pre.n, p.post.n) or 0:.3g} synapses"
                        for p in self._projections)
        return f"groups {pops}; projections {syn or 'none'}"

    def _collect_orders(self) -> None:
        """Take every projection's draw order (recorded by ``Projection.synapses``) for this network."""
        self._orders, self._positions = {}, {}
        for k, proj in enumerate(self._projections):
            self._orders[k] = proj._drawn_order
            proj._drawn_order = None

    def _make_runner(self):
        from neuro.sim import runners

        net = self.compiled
        ring = net.D * (net.C * net.N * net.dtype.itemsize + net.A * 8)
        check_allocation(ring, f"the spike delivery ring buffer ({net.D} steps x {net.C} channels x {net.N} "
                               f"neurons, for the longest delay: {self._longest_delay()})",
                         "; shorten the longest delays or use a coarser dt")
        rules = {k: p.plasticity for k, p in enumerate(self._projections) if p.plasticity is not None}
        self._check_compiled_plasticity(rules)
        if rules and self.backend != "torch":  # traces, indices and the kernels' spike history ring
            n_pl = int(np.isin(net.proj_id, np.array(sorted(rules))).sum())
            check_allocation(n_pl * (8 * net.dtype.itemsize + 48) + net.D * net.S * 12,
                             f"the plastic synapses' tables ({n_pl} synapses, spike history of {net.D} steps "
                             f"x {net.S} sources)")
        try:
            if rules and self.backend == "torch":
                from neuro.sim.plastic_runner import PlasticTorchRunner

                return PlasticTorchRunner(net, self.device, rules)
            if self.backend == "numba":
                return runners.NumbaRunner(net, rules)
            if self.backend == "cuda":
                from neuro.sim.cuda_runner import CudaRunner

                return CudaRunner(net, self.device, rules=rules)
            from neuro.sim.reference import TorchRunner

            return TorchRunner(net, self.device)
        except MemoryError as err:
            raise out_of_memory(err, f"allocating the state of the {self.backend} runner ({net.N} neurons, "
                                     f"{net.C} channels, {net.col.size} synapses, delivery ring of {net.D} "
                                     f"steps = {format_bytes(ring)})") from err

    def _check_compiled_plasticity(self, rules: dict) -> None:
        """The compiled kernels (the CPU kernel and the deterministic CUDA event kernel) run the rules of
        :mod:`neuro.sim.plasticity` (``runners.compiled_rule_problem``): anything else raises
        ``NotImplementedError`` naming the projections and rules."""
        from neuro.sim.runners import require_compiled_rules

        if not rules or self.backend == "torch":
            return
        require_compiled_rules(rules, f"the simulation kernels (this network uses backend={self.backend!r})",
                               {k: self._projections[k].name for k in rules})
        if self.backend == "cuda":
            from neuro.sim.cuda_runner import ENV_KERNEL, kernel_choice

            if kernel_choice(None, plastic=True) != "events":
                names = ", ".join(f"{self._projections[k].name} ({type(r).__name__})"
                                  for k, r in rules.items())
                raise NotImplementedError(f"plastic projections {names} need the deterministic CUDA event "
                                          f"kernel, but ${ENV_KERNEL} selects the atomic one, which does not "
                                          "implement plasticity (unset it or set it to 'events')")

    def _longest_delay(self) -> str:
        best = (0, "no projection")
        for kind in ("spike", "ip3", "sic"):
            table = self.compiled.table(kind)
            if table.delay.size:
                j = int(np.argmax(table.delay))
                if int(table.delay[j]) >= best[0]:
                    best = (int(table.delay[j]), self._projections[int(table.proj_id[j])].name)
        return f"{best[0]} steps in {best[1]}"

    # -- running --------------------------------------------------------------------------------
    def run(self, duration: float, progress: bool = True, chunk_steps: int | None = None) -> None:
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
        bounds = self._piece_bounds(t0, t_end, chunk)
        try:
            with torch.no_grad():
                for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
                    self._record(self._runner.run(lo, hi))
                    self._record_weights(lo, hi)
                    self.step = hi
                    if bar is not None:
                        bar.update(hi - lo)
        finally:
            if bar is not None:
                bar.close()

    def _piece_bounds(self, t0: int, t1: int, chunk: int) -> np.ndarray:
        """Step boundaries of the pieces of a run: every ``chunk`` steps, and right after every
        recording step of a weight monitor on a plastic projection (weights read between pieces)."""
        cuts = [np.arange(t0, t1, chunk, dtype=np.int64), np.array([t1], np.int64)]
        for m in self._monitors:
            if isinstance(m, WeightMonitor) and getattr(m.projection, "plasticity", None) is not None:
                cuts.append(_record_steps(t0, t1, m.every_steps(self.dt)) + 1)
        return np.unique(np.concatenate(cuts)) if t1 > t0 else np.array([t0], np.int64)

    def _record_weights(self, lo: int, hi: int) -> None:
        """Weight monitors: the current weights for their recording steps in ``[lo, hi)`` (a plastic
        projection's piece ends right after its recording step, see :meth:`_piece_bounds`)."""
        synced = False
        for m in self._monitors:
            if not isinstance(m, WeightMonitor):
                continue
            steps = _record_steps(lo, hi, m.every_steps(self.dt))
            if not steps.size:
                continue
            if not synced:
                self._sync_weights()
                synced = True
            table = self._compiled.table(m.projection.kind)
            row = table.weight[self._table_positions(m.projection)[m.synapses]].astype(np.float64)
            m._append(steps, np.repeat(row[None, :], steps.size, axis=0))

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
                rows = res.mon_rows[keep, col:col + width].astype(np.float64)
                if net.mon_scale is not None:  # adaptive thresholds: theta = K a
                    rows *= net.mon_scale[col:col + width]
                m._append(res.mon_steps[keep], rows)
                col += width

    def synapses(self, projection: Projection) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(pre, post, weight)`` of a projection's synapses: indices in the pre / post groups."""
        net, k = self.compiled, self._projection_index(projection)
        self._sync_weights()  # (plastic weights: the runner's current values)
        table = net.table(projection.kind)
        sel = table.proj_id == k
        first = {**net.offsets, **net.astro_offsets}
        rows = np.repeat(np.arange(len(table.row_ptr) - 1), np.diff(table.row_ptr))[sel]
        cols = table.col[sel].astype(np.int64)
        post = cols if projection.kind == "ip3" else cols % net.N
        return (rows - first[projection.pre.group], post - first[projection.post.group],
                table.weight[sel].astype(np.float64))

    def scale_projections(self, projections, factor: float) -> None:
        """Set the weights of ``projections`` to ``factor`` times their drawn (or last set) values.

        The state is kept on the CPU kernel and on runners with ``refresh_weights()``; other
        backends restart from the initial state.
        """
        if not (isinstance(factor, (int, float)) and math.isfinite(factor)):
            raise ValueError(f"factor must be a finite number, got {factor!r}")
        net = self.compiled
        self._sync_weights()
        for proj in projections:
            table = net.table(proj.kind)
            sel = table.proj_id == self._projection_index(proj)
            table.weight[sel] = (table.base_weight[sel] * factor).astype(table.weight.dtype)
        self._push_weights(restart=True)

    # -- weights between runs -------------------------------------------------------------------
    def _table_positions(self, projection: Projection) -> np.ndarray:
        """Positions in the compiled synapse table of ``projection``'s synapses, in its own order."""
        net, k = self.compiled, self._projection_index(projection)
        if k not in self._positions:
            sel = np.flatnonzero(net.table(projection.kind).proj_id == k)
            n, order = self._orders[k]
            if sel.size != n:  # pragma: no cover - the table and the draw always agree
                raise RuntimeError(f"{projection.name}: {sel.size} synapses in the table, {n} drawn")
            if order is None:  # drawn sorted by source: the table keeps the projection's order
                self._positions[k] = sel
            else:  # the table holds the synapses stably sorted by source: undo that permutation
                pos = np.empty_like(sel)
                pos[order] = sel
                self._positions[k] = pos
        return self._positions[k]

    def get_weights(self, projection: Projection) -> np.ndarray:
        """A float64 copy of ``projection``'s current weights in its own synapse order."""
        pos = self._table_positions(projection)
        self._sync_weights()
        return self.compiled.table(projection.kind).weight[pos].astype(np.float64)

    def set_weights(self, projection: Projection, weights: ValueSpec) -> None:
        """Replace ``projection``'s weights (a scalar or one value per synapse in its own order);
        the next run uses them and keeps the state (see the module docstring for the runners)."""
        pos = self._table_positions(projection)
        values = resolve(weights, pos.size, f"{projection.name}.weights")
        if projection.kind == "ip3" and (values < 0).any():
            raise ValueError(f"{projection.name}: weights onto astrocytes must be >= 0, "
                             f"got min {values.min()}")
        table = self.compiled.table(projection.kind)
        with np.errstate(over="ignore"):  # checked just below
            cast = values.astype(table.weight.dtype)
        if not np.isfinite(cast).all():
            raise ValueError(f"{projection.name}.weights overflow {table.weight.dtype} "
                             f"(|w| up to {np.abs(values).max():.3g}); use dtype=torch.float64")
        self._sync_weights()
        table.weight[pos] = cast
        table.base_weight[pos] = values
        self._push_weights()

    def connections(self, projection: Projection) -> tuple[np.ndarray, np.ndarray]:
        """``(pre, post)`` group indices of ``projection``'s synapses in its own order."""
        pos = self._table_positions(projection)
        order = np.argsort(pos, kind="stable")  # own order -> table order, to reuse synapses()
        pre, post, _ = self.synapses(projection)
        out_pre, out_post = np.empty_like(pre), np.empty_like(post)
        out_pre[order], out_post[order] = pre, post
        return out_pre, out_post

    def _sync_weights(self) -> None:
        """Runner -> compiled table, for runners that change weights where the host cannot see them."""
        sync = getattr(self._runner, "sync_weights", None)
        if callable(sync):
            sync()

    def _push_weights(self, restart: bool = False) -> None:
        """Compiled table -> runner after weights were set between runs."""
        runner = self._runner
        if runner is None:
            return  # the next runner reads the compiled table
        refresh = getattr(runner, "refresh_weights", None)
        if callable(refresh):  # the CPU kernel, the CUDA event kernel, the plastic torch runner
            refresh()
        elif self.step == 0 or restart:
            self._runner = None  # nothing to keep (or the caller accepts a restart): start afresh
        else:
            raise RuntimeError(f"the {self.backend!r} runner copies the weights when it starts and has no "
                               "refresh_weights(): set weights before the first run or after net.reset(), "
                               "or use backend='numba'")

    def _projection_index(self, projection: Projection) -> int:
        for k, p in enumerate(self._projections):
            if p is projection:
                return k
        raise ValueError(f"{projection.name} is not a projection of this network")

    def reset(self) -> None:
        """Back to time 0 with the initial state; monitors are cleared, connectivity and the current
        weights are kept (and the thresholds of ``AdaptiveThreshold(keep_on_reset=True)``)."""
        if self._runner is not None:
            keep_thresholds(self._compiled, self._runner.state)  # AdaptiveThreshold(keep_on_reset=True)
            self._runner.reset()
        self.step = 0
        for m in self._monitors:
            m._clear()

    def state(self) -> dict:
        """The current state arrays (``v``, ``i``, ``a`` per neuron, channel currents ``g [C, N]``,
        ``theta`` in volts with adaptive thresholds, NaN for neurons without one;
        with astrocytes also ``IP3``, ``Ca_astro``, ``h_IP3R``, ``SIC`` per astrocyte)."""
        if self._runner is None:
            self._runner = self._make_runner()
        return theta_state(self.compiled, self._runner.state())

    def __repr__(self) -> str:
        pops = sum(isinstance(g, (Population, AstrocytePopulation)) for g in self._groups)
        return (f"Network(dt={self.dt}, populations={pops}, projections={len(self._projections)}, "
                f"monitors={len(self._monitors)}, t={self.t:g} s, backend={self.backend!r})")


def _record_steps(t0: int, t1: int, every: int) -> np.ndarray:
    """The steps in ``[t0, t1)`` that are multiples of ``every`` (the monitors' recording steps)."""
    first = -(-t0 // every) * every
    return np.arange(first, t1, every, dtype=np.int64)


def _apply_delta_jumps(net: Compiled) -> None:
    """``delta_synapse="jump"``: a delta channel's gain is ``1 / g_v``, so a weight ``w`` moves the
    membrane by exactly ``w`` (``v_t = beta v + g_v (w / g_v) + ...``)."""
    for pop in net.populations:
        if pop.delta_synapse != "jump":
            continue
        lo, hi = net.offsets[pop], net.offsets[pop] + pop.n
        gv = net.prm[lif_math.P_GV, lo:hi].astype(np.float64)
        if (gv == 0).any():
            raise ValueError(f"{pop.name}: delta_synapse='jump' needs r != 0 (the membrane input gain is 0)")
        for ch, tau in pop.synapses.items():
            if tau == 0.0:
                net.ch_kappa[net.channel_index[(pop, ch)], lo:hi] = 1.0 / gv


def _check_finite(net: Compiled, projections: list) -> None:
    """Values that became inf in the compute dtype (``v_th = 1e39`` in float32) never spike or never
    stop: reject them, naming the population (or projection) and the parameter."""
    dtype = net.dtype
    for pop in net.populations:
        lo, hi = net.offsets[pop], net.offsets[pop] + pop.n
        tables = [(_PRM_SOURCES[row], net.prm[row, lo:hi]) for row in range(net.prm.shape[0])]
        tables += [("v_init", net.v0[lo:hi]), ("i_init", net.i0[lo:hi]), ("a_init", net.a0[lo:hi]),
                   ("bias (with constant currents)", net.bias[lo:hi]),
                   ("synaptic channels", net.ch_kappa[:, lo:hi]),
                   ("synaptic channels", net.ch_alpha[:, lo:hi])]
        for label, values in tables:
            if not np.isfinite(values).all():
                raise ValueError(f"{pop.name}.{label} is not finite in {dtype} "
                                 f"(beyond ±{np.finfo(dtype).max:.3g}): "
                                 "a NaN or infinite threshold or state would silently stop all spiking; use "
                                 "dtype=torch.float64 or smaller values")
    for kind in ("spike", "ip3", "sic"):
        table = net.table(kind)
        bad = np.flatnonzero(~np.isfinite(table.weight))
        if bad.size:
            proj = projections[int(table.proj_id[bad[0]])]
            raise ValueError(f"{proj.name}.weight is not finite in {table.weight.dtype} "
                             f"(beyond ±{np.finfo(table.weight.dtype).max:.3g}); use dtype=torch.float64")
