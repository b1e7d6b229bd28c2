"""Populations of astrocytes and of ``aeif_cond_alpha_astro`` neurons with a block-step API.

``pop.step_many(state, inputs..., record=...) -> (new_state, output, traces)`` advances every unit
by ``n_steps = len(inputs)`` steps of ``dt`` ms with the per-step inputs given (a network couples
populations through delays of at least one block, so a block's inputs are known before it runs);
states are NamedTuples of ``[n]`` float64 arrays and are never modified in place. Example::

    astro = Astrocytes(2, AstrocyteParameters(delta_IP3=0.2))
    state = astro.initial_state()
    ip3 = np.zeros((10000, 2)); ip3[3748, :] = 1.0           # a spike arriving at t = 374.9 ms
    state, sic, traces = astro.step_many(state, ip3)         # traces["Ca_astro"]: [10000, 2]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from neuro.astro.parameters import AeifAstroParameters, AstrocyteParameters
from neuro.kernels import aeif_math, astrocyte_math
from neuro.state import stateclass

BACKENDS = ("numba", "cuda")


def _table_methods(cls):
    """``table()`` stacks the fields into the kernels' ``[N_STATE, n]`` array; ``from_table``
    splits it again (copies, so states stay immutable)."""

    def table(self) -> np.ndarray:
        """The fields stacked in order into a contiguous ``float64 [N_STATE, n]`` array (the kernels'
        state table)."""
        return np.ascontiguousarray(np.stack([np.asarray(f, np.float64) for f in self]))

    def from_table(klass, t: np.ndarray):
        """The state whose fields are copies of the rows of a ``[N_STATE, n]`` table (inverse of
        ``table``)."""
        return klass(*(np.array(row) for row in t))

    cls.table = table
    cls.from_table = classmethod(from_table)
    return cls


@stateclass
@_table_methods
class AstrocyteState(NamedTuple):
    """State of astrocytes (``[n]`` each): NEST's ``IP3`` (uM), ``Ca_astro`` (uM), ``h_IP3R``,
    the last emitted ``SIC`` (pA), the calcium current held for the next step ``J_in`` and the
    integrator's suggested step ``step_size`` (ms)."""

    IP3: np.ndarray
    Ca_astro: np.ndarray
    h_IP3R: np.ndarray
    SIC: np.ndarray
    J_in: np.ndarray
    step_size: np.ndarray


@stateclass
@_table_methods
class AeifAstroState(NamedTuple):
    """State of ``aeif_cond_alpha_astro`` neurons (``[n]`` each), NEST's names: ``V_m`` (mV),
    ``dg_ex, g_ex, dg_in, g_in`` (nS/ms, nS), ``w`` (pA), the currents held for the next step
    ``I_stim, I_SIC`` (pA), the remaining refractory steps and the integrator's step (ms)."""

    V_m: np.ndarray
    dg_ex: np.ndarray
    g_ex: np.ndarray
    dg_in: np.ndarray
    g_in: np.ndarray
    w: np.ndarray
    I_stim: np.ndarray
    I_SIC: np.ndarray
    refractory_steps: np.ndarray
    step_size: np.ndarray


ASTROCYTE_RECORDABLES = {"IP3": astrocyte_math.S_IP3, "Ca_astro": astrocyte_math.S_CA,
                         "h_IP3R": astrocyte_math.S_H, "SIC": astrocyte_math.S_SIC}
AEIF_RECORDABLES = {"V_m": aeif_math.S_V, "g_ex": aeif_math.S_G_EX, "g_in": aeif_math.S_G_IN,
                    "w": aeif_math.S_W, "I_SIC": aeif_math.S_I_SIC}


