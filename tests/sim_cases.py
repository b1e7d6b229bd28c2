"""Small networks shared by the simulation tests.

Weights are multiples of 1/16 (and inputs of 1/64), so every sum of weights the kernels and the
dense reference compute is exact in float32 and float64 whatever the summation order: spike
trains must then be identical between backends, not just close.
"""

from __future__ import annotations

import numpy as np
import torch

import neuro.sim as sim


def dyadic(scale: float, low: int = 1, high: int = 8):
    """Random weights ``scale * k / 16`` with integer ``k`` in ``[low, high)``."""
    return lambda rng, n: rng.integers(low, high, n) / 16 * scale


def mixed_network(backend: str, dtype=torch.float64, seed: int = 3, device: str = "cpu"):
    """Every feature at once: three models, per-neuron parameters, four channel kinds, delays,
    refractoriness, Poisson and spike-generator inputs, a time-varying current, all monitors.
    ``device``: where the network's state lives (``"cuda"`` for the CUDA kernel on a real GPU)."""
    net = sim.Network(dt=1e-3, seed=seed, dtype=dtype, device=device, backend=backend)
    A = net.add(sim.Population(40, "LIF", tau_mem=10e-3, v_th=sim.Uniform(0.9, 1.1), refractory=3e-3,
                               synapses={"exc": 5e-3, "inh": 8e-3}, v_init=sim.Uniform(0, 1), name="A"))
    B = net.add(sim.Population(20, "ALIF", tau_mem=15e-3, v_th=0.5, beta_adapt=0.25, reset="subtract",
                               threshold_op=">=", synapses={"exc": None}, bias=0.0625, decay_input=False,
                               name="B"))
    C = net.add(sim.Population(12, "CubaLIF", tau_mem=10e-3, tau_syn=4e-3, integration="euler",
                               v_th=2.5, refractory=2e-3, decay_input=False, name="C"))
    P = net.add(sim.PoissonInput(30, rates=sim.Uniform(40, 120), name="P"))
    G = net.add(sim.SpikeSource(5, times=[0.001, 0.002, 0.01, 0.0104, 0.05, 0.12],
                                indices=[0, 1, 2, 2, 4, 3], name="G"))
    net.add(sim.CurrentInput(A[:5], np.round(np.linspace(0, 0.5, 100) * 64) / 64, name="I"))
    net.add(sim.Projection(P, A, sim.FixedProbability(0.3), weight=dyadic(1.0), target="exc",
                           delay=sim.Uniform(0, 3e-3)))
    net.add(sim.Projection(A[:30], A, sim.FixedProbability(0.2), weight=dyadic(0.5), target="exc"))
    net.add(sim.Projection(A[30:], A, sim.FixedInDegree(3), weight=dyadic(-1.0), target="inh", delay=2e-3))
    net.add(sim.Projection(A, B, sim.FixedProbability(0.3), weight=dyadic(1.0), delay=1e-3))
    net.add(sim.Projection(B, C, sim.AllToAll(), weight=dyadic(0.0625)))
    net.add(sim.Projection(G, C, sim.FromList([0, 1, 2, 4, 3], [0, 3, 5, 9, 11]), weight=2.0))
    mons = dict(A=net.add(sim.SpikeMonitor(A)), B=net.add(sim.SpikeMonitor(B)),
                C=net.add(sim.SpikeMonitor(C)), P=net.add(sim.SpikeMonitor(P[:10])),
                G=net.add(sim.SpikeMonitor(G)),
                state=net.add(sim.StateMonitor(B, ["v", "a", "g_exc"], indices=[0, 3], every=2e-3)),
                stateC=net.add(sim.StateMonitor(C, ["v", "i"], indices=[1])),
                rate=net.add(sim.RateMonitor(A)))
    return net, mons


def small_cuba(backend: str, dtype=torch.float32, n: int = 200, seed: int = 5, device: str = "cpu"):
    """A CUBA-like homogeneous network (exp channels, exact integration, zero reset, refractory)."""
    net = sim.Network(dt=1e-4, seed=seed, dtype=dtype, device=device, backend=backend)
    P = net.add(sim.Population(n, "LIF", tau_mem=20e-3, v_th=-50e-3, v_reset=-60e-3, v_leak=-49e-3,
                               refractory=5e-3, synapses={"exc": 5e-3, "inh": 10e-3},
                               v_init=sim.Uniform(-60e-3, -50e-3), name="P"))
    n_e = n * 4 // 5
    net.add(sim.Projection(P[:n_e], P, sim.FixedProbability(0.1), weight=2.0 ** -9, target="exc"))
    net.add(sim.Projection(P[n_e:], P, sim.FixedProbability(0.1), weight=-(2.0 ** -7), target="inh"))
    return net, net.add(sim.SpikeMonitor(P)), net.add(sim.RateMonitor(P))
