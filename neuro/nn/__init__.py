"""Modules owning parameters; every module follows ``forward(x, state=None) -> (out, state)``."""

from neuro.nn.containers import Sequential, TimeDistributed, detach_states
from neuro.nn.neurons import (ALIF, IF, LI, LIF, ALIFCell, CubaLI, CubaLICell, CubaLIF, CubaLIFCell,
                              IFCell, LICell, LIFCell, SpikingModule)

__all__ = ["ALIF", "IF", "LI", "LIF", "ALIFCell", "CubaLI", "CubaLICell", "CubaLIF", "CubaLIFCell",
           "IFCell", "LICell", "LIFCell", "Sequential", "SpikingModule", "TimeDistributed",
           "detach_states"]

from neuro.nn.delay import DelayLinear, FixedDelay  # noqa: E402

__all__ += ["DelayLinear", "FixedDelay"]
