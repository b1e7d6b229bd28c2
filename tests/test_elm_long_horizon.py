"""Long-horizon evidence in CI: on spike-train adding an ELM learns what a same-size LIF SNN and LSTM cannot.

A reduced version of ``benchmarks/elm_long_horizon.py`` (T = 500, 400 steps; results in
``benchmarks/results/elm_long_horizon.md``): T = 150, 100 training steps of batch 32 for every
model, first cue >= 104 and second cue >= 37 steps before the readout at the last step.
"""

import pytest

from neuro.datasets.spike_adding import SpikeAdding
from neuro.models.long_horizon import build_lif_snn, build_lstm, compare, matched_hidden
from neuro.nn.elm import num_trainable_parameters

# many small ops per training step: a second torch thread only contends on a shared 2-core machine
# (measured 4 x slower with two under load)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_matched_sizes():
    task = SpikeAdding(steps=150, cue_steps=8)
    target = 2545
    for builder in (build_lif_snn, build_lstm):
        n = num_trainable_parameters(builder(task, matched_hidden(builder, task, target)))
        assert abs(n - target) < 0.05 * target


def test_elm_beats_lif_snn_and_lstm_on_spike_adding():
    task = SpikeAdding(steps=150, cue_steps=8)
    results = compare(task, memory=16, steps=100, batch=32, lr=1e-2, seed=0, eval_every=100, test_size=256)
    params = {name: r.params for name, r in results.items()}
    acc = {name: r.accuracy for name, r in results.items()}
    assert params["elm"] == 2545, params
    assert all(abs(n - 2545) <= 0.05 * 2545 for n in params.values()), params
    assert acc["elm"] >= 0.45, acc  # chance 0.2
    assert acc["lif"] <= 0.32 and acc["lstm"] <= 0.32, acc
