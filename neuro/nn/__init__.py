"""Modules owning parameters; every module follows ``forward(x, state=None) -> (out, state)``."""

from neuro.nn.adex import AdEx, ExpIF
from neuro.nn.alpha import AlphaLIF
from neuro.nn.astro import AMSU, AMSUState, CubaAMSU, CubaAMSUState
from neuro.nn.containers import Sequential, TimeDistributed, detach_states
from neuro.nn.custom import NeuronSpec, SpecNeuron
from neuro.nn.delay import DelayLinear, FixedDelay
from neuro.nn.dropout import SequenceDropout
from neuro.nn.elm import ELM, ELMCell
from neuro.nn.graded import Graded, SignedLinear, constrain_sign, excitatory, graded, inhibitory
from neuro.nn.graph import Graph, GraphState
from neuro.nn.izhikevich import Izhikevich
from neuro.nn.layers import Integrator, IntegratorState, Scale, SumPool2d, Threshold
from neuro.nn.neurons import (
                              ALIF,
                              IF,
                              LI,
                              LIF,
                              ALIFCell,
                              CubaLI,
                              CubaLICell,
                              CubaLIF,
                              CubaLIFCell,
                              IFCell,
                              LICell,
                              LIFCell,
                              NeuronBase,
                              SpikingModule,
)
from neuro.nn.norm import BatchNormThroughTime, StepBatchNorm, ThresholdBatchNorm
from neuro.nn.recurrent import Recurrent, RecurrentState
from neuro.nn.stateless import Stateless, reset_states

__all__ = ["ALIF", "IF", "LI", "LIF", "ALIFCell", "CubaLI", "CubaLICell", "CubaLIF", "CubaLIFCell",
           "IFCell", "LICell", "LIFCell", "NeuronBase", "Sequential", "SpikingModule", "TimeDistributed",
           "detach_states", "DelayLinear", "FixedDelay", "ELM", "ELMCell", "Graph", "GraphState",
           "Integrator", "IntegratorState", "Scale", "SumPool2d", "Threshold", "Recurrent",
           "RecurrentState", "AMSU", "AMSUState", "CubaAMSU", "CubaAMSUState",
           "Graded", "SignedLinear", "constrain_sign", "excitatory", "graded", "inhibitory",
           "SequenceDropout", "StepBatchNorm", "ThresholdBatchNorm", "BatchNormThroughTime",
           "Stateless", "reset_states",
           "AdEx", "AlphaLIF", "ExpIF", "Izhikevich", "NeuronSpec", "SpecNeuron"]
