"""Training reliability: Ctrl-C / SIGTERM save an exact mid-epoch checkpoint, a resumed run equals an
uninterrupted one, runs can be extended, dead networks are reported, bars only on terminals."""

import json
import math
import os
import random
import signal
import subprocess
import sys
import time
import warnings

import pytest
import torch

from neuro.cli import main
from neuro.train import DeadNetworkWarning, TrainConfig, TrainingInterrupted, load_checkpoint, train
from neuro.train import trainer as trainer_module
from neuro.train.health import LayerActivity, likely_causes, loss_at_chance

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def digits_cache(tmp_path_factory):
    """The frame cache shared with the other training tests (30 ms digits frames)."""
    return str(tmp_path_factory.getbasetemp() / "neuro_frame_cache")


def tiny(cache_dir, **changes) -> TrainConfig:
    """3 epochs of 4 batches; snn with dropout-free layers, so runs are exactly reproducible."""
    base = dict(dataset="digits_events", model="csnn", epochs=3, batch_size=16, lr=5e-3,
                time_window_us=30_000, model_options={"channels": [4, 8]}, train_samples=64,
                test_samples=32, progress=False, cache_dir=cache_dir, device="cpu")
    return TrainConfig(**{**base, **changes})


def _same_run(a, b, weights=True):
    """Identical metrics (times excepted) and, with ``weights``, identical weights."""
    strip = [{k: v for k, v in row.items() if k != "epoch_time_s"} for row in a.history]
    assert strip == [{k: v for k, v in row.items() if k != "epoch_time_s"} for row in b.history]
    for (name, x), (_, y) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert not weights or torch.equal(x, y), name


