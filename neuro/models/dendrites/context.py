r"""Prototype contexts: task identity without task labels at inference (Iyer et al. 2022).

Before training task :math:`t`, its prototype :math:`p_t` is the mean of the task's training
inputs; while training task :math:`t` every sample gets the context :math:`p_t`. At inference each
sample gets the nearest stored prototype (Euclidean distance), :math:`\hat t = \arg\min_t
\lVert x - p_t \rVert`, so no task label is used.

The context fed to the dendrites is the prototype standardised over its features,
:math:`c_t = (p_t - \bar p_t) / \mathrm{std}(p_t)` (``standardize=True``, the default). The paper's
MNIST inputs are normalised by the dataset's mean and deviation, which makes its prototypes
zero-mean, so the prototypes of different permutations are nearly orthogonal. Raw non-negative
inputs (event counts, pixel intensities) give every prototype a large common component instead
(cosine about 0.6 between two permuted event-digit prototypes, -0.01 after standardising): the same
segments then win for every task and the tasks interfere (``benchmarks/results/dendrites``). For
the same reason the non-spiking network's input is standardised per sample (as
:func:`neuro.learning.models.ann_mlp`'s): a common positive component of every input lets units
trained on one task win the k-WTA competition on all the others.

:class:`PrototypeNetwork` wraps a :class:`~neuro.models.dendrites.DendriticMLP` or
:class:`~neuro.models.dendrites.SpikingDendriticMLP` behind the engine's interface
``forward(x [T, B, ...], state=None) -> (out, state)``: the prototype space is the input averaged
over time and flattened (the image itself for static inputs); the non-spiking network classifies
that average, standardised per sample, and returns ``[1, B, classes]``; the spiking one runs on
the whole sequence of spikes.
Segment activations are computed once per distinct context in a batch.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from neuro.nn import SpikingModule


class PrototypeContext(nn.Module):
    """Up to ``capacity`` prototype vectors of ``features`` entries, one per task."""

    def __init__(self, capacity: int, features: int, standardize: bool = True) -> None:
        super().__init__()
        self.standardize = bool(standardize)
        if capacity < 1 or features < 1:
            raise ValueError(f"capacity and features must be >= 1, got {capacity}, {features}")
        self.register_buffer("prototypes", torch.zeros(int(capacity), int(features)))
        self.register_buffer("known", torch.zeros(int(capacity), dtype=torch.bool))

    def set(self, task: int, prototype: torch.Tensor) -> None:
        """Store ``prototype [features]`` as task ``task``'s."""
        if not 0 <= task < self.prototypes.shape[0]:
            raise ValueError(f"task must be in [0, {self.prototypes.shape[0]}), got {task}")
        if prototype.shape != self.prototypes.shape[1:]:
            raise ValueError(f"prototype must have shape {tuple(self.prototypes.shape[1:])}, got "
                             f"{tuple(prototype.shape)}")
        self.prototypes[task] = prototype.to(self.prototypes)
        self.known[task] = True

    def contexts(self, index: torch.Tensor) -> torch.Tensor:
        """The context vectors ``[len(index), features]`` of stored prototypes (standardised over
        their features when ``standardize``)."""
        p = self.prototypes[index]
        return standardize(p) if self.standardize else p

    @torch.no_grad()
    def nearest(self, features: torch.Tensor) -> torch.Tensor:
        """Index ``[B]`` of the stored prototype nearest to each row of ``features [B, F]``."""
        known = self.known.nonzero().squeeze(1)
        if known.numel() == 0:
            raise RuntimeError("no prototype stored yet; call set() (or begin_task) first")
        d = torch.cdist(features.to(self.prototypes), self.prototypes[known])
        return known[d.argmin(dim=1)]


def standardize(x: torch.Tensor) -> torch.Tensor:
    """``x`` standardised over its last dimension (zero mean, unit variance per row)."""
    return (x - x.mean(-1, keepdim=True)) / x.std(-1, keepdim=True).clamp(min=1e-12)


@torch.no_grad()
def mean_input(batches: Iterable[torch.Tensor]) -> torch.Tensor:
    """The prototype of a task: the mean over samples of the time-averaged, flattened input
    (``batches`` yield ``[T, B, ...]`` sequences)."""
    total, count = None, 0
    for seq in batches:
        part = seq.float().mean(0).flatten(1).sum(0)
        total = part if total is None else total + part
        count += seq.shape[1]
    if total is None:
        raise ValueError("mean_input got no batch")
    return total / count


class PrototypeNetwork(SpikingModule):
    """A dendritic network with prototype contexts (module docstring).

    Args:
        network: a ``DendriticMLP`` (``spiking=False``) or ``SpikingDendriticMLP``.
        capacity: the number of tasks (prototypes) it may hold.
        features: the size of the flattened input (= the context size).
        spiking: whether ``network`` takes sequences ``[T, B, F]`` with a state.
        standardize: standardise the prototypes into contexts, and the non-spiking network's
            input per sample (module docstring).
    """

    def __init__(self, network: nn.Module, capacity: int, features: int, spiking: bool,
                 standardize: bool = True) -> None:
        super().__init__()
        self.network, self.spiking = network, bool(spiking)
        self.context = PrototypeContext(capacity, features, standardize)
        self.task: int | None = None  # the task being trained (its prototype is the context)
        self.last_task_index: torch.Tensor | None = None  # contexts of the last batch

    def begin_task(self, task: int, prototype: torch.Tensor) -> None:
        """Store task ``task``'s prototype and use it as the context while training."""
        self.context.set(task, prototype)
        self.task = int(task)

    def task_index(self, features: torch.Tensor) -> torch.Tensor:
        """The prototype used for each sample: the current task's while training, else the
        nearest one."""
        if self.training and self.task is not None:
            return torch.full((features.shape[0],), self.task, dtype=torch.long,
                              device=features.device)
        return self.context.nearest(features)

    def forward(self, x: torch.Tensor, state=None):
        """Pick a prototype per sample (from ``x`` averaged over time), use the prototypes as contexts and run
        the network: a spiking network returns ``(membrane [T, B, out], states)``, a non-spiking one
        ``(logits [1, B, out], None)``. Stores the chosen indices in ``last_task_index``.
        """
        features = x.float().mean(0).flatten(1)  # [B, F]
        index = self.task_index(features)
        self.last_task_index = index.detach()
        used, inverse = index.unique(return_inverse=True)
        contexts = self.context.contexts(used)
        if self.spiking:
            return self.network(x.flatten(2), contexts, inverse, state)
        inputs = standardize(features) if self.context.standardize else features
        return self.network(inputs, contexts, inverse).unsqueeze(0), None

    def rezero_weights(self) -> None:
        """Re-apply the wrapped network's sparsity masks (after each optimiser step)."""
        self.network.rezero_weights()
