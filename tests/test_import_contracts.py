"""The import contracts (pyproject.toml, [tool.importlinter]) bite: a forbidden import planted in a
temporary copy of the package makes ``.ci/lint_imports`` fail, naming the contract, while the
unmodified copy passes; and a bare ``lint-imports`` on the source layout fails loudly instead of
silently skipping ``neuro.kernels`` / ``neuro.datasets`` (which the package-dir mapping hides).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter")

REPO = Path(__file__).resolve().parents[1]

# (file of the copy, line planted at its end, text the failure must show)
PLANTS = {
    "torch-in-kernels": ("kernels/lif_math.py", "import torch",
                         "neuro.kernels is not allowed to import torch"),
    "ops-in-kernels": ("kernels/lif_cpu.py", "from neuro.ops import lif",
                       "neuro.kernels is not allowed to import neuro.ops"),
    "nn-in-ops": ("neuro/ops/lif.py", "import neuro.nn", "neuro.ops is not allowed to import neuro.nn"),
    "models-in-datasets": ("datasets/cache.py", "import neuro.models",
                           "neuro.datasets is not allowed to import neuro.models"),
    "learning-in-sim": ("neuro/sim/network.py", "import neuro.learning",
                        "neuro.sim is not allowed to import neuro.learning"),
    "hw-in-nir": ("neuro/nir/spec.py", "import neuro.hw", "neuro.nir is not allowed to import neuro.hw"),
}


def _copy(dst: Path) -> Path:
    """The package folders and the config, as a checkout has them (without caches)."""
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("neuro", "kernels", "datasets"):
        shutil.copytree(REPO / folder, dst / folder, ignore=skip)
    shutil.copy2(REPO / "pyproject.toml", dst / "pyproject.toml")
    return dst


def _env() -> dict:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.pop("PYTHONPATH", None)
    return env


def _lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(REPO / ".ci" / "lint_imports"), str(root)], capture_output=True,
                          text=True, env=_env(), timeout=120)


def _plant(root: Path, path: str, line: str) -> None:
    target = root / path
    target.write_text(target.read_text() + f"\n{line}  # planted by test_import_contracts\n")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return _copy(tmp_path_factory.mktemp("pristine"))


def test_contracts_pass_on_the_unmodified_copy(pristine):
    res = _lint(pristine)
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout
    for pkg in ("neuro.kernels", "neuro.datasets"):  # really scanned, not silently absent
        count = int(out.split(f"{pkg}: ", 1)[1].split(" ", 1)[0])
        assert count >= 5, out
    assert "Contracts: 5 kept, 0 broken." in out


@pytest.mark.parametrize("name", sorted(PLANTS))
def test_planted_import_breaks_a_contract(name, tmp_path):
    path, line, message = PLANTS[name]
    root = _copy(tmp_path)
    assert "planted" not in (root / path).read_text()
    _plant(root, path, line)
    res = _lint(root)
    assert res.returncode != 0, res.stdout
    assert message in res.stdout, res.stdout + res.stderr


def test_cycle_breaks_the_acyclic_contract(tmp_path):
    root = _copy(tmp_path)
    ops = root / "neuro" / "ops"
    (ops / "_cycle_a.py").write_text("from neuro.ops import _cycle_b  # noqa: F401\n")
    (ops / "_cycle_b.py").write_text("from neuro.ops import _cycle_a  # noqa: F401\n")
    res = _lint(root)
    assert res.returncode != 0 and "No cycles are allowed in neuro.ops" in res.stdout, res.stdout


def test_unplaced_module_breaks_the_exhaustive_layers(tmp_path):
    root = _copy(tmp_path)
    (root / "neuro" / "newthing.py").write_text('"""A module no layer names."""\n')
    res = _lint(root)
    assert res.returncode != 0 and "neuro.newthing" in res.stdout, res.stdout + res.stderr


def test_bare_lint_imports_on_the_source_layout_fails_loudly(pristine):
    """From a checkout, grimp sees neuro/ only: the required layers make that an error, not a pass."""
    res = subprocess.run(["lint-imports", "--no-cache"], cwd=pristine, capture_output=True, text=True,
                         env=_env(), timeout=120)
    assert res.returncode != 0
    assert "does not exist" in res.stdout + res.stderr, res.stdout + res.stderr
