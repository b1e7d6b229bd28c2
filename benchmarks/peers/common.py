"""Helpers shared by the peer-simulator benchmarks: finding interpreters, machine name, results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from harness import cpu_name, write_results  # noqa: F401 - re-exported for the peer benchmarks

ROOT = Path(__file__).resolve().parents[2]
PEERS = Path(__file__).resolve().parent


def brian2_python() -> str | None:
    """An interpreter that can import Brian2.

    Brian2 2.9 does not import with numpy >= 2.4 (``ndarray.ptp`` was removed), so it usually lives
    in a side environment: ``$BRIAN2_PYTHON``, else ``.venv/brian2/bin/python`` (create it with
    ``python3 -m venv .venv/brian2 && .venv/brian2/bin/pip install 'numpy<2.4' brian2``), else this
    interpreter when it can import Brian2.
    """
    candidates = [os.environ.get("BRIAN2_PYTHON"), str(ROOT / ".venv" / "brian2" / "bin" / "python"),
                  sys.executable]
    for exe in candidates:
        if exe and Path(exe).exists():
            ok = subprocess.run([exe, "-c", "import brian2"], capture_output=True).returncode == 0
            if ok:
                return exe
    return None


def run_json(cmd: list[str], timeout: float = 900) -> dict:
    """Run a peer script and parse the JSON object on its last output line."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return json.loads(lines[-1])
