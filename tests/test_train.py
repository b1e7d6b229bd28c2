"""Training: losses, models by name, run files, self-describing checkpoints, exact resume,
mismatched resume, NaN handling, the ``neuro train`` CLI."""

import csv
from pathlib import Path

import pytest
import torch

from neuro.cli import main
from neuro.nn import LIF, Recurrent, Sequential
from neuro.train import (
    ConfigMismatch,
    TrainConfig,
    TrainingDiverged,
    build_model,
    classification_loss,
    load_checkpoint,
    load_model,
    readout_logits,
    train,
)
from neuro.train import trainer as trainer_module
from train_cases import killed_after_first_checkpoint


@pytest.fixture(scope="module")
def digits_cache(tmp_path_factory):
    """The frame cache shared with test_demo / test_notebooks (30 ms digits frames)."""
    return str(tmp_path_factory.getbasetemp() / "neuro_frame_cache")


def tiny(cache_dir, **changes) -> TrainConfig:
    base = dict(dataset="digits_events", model="csnn", epochs=2, batch_size=16, lr=5e-3,
                time_window_us=30_000, model_options={"channels": [4, 8]}, train_samples=64,
                test_samples=32, progress=False, cache_dir=cache_dir, device="cpu")
    return TrainConfig(**{**base, **changes})


# ---- losses and models -----------------------------------------------------------------------

def test_readout_logits_by_hand():
    out = torch.tensor([[[1.0, 0.0]], [[3.0, 1.0]], [[2.0, 5.0]]])  # [T=3, B=1, C=2]
    assert readout_logits(out, "count").tolist() == [[6.0, 6.0]]
    assert readout_logits(out, "max").tolist() == [[3.0, 5.0]]
    assert readout_logits(out, "last").tolist() == [[2.0, 5.0]]
    assert readout_logits(out, "mean").tolist() == [[2.0, 2.0]]
    two = torch.cat([out, out], 1)
    lengths = torch.tensor([2, 3])  # the first sample has only 2 valid steps
    assert readout_logits(two, "max", lengths).tolist() == [[3.0, 1.0], [3.0, 5.0]]
    assert readout_logits(two, "last", lengths).tolist() == [[3.0, 1.0], [2.0, 5.0]]
    assert readout_logits(two, "mean", lengths).tolist() == [[2.0, 0.5], [2.0, 2.0]]
    assert readout_logits(two, "count", lengths).tolist() == [[4.0, 1.0], [6.0, 6.0]]
    loss, logits = classification_loss(out, torch.tensor([1]), "max")
    assert loss.item() == pytest.approx(torch.nn.functional.cross_entropy(
        torch.tensor([[3.0, 5.0]]), torch.tensor([1])).item())
    with pytest.raises(ValueError, match="valid: count, max, last, mean"):
        readout_logits(out, "softmax")


@pytest.mark.parametrize("name, shape", [("csnn", (2, 22, 22)), ("snn", (700,)),
                                         ("cuba_snn", (700,)), ("rsnn", (40,)),
                                         ("cuba_rsnn", (40,))])
def test_models_by_name(name, shape):
    options = {"channels": [4, 8]} if name == "csnn" else {"hidden": [16]}
    model = build_model(name, input_shape=shape, n_classes=5, dt=1e-3, **options)
    x = (torch.rand(6, 3, *shape) < 0.2).float()
    out, _ = model(x)
    assert out.shape == (6, 3, 5)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("epochs", [1, 3, 10])
def test_epoch_schedules_match_pytorchs(epochs):
    from neuro.train.schedules import EpochSchedule

    def run(make):
        opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=2e-3)
        sched = make(opt)
        seen = []
        for epoch in range(epochs):
            seen += [opt.param_groups[0]["lr"], opt.param_groups[0]["betas"][0]]
            opt.step()
            if epoch < epochs - 1:
                sched.step()
        return seen

    for ours, theirs in (
            (lambda o: EpochSchedule(o, "cosine", epochs),
             lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=epochs)),
            (lambda o: EpochSchedule(o, "onecycle", epochs, peak_ratio=2.5),
             lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=5e-3, total_steps=epochs)),
            (lambda o: EpochSchedule(o, "none", epochs),
             lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda e: 1.0))):
        assert run(ours) == pytest.approx(run(theirs), rel=1e-12)
    with pytest.raises(ValueError, match="schedule must be one of"):
        EpochSchedule(torch.optim.Adam([{"params": [torch.zeros(1)], "schedule": "step"}]), "none", 3)


