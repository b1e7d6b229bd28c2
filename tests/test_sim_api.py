"""Simulation API semantics: connectivity rules, delays, refractoriness, exact integration, inputs,
monitors, plots."""

import math

import numpy as np
import torch

import neuro.sim as sim
from neuro.sim.plots import isi_histogram, raster_plot, rate_plot


def _pairs(connector, n_pre, n_post, seed=0, same=False, pos=None):
    ids = np.arange(n_pre) if same else None
    return connector.connect(n_pre, n_post, np.random.default_rng(seed), ids, ids if same else None,
                             pos, pos)


def test_fixed_probability_statistics_and_no_duplicates():
    pre, post = _pairs(sim.FixedProbability(0.05), 800, 900)
    expected = 0.05 * 800 * 900
    assert abs(len(pre) - expected) < 4 * math.sqrt(expected)
    assert len(np.unique(pre * 900 + post)) == len(pre)
    pre, post = _pairs(sim.FixedProbability(0.5, allow_self=False), 200, 200, same=True)
    assert not (pre == post).any() and len(np.unique(pre * 200 + post)) == len(pre)
    pre, post = _pairs(sim.FixedProbability(0.05, allow_self=False), 300, 300, same=True)
    assert not (pre == post).any()


def test_fixed_in_degree_is_exact():
    pre, post = _pairs(sim.FixedInDegree(17, allow_self=False), 60, 60, same=True)
    assert np.array_equal(np.bincount(post, minlength=60), np.full(60, 17))
    assert not (pre == post).any() and len(np.unique(pre * 60 + post)) == len(pre)


def test_all_to_all_and_from_list():
    pre, post = _pairs(sim.AllToAll(allow_self=False), 5, 5, same=True)
    assert len(pre) == 20 and not (pre == post).any()
    pre, post = _pairs(sim.FromList([0, 0, 3], [2, 2, 1]), 4, 3)
    assert pre.tolist() == [0, 0, 3] and post.tolist() == [2, 2, 1]


def test_distance_probability_follows_gaussian_profile():
    pos = sim.grid_positions((12, 12, 6))
    C, lam = 0.6, 2.0
    pre, post = _pairs(sim.DistanceProbability(C, lam), len(pos), len(pos), same=True, pos=pos)
    assert not (pre == post).any()
    d2_all = ((pos[:, None] - pos[None]) ** 2).sum(-1)
    connected = np.zeros_like(d2_all, dtype=bool)
    connected[pre, post] = True
    for d2 in (1.0, 2.0, 4.0, 5.0):  # empirical vs C exp(-(D/lambda)^2) at several distances
        sel = d2_all == d2
        expected = C * math.exp(-d2 / lam ** 2)
        n = sel.sum()
        assert abs(connected[sel].mean() - expected) < 4 * math.sqrt(expected * (1 - expected) / n) + 1e-3


def test_delay_arrives_exactly_and_exact_integration_matches_analytic():
    """One input spike at step 10 with a 3 ms delay into an exponential channel: the membrane must
    follow the closed-form solution of tau_m v' = -v + g, tau_c g' = -g from step 10 + 1 + 3."""
    dt, tau_m, tau_c, w = 1e-3, 20e-3, 5e-3, 0.5
    net = sim.Network(dt=dt, dtype=torch.float64)
    src = net.add(sim.SpikeSource(1, times=[10 * dt], indices=[0]))
    pop = net.add(sim.Population(1, "LIF", tau_mem=tau_m, v_th=1e9, synapses={"e": tau_c}))
    net.add(sim.Projection(src, pop, sim.AllToAll(), weight=w, delay=3e-3))
    mon = net.add(sim.StateMonitor(pop, ["v", "g_e"]))
    net.run(0.06, progress=False)
    v, g = mon.v[:, 0], mon["g_e"][:, 0]
    first = 10 + 1 + 3
    assert np.all(v[:first] == 0) and v[first] > 0
    k = np.arange(len(v)) - first + 1.0  # steps integrated since the weight arrived
    t = np.clip(k, 0, None) * dt
    analytic = w * tau_c / (tau_c - tau_m) * (np.exp(-t / tau_c) - np.exp(-t / tau_m))
    np.testing.assert_allclose(v[first:], analytic[first:], rtol=1e-9)
    np.testing.assert_allclose(g[first:], w * np.exp(-t[first:] / tau_c), rtol=1e-12)


