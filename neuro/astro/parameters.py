"""Parameters of NEST's ``astrocyte_lr_1994`` and ``aeif_cond_alpha_astro``, with NEST's names,
units and defaults (NEST 3.10), validated on construction, and packed into the kernels' tables.

Every field takes a number or a per-unit array; :meth:`table` broadcasts them to ``[rows, P]``
(``P = 1`` when all are scalars, else the population size).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from neuro.kernels import aeif_math, astrocyte_math

Value = float | np.ndarray


def _array(name: str, value: Value) -> np.ndarray:
    a = np.asarray(value, dtype=np.float64)
    if a.ndim > 1:
        raise ValueError(f"{name} must be a number or a 1-D array of per-unit values, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite, got {value!r}")
    return a


def _check(name: str, value: Value, *, positive: bool = False, nonnegative: bool = False,
           what: str = "") -> None:
    a = _array(name, value)
    if positive and (a <= 0).any():
        raise ValueError(f"{name} must be > 0{what}, got {value!r}")
    if nonnegative and (a < 0).any():
        raise ValueError(f"{name} must be >= 0{what}, got {value!r}")


def _pack(rows: dict, n: int) -> np.ndarray:
    """``{row index: value}`` -> ``[len(rows), P]`` float64 table."""
    arrays = {r: _array(str(r), v) for r, v in rows.items()}
    sizes = {a.size for a in arrays.values() if a.ndim == 1}
    if sizes - {n}:
        raise ValueError(f"per-unit parameter arrays must have length {n} (the population size), "
                         f"got lengths {sorted(sizes)}")
    P = n if sizes else 1
    table = np.empty((len(rows), P), np.float64)
    for r, a in arrays.items():
        table[r] = a
    return table


@dataclass(frozen=True)
class AstrocyteParameters:
    """Li-Rinzel astrocyte (NEST ``astrocyte_lr_1994``); equations in
    :mod:`neuro.kernels.astrocyte_math`. Concentrations in uM, times in ms, rates per ms.

    Args:
        Ca_tot: total free calcium concentration in terms of cytosolic volume.
        IP3_0: baseline IP3 concentration. tau_IP3: IP3 decay time constant.
        Kd_IP3_1, Kd_IP3_2: IP3 dissociation constants of the IP3 receptor (activation /
            inactivation). Kd_act: calcium activation constant. Kd_inh: calcium inactivation
            constant. Km_SERCA: half-activation of the SERCA pump.
        k_IP3R: IP3R binding rate for calcium inhibition (1/(uM ms)). rate_IP3R: maximal IP3R
            release rate. rate_L: ER leak rate. rate_SERCA: maximal SERCA uptake (uM/ms).
        ratio_ER_cyt: ER to cytosol volume ratio.
        delta_IP3: IP3 increase per unit of synaptic weight of an arriving spike.
        SIC_th: calcium threshold of the slow inward current; SIC_scale: its scale (pA).
    """

    Ca_tot: Value = 2.0
    IP3_0: Value = 0.16
    Kd_IP3_1: Value = 0.13
    Kd_IP3_2: Value = 0.9434
    Kd_act: Value = 0.08234
    Kd_inh: Value = 1.049
    Km_SERCA: Value = 0.1
    SIC_scale: Value = 1.0
    SIC_th: Value = 0.19669
    delta_IP3: Value = 0.0002
    k_IP3R: Value = 0.0002
    rate_IP3R: Value = 0.006
    rate_L: Value = 0.00011
    rate_SERCA: Value = 0.0009
    ratio_ER_cyt: Value = 0.185
    tau_IP3: Value = 7142.0

    def __post_init__(self) -> None:
        for name in ("Ca_tot", "IP3_0", "SIC_th"):
            _check(name, getattr(self, name), nonnegative=True, what=" (a concentration)")
        for name in ("Kd_IP3_1", "Kd_IP3_2", "Kd_act", "Kd_inh", "Km_SERCA"):
            _check(name, getattr(self, name), positive=True, what=" (a dissociation constant)")
        for name in ("k_IP3R", "rate_IP3R", "rate_L", "rate_SERCA", "delta_IP3", "SIC_scale"):
            _check(name, getattr(self, name), nonnegative=True, what=" (a rate or gain)")
        _check("ratio_ER_cyt", self.ratio_ER_cyt, positive=True, what=" (a volume ratio)")
        _check("tau_IP3", self.tau_IP3, positive=True, what=" (a time constant, ms)")

    def replace(self, **changes) -> AstrocyteParameters:
        """A copy with the given fields changed (validated like a new instance)."""
        return replace(self, **changes)

    def as_dict(self) -> dict:
        """NEST's parameter dictionary (``nest.SetStatus`` / ``nest.Create(..., params=...)``)."""
        return asdict(self)

    def table(self, n: int) -> np.ndarray:
        """The ``[astrocyte_math.N_PARAMS, P]`` table of the kernels."""
        m = astrocyte_math
        rows = {m.P_CA_TOT: self.Ca_tot, m.P_IP3_0: self.IP3_0, m.P_KD_IP3_1: self.Kd_IP3_1,
                m.P_KD_IP3_2: self.Kd_IP3_2, m.P_KD_ACT: self.Kd_act, m.P_KD_INH: self.Kd_inh,
                m.P_KM_SERCA: self.Km_SERCA, m.P_SIC_SCALE: self.SIC_scale, m.P_SIC_TH: self.SIC_th,
                m.P_DELTA_IP3: self.delta_IP3, m.P_K_IP3R: self.k_IP3R,
                m.P_RATE_IP3R: self.rate_IP3R, m.P_RATE_L: self.rate_L,
                m.P_RATE_SERCA: self.rate_SERCA, m.P_RATIO_ER_CYT: self.ratio_ER_cyt,
                m.P_TAU_IP3: self.tau_IP3}
        return _pack(rows, n)