def test_sum_softmax_loss_and_old_checkpoint_configs():
    from neuro.train.config import config_diff

    v = torch.randn(7, 3, 5)
    y = torch.tensor([0, 4, 2])
    m = torch.softmax(v, -1).sum(0)
    loss, logits = classification_loss(v, y, "sum_softmax")
    torch.testing.assert_close(loss, torch.nn.functional.cross_entropy(m, y))  # the recipe's "sum"
    lengths = torch.tensor([7, 4, 1])
    masked = readout_logits(v, "sum_softmax", lengths)
    for b, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(masked[b], torch.softmax(v[:n, b], -1).sum(0))
    stored = TrainConfig().to_dict()
    for new_field in ("max_lr", "include_incomplete"):  # a checkpoint from before these fields
        del stored[new_field]
    assert config_diff(stored, TrainConfig().to_dict()) == []
    assert config_diff(stored, TrainConfig(max_lr=0.1).to_dict()) == [
        "max_lr: None (checkpoint) != 0.1 (requested)"]


def test_spiking_readout_and_bad_names():
    model = build_model("snn", input_shape=(20,), n_classes=4, dt=1e-3, readout="spikes",
                        hidden=[8])
    out, _ = model(torch.rand(5, 2, 20) * 4)
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="valid: csnn, cuba_rsnn, cuba_snn, delay_snn, rsnn, snn"):
        build_model("resnet", input_shape=(20,), n_classes=4, dt=1e-3)
    with pytest.raises(ValueError, match="bad options"):
        build_model("snn", input_shape=(20,), n_classes=4, dt=1e-3, width=3)


def test_recurrent_layer_without_feedback_equals_the_fused_scan():
    torch.manual_seed(1)
    w_in, w_rec = torch.nn.Linear(12, 7), torch.nn.Linear(7, 7, bias=False)
    rec = Sequential(w_in, Recurrent(LIF(tau_mem=10e-3, integration="exact"), w_rec))
    with torch.no_grad():
        w_rec.weight.zero_()
    ff = Sequential(torch.nn.Linear(12, 7), LIF(tau_mem=10e-3, integration="exact"))
    ff[0].layer.load_state_dict(w_in.state_dict())
    x = torch.rand(9, 3, 12) * 2
    out_rec, _ = rec(x)
    out_ff, _ = ff(x)
    torch.testing.assert_close(out_rec, out_ff, rtol=0, atol=0)
    assert out_rec.sum() > 0
    (out_rec.sum()).backward()
    (out_ff.sum()).backward()
    torch.testing.assert_close(w_in.weight.grad, ff[0].layer.weight.grad, rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="neuron must be a neuro neuron module"):
        Recurrent(torch.nn.Linear(3, 3), torch.nn.Linear(3, 3))


# ---- the training loop -------------------------------------------------------------------------

def test_run_files_and_self_describing_checkpoint(tmp_path, digits_cache):
    result = train(tiny(digits_cache), tmp_path / "run")
    run = tmp_path / "run"
    for name in ("checkpoint.pt", "metrics.csv", "metrics.json", "curves.png", "raster.png"):
        assert (run / name).stat().st_size > 0, name
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert {"train_loss", "train_acc", "test_loss", "test_acc", "spike_rate", "lr"} <= set(rows[0])
    assert 0 < float(rows[-1]["spike_rate"]) < 1
    raw = torch.load(run / "checkpoint.pt", weights_only=True)  # plain data only
    assert raw["epoch"] == 2 and raw["config"]["model"] == "csnn"
    assert raw["model_spec"]["input_shape"] == [2, 22, 22] and raw["model_spec"]["dt"] == 0.03
    model = load_model(run)  # rebuilt from the checkpoint alone
    x = (torch.rand(10, 2, 2, 22, 22) < 0.1).float()
    model.eval()
    result.model.eval()
    torch.testing.assert_close(model(x)[0], result.model(x)[0])
    assert not list(run.glob(".*tmp"))  # no temporary files left
    with pytest.raises(FileExistsError, match="--resume"):
        train(tiny(digits_cache), run)


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_resume_after_interruption_matches_an_uninterrupted_run(tmp_path, digits_cache,
                                                                 monkeypatch):
    config = tiny(digits_cache, epochs=3)
    straight = train(config, tmp_path / "straight")

    with killed_after_first_checkpoint(monkeypatch, tmp_path / "resumed"):
        train(config, tmp_path / "resumed")
    resumed = train(config, tmp_path / "resumed", resume=True)
    a, b = _state(straight.model), _state(resumed.model)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    strip = [{k: v for k, v in row.items() if k != "epoch_time_s"} for row in straight.history]
    assert strip == [{k: v for k, v in row.items() if k != "epoch_time_s"}
                     for row in resumed.history]


