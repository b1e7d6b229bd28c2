r"""HLOP: Hebbian learning based orthogonal projection for continual learning (Xiao et al., 2024).

Every synaptic layer of a network gets a lateral circuit (:class:`HebbianSubspace`) that learns,
by Oja's subspace rule on the layer's presynaptic traces, the principal subspace of the activity
of the tasks seen so far; weight updates of later tasks are projected onto its orthogonal
complement (:mod:`neuro.learning.projection`), so earlier tasks are barely disturbed.

Protocol per task ``k`` (what :mod:`neuro.learning.continual` does)::

    hlop.begin_task(rows_k)        # freeze all lateral rows, add rows_k new ones per layer
    for batch in task_k:
        out, _ = model(x)          # hooks record presynaptic traces (training mode)
        hlop.hebbian_step()        # Hebbian update of the new rows (no grad)
        loss.backward()            # gradients of protected weights are projected (k > 0)
        optimizer.step()           # SGD; or hlop.step(optimizer) for any optimiser

The Hebbian update runs from task 0 on; projection uses the rows frozen at :meth:`begin_task`
(the merged subspace of tasks ``< k``), so task 0 trains unprojected. Following the paper, only
the protected weights should be trained on tasks ``> 0`` (biases, BatchNorm and thresholds
frozen).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from neuro.learning.hlop_rule import HebbianSubspace
from neuro.learning.projection import SubspaceProjection, project_rows

PerLayer = float | Sequence[float]


def _per_layer(value, n: int, name: str) -> list:
    values = list(value) if isinstance(value, (list, tuple)) else [value] * n
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} entries but there are {n} protected layers")
    return values


class HLOP(SubspaceProjection):
    """Lateral Hebbian subspaces of every protected layer of ``model``, with weight projection.

    Args:
        model, layers, trace, trace_decay, projection, max_samples: see
            :class:`neuro.learning.projection.SubspaceProjection`.
        lr: Hebbian learning rate, one value or one per layer (the paper: 1e-3 for the 784-d MNIST
            input layer, 1e-2 elsewhere).
        momentum, iterations, clamp, lateral, spike_scale, spike_steps, backend, normalize: of each
            :class:`neuro.learning.hlop_rule.HebbianSubspace`.

    ``state_dict()`` holds every lateral weight matrix (of any size) and loads into a fresh
    ``HLOP`` of the same model.
    """

    def __init__(self, model: nn.Module, layers: Sequence[str] | None = None, *,
                 lr: PerLayer = 1e-2, momentum: float = 0.9, iterations: int = 5,
                 clamp: float = 10.0, lateral: str = "matrix", spike_scale: float = 20.0,
                 spike_steps: int = 1000, backend: str = "auto", normalize: bool = False,
                 trace: str = "rate",
                 trace_decay: float = 1.0, projection: str = "weight",
                 max_samples: int | None = None) -> None:
        super().__init__(model, layers, trace=trace, trace_decay=trace_decay,
                         projection=projection, max_samples=max_samples)
        rates = _per_layer(lr, len(self.sites), "lr")
        self.subspaces = nn.ModuleList([
            HebbianSubspace(site.fan_in, lr=rate, momentum=momentum, iterations=iterations,
                            clamp=clamp, lateral=lateral, spike_scale=spike_scale,
                            spike_steps=spike_steps, backend=backend,
                            normalize=normalize).to(site.weight.detach())
            for site, rate in zip(self.sites, rates)])
        self.lateral = lateral
        self.tasks_begun = 0

    def basis(self, i: int) -> torch.Tensor:
        """The frozen rows ``[n_frozen, fan_in]`` of protected layer ``i``'s Hebbian subspace (the previous
        tasks' subspace).
        """
        return self.subspaces[i].basis

    def project_inputs(self, i: int, v: torch.Tensor) -> torch.Tensor:
        """``v [..., fan_in]`` with its component in layer ``i``'s frozen subspace removed: ``v - (v B^T) B``
        with ``lateral="matrix"`` (or no frozen rows), else through the spiking lateral response of the
        frozen rows.
        """
        sub = self.subspaces[i]
        if self.lateral == "matrix" or sub.n_frozen == 0:
            return project_rows(v, sub.basis)
        flat = v.reshape(-1, v.shape[-1])
        y = sub.respond(flat.to(sub.weight), rows=sub.n_frozen)  # spiking lateral response
        return (flat - (y @ sub.basis).to(v)).reshape(v.shape)

    def begin_task(self, rows: int | Sequence[int],
                   generator: torch.Generator | None = None) -> None:
        """Freeze every lateral row and add ``rows`` new ones (one count, or one per layer)."""
        counts = _per_layer(rows, len(self.sites), "rows")
        for sub, count in zip(self.subspaces, counts):
            sub.add_rows(int(count), generator)
        self.reset_recording()
        self.tasks_begun += 1

    @torch.no_grad()
    def hebbian_step(self, generator: torch.Generator | None = None) -> int:
        """Hebbian update of every layer on the traces recorded since the last call.

        Returns the number of layers updated (0 when nothing was recorded, e.g. in eval mode).
        """
        updated = 0
        for i, sub in enumerate(self.subspaces):
            samples = self.take_samples(i, generator)
            if samples is not None:
                sub.update(samples)
                updated += 1
        return updated

    def orthogonality_error(self) -> list[float]:
        """``max |H H^T - I|`` of every layer's lateral weights (0 for an orthonormal basis)."""
        out = []
        for sub in self.subspaces:
            h = sub.weight.double()
            out.append(float((h @ h.T - torch.eye(h.shape[0], dtype=h.dtype,
                                                  device=h.device)).abs().max())
                       if h.shape[0] else 0.0)
        return out

    def get_extra_state(self) -> dict:
        """Checkpointed beyond the buffers: ``{"tasks_begun": int}``, the number of tasks started."""
        return {"tasks_begun": int(self.tasks_begun)}

    def set_extra_state(self, state: dict) -> None:
        """Restore ``tasks_begun`` from a state written by :meth:`get_extra_state`."""
        self.tasks_begun = int(state["tasks_begun"])

    def extra_repr(self) -> str:
        """The projection's settings plus ``rows/frozen`` of every protected layer's subspace."""
        rows = ", ".join(f"{s.n_rows}/{s.n_frozen}" for s in self.subspaces)
        return super().extra_repr() + f", rows/frozen=[{rows}]"
