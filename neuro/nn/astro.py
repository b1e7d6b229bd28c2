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

from typing import NamedTuple, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

from neuro.functional import lif as F
from neuro.nn.neurons import _COMMON_DOC, _Neuron, _common
from neuro.ops.amsu import AMSUConfig, Domains, amsu_scan
from neuro.validation import check_tensor

MODULATIONS = ("gain", "threshold", "current")
Number = Union[float, torch.Tensor]
DomainSpec = Union[Domains, int, Sequence, np.ndarray, torch.Tensor]


class AMSUState(NamedTuple):
    """State of :class:`AMSU`: membrane ``v [B, *features]`` and astrocytes ``a [B, D]``."""

    v: torch.Tensor
    a: torch.Tensor
    detach = F.state_detach
    to = F.state_to
    last = F.state_last


class CubaAMSUState(NamedTuple):
    """State of :class:`CubaAMSU`: current ``i``, membrane ``v`` and astrocytes ``a [B, D]``."""

    i: torch.Tensor
    v: torch.Tensor
    a: torch.Tensor
    detach = F.state_detach
    to = F.state_to
    last = F.state_last


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


class _AstroNeuron(_Neuron):
    """LIF-family neurons of the layer (parameters, config) plus the per-domain astrocytes."""

    state_type: type

    def __init__(self, shape: Union[int, Sequence[int]], domains: DomainSpec, *, tau_astro: Number,
                 K: Number, kappa_gain: Number, kappa_threshold: Number, kappa_current: Number,
                 modulation: Sequence[str], learn_astro: bool, **kwargs) -> None:
        if kwargs.get("reset") == "subtract_delayed":
            raise ValueError("AM-SU layers support reset='subtract', 'zero' or 'none'")
        super().__init__(shape, **kwargs)
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
        return self.log_tau_astro.exp()

    @property
    def K(self) -> torch.Tensor:
        return self.log_K.exp()

    def astro_table(self, dtype: torch.dtype, device) -> torch.Tensor:
        """``[5, D]`` rows ``gamma, K, kappa_g, kappa_th, kappa_I`` (differentiable)."""
        zeros = torch.zeros(self.domains.D, dtype=dtype, device=device)

        def get(name):
            return getattr(self, name).to(dtype) if name in self._parameters or name in self._buffers \
                else zeros

        gamma = torch.exp(-self.dt / self.log_tau_astro.to(dtype).exp())
        return torch.stack([gamma, self.log_K.to(dtype).exp(), get("kappa_gain"),
                            get("kappa_threshold"), get("kappa_current")]).to(device)

    def initial_state(self, like: torch.Tensor):
        """Fresh state for one step shaped like ``like`` (``[B, *features]``): neurons at rest,
        astrocytes at 0."""
        base = F.initial_state(self.model, self.parameters_physical, like)
        a = like.new_zeros((like.shape[0], self.domains.D))
        return self.state_type(*base, a)

    def _check_state(self, state, like: torch.Tensor) -> None:
        if not isinstance(state, self.state_type):
            raise TypeError(f"state must be a {self.state_type.__name__} (or None), "
                            f"got {type(state).__name__}")
        B = like.shape[0]
        for field, value in zip(state._fields, state):
            want = (B, self.domains.D) if field == "a" else tuple(like.shape)
            if not isinstance(value, torch.Tensor) or tuple(value.shape) != want:
                got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                raise ValueError(f"state.{field} has shape {got}, expected {want}")
            if value.dtype != like.dtype or value.device != like.device:
                raise TypeError(f"state.{field} must have dtype {like.dtype} on {like.device}")
        if bool((state.a < 0).any()):
            raise ValueError("state.a (astrocyte activity) must be >= 0")

    def forward(self, x: torch.Tensor, state=None):
        check_tensor(x, "x", 3, "[T, B, *features]")
        features = tuple(x.shape[2:])
        if features != self.shape:
            raise ValueError(f"x has features {features}, the layer was built for {self.shape}")
        dtype = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
        xc = x.to(dtype)
        T, B = x.shape[:2]
        if state is None:
            state = self.initial_state(xc[0])
        else:
            self._check_state(state, xc[0])
        p = self.parameters_physical
        prm = F.coefficients(self.model, p, features, dtype, x.device)
        aprm = self.astro_table(dtype, x.device)
        i0 = state.i if self.model.has_syn else torch.zeros_like(state.v)
        n = int(np.prod(features))
        res = amsu_scan(xc.reshape(T, B, n), prm, aprm, self.domains, i0.reshape(B, n),
                        state.v.reshape(B, n), state.a, self.amsu_cfg, record=self.record_states,
                        backend=self.backend)
        shape = (B,) + features
        fields = ((res.i_last.view(shape),) if self.model.has_syn else ()) + (res.v_last.view(shape),
                                                                             res.a_last)
        out = res.spikes.view(x.shape).to(x.dtype)
        if not self.record_states:
            return out, self.state_type(*fields)
        seq = (T,) + shape
        trace = ((res.i_seq.view(seq),) if self.model.has_syn else ()) + (res.v_seq.view(seq),
                                                                          res.a_seq)
        return out, self.state_type(*trace)

    def extra_repr(self) -> str:
        return (super().extra_repr() + f", domains={self.domains.D}, modulation={self.modulation}")


