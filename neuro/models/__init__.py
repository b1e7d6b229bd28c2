"""Composed networks (classifiers, and later reservoirs, delay SNNs, ...)."""

from neuro.models.classifiers import conv_snn, dense_snn

__all__ = ["conv_snn", "dense_snn"]
