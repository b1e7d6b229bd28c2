r"""Astrocyte-modulated spiking units (AM-SU): LIF layers whose neurons are grouped into astrocyte
domains that integrate the domain's spiking slowly and act back on its synapses.

Inspired by "Astrocyte-Enabled Advancements in Spiking Neural Networks for Large Language
Modeling" (Shen et al., arXiv 2312.07625). That paper's equations were not available to us; the
model below is our design from its description (a neuron-astrocyte tripartite synapse inside the
spiking unit, slow astrocytic dynamics for long-term dependencies). Per domain ``d`` (the neurons
one astrocyte enwraps) and step ``t``::

    c_t      = a_{t-1}^2 / (a_{t-1}^2 + K_d^2)                       calcium-like, cooperative (Hill 2)
    x'_t[n]  = (1 + kappa_g[d] c_t) x_t[n] + kappa_I[d] c_t           efficacy x gain + slow current
    th'_t[n] = v_th[n] + kappa_th[d] c_t                              threshold modulation
    s_t, v_t = LIF (or CubaLIF) step on x'_t with threshold th'_t     (neuro.functional.lif)
    a_t      = gamma_d a_{t-1} + (1 - gamma_d) mean_{n in d} s_t[n]   gamma_d = exp(-dt / tau_astro[d])

``tau_astro``, ``K`` (both learned in log space, so they stay positive) and the couplings
``kappa_*`` are learnable per domain; with all couplings 0 the layer is exactly a LIF layer. The
astrocyte reads the domain's output spikes (post-synaptic activity) and acts through the previous
step's calcium, so the recurrence is causal and runs as one fused kernel (forward scan and
reverse-time backward over (sample, domain) tasks, sharing the LIF step code of
``neuro.kernels.lif_math``). Domains partition the layer's neurons: index groups, per-neuron labels,
contiguous blocks or 2D neighbourhoods (:class:`neuro.ops.amsu.Domains`); overlapping domains are
rejected.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from neuro.functional import astro as FA
from neuro.functional import lif as F
from neuro.functional.astro import AMSUConfig, AMSUState, CubaAMSUState, Domains
from neuro.nn.neurons import NeuronBase
from neuro.validation import check_tensor

__all__ = ["AMSU", "AMSUState", "CubaAMSU", "CubaAMSUState", "MODULATIONS", "make_domains"]

MODULATIONS = ("gain", "threshold", "current")
Number = float | torch.Tensor
DomainSpec = Domains | int | Sequence | np.ndarray | torch.Tensor


def make_domains(spec: DomainSpec, shape: tuple[int, ...]) -> Domains:
    """:class:`Domains` from a spec: a ``Domains``, a number of contiguous blocks, index groups
    (a sequence of index sequences) or per-neuron domain labels (flat, or shaped like ``shape``)."""
    n = int(np.prod(shape)) if shape else 1
    if isinstance(spec, Domains):
        if spec.n != n:
            raise ValueError(f"the domains cover {spec.n} neurons, the layer has {n} (shape {shape})")
        return spec
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        return Domains.contiguous(n, int(spec))
    if isinstance(spec, torch.Tensor):
        spec = spec.detach().cpu().numpy()
    if isinstance(spec, np.ndarray):
        return Domains.from_labels(spec.reshape(-1), n)
    if isinstance(spec, Sequence) and len(spec) > 0 and all(
            isinstance(g, (Sequence, np.ndarray, torch.Tensor, range)) for g in spec):
        return Domains.from_groups([np.asarray(g) for g in spec], n)
    if isinstance(spec, Sequence):
        return Domains.from_labels(np.asarray(spec), n)
    raise TypeError("domains must be a neuro.ops.amsu.Domains, an int, index groups or per-neuron "
                    f"labels, got {type(spec).__name__}")


class _AstroNeuron(NeuronBase):
    """LIF-family neurons of the layer (parameters, config) plus the per-domain astrocytes."""

    state_type: type

    def __init__(self, shape: int | Sequence[int], domains: DomainSpec,
                 model_parameters: dict[str, Number], *, tau_astro: Number, K: Number, kappa_gain: Number,
                 kappa_threshold: Number, kappa_current: Number, modulation: Sequence[str],
                 learn_astro: bool, **kwargs: Any) -> None:
        if kwargs.get("reset") == "subtract_delayed":
            raise ValueError("AM-SU layers support reset='subtract', 'zero' or 'none'")
        super().__init__(shape, model_parameters, **kwargs)
        if not self.shape:
            raise ValueError("AM-SU layers need the feature shape of the layer (shape=...) to "
                             "place the astrocyte domains")
        self.domains = make_domains(domains, self.shape)
        unknown = set(modulation) - set(MODULATIONS)
        if unknown:
            raise ValueError(f"modulation must be a subset of {MODULATIONS}, got {sorted(unknown)}")
        self.modulation = tuple(m for m in MODULATIONS if m in modulation)
        self.amsu_cfg = AMSUConfig(reset=self.cfg.reset, ge=self.cfg.ge,
                                   detach_reset=self.cfg.detach_reset, surrogate=self.cfg.surrogate,
                                   has_syn=self.model.has_syn)
        D = self.domains.D
        values = {"log_tau_astro": (tau_astro, "tau_astro", True),
                  "log_K": (K, "K", True),
                  "kappa_gain": (kappa_gain, "kappa_gain", "gain" in self.modulation),
                  "kappa_threshold": (kappa_threshold, "kappa_threshold",
                                      "threshold" in self.modulation),
                  "kappa_current": (kappa_current, "kappa_current", "current" in self.modulation)}
        for name, (value, label, used) in values.items():
            t = torch.as_tensor(value, dtype=torch.get_default_dtype())
            if not bool(torch.isfinite(t).all()):
                raise ValueError(f"{label} must be finite, got {value}")
            if name.startswith("log_"):
                if bool((t <= 0).any()):
                    raise ValueError(f"{label} must be > 0 (a time constant / concentration), got {value}")
                t = t.log()
            try:
                t = t.expand(D).clone()
            except RuntimeError:
                raise ValueError(f"{label} must be a number or have one value per domain ({D}), "
                                 f"got shape {tuple(t.shape)}") from None
            if not used:
                continue
            if learn_astro:
                self.register_parameter(name, nn.Parameter(t))
            else:
                self.register_buffer(name, t)

    @property
    def tau_astro(self) -> torch.Tensor:
        """Astrocyte time constants ``[D]`` (``exp(log_tau_astro)``)."""
        return self.log_tau_astro.exp()

    @property
    def K(self) -> torch.Tensor:
        """Calcium half-activations ``[D]`` (``exp(log_K)``)."""
        return self.log_K.exp()

    @property
    def astro_parameters(self) -> FA.AstroParameters:
        """The astrocyte parameters of :func:`neuro.functional.astro.amsu_scan` (differentiable)."""
        def coupling(name: str) -> torch.Tensor | None:
            return getattr(self, name) if name in self._parameters or name in self._buffers else None

        return FA.AstroParameters(self.tau_astro, self.K, coupling("kappa_gain"),
                                  coupling("kappa_threshold"), coupling("kappa_current"))

    def initial_state(self, like: torch.Tensor):
        """Fresh state for one step shaped like ``like`` (``[B, *features]``): neurons at rest,
        astrocytes at 0."""
        return FA.amsu_initial_state(self.model, self.parameters_physical, like, self.domains.D)

    def _scan(self, x: torch.Tensor, state, record: bool):
        check_tensor(x, "x", 3, "[T, B, *features]")
        features = tuple(x.shape[2:])
        if features != self.shape:
            raise ValueError(f"x has features {features}, the layer was built for {self.shape}")
        return FA.amsu_scan(self.model, x, self.domains, self.astro_parameters, state,
                            self.parameters_physical, self.amsu_cfg, record=record,
                            backend=self.backend)

    def step(self, x_t: torch.Tensor, state=None):
        """One step on ``x_t [B, *features]`` (a length-1 scan): ``(spikes_t, state)``."""
        out, final = self._scan(x_t.unsqueeze(0), state, record=False)
        return out.squeeze(0), final

    def forward(self, x: torch.Tensor, state=None):
        """``x [T, B, *shape] -> (spikes, state)``; with ``record_states`` ``(spikes, trace)``, the
        trace holding every step (``trace.last()`` is the final state)."""
        if not self.record_states:
            return self._scan(x, state, record=False)
        out, _, trace = self._scan(x, state, record=True)
        return out, trace

    def extra_repr(self) -> str:
        return (super().extra_repr() + f", domains={self.domains.D}, modulation={self.modulation}")


class AMSU(_AstroNeuron):
    """Astrocyte-modulated LIF layer; ``forward(x [T, B, *shape], state) -> (spikes, AMSUState)``.

    Example: ``AMSU(64, domains=8, tau_astro=0.5)`` — 64 LIF neurons in 8 astrocyte domains of 8.

    Astrocyte args: ``domains`` (a :class:`neuro.ops.amsu.Domains`, a number of contiguous domains,
    index groups, or per-neuron domain labels), ``tau_astro`` (astrocyte time constant, same unit
    as ``dt``), ``K`` (calcium half-activation), ``kappa_gain``, ``kappa_threshold``,
    ``kappa_current`` (initial couplings; numbers or one per domain), ``modulation`` (which of
    ``"gain"``, ``"threshold"``, ``"current"`` act), ``learn_astro`` (learn the astrocyte
    parameters). Neuron args: those of :class:`neuro.nn.LIF` (other keywords:
    :class:`neuro.nn.neurons.NeuronBase`; ``reset="subtract_delayed"`` is not supported).
    """

    model = F.LIF
    state_type = AMSUState

    def __init__(self, shape: int | Sequence[int], domains: DomainSpec, tau_mem: Number = 20e-3,
                 beta: float | None = None, tau_astro: Number = 0.2, K: Number = 0.1,
                 kappa_gain: Number = 0.0, kappa_threshold: Number = 0.0, kappa_current: Number = 0.0,
                 modulation: Sequence[str] = MODULATIONS, learn_astro: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(shape, domains, {"tau_mem": tau_mem}, tau_astro=tau_astro, K=K,
                         kappa_gain=kappa_gain, kappa_threshold=kappa_threshold,
                         kappa_current=kappa_current, modulation=modulation, learn_astro=learn_astro,
                         beta=beta, **kwargs)


class CubaAMSU(_AstroNeuron):
    """Astrocyte-modulated current-based LIF layer (the gain and slow current act on the synaptic
    input ``x`` before the current filter); ``forward -> (spikes, CubaAMSUState)``.

    Arguments: those of :class:`AMSU`, with the neuron arguments of :class:`neuro.nn.CubaLIF`.
    """

    model = F.CUBA_LIF
    state_type = CubaAMSUState

    def __init__(self, shape: int | Sequence[int], domains: DomainSpec, tau_mem: Number = 20e-3,
                 tau_syn: Number = 5e-3, w_in: Number = 1.0, beta: float | None = None,
                 tau_astro: Number = 0.2, K: Number = 0.1, kappa_gain: Number = 0.0,
                 kappa_threshold: Number = 0.0, kappa_current: Number = 0.0,
                 modulation: Sequence[str] = MODULATIONS, learn_astro: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(shape, domains, {"tau_mem": tau_mem, "tau_syn": tau_syn, "w_in": w_in},
                         tau_astro=tau_astro, K=K, kappa_gain=kappa_gain,
                         kappa_threshold=kappa_threshold, kappa_current=kappa_current,
                         modulation=modulation, learn_astro=learn_astro, beta=beta, **kwargs)
