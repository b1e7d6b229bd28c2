r"""Standard networks, ready to run.

:func:`cuba` — the CUBA benchmark network of Vogels & Abbott (2005) as in Brian2's documentation
example ``CUBA`` (and Brette et al. 2007, benchmark 2), with Brian2's exact parameters::

    dv/dt  = (ge + gi - (v - El)) / taum   (unless refractory)     taum = 20 ms, El = -49 mV
    dge/dt = -ge / taue,  dgi/dt = -gi / taui                      taue = 5 ms, taui = 10 ms
    spike when v > Vt = -50 mV, then v = Vr = -60 mV, refractory 5 ms, method 'exact'
    v(0) = Vr + rand() * (Vt - Vr);  4000 neurons, the first 3200 excitatory:
    on_pre 'ge += we' (we = 60 * 0.27 / 10 mV) from i < 3200, 'gi += wi' (wi = -20 * 4.5 / 10 mV)
    from i >= 3200, each pair connected with p = 0.02; dt = 0.1 ms.

In neuro ``ge`` and ``gi`` are the channels ``exc`` and ``inh`` of one LIF population with
``r = 1`` (they are voltages), so the membrane input is ``ge + gi`` exactly as in Brian2.

:func:`coba` — the conductance-based benchmark of Brette et al. (2007) (benchmark 1, COBA) as the
Brian team scripts it for Brian2 (conductances in units of the leak conductance)::

    dv/dt  = (ge (Ee - v) + gi (Ei - v) - (v - El) + I) / taum   (unless refractory)
    dge/dt = -ge / taue,  dgi/dt = -gi / taui      taum = 20 ms, taue = 5 ms, taui = 10 ms
    El = -60 mV, Ee = 0 mV, Ei = -80 mV, I = 20 mV; spike when v > Vt = -50 mV, then v = Vr = -60 mV,
    refractory 5 ms; v(0) = -55 mV + 5 mV * randn();  4000 neurons, the first 3200 excitatory:
    'ge += we' (we = 0.6) from i < 3200, 'gi += wi' (wi = 6.7) from i >= 3200, p = 0.02; dt = 0.1 ms.

In neuro ``ge`` and ``gi`` are :class:`~neuro.sim.groups.Conductance` channels with ``r = 1`` and
``I`` the bias; the conductance current is held over each step (first order, see
:mod:`neuro.sim.groups`), as Brian2's ``method='euler'`` of that script is first order.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from neuro.sim.connectivity import FixedInDegree, FixedProbability
from neuro.sim.groups import Conductance, Population
from neuro.sim.monitors import RateMonitor, SpikeMonitor
from neuro.sim.network import Network
from neuro.sim.projections import Projection
from neuro.sim.values import Normal, Uniform

mV, ms = 1e-3, 1e-3
CUBA = dict(taum=20 * ms, taue=5 * ms, taui=10 * ms, Vt=-50 * mV, Vr=-60 * mV, El=-49 * mV,
            refractory=5 * ms, we=60 * 0.27 / 10 * mV, wi=-20 * 4.5 / 10 * mV, p=0.02, dt=0.1 * ms)


class CubaNetwork(NamedTuple):
    net: Network
    population: Population
    spikes: SpikeMonitor
    rate: RateMonitor


def cuba(n: int = 4000, p: float | None = 0.02, in_degree: int | None = None, seed: int = 1,
         dtype: torch.dtype = torch.float32, device: str = "cpu", backend: str = "auto",
         record_spikes: bool = True) -> CubaNetwork:
    """The CUBA network with ``n`` neurons (80 % excitatory).

    Connectivity: each pair with probability ``p`` (Brian2's example), or, when ``in_degree`` is
    given, every neuron receives exactly ``in_degree`` synapses (80 % from excitatory neurons) —
    the way to grow the network at constant input per neuron (the 4x benchmark).
    """
    c = CUBA
    net = Network(dt=c["dt"], seed=seed, dtype=dtype, device=device, backend=backend)
    pop = net.add(Population(n, "LIF", tau_mem=c["taum"], v_th=c["Vt"], v_reset=c["Vr"], v_leak=c["El"],
                             r=1.0, integration="exact", decay_input=True, reset="zero",
                             threshold_op=">", refractory=c["refractory"],
                             synapses={"exc": c["taue"], "inh": c["taui"]},
                             v_init=Uniform(c["Vr"], c["Vt"]), name="cuba"))
    n_exc = n * 4 // 5
    exc, inh = pop[:n_exc], pop[n_exc:]
    if in_degree is None:
        conn_e = conn_i = FixedProbability(p if p is not None else c["p"])
    else:
        k_e = round(in_degree * 0.8)
        conn_e, conn_i = FixedInDegree(k_e), FixedInDegree(in_degree - k_e)
    net.add(Projection(exc, pop, conn_e, weight=c["we"], target="exc", name="exc"))
    net.add(Projection(inh, pop, conn_i, weight=c["wi"], target="inh", name="inh"))
    spikes = net.add(SpikeMonitor(pop)) if record_spikes else None
    rate = net.add(RateMonitor(pop))
    return CubaNetwork(net, pop, spikes, rate)


COBA = dict(taum=20 * ms, taue=5 * ms, taui=10 * ms, Vt=-50 * mV, Vr=-60 * mV, El=-60 * mV, Ee=0 * mV,
            Ei=-80 * mV, I=20 * mV, refractory=5 * ms, we=0.6, wi=6.7, p=0.02, dt=0.1 * ms)


def coba(n: int = 4000, p: float = 0.02, seed: int = 1, dtype: torch.dtype = torch.float32,
         backend: str = "auto", record_spikes: bool = True) -> CubaNetwork:
    """The COBA network with ``n`` neurons (80 % excitatory), each pair connected with ``p``."""
    c = COBA
    net = Network(dt=c["dt"], seed=seed, dtype=dtype, backend=backend)
    pop = net.add(Population(n, "LIF", tau_mem=c["taum"], v_th=c["Vt"], v_reset=c["Vr"], v_leak=c["El"],
                             r=1.0, bias=c["I"], threshold_op=">", refractory=c["refractory"],
                             synapses={"exc": Conductance(c["taue"], E=c["Ee"]),
                                       "inh": Conductance(c["taui"], E=c["Ei"])},
                             v_init=Normal(-55 * mV, 5 * mV), name="coba"))
    n_exc = n * 4 // 5
    net.add(Projection(pop[:n_exc], pop, FixedProbability(p), weight=c["we"], target="exc", name="exc"))
    net.add(Projection(pop[n_exc:], pop, FixedProbability(p), weight=c["wi"], target="inh", name="inh"))
    spikes = net.add(SpikeMonitor(pop)) if record_spikes else None
    rate = net.add(RateMonitor(pop))
    return CubaNetwork(net, pop, spikes, rate)
