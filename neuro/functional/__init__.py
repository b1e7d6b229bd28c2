"""Stateless functions: one step (``*_step``) or a whole sequence (``*_scan``) of each model."""

from neuro.functional.lif import (ALIF, CUBA_LI, CUBA_LIF, IF, LI, LIF, ALIFState, CubaLIFState,
                                  CubaLIState, LIFState, LIState, NeuronModel, NeuronParameters,
                                  coefficients, initial_state, make_config, neuron_scan, neuron_step)

__all__ = ["ALIF", "CUBA_LI", "CUBA_LIF", "IF", "LI", "LIF", "ALIFState", "CubaLIFState", "CubaLIState",
           "LIFState", "LIState", "NeuronModel", "NeuronParameters", "coefficients", "initial_state",
           "make_config", "neuron_scan", "neuron_step"]
