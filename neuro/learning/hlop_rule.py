r"""The lateral Hebbian subspace circuit of HLOP for one synaptic layer (Xiao et al., ICLR 2024).

A layer with presynaptic activity :math:`x \in \mathbb{R}^n` gets :math:`M` lateral neurons with
weights :math:`H \in \mathbb{R}^{M \times n}`. The lateral neurons respond :math:`y = H x`, feed back
:math:`x^- = -H^\top y` onto the presynaptic neurons, and :math:`H` learns by the Hebbian
(:math:`y x^\top`) plus anti-Hebbian (:math:`y {x^-}^\top`) rule — Oja's subspace rule:

.. math::

    \Delta H = \frac{1}{B} \sum_{b=1}^{B} y_b \,(x_b - H^\top y_b)^\top,
    \qquad \text{clamped to } [-c, c] \text{ element-wise},

    v \leftarrow m\, v + (1 - m)\, \Delta H, \qquad H \leftarrow H + \eta\, v,

repeated for a few inner iterations per mini-batch (recomputing :math:`y` with the updated
:math:`H`). Its fixed points are orthonormal bases of the principal subspace of :math:`x`
(:math:`H H^\top \to I`), so :math:`x - H^\top H x` is the component of :math:`x` orthogonal to it.

Continual learning grows :math:`H` task by task: :meth:`HebbianSubspace.add_rows` freezes every
existing row and appends new orthonormal rows (orthogonal to the existing ones); only the new rows
learn (their input
is the whole circuit's residual, so they pick up what the frozen rows miss). The frozen rows are
the subspace of the previous tasks that weight updates are projected away from
(:meth:`HebbianSubspace.project`).

The lateral response :math:`y` can be the exact matrix product (``lateral="matrix"``), the
paper's rate-coded spiking approximation (``"quantized"``: clamp to :math:`[-S, S]`, scale to
:math:`T_h` spike counts, round, rescale) or the spike counts of actual integrate-and-fire neurons
run on the engine's kernels (``"neurons"``, :class:`neuro.learning.lateral.SpikingLateralCircuit`).
"""

from __future__ import annotations

import torch
from torch import nn

LATERAL_KINDS = ("matrix", "quantized", "neurons")
MAX_ROW_NORM = 100.0  # Oja rows converge to unit norm; far beyond means the rule is unstable


def quantize_rate(y: torch.Tensor, scale: float, steps: float) -> torch.Tensor:
    """The paper's rate code of a lateral response: ``round(clamp(y, -S, S) / S * T) / T * S``."""
    return torch.round(torch.clamp(y, -scale, scale) / scale * steps) / steps * scale


def weighted_rate(x: torch.Tensor, decay: float) -> torch.Tensor:
    r"""Weighted firing rate of ``x [T, ...]`` over time (recent steps weigh more).

    :math:`\bar x = \sum_t w_t x_t / \sum_t w_t` with :math:`w_t = \lambda^{T-1-t}`
    (the paper's :math:`w_t = e^{-(T - t)\Delta t / \tau}` with :math:`\lambda = e^{-\Delta t/\tau}`);
    ``decay = 1`` gives the plain firing rate.
    """
    if not 0.0 < decay <= 1.0:
        raise ValueError(f"decay must be in (0, 1], got {decay}")
    steps = x.shape[0]
    w = decay ** torch.arange(steps - 1, -1, -1, dtype=x.dtype, device=x.device)
    return torch.tensordot(w / w.sum(), x, dims=([0], [0]))


