r"""Liquid state machines: a fixed spiking reservoir on :mod:`neuro.sim` plus trained linear readouts.

The reservoir (Maass, Natschlaeger & Markram 2002) is ``n`` LIF neurons, a fraction ``frac_inh``
inhibitory, with exponential current synapses (``tau_exc``, ``tau_inh``) and one of two
connectivities:

* ``"maass"`` — neurons on a 3D grid (random E/I placement), pair probability
  :math:`C_{XY} \exp(-(D(a, b)/\lambda)^2)` with :math:`C_{EE}, C_{EI}, C_{IE}, C_{II}` =
  0.3, 0.2, 0.4, 0.1 and :math:`\lambda = 2`;
* ``"random"`` — each pair with probability ``p`` (sparse random).

Weights are Gamma-distributed (coefficient of variation 0.5) around the mean amplitudes of Maass
et al. (``A_EE, A_EI, A_IE, A_II`` = 30, 60, -19, -19, inputs 18 to E / 9 to I, in mV of
membrane input, i.e. nA through 1 MOhm), signed by the source type (Dale's law). The recurrent
weights can then be scaled so that the signed weight matrix has spectral radius ``rho``
(:meth:`LiquidStateMachine.scale_spectral_radius`) or so that the reservoir fires at a target
rate on calibration inputs (:meth:`LiquidStateMachine.scale_to_rate`). Neuron: tau_m 30 ms,
threshold 15 mV, reset 13.5 mV, rest 0, refractory 3 ms (E) / 2 ms (I), bias 13.5 mV.

Deviations from Maass et al. [recall, unverified against the paper]: static synapses by default
(no Tsodyks-Markram depression/facilitation) and delays rounded to whole steps of ``dt``. Dynamic
synapses plug in through the ``synapse`` argument of :class:`LiquidStateMachine`: a function of the
pair name (``"EE"``, ``"EI"``, ``"IE"``, ``"II"``, ``"inE"``, ``"inI"``) returning extra keyword
arguments of :class:`neuro.sim.Projection` (for example ``{"plasticity": TsodyksMarkram(**MAASS_STP[pair])}``
once the simulator provides short-term plasticity; :data:`MAASS_STP` holds Maass's U, D, F).

Inputs are spike lists ``(times in seconds, input indices)`` — e.g. from
:func:`neuro.sim.events_to_spikes` for tonic events or :func:`frames_to_spikes` for binary frames.
The reservoir state of a sample is read out as spike counts per time window
(:func:`spike_count_features`) or exponentially filtered spike trains sampled at the window ends
(:func:`trace_features`, Maass' liquid state with tau = 30 ms). For one long stream with many
readout times (:mod:`neuro.tasks.reservoir_tasks`), :meth:`LiquidStateMachine.stream_features`
gives the counts in windows before each readout (:func:`window_counts`, the same function turns the
raw input into features) and :func:`stream_traces` the liquid state at chosen steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

import neuro.sim as sim

Sample = tuple[np.ndarray, np.ndarray]  # (spike times in seconds, input indices)

MAASS_C = {"EE": 0.3, "EI": 0.2, "IE": 0.4, "II": 0.1}
MAASS_A = {"EE": 30e-3, "EI": 60e-3, "IE": -19e-3, "II": -19e-3}
MAASS_DELAY = {"EE": 1.5e-3, "EI": 0.8e-3, "IE": 0.8e-3, "II": 0.8e-3}
#: Tsodyks-Markram parameters of Maass et al. (2002): use U, depression D (s), facilitation F (s)
MAASS_STP = {"EE": {"U": 0.5, "D": 1.1, "F": 0.05}, "EI": {"U": 0.05, "D": 0.125, "F": 1.2},
             "IE": {"U": 0.25, "D": 0.7, "F": 0.02}, "II": {"U": 0.32, "D": 0.144, "F": 0.06}}
SynapseModel = Callable[[str], Mapping[str, Any]]


@dataclass
class ReservoirConfig:
    """Parameters of a reservoir (defaults: Maass et al. 2002, see the module docstring)."""

    n: int = 400
    frac_inh: float = 0.2
    connectivity: str = "maass"
    lam: float = 2.0
    C: dict = field(default_factory=lambda: dict(MAASS_C))
    p: float = 0.1
    grid: tuple[int, int, int] | None = None
    weights: dict = field(default_factory=lambda: dict(MAASS_A))
    weight_cv: float = 0.5
    input_weight_exc: float = 18e-3
    input_weight_inh: float = 9e-3
    input_p: float = 0.2
    tau_mem: float = 30e-3
    tau_exc: float = 3e-3
    tau_inh: float = 6e-3
    v_th: float = 15e-3
    v_reset: float = 13.5e-3
    bias: float = 13.5e-3
    refractory_exc: float = 3e-3
    refractory_inh: float = 2e-3
    delays: bool = True
    dt: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        if not (isinstance(self.n, int) and self.n >= 2):
            raise ValueError(f"a reservoir needs n >= 2 neurons, got {self.n!r}")
        if not 0.0 < self.frac_inh < 1.0:
            raise ValueError(f"frac_inh must be in (0, 1), got {self.frac_inh}")
        if self.connectivity not in ("maass", "random"):
            raise ValueError(f"connectivity must be 'maass' or 'random', got {self.connectivity!r}")
        if not 0.0 < self.input_p <= 1.0:
            raise ValueError(f"input_p (input projection density) must be in (0, 1], got {self.input_p}")
        if self.weight_cv < 0:
            raise ValueError("weight_cv must be >= 0")
        if set(self.C) != set(MAASS_C) or set(self.weights) != set(MAASS_A):
            raise ValueError(f"C and weights need the keys {sorted(MAASS_C)}")


def _gamma_weights(mean: float, cv: float) -> Callable:
    """Weights of sign(mean) with Gamma-distributed magnitudes (mean |mean|, given CV)."""
    if cv == 0:
        return lambda rng, n: np.full(n, mean)
    shape = 1.0 / cv ** 2
    return lambda rng, n: np.sign(mean) * rng.gamma(shape, abs(mean) / shape, n)


def _grid_for(n: int) -> tuple[int, int, int]:
    """Maass-style columns: a 3 x 3 cross-section, as long as needed."""
    return (int(np.ceil(n / 9)), 3, 3)


def _projection(synapse: SynapseModel | None, pair: str, *args: Any, **kwargs: Any) -> sim.Projection:
    """A projection with the synapse model's extra keyword arguments for ``pair`` (if any)."""
    extra = dict(synapse(pair) or {}) if synapse is not None else {}
    clash = set(extra) & set(kwargs)
    if clash:
        raise ValueError(f"synapse({pair!r}) may not override {sorted(clash)} (set them in ReservoirConfig)")
    try:
        return sim.Projection(*args, **kwargs, **extra)
    except TypeError as err:
        if extra:
            raise TypeError(f"synapse({pair!r}) returned {sorted(extra)}, which neuro.sim.Projection does "
                            f"not accept here ({err}); dynamic synapses need the simulator's plasticity "
                            "support") from err
        raise


