"""Tripartite wiring: neuron -> neuron synapses paired with astrocytes (NEST's
``tripartite_bernoulli_with_pool`` rule, drawn with our own seeded generator).

For every pair ``(pre, post)`` a primary synapse exists with probability ``p_primary``; each
primary synapse is paired, with probability ``p_third_if_primary``, with one astrocyte chosen
uniformly from the target neuron's *pool*, which adds ``pre -> astrocyte`` (IP3 drive) and
``astrocyte -> post`` (SIC) connections. Pools (``pool_size`` astrocytes per target):

* ``"random"``: drawn without replacement for each target independently;
* ``"block"``: astrocytes are split evenly over the targets in index order (needs
  ``n_astrocytes`` to be a multiple of ``n_post`` with ``pool_size = n_astrocytes / n_post``, or
  ``n_post`` a multiple of ``n_astrocytes`` with ``pool_size = 1``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TripartiteSpec:
    """Weights (nS for neuron synapses, IP3 weight, SIC weight) and delays (ms) of each part."""

    weight: float = 1.0
    delay: float = 1.0
    weight_astro: float = 1.0
    delay_astro: float = 1.0
    weight_sic: float = 1.0
    delay_sic: float = 1.0


def astrocyte_pools(n_post: int, n_astrocytes: int, pool_size: int, pool_type: str,
                    rng: np.random.Generator) -> np.ndarray:
    """``[n_post, pool_size]`` astrocyte indices of every target neuron's pool."""
    if pool_type not in ("random", "block"):
        raise ValueError(f"pool_type must be 'random' or 'block', got {pool_type!r}")
    if not (1 <= pool_size <= n_astrocytes):
        raise ValueError(f"pool_size must be in 1..n_astrocytes={n_astrocytes}, got {pool_size}")
    if pool_type == "random":
        return np.stack([rng.choice(n_astrocytes, pool_size, replace=False) for _ in range(n_post)]
                        ).reshape(n_post, pool_size)
    if n_astrocytes >= n_post:
        if n_astrocytes % n_post or pool_size != n_astrocytes // n_post:
            raise ValueError("pool_type='block' with more astrocytes than targets needs n_astrocytes "
                             f"= k * n_post and pool_size = k (got {n_astrocytes}, {n_post}, {pool_size})")
        return np.arange(n_astrocytes).reshape(n_post, pool_size)
    if n_post % n_astrocytes or pool_size != 1:
        raise ValueError("pool_type='block' with fewer astrocytes than targets needs n_post = "
                         f"k * n_astrocytes and pool_size = 1 (got {n_post}, {n_astrocytes}, {pool_size})")
    return (np.arange(n_post) // (n_post // n_astrocytes)).reshape(n_post, 1)


def draw_tripartite(pre, post, astrocytes, p_primary: float, p_third_if_primary: float,
                    pool_size: int, pool_type: str, rng: np.random.Generator,
                    allow_autapses: bool = False) -> dict:
    """Draw the rule over neuron ids ``pre``, ``post`` and astrocyte ids ``astrocytes`` (equal
    ids in ``pre`` and ``post`` are the same neuron: no synapse unless ``allow_autapses``).

    Returns ``{"pre", "post"}`` (primary synapses) and ``{"astro_pre", "astro", "astro_post"}``
    (the paired ones: ``astro_pre -> astro`` IP3 drive and ``astro -> astro_post`` SIC), as ids.
    """
    for name, p in (("p_primary", p_primary), ("p_third_if_primary", p_third_if_primary)):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{name} must be a probability in [0, 1], got {p}")
    pre, post, astro = (np.atleast_1d(np.asarray(a, np.int64)) for a in (pre, post, astrocytes))
    if astro.size == 0:
        raise ValueError("tripartite wiring needs at least one astrocyte")
    pools = astro[astrocyte_pools(post.size, astro.size, pool_size, pool_type, rng)]
    mask = rng.random((pre.size, post.size)) < p_primary
    if not allow_autapses:
        mask &= pre[:, None] != post[None, :]
    i, j = np.nonzero(mask)
    third = rng.random(i.size) < p_third_if_primary
    pick = pools[j[third], rng.integers(0, pools.shape[1], size=int(third.sum()))]
    return {"pre": pre[i], "post": post[j], "astro_pre": pre[i[third]], "astro": pick,
            "astro_post": post[j[third]]}


def tripartite_bernoulli_with_pool(net, pre, post, astrocytes, p_primary: float = 1.0,
                                   p_third_if_primary: float = 1.0, pool_size: int = 1,
                                   pool_type: str = "random", spec: TripartiteSpec = TripartiteSpec(),
                                   seed: int = 0, allow_autapses: bool = False) -> dict:
    """Wire ``pre -> post`` neurons of ``net`` (a :class:`~neuro.astro.network.TripartiteNetwork`)
    with astrocytes ``astrocytes`` (indices); returns the drawn index arrays
    ``{"pre", "post", "astro_pre", "astro", "astro_post"}`` (:func:`draw_tripartite`).
    ``neuro.sim.Network.connect_tripartite`` applies the same rule to a simulated network."""
    drawn = draw_tripartite(pre, post, astrocytes, p_primary, p_third_if_primary, pool_size,
                            pool_type, np.random.default_rng(seed), allow_autapses)
    net.connect_neurons(drawn["pre"], drawn["post"], spec.weight, spec.delay)
    net.connect_neuron_astrocyte(drawn["astro_pre"], drawn["astro"], spec.weight_astro, spec.delay_astro)
    net.connect_sic(drawn["astro"], drawn["astro_post"], spec.weight_sic, spec.delay_sic)
    return drawn
