"""The committed results of ``benchmarks/stdp_song_abbott.py`` (issue 21, oracle (b)): Brian2's classic
STDP example (Song, Miller & Abbott 2000) in neuro.sim and in Brian2, 100 s, several seeds each.

Reads ``benchmarks/results/stdp_song_abbott.json`` only (the runs take minutes; the script is resumable).
What the physics says and the tests check:

* Additive STDP with hard bounds: the update does not depend on the weight, while a stronger synapse
  causes more of the postsynaptic spikes that follow it and so collects more potentiation: strong
  synapses grow, weak ones (depression slightly dominates for uncorrelated input, A- tau- > A+ tau+)
  shrink, and the hard bounds stop both, so the weights pile up at 0 and at gmax (Song et al. 2000;
  van Rossum et al. 2000 contrast the unimodal multiplicative rule). From uniform initial weights (10 %
  per tenth of ``[0, gmax]``), in every run both end tenths must have grown, each must hold more than
  any interior tenth (a mode at each bound), and Sarle's bimodality coefficient must exceed the
  uniform distribution's 5/9.
* Same model, different random streams: neuro's pooled final weights (each backend) and Brian2's must
  differ less than two single runs may by chance (``KS_BOUND``, the 1 % critical value for
  n = m = 1000) and no more than two seeds of one simulator differ from each other; the mean output
  rates agree within 3 standard errors of the seed means.
* neuro's torch and numba backends, given the same seed, end with the same weights.
* The results belong to the script's current parameters.
"""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "stdp_song_abbott.py"
RESULTS = ROOT / "benchmarks" / "results" / "stdp_song_abbott.json"
NEURO = ("neuro_numba", "neuro_torch")  # neuro's backends: both, where both ran
# The 1 % critical value of the two-sample KS statistic for two single runs (n = m = 1000 weights):
# 1.628 * sqrt(2 / 1000). Pooled over seeds, neuro and Brian2 must differ less than that.
KS_BOUND = 1.628 * np.sqrt(2 / 1000)


def _script():
    spec = importlib.util.spec_from_file_location("stdp_song_abbott", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # numpy only at import time
    return module


@pytest.fixture(scope="module")
def results() -> dict:
    return json.loads(RESULTS.read_text())


@pytest.fixture(scope="module")
def runs(results) -> dict:
    """Full-length runs per simulator: ``{key: [run, ...]}``."""
    duration = results["params"]["duration"]
    out = {k: [r for r in v.values() if r["duration"] == duration] for k, v in results["runs"].items()}
    out = {k: v for k, v in out.items() if v}
    assert "brian2" in out and any(k in out for k in NEURO), f"{RESULTS.name} lacks neuro or Brian2 runs"
    return out


def _weights(runs: list) -> list:
    return [np.asarray(r["w_final"]) for r in runs]


def test_results_were_made_with_the_current_parameters(results):
    assert results["params"] == _script().PARAMS, "parameters changed: rerun benchmarks/stdp_song_abbott.py"


def test_weights_are_in_bounds_and_complete(results, runs):
    for key, rs in runs.items():
        for w in _weights(rs):
            assert w.shape == (results["params"]["N"],), key
            assert w.min() >= 0.0 and w.max() <= 1.0, key


def test_final_weights_are_bimodal(runs):
    bc = _script().bimodality_coefficient
    for key, rs in runs.items():
        for w in _weights(rs):  # every seed, not only the pool
            tenths = np.histogram(w, 10, (0.0, 1.0))[0] / w.size
            low, high, interior = tenths[0], tenths[-1], tenths[1:-1]
            assert low > 0.1 and high > 0.1, f"{key}: end tenths {low:.3f}, {high:.3f} did not grow from 0.1"
            assert low > interior.max() and high > interior.max(), f"{key}: no mode at each bound: {tenths}"
            assert bc(w) > 5 / 9, key


def test_neuro_and_brian2_distributions_agree(runs):
    from scipy.stats import ks_2samp

    within = [ks_2samp(a, b, method="asymp").statistic for rs in runs.values()
              for i, a in enumerate(_weights(rs)) for b in _weights(rs)[i + 1:]]
    theirs = np.concatenate(_weights(runs["brian2"]))
    for key in (k for k in NEURO if k in runs):
        stat = ks_2samp(np.concatenate(_weights(runs[key])), theirs, method="asymp").statistic
        assert stat < KS_BOUND, f"{key} vs Brian2: KS statistic {stat:.3f} >= {KS_BOUND:.3f}"
        if within:
            assert stat <= max(within), f"{key} vs Brian2: KS {stat:.3f} > seed-to-seed {max(within):.3f}"


def test_output_rates_agree(runs):
    """Mean postsynaptic rate over the run: neuro's and Brian2's seed means within 3 standard errors."""
    rates = {k: np.asarray([r["rate_hz"] for r in rs]) for k, rs in runs.items()}
    for key in (k for k in NEURO if k in rates):
        a, b = rates[key], rates["brian2"]
        assert a.size > 1 and b.size > 1, "needs two seeds per simulator for a standard error"
        se = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
        assert abs(a.mean() - b.mean()) < 3 * se, (key, a.mean(), b.mean(), se)


def test_torch_and_numba_backends_agree_on_the_same_seed(runs):
    """Same seed, same Poisson draws and initial weights: the two backends end with the same weights."""
    if not all(k in runs for k in NEURO):
        pytest.skip("the committed results hold one neuro backend")
    numba = {r["seed"]: r for r in runs["neuro_numba"]}
    shared = [r for r in runs["neuro_torch"] if r["seed"] in numba]
    assert shared
    for r in shared:
        np.testing.assert_allclose(r["w_final"], numba[r["seed"]]["w_final"], rtol=0, atol=1e-6)


def test_committed_report_matches_the_json(results):
    cmp = results["comparison"]
    text = RESULTS.with_suffix(".md").read_text()
    for key, ks in cmp["ks"].items():
        assert f"{key} vs brian2: D = {ks['statistic']:.4f}" in text
    assert RESULTS.with_suffix(".png").stat().st_size > 10_000
