"""Sparse distributed representations (SDRs) and the theory of matching them with dendrites.

* :class:`SDR` — one SDR with htm.core's three lazily converted views (dense, sparse, coordinates),
  overlap, :func:`union`, :func:`intersection`, :func:`concatenate`, reshape, ``add_noise`` and
  ``randomize`` (:mod:`neuro.sdr.sdr`); :class:`SDRBatch` — many SDRs as one torch tensor
  (:mod:`neuro.sdr.batch`); :class:`Sparsity`, :class:`ActivationFrequency` (with entropy),
  :class:`Overlap` — running metrics (:mod:`neuro.sdr.metrics`).
* Exact probabilities (Ahmad & Hawkins 2015, 2016; :mod:`neuro.sdr.theory`): false match of a
  segment :func:`p_false_match`, unions of stored patterns (:func:`p_false_match_union`, the
  paper's estimate, and :func:`p_false_match_union_exact`), a set of stored vectors
  (:func:`p_match_any`, :func:`union_bound`), false negatives under noise
  (:func:`p_false_negative`) — integer arithmetic, correctly rounded floats.
* Monte-Carlo estimates of the same quantities from real patterns and segments on Numba kernels
  or torch (:mod:`neuro.sdr.montecarlo`): :func:`simulate_false_match`,
  :func:`simulate_false_negative`, :func:`simulate_match_any`.
* ``python -m neuro.sdr.figures --out DIR`` redraws the paper's figures (:mod:`neuro.sdr.figures`).
"""

from neuro.sdr.batch import SDRBatch
from neuro.sdr.metrics import ActivationFrequency, Overlap, Sparsity
from neuro.sdr.montecarlo import Estimate, simulate_false_match, simulate_false_negative, simulate_match_any
from neuro.sdr.sdr import SDR, concatenate, intersection, union
from neuro.sdr.theory import (
                                  expected_union_size,
                                  false_match_medians,
                                  log10_p_false_match,
                                  log10_p_false_negative,
                                  overlap_tail,
                                  p_false_match,
                                  p_false_match_lgamma,
                                  p_false_match_union,
                                  p_false_match_union_exact,
                                  p_false_negative,
                                  p_match_any,
                                  union_bound,
                                  union_size_distribution,
)

__all__ = ["SDR", "ActivationFrequency", "Estimate", "Overlap", "SDRBatch", "Sparsity",
           "concatenate", "expected_union_size", "false_match_medians", "intersection",
           "log10_p_false_match", "log10_p_false_negative", "overlap_tail", "p_false_match",
           "p_false_match_lgamma", "p_false_match_union", "p_false_match_union_exact",
           "p_false_negative", "p_match_any", "simulate_false_match", "simulate_false_negative",
           "simulate_match_any", "union", "union_bound", "union_size_distribution"]
