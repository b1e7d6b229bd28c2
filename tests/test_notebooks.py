"""Every ``notebooks/*.ipynb`` executes top to bottom (reduced sizes: ``NEURO_NOTEBOOK_SMALL=1``).

Notebooks read ``NEURO_NOTEBOOK_SMALL`` to shrink their sizes; they run in a temporary folder (their
files go there) and must not have outputs committed.
"""

import os
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_no_committed_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, \
                f"{path.name}: clear the outputs before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path, tmp_path, tmp_path_factory, monkeypatch):
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    for module in nb.metadata.get("neuro", {}).get("requires", []):  # optional extras a notebook needs
        pytest.importorskip(module, reason=f"{path.name} needs {module} (see its first cell)")
    monkeypatch.setenv("NEURO_NOTEBOOK_SMALL", "1")
    # binned frames are cached for the session (shared with test_demo / test_train)
    monkeypatch.setenv("NEURO_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "neuro_frame_cache"))
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env={**os.environ})
    errors = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
              if out.output_type == "error"]
    assert not errors
