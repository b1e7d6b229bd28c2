"""``benchmarks/gpu_check.sh --dry-run``: the one-shot GPU check exercised on the CPU, so it cannot rot.

The dry run collects the CUDA tests (``-m cuda`` must select some) and runs every benchmark stage at
tiny sizes under Numba's CUDA simulator, in a scratch copy of ``benchmarks/``; the committed results
are left alone. The GPU mode's guard against a wheel built from other sources is checked too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "gpu_check.sh"
STAGES = ("tests", "ovh", "b2", "b1", "b3", "b5", "b4")
RESULTS_OF = {"ovh": "lif_overhead_cpu.json",
              "b2": "b2_lif_alone_cpu.json", "b1": "b1_linear_lif_cpu.json", "b3": "delays_cpu_b1.json",
              "b5": "b5_elm_", "b4": "b4_cuba_"}


def _env(**extra: str) -> dict:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")  # pytest, python3
    env.update(extra)
    return env


def _committed_results() -> dict:
    folder = REPO / "benchmarks" / "results"
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} if folder.is_dir() else {}


@pytest.mark.slow
def test_dry_run_exercises_every_stage(tmp_path):
    before = _committed_results()
    t0 = time.monotonic()
    res = subprocess.run(["bash", str(SCRIPT), "--dry-run"], capture_output=True, text=True, timeout=1500,
                         env=_env(OUT=str(tmp_path)))
    elapsed = time.monotonic() - t0
    summary = (tmp_path / "summary.txt").read_text()
    logs = "".join((tmp_path / f).read_text() for f in ("setup.log", "tests.log", "bench.log"))
    assert res.returncode == 0, summary + res.stderr + logs[-6000:]
    for name in STAGES:
        assert any(line.startswith(name) and "rc=0 " in line for line in summary.splitlines()), summary
    selected = [line for line in summary.splitlines() if "-m cuda selects" in line]
    assert selected and int(selected[0].split("selects")[1].split()[0]) > 0, summary
    with tarfile.open(tmp_path / "results.tgz") as tar:
        names = tar.getnames()
    for stage, prefix in RESULTS_OF.items():
        assert any(Path(n).name.startswith(prefix) for n in names), (stage, names)
    assert _committed_results() == before  # the tiny runs wrote into a scratch copy only
    assert set(p.name for p in tmp_path.iterdir()) <= {"summary.txt", "setup.log", "tests.log",
                                                       "bench.log", "results.tgz"}
    print(f"dry run: {elapsed:.0f} s\n{summary}")


def test_usage_and_bad_argument():
    help_text = subprocess.run(["bash", str(SCRIPT), "--help"], capture_output=True, text=True, timeout=30)
    assert help_text.returncode == 0 and "--dry-run" in help_text.stdout and "prepare" in help_text.stdout
    bad = subprocess.run(["bash", str(SCRIPT), "--gpu"], capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "unknown argument" in bad.stderr


def test_gpu_mode_refuses_a_wheel_built_from_other_sources(tmp_path):
    """A stale .whl/ (sources changed since `prepare`) stops the GPU run before anything is installed."""
    (tmp_path / "benchmarks").mkdir()
    shutil.copy2(SCRIPT, tmp_path / "benchmarks" / "gpu_check.sh")
    for folder in ("neuro", "kernels", "datasets"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text("")
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / ".whl").mkdir()
    (tmp_path / ".whl" / "neuro-0.1.0-py3-none-any.whl").write_bytes(b"")
    (tmp_path / ".whl" / "SOURCE.sha256").write_text("0" * 64 + "\n")
    out = tmp_path / "out"
    res = subprocess.run(["bash", str(tmp_path / "benchmarks" / "gpu_check.sh")], capture_output=True,
                         text=True, timeout=60, env=_env(OUT=str(out)))
    assert res.returncode == 2, res.stdout + res.stderr
    assert "built from other sources" in res.stdout
    assert not (out / "tests.log").exists()