def subspace_angles(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Principal angles (radians, ascending) between the row spaces of ``a [k, n]`` and ``b [l, n]``."""
    qa = torch.linalg.qr(a.double().T).Q
    qb = torch.linalg.qr(b.double().T).Q
    cos = torch.linalg.svdvals(qa.T @ qb).clamp(-1.0, 1.0)
    return torch.arccos(cos).sort().values


class HebbianSubspace(nn.Module):
    """Lateral weights ``H [M, n]`` of one layer, learned by Oja's subspace rule (module docstring).

    Args:
        in_features: ``n``, the layer's fan-in (``C_in * kh * kw`` for a convolution).
        lr: Hebbian learning rate ``eta`` (the paper: 1e-3 on the 784-d MNIST input, else 1e-2).
        momentum: ``m`` of the update average (0 disables it; the paper: 0.9).
        iterations: inner Hebbian iterations per mini-batch (the paper: 5).
        clamp: element-wise bound ``c`` of ``Delta H`` (the paper: 10).
        lateral: ``"matrix"``, ``"quantized"`` or ``"neurons"`` (module docstring).
        spike_scale, spike_steps: ``S`` and ``T_h`` of the spiking variants (the paper: 20, 1000;
            40 steps suffice on PMNIST [recall]).
        backend: neuron kernels of ``lateral="neurons"``.
        normalize: divide ``Delta H`` (before clamping) by the mean squared norm of the batch (not
            in the paper): the rule
            is then stable for ``lr`` < 1 whatever the layer's activity scale (the largest
            eigenvalue of the trace covariance is at most its trace), so one ``lr`` suits input
            pixels and sparse hidden spikes alike.

    Buffers ``weight`` (``H``) and ``velocity`` grow with :meth:`add_rows`; a state dict of any
    size loads into a fresh module. ``n_frozen`` rows are frozen (the previous tasks' subspace).
    """

    def __init__(self, in_features: int, *, lr: float = 1e-2, momentum: float = 0.9,
                 iterations: int = 5, clamp: float = 10.0, lateral: str = "matrix",
                 spike_scale: float = 20.0, spike_steps: int = 1000, backend: str = "auto",
                 normalize: bool = False) -> None:
        super().__init__()
        if in_features < 1:
            raise ValueError(f"in_features must be >= 1, got {in_features}")
        if not lr > 0 or not 0 <= momentum < 1 or iterations < 1 or not clamp > 0:
            raise ValueError(f"need lr > 0, 0 <= momentum < 1, iterations >= 1, clamp > 0; got "
                             f"lr={lr}, momentum={momentum}, iterations={iterations}, clamp={clamp}")
        if lateral not in LATERAL_KINDS:
            raise ValueError(f"lateral must be one of {LATERAL_KINDS}, got {lateral!r}")
        self.in_features = int(in_features)
        self.lr, self.momentum, self.iterations, self.clamp = float(lr), momentum, iterations, clamp
        self.lateral, self.spike_scale, self.spike_steps = lateral, spike_scale, int(spike_steps)
        self.backend, self.normalize = backend, bool(normalize)
        self.n_frozen = 0
        self.register_buffer("weight", torch.zeros(0, self.in_features))
        self.register_buffer("velocity", torch.zeros(0, self.in_features))

    @property
    def n_rows(self) -> int:
        """Lateral neurons (rows of ``H``), frozen and learning."""
        return self.weight.shape[0]

    @property
    def basis(self) -> torch.Tensor:
        """The frozen rows ``[n_frozen, n]`` (the previous tasks' subspace)."""
        return self.weight[: self.n_frozen]

    def add_rows(self, count: int, generator: torch.Generator | None = None) -> None:
        """Freeze all current rows and append ``count`` orthonormal learning rows.

        The new rows are drawn uniformly among orthonormal sets *in the orthogonal complement of
        the existing rows* (the paper only makes them orthogonal to each other). Rows that the
        Hebbian rule never moves — directions without activity — then stay orthogonal to the
        frozen subspace, so ``I - H^T H`` remains a projection; with the paper's init such rows
        overlap the frozen ones and ``I - H^T H`` can amplify or flip gradient components.
        """
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        self.n_frozen = self.n_rows
        if count == 0:
            return
        n, old = self.in_features, self.weight.double().cpu()
        gaussian = torch.randn(n, count, generator=generator, dtype=torch.float64)
        free = n - old.shape[0]
        if old.shape[0] and free > 0:
            q_old = torch.linalg.qr(old.T).Q  # [n, M], orthonormal basis of the existing rows
            gaussian = gaussian - q_old @ (q_old.T @ gaussian)
        q, r = torch.linalg.qr(gaussian)  # [n, min(n, count)]
        q = q * torch.sign(torch.diagonal(r))  # uniform (Haar) orthonormal columns
        new = torch.zeros(count, n, dtype=torch.float64)
        usable = min(count, max(free, 0) if old.shape[0] else n)
        new[:usable] = q.T[:usable]
        if usable < count:  # more rows than free dimensions: plain random orthonormal rows
            extra = torch.linalg.qr(torch.randn(n, count - usable, generator=generator,
                                                dtype=torch.float64)).Q.T
            new[usable:] = extra[: count - usable]
        new = new.to(self.weight)
        self.weight = torch.cat([self.weight, new])
        self.velocity = torch.cat([self.velocity, torch.zeros_like(new)])

    def respond(self, x: torch.Tensor, rows: int | None = None) -> torch.Tensor:
        """Lateral response ``y [B, M]`` to ``x [B, n]`` (of the first ``rows`` rows, default all)."""
        h = self.weight if rows is None else self.weight[:rows]
        y = x @ h.T
        if self.lateral == "quantized":
            return quantize_rate(y, self.spike_scale, self.spike_steps)
        if self.lateral == "neurons":
            from neuro.learning.lateral import SpikingLateralCircuit

            circuit = SpikingLateralCircuit(self.spike_scale, self.spike_steps, self.backend)
            return circuit.rates(y)
        return y

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """``iterations`` Hebbian updates of the learning rows on presynaptic traces ``x [B, n]``."""
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"Hebbian input must be [B, {self.in_features}], got {tuple(x.shape)}")
        if self.n_rows == self.n_frozen or x.shape[0] == 0:
            return
        if not bool(torch.isfinite(x).all()):
            raise ValueError("Hebbian input contains NaN or inf values")
        x = x.to(self.weight)
        k = self.n_frozen
        lr = self.lr
        scale = x.shape[0]  # the batch mean, times the mean squared norm when normalised
        if self.normalize:
            scale *= max(float((x * x).sum(1).mean()), 1e-12)
        for _ in range(self.iterations):
            y = self.respond(x)
            yk = y[:, k:]
            if x.shape[0] > self.n_rows:  # y_k^T x - (y_k^T y) H: no [B, n] residual, fewer flops
                delta = yk.T @ x - (yk.T @ y) @ self.weight
            else:
                delta = yk.T @ (x - y @ self.weight)
            delta = delta.div_(scale).clamp_(-self.clamp, self.clamp)
            if self.momentum > 0:
                v = self.velocity[k:].mul_(self.momentum).add_(delta, alpha=1 - self.momentum)
                self.weight[k:].add_(v, alpha=lr)
            else:
                self.weight[k:].add_(delta, alpha=lr)
        norms = self.weight[k:].norm(dim=1)
        if not bool(torch.isfinite(norms).all()) or float(norms.max()) > MAX_ROW_NORM:
            raise FloatingPointError(
                f"the Hebbian weights diverged (row norm {float(norms.max()):.3g}; Oja rows "
                "converge to norm 1); lower the Hebbian lr (stable for lr * |x|^2 well below 1)")

    def project(self, v: torch.Tensor) -> torch.Tensor:
        r"""``v - (v H_f^\top) H_f`` on the last dimension, with the frozen rows ``H_f``."""
        h = self.basis
        if h.shape[0] == 0:
            return v
        h = h.to(v)
        return v - (v @ h.T) @ h

    def extra_repr(self) -> str:
        """Input size, rows (frozen ones), learning rate, momentum, iterations and lateral mode."""
        return (f"in_features={self.in_features}, rows={self.n_rows} ({self.n_frozen} frozen), "
                f"lr={self.lr:g}{' (normalized)' if self.normalize else ''}, "
                f"momentum={self.momentum}, iterations={self.iterations}, "
                f"lateral={self.lateral!r}")

    def get_extra_state(self) -> dict:
        """Checkpointed beyond the buffers: ``{"n_frozen": int}``, the number of frozen rows."""
        return {"n_frozen": int(self.n_frozen)}

    def set_extra_state(self, state: dict) -> None:
        """Restore ``n_frozen`` from a state written by :meth:`get_extra_state`."""
        self.n_frozen = int(state["n_frozen"])

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        for name in ("weight", "velocity"):  # buffers grow with the tasks: take the stored size
            key = prefix + name
            if key in state_dict and state_dict[key].shape != self._buffers[name].shape:
                stored = state_dict[key]
                if stored.dim() != 2 or stored.shape[1] != self.in_features:
                    raise ValueError(f"{key} has shape {tuple(stored.shape)}, expected "
                                     f"[rows, {self.in_features}]")
                self._buffers[name] = torch.empty_like(stored, device=self._buffers[name].device)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
