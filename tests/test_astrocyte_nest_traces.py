"""neuro's astrocyte examples against the stored NEST 3.10 traces (shared/data/nest_astrocyte).

The traces were made with nest-simulator 3.10.0 from a Poisson input whose relayed (parrot) spike
times are stored; neuro is driven by exactly those spikes. NEST integrates with GSL's adaptive
RKF45 and neuro restates the same algorithm, so the traces agree to rounding (the issue's target
for the single astrocyte is a max relative error <= 1e-3; we demand 1e-9 here).
"""

from __future__ import annotations

import numpy as np
import pytest

from neuro.astro.examples import astrocyte_interaction, single_astrocyte
from neuro.kernels.astrocyte_math import sic_of

TOL_REL = 1e-9


def _load(shared_data, name):
    path = shared_data / "nest_astrocyte" / f"nest_astrocyte_{name}.npz"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _max_rel(ours, ref):
    return float(np.abs(ours - ref).max() / np.abs(ref).max())


@pytest.fixture(scope="module")
def single_traces():
    from conftest import shared_data_dir

    d = _load(shared_data_dir(), "single")
    return d, single_astrocyte(d["input_arrival_times_ms"], delta_IP3=(0.0002, float(d["ex_delta_IP3"])))


def test_single_astrocyte_parameters_are_nest_defaults(shared_data):
    from neuro.astro import AstrocyteParameters

    d = _load(shared_data, "single")
    defaults = AstrocyteParameters().as_dict()
    for name, value in zip(d["param_names"], d["param_values"]):
        assert defaults[str(name)] == pytest.approx(float(value), rel=0, abs=0), name
    assert tuple(d["initial_state"]) == (0.16, 0.073, 0.793)


@pytest.mark.parametrize("prefix,column", [("", 0), ("ex_", 1)])
def test_single_astrocyte_matches_nest(single_traces, prefix, column):
    d, res = single_traces
    n = len(d["time_ms"])
    np.testing.assert_allclose(res.times[:n], d["time_ms"])
    for name in ("IP3", "Ca_astro", "h_IP3R"):
        err = _max_rel(res.astrocytes[name][:n, column], d[prefix + name])
        assert err <= TOL_REL, f"{prefix}{name}: max relative error {err:.3g}"
    # the SIC neuro emits is NEST's formula of NEST's calcium
    sic_ref = np.array([sic_of(c, 0.19669, 1.0) for c in d[prefix + "Ca_astro"]])
    np.testing.assert_allclose(res.astrocytes["SIC"][:n, column], sic_ref, rtol=1e-9, atol=1e-12)


def test_single_astrocyte_matches_tight_ode_solution(single_traces):
    """NEST's own deviation from the tight SciPy solution bounds what the integrator can claim."""
    d, res = single_traces
    n = len(d["time_ms"])
    for column, key in ((0, "tightref_Ca_astro"), (1, "tightref_ex_Ca_astro")):
        assert np.abs(res.astrocytes["Ca_astro"][:n, column] - d[key]).max() <= 1e-8


def test_astrocyte_interaction_matches_nest(shared_data):
    d = _load(shared_data, "tripartite")
    res = astrocyte_interaction(d["input_spike_times_ms"] + 1.0)  # parrot -> pre delay 1 ms
    n = len(d["time_ms"])
    for j, who in enumerate(("pre", "post")):
        for name in ("V_m", "w", "g_ex"):
            err = np.abs(res.neurons[name][:n, j] - d[f"{who}_{name}"]).max()
            assert err <= 1e-9 * max(1.0, np.abs(d[f"{who}_{name}"]).max()), f"{who} {name}: {err:.3g}"
    np.testing.assert_allclose(res.neurons["I_SIC"][:n, 1], d["post_I_SIC"], rtol=1e-9, atol=1e-12)
    for name in ("IP3", "Ca_astro", "h_IP3R"):
        assert _max_rel(res.astrocytes[name][:n, 0], d[f"astro_{name}"]) <= TOL_REL, name
    np.testing.assert_allclose(res.spikes_of(0), d["pre_spike_times_ms"], atol=1e-9)
    assert res.spikes_of(1).size == d["post_spike_times_ms"].size == 0
    # timing semantics stated in the data's README: I_SIC(t) = SIC(Ca_astro(t - 1 ms))
    sic_of_ca = np.array([sic_of(c, 0.19669, 1.0) for c in res.astrocytes["Ca_astro"][:, 0]])
    np.testing.assert_allclose(res.neurons["I_SIC"][1:n, 1], sic_of_ca[:n - 1], rtol=1e-12, atol=1e-12)