class LiquidStateMachine:
    """A fixed spiking reservoir driven by ``n_inputs`` spike inputs (see the module docstring).

    Args:
        n_inputs: number of input channels (spike sources).
        config: reservoir parameters.
        backend: simulation backend (``"auto"``: the Numba CPU kernel).
        synapse: optional synapse model: ``synapse(pair) -> dict`` of extra keyword arguments for
            the :class:`neuro.sim.Projection` of ``pair`` (``"EE"``, ``"EI"``, ``"IE"``, ``"II"``,
            ``"inE"``, ``"inI"``), e.g. a short-term plasticity rule; ``None``: static synapses.
    """

    def __init__(self, n_inputs: int, config: ReservoirConfig | None = None, backend: str = "auto",
                 synapse: SynapseModel | None = None):
        if not (isinstance(n_inputs, (int, np.integer)) and n_inputs > 0):
            raise ValueError(f"n_inputs must be a positive integer, got {n_inputs!r}")
        if synapse is not None and not callable(synapse):
            raise TypeError(f"synapse must be a function pair -> Projection keyword arguments, "
                            f"got {synapse!r}")
        config = ReservoirConfig() if config is None else config
        self.config, self.n_inputs = config, int(n_inputs)
        c = config
        self.n_inh = max(1, int(round(c.n * c.frac_inh)))
        self.n_exc = c.n - self.n_inh
        net = sim.Network(dt=c.dt, seed=c.seed, dtype=torch.float32, backend=backend)
        rng = np.random.default_rng([c.seed, 7])
        positions = None
        if c.connectivity == "maass":
            grid = c.grid or _grid_for(c.n)
            if int(np.prod(grid)) < c.n:
                raise ValueError(f"grid {grid} has fewer than n={c.n} positions")
            positions = sim.grid_positions(grid)[rng.permutation(int(np.prod(grid)))[:c.n]]
        refractory = np.r_[np.full(self.n_exc, c.refractory_exc), np.full(self.n_inh, c.refractory_inh)]
        self.pop = net.add(sim.Population(
            c.n, "LIF", tau_mem=c.tau_mem, v_th=c.v_th, v_reset=c.v_reset, v_leak=0.0, bias=c.bias,
            refractory=refractory, synapses={"exc": c.tau_exc, "inh": c.tau_inh},
            v_init=sim.Uniform(c.v_reset, c.v_th), positions=positions, name="reservoir"))
        self.inputs = net.add(sim.SpikeSource(self.n_inputs, name="inputs"))
        groups = {"E": self.pop[:self.n_exc], "I": self.pop[self.n_exc:]}
        self.recurrent = []
        for pair, w in c.weights.items():
            pre, post = groups[pair[0]], groups[pair[1]]
            rule = (sim.DistanceProbability(c.C[pair], c.lam) if c.connectivity == "maass"
                    else sim.FixedProbability(c.p, allow_self=False))
            delay = MAASS_DELAY[pair] if c.delays else 0.0
            self.recurrent.append(net.add(_projection(
                synapse, pair, pre, post, rule, weight=_gamma_weights(w, c.weight_cv), delay=delay,
                target="exc" if pair[0] == "E" else "inh", name=f"{pair[0]}->{pair[1]}")))
        self.input_projections = [
            net.add(_projection(synapse, f"in{k}", self.inputs, groups[k], sim.FixedProbability(c.input_p),
                                weight=_gamma_weights(w, c.weight_cv), target="exc", name=f"in->{k}"))
            for k, w in (("E", c.input_weight_exc), ("I", c.input_weight_inh))]
        self.spikes = net.add(sim.SpikeMonitor(self.pop))
        self.net = net
        self.scale = self.input_scale = self.inhibition_scale = 1.0

    # -- weight scaling -------------------------------------------------------------------------
    def recurrent_matrix(self) -> np.ndarray:
        """The signed recurrent weight matrix ``W[post, pre]`` at the current scale."""
        W = np.zeros((self.config.n, self.config.n))
        for proj in self.recurrent:
            pre, post, w = self.net.synapses(proj)
            np.add.at(W, (post, pre), w)
        return W

    def spectral_radius(self) -> float:
        """Largest eigenvalue modulus of :meth:`recurrent_matrix`."""
        W = self.recurrent_matrix()
        if self.config.n <= 3000:
            return float(np.abs(np.linalg.eigvals(W)).max())
        from scipy.sparse import csr_matrix
        from scipy.sparse.linalg import eigs

        return float(np.abs(eigs(csr_matrix(W), k=1, which="LM", return_eigenvectors=False)).max())

    def set_scale(self, factor: float) -> None:
        """Recurrent weights = ``factor`` x the drawn weights (inhibitory ones also x the inhibition
        scale)."""
        exc = [p for p, pair in zip(self.recurrent, self.config.weights) if pair[0] == "E"]
        inh = [p for p, pair in zip(self.recurrent, self.config.weights) if pair[0] == "I"]
        self.net.scale_projections(exc, factor)
        self.net.scale_projections(inh, factor * self.inhibition_scale)
        self.scale = float(factor)

    def set_inhibition_scale(self, factor: float) -> None:
        """Inhibitory recurrent weights (I->E, I->I) = ``factor`` x the excitatory scaling: the E/I balance.

        Without Maass's depressing E->E synapses, strong static excitation ignites self-sustained
        firing near the refractory limit; more inhibition delays that transition.
        """
        if not factor >= 0:
            raise ValueError(f"inhibition scale must be >= 0, got {factor}")
        self.inhibition_scale = float(factor)
        self.set_scale(self.scale)

    def set_input_scale(self, factor: float) -> None:
        """Input weights = ``factor`` x the drawn input weights."""
        self.net.scale_projections(self.input_projections, factor)
        self.input_scale = float(factor)

    def scale_spectral_radius(self, rho: float) -> float:
        """Scale the recurrent weights to spectral radius ``rho``; returns the factor."""
        if not rho > 0:
            raise ValueError(f"spectral radius must be > 0, got {rho}")
        self.set_scale(1.0)
        radius = self.spectral_radius()
        if radius == 0:
            raise ValueError("the reservoir has no recurrent synapses to scale")
        self.set_scale(rho / radius)
        return self.scale

    def scale_to_rate(self, samples: Sequence[Sample], duration: float, target_hz: float,
                      low: float = 1e-3, high: float = 10.0, iterations: int = 14) -> float:
        """Bisect the recurrent scale (log-spaced) until the mean rate on ``samples`` is ``target_hz``."""
        if not target_hz > 0:
            raise ValueError(f"target rate must be > 0 Hz, got {target_hz}")

        def rate(factor: float) -> float:
            self.set_scale(factor)
            counts = sum(len(self.run(s, duration)[0]) for s in samples)
            return counts / (len(samples) * self.config.n * duration)

        lo, hi = np.log(low), np.log(high)
        if rate(float(np.exp(lo))) > target_hz:
            self.set_scale(float(np.exp(lo)))
            return self.scale
        for _ in range(iterations):
            mid = 0.5 * (lo + hi)
            if rate(float(np.exp(mid))) > target_hz:
                hi = mid
            else:
                lo = mid
        self.set_scale(float(np.exp(0.5 * (lo + hi))))
        return self.scale

    # -- running --------------------------------------------------------------------------------
    def run(self, sample: Sample, duration: float) -> tuple[np.ndarray, np.ndarray]:
        """Present one sample from the initial state; returns the reservoir's ``(steps, neurons)``."""
        times, idx = sample
        self.net.reset()
        self.inputs.set_spikes(times, idx)
        self.net.run(duration, progress=False)
        return self.spikes.steps, self.spikes.indices

    def transform(self, samples: Sequence[Sample], duration: float, windows: int = 1,
                  features: str = "counts", tau: float = 30e-3, progress: bool = True) -> np.ndarray:
        """Reservoir features of every sample: ``[len(samples), n * windows]``."""
        if features not in ("counts", "traces"):
            raise ValueError(f"features must be 'counts' or 'traces', got {features!r}")
        steps = int(round(duration / self.config.dt))
        out = np.zeros((len(samples), self.config.n * windows), np.float32)
        it = samples
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(samples, desc="reservoir", unit="sample", leave=False)
        for k, sample in enumerate(it):
            st, idx = self.run(sample, duration)
            if features == "counts":
                out[k] = spike_count_features(st, idx, self.config.n, steps, windows)
            else:
                out[k] = trace_features(st, idx, self.config.n, steps, windows, tau / self.config.dt)
        return out


    def stream_features(self, sample: Sample, duration: float, readout_steps: np.ndarray, lookback: int,
                        windows: int = 1) -> tuple[np.ndarray, float]:
        """Run one stream and count the reservoir's spikes in ``windows`` windows over the
        ``lookback`` steps before each readout (:func:`window_counts`): ``([K, windows * n], rate Hz)``."""
        steps, idx = self.run(sample, duration)
        rate = len(steps) / (self.config.n * duration) if duration > 0 else 0.0
        return window_counts(steps, idx, self.config.n, readout_steps, lookback, windows), rate


