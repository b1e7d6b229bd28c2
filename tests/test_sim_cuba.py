"""The CUBA benchmark network: Brian2's parameters, and statistics in Brian2's band.

Brian2's figures come from ``benchmarks/results/cuba_rates.json``, measured by
``benchmarks/cuba_rates.py`` with Brian2 2.9.0 (its documentation example ``CUBA``, numpy target,
seeds 1..10, 1 s). Brian2 cannot be imported next to numpy >= 2.4, so this test compares against
the recorded run instead of starting Brian2.
"""

import json
import math
from pathlib import Path

import numpy as np
import torch

from neuro.sim.examples import CUBA, cuba
from neuro.sim.stats import isi_cv

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "cuba_rates.json"


def test_cuba_uses_brian2_example_parameters():
    c = cuba(record_spikes=False)
    assert CUBA["we"] == 60 * 0.27 / 10 * 1e-3 and CUBA["wi"] == -20 * 4.5 / 10 * 1e-3
    pop = c.population
    assert pop.n == 4000 and pop.synapses == {"exc": 5e-3, "inh": 10e-3}
    assert (pop.params["tau_mem"], pop.params["v_th"], pop.params["v_reset"], pop.params["v_leak"]) == (
        20e-3, -50e-3, -60e-3, -49e-3)
    assert pop.refractory == 5e-3 and pop.threshold_op == ">" and pop.reset == "zero"
    net = c.net.compiled
    n_syn = int(net.row_ptr[-1])
    assert abs(n_syn - 0.02 * 4000 ** 2) < 5 * math.sqrt(0.02 * 4000 ** 2)
    # excitatory sources target the exc channel only, inhibitory the inh channel only
    exc_rows = net.col[:net.row_ptr[3200]] // 4000
    inh_rows = net.col[net.row_ptr[3200]:] // 4000
    assert (exc_rows == 0).all() and (inh_rows == 1).all()
    assert c.net.dt == 1e-4 and net.v0.min() >= -60e-3 and net.v0.max() <= -50e-3


def test_cuba_rate_and_isi_cv_match_brian2():
    brian2 = json.loads(RESULTS.read_text())["brian2"]
    assert brian2["version"].startswith("brian2 2.")
    rates, cvs = [], []
    for seed in (1, 2, 3):
        c = cuba(seed=seed, dtype=torch.float32)
        c.net.run(1.0, progress=False)
        rates.append(c.rate.mean_rate())
        cvs.append(isi_cv(c.spikes.times, c.spikes.indices))
    rate, cv = float(np.mean(rates)), float(np.mean(cvs))
    assert abs(rate - brian2["rate_mean_hz"]) <= 0.10 * brian2["rate_mean_hz"], (rate, brian2["rate_mean_hz"])
    assert abs(cv - brian2["isi_cv_mean"]) <= 0.05, (cv, brian2["isi_cv_mean"])
