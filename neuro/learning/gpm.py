r"""Gradient Projection Memory (Saha, Garg & Roy, ICLR 2021): a replay-free SVD-basis baseline.

After each task, a representation matrix :math:`R` (rows = presynaptic trace vectors of samples of
the task, as recorded by :mod:`neuro.learning.sites`) is collected at every protected layer and
the layer's orthonormal basis :math:`U` (``[M, n]`` rows) grows by the top singular vectors of the
part of :math:`R` it does not yet explain:

.. math::

    \hat R = R - R U^\top U, \qquad
    \frac{\|R U^\top\|_F^2 + \sum_{j \le r} \hat\sigma_j^2}{\|R\|_F^2} \ge \epsilon_{th},

with :math:`r` the smallest count reaching the energy threshold :math:`\epsilon_{th}` and
:math:`\hat\sigma_j` the singular values of :math:`\hat R`. Later tasks' weight updates are
projected like HLOP's, :math:`\Delta W \leftarrow \Delta W (I - U^\top U)` — but the basis comes from
an exact SVD of stored activity instead of a Hebbian lateral circuit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
from torch import nn

from neuro.learning.projection import SubspaceProjection


class _Basis(nn.Module):
    """One layer's orthonormal basis rows, a buffer that loads at any stored size."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n
        self.register_buffer("rows", torch.zeros(0, n))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        stored = state_dict.get(prefix + "rows")
        if stored is not None and stored.shape != self.rows.shape:
            if stored.dim() != 2 or stored.shape[1] != self.n:
                raise ValueError(f"{prefix}rows has shape {tuple(stored.shape)}, expected "
                                 f"[rows, {self.n}]")
            self.rows = torch.empty_like(stored, device=self.rows.device)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def grow_basis(basis: torch.Tensor, representation: torch.Tensor, threshold: float) -> torch.Tensor:
    """The basis ``[M, n]`` extended by the energy criterion of the module docstring."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    r = representation.double()
    total = float((r * r).sum())
    if total == 0.0:
        return basis
    u = basis.double().to(r.device)
    explained = float(((r @ u.T) ** 2).sum()) if u.shape[0] else 0.0
    if explained / total >= threshold:
        return basis
    residual = r - (r @ u.T) @ u if u.shape[0] else r
    _, s, vh = torch.linalg.svd(residual, full_matrices=False)
    energy = explained / total + torch.cumsum(s * s, 0) / total
    reached = torch.nonzero(energy >= threshold - 1e-12)
    count = int(reached[0]) + 1 if len(reached) else len(s)
    count = min(count, r.shape[1] - u.shape[0])
    if count <= 0:
        return basis
    new = torch.cat([u, vh[:count]]) if u.shape[0] else vh[:count]
    return new.to(basis)


class GPM(SubspaceProjection):
    """SVD bases of every protected layer's activity, grown after each task (module docstring).

    Args:
        model, layers, trace, trace_decay, projection, max_samples: as for
            :class:`neuro.learning.projection.SubspaceProjection`.
        threshold: energy threshold, one value or one per layer (GPM's PMNIST settings are
            [0.95, 0.99, 0.99] [recall]; default 0.97).
        threshold_step: added to the threshold after every task (GPM's CIFAR schedule: 0.003
            [recall]), capped at 1.
    """

    def __init__(self, model: nn.Module, layers: Sequence[str] | None = None, *,
                 threshold: float | Sequence[float] = 0.97, threshold_step: float = 0.0,
                 trace: str = "rate", trace_decay: float = 1.0, projection: str = "weight",
                 max_samples: int | None = None) -> None:
        super().__init__(model, layers, trace=trace, trace_decay=trace_decay,
                         projection=projection, max_samples=max_samples)
        values = list(threshold) if isinstance(threshold, (list, tuple)) else [threshold] * len(
            self.sites)
        if len(values) != len(self.sites):
            raise ValueError(f"threshold has {len(values)} entries for {len(self.sites)} layers")
        self.thresholds = [float(v) for v in values]
        self.threshold_step = float(threshold_step)
        self.record_mode = "off"  # GPM only records in update()
        self.bases = nn.ModuleList([_Basis(site.fan_in).to(site.weight.detach())
                                    for site in self.sites])
        self.tasks_done = 0

    def basis(self, i: int) -> torch.Tensor:
        """The orthonormal basis rows ``[k, fan_in]`` kept so far for protected layer ``i`` (``k`` may be 0).
        """
        return self.bases[i].rows

    @torch.no_grad()
    def update(self, run: Callable[[torch.Tensor], object], batches: Iterable[torch.Tensor]) -> list[int]:
        """Grow every basis from the activity of ``run(x)`` over ``batches`` (one task's samples).

        ``run`` is the forward pass (e.g. ``lambda x: model(x)``); returns the basis sizes.
        """
        collected: list[list[torch.Tensor]] = [[] for _ in self.sites]
        with self.recording("always"):
            for x in batches:
                self.reset_recording()
                run(x)
                for i in range(len(self.sites)):
                    samples = self.take_samples(i)
                    if samples is not None:
                        collected[i].append(samples)
        step = self.threshold_step * self.tasks_done
        for i, parts in enumerate(collected):
            if parts:
                self.bases[i].rows = grow_basis(self.bases[i].rows, torch.cat(parts),
                                                min(1.0, self.thresholds[i] + step))
        self.tasks_done += 1
        return [int(b.rows.shape[0]) for b in self.bases]

    def get_extra_state(self) -> dict:
        """Checkpointed beyond the buffers: ``{"tasks_done": int}``, the number of tasks whose subspaces are
        stored.
        """
        return {"tasks_done": int(self.tasks_done)}

    def set_extra_state(self, state: dict) -> None:
        """Restore ``tasks_done`` from a state written by :meth:`get_extra_state`."""
        self.tasks_done = int(state["tasks_done"])
