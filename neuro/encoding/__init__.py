"""Spike encoders: turn data into time-major spike trains ``[T, B, ...]``.

=======================================  ===========================================================
function / module                        code
=======================================  ===========================================================
:func:`repeat`                           direct coding: the input at every step
:func:`rate`, :class:`RateEncoder`       Bernoulli / Poisson rate coding, gain, offset, signed,
                                         time-varying input, straight-through gradient
:func:`latency`, :func:`latency_times`,  time to first spike, logarithmic (RC) or linear,
:class:`LatencyEncoder`                  normalised, clipped
:func:`constant_current`,                a neuron driven by the input (first spike only if asked);
:func:`first_spike`                      keep the first spike of each neuron
:func:`delta`,                           spikes for changes: step differences or send-on-delta with
:func:`delta_modulation`,                a tracked reference; ON/OFF as signed spikes or two
:class:`DeltaEncoder`                    channels
:func:`population`,                      Gaussian receptive fields; deterministic, rate or latency
:func:`gaussian_fields`,                 spikes; learnable centres and widths
:class:`GaussianPopulation`
=======================================  ===========================================================

All are batched and time-major, seeded through a ``torch.Generator`` (functions) or a ``seed``
(modules), and match snnTorch's ``spikegen``, Norse's and SpikingJelly's encoders under the
parameter mappings given in each docstring (``tests/test_encoding*.py`` checks them).
"""

from neuro.encoding.delta import delta, delta_modulation
from neuro.encoding.latency import constant_current, first_spike, latency, latency_times
from neuro.encoding.modules import DeltaEncoder, LatencyEncoder, RateEncoder
from neuro.encoding.population import GaussianPopulation, gaussian_fields, population
from neuro.encoding.rate import rate, repeat

__all__ = ["repeat", "rate", "latency", "latency_times", "first_spike", "constant_current", "delta",
           "delta_modulation", "population", "gaussian_fields", "GaussianPopulation", "RateEncoder",
           "LatencyEncoder", "DeltaEncoder"]
