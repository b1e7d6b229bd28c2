"""Many swimmers at once (:class:`SwimmerBatch`), closed-loop rollouts, and a Gymnasium-style wrapper.

:class:`SwimmerBatch` steps ``B`` dm_control environments of one task and body length in lock step
and returns batched numpy observations; :func:`rollout` runs a policy
(:mod:`neuro.models.ncap.policies`) on them, the policy acting on all ``B`` swimmers in one call.
Episode ``k`` of a rollout starts from the random state drawn by ``seeds[k]``, so two policies
evaluated with the same seeds meet the same start poses (paired comparisons).

:class:`SwimmerGymEnv` is a thin single-swimmer wrapper with the Gymnasium ``reset`` / ``step``
signatures (flat float32 observation with an optional normalised-time element) for users of other
RL libraries; it needs neither gymnasium nor any RL library (``observation_space`` /
``action_space`` are ``gymnasium.spaces.Box`` when gymnasium is installed, else a small stand-in
with ``shape``, ``low``, ``high``, ``dtype`` and ``sample()``).

Everything here needs the ``swimmer`` extra; the dm_control import happens on first use, and a
missing extra raises :class:`ImportError` naming ``pip install 'neuro[swimmer]'``.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn


def _tasks():
    """The dm_control-backed task module (raises ImportError naming the extra when it is missing)."""
    return importlib.import_module("neuro.models.ncap.tasks")


def swimmer_available() -> bool:
    """True when dm-control and MuJoCo import (the ``swimmer`` extra is installed)."""
    try:
        _tasks()
    except ImportError:
        return False
    return True


class SwimmerBatch:
    """``n_envs`` swimmers of ``n_links`` links on ``task``, stepped together.

    ``reset(seeds)`` starts episode ``k`` from the random state of ``seeds[k]``; ``step(actions)``
    takes torques ``[B, J]`` and returns ``(obs, rewards [B])``. Observations are dicts of float64
    arrays ``[B, ...]`` in the environment's key order. Episodes have no time limit here: the caller
    decides how many steps to run (:func:`rollout`).
    """

    def __init__(self, n_envs: int, task: str = "swim", n_links: int = 6) -> None:
        if not isinstance(n_envs, int) or n_envs < 1:
            raise ValueError(f"n_envs must be a positive int, got {n_envs!r}")
        self._tasks = _tasks()
        self.task, self.n_links, self.n_joints = task, int(n_links), int(n_links) - 1
        # one RandomState per environment, owned here and re-seeded at every reset
        self._randoms: list[np.random.RandomState] = []
        self.envs: list[Any] = []
        self._grow(n_envs)
        self._body_ids = self._bodies()

    def _grow(self, n_envs: int) -> None:
        while len(self.envs) < n_envs:
            random = np.random.RandomState(0)
            # the first environment compiles the model; the others copy its physics (faster)
            physics = self.envs[0].physics.copy(share_model=False) if self.envs else None
            self.envs.append(self._tasks.make_env(self.task, self.n_links, random=random,
                                                  time_limit=math.inf, physics=physics))
            self._randoms.append(random)

    def take(self, n_envs: int) -> SwimmerBatch:
        """A batch of the first ``n_envs`` environments (shared with this one; built if missing)."""
        if not isinstance(n_envs, int) or n_envs < 1:
            raise ValueError(f"n_envs must be a positive int, got {n_envs!r}")
        self._grow(n_envs)
        view = object.__new__(SwimmerBatch)
        view.__dict__.update(self.__dict__)
        view.envs, view._randoms = self.envs[:n_envs], self._randoms[:n_envs]
        return view

    def __len__(self) -> int:
        return len(self.envs)

    def _bodies(self) -> list[int]:
        names = ["head"] + [f"segment_{i}" for i in range(self.n_links - 1)]
        model = self.envs[0].physics.model
        return [model.name2id(name, "body") for name in names]

    def reset(self, seeds: Sequence[int]) -> dict[str, np.ndarray]:
        """Reseed each environment with its entry of ``seeds`` (one per environment), start new episodes and
        return the first observations stacked as ``{name: array [B, ...]}``.
        """
        if len(seeds) != len(self.envs):
            raise ValueError(f"reset needs one seed per environment ({len(self.envs)}), got {len(seeds)}")
        steps = []
        for env, random, seed in zip(self.envs, self._randoms, seeds):
            random.seed(int(seed))
            steps.append(env.reset())
        return self._stack([s.observation for s in steps])

    def step(self, actions: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Apply ``actions [B, n_joints]`` (one row per environment) for one control step; returns the stacked
        observations ``{name: array [B, ...]}`` and the rewards ``[B]``.
        """
        actions = np.asarray(actions, dtype=np.float64)
        if actions.shape != (len(self.envs), self.n_joints):
            raise ValueError(f"actions must be [{len(self.envs)}, {self.n_joints}], got {actions.shape}")
        steps = [env.step(a) for env, a in zip(self.envs, actions)]
        return self._stack([s.observation for s in steps]), np.array([s.reward for s in steps])

    @staticmethod
    def _stack(observations: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        return {key: np.stack([np.asarray(o[key], dtype=np.float64) for o in observations])
                for key in observations[0]}

    def body_poses(self) -> tuple[np.ndarray, np.ndarray]:
        """Positions ``[B, n_links, 3]`` and rotation matrices ``[B, n_links, 3, 3]`` of the links,
        head first (world frame)."""
        xpos = np.stack([env.physics.data.xpos[self._body_ids] for env in self.envs])
        xmat = np.stack([env.physics.data.xmat[self._body_ids] for env in self.envs])
        return xpos.copy(), xmat.reshape(len(self.envs), self.n_links, 3, 3).copy()

    def qpos(self) -> np.ndarray:
        """Generalised positions ``[B, nq]`` (root x, y, heading, then the joints)."""
        return np.stack([env.physics.data.qpos.copy() for env in self.envs])


class Rollout(NamedTuple):
    """Result of :func:`rollout`; arrays are time-major. Recorded fields are None unless ``record``."""

    returns: np.ndarray  # [B] summed rewards
    rewards: np.ndarray  # [T, B]
    joints: np.ndarray | None = None  # [T, B, J] joint angles seen by the policy (radians)
    actions: np.ndarray | None = None  # [T, B, J] torques
    positions: np.ndarray | None = None  # [T + 1, B, n_links, 3] link positions
    orientations: np.ndarray | None = None  # [T + 1, B, n_links, 3, 3]
    qpos: np.ndarray | None = None  # [T + 1, B, nq]


def _as_tensors(obs: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(v).to(torch.get_default_dtype()) for k, v in obs.items()}


@torch.no_grad()
def rollout(policy: nn.Module, seeds: Sequence[int], steps: int = 1000, n_links: int | None = None,
            task: str | None = None, params: dict[str, torch.Tensor] | None = None,
            record: bool = False, batch: SwimmerBatch | None = None) -> Rollout:
    """Run ``policy`` closed loop for ``steps`` control steps on one swimmer per seed.

    ``n_links`` defaults to the policy's ``n_joints + 1`` and ``task`` to its ``task`` (else
    ``"swim"``). ``params`` (names of ``policy.named_parameters()``, leading axis ``len(seeds)``)
    gives each swimmer its own weights. ``batch`` reuses existing environments. ``record`` keeps
    joint angles, torques and the link poses.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    n_links = policy.n_joints + 1 if n_links is None else n_links
    task = getattr(policy, "task", "swim") if task is None else task
    if batch is None:
        batch = SwimmerBatch(len(seeds), task, n_links)
    elif (len(batch), batch.n_links, batch.task) != (len(seeds), n_links, task):
        raise ValueError(f"batch holds {len(batch)} {batch.task} swimmers of {batch.n_links} links; "
                         f"this rollout needs {len(seeds)} {task} swimmers of {n_links} links")
    obs = batch.reset(seeds)
    state = policy.initial_state(len(seeds))
    rewards = np.zeros((steps, len(seeds)))
    joints, actions, poses, qpos = [], [], [], []
    if record:
        poses.append(batch.body_poses())
        qpos.append(batch.qpos())
    for t in range(steps):
        action, state = policy.act(_as_tensors(obs), state, params)
        action = action.double().numpy()
        if record:
            joints.append(obs["joints"])
            actions.append(action)
        obs, rewards[t] = batch.step(action)
        if record:
            poses.append(batch.body_poses())
            qpos.append(batch.qpos())
    if not record:
        return Rollout(rewards.sum(0), rewards)
    return Rollout(rewards.sum(0), rewards, np.stack(joints), np.stack(actions),
                   np.stack([p[0] for p in poses]), np.stack([p[1] for p in poses]), np.stack(qpos))


class _Box:
    """Minimal stand-in for ``gymnasium.spaces.Box`` (used when gymnasium is not installed)."""

    def __init__(self, low: float, high: float, shape: tuple[int, ...], seed: int | None = None) -> None:
        self.shape, self.dtype = shape, np.dtype(np.float32)
        self.low = np.full(shape, low, dtype=np.float32)
        self.high = np.full(shape, high, dtype=np.float32)
        self._rng = np.random.default_rng(seed)

    def sample(self) -> np.ndarray:
        low, high = np.maximum(self.low, -1e6), np.minimum(self.high, 1e6)
        return self._rng.uniform(low, high).astype(np.float32)

    def __repr__(self) -> str:
        return f"Box({self.low.min()}, {self.high.max()}, {self.shape}, float32)"


def _box(low: float, high: float, shape: tuple[int, ...]) -> Any:
    try:
        from gymnasium.spaces import Box
    except ImportError:
        return _Box(low, high, shape)
    return Box(low, high, shape, dtype=np.float32)


class SwimmerGymEnv:
    """One swimmer with the Gymnasium API: ``reset(seed=None) -> (obs, info)``,
    ``step(action) -> (obs, reward, terminated, truncated, info)``.

    The observation is the flat float32 concatenation of the task's observation (``joints``,
    [``to_target``], ``body_velocities``) followed, with ``time_feature``, by the normalised time
    ``2 t / max_steps - 1``. Episodes are truncated after ``max_steps`` steps (1000 = 30 s) and never
    terminate early. ``info`` holds the observation dict and the step count.
    """

    metadata = {"render_modes": []}

    def __init__(self, task: str = "swim", n_links: int = 6, max_steps: int = 1000,
                 time_feature: bool = True) -> None:
        from neuro.models.ncap.policies import observation_size

        if not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")
        self._batch = SwimmerBatch(1, task, n_links)
        self.task, self.n_links, self.max_steps, self.time_feature = task, n_links, max_steps, time_feature
        size = observation_size(task, n_links) + int(time_feature)
        self.observation_space = _box(-np.inf, np.inf, (size,))
        self.action_space = _box(-1.0, 1.0, (n_links - 1,))
        self._seed_rng = np.random.default_rng()
        self._t = 0

    def _flat(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        parts = [v[0].ravel() for v in obs.values()]
        if self.time_feature:
            parts.append(np.array([2.0 * self._t / self.max_steps - 1.0]))
        return np.concatenate(parts).astype(np.float32)

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        """Gymnasium reset: start an episode (seeded from ``seed`` if given, else from the environment's own
        seed sequence); returns the flat observation and ``info`` with the observation dict and ``step`` 0.
        """
        if seed is not None:
            self._seed_rng = np.random.default_rng(seed)
        episode_seed = int(self._seed_rng.integers(2**31 - 1))
        self._t = 0
        obs = self._batch.reset([episode_seed])
        return self._flat(obs), {"observation": {k: v[0] for k, v in obs.items()}, "step": 0}

    def step(self, action: Sequence[float]) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Gymnasium step: clip ``action`` to [-1, 1] and advance one control step; returns ``(observation,
        reward, terminated=False, truncated, info)``, truncated once ``max_steps`` steps are done.
        """
        action = np.clip(np.asarray(action, dtype=np.float64).reshape(1, -1), -1.0, 1.0)
        obs, reward = self._batch.step(action)
        self._t += 1
        info = {"observation": {k: v[0] for k, v in obs.items()}, "step": self._t}
        return self._flat(obs), float(reward[0]), False, self._t >= self.max_steps, info

    def close(self) -> None:
        """Close the underlying dm_control environment."""
        for env in self._batch.envs:
            env.close()


__all__ = ["Rollout", "SwimmerBatch", "SwimmerGymEnv", "rollout", "swimmer_available"]
