"""Training: ``train(TrainConfig(...), run_dir)``, models and losses by name, checkpoints.

* :func:`train` / :class:`TrainConfig` — the loop (tqdm progress, metrics, atomic checkpoints,
  exact resume, DDP under torchrun); :func:`evaluate`.
* :data:`MODELS` / :func:`build_model` — models by name; :func:`load_model` rebuilds a trained
  model from a checkpoint (``torch.load(..., weights_only=True)`` compatible).
* :data:`LOSSES` / :func:`classification_loss` — cross-entropy on spike counts or on the max / last
  / mean membrane of an LI readout.
* :class:`TrainingInterrupted` (Ctrl-C / SIGTERM: resumable checkpoint of the exact position),
  :class:`DeadNetworkWarning` (:mod:`neuro.train.health`), :class:`CheckpointError`.
"""

from neuro.train.checkpoint import CheckpointError, load_checkpoint, load_model
from neuro.train.config import TrainConfig
from neuro.train.health import DeadNetworkWarning
from neuro.train.interrupts import TrainingInterrupted
from neuro.train.losses import LOSSES, classification_loss, readout_logits
from neuro.train.models import MODELS, RECIPES, build_model, model_names
from neuro.train.trainer import ConfigMismatch, TrainingDiverged, TrainResult, evaluate, train

__all__ = ["LOSSES", "MODELS", "RECIPES", "CheckpointError", "ConfigMismatch", "DeadNetworkWarning",
           "TrainConfig", "TrainResult", "TrainingDiverged", "TrainingInterrupted", "build_model",
           "classification_loss", "evaluate", "load_checkpoint", "load_model", "model_names",
           "readout_logits", "train"]
