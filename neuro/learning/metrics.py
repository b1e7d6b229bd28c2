r"""Scores of a continual-learning run, from its accuracy matrix.

:math:`A_{k,i}` is the test accuracy on task :math:`i` after training task :math:`k` (row ``k`` of
the ``[N, N]`` matrix, NaN above the diagonal while the run is unfinished). With :math:`N` tasks
(GPM's convention):

.. math::

    \mathrm{ACC} = \frac1N \sum_{i<N} A_{N-1,i}, \qquad
    \mathrm{BWT} = \frac{1}{N-1} \sum_{i<N-1} (A_{N-1,i} - A_{i,i}).

ACC is the mean final accuracy; BWT (backward transfer) the mean change of each earlier task's
accuracy since it was learned (negative: forgetting). BWT of a single task is 0.
"""

from __future__ import annotations

import torch


def acc_bwt(matrix: torch.Tensor) -> tuple[float, float]:
    """ACC and BWT (fractions) of a complete ``[N, N]`` accuracy matrix (module docstring)."""
    n = matrix.shape[0]
    final = matrix[n - 1]
    acc = float(final.mean())
    bwt = float((final[: n - 1] - torch.diagonal(matrix)[: n - 1]).mean()) if n > 1 else 0.0
    return acc, bwt
