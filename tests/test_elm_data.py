"""ELM data paths: SHD-Adding on an SHD-format HDF5 file read by tonic, and the spike-adding task."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from neuro.datasets.shd_adding import SHDAdding, bin_events, collate_time_major, to_frames
from neuro.datasets.spike_adding import SpikeAdding


def write_shd_file(root: Path, n: int = 12, seed: int = 0) -> tuple[list, list]:
    """An SHD-format training file (``spikes/times`` s, ``spikes/units``, ``labels``, ``extra/*``) where
    tonic.datasets.SHD expects it; returns the per-sample (times, units) and labels."""
    rng = np.random.default_rng(seed)
    folder = root / "SHD"
    folder.mkdir(parents=True)
    (folder / "shd_train.h5.zip").write_bytes(b"")  # tonic only checks that the archive exists
    samples, labels = [], []
    with h5py.File(folder / "shd_train.h5", "w") as f:
        times = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.float16))
        units = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.uint16))
        for i in range(n):
            k = int(rng.integers(50, 300))
            t = np.sort(rng.uniform(0.0, 1.3, k)).astype(np.float16)  # some events after 1 s
            u = rng.integers(0, 700, k).astype(np.uint16)
            times[i], units[i] = t, u
            samples.append((t, u))
        labels = rng.integers(0, 20, n).astype(np.uint16)
        f.create_dataset("labels", data=labels)
        f.create_dataset("extra/keys", data=np.array([f"digit-{d}".encode() for d in range(20)]))
        f.create_dataset("extra/speaker", data=rng.integers(0, 10, n).astype(np.uint16))
    return samples, labels.tolist()


@pytest.fixture
def shd(tmp_path):
    tonic = pytest.importorskip("tonic")
    samples, labels = write_shd_file(tmp_path)
    return tonic.datasets.SHD(str(tmp_path), train=True), samples, labels


def _expected_frames(times_s, units, bin_ms=2.0, steps=500):
    """Counts computed independently: integer microseconds as tonic stores them, floor division."""
    t_us = (np.asarray(times_s, dtype=np.float64) * 1e6).astype(np.int64)
    out = np.zeros((steps, 700), np.float32)
    for t, u in zip(t_us, units):
        k = int(t // int(bin_ms * 1000))
        if k < steps:
            out[k, u] += 1
    return out


def test_bin_events_of_tonic_shd_samples(shd):
    dataset, samples, labels = shd
    assert len(dataset) == len(samples)
    for i in (0, 5):
        events, label = dataset[i]
        assert int(label) == labels[i]
        frames = bin_events(events, bin_ms=2.0)
        assert frames.shape == (500, 700) and frames.dtype == torch.float32
        np.testing.assert_array_equal(frames.numpy(), _expected_frames(*samples[i]))
        assert frames.sum() < len(samples[i][0])  # events after 1 s are dropped


def test_shd_adding_concatenates_two_samples_and_sums_digits(shd):
    dataset, samples, labels = shd
    adding = SHDAdding(dataset, length=40, bin_ms=2.0, seed=3)
    assert adding.num_classes == 19 and len(adding) == 40
    seen = set()
    for i in range(len(adding)):
        x, y = adding[i]
        j1, j2 = adding.pair(i)
        assert x.shape == (1000, 700)
        assert y == labels[j1] % 10 + labels[j2] % 10
        np.testing.assert_array_equal(x[:500].numpy(), _expected_frames(*samples[j1]))
        np.testing.assert_array_equal(x[500:].numpy(), _expected_frames(*samples[j2]))
        seen.add(y)
    assert seen <= set(range(19)) and len(seen) > 5
    again = SHDAdding(dataset, length=40, bin_ms=2.0, seed=3)
    assert all(torch.equal(adding[i][0], again[i][0]) for i in (0, 7))
    other = SHDAdding(dataset, length=40, seed=4)
    assert [other.pair(i) for i in range(40)] != [adding.pair(i) for i in range(40)]
    loader = torch.utils.data.DataLoader(adding, batch_size=8, collate_fn=collate_time_major)
    x, y = next(iter(loader))
    assert x.shape == (1000, 8, 700) and y.shape == (8,) and y.dtype == torch.int64


def test_shd_adding_on_a_frames_dataset_and_an_elm():
    from neuro.nn import ELM

    rng = np.random.default_rng(0)
    frames = [(torch.from_numpy((rng.random((50, 1, 700)) < 0.02).astype(np.float32)), label)
              for label in (3, 17, 9, 12)]
    adding = SHDAdding(frames, length=6, seed=0)
    x, y = collate_time_major([adding[i] for i in range(6)])
    assert x.shape == (100, 6, 700) and int(y.max()) <= 18
    elm = ELM(700, adding.num_classes, 8, num_branches=20, synapses_per_branch=5, routing="random")
    out, _ = elm(x)
    assert out.shape == (100, 6, 19)


def test_bad_samples_are_rejected():
    events = np.zeros(3, dtype=[("t", int), ("x", int), ("p", int)])
    events["x"] = [1, 2, 700]
    with pytest.raises(ValueError, match="channels must be in 0..699"):
        bin_events(events)
    events["x"], events["t"] = 1, [-5, 0, 1]
    with pytest.raises(ValueError, match=">= 0"):
        bin_events(events)
    with pytest.raises(ValueError, match="fields 't'"):
        bin_events(np.zeros(3, dtype=[("ts", int), ("x", int)]))
    with pytest.raises(ValueError, match=r"\[T, 700\]"):
        to_frames(torch.zeros(10, 64))
    with pytest.raises(ValueError, match="empty"):
        SHDAdding([], length=3)
    with pytest.raises(IndexError):
        SHDAdding([(torch.zeros(2, 700), 1)], length=3)[3]


def test_spike_adding_task_layout():
    task = SpikeAdding(steps=200, values=4, group=5, cue_steps=8, noise_rate=0.0, cue_rate=1.0)
    x, y = task.sample(64, seed=1)
    assert x.shape == (200, 64, 20) and task.num_classes == 7 and task.chance == 0.25
    assert torch.equal(x, task.sample(64, seed=1)[0])
    for b in range(64):
        active = x[:, b].nonzero()
        steps, channels = active[:, 0], active[:, 1]
        first, second = steps < 100, steps >= 100
        assert first.sum() == 8 * 5 and second.sum() == 8 * 5  # two full cues, no noise
        assert steps[first].max() < 50 and 100 <= steps[second].min() and steps[second].max() < 150
        a, b_ = int(channels[first][0]) // 5, int(channels[second][0]) // 5
        assert int(y[b]) == a + b_
    with pytest.raises(ValueError, match="cue_steps"):
        SpikeAdding(steps=40, cue_steps=10)