# -- features ---------------------------------------------------------------------------------------
def window_counts(steps: np.ndarray, idx: np.ndarray, n: int, readout_steps: np.ndarray, lookback: int,
                  windows: int = 1) -> np.ndarray:
    """Spike counts per channel in ``windows`` equal windows over steps ``[r - lookback, r)`` of each
    readout ``r``: ``[len(readout_steps), windows * n]`` float32, window-major (oldest window first).

    Window ``w`` spans ``[r - lookback + floor(w * lookback / windows), r - lookback + floor((w + 1) *
    lookback / windows))``; windows may overlap other readouts' windows (computed from cumulative counts).
    """
    readout_steps = np.asarray(readout_steps, np.int64)
    if not (isinstance(lookback, (int, np.integer)) and lookback >= 1):
        raise ValueError(f"lookback must be a positive number of steps, got {lookback!r}")
    if not (isinstance(windows, (int, np.integer)) and 1 <= windows <= lookback):
        raise ValueError(f"windows must be an integer in [1, lookback={lookback}], got {windows!r}")
    steps, idx = np.asarray(steps, np.int64), np.asarray(idx, np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"spike indices must be in [0, {n})")
    edges = readout_steps[:, None] - lookback + (np.arange(windows + 1) * lookback) // windows  # [K, W+1]
    span = int(max(steps.max(initial=0), edges.max(initial=0))) + 2
    keys = np.sort(idx * span + steps)  # spikes sorted by (channel, step)
    # cumulative[k, w, c] = number of spikes of channel c before step edges[k, w]
    query = np.arange(n)[None, None, :] * span + np.clip(edges, 0, span - 1)[:, :, None]
    cumulative = np.searchsorted(keys, query, side="left")
    counts = np.diff(cumulative, axis=1)  # [K, W, n]
    return counts.reshape(len(readout_steps), windows * n).astype(np.float32)


