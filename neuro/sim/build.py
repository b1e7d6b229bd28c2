"""Flatten a network description into the arrays the simulation kernels run on.

Global indices: the neurons of all populations first (population after population), then the
Poisson inputs, then the spike-source inputs. All projections are merged into one CSR table over
source indices, so the event-driven kernel walks one row per spiking source. Each synapse stores its
flat target ``channel * N + neuron``, its weight and its delay in steps. Validation happens here,
before anything runs: impossible parameters raise errors that name the object.

Astrocytes (indices ``0 .. A-1`` of their own, population after population) have two more CSR
tables: ``ip3`` over the ``S`` sources (column: the astrocyte) and ``sic`` over the astrocytes
(column: ``channel * N + neuron`` of the target's current channel); their parameters ``aprm
[16, A]`` and initial state ``astate0 [6, A]`` are the tables of :mod:`neuro.kernels.astrocyte_math`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from neuro.astro.populations import ASTROCYTE_RECORDABLES
from neuro.functional import lif as F
from neuro.functional.spec import coefficient_table, initial_state
from neuro.kernels import astrocyte_math, lif_math, neuron_spec
from neuro.ops.lif import RESET_MODES
from neuro.sim.astrocytes import AstrocytePopulation
from neuro.sim.groups import (
    CURRENT_CHANNEL,
    CurrentInput,
    Group,
    PoissonInput,
    Population,
    SpecPopulation,
    SpikeSource,
)
from neuro.sim.monitors import RateMonitor, SpikeMonitor, StateMonitor
from neuro.sim.projections import Projection
from neuro.sim.values import resolve

_MAX_SEED = 2 ** 63


@dataclass
class SynapseTable:
    """Synapses as CSR rows by source: target column, weight, delay (steps), the projection of each
    synapse and its weight as drawn (float64, before any scaling)."""

    row_ptr: np.ndarray
    col: np.ndarray
    weight: np.ndarray
    delay: np.ndarray
    proj_id: np.ndarray
    base_weight: np.ndarray

    @classmethod
    def from_parts(cls, n_rows: int, parts: list, dtype: np.dtype) -> SynapseTable:
        """Merge ``(rows, cols, weights, delays, projection id)`` parts, sorted stably by row."""
        def cat(k: int, dt) -> np.ndarray:
            return np.concatenate([p[k] for p in parts]) if parts else np.zeros(0, dt)

        rows = cat(0, np.int64)
        order = np.argsort(rows, kind="stable")
        row_ptr = np.zeros(n_rows + 1, np.int64)
        np.cumsum(np.bincount(rows, minlength=n_rows), out=row_ptr[1:])
        weight = cat(2, np.float64)[order]
        with np.errstate(over="ignore"):  # weights beyond float32 become inf: rejected by the network
            weight_cast = np.ascontiguousarray(weight, dtype=dtype)
        return cls(row_ptr, cat(1, np.int64)[order].astype(np.int32),
                   weight_cast, cat(3, np.int64)[order].astype(np.int32),
                   cat(4, np.int32)[order], weight.copy())

    @property
    def max_delay(self) -> int:
        """Largest synaptic delay in the table, in steps (0 for an empty table)."""
        return int(self.delay.max(initial=0))


@dataclass
class Compiled:
    """The flat arrays of a network (numpy, compute dtype for real values) and its index layout."""

    dt: float
    dtype: np.dtype
    seed: int
    offsets: dict  # group -> first global index
    populations: list
    has_syn: bool
    has_adapt: bool
    N: int
    S: int
    C: int
    channel_index: dict  # (population, channel name) -> channel row
    prm: np.ndarray
    pops: np.ndarray
    ref_steps: np.ndarray
    bias: np.ndarray
    ch_alpha: np.ndarray
    ch_kappa: np.ndarray
    poisson_prob: np.ndarray
    row_ptr: np.ndarray
    col: np.ndarray
    weight: np.ndarray
    delay: np.ndarray
    D: int
    v0: np.ndarray
    i0: np.ndarray
    a0: np.ndarray
    proj_id: np.ndarray  # projection of every synapse (CSR order)
    base_weight: np.ndarray  # float64 weights as drawn (before any scaling)
    rec_flag: np.ndarray
    mon_idx: np.ndarray
    mon_var: np.ndarray
    mon_every: int
    # rebuilt before every run (inputs may change between runs)
    gen_ptr: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    gen_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    inj: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    inj_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    # astrocytes (A = 0: none)
    A: int = 0
    astro_offsets: dict = field(default_factory=dict)  # astrocyte population -> first index
    astro_dt: float = 0.0  # the step in ms, the astrocytes' time unit
    aprm: np.ndarray = field(default_factory=lambda: np.zeros((astrocyte_math.N_PARAMS, 1)))
    astate0: np.ndarray = field(default_factory=lambda: np.zeros((astrocyte_math.N_STATE, 0)))
    ip3: SynapseTable | None = None
    sic: SynapseTable | None = None
    # conductance channels and spec neurons (see neuro.kernels.sim_cpu.general_update)
    ch_erev: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # [C, N] reversal potentials
    ch_cond: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # [C, N] 1: conductance channel
    pop_model: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # [P] 0 LIF, k+1 specs[k]
    specs: tuple = ()  # (GeneratedModel, voltage row) of each spec model
    spec_prm: tuple = ()  # per spec model: its coefficient table [rows, N] (compute dtype)
    spec_kc: tuple = ()  # per spec model: its constants kc (compute dtype)
    y0: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # [Y, N] initial spec states
    # alpha-shaped channels (sim_math.shaped_drive): [C, N] unit, jump, rise
    ch_unit: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    ch_jump: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    ch_rise: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    # Diehl & Cook's adaptive threshold (groups.AdaptiveThreshold): theta = theta_scale * a per neuron
    theta_scale: np.ndarray | None = None  # [N] float64, NaN without the option; None: no such population
    mon_scale: np.ndarray | None = None  # [monitored columns] float64 factors of the monitor rows (theta)

    @property
    def shapes(self) -> bool:
        """True when some channel is alpha-shaped (an auxiliary state row per channel)."""
        return bool(self.ch_jump.size and self.ch_jump.any())

    @property
    def H(self) -> int:
        """Auxiliary rows of alpha channels after the spec states in ``g`` (``C`` or 0)."""
        return self.C if self.shapes else 0

    @property
    def g_rows(self) -> int:
        """Rows of the runners' ``g`` table: channels, spec states, alpha channels' auxiliary states."""
        return self.C + self.Y + self.H

    @property
    def cond(self) -> bool:
        """True when some channel is conductance-based."""
        return bool(self.ch_cond.size and self.ch_cond.any())

    @property
    def general(self) -> bool:
        """True when the network needs the general update (conductances or spec neurons)."""
        return self.cond or bool(self.specs)

    @property
    def Y(self) -> int:
        """Rows of spec-neuron states after the channel rows of ``g`` (0 without spec neurons)."""
        return self.y0.shape[0]

    def general_params(self, hetero: bool, tables: tuple) -> tuple:
        """The CPU kernel's ``params`` of a general network: the five tables of :meth:`cpu_tables`,
        then ``ch_erev, ch_cond`` (same columns), ``pop_model``, the nested spec arguments and, with
        alpha channels, ``ch_unit, ch_jump, ch_rise``."""
        lo = self.pops[:, 0]
        take = (lambda a: a) if hetero else (lambda a: np.ascontiguousarray(a[..., lo]))  # noqa: E731
        nested: tuple = ()
        for prm, kc in reversed(tuple(zip(self.spec_prm, self.spec_kc))):
            nested = ((prm, kc), nested)
        shaped = (take(self.ch_unit), take(self.ch_jump), take(self.ch_rise)) if self.shapes else ()
        return (*tables, take(self.ch_erev), take(self.ch_cond), self.pop_model, nested, *shaped)

    def require_lif_only(self, runner: str) -> None:
        """Raise ``NotImplementedError`` naming the populations ``runner`` cannot run (spec neurons,
        conductance channels)."""
        if not self.general:
            return
        names = [p.name for p in self.populations if isinstance(p, SpecPopulation) or p.reversal]
        raise NotImplementedError(f"{runner} runs LIF-family populations with current channels only; "
                                  f"{', '.join(names)} use spec neuron models or conductance channels: run "
                                  "them with the CUDA event kernel (kernel='events', their default), "
                                  "backend='numba' (CPU kernel) or backend='torch' (reference)")

    @property
    def hetero(self) -> bool:
        """True when some population has per-neuron parameters (else one column per population)."""
        extra = (self.ch_erev, self.ch_cond, self.ch_unit, self.ch_jump, self.ch_rise) if self.general else ()
        for lo, hi, _, _ in self.pops:
            for table in (self.prm, self.ch_alpha, self.ch_kappa, self.bias[None], self.ref_steps[None],
                          *extra):
                block = table[:, lo:hi]
                if (block != block[:, :1]).any():
                    return True
        return False

    def cpu_tables(self) -> tuple:
        """``(hetero, prm, ref_steps, bias, ch_alpha, ch_kappa)`` in the CPU kernel's layout."""
        if self.hetero:
            return True, self.prm, self.ref_steps, self.bias, self.ch_alpha, self.ch_kappa
        lo = self.pops[:, 0]
        take = lambda a: np.ascontiguousarray(a[..., lo])  # noqa: E731
        return (False, take(self.prm), take(self.ref_steps), take(self.bias), take(self.ch_alpha),
                take(self.ch_kappa))

    @property
    def spikes(self) -> SynapseTable:
        """The spike synapses (onto neuron channels) as a table sharing the arrays above."""
        return SynapseTable(self.row_ptr, self.col, self.weight, self.delay, self.proj_id,
                            self.base_weight)

    def table(self, kind: str) -> SynapseTable:
        """The synapses of one projection kind: ``"spike"``, ``"ip3"`` or ``"sic"``."""
        return {"spike": self.spikes, "ip3": self.ip3, "sic": self.sic}[kind]

    @property
    def mask(self) -> int:
        """``D - 1``: the bit mask that wraps a step index into the delay ring buffer (``D`` is a power of
        two).
        """
        return self.D - 1

    @property
    def n_rec(self) -> int:
        """Number of neurons whose spikes are recorded (set in ``rec_flag``)."""
        return int(self.rec_flag.sum())

    def current_rows(self) -> np.ndarray:
        """Per population, the channel row of its current channel (injected currents, SIC), or -1."""
        return np.array([self.channel_index.get((p, CURRENT_CHANNEL), -1) for p in self.populations],
                        np.int64)


