"""Weights readable and writable between runs (``proj.weights``, ``proj.set_weights``) and
``WeightMonitor`` (issue 21, section 1: the part that needs no plasticity rule)."""

import numpy as np
import pytest
import torch

import neuro.sim as sim

# the dense torch reference does many tiny ops: a second torch thread only contends on a shared
# 2-core machine (measured 4 x slower with two under load)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _chain(backend="numba", dtype=torch.float64):
    """One source spiking at 5 and 15 ms onto one non-spiking neuron through a 'jump' delta synapse."""
    net = sim.Network(dt=1e-4, dtype=dtype, backend=backend)
    pop = net.add(sim.Population(1, "LIF", tau_mem=20e-3, v_th=1.0, v_leak=0.0, v_reset=0.0,
                                 delta_synapse="jump", name="post"))
    src = net.add(sim.SpikeSource(1, [5e-3, 15e-3], [0, 0], name="src"))
    proj = net.add(sim.Projection(src, pop, sim.AllToAll(), weight=1e-3, name="syn"))
    v = net.add(sim.StateMonitor(pop, "v"))
    return net, proj, v


def _jumps(trace: np.ndarray) -> np.ndarray:
    """The jumps of a membrane trace that otherwise decays to 0 (by ``beta`` per step)."""
    d = trace[1:] - np.exp(-1e-4 / 20e-3) * trace[:-1]
    return d[np.abs(d) > 1e-12]


def test_weights_come_back_in_the_connectors_order():
    net = sim.Network(dt=1e-4, dtype=torch.float64)
    a = net.add(sim.Population(6, name="a"))
    b = net.add(sim.Population(5, name="b"))
    pre, post = np.array([4, 0, 3, 3, 1, 5]), np.array([0, 4, 1, 2, 2, 0])  # not sorted by source
    w = np.array([0.6, 0.1, 0.4, 0.35, 0.2, 0.5])
    listed = net.add(sim.Projection(a, b, sim.FromList(pre, post), weight=w))
    indeg = net.add(sim.Projection(a, b, sim.FixedInDegree(3), weight=lambda rng, n: np.arange(n) / 10))
    np.testing.assert_array_equal(listed.weights, w)
    np.testing.assert_array_equal(listed.connections[0], pre)
    np.testing.assert_array_equal(listed.connections[1], post)
    np.testing.assert_array_equal(indeg.weights, np.arange(15) / 10)  # FixedInDegree lists by target
    ipre, ipost = indeg.connections
    np.testing.assert_array_equal(ipost, np.repeat(np.arange(5), 3))
    table_pre, table_post, table_w = net.synapses(indeg)  # the table's order: by source
    lookup = {(p, q): x for p, q, x in zip(table_pre, table_post, table_w)}
    assert [lookup[(p, q)] for p, q in zip(ipre, ipost)] == pytest.approx(indeg.weights.tolist())
    assert listed.n_synapses == 6 and indeg.n_synapses == 15


def test_weights_are_a_copy():
    net, proj, _ = _chain()
    w = proj.weights
    w[:] = 99.0
    assert proj.weights[0] == 1e-3


def test_set_weights_takes_effect_on_the_next_run_and_keeps_the_state():
    net, proj, v = _chain()
    net.run(10e-3, progress=False)
    v_before = v.v[-1, 0]
    assert v_before > 0  # the first spike's jump, decaying
    proj.set_weights([2.5e-3])
    np.testing.assert_array_equal(proj.weights, [2.5e-3])
    net.run(10e-3, progress=False)
    trace = v.v[:, 0]
    assert trace[100] == pytest.approx(v_before * np.exp(-1e-4 / 20e-3), rel=1e-12)  # no restart
    assert _jumps(trace) == pytest.approx([1e-3, 2.5e-3], rel=1e-9)


def test_a_hand_written_rule_between_runs():
    """The use the issue could not serve: a rule that changes weights from the recorded activity."""
    net = sim.Network(dt=1e-4, seed=2)
    inp = net.add(sim.PoissonInput(50, 40.0, name="in"))
    pop = net.add(sim.Population(20, "LIF", tau_mem=20e-3, v_th=-50e-3, v_reset=-60e-3, v_leak=-60e-3,
                                 synapses={"exc": 5e-3}, name="out"))
    proj = net.add(sim.Projection(inp, pop, sim.FixedProbability(0.5), weight=1e-3))
    spikes = net.add(sim.SpikeMonitor(pop))
    counts = []
    for _ in range(4):
        before = spikes.num_spikes
        net.run(0.1, progress=False)
        counts.append(spikes.num_spikes - before)
        proj.set_weights(proj.weights * 1.5)  # potentiate everything
    assert counts[0] < counts[-1]


@pytest.mark.parametrize("bad, message", [
    (np.ones(3), r"syn.weights has shape \(3,\), expected \(1,\)"),
    (np.array([np.nan]), "syn.weights contains NaN"),
    ([1e39], "syn.weights overflow float32"),
    ("strong", "syn.weights must be a number"),
])
def test_set_weights_validates(bad, message):
    net, proj, _ = _chain(dtype=torch.float32)
    with pytest.raises((ValueError, TypeError), match=message):
        proj.set_weights(bad)
    proj.set_weights(0.5)  # a scalar sets every synapse
    assert proj.weights.tolist() == [0.5]


