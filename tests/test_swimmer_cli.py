"""``neuro swimmer train|eval|render``: a tiny run, resume, transfer table, pictures, clear errors."""

import json

import pytest

pytest.importorskip("dm_control", reason="the swimmer extra is not installed: pip install 'neuro[swimmer]'")

from neuro.cli import main  # noqa: E402

TINY = ["--episode-steps", "40", "--population", "2", "--eval-episodes", "1", "--eval-every", "1",
        "--workers", "0", "--no-progress"]


def test_train_resume_eval_render(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["swimmer", "train", "--out", str(run), "--generations", "1", *TINY]) == 0
    assert main(["swimmer", "train", "--resume", str(run), "--generations", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "after 4 training episodes" in out
    assert {"checkpoint.pt", "metrics.csv", "curve.png"} <= {p.name for p in run.iterdir()}

    table = tmp_path / "transfer.json"
    assert main(["swimmer", "eval", str(run), "--links", "4", "6", "--episodes", "1", "--steps", "30",
                 "--workers", "0", "--json", str(table)]) == 0
    rows = json.loads(table.read_text())["rows"]
    assert [r["n_links"] for r in rows] == [4, 6] and rows[1]["ratio_to_reference"] == 1.0

    assert main(["swimmer", "eval", "--policy", "zero", "--episodes", "1", "--steps", "20",
                 "--workers", "0"]) == 0
    assert "return 0.0" in capsys.readouterr().out

    strip, traces = tmp_path / "strip.png", tmp_path / "traces.png"
    assert main(["swimmer", "render", str(run), "--out", str(strip), "--traces", str(traces),
                 "--start", "60", "--frames", "3", "--backend", "matplotlib"]) == 0
    assert strip.stat().st_size > 1000 and traces.stat().st_size > 1000
    assert "lags" in capsys.readouterr().out


def test_errors_are_reported_with_exit_code_2(tmp_path, capsys):
    assert main(["swimmer", "train", "--generations", "1"]) == 2
    assert "--out" in capsys.readouterr().err
    run = tmp_path / "run"
    assert main(["swimmer", "train", "--out", str(run), "--generations", "1", *TINY]) == 0
    assert main(["swimmer", "train", "--resume", str(run), "--sigma", "0.5"]) == 2
    assert "ConfigMismatch" in capsys.readouterr().err
    assert main(["swimmer", "train", "--out", str(tmp_path / "x"), "--population", "3"]) == 2
    assert "even" in capsys.readouterr().err
    assert main(["swimmer", "eval", str(tmp_path / "missing")]) == 2
    assert "no swimmer ES checkpoint" in capsys.readouterr().err
    assert main(["swimmer"]) == 2