def stream_traces(steps: np.ndarray, idx: np.ndarray, n: int, at_steps: np.ndarray, tau_steps: float
                  ) -> np.ndarray:
    r"""Maass' liquid state: spike trains filtered by :math:`e^{-\Delta/\tau}` and sampled at the
    (increasing) steps ``at_steps``; a spike at step ``s`` counts at every ``t >= s``: ``[len(at), n]``."""
    at = np.asarray(at_steps, np.int64)
    if at.size and (np.diff(at) < 0).any():
        raise ValueError("at_steps must be non-decreasing")
    if not tau_steps > 0:
        raise ValueError(f"tau_steps must be > 0, got {tau_steps}")
    steps, idx = np.asarray(steps, np.int64), np.asarray(idx, np.int64)
    order = np.argsort(steps, kind="stable")
    steps, idx = steps[order], idx[order]
    out = np.zeros((at.size, n), np.float64)
    state, last, lo = np.zeros(n), 0, 0
    for k, t in enumerate(at):
        hi = np.searchsorted(steps, t, side="right")
        state *= np.exp(-(t - last) / tau_steps)
        np.add.at(state, idx[lo:hi], np.exp(-(t - steps[lo:hi]) / tau_steps))
        out[k], last, lo = state, t, hi
    return out.astype(np.float32)


