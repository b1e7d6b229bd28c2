"""Losses and regularisers for spiking networks (time-major ``[T, B, ...]``, ``lengths`` masks).

* readouts (:mod:`neuro.losses.readout`, used by :mod:`neuro.train`): :func:`readout_logits`,
  :func:`classification_loss` with ``count``, ``max``, ``last``, ``mean``, ``sum_softmax``;
* spike and membrane losses (:mod:`neuro.losses.spikes`): :func:`ce_count_loss`,
  :func:`ce_rate_loss`, :func:`ce_membrane_loss`, :func:`mse_count_loss`,
  :func:`mse_membrane_loss`;
* first-spike losses (:mod:`neuro.losses.temporal`): :func:`first_spike_times`,
  :func:`ce_temporal_loss`, :func:`mse_temporal_loss`;
* activity regularisers (:mod:`neuro.losses.regularizers`): :func:`rate_l1`, :func:`rate_l2`,
  :func:`count_lower_bound`, :func:`count_upper_bound`.

Accuracy and other metrics: :mod:`neuro.metrics`.
"""

from neuro.losses.readout import (
                                  LOSSES,
                                  READOUT_OF_LOSS,
                                  classification_loss,
                                  group_classes,
                                  readout_logits,
                                  step_mask,
)
from neuro.losses.regularizers import count_lower_bound, count_upper_bound, rate_l1, rate_l2
from neuro.losses.spikes import (
                                  ce_count_loss,
                                  ce_membrane_loss,
                                  ce_rate_loss,
                                  mse_count_loss,
                                  mse_membrane_loss,
                                  spike_counts,
)
from neuro.losses.temporal import ce_temporal_loss, first_spike_times, mse_temporal_loss

__all__ = ["LOSSES", "READOUT_OF_LOSS", "classification_loss", "group_classes", "readout_logits",
           "step_mask", "count_lower_bound", "count_upper_bound", "rate_l1", "rate_l2",
           "ce_count_loss", "ce_membrane_loss", "ce_rate_loss", "mse_count_loss", "mse_membrane_loss",
           "spike_counts", "ce_temporal_loss", "first_spike_times", "mse_temporal_loss"]
