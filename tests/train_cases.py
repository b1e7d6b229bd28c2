"""Helpers shared by the trainer tests: an interrupted run, and runs under torchrun."""

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from neuro.datasets.synthetic import write_shd_like_file
from neuro.train import load_checkpoint
from neuro.train import trainer as trainer_module


@contextlib.contextmanager
def killed_after_first_checkpoint(monkeypatch, run_dir: Path):
    """Inside the block, training raises KeyboardInterrupt right after writing its first
    checkpoint (as if killed); the block must start one run in ``run_dir``."""
    original = trainer_module._save_epoch

    def save_then_die(session):
        original(session)
        if len(session.history) == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(trainer_module, "_save_epoch", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        yield
    monkeypatch.setattr(trainer_module, "_save_epoch", original)
    assert load_checkpoint(run_dir)["epoch"] == 1


def torchrun_on_shd_like_data(tmp_path: Path, script: str, n_train: int, n_test: int) -> None:
    """Write SHD-format train/test files under ``tmp_path/data`` and run ``script`` (argv: data
    root, ``tmp_path``) in 2 gloo CPU processes; fails with their output if it does not exit 0."""
    write_shd_like_file(tmp_path / "data" / "SHD" / "shd_train.h5", n_samples=n_train, seed=1)
    write_shd_like_file(tmp_path / "data" / "SHD" / "shd_test.h5", n_samples=n_test, seed=2)
    path = tmp_path / "ddp_run.py"
    path.write_text(script)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node=2", str(path), str(tmp_path / "data"), str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
