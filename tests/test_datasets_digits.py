"""The embedded ``digits_events`` dataset: saccade simulator physics, determinism, binning, API."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits

from neuro.datasets import (
    EVENT_DTYPE,
    DigitsEvents,
    DigitsFrames,
    SaccadeConfig,
    bin_events,
    digits_frames,
    load_dataset,
    make_events,
    simulate_saccades,
)
from neuro.datasets.digits import split_indices
from neuro.datasets.saccades import saccade_path

IMAGES = load_digits().images / 16.0
QUIET = SaccadeConfig(threshold_mismatch=0.0, latency_jitter_us=0.0, noise_rate_hz=0.0)


@pytest.fixture(autouse=True)
def _no_default_cache(monkeypatch):
    monkeypatch.delenv("NEURO_CACHE_DIR", raising=False)  # these tests choose their caches


@pytest.fixture(scope="module")
def test_split():
    return DigitsEvents("test")


def test_saccade_path_is_n_mnist_triangle():
    cfg = SaccadeConfig()
    t, dx, dy = saccade_path(cfg)
    corners = {0: (0, 0), 100_000: (2, 4), 200_000: (4, 0), 300_000: (0, 0)}
    for time_us, (x, y) in corners.items():
        k = int(np.flatnonzero(t == time_us)[0])
        assert (dx[k], dy[k]) == pytest.approx((x, y))
    assert cfg.sensor_size(8) == (22, 22, 2) and cfg.duration_us == 300_000


def test_events_have_tonic_layout_and_valid_ranges(test_split):
    import tonic

    assert EVENT_DTYPE == tonic.datasets.NMNIST.dtype
    events, label = test_split[0]
    assert events.dtype == EVENT_DTYPE and label == test_split.targets[0]
    assert np.all(np.diff(events["t"]) >= 0)
    assert events["t"].min() >= 0 and events["t"].max() < 300_000
    assert events["x"].max() < 22 and events["y"].max() < 22 and events["x"].min() >= 0
    assert set(np.unique(events["p"])) == {0, 1}
    counts = [len(test_split[i][0]) for i in range(len(test_split))]
    assert 1500 < np.mean(counts) < 6000  # N-MNIST-like density (~3500 events per sample)


def test_blank_image_gives_no_events_without_noise():
    events, _ = simulate_saccades(np.zeros((1, 8, 8)), [0], config=QUIET)
    assert len(events[0]) == 0


def test_closed_saccade_loop_balances_on_and_off_per_pixel():
    # the path returns to its start, so every pixel ends at its initial log intensity: with equal
    # ON/OFF thresholds and no mismatch, #ON - #OFF is -1, 0 or 1 at every pixel.
    events, sensor = simulate_saccades(IMAGES[:5], np.arange(5), config=QUIET)
    for ev in events:
        assert len(ev) > 500
        net = np.zeros(sensor[:2], int)
        np.add.at(net, (ev["x"], ev["y"]), np.where(ev["p"] == 1, 1, -1))
        assert np.abs(net).max() <= 1


def test_edges_give_the_expected_events():
    # image columns 4-7 white -> sensor columns 9-16; during the first saccade the image moves
    # 2 px right (and 4 px down, invisible in the rows that stay inside the image): the left
    # edge darkens pixels (OFF only), the right edge brightens pixels (ON only), and a pixel swept
    # from black (log 0.1) to white (log 1.1) emits floor(log(11) / C) events.
    cfg = replace(QUIET, contrast_threshold=0.3)
    image = np.zeros((1, 8, 8))
    image[0, :, 4:] = 1.0
    ev = simulate_saccades(image, [0], config=cfg)[0][0]
    leg = ev[(ev["t"] < 100_000) & (ev["y"] >= 6) & (ev["y"] <= 15)]
    counts = np.zeros((2, 22, 22), int)
    np.add.at(counts, (leg["p"], leg["y"], leg["x"]), 1)
    full_sweep = int(np.floor(np.log(1.1 / 0.1) / 0.3))
    assert full_sweep == 7
    for row in range(6, 16):
        np.testing.assert_array_equal(counts[0, row, 8:11], [4, 7, 3])  # OFF at the left edge
        np.testing.assert_array_equal(counts[1, row, 17:20], [3, 7, 4])  # ON at the right edge
    assert counts[0].sum() == 14 * 10 and counts[1].sum() == 14 * 10


def test_determinism_by_seed_and_subset_independence():
    a, _ = simulate_saccades(IMAGES[[3, 7]], [3, 7], seed=5)
    b, _ = simulate_saccades(IMAGES[[7]], [7], seed=5)
    c, _ = simulate_saccades(IMAGES[[7]], [7], seed=6)
    assert np.array_equal(a[1], b[0])
    assert not np.array_equal(b[0], c[0])


def test_fixed_stratified_split():
    train, test = split_indices("train"), split_indices("test")
    assert len(train) == 1437 and len(test) == 360 and not set(train) & set(test)
    labels = load_digits().target
    assert np.all(np.bincount(labels[test]) >= 35)
    assert np.array_equal(split_indices("train"), train)


def test_bin_events_equals_tonic_to_frame(test_split):
    import tonic.transforms as T

    for i in (0, 1, 2):
        events = test_split[i][0]
        ours = bin_events(events, test_split.sensor_size, 10_000, 300_000)
        theirs = T.ToFrame(sensor_size=test_split.sensor_size, time_window=10_000, start_time=0,
                           end_time=300_000)(events)
        assert ours.shape == (30, 2, 22, 22)
        np.testing.assert_array_equal(ours, theirs)
        assert ours.sum() == len(events)


def test_tonic_transforms_apply_to_digits_events():
    import tonic.transforms as T

    data = DigitsEvents("test", transform=T.Compose([T.Denoise(filter_time=5000),
                                                     T.Downsample(spatial_factor=0.5)]))
    events, _ = data[0]
    assert events.dtype == EVENT_DTYPE and events["x"].max() <= 10


def test_bin_events_rejects_events_outside_the_sensor_and_bad_windows():
    ev = make_events(np.array([25]), np.array([0]), np.array([5]), np.array([1]))
    with pytest.raises(ValueError, match="outside the sensor"):
        bin_events(ev, (22, 22, 2), 1000, 10_000)
    ev = make_events(np.array([2]), np.array([0]), np.array([5]), np.array([1]))
    with pytest.raises(ValueError, match="time_window_us"):
        bin_events(ev, (22, 22, 2), 0, 10_000)
    with pytest.raises(ValueError, match="whole microseconds"):
        bin_events(ev, (22, 22, 2), 1000.5, 10_000)
    assert bin_events(ev, (22, 22, 2), 1000.0, 10_000.0).shape == (10, 2, 22, 22)


def test_simulator_rejects_bad_images():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        simulate_saccades(np.full((1, 8, 8), 2.0), [0])
    with pytest.raises(ValueError, match="size, size"):
        simulate_saccades(np.zeros((1, 8, 6)), [0])


def test_digits_frames_and_cache(tmp_path):
    direct = digits_frames("test", time_window_us=30_000)
    assert direct.frames.shape == (360, 10, 2, 22, 22) and direct.frames.dtype == torch.float32
    cached = digits_frames("test", time_window_us=30_000, cache_dir=tmp_path)
    again = digits_frames("test", time_window_us=30_000, cache_dir=tmp_path)  # read from the file
    assert len(list(tmp_path.glob("digits_events-test-*.h5"))) == 1
    for fs in (cached, again):
        torch.testing.assert_close(fs.frames, direct.frames, rtol=0, atol=0)
        assert torch.equal(fs.labels, direct.labels)
    x, y = direct.dataset()[0]
    assert x.shape == (10, 2, 22, 22) and int(y) == int(direct.labels[0])


def test_digits_frames_dataset_api():
    data = load_dataset("digits_events", "test", time_window_us=50_000)
    assert isinstance(data, DigitsFrames)
    assert data.frame_shape == (2, 22, 22) and data.n_classes == 10 and data.dt == 0.05
    frames, label = data[3]
    assert frames.shape == (6, 2, 22, 22) and 0 <= label < 10
    with pytest.raises(ValueError, match="split"):
        DigitsEvents("validation")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 21), st.integers(0, 21), st.integers(0, 99_999),
                          st.integers(0, 1)), min_size=1, max_size=200),
       st.sampled_from([1000, 2500, 10_000, 33_333]))
def test_bin_events_matches_tonic_on_random_events(rows, window):
    import tonic.transforms as T

    x, y, t, p = (np.array(c) for c in zip(*rows))
    order = np.argsort(t, kind="stable")
    events = make_events(x[order], y[order], t[order], p[order])
    duration = 100_000 // window * window
    ours = bin_events(events, (22, 22, 2), window, duration)
    theirs = T.ToFrame(sensor_size=(22, 22, 2), time_window=window, start_time=0,
                       end_time=duration)(events.copy())
    np.testing.assert_array_equal(ours, theirs)