def _exact_kappa(tau_c: float, beta: np.ndarray, dt: float) -> np.ndarray:
    """Per unit of channel current, the exact membrane gain divided by ``1 - beta`` (see groups);
    ``beta = exp(-dt / tau_m)`` is the population's membrane decay."""
    em = np.asarray(beta, dtype=np.float64)
    tau_m = -dt / np.log(em)
    ec = math.exp(-dt / tau_c)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = tau_c * (ec - em) / (tau_c - tau_m)
    gain = np.where(np.isclose(tau_c, tau_m, rtol=1e-6, atol=0.0), dt / tau_m * em, gain)  # the limit
    return gain / (1.0 - em)


def _check_time_constants(pop: Population, p: F.NeuronParameters, dt: float) -> None:
    taus = {}
    if pop.model.leaky:
        taus["tau_mem"] = p.tau_mem
    if pop.model.has_syn:
        taus["tau_syn"] = p.tau_syn
    if pop.model.has_adapt:
        taus["tau_adapt"] = p.tau_adapt
    for ch, tau in pop.synapses.items():
        if tau > 0:
            taus[f"synapses[{ch!r}]"] = tau
    for key, tau in taus.items():
        t = torch.as_tensor(tau, dtype=torch.float64)
        if not bool(torch.isfinite(t).all()) or bool((t <= 0).any()):
            raise ValueError(f"{pop.name}.{key} must be positive and finite")
        if bool((t < dt).any()):
            raise ValueError(f"{pop.name}.{key} = {float(t.min())} s is shorter than the time step "
                             f"dt = {dt} s: use a smaller dt")


