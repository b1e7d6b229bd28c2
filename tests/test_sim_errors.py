"""Bad simulation input fails before the run starts, with an error that names the problem."""

import numpy as np
import pytest
import torch

import neuro.sim as sim

# the dense torch reference does many tiny ops: a second torch thread only contends on a shared
# 2-core machine (measured 4 x slower with two under load)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _net(**kw):
    net = sim.Network(dt=1e-3, **kw)
    pop = net.add(sim.Population(10, "LIF", tau_mem=10e-3, synapses={"exc": 5e-3, "inh": 10e-3}, name="pop"))
    return net, pop


@pytest.mark.parametrize("make, message", [
    (lambda: sim.FixedProbability(1.5), "probability p must be in"),
    (lambda: sim.FixedProbability(-0.1), "probability p must be in"),
    (lambda: sim.FixedInDegree(-2), "in-degree k"),
    (lambda: sim.DistanceProbability(C=1.3, lam=2.0), "0 <= C <= 1"),
    (lambda: sim.DistanceProbability(C=0.3, lam=0.0), "lambda > 0"),
    (lambda: sim.Uniform(2.0, 1.0), "low <= high"),
    (lambda: sim.Normal(0.0, -1.0), "std >= 0"),
])
def test_impossible_connectivity_parameters(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_in_degree_larger_than_the_source_population():
    net, pop = _net()
    net.add(sim.Projection(pop, pop, sim.FixedInDegree(10, allow_self=False), target="exc"))
    with pytest.raises(ValueError, match="in-degree k=10 is impossible"):
        net.run(0.01, progress=False)


def test_distance_rule_needs_positions():
    net, pop = _net()
    net.add(sim.Projection(pop, pop, sim.DistanceProbability(0.3, 2.0), target="exc"))
    with pytest.raises(ValueError, match="needs positions"):
        net.run(0.01, progress=False)


def test_negative_delays():
    net, pop = _net()
    with pytest.raises(ValueError, match="delays must be >= 0"):
        sim.Projection(pop, pop, sim.FixedProbability(0.5), target="exc", delay=-1e-3)
    net.add(sim.Projection(pop, pop, sim.FixedProbability(0.5), target="exc",
                           delay=lambda rng, n: rng.uniform(-2e-3, 1e-3, n)))
    with pytest.raises(ValueError, match="delays must be >= 0"):
        net.run(0.01, progress=False)


@pytest.mark.parametrize("kwargs, message", [
    (dict(tau_mem=0.5e-3), "tau_mem = 0.0005 s is shorter than the time step"),
    (dict(synapses={"exc": 0.2e-3}), r"synapses\['exc'\] = 0.0002 s is shorter"),
    (dict(model="CubaLIF", tau_syn=1e-4), "tau_syn = 0.0001 s is shorter"),
    (dict(model="ALIF", tau_adapt=np.array([1.0] * 9 + [1e-5])), "tau_adapt = 1e-05 s is shorter"),
])
def test_dt_larger_than_a_time_constant(kwargs, message):
    net = sim.Network(dt=1e-3)
    net.add(sim.Population(10, name="pop", **kwargs))
    with pytest.raises(ValueError, match=message):
        net.run(0.01, progress=False)


def test_monitor_on_unknown_variable_or_channel():
    net, pop = _net()
    with pytest.raises(ValueError, match=r"no variable\(s\) \['w'\].*can record \('v', 'g_exc', 'g_inh'\)"):
        sim.StateMonitor(pop, ["v", "w"])
    with pytest.raises(ValueError, match=r"no variable\(s\) \['a'\]"):
        sim.StateMonitor(pop, "a")  # LIF has no adaptation
    with pytest.raises(ValueError, match="has no synaptic channel 'gaba'"):
        sim.Projection(pop, pop, sim.FixedProbability(0.1), target="gaba")
    with pytest.raises(ValueError, match="name the target channel"):
        sim.Projection(pop, pop, sim.FixedProbability(0.1))


@pytest.mark.parametrize("make, error, message", [
    (lambda: sim.Population(0), ValueError, "positive integer"),
    (lambda: sim.Population(5, "LI"), ValueError, "model must be one of"),
    (lambda: sim.Population(5, reset="subtract_delayed"), ValueError, "reset must be one of"),
    (lambda: sim.Population(5, v_th=np.ones(4)), ValueError, r"v_th has shape \(4,\), expected \(5,\)"),
    (lambda: sim.Population(5, v_th=np.array([1.0, np.nan, 1, 1, 1])), ValueError, "NaN or inf"),
    (lambda: sim.Population(5, synapses={"e": -1.0}), ValueError, "must be >= 0 seconds"),
    (lambda: sim.Population(5, grid=(2, 2)), ValueError, "positions must be a finite"),
    (lambda: sim.SpikeSource(3, times=[0.1, 0.2], indices=[0, 3]), ValueError,
     r"indices must be in \[0, 3\)"),
    (lambda: sim.SpikeSource(3, times=[-0.1], indices=[0]), ValueError, "finite and >= 0"),
    (lambda: sim.SpikeSource(3, times=[0.1, 0.2], indices=[0]), ValueError, "same length"),
    (lambda: sim.PoissonInput(3, rates=-5.0), ValueError, "rates must be >= 0"),
    (lambda: sim.Network(dt=0.0), ValueError, "dt must be a positive"),
    (lambda: sim.Network(dtype=torch.float16), TypeError, "dtype must be"),
    (lambda: sim.Network(backend="jax"), ValueError, "backend must be one of"),
])
def test_bad_constructor_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_bad_run_time_inputs():
    net, pop = _net()
    p = net.add(sim.PoissonInput(4, rates=5000.0, name="fast"))
    net.add(sim.Projection(p, pop, sim.AllToAll(), target="exc"))
    with pytest.raises(ValueError, match=r"fast: rates must be in \[0, 1/dt\]"):
        net.run(0.01, progress=False)
    net, pop = _net()
    net.add(sim.Projection(pop, pop, sim.FixedProbability(0.5), target="exc", weight=np.ones(3)))
    with pytest.raises(ValueError, match=r"weight has shape \(3,\)"):
        net.run(0.01, progress=False)
    net, pop = _net()
    with pytest.raises(ValueError, match="duration must be"):
        net.run(float("nan"))
    other = sim.Population(3, name="stranger")
    net.add(sim.Projection(other, pop, sim.AllToAll(), target="exc"))
    with pytest.raises(ValueError, match="uses stranger, which was not added"):
        net.run(0.01, progress=False)


def test_structure_is_frozen_after_the_first_run():
    net, pop = _net()
    net.run(0.002, progress=False)
    with pytest.raises(RuntimeError, match="already run"):
        net.add(sim.SpikeMonitor(pop))


def test_current_input_shapes_and_values():
    net, pop = _net()
    with pytest.raises(ValueError, match=r"values must be a scalar, \[10\] or \[T, 10\]"):
        sim.CurrentInput(pop, np.ones((5, 3)))
    with pytest.raises(ValueError, match="NaN or inf"):
        sim.CurrentInput(pop, np.array([1.0, np.inf]))
    with pytest.raises(TypeError, match="targets a Population"):
        sim.CurrentInput(sim.PoissonInput(3, 1.0), 1.0)


def test_dense_reference_refuses_large_networks():
    net = sim.Network(dt=1e-3, backend="torch")
    pop = net.add(sim.Population(20000))
    net.add(sim.Projection(pop, pop, sim.FixedProbability(0.0001)))
    with pytest.raises(ValueError, match="dense torch reference is for small networks"):
        net.run(0.001, progress=False)
