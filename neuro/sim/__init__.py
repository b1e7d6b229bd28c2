"""Network simulation on the neuron engine: populations, sparse projections, inputs, monitors.

``net.run(seconds)`` advances the whole network inside compiled kernels (Numba on CPU, numba.cuda
on GPU) with event-driven propagation of spikes; see :mod:`neuro.sim.network` for an example.
Astrocytes (NEST's Li-Rinzel ``astrocyte_lr_1994``) step inside the same loop
(:mod:`neuro.sim.astrocytes`).
"""

from neuro.sim.astrocytes import AstrocytePopulation
from neuro.sim.connectivity import (AllToAll, Connector, DistanceProbability, FixedInDegree,
                                    FixedProbability, FromList)
from neuro.sim.groups import (CurrentInput, PoissonInput, Population, SpikeSource, View,
                              events_to_spikes, grid_positions)
from neuro.sim.monitors import RateMonitor, SpikeMonitor, StateMonitor
from neuro.sim.network import Network
from neuro.sim.projections import Projection
from neuro.sim.values import Normal, Uniform

__all__ = ["AllToAll", "AstrocytePopulation", "Connector", "CurrentInput", "DistanceProbability",
           "FixedInDegree",
           "FixedProbability", "FromList", "Network", "Normal", "PoissonInput", "Population",
           "Projection", "RateMonitor", "SpikeMonitor", "SpikeSource", "StateMonitor", "Uniform",
           "View", "events_to_spikes", "grid_positions"]