def test_refractory_period_follows_brian2_convention():
    """A strongly driven neuron with refractory 5 ms at dt 1 ms fires every 5 steps."""
    net = sim.Network(dt=1e-3)
    pop = net.add(sim.Population(3, "LIF", tau_mem=10e-3, v_th=1.0, bias=1e3,
                                 refractory=np.array([0.0, 5e-3, 2.5e-3])))
    spikes = net.add(sim.SpikeMonitor(pop))
    net.run(0.05, progress=False)
    trains = spikes.spike_trains()
    assert np.allclose(np.diff(trains[0]), 1e-3)
    assert np.allclose(np.diff(trains[1]), 5e-3)
    assert np.allclose(np.diff(trains[2]), 2e-3)  # refractory rounds down to whole steps, like Brian2


def test_poisson_input_rate_and_reproducibility():
    def run(seed):
        net = sim.Network(dt=1e-4, seed=seed)
        p = net.add(sim.PoissonInput(500, rates=40.0))
        net.add(sim.Population(1, "LIF"))
        m = net.add(sim.SpikeMonitor(p))
        net.run(1.0, progress=False)
        return m

    a, b, c = run(1), run(1), run(2)
    assert abs(a.num_spikes - 20000) < 4 * math.sqrt(20000)
    assert np.array_equal(a.steps, b.steps) and np.array_equal(a.indices, b.indices)
    assert not np.array_equal(a.indices[:100], c.indices[:100])


def test_spike_source_from_tonic_events_and_current_input():
    dtype = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", np.int8)])
    events = np.array([(1, 0, 1000, 1), (0, 1, 3000, 0), (1, 1, 3000, 1), (1, 1, 3050, 1)], dtype)
    src = sim.SpikeSource.from_events(events, sensor_size=(2, 2, 2))
    assert src.n == 8
    np.testing.assert_allclose(src.times, [0.0, 2e-3, 2e-3, 2.05e-3])
    assert src.spike_indices.tolist() == [1 * 4 + 0 * 2 + 1, 0 * 4 + 1 * 2 + 0, 7, 7]
    net = sim.Network(dt=1e-3)
    net.add(src)
    pop = net.add(sim.Population(2, "IF", v_th=1e9, decay_input=False))
    net.add(sim.CurrentInput(pop[1:], [1.0, 2.0, 3.0], value_dt=2e-3))
    mon = net.add(sim.SpikeMonitor(src))
    v = net.add(sim.StateMonitor(pop, "v"))
    net.run(0.008, progress=False)
    # two events of one pixel in one step count once; steps round(t / dt)
    assert mon.steps.tolist() == [0, 2, 2] and mon.indices.tolist() == [5, 2, 7]
    # IF integrates the held current samples 1,1,2,2,3,3 then nothing
    np.testing.assert_allclose(v.v[:, 1], np.cumsum([1, 1, 2, 2, 3, 3, 0, 0]))
    assert (v.v[:, 0] == 0).all()


def test_monitors_intervals_views_and_rates():
    net = sim.Network(dt=1e-3, seed=0)
    pop = net.add(sim.Population(30, "ALIF", tau_mem=10e-3, v_th=1.0, bias=sim.Uniform(1.2, 3.0)))
    sub = net.add(sim.SpikeMonitor(pop[10:20]))
    rate = net.add(sim.RateMonitor(pop))
    st = net.add(sim.StateMonitor(pop, ("v", "a"), indices=[0, 29], every=5e-3))
    net.run(0.1, progress=False)
    assert set(np.unique(sub.indices)) <= set(range(10, 20)) and sub.num_spikes > 0
    assert st.v.shape == (20, 2) and st.a.shape == (20, 2)
    np.testing.assert_allclose(st.times, (np.arange(0, 100, 5) + 1) * 1e-3)
    assert rate.counts.sum() >= sub.num_spikes
    assert rate.rate(bin=10e-3).shape == (100,)
    assert math.isclose(rate.mean_rate(), rate.counts.sum() / (30 * 0.1))


def test_plots_are_written(tmp_path):
    net = sim.Network(dt=1e-3, seed=0)
    pop = net.add(sim.Population(20, "LIF", tau_mem=10e-3, v_th=1.0, bias=sim.Uniform(1.0, 2.0)))
    spikes, rate = net.add(sim.SpikeMonitor(pop), sim.RateMonitor(pop))
    net.run(0.2, progress=False)
    for fn, arg, name in ((raster_plot, spikes, "raster.png"), (rate_plot, rate, "rate.png"),
                          (isi_histogram, spikes, "isi.png")):
        fn(arg, tmp_path / name)
        assert (tmp_path / name).stat().st_size > 1000
    assert not list(tmp_path.glob(".*tmp*"))
