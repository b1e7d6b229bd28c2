"""Classification losses of the trainer: re-exported from :mod:`neuro.losses.readout`, where they
live with the other spike losses (:mod:`neuro.losses`)."""

from neuro.losses.readout import LOSSES, READOUT_OF_LOSS, classification_loss, readout_logits

__all__ = ["LOSSES", "READOUT_OF_LOSS", "classification_loss", "readout_logits"]