@dataclass(frozen=True)
class AeifAstroParameters:
    """NEST ``aeif_cond_alpha_astro`` (adaptive exponential IF, alpha conductances, SIC input);
    equations in :mod:`neuro.kernels.aeif_math`. mV, ms, nS, pF, pA.

    Args:
        V_peak: spike detection potential. V_reset: potential after a spike. t_ref: refractory
            period. g_L: leak conductance. C_m: capacitance. E_ex, E_in: reversal potentials of
            excitatory / inhibitory synapses. E_L: leak reversal. Delta_T: slope factor. tau_w:
            adaptation time constant. a: subthreshold adaptation (nS). b: spike-triggered
            adaptation (pA). V_th: spike initiation threshold. tau_syn_ex, tau_syn_in: alpha
            conductance time constants. I_e: constant current. gsl_error_tol: integrator tolerance.
    """

    V_peak: Value = 0.0
    V_reset: Value = -60.0
    t_ref: Value = 0.0
    g_L: Value = 30.0
    C_m: Value = 281.0
    E_ex: Value = 0.0
    E_in: Value = -85.0
    E_L: Value = -70.6
    Delta_T: Value = 2.0
    tau_w: Value = 144.0
    a: Value = 4.0
    b: Value = 80.5
    V_th: Value = -50.4
    tau_syn_ex: Value = 0.2
    tau_syn_in: Value = 2.0
    I_e: Value = 0.0
    gsl_error_tol: Value = 1e-6

    def __post_init__(self) -> None:
        for f in fields(self):
            _array(f.name, getattr(self, f.name))
        if (np.asarray(self.V_reset) >= np.asarray(self.V_peak)).any():
            raise ValueError("V_reset must be < V_peak")
        _check("Delta_T", self.Delta_T, nonnegative=True)
        if (np.asarray(self.V_peak) < np.asarray(self.V_th)).any():
            raise ValueError("V_peak must be >= V_th")
        delta = np.asarray(self.Delta_T, dtype=np.float64)
        span = (np.asarray(self.V_peak) - np.asarray(self.V_th)) / np.where(delta > 0, delta, 1.0)
        if ((delta > 0) & (span >= math.log(np.finfo(np.float64).max / 1e20))).any():
            raise ValueError("V_peak, V_th and Delta_T make exp((V_peak - V_th)/Delta_T) overflow; "
                             "increase Delta_T or lower V_peak")
        _check("C_m", self.C_m, positive=True, what=" (capacitance, pF)")
        _check("t_ref", self.t_ref, nonnegative=True, what=" (refractory period, ms)")
        for name in ("tau_syn_ex", "tau_syn_in", "tau_w"):
            _check(name, getattr(self, name), positive=True, what=" (a time constant, ms)")
        _check("g_L", self.g_L, nonnegative=True, what=" (a conductance, nS)")
        _check("gsl_error_tol", self.gsl_error_tol, positive=True)

    def replace(self, **changes) -> AeifAstroParameters:
        """A copy with the given fields changed (validated like a new instance)."""
        return replace(self, **changes)

    def as_dict(self) -> dict:
        """The parameters as a plain dict of field values (NEST names, NEST units)."""
        return asdict(self)

    def table(self, n: int, dt: float) -> np.ndarray:
        """The ``[aeif_math.N_PARAMS, P]`` table of the kernels for time step ``dt`` (ms)."""
        m = aeif_math
        delta = np.asarray(self.Delta_T, dtype=np.float64)
        ref_steps = np.round(np.asarray(self.t_ref, dtype=np.float64) / dt)
        rows = {m.P_V_PEAK: self.V_peak, m.P_V_RESET: self.V_reset, m.P_REF_STEPS: ref_steps,
                m.P_G_L: self.g_L, m.P_C_M: self.C_m, m.P_E_EX: self.E_ex, m.P_E_IN: self.E_in,
                m.P_E_L: self.E_L, m.P_DELTA_T: self.Delta_T, m.P_TAU_W: self.tau_w, m.P_A: self.a,
                m.P_B: self.b, m.P_V_TH: self.V_th, m.P_TAU_SYN_EX: self.tau_syn_ex,
                m.P_TAU_SYN_IN: self.tau_syn_in, m.P_I_E: self.I_e, m.P_TOL: self.gsl_error_tol,
                m.P_G0_EX: math.e / np.asarray(self.tau_syn_ex, dtype=np.float64),
                m.P_G0_IN: math.e / np.asarray(self.tau_syn_in, dtype=np.float64),
                m.P_V_PEAK_EFF: np.where(delta > 0, self.V_peak, self.V_th)}
        return _pack(rows, n)
