"""HDF5 frame cache: round trip, keying, atomic writes, corrupt files detected and rebuilt."""

import h5py
import numpy as np
import pytest

from neuro.datasets import CorruptFileError
from neuro.datasets.cache import FrameCache, cache_path, open_or_build, write_cache

PARAMS = {"dataset": "toy", "time_window_us": 1000}


def _samples(n=6, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.integers(0, 5, size=(3 + i, 2, 4, 4)).astype(np.int16), i % 3) for i in range(n)]


def _build(tmp_path, samples, params=PARAMS, calls=None):
    def sample(i):
        if calls is not None:
            calls.append(i)
        return samples[i]
    return open_or_build(tmp_path, "toy", "train", params, len(samples), sample, progress=False)


def test_round_trip_variable_lengths(tmp_path):
    samples = _samples()
    cache = _build(tmp_path, samples)
    assert len(cache) == 6 and cache.frame_shape == (2, 4, 4)
    np.testing.assert_array_equal(cache.lengths, [3, 4, 5, 6, 7, 8])
    for (frames, label), i in zip(samples, range(6)):
        got, got_label = cache[i]
        np.testing.assert_array_equal(got, frames)
        assert got_label == label
    assert cache[-1][0].shape == (8, 2, 4, 4)
    with pytest.raises(IndexError):
        cache[6]


def test_second_open_reads_the_file_and_params_key_the_cache(tmp_path):
    samples, calls = _samples(), []
    _build(tmp_path, samples, calls=calls)
    assert calls == list(range(6))
    calls.clear()
    _build(tmp_path, samples, calls=calls)
    assert calls == []  # served from the cache
    _build(tmp_path, samples, params={**PARAMS, "time_window_us": 2000}, calls=calls)
    assert calls == list(range(6))  # other parameters -> another file
    assert len(list(tmp_path.glob("toy-train-*.h5"))) == 2
    assert cache_path(tmp_path, "toy", "train", PARAMS) != cache_path(
        tmp_path, "toy", "train", {**PARAMS, "time_window_us": 2000})


def test_interrupted_build_leaves_nothing(tmp_path):
    samples = _samples()

    def failing(i):
        if i == 4:
            raise KeyboardInterrupt
        return samples[i]

    with pytest.raises(KeyboardInterrupt):
        open_or_build(tmp_path, "toy", "train", PARAMS, 6, failing, progress=False)
    assert list(tmp_path.iterdir()) == []  # no cache, no temporary file


@pytest.mark.parametrize("damage", ["truncate", "flip_chunk", "incomplete", "bad_offsets"])
def test_corrupt_cache_is_detected_and_rebuilt(tmp_path, damage):
    samples, calls = _samples(40), []
    big = [(np.tile(f, (8, 1, 1, 1)), y) for f, y in samples]  # several chunks of data
    cache = _build(tmp_path, big)
    path = cache.path
    if damage == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif damage == "flip_chunk":
        with h5py.File(path, "r") as f:
            offset = f["frames"].id.get_chunk_info(1).byte_offset
        data = bytearray(path.read_bytes())
        for k in range(offset + 10, offset + 30):
            data[k] ^= 0xFF
        path.write_bytes(bytes(data))
    elif damage == "incomplete":
        with h5py.File(path, "r+") as f:
            f.attrs["complete"] = False
    else:
        with h5py.File(path, "r+") as f:
            f["offsets"][-1] = 3
    with pytest.raises(CorruptFileError):
        FrameCache(path, PARAMS)
    with pytest.warns(UserWarning, match="rebuilding the frame cache"):
        rebuilt = _build(tmp_path, big, calls=calls)
    assert calls == list(range(40))
    np.testing.assert_array_equal(rebuilt[5][0], big[5][0])


def test_write_cache_rejects_mixed_frame_shapes(tmp_path):
    bad = [(np.zeros((2, 2, 4, 4)), 0), (np.zeros((2, 2, 5, 4)), 1)]
    with pytest.raises(ValueError, match="shape"):
        write_cache(tmp_path / "x.h5", PARAMS, bad, 2, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_cache_pickles_for_dataloader_workers(tmp_path):
    import pickle

    cache = _build(tmp_path, _samples())
    cache[0]
    clone = pickle.loads(pickle.dumps(cache))
    np.testing.assert_array_equal(clone[2][0], cache[2][0])