def check_dt(dt: float) -> float:
    if not (isinstance(dt, (int, float)) and np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive number of milliseconds, got {dt!r}")
    return float(dt)


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "cuda":
        from neuro.backends import cuda_kernels_usable, require_numba_cuda

        require_numba_cuda()
        if not cuda_kernels_usable():
            raise RuntimeError("backend='cuda' needs a GPU (or NUMBA_ENABLE_CUDASIM=1)")
    return backend


def record_rows(record: Sequence[str], recordables: dict, kind: str) -> np.ndarray:
    unknown = [r for r in record if r not in recordables]
    if unknown:
        raise ValueError(f"cannot record {unknown} from {kind}; recordables: {sorted(recordables)}")
    return np.array([recordables[r] for r in record], dtype=np.int64)


def input_block(x, name: str, n: int, n_steps: int | None, nonnegative: bool = False) -> np.ndarray:
    """Validate a per-step input ``[n_steps, n]`` (``None`` -> zeros)."""
    if x is None:
        if n_steps is None:
            raise ValueError(f"{name}: the number of steps is unknown (give an input array)")
        return np.zeros((n_steps, n), np.float64)
    a = np.ascontiguousarray(np.asarray(x, dtype=np.float64))
    if a.ndim != 2 or a.shape[1] != n or (n_steps is not None and a.shape[0] != n_steps):
        want = f"[{n_steps if n_steps is not None else 'n_steps'}, {n}]"
        raise ValueError(f"{name} must have shape {want} (steps x units), got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf values")
    if nonnegative and (a < 0).any():
        raise ValueError(f"{name} must be >= 0 (NEST's astrocyte rejects negative spike weights)")
    return a


INITIAL_IP3, INITIAL_CA, INITIAL_H = 0.16, 0.073, 0.793  # NEST's initial state (uM, uM, fraction)


def astrocyte_initial_state(n: int, dt: float, IP3=INITIAL_IP3, Ca_astro=INITIAL_CA,
                            h_IP3R=INITIAL_H) -> AstrocyteState:
    """The validated initial state of ``n`` astrocytes (scalars or ``[n]`` values); the
    integrator's first suggested step is ``dt`` (ms)."""
    ip3, ca, h = (np.broadcast_to(np.asarray(v, np.float64), (n,)).copy()
                  for v in (IP3, Ca_astro, h_IP3R))
    for name, v in (("IP3", ip3), ("Ca_astro", ca), ("h_IP3R", h)):
        if not np.isfinite(v).all():
            raise ValueError(f"{name} must be finite")
    if (ip3 < 0).any():
        raise ValueError("IP3 must be >= 0 (a concentration, uM)")
    if (ca < 0).any():
        raise ValueError("Ca_astro must be >= 0 (a concentration, uM)")
    if ((h < 0) | (h > 1)).any():
        raise ValueError("h_IP3R must be in [0, 1] (a fraction of receptors)")
    zeros = np.zeros(n)
    return AstrocyteState(ip3, ca, h, zeros, zeros.copy(), np.full(n, dt))


def _run_block(backend: str, dt: float, nprm, aprm, nstate, astate, ext, nrows, arows):
    """Run one block of unconnected units through the shared engine (one slice = the block)."""
    from neuro.astro.engine import Plan, Recording, empty_csr, run_chunk

    n_steps = ext[0].shape[0]
    N, A = nstate.shape[1], astate.shape[1]
    plan = Plan(dt, nprm, aprm, N, A, n_steps, n_steps, empty_csr(N), empty_csr(N), empty_csr(A))
    rec = Recording(nrows, arows, 1, 0, np.zeros((len(nrows), n_steps, N)),
                    np.zeros((len(arows), n_steps, A)))
    spikes, status = run_chunk(plan, backend, 0, n_steps, nstate, astate, ext, rec)
    return spikes, status, rec


class Astrocytes:
    """A population of ``n`` Li-Rinzel astrocytes (NEST ``astrocyte_lr_1994``).

    Args:
        n: number of astrocytes. params: :class:`AstrocyteParameters` (scalars or ``[n]`` arrays).
        dt: simulation step (ms). backend: ``"numba"`` (CPU) or ``"cuda"``.
    """

    recordables = tuple(ASTROCYTE_RECORDABLES)

    def __init__(self, n: int, params: AstrocyteParameters = AstrocyteParameters(), dt: float = 0.1,
                 backend: str = "numba") -> None:
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a positive number of astrocytes, got {n!r}")
        if not isinstance(params, AstrocyteParameters):
            raise TypeError(f"params must be AstrocyteParameters, got {type(params).__name__}")
        self.n = int(n)
        self.params = params
        self.dt = check_dt(dt)
        self.backend = check_backend(backend)
        self.prm = params.table(self.n)

    def initial_state(self, IP3=INITIAL_IP3, Ca_astro=INITIAL_CA, h_IP3R=INITIAL_H) -> AstrocyteState:
        """NEST's initial state (IP3 0.16 uM, Ca 0.073 uM, h 0.793), validated."""
        return astrocyte_initial_state(self.n, self.dt, IP3, Ca_astro, h_IP3R)

    def step_many(self, state: AstrocyteState, ip3_input, j_input=None,
                  record: Sequence[str] = ("IP3", "Ca_astro", "h_IP3R", "SIC")):
        """Advance ``len(ip3_input)`` steps.

        Args:
            state: the current :class:`AstrocyteState`.
            ip3_input: ``[n_steps, n]`` summed weights of the spikes arriving at the end of each
                step (``IP3 += delta_IP3 * weight``); must be >= 0.
            j_input: optional ``[n_steps, n]`` calcium current (uM/ms) arriving at each step.
            record: state variables to return at every step.

        Returns:
            ``(state, sic, traces)``: the new state, the SIC emitted after each step
            ``[n_steps, n]`` (pA) and ``{name: [n_steps, n]}``.
        """
        if not isinstance(state, AstrocyteState):
            raise TypeError(f"state must be an AstrocyteState, got {type(state).__name__}")
        ip3 = input_block(ip3_input, "ip3_input", self.n, None, nonnegative=True)
        n_steps = ip3.shape[0]
        jin = input_block(j_input, "j_input", self.n, n_steps)
        rows = record_rows(record, ASTROCYTE_RECORDABLES, "astrocytes")
        table = state.table()
        if table.shape != (astrocyte_math.N_STATE, self.n):
            raise ValueError(f"state is for {table.shape[1]} astrocytes, the population has {self.n}")
        none = np.zeros((n_steps, 0))
        rows = np.append(rows, astrocyte_math.S_SIC)  # the SIC output rides along as a last row
        _, _, rec = _run_block(self.backend, self.dt, AeifAstroParameters().table(1, self.dt),
                               self.prm, np.zeros((aeif_math.N_STATE, 0)), table,
                               (none, none, none, none, ip3, jin), np.zeros(0, np.int64), rows)
        sic = rec.arec[-1]
        traces = {name: rec.arec[i] for i, name in enumerate(record)}
        return AstrocyteState.from_table(table), sic, traces


class AeifAstroNeurons:
    """A population of ``n`` NEST ``aeif_cond_alpha_astro`` neurons.

    Args:
        n: number of neurons. params: :class:`AeifAstroParameters`. dt: step (ms).
        backend: ``"numba"`` (CPU) or ``"cuda"``.
    """

    recordables = tuple(AEIF_RECORDABLES)

    def __init__(self, n: int, params: AeifAstroParameters = AeifAstroParameters(), dt: float = 0.1,
                 backend: str = "numba") -> None:
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a positive number of neurons, got {n!r}")
        if not isinstance(params, AeifAstroParameters):
            raise TypeError(f"params must be AeifAstroParameters, got {type(params).__name__}")
        self.n = int(n)
        self.params = params
        self.dt = check_dt(dt)
        self.backend = check_backend(backend)
        self.prm = params.table(self.n, self.dt)

    def initial_state(self, V_m=None, w=0.0) -> AeifAstroState:
        """NEST's initial state: ``V_m = E_L``, everything else 0."""
        v = np.broadcast_to(np.asarray(self.params.E_L if V_m is None else V_m, np.float64),
                            (self.n,)).copy()
        ad = np.broadcast_to(np.asarray(w, np.float64), (self.n,)).copy()
        if not (np.isfinite(v).all() and np.isfinite(ad).all()):
            raise ValueError("V_m and w must be finite")
        z = np.zeros(self.n)
        return AeifAstroState(v, z, z.copy(), z.copy(), z.copy(), ad, z.copy(), z.copy(), z.copy(),
                              np.full(self.n, self.dt))

    def step_many(self, state: AeifAstroState, exc_input, inh_input=None, stim_input=None,
                  sic_input=None, record: Sequence[str] = ("V_m", "w", "g_ex", "I_SIC")):
        """Advance ``len(exc_input)`` steps.

        Args:
            exc_input / inh_input: ``[n_steps, n]`` summed excitatory / inhibitory weights (nS,
                >= 0) of the spikes arriving at the end of each step.
            stim_input / sic_input: ``[n_steps, n]`` currents (pA) arriving at each step, applied
                during the next step (NEST's current and SIC event semantics).
            record: state variables to return at every step.

        Returns:
            ``(state, spikes, traces)`` with ``spikes[n_steps, n]`` the spike counts per step
            (spike time = step end).
        """
        if not isinstance(state, AeifAstroState):
            raise TypeError(f"state must be an AeifAstroState, got {type(state).__name__}")
        ex = input_block(exc_input, "exc_input", self.n, None, nonnegative=True)
        n_steps = ex.shape[0]
        inh = input_block(inh_input, "inh_input", self.n, n_steps, nonnegative=True)
        stim = input_block(stim_input, "stim_input", self.n, n_steps)
        sic = input_block(sic_input, "sic_input", self.n, n_steps)
        rows = record_rows(record, AEIF_RECORDABLES, "aeif_cond_alpha_astro neurons")
        table = state.table()
        if table.shape != (aeif_math.N_STATE, self.n):
            raise ValueError(f"state is for {table.shape[1]} neurons, the population has {self.n}")
        none = np.zeros((n_steps, 0))
        spikes, status, rec = _run_block(
            self.backend, self.dt, self.prm, AstrocyteParameters().table(1),
            table, np.zeros((astrocyte_math.N_STATE, 0)), (ex, inh, stim, sic, none, none), rows,
            np.zeros(0, np.int64))
        if (status != aeif_math.OK).any():
            bad = np.nonzero(status)[0][:5].tolist()
            raise FloatingPointError(f"aeif_cond_alpha_astro neurons {bad} became numerically unstable "
                                     "(V_m < -1000 mV or |w| > 1e6 pA), as NEST would report")
        traces = {name: rec.nrec[i] for i, name in enumerate(record)}
        return AeifAstroState.from_table(table), spikes, traces