@pytest.fixture(scope="module")
def straight(tmp_path_factory, digits_cache):
    """The uninterrupted reference run, for its metrics (weights are compared with a reference
    run in the same test: the last bits of oneDNN's float sums may depend on the thread pool's
    history in the process)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train(tiny(digits_cache), tmp_path_factory.mktemp("straight") / "run")
    finally:
        torch.set_num_threads(threads)


def _interrupt_at(monkeypatch, call: int, action):
    """Make the ``call``-th training loss computation (0-based, over the whole run) run ``action``."""
    original = trainer_module.classification_loss
    calls = {"n": 0}

    def hooked(*args, **kwargs):
        if torch.is_grad_enabled():  # training batches (evaluation runs under no_grad)
            calls["n"] += 1
            if calls["n"] - 1 == call:
                action()
        return original(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "classification_loss", hooked)
    return original


def _raise_keyboard_interrupt():
    raise KeyboardInterrupt


@pytest.mark.parametrize("how", ["keyboard_interrupt", "sigint"])
def test_interrupt_at_a_random_batch_then_resume_equals_an_uninterrupted_run(
        tmp_path, digits_cache, straight, monkeypatch, how):
    call = random.Random(22 + len(how)).randrange(1, 11)  # a batch of epoch 1..3 (4 per epoch)
    action = (_raise_keyboard_interrupt if how == "keyboard_interrupt"
              else lambda: os.kill(os.getpid(), signal.SIGINT))
    original = _interrupt_at(monkeypatch, call, action)
    run = tmp_path / "run"
    assert (run / "config.json").exists() is False
    with pytest.raises(TrainingInterrupted, match=f"resume with: neuro train --resume {run}") as err:
        train(tiny(digits_cache), run)
    # a KeyboardInterrupt inside the batch rolls it back; a signal lets the batch finish
    done = call if how == "keyboard_interrupt" else call + 1
    assert (err.value.epoch, err.value.batch) == divmod(done, 4)
    assert isinstance(err.value, KeyboardInterrupt)
    checkpoint = load_checkpoint(run)
    assert checkpoint["position"]["batches_done"] == done % 4
    assert json.loads((run / "config.json").read_text())["epochs"] == 3
    monkeypatch.setattr(trainer_module, "classification_loss", original)
    resumed = train(tiny(digits_cache), run, resume=True)
    _same_run(resumed, straight, weights=False)
    _same_run(resumed, train(tiny(digits_cache), tmp_path / "reference"))
    assert load_checkpoint(run)["position"] is None


def test_sigint_to_neuro_train_prints_one_line_and_the_run_resumes(tmp_path, digits_cache, straight):
    run = tmp_path / "run"
    args = [sys.executable, "-c", "import sys; from neuro.cli import main; sys.exit(main(sys.argv[1:]))",
            "train", "--dataset", "digits_events", "--model", "csnn", "--epochs", "3",
            "--batch-size", "16", "--lr", "5e-3", "--time-window-us", "30000", "--model-option",
            "channels=[4,8]", "--train-samples", "64", "--test-samples", "32", "--cache-dir",
            digits_cache, "--device", "cpu", "--out", str(run)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while not (run / "config.json").exists() and time.monotonic() < deadline:  # at start
        time.sleep(0.05)
    time.sleep(random.Random(7).uniform(0.0, 1.5))
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the run finished before the signal arrived (machine too fast)")
    assert proc.returncode == 130, err
    lines = [line for line in err.splitlines() if line.startswith("neuro train:")]
    assert len(lines) == 1 and f"resume with: neuro train --resume {run}" in lines[0], err
    assert "Traceback" not in err
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    history = json.loads((run / "metrics.json").read_text())
    expected = [{k: v for k, v in row.items() if k != "epoch_time_s"} for row in straight.history]
    assert [{k: v for k, v in row.items() if k != "epoch_time_s"} for row in history] == expected


def test_extending_a_finished_run_with_more_epochs(tmp_path, digits_cache, straight):
    run = tmp_path / "run"
    train(tiny(digits_cache, epochs=2), run)
    with pytest.raises(Exception, match="already trained 2 epochs"):
        train(tiny(digits_cache, epochs=1), run, resume=True)
    result = train(tiny(digits_cache, epochs=3), run, resume=True)
    assert [row["epoch"] for row in result.history] == [1, 2, 3]
    # the first two epochs had the 2-epoch cosine; the third runs at the 3-epoch cosine's rate
    assert result.history[1]["lr"] == pytest.approx(5e-3 * (1 + math.cos(math.pi / 2)) / 2)
    assert result.history[2]["lr"] == pytest.approx(5e-3 * (1 + math.cos(2 * math.pi / 3)) / 2)
    assert straight.history[2]["lr"] == pytest.approx(result.history[2]["lr"])
    assert load_checkpoint(run)["config"]["epochs"] == 3


def _silent_snn(input_shape, n_classes, **options):
    """``snn`` whose weights are scaled down 1000x and biases zeroed: the LIF layer never spikes
    and the readout is ~0 for every input (trained with a tiny learning rate, it stays so)."""
    from neuro.models.classifiers import dense_snn

    net = dense_snn(input_shape, n_classes, **options)
    with torch.no_grad():
        for index in (1, 3):  # TimeDistributed(Linear) before the LIF and before the readout
            net.layers[index].layer.weight.mul_(1e-3)
            net.layers[index].layer.bias.zero_()
    return net


def test_a_silent_network_gets_a_warning_naming_the_layer_and_cause(tmp_path, digits_cache,
                                                                    monkeypatch):
    from neuro.train import models

    monkeypatch.setattr(models, "MODELS", {**models.MODELS, "silent_snn": _silent_snn})
    config = tiny(digits_cache, model="silent_snn", epochs=1, lr=1e-7,
                  model_options={"hidden": [8], "tau_mem": 1e-4})
    with pytest.warns(DeadNetworkWarning) as caught:
        train(config, tmp_path / "run")
    text = "\n".join(str(w.message) for w in caught)
    assert "layer 'layers.2' (LIF) emitted no spike during epoch 1" in text
    assert "tau_mem = 0.0001 s is not longer than the step (frame length) dt = 0.03 s" in text
    assert "its input is too weak" in text
    assert "equals ln(10) = 2.3026, chance level, in epoch 1" in text
    assert "Likely cause: the silent layer(s) 'layers.2'" in text


def test_a_learning_network_gets_no_warning(tmp_path, digits_cache):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeadNetworkWarning)
        train(tiny(digits_cache, epochs=1), tmp_path / "run")


def test_health_helpers():
    assert loss_at_chance(math.log(10), 10) and loss_at_chance(2.3030, 10) and not loss_at_chance(2.3045, 10)
    assert not loss_at_chance(2.2, 10) and not loss_at_chance(float("nan"), 10)
    from neuro.nn import LIF

    cause = likely_causes(LIF(tau_mem=20e-3, dt=1e-3, v_th=1.0), LayerActivity(0.0, 100, 0.01))
    assert "input is too weak" in cause and "0.01" in cause and "tau_mem" not in cause


def test_progress_bars_only_on_a_terminal_and_help_shows_defaults(tmp_path, digits_cache, capsys):
    args = ["train", "--dataset", "digits_events", "--model", "csnn", "--epochs", "1", "--batch-size",
            "16", "--time-window-us", "30000", "--model-option", "channels=[4,8]", "--train-samples",
            "32", "--test-samples", "16", "--cache-dir", digits_cache, "--device", "cpu", "--out",
            str(tmp_path / "run")]
    assert main(args) == 0  # progress on (the default), but stderr is captured: not a terminal
    captured = capsys.readouterr()
    assert "\r" not in captured.err and "\x1b[" not in captured.err
    assert "epoch 1/1  train loss" in captured.out
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "number of epochs (default: 10)" in text and "Adam learning rate (default: 0.003)" in text
