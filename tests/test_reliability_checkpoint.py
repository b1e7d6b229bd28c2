"""Checkpoints: a content hash verified at load, and clear errors for files that are not checkpoints
(random bytes, empty, malicious pickle, damaged archive, missing keys)."""

import os
import pickle
import zipfile

import pytest
import torch

from neuro.cli import main
from neuro.train import CheckpointError, load_checkpoint, load_model
from neuro.train.checkpoint import MODEL_KEYS, save_checkpoint
from neuro.train.models import build_from_spec, model_spec


def _spec():
    return model_spec("snn", [20], 3, 1e-3, "membrane", hidden=[6])


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = build_from_spec(_spec())
    path = save_checkpoint(tmp_path / "checkpoint.pt", {"model_spec": _spec(), "model": model.state_dict(),
                                                         "history": [{"epoch": 1, "loss": 0.5}]})
    return path, model


def _tensor_data_offset(path, name_part="data/"):
    """Byte offset in the file of the first stored tensor's data (zip entries are uncompressed)."""
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if name_part in i.filename and
                    i.filename.split("/")[-1].isdigit() and i.file_size >= 64)
        with open(path, "rb") as fh:  # local header: 30 bytes + name + extra field
            fh.seek(info.header_offset + 26)
            n, m = int.from_bytes(fh.read(2), "little"), int.from_bytes(fh.read(2), "little")
        return info.header_offset + 30 + n + m


def test_flipped_bytes_in_tensor_data_are_detected(saved):
    path, _ = saved
    assert load_checkpoint(path)["content_sha256"]
    data = bytearray(path.read_bytes())
    start = _tensor_data_offset(path)
    for k in range(start, start + 16):
        data[k] ^= 0x5A
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=f"{path} is damaged: its content does not match the "
                                              "SHA-256 stored when it was saved"):
        load_checkpoint(path)


def test_random_bytes_empty_file_and_truncated_archive(tmp_path, saved):
    rand = tmp_path / "random.pt"
    rand.write_bytes(bytes(range(7, 256)) * 4)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(rand)
    assert "neither a torch zip archive nor a pickle" in str(err.value)
    assert "weights_only" not in str(err.value) and str(rand) in str(err.value)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"empty.pt is empty \(0 bytes\)"):
        load_checkpoint(empty)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(saved[0].read_bytes()[:700])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(cut)


class _Payload:
    """A pickle that runs a shell command when unpickled without protection."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("container", ["torch_zip", "bare_pickle"])
def test_a_malicious_pickle_is_refused_and_nothing_runs(tmp_path, container):
    marker = tmp_path / "executed"
    path = tmp_path / "evil.pt"
    if container == "torch_zip":
        torch.save({"format": "neuro-checkpoint", "model": _Payload(marker)}, path)
    else:
        path.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    text = str(err.value)
    assert "system" in text and "nothing was executed" in text and "weights_only" not in text
    assert not marker.exists()


def test_an_incomplete_checkpoint_names_the_missing_keys(tmp_path):
    path = save_checkpoint(tmp_path / "c.pt", {"model": {}})
    with pytest.raises(CheckpointError, match=r"incomplete checkpoint: it lacks 'model_spec'"):
        load_model(path)
    with pytest.raises(CheckpointError, match="lacks 'model_spec'"):
        load_checkpoint(path, require=MODEL_KEYS)
    assert main(["export", str(path), "--out", str(tmp_path / "m.nir")]) == 1


def test_version_1_checkpoints_without_a_hash_still_load(tmp_path, saved):
    _, model = saved
    old = tmp_path / "old.pt"
    torch.save({"format": "neuro-checkpoint", "version": 1, "model_spec": _spec(),
                "model": model.state_dict()}, old)
    rebuilt = load_model(old)
    for (k, a), (_, b) in zip(rebuilt.state_dict().items(), model.state_dict().items()):
        assert torch.equal(a, b), k


def test_export_without_the_nir_extra_is_one_line(tmp_path, saved, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "nir", None)  # `import nir` raises ImportError
    assert main(["export", str(saved[0]), "--out", str(tmp_path / "m.nir")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'neuro[nir]'" in err and "Traceback" not in err
    assert not (tmp_path / "m.nir").exists()
