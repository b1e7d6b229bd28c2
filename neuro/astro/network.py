"""Neuron-astrocyte networks with tripartite synapses, simulated like NEST in compiled code.

A :class:`TripartiteNetwork` holds one population of ``aeif_cond_alpha_astro`` neurons and one of
Li-Rinzel astrocytes, three kinds of connections (all with delays in ms, at least one step):

* neuron -> neuron static synapses (weight in nS; negative = inhibitory conductance),
* neuron -> astrocyte (the presynaptic spike raises the astrocyte's IP3 by ``delta_IP3 * weight``),
* astrocyte -> neuron ``sic_connection`` (the neuron receives ``weight * SIC`` pA),

and fixed external spike trains (arrival times in ms, e.g. recorded Poisson input). ``run``
advances in slices of the minimum delay (NEST's scheme: within a slice units are independent; their
spikes and SICs are delivered at the slice's end into ring buffers), recording chosen variables
every ``record_interval`` ms. Timing follows NEST 3.10 exactly: an input arriving at ``t`` is
applied at the end of the step ending at ``t``; a spike or SIC emitted in the step ending at ``t``
arrives after ``delay``. :func:`neuro.astro.builder.tripartite_bernoulli_with_pool` wires pairs of
neurons with astrocytes like NEST's tripartite connection rule.

Example (NEST's ``astrocyte_interaction`` example, one pre, one post, one astrocyte)::

    net = TripartiteNetwork(2, 1, AeifAstroParameters(tau_syn_ex=2.0),
                            AstrocyteParameters(delta_IP3=0.2))
    net.add_spike_input(arrival_times_ms, target=0, weight=1.0)
    net.connect_neurons([0], [1], weight=1.0, delay=1.0)
    net.connect_neuron_astrocyte([0], [0], weight=1.0, delay=1.0)
    net.connect_sic([0], [1], weight=1.0, delay=1.0)
    result = net.run(10_000.0)            # result.neurons["V_m"]: [samples, 2]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from neuro.astro.engine import Plan, Recording, run_chunk
from neuro.astro.parameters import AeifAstroParameters, AstrocyteParameters
from neuro.astro.populations import (
    AEIF_RECORDABLES,
    ASTROCYTE_RECORDABLES,
    AeifAstroNeurons,
    AeifAstroState,
    Astrocytes,
    AstrocyteState,
    check_backend,
    check_dt,
    record_rows,
)
from neuro.kernels import aeif_math

_DEFAULT_CHUNK_MS = 1000.0


@dataclass
class TripartiteResult:
    """Recorded traces (``{name: [samples, units]}``), sample times (ms) and spikes."""

    times: np.ndarray
    neurons: dict
    astrocytes: dict
    spike_times: np.ndarray  # ms, sorted
    spike_senders: np.ndarray  # neuron index

    def spikes_of(self, neuron: int) -> np.ndarray:
        """Spike times (ms) of one neuron."""
        return self.spike_times[self.spike_senders == neuron]


@dataclass
class _Edges:
    pre: list = field(default_factory=list)
    post: list = field(default_factory=list)
    weight: list = field(default_factory=list)
    delay: list = field(default_factory=list)

    def add(self, pre, post, weight, delay) -> None:
        self.pre.append(pre)
        self.post.append(post)
        self.weight.append(weight)
        self.delay.append(delay)

    def csr(self, n_src: int):
        """``(ptr, target, weight, delay)`` sorted by source."""
        if not self.pre:
            return (np.zeros(n_src + 1, np.int64), np.zeros(0, np.int64), np.zeros(0),
                    np.zeros(0, np.int64))
        pre, post = np.concatenate(self.pre), np.concatenate(self.post)
        w, d = np.concatenate(self.weight), np.concatenate(self.delay)
        order = np.argsort(pre, kind="stable")
        ptr = np.zeros(n_src + 1, np.int64)
        np.add.at(ptr, pre + 1, 1)
        return np.cumsum(ptr), post[order], w[order], d[order]

    def max_delay(self) -> int:
        return max((int(d.max()) for d in self.delay if d.size), default=0)

    def min_delay(self) -> int | None:
        values = [int(d.min()) for d in self.delay if d.size]
        return min(values) if values else None


class TripartiteNetwork:
    """Neurons (``aeif_cond_alpha_astro``) and astrocytes (``astrocyte_lr_1994``) coupled by delayed
    spikes and slow inward currents; see the module docstring.

    Args:
        n_neurons, n_astrocytes: population sizes (either may be 0).
        neuron_params, astrocyte_params: parameters (NEST names and defaults).
        dt: step (ms), NEST's ``resolution``. backend: ``"numba"`` or ``"cuda"``.
    """

    def __init__(self, n_neurons: int, n_astrocytes: int,
                 neuron_params: AeifAstroParameters = AeifAstroParameters(),
                 astrocyte_params: AstrocyteParameters = AstrocyteParameters(),
                 dt: float = 0.1, backend: str = "numba") -> None:
        for name, n in (("n_neurons", n_neurons), ("n_astrocytes", n_astrocytes)):
            if not isinstance(n, (int, np.integer)) or n < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {n!r}")
        if n_neurons + n_astrocytes == 0:
            raise ValueError("the network needs at least one neuron or astrocyte")
        self.dt = check_dt(dt)
        self.backend = check_backend(backend)
        self.n_neurons, self.n_astrocytes = int(n_neurons), int(n_astrocytes)
        self.neurons = AeifAstroNeurons(max(1, self.n_neurons), neuron_params, dt, backend)
        self.astrocytes = Astrocytes(max(1, self.n_astrocytes), astrocyte_params, dt, backend)
        self._nn, self._na, self._an = _Edges(), _Edges(), _Edges()
        self._inputs: list[tuple[np.ndarray, np.ndarray, np.ndarray, str]] = []
        self.neuron_state = self.neurons.initial_state()
        self.astrocyte_state = self.astrocytes.initial_state()
        self._plan: Plan | None = None
        self.t_steps = 0

    # ------------------------------------------------------------------ wiring
    def _ids(self, ids, n: int, what: str) -> np.ndarray:
        a = np.atleast_1d(np.asarray(ids))
        if a.ndim != 1 or not np.issubdtype(a.dtype, np.integer):
            raise TypeError(f"{what} indices must be a 1-D integer array, got {ids!r}")
        if a.size and (a.min() < 0 or a.max() >= n):
            raise IndexError(f"{what} index out of range: valid 0..{n - 1}, got {a.min()}..{a.max()}")
        return a.astype(np.int64)

    def _delay_steps(self, delay, size: int) -> np.ndarray:
        d = np.broadcast_to(np.asarray(delay, np.float64), (size,))
        if not np.isfinite(d).all():
            raise ValueError("delays must be finite")
        steps = np.round(d / self.dt).astype(np.int64)
        if (steps < 1).any():
            raise ValueError(f"delays must be at least one step (dt = {self.dt} ms), got {d.min()} ms")
        return steps

    def _edges(self, edges: _Edges, pre, post, weight, delay, n_pre, n_post, names, nonneg=False):
        pre = self._ids(pre, n_pre, names[0])
        post = self._ids(post, n_post, names[1])
        if pre.size != post.size:
            raise ValueError(f"pre and post index arrays differ in length ({pre.size} vs {post.size})")
        w = np.broadcast_to(np.asarray(weight, np.float64), pre.shape).copy()
        if not np.isfinite(w).all():
            raise ValueError("weights must be finite")
        if nonneg and (w < 0).any():
            raise ValueError(f"{names[0]} -> {names[1]} weights must be >= 0 "
                             "(NEST's astrocyte rejects negative weights)")
        if self.t_steps:
            raise RuntimeError("add connections before the first run (spikes already in flight "
                               "would be lost); build a new TripartiteNetwork instead")
        edges.add(pre, post, w, self._delay_steps(delay, pre.size))

    def connect_neurons(self, pre, post, weight=1.0, delay=1.0) -> None:
        """Static synapses ``pre[k] -> post[k]`` (nS; negative = inhibitory)."""
        self._edges(self._nn, pre, post, weight, delay, self.n_neurons, self.n_neurons,
                    ("neuron", "neuron"))

    def connect_neuron_astrocyte(self, pre, astrocyte, weight=1.0, delay=1.0) -> None:
        """Presynaptic neuron ``pre[k]`` drives astrocyte ``astrocyte[k]``'s IP3."""
        self._edges(self._na, pre, astrocyte, weight, delay, self.n_neurons, self.n_astrocytes,
                    ("neuron", "astrocyte"), nonneg=True)

    def connect_sic(self, astrocyte, post, weight=1.0, delay=1.0) -> None:
        """``sic_connection``: astrocyte ``astrocyte[k]`` sends ``weight * SIC`` to ``post[k]``."""
        self._edges(self._an, astrocyte, post, weight, delay, self.n_astrocytes, self.n_neurons,
                    ("astrocyte", "neuron"))

    def add_spike_input(self, arrival_times_ms, target, weight=1.0, kind: str = "neuron") -> None:
        """Fixed spikes arriving at ``target`` (neuron or astrocyte index, or one per time) at the
        given absolute times (ms, multiples of ``dt``; repeated times add up)."""
        if kind not in ("neuron", "astrocyte"):
            raise ValueError(f"kind must be 'neuron' or 'astrocyte', got {kind!r}")
        t = np.atleast_1d(np.asarray(arrival_times_ms, np.float64))
        if t.ndim != 1 or not np.isfinite(t).all():
            raise ValueError("arrival_times_ms must be a 1-D array of finite times")
        steps = np.round(t / self.dt).astype(np.int64) - 1  # arrives at the end of this step
        if t.size and np.abs((steps + 1) * self.dt - t).max() > 1e-6 * self.dt + 1e-9:
            raise ValueError(f"arrival times must lie on the time grid (multiples of dt = {self.dt} ms)")
        if (steps < 0).any():
            raise ValueError("arrival times must be >= dt (inputs arrive at the end of a step)")
        n = self.n_neurons if kind == "neuron" else self.n_astrocytes
        tgt = np.broadcast_to(self._ids(target, n, kind), t.shape).copy()
        w = np.broadcast_to(np.asarray(weight, np.float64), t.shape).copy()
        if not np.isfinite(w).all() or (kind == "astrocyte" and (w < 0).any()):
            raise ValueError("input weights must be finite (and >= 0 for astrocytes)")
        self._inputs.append((steps, tgt, w, kind))

    # ------------------------------------------------------------------ running
    def _build(self) -> Plan:
        max_d = max(self._nn.max_delay(), self._na.max_delay(), self._an.max_delay(), 1)
        mins = [d for d in (self._nn.min_delay(), self._na.min_delay(), self._an.min_delay())
                if d is not None]
        # without connections units never interact: one slice per chunk
        slice_steps = min(mins) if mins else max(1, int(round(_DEFAULT_CHUNK_MS / self.dt)))
        N, A = self.n_neurons, self.n_astrocytes
        return Plan(self.dt, self.neurons.prm, self.astrocytes.prm, N, A, slice_steps,
                    max_d + slice_steps, self._nn.csr(N), self._na.csr(N), self._an.csr(A))

    def _external(self, k_start: int, n_steps: int) -> tuple:
        N, A = self.n_neurons, self.n_astrocytes
        ex, inh, ip3 = np.zeros((n_steps, N)), np.zeros((n_steps, N)), np.zeros((n_steps, A))
        for steps, tgt, w, kind in self._inputs:
            sel = (steps >= k_start) & (steps < k_start + n_steps)
            k, j, v = steps[sel] - k_start, tgt[sel], w[sel]
            if kind == "astrocyte":
                np.add.at(ip3, (k, j), v)
            else:
                pos = v > 0
                np.add.at(ex, (k[pos], j[pos]), v[pos])
                np.add.at(inh, (k[~pos], j[~pos]), -v[~pos])
        return ex, inh, np.zeros((n_steps, N)), np.zeros((n_steps, N)), ip3, np.zeros((n_steps, A))

    def run(self, duration_ms: float, record_interval: float = 1.0,
            record_neurons: Sequence[str] = ("V_m", "w", "g_ex", "I_SIC"),
            record_astrocytes: Sequence[str] = ("IP3", "Ca_astro", "h_IP3R", "SIC"),
            progress: bool = False) -> TripartiteResult:
        """Simulate ``duration_ms`` more milliseconds (a multiple of ``dt``) and return the traces
        sampled every ``record_interval`` ms (at ``t = interval, 2 interval, ...`` of absolute
        time; NEST's multimeter) and the spikes. ``progress`` shows a tqdm bar."""
        n_steps = int(round(duration_ms / self.dt))
        if n_steps < 1 or abs(n_steps * self.dt - duration_ms) > 1e-9 * max(1.0, duration_ms):
            raise ValueError(f"duration_ms must be a positive multiple of dt = {self.dt} ms")
        every = int(round(record_interval / self.dt))
        if every < 1 or abs(every * self.dt - record_interval) > 1e-9 * max(1.0, record_interval):
            raise ValueError(f"record_interval must be a positive multiple of dt = {self.dt} ms")
        nrows = record_rows(record_neurons, AEIF_RECORDABLES, "neurons")
        arows = record_rows(record_astrocytes, ASTROCYTE_RECORDABLES, "astrocytes")
        if self._plan is None:
            self._plan = self._build()
        plan = self._plan
        k_begin = self.t_steps
        first = (k_begin + every) // every  # 1-based index of the first sample in this run
        last = (k_begin + n_steps) // every
        n_samples = max(0, last - first + 1)
        rec = Recording(nrows, arows, every, first - 1,
                        np.zeros((len(nrows), n_samples, self.n_neurons)),
                        np.zeros((len(arows), n_samples, self.n_astrocytes)))
        nstate = self.neuron_state.table()[:, :self.n_neurons].copy()
        astate = self.astrocyte_state.table()[:, :self.n_astrocytes].copy()
        slices_per_chunk = max(1, int(round(_DEFAULT_CHUNK_MS / self.dt)) // plan.slice_steps)
        chunk = slices_per_chunk * plan.slice_steps
        spike_steps, spike_ids = [], []
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=n_steps * self.dt, unit="ms", desc="tripartite network")
        k = k_begin
        while k < k_begin + n_steps:
            m = min(chunk, k_begin + n_steps - k)
            spikes, status = run_chunk(plan, self.backend, k, m, nstate, astate,
                                       self._external(k, m), rec)
            if (status != aeif_math.OK).any():
                bad = np.nonzero(status)[0][:5].tolist()
                raise FloatingPointError(f"neurons {bad} became numerically unstable at t <= "
                                         f"{(k + m) * self.dt:g} ms (V_m < -1000 mV or |w| > 1e6 pA)")
            st, sn = np.nonzero(spikes)
            counts = spikes[st, sn].astype(np.int64)
            spike_steps.append(np.repeat(st + k, counts))
            spike_ids.append(np.repeat(sn, counts))
            k += m
            if bar is not None:
                bar.update(m * self.dt)
        if bar is not None:
            bar.close()
        self.t_steps = k
        if self.n_neurons:
            self.neuron_state = AeifAstroState.from_table(nstate)
        if self.n_astrocytes:
            self.astrocyte_state = AstrocyteState.from_table(astate)
        steps = np.concatenate(spike_steps)
        ids = np.concatenate(spike_ids)
        order = np.lexsort((ids, steps))
        return TripartiteResult(
            times=np.arange(first, last + 1) * every * self.dt,
            neurons={name: rec.nrec[i] for i, name in enumerate(record_neurons)},
            astrocytes={name: rec.arec[i] for i, name in enumerate(record_astrocytes)},
            spike_times=(steps[order] + 1) * self.dt, spike_senders=ids[order])