def test_weights_need_the_network():
    pop = sim.Population(2)
    proj = sim.Projection(pop, pop, sim.AllToAll())
    with pytest.raises(RuntimeError, match="has not been added to a Network"):
        _ = proj.weights
    one, two = sim.Network(), sim.Network()
    for net in (one, two):
        net.add(pop, proj)
    with pytest.raises(RuntimeError, match="belongs to 2 networks"):
        _ = proj.weights
    assert one.get_weights(proj).tolist() == [1.0] * 4


def test_reset_and_scale_keep_the_set_weights():
    net, proj, v = _chain()
    proj.set_weights([2e-3])
    net.run(20e-3, progress=False)
    net.reset()
    assert proj.weights.tolist() == [2e-3]
    net.scale_projections([proj], 0.5)  # relative to the last set values
    assert proj.weights.tolist() == [1e-3]


def test_other_backends_refresh_or_refuse():
    """Runners that copy weights when they start need ``refresh_weights()`` mid-simulation."""
    net, proj, v = _chain(backend="torch")
    proj.set_weights([2e-3])  # before the first run: always fine
    net.run(10e-3, progress=False)
    if hasattr(net._runner, "refresh_weights"):
        proj.set_weights([3e-3])
        net.run(10e-3, progress=False)
        assert _jumps(v.v[:, 0]) == pytest.approx([2e-3, 3e-3], rel=1e-9)
    else:
        with pytest.raises(RuntimeError, match="refresh_weights"):
            proj.set_weights([3e-3])
    net.reset()
    proj.set_weights([4e-3])  # at time 0 the runner starts afresh
    v._clear()
    net.run(20e-3, progress=False)
    assert _jumps(v.v[:, 0]) == pytest.approx([4e-3, 4e-3], rel=1e-9)


def test_weight_monitor_records_chosen_synapses():
    net = sim.Network(dt=1e-4, dtype=torch.float64)
    a = net.add(sim.Population(4, name="a"))
    proj = net.add(sim.Projection(a, a, sim.FixedInDegree(2), weight=lambda rng, n: np.arange(n) * 1e-3))
    mon = net.add(sim.WeightMonitor(proj, synapses=[5, 0, 7], every=1e-3))
    every = net.add(sim.WeightMonitor(proj))
    net.run(5e-3, progress=False)
    assert mon.weights.shape == (5, 3) and mon.steps.tolist() == [0, 10, 20, 30, 40]
    np.testing.assert_allclose(mon.times, (mon.steps + 1) * 1e-4)
    np.testing.assert_array_equal(mon.weights, np.tile([5e-3, 0.0, 7e-3], (5, 1)))
    assert every.weights.shape == (50, 8)
    proj.set_weights(np.full(8, 2e-3))
    net.run(2e-3, progress=False)
    assert mon.steps.tolist()[-2:] == [50, 60]
    np.testing.assert_array_equal(mon.weights[-2:], np.full((2, 3), 2e-3))
    net.reset()
    assert mon.weights.shape == (0, 3)


def test_weight_monitor_validation():
    net = sim.Network()
    a = net.add(sim.Population(3, name="a"))
    proj = net.add(sim.Projection(a, a, sim.FixedInDegree(1)))
    net.add(sim.WeightMonitor(proj, synapses=[3], name="w"))
    with pytest.raises(ValueError, match="w: synapse index 3 is out of range: .* has 3 synapses"):
        _ = net.compiled
    with pytest.raises(ValueError, match="every must be > 0"):
        sim.WeightMonitor(proj, every=0.0)
    with pytest.raises(ValueError, match="synapse indices"):
        sim.WeightMonitor(proj, synapses=[True])
    with pytest.raises(TypeError, match="records a Projection"):
        sim.WeightMonitor(a)
    other = sim.Network()
    other.add(a)
    other.add(sim.WeightMonitor(proj, name="stray"))
    with pytest.raises(ValueError, match="stray watches"):
        _ = other.compiled


def test_plastic_projections_record_weights_as_the_kernel_leaves_them(monkeypatch):
    """With a rule, a run is split right after each recording step and the weights read there: a
    runner that changes weights where the host cannot see them is asked for them (``sync_weights``)
    and recorded exactly (here the runner's weights are overwritten with ``t + 1`` after each piece)."""
    net = sim.Network(dt=1e-4, dtype=torch.float64, backend="torch")
    a = net.add(sim.Population(3, name="a"))
    proj = net.add(sim.Projection(a, a, sim.FixedInDegree(1), plasticity=sim.STDP(w_max=100.0)))
    mon = net.add(sim.WeightMonitor(proj, every=7e-4))
    net.run(0.0, progress=False)  # builds the runner
    runner, pieces = net._runner, []
    real_run = runner.run

    def run(t0, t1):
        pieces.append((t0, t1))
        out = real_run(t0, t1)
        runner.w[:] = t1  # the weights "after step t1 - 1", in the runner only
        return out

    monkeypatch.setattr(runner, "run", run)
    net.run(3e-3, progress=False, chunk_steps=1000)
    assert mon.steps.tolist() == [0, 7, 14, 21, 28]
    np.testing.assert_array_equal(mon.weights[:, 0], mon.steps + 1)
    assert pieces == [(0, 1), (1, 8), (8, 15), (15, 22), (22, 29), (29, 30)]