def test_resume_with_another_config_says_what_differs(tmp_path, digits_cache):
    train(tiny(digits_cache, epochs=1), tmp_path / "run")
    with pytest.raises(ConfigMismatch) as err:
        train(tiny(digits_cache, epochs=1, lr=0.1, batch_size=8), tmp_path / "run", resume=True)
    assert "lr: 0.005 (checkpoint) != 0.1 (requested)" in str(err.value)
    assert "batch_size: 16 (checkpoint) != 8 (requested)" in str(err.value)
    # runtime fields may change
    train(tiny(digits_cache, epochs=1, progress=True, num_workers=0), tmp_path / "run",
          resume=True)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, digits_cache, monkeypatch):
    real = trainer_module.classification_loss
    calls = {"n": 0}

    def poisoned(out, labels, kind, lengths=None):
        loss, logits = real(out, labels, kind, lengths)
        calls["n"] += 1
        return (loss * float("nan") if calls["n"] > 6 else loss), logits  # 4 train + 2 test batches

    monkeypatch.setattr(trainer_module, "classification_loss", poisoned)
    with pytest.raises(TrainingDiverged, match="epoch 2, batch 1"):
        train(tiny(digits_cache, epochs=3), tmp_path / "run")
    checkpoint = load_checkpoint(tmp_path / "run")
    assert checkpoint["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in checkpoint["model"].values()
               if v.is_floating_point())


def test_recurrent_model_on_an_shd_format_file(tmp_path):
    from neuro.datasets.synthetic import write_shd_like_file

    write_shd_like_file(tmp_path / "SHD" / "shd_train.h5", n_samples=12, seed=1)
    write_shd_like_file(tmp_path / "SHD" / "shd_test.h5", n_samples=6, seed=2)
    config = TrainConfig(dataset="shd", model="rsnn", loss="last", epochs=1, batch_size=4,
                         data_root=str(tmp_path), time_window_us=20_000, downsample=0.1,
                         model_options={"hidden": [16]}, progress=False, device="cpu")
    result = train(config, tmp_path / "run")
    assert result.history[0]["train_loss"] > 0
    assert load_checkpoint(tmp_path / "run")["model_spec"]["input_shape"] == [70]


# ---- CLI -----------------------------------------------------------------------------------------

def test_cli_train_and_bad_input(tmp_path, digits_cache, capsys):
    common = ["--epochs", "1", "--batch-size", "16", "--time-window-us", "30000", "--loss", "count",
              "--train-samples", "32", "--test-samples", "16", "--model-option", "channels=[4,8]",
              "--cache-dir", digits_cache, "--no-progress", "--device", "cpu"]
    assert main(["train", "--out", str(tmp_path / "run"), *common]) == 0
    assert "final test accuracy" in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "run")["model_spec"]["readout"] == "spikes"  # CE on counts
    assert main(["train", "--resume", str(tmp_path / "run"), "--lr", "0.5"]) == 2
    assert "lr: 0.003 (checkpoint) != 0.5 (requested)" in capsys.readouterr().err
    assert main(["train", "--dataset", "mnist", "--out", str(tmp_path / "x")]) == 2
    assert "valid: digits_events, dvs_gesture, nmnist, ntidigits, shd, ssc" in capsys.readouterr().err
    assert main(["train", "--model", "vgg", "--out", str(tmp_path / "x")]) == 2
    assert "valid: csnn" in capsys.readouterr().err
    assert main(["train", "--dataset", "shd", "--data-root", str(tmp_path / "none"),
                 "--out", str(tmp_path / "y")]) == 2
    assert "zenkelab.org" in capsys.readouterr().err
    assert not Path(tmp_path / "x").exists()