def _next_pow2(n: int) -> int:
    return 1 << max(0, int(n - 1).bit_length())


@dataclass
class _Layout:
    """Where every group sits: global indices of neurons and inputs, astrocyte indices, channels."""

    populations: list
    poisson: list
    sources: list
    astros: list
    offsets: dict  # neuron population or input group -> first global index
    astro_offsets: dict  # astrocyte population -> first astrocyte index
    N: int  # neurons
    S: int  # neurons and inputs: the spike sources
    A: int  # astrocytes
    channels: dict = field(default_factory=dict)  # population -> its input channel names
    channel_index: dict = field(default_factory=dict)  # (population, channel name) -> channel row
    C: int = 0  # channel rows (the most channels of any population)


def _lay_out(groups: list[Group], projections: list[Projection]) -> _Layout:
    """Populations, then Poisson inputs, then spike sources in the global index space; astrocytes
    in their own. Every projection must join groups of the network."""
    populations = [g for g in groups if isinstance(g, Population)]
    poisson = [g for g in groups if isinstance(g, PoissonInput)]
    sources = [g for g in groups if isinstance(g, SpikeSource)]
    astros = [g for g in groups if isinstance(g, AstrocytePopulation)]
    if not populations and not astros:
        raise ValueError("the network has no Population (or AstrocytePopulation) to simulate")
    offsets, start = {}, 0
    for g in populations + poisson + sources:
        offsets[g] = start
        start += g.n
    astro_offsets = {g: int(sum(a.n for a in astros[:k])) for k, g in enumerate(astros)}
    for proj in projections:
        for end in (proj.pre.group, proj.post.group):
            if end not in offsets and end not in astro_offsets:
                raise ValueError(f"projection {proj.name} uses {end.name}, which was not added to the "
                                 "network")
    return _Layout(populations, poisson, sources, astros, offsets, astro_offsets,
                   N=sum(p.n for p in populations), S=start, A=sum(a.n for a in astros))


def _assign_channels(layout: _Layout, groups: list[Group], projections: list[Projection]) -> None:
    """Each population's channels: its synapse channels, plus the current channel when a current
    input or a SIC projection targets it."""
    current_targets = {inp.target.group for inp in groups if isinstance(inp, CurrentInput)}
    current_targets |= {proj.post.group for proj in projections if proj.kind == "sic"}
    layout.channels = {p: list(p.synapses) + ([CURRENT_CHANNEL] if p in current_targets else [])
                       for p in layout.populations}
    layout.C = max((len(c) for c in layout.channels.values()), default=0)
    layout.channel_index = {(p, ch): k for p in layout.populations
                            for k, ch in enumerate(layout.channels[p])}


