"""Network simulation on the neuron engine: populations, sparse projections, inputs, monitors.

``net.run(seconds)`` advances the whole network inside compiled kernels (Numba on CPU, numba.cuda
on GPU) with event-driven propagation of spikes; see :mod:`neuro.sim.network` for an example.
Astrocytes (NEST's Li-Rinzel ``astrocyte_lr_1994``) step inside the same loop
(:mod:`neuro.sim.astrocytes`). Weights are readable and writable between runs (``proj.weights``,
``proj.set_weights``) and :class:`WeightMonitor` records them; :func:`to_nest` exports a network to
NEST 3 (:mod:`neuro.sim.nest_export`) for runs that outgrow one machine. Plasticity
(``Projection(..., plasticity=STDP(...))``, :mod:`neuro.sim.plasticity`: pair and triplet STDP,
reward-modulated STDP with a :class:`Neuromodulator`, Vogels inhibitory plasticity, Tsodyks–Markram
short-term plasticity): every rule runs on all three backends: the compiled CPU kernel (``"numba"``), the
CUDA event kernel (``"cuda"``) and the torch reference (``"torch"``).
Beyond the LIF family: ``Population(n, "AdEx" | "Izhikevich" | any NeuronSpec, params=...)``
(:class:`SpecPopulation`) and conductance channels (``synapses={"exc": Conductance(5e-3, E=0.0)}``)
also run on all three backends. Diehl & Cook's adaptive threshold:
``Population(n, "LIF", adaptive_threshold=AdaptiveThreshold(theta_plus=0.05e-3, tau_theta=1e4))``.
"""

from neuro.sim.astrocytes import AstrocytePopulation
from neuro.sim.connectivity import (
                                    AllToAll,
                                    Connector,
                                    DistanceProbability,
                                    FixedInDegree,
                                    FixedProbability,
                                    FromList,
)
from neuro.sim.groups import (
                                    AdaptiveThreshold,
                                    Conductance,
                                    CurrentInput,
                                    PoissonInput,
                                    Population,
                                    SpecPopulation,
                                    SpikeSource,
                                    View,
                                    events_to_spikes,
                                    grid_positions,
)
from neuro.sim.monitors import RateMonitor, SpikeMonitor, StateMonitor, WeightMonitor
from neuro.sim.nest_export import to_nest
from neuro.sim.nest_results import NestNetwork
from neuro.sim.network import Network
from neuro.sim.plasticity import (
                                    STDP,
                                    InhibitorySTDP,
                                    Neuromodulator,
                                    PlasticityRule,
                                    RewardSTDP,
                                    TripletSTDP,
                                    TsodyksMarkram,
)
from neuro.sim.projections import Projection
from neuro.sim.values import Normal, Uniform

__all__ = ["AdaptiveThreshold", "AllToAll", "AstrocytePopulation", "Conductance", "Connector", "CurrentInput",
           "DistanceProbability", "FixedInDegree", "FixedProbability", "FromList", "InhibitorySTDP",
           "NestNetwork", "Network", "Neuromodulator", "Normal", "PlasticityRule", "PoissonInput",
           "Population", "Projection", "RateMonitor", "RewardSTDP", "STDP", "SpecPopulation", "SpikeMonitor",
           "SpikeSource", "StateMonitor", "TripletSTDP", "TsodyksMarkram", "Uniform", "View", "WeightMonitor",
           "events_to_spikes", "grid_positions", "to_nest"]
