"""``neuro train`` -> ``neuro export`` -> ``neuro inspect`` -> ``from_nir`` reproduces the model."""

import pytest
import torch

from neuro.cli import main
from neuro.nir import from_nir
from neuro.train import TrainConfig, load_model, train


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("export") / "run"
    cache = str(tmp_path_factory.getbasetemp() / "neuro_frame_cache")
    cfg = TrainConfig(dataset="digits_events", model="csnn", epochs=1, batch_size=16, lr=5e-3,
                      time_window_us=30_000, model_options={"channels": [4, 8]}, train_samples=48,
                      test_samples=16, progress=False, cache_dir=cache, device="cpu")
    train(cfg, run)
    return run


def test_export_inspect_and_reimport(trained_run, tmp_path, capsys):
    out = tmp_path / "model.nir"
    assert main(["export", str(trained_run), "--out", str(out)]) == 0
    assert out.stat().st_size > 0
    assert main(["inspect", str(out)]) == 0
    listing = capsys.readouterr().out
    assert "Conv2d" in listing and "LIF" in listing
    model = load_model(trained_run).eval()
    graph = from_nir(out)
    x = (torch.rand(10, 3, 2, 22, 22) < 0.1).float()
    with torch.no_grad():
        expected, _ = model(x)
        got, _ = graph(x)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_export_errors_are_reported(tmp_path, trained_run, capsys):
    assert main(["export", str(tmp_path / "missing"), "--out", str(tmp_path / "m.nir")]) == 1
    assert "no checkpoint" in capsys.readouterr().err
    # the CSNN uses a subtract reset, which NIR cannot express: strict export refuses, no file left
    assert main(["export", str(trained_run), "--out", str(tmp_path / "s.nir"), "--strict"]) == 1
    assert "reset" in capsys.readouterr().err
    assert not (tmp_path / "s.nir").exists()
