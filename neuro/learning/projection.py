r"""Orthogonal projection of weight updates away from protected subspaces (HLOP, GPM).

For a synaptic layer :math:`W` (``[C_out, n]``, a conv weight flattened to ``[C_out, C_in k k]``)
with presynaptic activity :math:`x` and a basis :math:`B` (``[M, n]``) of the activity of previous
tasks, every learning rule whose update is a sum of (postsynaptic factor) x (presynaptic factor)
products — backprop/BPTT :math:`\sum_t \delta_t x_t^\top`, online eligibility traces
:math:`\sum_t \delta_t \hat e_t^\top`, feedback alignment — is changed to

.. math::

    \Delta W \leftarrow \Delta W (I - B^\top B) = \sum_t \delta_t \big((I - B^\top B) x_t\big)^\top,

so :math:`\Delta W x_{old} = 0` for old activity in the span of :math:`B` (with orthonormal
rows): old outputs of the layer are unchanged. Two equivalent ways (identical gradients):

* ``projection="weight"`` (fast, default): a gradient hook on each protected weight applies
  :math:`g \leftarrow g - (g B^\top) B`;
* ``projection="input"`` (the paper's form): a forward hook makes the weight gradient use the
  projected presynaptic input :math:`x_\perp = x - B^\top y(x)`, where the lateral response
  :math:`y` may be computed by spiking neurons (:class:`neuro.learning.HLOP` with
  ``lateral="neurons"``). Input gradients are never projected.

Optimisers that transform gradients element-wise (Adam, weight decay) break the orthogonality;
use SGD (with or without momentum) or call :meth:`SubspaceProjection.step`, which projects the
update an optimiser actually made.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn

from neuro.learning.sites import Site, TraceRecorder, find_sites

PROJECTIONS = ("weight", "input")


class SubspaceProjection(nn.Module):
    """Base of the subspace methods: layer discovery, activity recording, projection hooks.

    Args:
        model: the network; every ``nn.Linear`` / ``nn.Conv2d`` is protected (or those named in
            ``layers``). Hooks are registered on it at construction; :meth:`remove` takes them off.
        trace: Hebbian/representation samples, ``"rate"`` (weighted firing rate per sample),
            ``"spikes"`` (every time step) or ``"filtered"`` (the input low-pass filtered with
            the membrane decay, every time step), see :mod:`neuro.learning.sites`.
        trace_decay: ``lambda`` of the weighted firing rate (``exp(-dt/tau)``; 1 = plain rate).
        projection: ``"weight"`` or ``"input"`` (module docstring).
        max_samples: cap on samples per layer and batch (random subset), e.g. for conv patches.

    Subclasses give :meth:`basis` (``[M, n]`` for site ``i``, empty when nothing is protected).
    Activity is recorded when ``record_mode`` is ``"train"`` (layer in training mode) or
    ``"always"``.
    """

    def __init__(self, model: nn.Module, layers: Sequence[str] | None = None, *,
                 trace: str = "rate", trace_decay: float = 1.0, projection: str = "weight",
                 max_samples: int | None = None) -> None:
        super().__init__()
        if projection not in PROJECTIONS:
            raise ValueError(f"projection must be one of {PROJECTIONS}, got {projection!r}")
        self.sites: list[Site] = find_sites(model, layers)
        self.trace, self.trace_decay, self.projection = trace, float(trace_decay), projection
        self.recorders = [TraceRecorder(trace, trace_decay, max_samples) for _ in self.sites]
        self.record_mode = "train"
        self._handles: list = []
        self.attach()

    # -- subclass interface -------------------------------------------------------------------
    def basis(self, i: int) -> torch.Tensor:
        """Orthonormal rows ``[k, fan_in]`` spanning what layer ``i`` must protect."""
        raise NotImplementedError

    def project_inputs(self, i: int, v: torch.Tensor) -> torch.Tensor:
        """Presynaptic vectors ``v [..., n]`` with the protected components removed (input form)."""
        return project_rows(v, self.basis(i))

    # -- hooks --------------------------------------------------------------------------------
    def attach(self) -> None:
        """Register the recording and projection hooks (done at construction)."""
        if self._handles:
            return
        for site in self.sites:
            if self.projection == "input" and getattr(site.layer, "_neuro_online_trace", False):
                raise ValueError(f"{site.name or 'the layer'} uses online eligibility traces; "
                                 "combine them with projection='weight' (identical by linearity)")
        for i, site in enumerate(self.sites):
            self._handles.append(site.observed.register_forward_hook(self._recorder_hook(i)))
            if self.projection == "weight":
                self._handles.append(site.weight.register_hook(self._gradient_hook(i)))
            else:
                self._handles.append(site.layer.register_forward_hook(self._input_hook(i)))

    def remove(self) -> None:
        """Take every hook off the model."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _recorder_hook(self, i: int):
        site, recorder = self.sites[i], self.recorders[i]

        def hook(module: nn.Module, inputs, output) -> None:
            mode = self.record_mode
            if mode == "always" or (mode == "train" and module.training):
                with torch.no_grad():
                    recorder.observe(site.presynaptic(inputs[0]))
        return hook

    def _gradient_hook(self, i: int):
        def hook(grad: torch.Tensor) -> torch.Tensor | None:
            b = self.basis(i)
            if b.shape[0] == 0:
                return None
            return project_rows(grad.reshape(grad.shape[0], -1), b).reshape(grad.shape)
        return hook

    def _input_hook(self, i: int):
        site = self.sites[i]

        def hook(layer: nn.Module, inputs, output: torch.Tensor):
            if not torch.is_grad_enabled() or not layer.weight.requires_grad:
                return None
            if self.basis(i).shape[0] == 0:
                return None
            x = inputs[0].detach()
            w = layer.weight
            with torch.no_grad():
                if site.kind == "linear":
                    flat = x.reshape(-1, x.shape[-1])
                    delta = self.project_inputs(i, flat) - flat
                else:
                    patches = site.unfold(x if x.dim() == 4 else x.reshape(-1, *x.shape[-3:]))
                    delta = self.project_inputs(i, patches) - patches
            if site.kind == "linear":
                correction = (delta @ w.T).reshape(output.shape)
            else:  # [N, L, K] @ [K, C_out] -> [N, C_out, L] -> output map
                correction = (delta @ w.reshape(w.shape[0], -1).T).transpose(1, 2)
                correction = correction.reshape(output.shape)
            # value unchanged; dL/dW gains g (x_perp - x)^T, so dL/dW = g x_perp^T
            return output + (correction - correction.detach())
        return hook

    # -- recording ----------------------------------------------------------------------------
    def take_samples(self, i: int, generator: torch.Generator | None = None
                     ) -> torch.Tensor | None:
        """The recorded samples ``[S, n]`` of site ``i`` (then cleared)."""
        samples = self.recorders[i].samples(generator)
        self.recorders[i].reset()
        return samples

    def reset_recording(self) -> None:
        """Drop the activity recorded so far."""
        for recorder in self.recorders:
            recorder.reset()

    @contextmanager
    def recording(self, mode: str = "always") -> Iterator[SubspaceProjection]:
        """Temporarily record activity in ``mode`` (``"always"``, ``"train"`` or ``"off"``)."""
        previous, self.record_mode = self.record_mode, mode
        try:
            yield self
        finally:
            self.record_mode = previous

    # -- optimiser-agnostic step --------------------------------------------------------------
    @torch.no_grad()
    def step(self, optimizer: torch.optim.Optimizer, closure=None):
        """``optimizer.step()``, then project the update each protected weight actually received.

        Makes projection exact for any optimiser (Adam, weight decay...), at the cost of a copy of
        the protected weights.
        """
        before = [site.weight.detach().clone() for site in self.sites]
        result = optimizer.step(closure) if closure is not None else optimizer.step()
        for i, (site, w0) in enumerate(zip(self.sites, before)):
            b = self.basis(i)
            if b.shape[0] == 0:
                continue
            w = site.weight
            update = (w - w0).reshape(w.shape[0], -1)
            w.copy_(w0 + project_rows(update, b).reshape(w.shape))
        return result

    def protected_parameters(self) -> list[nn.Parameter]:
        """The weights whose updates are projected."""
        return [site.weight for site in self.sites]

    def extra_repr(self) -> str:
        """The protected layers (name and fan-in), the trace kind and the projection mode."""
        names = ", ".join(f"{s.name}({s.fan_in})" for s in self.sites)
        return f"layers=[{names}], trace={self.trace!r}, projection={self.projection!r}"


def project_rows(v: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    r"""``v - (v B^\top) B`` on the last dimension (``v`` unchanged when ``B`` is empty)."""
    if basis.shape[0] == 0:
        return v
    b = basis.to(v)
    return v - (v @ b.T) @ b
