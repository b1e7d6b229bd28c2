"""Packaging: every package folder is listed, the mapped folders never import as top-level names."""

import subprocess
import sys
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[1]


def _config():
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_folder_is_listed():
    cfg = _config()
    listed = set(cfg["packages"])
    found = set()
    for name, folder in cfg["package-dir"].items():
        root = REPO / folder
        for init in root.rglob("__init__.py"):
            rel = init.parent.relative_to(root)
            parts = [p for p in rel.parts if p]
            found.add(".".join([name, *parts]))
    missing = found - listed
    assert not missing, f"package folders missing from pyproject packages (absent from the wheel): {missing}"
    assert listed <= found, f"listed packages without a folder: {listed - found}"


def test_mapped_folders_are_neuro_subpackages():
    cfg = _config()
    assert cfg["package-dir"]["neuro.kernels"] == "kernels"
    assert cfg["package-dir"]["neuro.datasets"] == "datasets"
    assert "kernels" not in cfg["packages"] and "datasets" not in cfg["packages"]
    import neuro.datasets
    import neuro.kernels

    assert Path(neuro.kernels.__file__).parent == REPO / "kernels"
    assert Path(neuro.datasets.__file__).parent == REPO / "datasets"


def test_top_level_import_of_the_folders_is_refused():
    for name in ("kernels", "datasets"):
        proc = subprocess.run([sys.executable, "-c", f"import {name}"], cwd=REPO,
                              capture_output=True, text=True)
        assert proc.returncode != 0
        assert f"neuro.{name}" in proc.stderr and "ImportError" in proc.stderr


def test_no_root_conftest_or_tests_init():
    assert not (REPO / "conftest.py").exists()
    assert not (REPO / "tests" / "__init__.py").exists()