def _neuron_tables(layout: _Layout, rng_of: dict, dt: float) -> dict[str, np.ndarray]:
    """Validated parameters of every population, drawn with the population's generator: the
    per-neuron tables of :class:`Compiled` by field name (coefficients ``prm``, population rows
    ``pops``, ``ref_steps``, ``bias``, channel decays ``ch_alpha`` and gains ``ch_kappa``, initial
    state ``v0``, ``i0``, ``a0``), float64 before the cast to the compute dtype."""
    N, C = layout.N, layout.C
    t = {"prm": np.zeros((lif_math.N_PARAMS, N)), "pops": np.zeros((len(layout.populations), 4), np.int64),
         "ref_steps": np.zeros(N, np.int32), "bias": np.zeros(N), "ch_alpha": np.zeros((C, N)),
         "ch_kappa": np.zeros((C, N)), "v0": np.zeros(N), "i0": np.zeros(N), "a0": np.zeros(N),
         "ch_erev": np.zeros((C, N)), "ch_cond": np.zeros((C, N)), "ch_unit": np.ones((C, N)),
         "ch_jump": np.zeros((C, N)), "ch_rise": np.zeros((C, N))}
    spec_parts = []
    for k, pop in enumerate(layout.populations):
        if isinstance(pop, SpecPopulation):
            spec_parts.append(_fill_spec_population(t, k, pop, layout, rng_of[pop], dt))
        else:
            _fill_population(t, k, pop, layout, rng_of[pop], dt)
    t.update(_spec_tables(layout, spec_parts, dt))
    return t


def _channel_tables(t: dict[str, np.ndarray], pop: Population, layout: _Layout, lo: int, hi: int,
                    dt: float, kappa_of) -> None:
    """Decay, gain, reversal potential and conductance flag of the channels of ``pop``;
    ``kappa_of(tau)`` is the gain of a current channel (1 for a delta channel in any case)."""
    for ch in layout.channels[pop]:
        c = layout.channel_index[(pop, ch)]
        tau = pop.synapses.get(ch, 0.0)
        t["ch_alpha"][c, lo:hi] = math.exp(-dt / tau) if tau > 0 else 0.0
        if ch in pop.reversal:  # g (E - v): no gain (sim_math.channel_drive)
            t["ch_kappa"][c, lo:hi], t["ch_cond"][c, lo:hi] = 0.0, 1.0
            t["ch_erev"][c, lo:hi] = pop.reversal[ch]
            if pop.shapes.get(ch) == "alpha":  # sim_math.shaped_drive
                t["ch_unit"][c, lo:hi], t["ch_jump"][c, lo:hi], t["ch_rise"][c, lo:hi] = 0.0, math.e / tau, dt
        else:
            t["ch_kappa"][c, lo:hi] = kappa_of(tau) if tau > 0 else 1.0


def refractory_steps(refractory: np.ndarray, dt: float) -> np.ndarray:
    """Held steps after a spike (int64, per neuron) for refractory periods ``refractory`` (seconds, >= 0).

    Brian2's convention: the next spike can come ``refractory`` after the last one. With ``R =
    floor(refractory / dt + 1e-3)`` (Brian2's ``timestep()``: whole steps, tolerant of rounding), the
    neuron is held on the ``R - 1`` steps after its spike step and can spike again ``R`` steps after
    it; a period of one step or less holds nothing.
    """
    return np.maximum(np.floor(np.asarray(refractory, np.float64) / dt + 1e-3).astype(np.int64) - 1, 0)


