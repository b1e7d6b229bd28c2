"""The delayed-recall memory task and a small, fast training check of the AM-SU network on it.

The full comparison (AM-SU vs LIF, 3 seeds, delays 100 and 400 steps) is
``benchmarks/amsu_memory_task.py``; here a short delay keeps CI within a few seconds.
"""

from __future__ import annotations

import pytest
import torch

from neuro.nn import AMSU
from neuro.tasks import DelayedRecall, RecallNet, parameter_count, train_recall


def test_trials_have_the_documented_structure():
    task = DelayedRecall(T=80, n_cues=3, lines_per_cue=5, n_distractor=6, lines_go=2, noise_rate=0.0)
    x, y = task.sample(16, torch.Generator().manual_seed(0))
    assert x.shape == (80, 16, task.n_inputs) and y.shape == (16,)
    assert set(x.unique().tolist()) <= {0.0, 1.0}
    cue_lines = x[:task.cue_steps, :, :15].view(task.cue_steps, 16, 3, 5).sum((0, 3))
    assert torch.equal(cue_lines.argmax(1), y) and bool((cue_lines.sum(1) == cue_lines.max(1).values).all())
    assert x[task.cue_steps:, :, :15].sum() == 0  # no cue after the cue window (noise off)
    go = x[:, :, -2:].sum((1, 2))
    assert go[:task.T - task.recall_steps].sum() == 0 and go[task.recall_window].sum() > 0
    x2, y2 = task.sample(16, torch.Generator().manual_seed(0))
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert task.delay == 80 - task.cue_steps - task.recall_steps


@pytest.mark.parametrize("kwargs,match", [({"T": 15}, "no delay"), ({"n_cues": 1}, "n_cues"),
                                          ({"cue_rate": 1.5}, "probability")])
def test_bad_task_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DelayedRecall(**kwargs)


def test_amsu_network_learns_short_delayed_recall():
    task = DelayedRecall(T=50, n_cues=2, lines_per_cue=4, n_distractor=4, distractor_bursts=1)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    layer = AMSU(16, domains=4, tau_astro=0.05, K=0.02, kappa_gain=torch.randn(4, generator=g) * 0.5,
                 kappa_threshold=torch.randn(4, generator=g) * 0.5,
                 kappa_current=torch.randn(4, generator=g) * 0.5)
    model = RecallNet(task, 16, layer)
    assert parameter_count(model) == (task.n_inputs * 16 + 16) + 4 * 5 + (16 * 2 + 2)
    result = train_recall(model, steps=60, batch=32, lr=1e-2, seed=0, eval_batch=256)
    first, last = sum(result["loss"][:5]) / 5, sum(result["loss"][-5:]) / 5
    assert last < 0.5 * first
    assert result["accuracy"] >= 0.9  # chance is 0.5
