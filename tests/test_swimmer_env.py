"""The swimmer tasks on dm_control (extra ``swimmer``): observations, the swim reward, registration in
the suite, batched environments, the Gymnasium-style wrapper, and the missing-extra message."""

import importlib
import sys

import numpy as np
import pytest

pytest.importorskip("dm_control", reason="the swimmer extra is not installed: pip install 'neuro[swimmer]'")

from neuro.models.ncap.env import SwimmerBatch, SwimmerGymEnv, rollout  # noqa: E402
from neuro.models.ncap.policies import build_policy  # noqa: E402
from neuro.models.ncap.tasks import forward_velocity, joint_limit, make_env, register  # noqa: E402


@pytest.mark.parametrize("n_links", [4, 6])
def test_swim_observation_and_joint_limit(n_links):
    env = make_env("swim", n_links, random=0)
    obs = env.reset().observation
    assert list(obs) == ["joints", "body_velocities"]
    assert obs["joints"].shape == (n_links - 1,) and obs["body_velocities"].shape == (3 * n_links,)
    low, high = env.physics.named.model.jnt_range["joint_0"]
    assert high == pytest.approx(joint_limit(n_links), rel=1e-6) and low == pytest.approx(-high, rel=1e-6)
    assert env.control_timestep() == pytest.approx(0.03)


def test_swim_reward_is_clipped_forward_head_velocity():
    env = make_env("swim", 6, random=1)
    env.reset()
    rng = np.random.default_rng(0)
    seen = []
    for _ in range(150):
        step = env.step(rng.uniform(-1, 1, 5) if len(seen) < 50 else np.sin(len(seen) / 5) * np.ones(5))
        v = forward_velocity(env.physics)
        assert step.reward == pytest.approx(min(max(v / 0.1, 0.0), 1.0), abs=1e-9)
        seen.append(v)
    assert min(seen) < 0.1  # both branches of the clip were exercised
    navigate = make_env("navigate", 5, random=0)
    assert list(navigate.reset().observation) == ["joints", "to_target", "body_velocities"]


def test_tasks_registered_in_the_suite_for_any_length():
    from dm_control import suite

    register()
    register()  # idempotent
    env = suite.load("swimmer", "swim", task_kwargs={"n_links": 5, "random": 0})
    assert env.action_spec().shape == (4,)
    assert suite.load("swimmer", "navigate", task_kwargs={"n_links": 7}).action_spec().shape == (6,)


def test_batch_reset_is_seeded():
    batch = SwimmerBatch(3, "swim", 5)
    a = batch.reset([1, 2, 1])
    np.testing.assert_array_equal(a["joints"][0], a["joints"][2])
    assert not np.array_equal(a["joints"][0], a["joints"][1])
    obs, rewards = batch.step(np.zeros((3, 4)))
    assert rewards.shape == (3,) and obs["body_velocities"].shape == (3, 15)
    positions, orientations = batch.body_poses()
    assert positions.shape == (3, 5, 3) and orientations.shape == (3, 5, 3, 3)
    with pytest.raises(ValueError, match="actions must be"):
        batch.step(np.zeros((3, 5)))


def test_rollout_records_and_pairs_episodes():
    policy = build_policy("ncap", 5)
    run = rollout(policy, [3, 4], steps=40, record=True)
    assert run.returns.shape == (2,) and run.rewards.shape == (40, 2)
    assert run.joints.shape == run.actions.shape == (40, 2, 4)
    assert run.positions.shape == (41, 2, 5, 3) and run.qpos.shape == (41, 2, 7)
    again = rollout(policy, [3, 4], steps=40)
    np.testing.assert_array_equal(run.returns, again.returns)


def test_gym_style_wrapper():
    env = SwimmerGymEnv("swim", 6, max_steps=5)
    obs, info = env.reset(seed=0)
    assert obs.shape == env.observation_space.shape == (24,) and obs.dtype == np.float32
    assert obs[-1] == -1.0  # normalised time at step 0
    assert set(info["observation"]) == {"joints", "body_velocities"}
    obs2, _ = SwimmerGymEnv("swim", 6, max_steps=5).reset(seed=0)
    np.testing.assert_array_equal(obs, obs2)
    for t in range(5):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert 0.0 <= reward <= 1.0 and not terminated and truncated == (t == 4)
    assert env.action_space.shape == (5,)
    env.close()


def test_missing_extra_names_the_install_command(monkeypatch):
    for name in [m for m in sys.modules if m == "dm_control" or m.startswith("dm_control.")]:
        monkeypatch.setitem(sys.modules, name, None)  # as if dm-control were not installed
    monkeypatch.setitem(sys.modules, "dm_control", None)
    monkeypatch.delitem(sys.modules, "neuro.models.ncap.tasks")
    with pytest.raises(ImportError, match=r"pip install 'neuro\[swimmer\]'"):
        importlib.import_module("neuro.models.ncap.tasks")
    with pytest.raises(ImportError, match=r"pip install 'neuro\[swimmer\]'"):
        SwimmerBatch(1)