def _fill_spec_population(t: dict[str, np.ndarray], k: int, pop: SpecPopulation, layout: _Layout,
                          rng: np.random.Generator, dt: float) -> tuple:
    """The tables of a spec population (its LIF coefficients stay 0); returns ``(population,
    coefficient table [rows, n], initial states [S, n])`` float64 for :func:`_spec_tables`."""
    lo, hi = layout.offsets[pop], layout.offsets[pop] + pop.n
    for ch, tau in pop.synapses.items():
        if 0 < tau < dt:
            raise ValueError(f"{pop.name}.synapses[{ch!r}] = {tau} s is shorter than the time step "
                             f"dt = {dt} s: use a smaller dt")
    t["pops"][k] = (lo, hi, RESET_MODES["zero"], pop.threshold_op == ">=")
    refr = resolve(pop.refractory, pop.n, f"{pop.name}.refractory", rng)
    if (refr < 0).any():
        raise ValueError(f"{pop.name}.refractory must be >= 0 seconds, got min {refr.min():g}")
    t["ref_steps"][lo:hi] = refractory_steps(refr, dt)
    t["bias"][lo:hi] = resolve(pop.bias, pop.n, f"{pop.name}.bias", rng)
    _channel_tables(t, pop, layout, lo, hi, dt, lambda tau: 1.0)
    values = {key: torch.from_numpy(v) for key, v in pop.spec_values(rng).items()}
    prm = coefficient_table(pop.model, values, dt, (pop.n,), torch.float64, torch.device("cpu"))
    y0 = torch.stack(list(initial_state(pop.model, values, torch.zeros(pop.n, dtype=torch.float64))))
    for row, state in enumerate(pop.model.states):
        if state in pop.init:
            y0[row] = torch.from_numpy(resolve(pop.init[state], pop.n, f"{pop.name}.init[{state!r}]", rng))
    prm, y0 = prm.expand(-1, pop.n).numpy(), y0.numpy()
    for label, table, names in (("parameter", prm, neuron_spec.build(pop.model).rows),
                                ("initial state", y0, pop.model.states)):
        bad = ~np.isfinite(table).all(axis=1)
        if bad.any():
            raise ValueError(f"{pop.name}: {label} {names[int(np.argmax(bad))]!r} of {pop.model.name} "
                             "is not finite")
    return pop, prm, y0


def _spec_tables(layout: _Layout, parts: list, dt: float) -> dict:
    """``pop_model [P]``, ``specs`` (one ``(GeneratedModel, voltage row)`` per distinct model and
    voltage state), their coefficient tables ``[rows, N]`` and constants, and ``y0 [Y, N]``."""
    N = layout.N
    pop_model = np.zeros(len(layout.populations), np.int64)
    specs: list = []
    Y = max((y0.shape[0] for _, _, y0 in parts), default=0)
    y0_all = np.zeros((Y, N))
    tables: list = []
    for pop, prm, y0 in parts:
        model = neuron_spec.build(pop.model)
        key = (model, -1 if pop.voltage is None else model.states.index(pop.voltage))
        if key not in specs:
            specs.append(key)
            tables.append(np.zeros((model.n_rows, N)))
        m = specs.index(key)
        pop_model[layout.populations.index(pop)] = m + 1
        lo = layout.offsets[pop]
        tables[m][:, lo:lo + pop.n] = prm
        y0_all[:y0.shape[0], lo:lo + pop.n] = y0
    kcs = tuple(np.array(neuron_spec.constants_of(model, dt, True, 0.0, 0.0)) for model, _ in specs)
    return {"pop_model": pop_model, "specs": tuple(specs), "spec_prm": tuple(tables), "spec_kc": kcs,
            "y0": y0_all}


def _fill_population(t: dict[str, np.ndarray], k: int, pop: Population, layout: _Layout,
                     rng: np.random.Generator, dt: float) -> None:
    lo, hi = layout.offsets[pop], layout.offsets[pop] + pop.n
    params = pop.neuron_parameters(dt, rng)
    _check_time_constants(pop, params, dt)
    coef = F.coefficients(pop.model, params, (pop.n,), torch.float64, torch.device("cpu")).numpy()
    t["prm"][:, lo:hi] = coef  # [9, 1] or [9, n]
    t["pops"][k] = (lo, hi, RESET_MODES[pop.reset], pop.threshold_op == ">=")
    refr = resolve(pop.refractory, pop.n, f"{pop.name}.refractory", rng)
    if (refr < 0).any():
        raise ValueError(f"{pop.name}.refractory must be >= 0 seconds, got min {refr.min():g}")
    t["ref_steps"][lo:hi] = refractory_steps(refr, dt)
    t["bias"][lo:hi] = resolve(pop.bias, pop.n, f"{pop.name}.bias", rng)
    exact = pop.integration == "exact" and pop.decay_input and pop.model.leaky and not pop.model.has_syn
    beta = t["prm"][lif_math.P_BETA, lo:hi]
    _channel_tables(t, pop, layout, lo, hi, dt, lambda tau: _exact_kappa(tau, beta, dt) if exact else 1.0)
    if pop.v_init is None:  # start at rest (the values drawn above when v_leak is random)
        rest = torch.as_tensor(params.v_leak, dtype=torch.float64).numpy()
        t["v0"][lo:hi] = np.broadcast_to(rest, (pop.n,))
    else:
        t["v0"][lo:hi] = resolve(pop.v_init, pop.n, f"{pop.name}.v_init", rng)
    t["i0"][lo:hi] = resolve(pop.i_init, pop.n, f"{pop.name}.i_init", rng)
    t["a0"][lo:hi] = resolve(pop.a_init, pop.n, f"{pop.name}.a_init", rng)


def _fold_constant_currents(groups: list[Group], offsets: dict, bias: np.ndarray) -> None:
    """Constant current inputs add to the bias of their targets."""
    for inp in groups:
        if isinstance(inp, CurrentInput) and inp.constant:
            idx = offsets[inp.target.group] + inp.target.indices
            bias[idx] += inp.values[0]


