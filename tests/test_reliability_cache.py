"""Frame cache reliability: every dataset hashed, label range, lock file, stale temporaries."""

import os
import signal
import subprocess
import sys
import time
import warnings

import h5py
import numpy as np
import pytest

from neuro._io import file_lock, remove_stale_temporaries, stale_temporaries
from neuro.datasets import CorruptFileError
from neuro.datasets.cache import FrameCache, cache_path, lock_path, open_or_build, write_cache

PARAMS = {"dataset": "toy", "time_window_us": 1000}


def _samples(n=12, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.integers(0, 5, size=(3 + i % 4, 2, 4, 4)).astype(np.int16), i % 10) for i in range(n)]


def _build(folder, samples, calls=None, **kwargs):
    def sample(i):
        if calls is not None:
            calls.append(i)
        return samples[i]
    return open_or_build(folder, "toy", "train", PARAMS, len(samples), sample, progress=False,
                         **kwargs)


def _flip_stored_byte(path, dataset, index):
    """Flip one byte of a contiguous dataset directly in the file (as a disk error would)."""
    with h5py.File(path, "r") as f:
        offset = f[dataset].id.get_offset()
    data = bytearray(path.read_bytes())
    data[offset + index] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["label_byte", "label_254", "offset_plus_one", "frames_rewritten"])
def test_every_dataset_is_verified_and_the_cache_rebuilt(tmp_path, damage):
    samples, calls = _samples(), []
    path = _build(tmp_path, samples, n_classes=10).path
    if damage == "label_byte":
        _flip_stored_byte(path, "labels", 8 * 3)  # low byte of label 3 (little-endian int64)
    else:
        with h5py.File(path, "r+") as f:
            if damage == "label_254":
                f["labels"][3] = 254
            elif damage == "offset_plus_one":
                f["offsets"][5] += 1  # still increasing: shifts samples 4 and 5 silently
            else:  # consistent HDF5 chunks (Fletcher-32 recomputed), different content
                frames = f["frames"][()]
                frames[7] += 1
                f["frames"][...] = frames
    with pytest.raises(CorruptFileError, match="SHA-256|labels"):
        FrameCache(path, PARAMS, n_classes=10)
    with pytest.warns(UserWarning, match="rebuilding the frame cache"):
        rebuilt = _build(tmp_path, samples, calls=calls, n_classes=10)
    assert calls == list(range(len(samples)))
    for i in (3, 4, 5):
        np.testing.assert_array_equal(rebuilt[i][0], samples[i][0])
        assert rebuilt[i][1] == samples[i][1]


def test_labels_outside_the_class_range_are_invalid(tmp_path):
    path = cache_path(tmp_path, "toy", "train", PARAMS)
    write_cache(path, PARAMS, [(np.zeros((2, 1, 2, 2)), 3), (np.zeros((2, 1, 2, 2)), 12)], 2,
                progress=False)
    FrameCache(path, PARAMS)  # consistent file, no class count given: accepted
    with pytest.raises(CorruptFileError, match=r"labels range over \[3, 12\], outside \[0, 10\)"):
        FrameCache(path, PARAMS, n_classes=10)
    bad = [(np.zeros((2, 1, 2, 2)), 12)]
    with pytest.raises(ValueError, match="sample 0 has label 12, outside"):
        open_or_build(tmp_path / "other", "toy", "train", PARAMS, 1, bad.__getitem__,
                      progress=False, n_classes=10)


def test_an_old_format_cache_without_hashes_is_rebuilt(tmp_path):
    samples = _samples(4)
    path = _build(tmp_path, samples).path
    with h5py.File(path, "r+") as f:
        del f["labels"].attrs["sha256"]
    with pytest.warns(UserWarning, match="has no SHA-256"):
        _build(tmp_path, samples)