def spike_count_features(steps: np.ndarray, idx: np.ndarray, n: int, n_steps: int,
                         windows: int) -> np.ndarray:
    """Spike counts per neuron in ``windows`` equal time windows: ``[windows * n]`` (window-major)."""
    win = np.minimum(steps * windows // max(n_steps, 1), windows - 1)
    return np.bincount(win * n + idx, minlength=windows * n).astype(np.float32)


def trace_features(steps: np.ndarray, idx: np.ndarray, n: int, n_steps: int, windows: int,
                   tau_steps: float) -> np.ndarray:
    """Exponentially filtered spike trains (``tau_steps``) sampled at the end of each window."""
    ends = np.array([(w + 1) * n_steps // windows - 1 for w in range(windows)])
    out = np.zeros((windows, n), np.float32)
    for w, end in enumerate(ends):
        sel = steps <= end
        np.add.at(out[w], idx[sel], np.exp(-(end - steps[sel]) / tau_steps))
    return out.ravel()


def binned_input_features(sample: Sample, n_inputs: int, duration: float, windows: int) -> np.ndarray:
    """The raw input as event counts per input and window (the no-reservoir baseline)."""
    times, idx = sample
    win = np.minimum((np.asarray(times) / duration * windows).astype(np.int64), windows - 1)
    flat = win * n_inputs + np.asarray(idx, np.int64)
    return np.bincount(flat, minlength=windows * n_inputs).astype(np.float32)


def frames_to_spikes(frames: np.ndarray, dt: float) -> Sample:
    """Spike list of binary (or count) frames ``[T, n_inputs]``: frame ``t`` spikes at ``t * dt``."""
    frames = np.asarray(frames)
    if frames.ndim != 2:
        raise ValueError(f"frames must be [T, n_inputs], got shape {frames.shape}")
    t, i = np.nonzero(frames > 0)
    return t * dt, i


# -- linear readouts --------------------------------------------------------------------------------
def linear_readout(kind: str = "ridge", alpha: float | None = None, seed: int = 0):
    """A standardised linear classifier: ``"ridge"`` (RidgeClassifierCV over alphas, or a fixed
    ``alpha``) or ``"logistic"`` (multinomial logistic regression, L2 ``C = 1 / alpha``)."""
    from sklearn.linear_model import LogisticRegression, RidgeClassifier, RidgeClassifierCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "ridge":
        clf = (RidgeClassifierCV(alphas=np.logspace(-2, 4, 13)) if alpha is None
               else RidgeClassifier(alpha=alpha))
    elif kind == "logistic":
        clf = LogisticRegression(C=1.0 / (alpha or 1.0), max_iter=2000, random_state=seed)
    else:
        raise ValueError(f"readout kind must be 'ridge' or 'logistic', got {kind!r}")
    return make_pipeline(StandardScaler(), clf)