def _poisson_probabilities(layout: _Layout, rng_of: dict, dt: float) -> np.ndarray:
    """Spike probability per step of every Poisson input (its rate times ``dt``)."""
    poisson_prob = np.zeros(sum(g.n for g in layout.poisson))
    for g in layout.poisson:
        rates = resolve(g.rates, g.n, f"{g.name}.rates", rng_of[g])
        prob = rates * dt
        if (rates < 0).any() or (prob > 1).any():
            raise ValueError(f"{g.name}: rates must be in [0, 1/dt] = [0, {1 / dt:g}] Hz")
        lo = layout.offsets[g] - layout.N
        poisson_prob[lo:lo + g.n] = prob
    return poisson_prob


def _synapse_tables(layout: _Layout, projections: list[Projection], rng_of: dict, dt: float,
                    np_dtype: np.dtype) -> dict[str, SynapseTable]:
    """The ``spike``, ``ip3`` and ``sic`` CSR tables (module docstring) of all projections."""
    N = layout.N
    parts: dict = {"spike": [], "ip3": [], "sic": []}  # (rows, columns, weights, delays, ids)
    for k, proj in enumerate(projections):
        syn = proj.synapses(dt, rng_of[proj])
        pre_g, post_g = proj.pre.group, proj.post.group
        if proj.kind == "ip3":
            rows, cols = layout.offsets[pre_g] + syn.pre, layout.astro_offsets[post_g] + syn.post
        else:  # onto a neuron channel (the current channel for SIC)
            first = layout.astro_offsets[pre_g] if proj.kind == "sic" else layout.offsets[pre_g]
            c = layout.channel_index[(post_g, proj.target)]
            rows, cols = first + syn.pre, c * N + layout.offsets[post_g] + syn.post
        parts[proj.kind].append((rows, cols, syn.weight, syn.delay, np.full(syn.pre.size, k, np.int32)))
    if layout.C * N >= 2 ** 31:
        raise ValueError(f"{layout.C} channels x {N} neurons exceed the int32 synapse target index")
    return {"spike": SynapseTable.from_parts(layout.S, parts["spike"], np_dtype),
            "ip3": SynapseTable.from_parts(layout.S, parts["ip3"], np.dtype(np.float64)),  # float64
            "sic": SynapseTable.from_parts(layout.A, parts["sic"], np.dtype(np.float64))}


def _astrocyte_tables(layout: _Layout, rng_of: dict, astro_dt: float) -> tuple[np.ndarray, np.ndarray]:
    """``(aprm [16, max(A, 1)], astate0 [6, A])`` of all astrocyte populations."""
    aprm = np.zeros((astrocyte_math.N_PARAMS, max(layout.A, 1)))
    astate0 = np.zeros((astrocyte_math.N_STATE, layout.A))
    for g in layout.astros:
        lo = layout.astro_offsets[g]
        aprm[:, lo:lo + g.n] = g.params.table(g.n)  # [16, 1] or [16, n]
        astate0[:, lo:lo + g.n] = g.initial_state(astro_dt, rng_of[g])
    return aprm, astate0


def _monitor_tables(layout: _Layout, monitors: list, dt: float) -> dict:
    """Bind the monitors; ``rec_flag`` (recorded spike sources), ``mon_idx``/``mon_var`` (recorded
    state: index and variable code) and ``mon_every`` (the recording period in steps)."""
    offsets, astro_offsets = layout.offsets, layout.astro_offsets
    rec_flag = np.zeros(layout.S, np.uint8)
    mon_idx, mon_var, everies = [], [], []
    for m in monitors:
        m._bind(dt)
        if isinstance(m, SpikeMonitor):
            if m.source.group not in offsets:
                raise ValueError(f"{m.name} watches {m.source.group.name}, which is not in the network")
            rec_flag[offsets[m.source.group] + m.source.indices] = 1
        elif isinstance(m, StateMonitor) and isinstance(m.population, AstrocytePopulation):
            if m.population not in astro_offsets:
                raise ValueError(f"{m.name} watches {m.population.name}, which is not in the network")
            everies.append(m.every_steps(dt))
            for var in m.variables:  # negative codes: -1 - row of the astrocyte state table
                mon_idx.append(astro_offsets[m.population] + m.indices)
                mon_var.append(np.full(len(m.indices), -1 - ASTROCYTE_RECORDABLES[var], np.int64))
        elif isinstance(m, StateMonitor):
            if m.population not in offsets:
                raise ValueError(f"{m.name} watches {m.population.name}, which is not in the network")
            everies.append(m.every_steps(dt))
            for var in m.variables:
                if isinstance(m.population, SpecPopulation) and var in m.population.model.states:
                    code = 3 + layout.C + tuple(m.population.model.states).index(var)  # row C + k of g
                else:
                    code = {"v": 0, "i": 1, "a": 2, "theta": 2}.get(var)  # theta: a, scaled after
                if code is None:
                    code = 3 + layout.channel_index[(m.population, var[2:])]
                mon_idx.append(offsets[m.population] + m.indices)
                mon_var.append(np.full(len(m.indices), code, np.int64))
        elif isinstance(m, RateMonitor):
            if m.population not in offsets:
                raise ValueError(f"{m.name} watches {m.population.name}, which is not in the network")
    return {"rec_flag": rec_flag,
            "mon_idx": np.concatenate(mon_idx) if mon_idx else np.zeros(0, np.int64),
            "mon_var": np.concatenate(mon_var) if mon_var else np.zeros(0, np.int64),
            "mon_every": int(np.gcd.reduce(everies)) if everies else 1}