_BUILDER = r"""
import sys, time
import numpy as np
from neuro.datasets.cache import open_or_build
folder, log, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])
def sample(i):
    with open(log, "a") as fh:
        fh.write(f"{i}\n")
    time.sleep(delay)
    return np.full((2, 1, 2, 2), i, np.int16), i % 10
cache = open_or_build(folder, "toy", "train", {"dataset": "toy", "time_window_us": 1000}, 8, sample,
                      progress=False, n_classes=10)
print(sum(int(cache[i][0].sum()) for i in range(len(cache))))
"""


def _spawn(folder, log, delay):
    return subprocess.Popen([sys.executable, "-c", _BUILDER, str(folder), str(log), str(delay)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_processes_build_the_cache_once(tmp_path):
    """Both find a corrupt file; one rebuilds under the lock, the other waits and opens the new
    file (before the lock, both rebuilt and one could delete the file the other just renamed in)."""
    folder, log = tmp_path / "cache", tmp_path / "calls.log"
    folder.mkdir()
    cache_path(folder, "toy", "train", PARAMS).write_bytes(b"not an HDF5 file")
    procs = [_spawn(folder, log, 0.1) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    expected = sum(i * 8 for i in range(8))
    assert [int(out.strip()) for out, _ in outputs] == [expected, expected]
    assert log.read_text().split() == [str(i) for i in range(8)]  # built by one process only
    assert sorted(p.name for p in folder.iterdir()) == [cache_path(folder, "toy", "train", PARAMS).name]


def test_a_killed_writer_leaves_a_temporary_that_the_next_build_removes(tmp_path):
    folder, log = tmp_path / "cache", tmp_path / "calls.log"
    proc = _spawn(folder, log, 5.0)
    deadline = time.monotonic() + 60
    while not list(folder.glob(".*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(folder.glob(".*.tmp")), "the writer never started"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    orphan = list(folder.glob(".*.tmp"))
    assert len(orphan) == 1 and f".{proc.pid}-" in orphan[0].name  # the writer's pid in the name
    assert stale_temporaries(cache_path(folder, "toy", "train", PARAMS)) == orphan
    cache = open_or_build(folder, "toy", "train", PARAMS, 8,
                          lambda i: (np.full((2, 1, 2, 2), i, np.int16), i), progress=False)
    assert len(cache) == 8
    assert sorted(p.name for p in folder.iterdir()) == [cache.path.name]  # orphan and lock gone


def test_stale_temporaries_spare_live_writers_and_fresh_files(tmp_path):
    target = tmp_path / "data.h5"
    live = tmp_path / f".data.h5.{os.getppid()}-00aa.tmp"   # a running process
    dead = tmp_path / ".data.h5.999999999-00bb.tmp"          # no such process
    old_style = tmp_path / ".data.h5.00cc.tmp"                # no pid (earlier versions)
    other = tmp_path / ".other.h5.999999999-00dd.tmp"         # another file's temporary
    for p in (live, dead, old_style, other):
        p.write_bytes(b"x")
    assert stale_temporaries(target) == [dead]
    hour_ago = time.time() - 7200
    os.utime(old_style, (hour_ago, hour_ago))
    assert stale_temporaries(target) == sorted([dead, old_style])
    assert remove_stale_temporaries(target, min_age_s=0) == sorted([live, dead, old_style])
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name]


def test_file_lock_excludes_a_second_holder_and_leaves_no_file(tmp_path):
    lock = lock_path(tmp_path / "x.h5")
    code = ("import sys; from neuro._io import file_lock\n"
            "with file_lock(sys.argv[1], timeout=0.3):\n    print('got it')")
    with file_lock(lock):
        res = subprocess.run([sys.executable, "-c", code, str(lock)], capture_output=True, text=True)
        assert res.returncode != 0 and "TimeoutError" in res.stderr
    assert not lock.exists()
    res = subprocess.run([sys.executable, "-c", code, str(lock)], capture_output=True, text=True)
    assert res.stdout.strip() == "got it"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with file_lock(lock):  # reusable in-process
            pass
