"""Continual learning: per-source defaults that learn, and a warning when the network is silent."""

import math
import warnings

import pytest

from neuro.learning import ContinualConfig, run_continual
from neuro.train import DeadNetworkWarning

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_event_sources_default_to_a_membrane_that_outlasts_a_frame():
    assert ContinualConfig(source="digits_events").tau_mem == 0.1
    assert ContinualConfig(source="nmnist").tau_mem == 0.1
    assert ContinualConfig(source="digits").tau_mem == 20e-3
    assert ContinualConfig(source="digits_events", tau_mem=0.05).tau_mem == 0.05
    assert ContinualConfig.from_dict(ContinualConfig(source="digits_events").to_dict()).tau_mem == 0.1


def test_the_default_event_digits_run_learns_without_warnings(tmp_path_factory):
    """`neuro continual --method finetune --source digits_events --seed 11 --epochs 1` with the
    defaults, shortened to 1 task (14 s; 62.5 % measured): with the former tau_mem = 20 ms the LIF
    layers stayed silent and the loss at ln 10 (ACC 10 % on 4 tasks)."""
    cache = str(tmp_path_factory.getbasetemp() / "neuro_frame_cache")
    config = ContinualConfig(method="finetune", source="digits_events", n_tasks=1, epochs=1, seed=11,
                             test_samples=120, cache_dir=cache, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeadNetworkWarning)
        result = run_continual(config)
    assert result.history[0]["train_loss"] < math.log(10) - 0.1
    assert result.acc > 0.3  # chance: 0.1


def test_a_silent_network_is_reported_once_with_the_layer_and_cause():
    config = ContinualConfig(method="finetune", source="digits", n_tasks=2, epochs=2, batch_size=32,
                             lr=1e-4, hidden=[16], time_steps=3, train_samples=96, test_samples=32,
                             tau_mem=1e-5, progress=False)
    with pytest.warns(DeadNetworkWarning) as caught:
        run_continual(config)
    messages = [str(w.message) for w in caught if issubclass(w.category, DeadNetworkWarning)]
    assert len(messages) == 2  # the silent layer and the chance-level loss, once per run
    assert messages[0].startswith("neuro continual: layer 'layers.2' (LIF) emitted no spike during "
                                  "task 1, epoch 1")
    assert "tau_mem = 1e-05 s is not longer than the step" in messages[0]
    assert "chance level" in messages[1]
