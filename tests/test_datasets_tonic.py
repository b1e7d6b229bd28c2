"""Recorded datasets through tonic: real N-MNIST recordings, SHD/SSC-format HDF5 files written here,
DVS Gesture / N-TIDIGITS layouts, missing / truncated / corrupt files, download path, collation."""

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from neuro.datasets import (
    CorruptFileError,
    DatasetNotFoundError,
    EventFrames,
    FrameBatch,
    load_dataset,
    pad_collate,
)
from neuro.datasets.synthetic import write_shd_like_file

pytest.importorskip("tonic")


@pytest.fixture(autouse=True)
def _no_default_cache(monkeypatch):
    monkeypatch.delenv("NEURO_CACHE_DIR", raising=False)  # these tests choose their caches


def _decode_nmnist(path: Path):
    """Independent oracle: the 40-bit N-MNIST format, decoded as the data README describes."""
    r = np.fromfile(path, dtype=np.uint8).reshape(-1, 5).astype(np.int64)
    t = ((r[:, 2] & 0x7F) << 16) | (r[:, 3] << 8) | r[:, 4]
    return r[:, 0], r[:, 1], r[:, 2] >> 7, t


def _label_list(folder: Path) -> dict[int, int]:
    rows = [line.split() for line in (folder / "train1K.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    return {int(a): int(b) for a, b in rows}


@pytest.fixture
def nmnist_root(shared_data, tmp_path):
    """tonic's layout <root>/NMNIST/{Train,Test}/<digit>/<id>.bin from the real shared recordings."""
    src = shared_data / "nmnist" / "slayer_NMNISTsmall"
    labels = _label_list(src)
    for sample_id in range(1, 21):
        folder = tmp_path / "NMNIST" / "Train" / str(labels[sample_id])
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(src / f"{sample_id}.bs2", folder / f"{sample_id:05d}.bin")
    test_folder = tmp_path / "NMNIST" / "Test" / "4"  # the tonic sample shows a 4 (data README)
    test_folder.mkdir(parents=True)
    shutil.copy(shared_data / "nmnist" / "tonic" / "sample_nmnist.bin", test_folder / "00001.bin")
    return tmp_path, labels


def test_real_nmnist_recordings_load_and_bin(nmnist_root):
    root, labels = nmnist_root
    data = load_dataset("nmnist", "train", root=root, progress=False)
    assert len(data) == 20 and data.frame_shape == (2, 34, 34) and data.n_classes == 10
    assert [labels[i] for i in range(1, 21)] == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4, 3, 5, 3, 6, 1, 7, 2, 8,
                                                  6, 9]  # the first 20 MNIST training labels
    assert sorted(data.targets.tolist()) == sorted(labels[i] for i in range(1, 21))
    for i in range(len(data)):
        frames, label = data[i]
        path = Path(data._sample_path(i))
        assert label == labels[int(path.stem)]
        x, y, p, t = _decode_nmnist(path)
        steps = int(t.max() // 1000)  # 1 ms frames from t = 0 to the last event (tonic's ToFrame)
        assert frames.shape == (steps, 2, 34, 34) and frames.dtype == torch.float32
        expected = np.zeros((steps, 2, 34, 34), np.float32)
        keep = t < steps * 1000
        np.add.at(expected, (t[keep] // 1000, p[keep], y[keep], x[keep]), 1)
        np.testing.assert_array_equal(frames.numpy(), expected)
        assert 250 <= steps <= 320  # three saccades of about 100 ms


def test_real_nmnist_frames_look_like_a_digit(nmnist_root):
    root, _ = nmnist_root
    data = load_dataset("nmnist", "test", root=root, time_window_us=100_000, progress=False)
    frames, label = data[0]
    assert label == 4 and frames.shape == (3, 2, 34, 34)  # one frame per saccade
    image = frames.sum((0, 1))
    border = torch.cat([image[:3].flatten(), image[-3:].flatten()])
    centre = image[10:24, 10:24]
    assert centre.mean() > 5 * border.mean()  # events concentrate on the digit, not the border


def test_nmnist_options_and_cache(nmnist_root):
    root, _ = nmnist_root
    data = load_dataset("nmnist", "train", root=root, duration_us=300_000, time_window_us=10_000,
                        denoise_us=10_000, downsample=0.5, crop=(16, 16), cache_dir=root / "cache",
                        progress=False)
    assert data.frame_shape == (2, 16, 16) and data.dt == 0.01
    frames, _ = data[0]
    assert frames.shape == (30, 2, 16, 16)
    assert len(list((root / "cache").glob("nmnist-train-*.h5"))) == 1
    again = load_dataset("nmnist", "train", root=root, duration_us=300_000, time_window_us=10_000,
                         denoise_us=10_000, downsample=0.5, crop=(16, 16),
                         cache_dir=root / "cache", progress=False)
    torch.testing.assert_close(again[0][0], frames, rtol=0, atol=0)
    np.testing.assert_array_equal(again.targets, data.targets)


def test_root_from_environment(nmnist_root, monkeypatch):
    root, _ = nmnist_root
    monkeypatch.setenv("NEURO_DATA", str(root))
    assert len(load_dataset("nmnist", "train", progress=False)) == 20
    monkeypatch.delenv("NEURO_DATA")
    with pytest.raises(DatasetNotFoundError, match="NEURO_DATA"):
        load_dataset("nmnist", "train")


def test_missing_files_say_where_and_url(tmp_path):
    with pytest.raises(DatasetNotFoundError) as err:
        load_dataset("shd", "train", root=tmp_path)
    message = str(err.value)
    assert str(tmp_path / "SHD" / "shd_train.h5") in message
    assert "https://zenkelab.org" in message and "download=True" in message
    with pytest.raises(DatasetNotFoundError, match="garrickorchard.com"):
        load_dataset("nmnist", "test", root=tmp_path)
    with pytest.raises(ValueError, match="valid: digits_events, dvs_gesture, nmnist"):
        load_dataset("mnist", "train")
    with pytest.raises(ValueError, match="splits"):
        load_dataset("shd", "valid", root=tmp_path)


def test_truncated_and_corrupt_nmnist_files(nmnist_root):
    root, _ = nmnist_root
    data = load_dataset("nmnist", "train", root=root, progress=False)
    victim = Path(data._sample_path(0))
    victim.write_bytes(victim.read_bytes()[:-2])  # cut inside the last event
    with pytest.raises(CorruptFileError, match="truncated"):
        data[0]
    raw = bytearray(Path(data._sample_path(1)).read_bytes())
    raw[0] = 200  # x = 200 on a 34-pixel sensor
    Path(data._sample_path(1)).write_bytes(bytes(raw))
    with pytest.raises(CorruptFileError, match="outside the 34x34 sensor"):
        data[1]


# ---- SHD / SSC: HDF5 files with the keys and dtypes of the real files -------------------------

def write_shd_file(path: Path, n: int = 6, n_classes: int = 20, seed: int = 0) -> list[tuple]:
    """An SHD-format file (keys from the SHD page; dtypes [recall], see write_shd_like_file)."""
    return write_shd_like_file(path, n_samples=n, n_classes=n_classes, seed=seed)


def test_shd_format_file_loads_through_the_shd_path(tmp_path):
    samples = write_shd_file(tmp_path / "SHD" / "shd_train.h5")
    data = load_dataset("shd", "train", root=tmp_path, time_window_us=10_000, duration_us=1e6,
                        progress=False)
    assert len(data) == 6 and data.frame_shape == (700,) and data.n_classes == 20
    np.testing.assert_array_equal(data.targets, [s[2] for s in samples])
    for i, (t, u, label) in enumerate(samples):
        frames, got_label = data[i]
        assert frames.shape == (100, 700) and got_label == label
        expected = np.zeros((100, 700), np.float32)
        t_us = (t.astype(np.float64) * 1e6).astype(np.int64)  # tonic's conversion to microseconds
        np.add.at(expected, (t_us // 10_000, u.astype(np.int64)), 1)
        np.testing.assert_array_equal(frames.numpy(), expected)
    down = load_dataset("shd", "train", root=tmp_path, downsample=0.2, duration_us=1e6,
                        progress=False)
    assert down.frame_shape == (140,) and down[0][0].shape == (100, 140)
    assert down[0][0].sum() == data[0][0].sum()


def test_ssc_uses_the_same_path_with_a_valid_split(tmp_path):
    write_shd_file(tmp_path / "SSC" / "ssc_valid.h5", n=4, n_classes=35)
    data = load_dataset("ssc", "valid", root=tmp_path, n_time_bins=20, progress=False)
    assert len(data) == 4 and data.n_classes == 35 and data[0][0].shape == (20, 700)


def test_truncated_and_malformed_shd_files(tmp_path):
    path = tmp_path / "SHD" / "shd_train.h5"
    write_shd_file(path)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CorruptFileError, match="not a readable HDF5 file"):
        load_dataset("shd", "train", root=tmp_path)
    with h5py.File(path, "w") as f:
        f.create_dataset("labels", data=np.zeros(3, np.uint16))
    with pytest.raises(CorruptFileError, match=r"spikes/times"):
        load_dataset("shd", "train", root=tmp_path)


def test_out_of_range_labels_and_incomplete_frames(tmp_path):
    from neuro.datasets.synthetic import write_shd_file as write_given

    path = tmp_path / "SHD" / "shd_train.h5"
    write_given(path, [np.array([0.001, 0.0255])], [np.array([3, 699])], [20], n_classes=21)
    with pytest.raises(CorruptFileError, match=r"label 20; labels must lie in \[0, 20\)"):
        load_dataset("shd", "train", root=tmp_path, progress=False)[0]
    write_given(path, [np.array([0.001, 0.0255])], [np.array([3, 699])], [2])
    frames, _ = load_dataset("shd", "train", root=tmp_path, progress=False, time_window_us=10_000,
                             include_incomplete=True)[0]
    assert frames.shape == (3, 700) and frames[0, 3] == 1 and frames[2, 699] == 1  # 25.5 ms kept
    frames, _ = load_dataset("shd", "train", root=tmp_path, progress=False, time_window_us=10_000)[0]
    assert frames.shape == (2, 700) and frames.sum() == 1  # tonic's default drops the partial frame
    with pytest.raises(ValueError, match="include_incomplete applies to time_window_us"):
        load_dataset("shd", "train", root=tmp_path, n_time_bins=5, include_incomplete=True)


def test_download_path_uses_tonics_downloader(tmp_path, monkeypatch):
    import tonic.datasets

    calls = []

    def fake_download(self):  # stands in for the network: tonic would fetch and unzip here
        calls.append(self.url)
        write_shd_file(Path(self.location_on_system) / "shd_test.h5", n=3)

    monkeypatch.setattr(tonic.datasets.SHD, "download", fake_download)
    with pytest.raises(DatasetNotFoundError):
        load_dataset("shd", "test", root=tmp_path)
    assert calls == []  # no silent download
    data = load_dataset("shd", "test", root=tmp_path, download=True, progress=False)
    assert calls == ["https://zenkelab.org/datasets/shd_test.h5.zip"] and len(data) == 3


# ---- DVS Gesture and N-TIDIGITS layouts --------------------------------------------------------

def test_dvs_gesture_layout(tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "DVSGesture" / "ibmGestureTrain" / "user01_fluorescent"
    folder.mkdir(parents=True)
    for label in (0, 3):  # tonic's preprocessed samples: [N, 4] x, y, p, t (ms)
        n = 500
        ev = np.stack([rng.integers(0, 128, n), rng.integers(0, 128, n), rng.integers(0, 2, n),
                       np.sort(rng.integers(0, 1500, n))], axis=1).astype(np.float64)
        np.save(folder / f"{label}.npy", ev)
    data = load_dataset("dvs_gesture", "train", root=tmp_path, downsample=0.25, duration_us=1.5e6,
                        time_window_us=50_000, progress=False)
    assert len(data) == 2 and data.frame_shape == (2, 32, 32)
    frames, label = data[1]
    assert frames.shape == (30, 2, 32, 32) and label == 3 and frames.sum() == 500


def test_ntidigits_layout(tmp_path):
    path = tmp_path / "NTIDIGITS18" / "n-tidigits.hdf5"
    path.parent.mkdir(parents=True)
    rng = np.random.default_rng(2)
    ids = ["man-ab-3", "woman-cd-z", "man-ef-12"]  # the last is a digit sequence, skipped
    with h5py.File(path, "w") as f:
        f.create_dataset("train_labels", data=np.array([i.encode() for i in ids]))
        for sample in ids:
            n = 100
            f.create_dataset(f"train_addresses/{sample}", data=rng.integers(0, 64, n))
            f.create_dataset(f"train_timestamps/{sample}", data=np.sort(rng.uniform(0, 0.5, n)))
        f.create_dataset("test_labels", data=np.array([], dtype="S1"))
    data = load_dataset("ntidigits", "train", root=tmp_path, time_window_us=50_000,
                        duration_us=500_000, progress=False)
    assert len(data) == 2 and data.frame_shape == (64,)
    assert [data[i][1] for i in range(2)] == [3, 10]  # 'z' is class 10
    assert data[0][0].shape == (10, 64) and data[0][0].sum() == 100


# ---- collation ----------------------------------------------------------------------------------

def test_pad_collate_time_major_with_lengths():
    a, b = torch.ones(3, 2, 4, 4), 2 * torch.ones(5, 2, 4, 4)
    batch = pad_collate([(a, 1), (b.numpy(), 7)])
    assert isinstance(batch, FrameBatch)
    assert batch.frames.shape == (5, 2, 2, 4, 4) and batch.frames.dtype == torch.float32
    assert batch.lengths.tolist() == [3, 5] and batch.labels.tolist() == [1, 7]
    assert batch.frames[3:, 0].abs().sum() == 0 and torch.equal(batch.frames[:, 1], b)
    cropped = pad_collate([(a, 1), (b, 7)], max_len=4)
    assert cropped.frames.shape[0] == 4 and cropped.lengths.tolist() == [3, 4]
    with pytest.raises(ValueError, match="every sample"):
        pad_collate([(a, 1), (torch.ones(3, 700), 2)])
    with pytest.raises(ValueError, match="empty"):
        pad_collate([])


def test_event_frames_work_with_a_dataloader(nmnist_root):
    import pickle
    from functools import partial

    root, _ = nmnist_root
    data = EventFrames("nmnist", "train", root, time_window_us=5000, progress=False)
    loader = torch.utils.data.DataLoader(data, batch_size=4, collate_fn=partial(pad_collate,
                                                                                 max_len=60))
    frames, labels, lengths = next(iter(loader))
    assert frames.shape == (60, 4, 2, 34, 34) and labels.shape == (4,) and lengths.max() == 60
    clone = pickle.loads(pickle.dumps(data))  # what spawned worker processes receive
    torch.testing.assert_close(clone[3][0], data[3][0], rtol=0, atol=0)
