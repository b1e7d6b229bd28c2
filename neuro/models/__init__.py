"""Composed networks: classifiers, LSM reservoirs (``neuro.models.lsm``), contrastive heads, the
SNN-delays recipe (``neuro.models.delay_snn``), homeostatic need-driven learners
(``neuro.models.homeostatic``)."""

from neuro.models.classifiers import conv_snn, dense_snn

__all__ = ["conv_snn", "dense_snn"]
