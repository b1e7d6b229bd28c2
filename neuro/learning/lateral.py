r"""HLOP's lateral circuit as spiking neurons on the engine's integrate-and-fire kernels.

The lateral neurons of a layer receive the synaptic current :math:`H x` from the presynaptic
neurons. Each lateral unit is an ON/OFF pair of integrate-and-fire neurons (threshold 1,
subtractive reset) driven for :math:`T_h` steps by the constant currents
:math:`[c]_+` and :math:`[-c]_+` with :math:`c = \mathrm{clamp}(Hx, -S, S)/S`:

.. math::

    v_t = v_{t-1} + [\pm c]_+, \qquad s_t = H(v_t - 1), \qquad v_t \leftarrow v_t - s_t,
    \qquad v_0 = \tfrac12,

so each neuron fires :math:`\lfloor T_h [\pm c]_+ + \tfrac12 \rfloor` spikes (the half-volt start
rounds instead of truncating) and the signed rate :math:`\hat y = S (n_{on} - n_{off}) / T_h`
equals the paper's rate code :math:`\mathrm{round}(T_h c)\,S/T_h` up to float rounding, with
error :math:`|\hat y - Hx| \le S / (2T_h)` inside :math:`[-S, S]`. The feedback synapses
:math:`-H^\top` carry these spikes back to the presynaptic neurons, whose net input becomes
:math:`x - H^\top \hat y \to (I - H^\top H) x` as :math:`T_h` grows.
"""

from __future__ import annotations

import torch

from neuro.functional.lif import IF, NeuronParameters, make_config, neuron_scan


class SpikingLateralCircuit:
    """Lateral rate-coding IF neurons (see the module docstring).

    Args:
        scale: ``S``, the largest response coded (larger ones saturate).
        steps: ``T_h``, the simulated time steps (the rate resolution is ``S / T_h``).
        backend: neuron kernels (``"auto"``, ``"numba"``, ``"torch"``, ``"cuda"``).
        chunk: time steps simulated per kernel call (bounds memory to ``chunk x B x 2M``).
    """

    def __init__(self, scale: float = 20.0, steps: int = 1000, backend: str = "auto",
                 chunk: int = 500) -> None:
        if not scale > 0 or steps < 1 or chunk < 1:
            raise ValueError(f"need scale > 0, steps >= 1, chunk >= 1; got {scale}, {steps}, {chunk}")
        self.scale, self.steps, self.backend, self.chunk = float(scale), int(steps), backend, chunk
        self._params = NeuronParameters(v_th=1.0, v_leak=0.5, dt=1.0)  # IF: v_leak only sets v_0
        self._cfg = make_config(IF, reset="subtract", threshold_op=">=")

    @torch.no_grad()
    def spike_counts(self, current: torch.Tensor) -> torch.Tensor:
        """Spike counts of IF neurons driven by the constant ``current [B, N]`` for ``steps`` steps."""
        counts = torch.zeros_like(current)
        state = None
        done = 0
        while done < self.steps:
            n = min(self.chunk, self.steps - done)
            spikes, state = neuron_scan(IF, current.expand(n, *current.shape).contiguous(), state,
                                        self._params, self._cfg, backend=self.backend)
            counts += spikes.sum(0)
            done += n
        return counts

    @torch.no_grad()
    def rates(self, y: torch.Tensor) -> torch.Tensor:
        """Signed rate estimate ``S (n_on - n_off) / T_h`` of the lateral responses ``y [B, M]``."""
        c = torch.clamp(y, -self.scale, self.scale) / self.scale
        counts = self.spike_counts(torch.cat([c.clamp(min=0), (-c).clamp(min=0)], dim=1))
        on, off = counts.split(y.shape[1], dim=1)
        return (on - off) * (self.scale / self.steps)

    @torch.no_grad()
    def project(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """Net presynaptic activity ``x - H^T y_hat`` for ``x [B, n]`` and lateral weights ``h [M, n]``."""
        if h.shape[0] == 0:
            return x
        return x - self.rates(x @ h.T) @ h
