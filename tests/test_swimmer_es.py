"""Evolution strategies for the swimmer: the estimator, determinism across workers, exact resume,
checkpoints and their errors. Tiny runs (short episodes, population 4)."""

import numpy as np
import pytest
import torch

pytest.importorskip("dm_control", reason="the swimmer extra is not installed: pip install 'neuro[swimmer]'")

from neuro.models.ncap.es import (  # noqa: E402
    ConfigMismatch,
    ESConfig,
    centered_ranks,
    es_gradient,
    generation_noise,
    generation_seeds,
    load_policy,
    load_run,
    population_params,
    train_es,
)
from neuro.models.ncap.policies import build_policy  # noqa: E402

TINY = {"generations": 2, "population": 4, "episode_steps": 30, "eval_episodes": 2, "eval_every": 1,
        "workers": 0, "checkpoint_every": 1}


def test_centered_ranks():
    u = centered_ranks(np.array([3.0, -1.0, 10.0, 0.5]))
    np.testing.assert_allclose(u, [1 / 6, -0.5, 0.5, -1 / 6])
    assert u.sum() == pytest.approx(0.0)
    np.testing.assert_allclose(centered_ranks(np.array([0.0, 0.0, 5.0, 0.0, 1.0, 1.0])),
                               [-0.3, -0.3, 0.5, -0.3, 0.2, 0.2])  # ties share their mean rank
    eps = torch.randn(4, 3)
    assert torch.equal(es_gradient(np.zeros(8), eps, 0.02), torch.zeros(3))  # no signal, no step


def test_es_gradient_ascends_a_quadratic():
    """On f(x) = -|x - x*|^2 the antithetic estimate correlates with the true gradient."""
    rng = torch.Generator().manual_seed(0)
    theta, target, sigma = torch.zeros(6), torch.linspace(-1, 1, 6), 0.05
    eps = torch.randn(200, 6, generator=rng)
    members = torch.cat((theta + sigma * eps, theta - sigma * eps))
    returns = -((members - target) ** 2).sum(1).numpy()
    g = es_gradient(returns, eps, sigma)
    true = 2 * (target - theta)
    assert torch.nn.functional.cosine_similarity(g, true, dim=0) > 0.9
    with pytest.raises(ValueError, match="expected 400 returns"):
        es_gradient(returns[:10], eps, sigma)


def test_noise_and_episode_seeds_are_pure_functions():
    assert torch.equal(generation_noise(1, 5, 4, 3), generation_noise(1, 5, 4, 3))
    assert not torch.equal(generation_noise(1, 5, 4, 3), generation_noise(1, 6, 4, 3))
    assert generation_seeds(0, 2, 3) == generation_seeds(0, 2, 3)


def test_population_params_shapes():
    policy = build_policy("ncap", 6, weight_sharing=False)
    params = population_params(policy, torch.zeros(3, 30))
    assert params["circuit.params.ipsi"].shape == (3, 2, 5)
    with pytest.raises(ValueError, match="31 columns"):
        population_params(policy, torch.zeros(3, 31))


def test_resume_continues_exactly_and_workers_do_not_change_results(tmp_path):
    full = train_es(ESConfig(**TINY), tmp_path / "full", progress=False)
    half = ESConfig(**{**TINY, "generations": 1})
    train_es(half, tmp_path / "half", progress=False)
    resumed = train_es(ESConfig(**TINY), tmp_path / "half", resume=True, progress=False)
    torch.testing.assert_close(resumed.theta, full.theta, rtol=0, atol=0)
    assert [h["pop_mean"] for h in resumed.history] == pytest.approx(
        [h["pop_mean"] for h in full.history], nan_ok=True)
    parallel = train_es(ESConfig(**{**TINY, "workers": 2}), None, progress=False)
    torch.testing.assert_close(parallel.theta, full.theta, rtol=0, atol=0)
    # the run folder: checkpoint, metrics, and the trained policy
    assert (tmp_path / "full" / "metrics.csv").read_text().startswith("generation,episodes")
    data = load_run(tmp_path / "full")
    assert data["generation"] == 2 and len(data["history"]) == 3  # generation 0 evaluation + 2
    policy = load_policy(tmp_path / "full")
    torch.testing.assert_close(policy.circuit.params["osc"].detach(), full.theta[1])
    assert not torch.equal(full.theta, torch.tensor([1.0, 1.0, 1.0, -1.0]))  # it moved


def test_resume_refuses_other_options_and_new_runs_refuse_old_folders(tmp_path):
    train_es(ESConfig(**{**TINY, "generations": 1}), tmp_path, progress=False)
    with pytest.raises(ConfigMismatch, match="sigma"):
        train_es(ESConfig(**{**TINY, "sigma": 0.1}), tmp_path, resume=True, progress=False)
    with pytest.raises(FileExistsError, match="already holds a run"):
        train_es(ESConfig(**TINY), tmp_path, progress=False)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_run(tmp_path / "bad")


@pytest.mark.parametrize("kwargs, match", [
    ({"population": 5}, "even"), ({"policy": "rnn"}, "policy"), ({"sigma": 0.0}, "sigma"),
    ({"n_links": 2}, "n_links"), ({"init": "zeros"}, "init"),
])
def test_bad_config_is_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ESConfig(**kwargs)


def test_mlp_population_runs():
    result = train_es(ESConfig(**{**TINY, "policy": "mlp", "hidden": [8], "generations": 1}), None,
                      progress=False)
    assert result.theta.numel() == (24 * 8 + 8) + (8 * 5 + 5)
    assert np.isfinite(result.history[-1]["pop_mean"])


def test_navigate_with_learned_commands_trains():
    config = ESConfig(**{**TINY, "task": "navigate", "navigation": "learned", "generations": 1,
                         "population": 2, "eval_episodes": 0})
    result = train_es(config, None, progress=False)
    assert result.theta.numel() == 6 + 9  # circuit with turn and speed inputs + Linear(2, 3)
    assert np.isfinite(result.history[-1]["pop_mean"])