def compile_network(groups: list[Group], projections: list[Projection], monitors: list,
                    dt: float, seed: int, dtype: torch.dtype) -> Compiled:
    """Validate and flatten; random parts are drawn from generators seeded by ``(seed, object)``.

    Phases: lay out the index spaces, assign channels, per-neuron coefficient tables (with constant
    currents folded into the bias), Poisson probabilities, synapse CSR tables and the delay ring
    size, astrocyte tables, monitors.
    """
    np_dtype = np.dtype(str(dtype).replace("torch.", ""))
    layout = _lay_out(groups, projections)
    rng_of = {obj: np.random.default_rng([seed, k]) for k, obj in enumerate(groups + projections)}
    _assign_channels(layout, groups, projections)
    neurons = _neuron_tables(layout, rng_of, dt)
    _fold_constant_currents(groups, layout.offsets, neurons["bias"])
    poisson_prob = _poisson_probabilities(layout, rng_of, dt)
    tables = _synapse_tables(layout, projections, rng_of, dt, np_dtype)
    spikes = tables["spike"]
    D = _next_pow2(max(table.max_delay for table in tables.values()) + 2)
    astro_dt = dt * 1e3  # ms, the astrocytes' unit
    aprm, astate0 = _astrocyte_tables(layout, rng_of, astro_dt)
    monitored = _monitor_tables(layout, monitors, dt)
    monitored.update(_adaptive_thresholds(layout, neurons, rng_of, dt, np_dtype, monitors))

    def cast(a: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):  # values beyond float32 become inf: rejected by the network
            return np.ascontiguousarray(a, dtype=np_dtype)

    populations = layout.populations
    pops, ref_steps = neurons.pop("pops"), neurons.pop("ref_steps")  # integer tables; the rest are real
    pop_model, specs = neurons.pop("pop_model"), neurons.pop("specs")
    spec_prm = tuple(cast(a) for a in neurons.pop("spec_prm"))
    spec_kc = tuple(cast(a) for a in neurons.pop("spec_kc"))
    real = {name: cast(table) for name, table in neurons.items()}
    lif = [p for p in populations if not isinstance(p, SpecPopulation)]
    return Compiled(
        dt=dt, dtype=np_dtype, seed=int(seed) % _MAX_SEED, offsets=layout.offsets, populations=populations,
        has_syn=any(p.model.has_syn for p in lif), pop_model=pop_model, specs=specs, spec_prm=spec_prm,
        spec_kc=spec_kc, has_adapt=any(p.model.has_adapt for p in lif), N=layout.N, S=layout.S, C=layout.C,
        channel_index=layout.channel_index, pops=pops, ref_steps=ref_steps, **real,
        poisson_prob=poisson_prob, row_ptr=spikes.row_ptr, col=spikes.col, weight=spikes.weight,
        delay=spikes.delay, D=D, proj_id=spikes.proj_id, base_weight=spikes.base_weight, **monitored,
        A=layout.A, astro_offsets=layout.astro_offsets, astro_dt=astro_dt, aprm=aprm, astate0=astate0,
        ip3=tables["ip3"], sic=tables["sic"])


#: adaptive thresholds: half an ulp of theta may be at most this fraction of one step's decay
THETA_RESOLUTION = 1e-3


