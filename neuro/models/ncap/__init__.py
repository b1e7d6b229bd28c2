"""NCAP: the C. elegans-inspired swimmer circuit (Bhattasali, Zador, Engel 2022) on the engine.

* :mod:`.circuit` — :class:`SwimmerCircuit`, graded neurons and sign-constrained synapses
  (:mod:`neuro.nn.graded`), time-major with an explicit state (the oscillator's step count).
* :mod:`.policies` — the circuit as a policy, the MLP baseline, zero / random torques.
* :mod:`.tasks` — the ``swim`` and ``navigate`` tasks on dm_control's swimmer (extra ``swimmer``).
* :mod:`.env` — batched swimmers, closed-loop rollouts, a Gymnasium-style wrapper.
* :mod:`.es` — evolution strategies (antithetic, parallel, seeded, resumable).
* :mod:`.analysis` — travelling-wave lag by cross-correlation, oscillation period.
* :mod:`.transfer` — a circuit trained on one body length run on others.
* :mod:`.render` — strips of the swimmer (MuJoCo offscreen, else matplotlib) and joint traces.

Only :mod:`.tasks` (and what uses it at run time) needs dm-control; importing this package does not.
"""

from neuro.models.ncap.circuit import CircuitActivity, CircuitState, SwimmerCircuit, oscillator
from neuro.models.ncap.policies import (
    MLPPolicy,
    NCAPPolicy,
    RandomPolicy,
    ZeroPolicy,
    build_policy,
    observation_size,
    parameter_count,
)

__all__ = ["CircuitActivity", "CircuitState", "MLPPolicy", "NCAPPolicy", "RandomPolicy", "SwimmerCircuit",
           "ZeroPolicy", "build_policy", "observation_size", "oscillator", "parameter_count"]
