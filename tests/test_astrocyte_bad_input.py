"""Bad input to the astrocyte models and the tripartite network: clear errors naming the problem."""

from __future__ import annotations

import numpy as np
import pytest

from neuro.astro import (
    AeifAstroNeurons,
    AeifAstroParameters,
    AstrocyteParameters,
    Astrocytes,
    TripartiteNetwork,
    astrocyte_pools,
)


@pytest.mark.parametrize("field,value,match", [
    ("Ca_tot", -1.0, "Ca_tot must be >= 0"),
    ("IP3_0", -0.1, "IP3_0 must be >= 0"),
    ("Kd_act", 0.0, "Kd_act must be > 0"),
    ("rate_SERCA", -0.001, "rate_SERCA must be >= 0"),
    ("k_IP3R", -1e-4, "k_IP3R must be >= 0"),
    ("delta_IP3", np.array([0.1, -0.2]), "delta_IP3 must be >= 0"),
    ("tau_IP3", 0.0, "tau_IP3 must be > 0"),
    ("ratio_ER_cyt", -0.2, "ratio_ER_cyt must be > 0"),
    ("SIC_th", float("nan"), "SIC_th must be finite"),
])
def test_astrocyte_parameters_out_of_physical_range(field, value, match):
    with pytest.raises(ValueError, match=match):
        AstrocyteParameters(**{field: value})


@pytest.mark.parametrize("changes,match", [
    ({"V_reset": 5.0}, "V_reset must be < V_peak"),
    ({"C_m": 0.0}, "C_m must be > 0"),
    ({"tau_w": -1.0}, "tau_w must be > 0"),
    ({"t_ref": -0.5}, "t_ref must be >= 0"),
    ({"Delta_T": -1.0}, "Delta_T must be >= 0"),
    ({"V_th": 10.0}, "V_peak must be >= V_th"),
    ({"Delta_T": 0.01, "V_peak": 100.0}, "overflow"),
    ({"gsl_error_tol": 0.0}, "gsl_error_tol must be > 0"),
])
def test_neuron_parameters_out_of_range(changes, match):
    with pytest.raises(ValueError, match=match):
        AeifAstroParameters(**changes)


def test_per_unit_parameters_must_match_population():
    with pytest.raises(ValueError, match="length 3"):
        Astrocytes(3, AstrocyteParameters(delta_IP3=np.array([0.1, 0.2])))


@pytest.mark.parametrize("kwargs,match", [
    ({"IP3": -0.1}, "IP3 must be >= 0"),
    ({"Ca_astro": -1e-3}, "Ca_astro must be >= 0"),
    ({"h_IP3R": 1.5}, r"h_IP3R must be in \[0, 1\]"),
    ({"Ca_astro": np.nan}, "Ca_astro must be finite"),
])
def test_astrocyte_initial_state_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Astrocytes(2).initial_state(**kwargs)


def test_step_inputs_checked():
    pop = Astrocytes(2)
    s = pop.initial_state()
    with pytest.raises(ValueError, match="ip3_input must be >= 0"):
        pop.step_many(s, -np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"ip3_input must have shape \[n_steps, 2\]"):
        pop.step_many(s, np.zeros((3, 5)))
    with pytest.raises(ValueError, match="j_input contains NaN"):
        pop.step_many(s, np.zeros((3, 2)), j_input=np.full((3, 2), np.nan))
    with pytest.raises(ValueError, match="cannot record"):
        pop.step_many(s, np.zeros((3, 2)), record=("V_m",))
    with pytest.raises(TypeError, match="AstrocyteState"):
        pop.step_many(tuple(s), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="state is for 3 astrocytes"):
        pop.step_many(Astrocytes(3).initial_state(), np.zeros((3, 2)))
    neurons = AeifAstroNeurons(1)
    with pytest.raises(ValueError, match="inh_input must be >= 0"):
        neurons.step_many(neurons.initial_state(), np.zeros((2, 1)), inh_input=-np.ones((2, 1)))


def test_unstable_neuron_reported():
    pop = AeifAstroNeurons(1, AeifAstroParameters(I_e=-1e7))
    with pytest.raises(FloatingPointError, match="numerically unstable"):
        pop.step_many(pop.initial_state(), np.zeros((50, 1)))


def test_network_wiring_checked():
    net = TripartiteNetwork(3, 2)
    with pytest.raises(IndexError, match=r"astrocyte index out of range: valid 0..1"):
        net.connect_neuron_astrocyte([0], [2])
    with pytest.raises(IndexError, match="neuron index out of range"):
        net.connect_neurons([0], [-1])
    with pytest.raises(ValueError, match="weights must be >= 0"):
        net.connect_neuron_astrocyte([0], [1], weight=-1.0)
    with pytest.raises(ValueError, match="at least one step"):
        net.connect_sic([0], [1], delay=0.01)
    with pytest.raises(ValueError, match="differ in length"):
        net.connect_neurons([0, 1], [2])
    with pytest.raises(TypeError, match="integer"):
        net.connect_neurons([0.5], [1])
    with pytest.raises(ValueError, match="on the time grid"):
        net.add_spike_input([1.05], target=0)
    with pytest.raises(ValueError, match=">= 0 for astrocytes"):
        net.add_spike_input([1.0], target=0, weight=-2.0, kind="astrocyte")
    with pytest.raises(ValueError, match="multiple of dt"):
        net.run(1.05)
    with pytest.raises(ValueError, match="record_interval"):
        net.run(1.0, record_interval=0.25)
    net.run(1.0)
    with pytest.raises(RuntimeError, match="before the first run"):
        net.connect_neurons([0], [1])
    with pytest.raises(ValueError, match="backend"):
        TripartiteNetwork(1, 1, backend="gpu")


def test_pool_rules_checked():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="pool_size"):
        astrocyte_pools(4, 2, 3, "random", rng)
    with pytest.raises(ValueError, match="pool_type='block'"):
        astrocyte_pools(3, 2, 1, "block", rng)
    with pytest.raises(ValueError, match="pool_type must be"):
        astrocyte_pools(3, 2, 1, "ring", rng)