def _adaptive_thresholds(layout: _Layout, t: dict[str, np.ndarray], rng_of: dict, dt: float,
                         np_dtype: np.dtype, monitors: list) -> dict:
    """Diehl & Cook's adaptive threshold (:class:`~neuro.sim.groups.AdaptiveThreshold`) on the ALIF
    tables ``t`` (float64, before the cast): with the decay ``rho`` as the compute dtype holds it,
    ``K = theta_plus / (1 - rho)``, the threshold gain ``b = rho K`` and ``a0 = theta_init / K``;
    returns ``theta_scale`` (``K`` per neuron) and the monitors' column factors ``mon_scale`` (empty
    dict without such populations). Raises when the dtype cannot resolve the decay of ``theta``."""
    pops = [p for p in layout.populations if p.adaptive_threshold is not None]
    if not pops:
        return {}
    scale = np.full(layout.N, np.nan)
    half_ulp = float(np.finfo(np_dtype).eps) / 2
    for pop in pops:
        option, lo, hi = pop.adaptive_threshold, layout.offsets[pop], layout.offsets[pop] + pop.n
        rho = float(np_dtype.type(t["prm"][lif_math.P_RHO, lo]))  # the decay the kernels multiply by
        if 1.0 - rho <= 0 or half_ulp / (1.0 - rho) > THETA_RESOLUTION:
            raise ValueError(
                f"{pop.name}.adaptive_threshold: tau_theta = {option.tau_theta:g} s with dt = {dt:g} s "
                f"decays theta by a fraction {-math.expm1(-dt / option.tau_theta):.3g} per step, which "
                f"{np_dtype} cannot resolve (its rounding, {half_ulp:.3g} of theta, exceeds "
                f"{THETA_RESOLUTION:g} of that decay; the decay factor is held as {rho!r}): use "
                "Network(dtype=torch.float64), a larger dt or a shorter tau_theta")
        gain = option.gain(rho)
        t["prm"][lif_math.P_BA, lo:hi] = rho * gain
        scale[lo:hi] = gain
        theta0 = resolve(option.theta_init, pop.n, f"{pop.name}.adaptive_threshold.theta_init", rng_of[pop])
        t["a0"][lo:hi] = theta0 / gain
    factors = []  # in the order of _monitor_tables' columns
    for m in monitors:
        if isinstance(m, StateMonitor):
            for var in m.variables:
                own = var == "theta" and not isinstance(m.population, AstrocytePopulation)
                factors.append(scale[layout.offsets[m.population] + m.indices] if own
                               else np.ones(len(m.indices)))
    return {"theta_scale": scale, "mon_scale": np.concatenate(factors) if factors else np.zeros(0)}


def theta_state(net: Compiled, state: dict) -> dict:
    """``state`` (a runner's ``state()``) with ``theta`` ``[N]`` in volts (NaN for neurons without an
    adaptive threshold) when the network has adaptive thresholds."""
    if net.theta_scale is None:
        return state
    return {**state, "theta": np.asarray(state["a"], dtype=np.float64) * net.theta_scale}


def keep_thresholds(net: Compiled, state_of: Callable[[], dict]) -> None:
    """Before a reset: the current ``a`` (``theta / K``) of the populations whose adaptive threshold
    has ``keep_on_reset=True`` becomes their initial value (``state_of``: the runner's ``state``)."""
    kept = [p for p in net.populations if getattr(p.adaptive_threshold, "keep_on_reset", False)]
    if not kept:
        return
    a = np.asarray(state_of()["a"])
    for pop in kept:
        lo, hi = net.offsets[pop], net.offsets[pop] + pop.n
        net.a0[lo:hi] = a[lo:hi]


def refresh_inputs(net: Compiled, groups: list, end_step: int) -> None:
    """Spike-source and time-varying current arrays (absolute steps) for a run up to ``end_step``."""
    steps_all, idx_all = [], []
    for g in groups:
        if isinstance(g, SpikeSource) and g.times.size:
            steps_all.append(np.floor(g.times / net.dt + 0.5).astype(np.int64))
            idx_all.append(net.offsets[g] + g.spike_indices)
    if steps_all:
        steps, idx = np.concatenate(steps_all), np.concatenate(idx_all)
        key = np.unique(steps * net.S + idx)  # sorted by (step, index); duplicates merged
        steps, idx = key // net.S, key % net.S
        net.gen_ptr = np.searchsorted(steps, np.arange(int(steps[-1]) + 2)).astype(np.int64)
        net.gen_idx = idx.astype(np.int64)
    else:
        net.gen_ptr, net.gen_idx = np.zeros(1, np.int64), np.zeros(0, np.int64)
    currents = [g for g in groups if isinstance(g, CurrentInput) and not g.constant]
    if not currents:
        net.inj, net.inj_idx = np.zeros((0, 0), net.dtype), np.zeros(0, np.int64)
        return
    targets: dict[int, int] = {}
    series = [(g, g.per_step(net.dt, end_step)) for g in currents]
    T = max(len(s) for _, s in series)
    for g, _ in series:
        pop = g.target.group
        c = net.channel_index[(pop, CURRENT_CHANNEL)]
        for j in net.offsets[pop] + g.target.indices:
            targets.setdefault(int(c * net.N + j), len(targets))
    inj = np.zeros((T, len(targets)))
    for g, s in series:
        pop = g.target.group
        c = net.channel_index[(pop, CURRENT_CHANNEL)]
        cols = [targets[int(c * net.N + j)] for j in net.offsets[pop] + g.target.indices]
        inj[:len(s), cols] += s
    net.inj = np.ascontiguousarray(inj, dtype=net.dtype)
    net.inj_idx = np.array(list(targets), dtype=np.int64)