_ASTRO_DOC = """
    Astrocyte args: ``domains`` (a :class:`neuro.ops.amsu.Domains`, a number of contiguous domains,
    index groups, or per-neuron domain labels), ``tau_astro`` (astrocyte time constant, same unit
    as ``dt``), ``K`` (calcium half-activation), ``kappa_gain``, ``kappa_threshold``,
    ``kappa_current`` (initial couplings; numbers or one per domain), ``modulation`` (which of
    ``"gain"``, ``"threshold"``, ``"current"`` act), ``learn_astro`` (learn the astrocyte
    parameters).
"""


class AMSU(_AstroNeuron):
    """Astrocyte-modulated LIF layer; ``forward(x [T, B, *shape], state) -> (spikes, AMSUState)``.

    Example: ``AMSU(64, domains=8, tau_astro=0.5)`` — 64 LIF neurons in 8 astrocyte domains of 8.
    """

    model = F.LIF
    state_type = AMSUState
    _taus = ("tau_mem",)

    def __init__(self, shape: Union[int, Sequence[int]], domains: DomainSpec, tau_mem: Number = 20e-3,
                 beta: Optional[float] = None, tau_astro: Number = 0.2, K: Number = 0.1,
                 kappa_gain: Number = 0.0, kappa_threshold: Number = 0.0, kappa_current: Number = 0.0,
                 modulation: Sequence[str] = MODULATIONS, learn_astro: bool = True, **kwargs) -> None:
        super().__init__(shape, domains, tau_astro=tau_astro, K=K, kappa_gain=kappa_gain,
                         kappa_threshold=kappa_threshold, kappa_current=kappa_current,
                         modulation=modulation, learn_astro=learn_astro, tau_mem=tau_mem, beta=beta,
                         **_common(kwargs))


class CubaAMSU(_AstroNeuron):
    """Astrocyte-modulated current-based LIF layer (the gain and slow current act on the synaptic
    input ``x`` before the current filter)."""

    model = F.CUBA_LIF
    state_type = CubaAMSUState
    _taus = ("tau_mem", "tau_syn")
    _extra = ("w_in",)

    def __init__(self, shape: Union[int, Sequence[int]], domains: DomainSpec, tau_mem: Number = 20e-3,
                 tau_syn: Number = 5e-3, w_in: Number = 1.0, beta: Optional[float] = None,
                 tau_astro: Number = 0.2, K: Number = 0.1, kappa_gain: Number = 0.0,
                 kappa_threshold: Number = 0.0, kappa_current: Number = 0.0,
                 modulation: Sequence[str] = MODULATIONS, learn_astro: bool = True, **kwargs) -> None:
        super().__init__(shape, domains, tau_astro=tau_astro, K=K, kappa_gain=kappa_gain,
                         kappa_threshold=kappa_threshold, kappa_current=kappa_current,
                         modulation=modulation, learn_astro=learn_astro, tau_mem=tau_mem,
                         tau_syn=tau_syn, w_in=w_in, beta=beta, **_common(kwargs))


for _cls in (AMSU, CubaAMSU):
    _cls.__doc__ = (_cls.__doc__ or "") + _ASTRO_DOC + _COMMON_DOC
del _cls
