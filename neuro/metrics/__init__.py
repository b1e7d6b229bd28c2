"""Metrics of spiking classifiers and activity (time-major ``[T, B, ...]``, ``lengths`` masks).

* :func:`predict` — class predictions from output spikes or membranes by a readout: ``"count"``
  (``"rate"``: the same argmax), ``"max"``, ``"last"``, ``"mean"``, ``"sum_softmax"``
  (:func:`neuro.losses.readout_logits`) or ``"first_spike"`` (the earliest first spike; ties go to
  the lower index, as snnTorch's ``accuracy_temporal``);
* :func:`accuracy` — fraction of correct predictions (snnTorch's ``accuracy_rate`` is
  ``readout="count"``); :func:`confusion_matrix`;
* :func:`firing_rates` — mean spikes per step (or per second with ``dt``) of each neuron.
"""

from neuro.metrics.classification import accuracy, confusion_matrix, firing_rates, predict

__all__ = ["accuracy", "confusion_matrix", "firing_rates", "predict"]
