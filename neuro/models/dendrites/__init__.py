"""Active Dendrites Networks (Iyer et al., 2022): context-gated sparse layers for continual learning.

* :class:`DendriticLayer` — masked sparse feed-forward weights, ``S`` dendritic segments per unit
  driven by a context vector, segment selection ``bias`` / ``max_gate`` / ``abs_max_gate``, the
  sparse-aware Kaiming-uniform initialisation; :class:`KWinners` — k-winners-take-all
  (:mod:`neuro.models.dendrites.layer`).
* :class:`DendriticMLP` (non-spiking) and :class:`SpikingDendriticMLP` (the gate modulating the
  input current of the engine's LIF neurons, time-major, surrogate gradients)
  (:mod:`neuro.models.dendrites.networks`).
* :class:`PrototypeNetwork` / :class:`PrototypeContext` — the context of a task is the mean of its
  training inputs; at inference the nearest stored prototype (:mod:`neuro.models.dendrites.context`).

The continual-learning runner trains them as ``neuro continual --method dendrites``; the SDR theory
behind dendritic segments is :mod:`neuro.sdr`.
"""

from neuro.models.dendrites.context import PrototypeContext, PrototypeNetwork, mean_input, standardize
from neuro.models.dendrites.layer import (
                                          MODES,
                                          DendriticLayer,
                                          KWinners,
                                          modulate,
                                          random_mask,
                                          select_segment,
                                          sparse_uniform_bound,
)
from neuro.models.dendrites.networks import DendriticMLP, SpikingDendriticLayer, SpikingDendriticMLP

__all__ = ["MODES", "DendriticLayer", "DendriticMLP", "KWinners", "PrototypeContext",
           "PrototypeNetwork", "SpikingDendriticLayer", "SpikingDendriticMLP", "mean_input",
           "modulate", "random_mask", "select_segment", "sparse_uniform_bound", "standardize"]
