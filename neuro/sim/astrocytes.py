r"""Astrocytes in a simulated network: NEST's ``astrocyte_lr_1994`` stepped inside the simulation loop.

An :class:`AstrocytePopulation` is ``n`` Li-Rinzel astrocytes with NEST 3.10's parameter names,
units and defaults (:class:`neuro.astro.AstrocyteParameters`: uM, ms, 1/ms, pA). Per astrocyte
(equations in :mod:`neuro.kernels.astrocyte_math`; ``c`` is the calcium clipped to ``[0, Ca_tot]``)::

    dIP3/dt = (IP3_0 - IP3) / tau_IP3                          (+ delta_IP3 * w per arriving spike)
    dCa/dt  = J_chan(IP3, c, h) - J_pump(c) + J_leak(c)
    dh/dt   = k_IP3R Kd_inh (IP3 + Kd_IP3_1)/(IP3 + Kd_IP3_2) (1 - h) - k_IP3R c h
    SIC     = SIC_scale ln((Ca - SIC_th) 1000)  if (Ca - SIC_th) 1000 > 1, else 0     [pA]

integrated over every step by the same compiled RKF45 step as :mod:`neuro.astro` (GSL's control,
as NEST). Astrocytes couple to the rest of the network through ordinary
:class:`~neuro.sim.Projection` objects (the network's ``dt`` and delays are in seconds; the
astrocyte's own time constants in ms):

* ``Projection(spiking group, astrocytes, connector, weight, delay)``: a spike of step ``t``
  arrives at ``(t + 1) dt + delay`` like any spike, that is at the end of the astrocyte's step
  ``t + delay_steps``, where it raises ``IP3`` by ``delta_IP3 * weight`` (weights >= 0);
* ``Projection(astrocytes, neurons, connector, weight, delay)``: the SIC emitted after step ``t``
  times ``weight`` is an input current of the target neurons during step ``t + 1 + delay_steps``
  (it adds to the membrane input like the bias; ``weight`` converts pA into the neurons' units).

This is NEST 3.10's timing (``neuro.sim`` stamps a spike with the start of its step, NEST with
its end, so a spike at ``t dt`` here is NEST's spike at ``(t + 1) dt``): the same network gives
the traces of :class:`neuro.astro.TripartiteNetwork` and NEST. Record ``IP3``, ``Ca_astro``,
``h_IP3R`` and ``SIC`` with a :class:`~neuro.sim.StateMonitor`. NEST's tripartite connection rule
is :meth:`neuro.sim.Network.connect_tripartite`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields

import numpy as np

from neuro.astro.parameters import AstrocyteParameters
from neuro.astro.populations import (
    ASTROCYTE_RECORDABLES,
    INITIAL_CA,
    INITIAL_H,
    INITIAL_IP3,
    astrocyte_initial_state,
)
from neuro.sim.groups import Group, _check_count, element_positions
from neuro.sim.values import ValueSpec, resolve

NEST_PARAMETERS = tuple(f.name for f in fields(AstrocyteParameters))


class AstrocytePopulation(Group):
    """``n`` Li-Rinzel astrocytes (NEST ``astrocyte_lr_1994``); see the module docstring.

    Args:
        n: number of astrocytes.
        params: :class:`neuro.astro.AstrocyteParameters` (default: NEST's defaults).
        IP3, Ca_astro, h_IP3R: initial state (uM, uM, fraction; NEST's 0.16, 0.073, 0.793):
            scalars, arrays, distributions or callables.
        positions, grid: coordinates for distance-dependent connectivity.
        name: label used in errors and monitors.
        **nest_params: NEST parameters overriding ``params`` (``delta_IP3=0.2``, ``SIC_th=...``),
            scalars or one value per astrocyte.
    """

    variables = tuple(ASTROCYTE_RECORDABLES)  # what a StateMonitor can record

    def __init__(self, n: int, params: AstrocyteParameters | None = None, *,
                 IP3: ValueSpec = INITIAL_IP3, Ca_astro: ValueSpec = INITIAL_CA,
                 h_IP3R: ValueSpec = INITIAL_H, positions: np.ndarray | None = None,
                 grid: Sequence[int] | None = None, name: str | None = None, **nest_params):
        self.n = _check_count(n, "AstrocytePopulation size n")
        self.name = name or f"astrocytes{id(self) % 10000}"
        if params is None:
            params = AstrocyteParameters()
        if not isinstance(params, AstrocyteParameters):
            raise TypeError(f"params must be neuro.astro.AstrocyteParameters, got {type(params).__name__}")
        unknown = sorted(set(nest_params) - set(NEST_PARAMETERS))
        if unknown:
            raise TypeError(f"{self.name}: unknown astrocyte parameter(s) {unknown}; NEST's "
                            f"astrocyte_lr_1994 has {list(NEST_PARAMETERS)}")
        self.params = params.replace(**nest_params) if nest_params else params  # validates ranges
        self.params.table(self.n)  # per-astrocyte arrays must have length n
        self.initial = {"IP3": IP3, "Ca_astro": Ca_astro, "h_IP3R": h_IP3R}
        if not any(callable(v) or hasattr(v, "sample") for v in self.initial.values()):
            self.initial_state(1.0)  # fixed values are checked now, random ones when drawn
        self.positions = element_positions(self.n, positions, grid)

    def initial_state(self, dt_ms: float, rng: np.random.Generator | None = None) -> np.ndarray:
        """The kernels' ``[astrocyte_math.N_STATE, n]`` initial state table (validated)."""
        values = [resolve(v, self.n, f"{self.name}.{k}", rng) for k, v in self.initial.items()]
        return astrocyte_initial_state(self.n, dt_ms, *values).table()
