"""neuro._io: atomic writes (no temporary file left, umask respected), figures, HDF5 opening."""

import os
import stat

import h5py
import pytest

from neuro._io import atomic_write, atomic_write_path, open_hdf5, save_figure, write_text


class Boom(Exception):
    pass


def _listing(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    try:
        yield 0o027
    finally:
        os.umask(old)


def test_atomic_write_replaces_the_file_and_leaves_nothing_else(tmp_path):
    path = tmp_path / "sub" / "out.bin"
    assert atomic_write(path, lambda fh: fh.write(b"one")) == path
    atomic_write(path, lambda fh: fh.write(b"two"))
    assert path.read_bytes() == b"two"
    assert _listing(path.parent) == ["out.bin"]


@pytest.mark.parametrize("failure", [Boom, KeyboardInterrupt])
def test_a_failed_write_leaves_no_temporary_file_and_the_old_content(tmp_path, failure):
    path = tmp_path / "out.txt"
    write_text(path, "old")

    def half_then_fail(fh):
        fh.write(b"partial")
        raise failure()

    with pytest.raises(failure):
        atomic_write(path, half_then_fail)
    assert path.read_text() == "old"
    assert _listing(tmp_path) == ["out.txt"]

    def by_name_then_fail(tmp):
        with open(tmp, "wb") as fh:
            fh.write(b"partial")
        raise failure()

    with pytest.raises(failure):
        atomic_write_path(tmp_path / "new.h5", by_name_then_fail)
    assert _listing(tmp_path) == ["out.txt"]


@pytest.mark.parametrize("writer", ["file", "path"])
def test_the_final_mode_respects_the_umask(tmp_path, umask_027, writer):
    path = tmp_path / "out.bin"
    if writer == "file":
        atomic_write(path, lambda fh: fh.write(b"x"))
    else:
        atomic_write_path(path, lambda tmp: open(tmp, "wb").close())
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask_027  # 0o640, not mkstemp's 0o600


def test_the_final_mode_follows_a_permissive_umask(tmp_path):
    old = os.umask(0o002)
    try:
        write_text(tmp_path / "shared.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "shared.txt").stat().st_mode) == 0o664


def test_atomic_write_path_suits_h5py(tmp_path):
    path = tmp_path / "data.h5"

    def write(tmp):
        with h5py.File(tmp, "w") as f:
            f["x"] = [1, 2, 3]

    atomic_write_path(path, write)
    with open_hdf5(path) as f:
        assert f["x"][()].tolist() == [1, 2, 3]
    assert _listing(tmp_path) == ["data.h5"]


def test_save_figure_writes_a_png_and_closes_the_figure(tmp_path):
    from neuro._io import pyplot

    plt = pyplot()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = save_figure(fig, tmp_path / "plot.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(fig.number)
    assert _listing(tmp_path) == ["plot.png"]


class NamedError(ValueError):
    pass


def test_open_hdf5_errors_name_the_file(tmp_path):
    missing = tmp_path / "missing.h5"
    with pytest.raises(FileNotFoundError, match=r"frame cache '.*missing\.h5' does not exist"):
        open_hdf5(missing, what="frame cache")
    junk = tmp_path / "junk.h5"
    junk.write_text("not HDF5 at all")
    with pytest.raises(NamedError) as info:
        open_hdf5(junk, what="hardware image", error=NamedError)
    message = str(info.value)
    assert repr(str(junk)) in message and message.startswith("hardware image ")
    assert "is not a readable HDF5 file" in message and "truncated or corrupt?" in message
    assert isinstance(info.value.__cause__, OSError)
    with pytest.raises(OSError, match="junk.h5.*not a readable HDF5/NIR file.*not a NIR file"):
        open_hdf5(junk, kind="HDF5/NIR", hint="it may be truncated or not a NIR file at all")
