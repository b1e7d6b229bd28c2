"""neuro's versions of NEST 3.10's astrocyte examples, driven by a fixed input spike train.

* :func:`single_astrocyte` — ``astrocyte_single``: spikes (weight 1.0, delay 1 ms after the
  recorded parrot spikes) into astrocytes that differ only in ``delta_IP3``.
* :func:`astrocyte_interaction` — ``astrocyte_interaction`` (formerly ``tripartite``): input ->
  pre neuron; pre -> post (1 nS), pre -> astrocyte, astrocyte -> post (SIC), all delays 1 ms;
  neurons ``aeif_cond_alpha_astro`` with ``tau_syn_ex = 2 ms``, astrocyte ``delta_IP3 = 0.2 uM``.

Both record every ``record_interval`` ms like NEST's multimeter (first sample at ``t = interval``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neuro.astro.network import TripartiteNetwork, TripartiteResult
from neuro.astro.parameters import AeifAstroParameters, AstrocyteParameters


def single_astrocyte(arrival_times_ms: np.ndarray, delta_IP3: Sequence[float] = (0.0002, 0.2),
                     duration_ms: float = 10_000.0, dt: float = 0.1, record_interval: float = 1.0,
                     weight: float = 1.0, backend: str = "numba") -> TripartiteResult:
    """One astrocyte per ``delta_IP3`` value, all receiving the same spikes (arrival times, ms)."""
    params = AstrocyteParameters(delta_IP3=np.asarray(delta_IP3, np.float64))
    net = TripartiteNetwork(0, len(delta_IP3), astrocyte_params=params, dt=dt, backend=backend)
    for a in range(len(delta_IP3)):
        net.add_spike_input(arrival_times_ms, target=a, weight=weight, kind="astrocyte")
    return net.run(duration_ms, record_interval, record_neurons=(),
                   record_astrocytes=("IP3", "Ca_astro", "h_IP3R", "SIC"))


def astrocyte_interaction(input_arrival_ms: np.ndarray, duration_ms: float = 10_000.0,
                          dt: float = 0.1, record_interval: float = 1.0,
                          neuron_params: AeifAstroParameters = AeifAstroParameters(tau_syn_ex=2.0),
                          astrocyte_params: AstrocyteParameters = AstrocyteParameters(delta_IP3=0.2),
                          backend: str = "numba", progress: bool = False) -> TripartiteResult:
    """Neurons 0 (pre) and 1 (post), astrocyte 0; ``input_arrival_ms`` are the arrival times of
    the external spikes at the pre neuron (weight 1 nS)."""
    net = TripartiteNetwork(2, 1, neuron_params, astrocyte_params, dt=dt, backend=backend)
    net.add_spike_input(input_arrival_ms, target=0, weight=1.0)
    net.connect_neurons([0], [1], weight=1.0, delay=1.0)
    net.connect_neuron_astrocyte([0], [0], weight=1.0, delay=1.0)
    net.connect_sic([0], [1], weight=1.0, delay=1.0)
    return net.run(duration_ms, record_interval, record_neurons=("V_m", "w", "g_ex", "I_SIC"),
                   record_astrocytes=("IP3", "Ca_astro", "h_IP3R", "SIC"), progress=progress)
