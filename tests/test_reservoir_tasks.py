"""Temporal tasks for reservoirs: layouts, targets and determinism of the generated streams."""

import itertools

import numpy as np
import pytest

from neuro.tasks.reservoir_tasks import (
    StreamTask,
    delayed_pattern_task,
    memory_task,
    narma,
    narma_task,
    order_task,
    spike_adding_task,
    split_readouts,
)


def _segment_spikes(task, k, segment):
    keep = (task.steps >= k * segment) & (task.steps < (k + 1) * segment)
    return task.steps[keep] - k * segment, task.indices[keep]


def test_delayed_pattern_targets_and_shared_stream():
    recall = delayed_pattern_task("recall", 2, n_segments=60, segment=20, n_inputs=10, jitter=0.0, seed=3)
    xor = delayed_pattern_task("xor", 0, n_segments=60, segment=20, n_inputs=10, jitter=0.0, seed=3)
    bits = recall.info["bits"]
    assert np.array_equal(recall.times, xor.times) and np.array_equal(bits, xor.info["bits"])
    # readout k sits at the end of segment k and sees that segment only
    k = recall.readout_steps // 20 - 1
    assert recall.lookback == 20 and recall.memory == 60 and xor.memory == 40
    assert np.array_equal(recall.targets, bits[k - 2])
    kx = xor.readout_steps // 20 - 1
    assert np.array_equal(xor.targets, bits[kx] ^ bits[kx - 1])
    # without jitter every segment is an exact copy of its template
    first = {b: _segment_spikes(recall, int(np.flatnonzero(bits == b)[0]), 20) for b in (0, 1)}
    for seg in range(60):
        s, c = _segment_spikes(recall, seg, 20)
        ref = first[bits[seg]]
        assert np.array_equal(np.sort(s * 10 + c), np.sort(ref[0] * 10 + ref[1]))
    keys = [np.sort(first[b][0] * 10 + first[b][1]) for b in (0, 1)]
    assert not np.array_equal(*keys)


def test_stream_spikes_are_unique_sorted_and_seeded():
    t = delayed_pattern_task("recall", 1, n_segments=100, seed=1)
    key = t.steps * t.n_inputs + t.indices
    assert (np.diff(key) > 0).all()
    assert t.times.max() < t.duration and t.indices.max() < t.n_inputs
    again = delayed_pattern_task("recall", 1, n_segments=100, seed=1)
    other = delayed_pattern_task("recall", 1, n_segments=100, seed=2)
    assert np.array_equal(t.times, again.times) and not np.array_equal(t.info["bits"], other.info["bits"])
    binned = t.binned(10)
    assert binned.shape == (t.n_steps // 10, t.n_inputs) and binned.sum() == len(t.times)
    # jitter keeps the rate: about rate * dt spikes per channel and step
    assert 15 < len(t.times) / (t.duration * t.n_inputs) < 25


def test_narma_recursion_by_hand():
    u = np.array([0.1, 0.4, 0.2, 0.3, 0.5, 0.0])
    y = narma(u, order=2)
    expect = np.zeros(6)
    for t in range(1, 5):
        expect[t + 1] = (0.3 * expect[t] + 0.05 * expect[t] * (expect[t] + expect[t - 1])
                         + 1.5 * u[t - 1] * u[t] + 0.1)
    np.testing.assert_allclose(y, expect)


def test_narma_task_layout_and_rate_code():
    t = narma_task(n_values=400, bin_steps=10, washout=50, seed=0)
    u, y = t.info["u"], t.info["y"]
    k = t.readout_steps // 10 - 1
    assert np.array_equal(t.targets, y[k + 1]) and np.array_equal(t.values, u[k])
    assert k[0] == 50 and t.memory == 100 and t.kind == "regression"
    counts = t.binned(10).sum(1)  # spikes per bin follow u (rate max_rate * u / 0.5)
    assert np.corrcoef(counts, u)[0, 1] > 0.9
    assert np.isclose(counts.mean(), (u / 0.5 * 100.0 * 1e-3 * 10 * 40).mean(), rtol=0.05)


def test_order_task_words_hold_every_part_once():
    t = order_task(n_words=40, n_parts=3, part=10, max_gap=4, n_inputs=12, rate=60.0, jitter=0.0, seed=2)
    orders = list(itertools.permutations(range(3)))
    assert t.info["orders"] == orders and t.targets.max() < 6 and t.lookback == 10
    assert (np.diff(t.readout_steps) >= 30).all() and (np.diff(t.readout_steps) <= 30 + 12).all()
    # the last sub-pattern before a readout identifies orders[label][-1]: words ending in the same part
    # show the same spikes in the lookback window
    windows = {}
    for r, label in zip(t.readout_steps, t.targets):
        keep = (t.steps >= r - 10) & (t.steps < r)
        sig = tuple(np.sort((t.steps[keep] - (r - 10)) * 12 + t.indices[keep]))
        windows.setdefault(orders[label][-1], set()).add(sig)
    assert all(len(v) == 1 for v in windows.values()) and len(windows) == 3


def test_spike_adding_task_matches_the_dataset():
    from neuro.datasets.spike_adding import SpikeAdding

    t = spike_adding_task(n_trials=20, steps=80, values=3, group=4, cue_steps=5, lookback=20, seed=4)
    x, y = SpikeAdding(steps=80, values=3, group=4, cue_steps=5).sample(20, seed=4)
    assert np.array_equal(t.targets, y.numpy()) and t.n_inputs == 12
    assert np.array_equal(t.binned(80).reshape(20, 12), x.sum(0).numpy())
    assert np.array_equal(t.readout_steps, 80 * np.arange(1, 21))


def test_memory_task_and_split():
    t = memory_task(n_values=200, bin_steps=5, seed=1)
    assert np.array_equal(t.targets, t.values) and 0 <= t.values.min() and t.values.max() <= 1
    tr, va, te = split_readouts(100, (0.6, 0.15))
    assert (len(tr), len(va), len(te)) == (60, 15, 25) and tr[-1] < va[0] < te[0]


@pytest.mark.parametrize("call, message", [
    (lambda: delayed_pattern_task("and"), "kind"),
    (lambda: delayed_pattern_task(delay=-1), "delay"),
    (lambda: delayed_pattern_task(n_segments=5, delay=2), "too short"),
    (lambda: order_task(n_parts=1), "n_parts"),
    (lambda: narma_task(n_values=50, washout=45), "washout"),
    (lambda: memory_task(max_rate=2000.0), "one spike per step"),
    (lambda: spike_adding_task(lookback=0), "lookback"),
    (lambda: split_readouts(10, (0.9, 0.2)), "fractions"),
    (lambda: memory_task(n_values=10).binned(3), "divide"),
    (lambda: StreamTask("x", np.zeros(0), np.zeros(0, int), 1, 1e-3, 10, np.array([5]), np.array([1]),
                        "ranking", 1, 1, 0.5), "kind"),
    (lambda: StreamTask("x", np.zeros(0), np.zeros(0, int), 1, 1e-3, 10, np.array([2]), np.array([1]),
                        "regression", 5, 5, 1.0), "lookback"),
])
def test_task_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
