"""Astrocytes and tripartite synapses: NEST's ``astrocyte_lr_1994`` (Li-Rinzel) and
``aeif_cond_alpha_astro`` on Numba CPU / numba.cuda kernels, reproducing NEST 3.10's traces.

* :class:`Astrocytes`, :class:`AeifAstroNeurons` — populations with ``step_many(state, inputs)``;
* :class:`TripartiteNetwork` — neurons + astrocytes with delayed spikes and slow inward currents;
* :func:`tripartite_bernoulli_with_pool` — NEST's tripartite connection rule.

Astrocytes inside the general simulation API (LIF-family populations, projections, monitors) are
:class:`neuro.sim.AstrocytePopulation`; they step with the same kernels.

The trainable astrocyte-modulated spiking unit for deep learning is :class:`neuro.nn.AMSU`.
"""

from neuro.astro.builder import (
                                 TripartiteSpec,
                                 astrocyte_pools,
                                 draw_tripartite,
                                 tripartite_bernoulli_with_pool,
)
from neuro.astro.network import TripartiteNetwork, TripartiteResult
from neuro.astro.parameters import AeifAstroParameters, AstrocyteParameters
from neuro.astro.populations import AeifAstroNeurons, AeifAstroState, Astrocytes, AstrocyteState

__all__ = ["AeifAstroNeurons", "AeifAstroParameters", "AeifAstroState", "AstrocyteParameters",
           "AstrocyteState", "Astrocytes", "TripartiteNetwork", "TripartiteResult", "TripartiteSpec",
           "astrocyte_pools", "draw_tripartite", "tripartite_bernoulli_with_pool"]
