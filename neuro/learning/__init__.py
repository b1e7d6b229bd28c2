"""Continual learning: HLOP (Hebbian lateral subspaces + orthogonal projection) and baselines.

* :class:`HLOP` / :class:`HebbianSubspace` — the lateral Hebbian circuits (Oja's subspace rule,
  inner iterations, momentum, clamping, frozen + new rows per task) and the projection of weight
  updates of Linear/Conv2d layers (:mod:`neuro.learning.hlop`, :mod:`neuro.learning.hlop_rule`);
  :class:`SpikingLateralCircuit` — the lateral circuit as integrate-and-fire neurons.
* :class:`GPM` (SVD bases), :class:`EWC` — baselines; :class:`EligibilityTraces` — online
  trace-based training (OTTT-style) that composes with the projection.
* :func:`run_continual` / :class:`ContinualConfig` — permuted-task runner with the accuracy
  matrix, checkpoints and plots (:mod:`neuro.learning.continual`, built from
  :mod:`~neuro.learning.config`, :mod:`~neuro.learning.models`, :mod:`~neuro.learning.runner`,
  :mod:`~neuro.learning.resume`); :func:`acc_bwt` — ACC and BWT (:mod:`neuro.learning.metrics`).
"""

from neuro.learning.config import ContinualConfig
from neuro.learning.continual import ContinualResult, run_continual
from neuro.learning.ewc import EWC
from neuro.learning.gpm import GPM, grow_basis
from neuro.learning.hlop import HLOP
from neuro.learning.hlop_rule import HebbianSubspace, quantize_rate, subspace_angles, weighted_rate
from neuro.learning.lateral import SpikingLateralCircuit
from neuro.learning.metrics import acc_bwt
from neuro.learning.models import lif_mlp
from neuro.learning.online import EligibilityTraces
from neuro.learning.projection import SubspaceProjection, project_rows

__all__ = ["EWC", "GPM", "HLOP", "ContinualConfig", "ContinualResult", "EligibilityTraces",
           "HebbianSubspace", "SpikingLateralCircuit", "SubspaceProjection", "acc_bwt",
           "grow_basis", "lif_mlp", "project_rows", "quantize_rate", "run_continual",
           "subspace_angles", "weighted_rate"]
