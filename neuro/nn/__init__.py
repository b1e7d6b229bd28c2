"""Modules owning parameters; every module follows ``forward(x, state=None) -> (out, state)``."""

from neuro.nn.containers import Sequential, TimeDistributed, detach_states
from neuro.nn.neurons import (ALIF, IF, LI, LIF, ALIFCell, CubaLI, CubaLICell, CubaLIF, CubaLIFCell,
                              IFCell, LICell, LIFCell, SpikingModule)

__all__ = ["ALIF", "IF", "LI", "LIF", "ALIFCell", "CubaLI", "CubaLICell", "CubaLIF", "CubaLIFCell",
           "IFCell", "LICell", "LIFCell", "Sequential", "SpikingModule", "TimeDistributed",
           "detach_states"]
from neuro.nn.astro import AMSU, AMSUState, CubaAMSU, CubaAMSUState  # noqa: E402

__all__ += ["AMSU", "AMSUState", "CubaAMSU", "CubaAMSUState"]
