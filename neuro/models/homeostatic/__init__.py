"""Homeostatic networks: need-driven plasticity that adapts to concept shift (Man, Damasio & Neven
2022, "Need is all you need"), for ANNs and the engine's spiking networks.

Reusable pieces:

* :mod:`~neuro.models.homeostatic.variables` — the *regulated variable* protocol (``name``,
  ``bounds``, ``get``, ``set``) and its implementations: an optimiser's learning rate, an engine
  neuron's parameter (ALIF ``tau_adapt`` / ``beta_adapt``), any attribute or get/set pair;
* :mod:`~neuro.models.homeostatic.need` — :class:`Need` (stimulus -> signed drive) and
  :class:`Regulator` (moves a variable by ``drive * step`` inside ``[floor, ceiling]``);
* :mod:`~neuro.models.homeostatic.decision` — the look-ahead ingest-or-reject decision on a
  replay buffer, the random / always controls and a drift-triggered learning-rate baseline;
* :mod:`~neuro.models.homeostatic.stream` — label-swap concept-shift streams with constant,
  per-epoch, piecewise (second-order) and seasonal schedules, deterministic by seed;
* :mod:`~neuro.models.homeostatic.models` — the paper's ELU MLP and its LIF/ALIF spiking version;
* :mod:`~neuro.models.homeostatic.runner` — :func:`run_stream`, one learner on one stream;
  :mod:`~neuro.models.homeostatic.analysis` — paired differences with confidence intervals and plots.

Command line: ``neuro homeostatic``; evidence: ``benchmarks/homeostatic_shift.py``.
"""

from neuro.models.homeostatic.config import METHODS, StreamConfig
from neuro.models.homeostatic.data import ArraySet, digits_events_set, digits_set
from neuro.models.homeostatic.decision import (
                                               AlwaysPolicy,
                                               DriftTriggered,
                                               HomeostaticPolicy,
                                               LookAhead,
                                               Opportunity,
                                               RandomPolicy,
                                               ReplayBuffer,
)
from neuro.models.homeostatic.models import HomeostaticMLP, HomeostaticSNN
from neuro.models.homeostatic.need import Need, Regulator
from neuro.models.homeostatic.runner import StreamResult, StreamRun, build_model, run_stream
from neuro.models.homeostatic.stream import (
                                               ConceptShiftStream,
                                               Every,
                                               Never,
                                               PerEpoch,
                                               Piecewise,
                                               Schedule,
                                               Seasonal,
                                               Swap,
                                               make_schedule,
)
from neuro.models.homeostatic.variables import (
                                               AttributeVariable,
                                               CallbackVariable,
                                               LearningRate,
                                               NeuronParameter,
                                               RegulatedVariable,
                                               temporarily,
)

__all__ = ["METHODS", "AlwaysPolicy", "ArraySet", "AttributeVariable", "CallbackVariable",
           "ConceptShiftStream", "DriftTriggered", "Every", "HomeostaticMLP", "HomeostaticPolicy",
           "HomeostaticSNN", "LearningRate", "LookAhead", "Need", "Never", "NeuronParameter", "Opportunity",
           "PerEpoch", "Piecewise", "RandomPolicy", "RegulatedVariable", "Regulator", "ReplayBuffer",
           "Schedule", "Seasonal", "StreamConfig", "StreamResult", "StreamRun", "Swap", "build_model",
           "digits_events_set", "digits_set", "make_schedule", "run_stream", "temporarily"]
