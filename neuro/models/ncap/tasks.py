r"""The NCAP swimmer tasks on DeepMind Control's procedurally generated ``swimmer`` body.

Importing this module needs the ``swimmer`` extra (``pip install 'neuro[swimmer]'``: dm-control and
MuJoCo); without it the import raises :class:`ImportError` naming that command.

* ``swim`` (the paper's task): observation ``joints`` (``J = n_links - 1`` joint angles) and
  ``body_velocities`` (``3 n_links``: local vx, vy and angular velocity wz per body); the target is
  hidden. Reward: the forward head velocity :math:`v = -\,\mathrm{head\_vel}_y` (the head points
  along its local -y) through dm_control's ``tolerance`` with bounds ``(0.1, inf)``, margin 0.1 and a
  linear sigmoid (value 0 at the margin): :math:`r = \mathrm{clip}(v / 0.1, 0, 1)`. 1000 steps of
  0.03 s, so returns lie in [0, 1000].
* ``navigate``: dm_control's own swimmer task (reach the randomly placed target), whose
  observation adds ``to_target`` (target position in the head frame); used with the circuit's
  turn and speed inputs.

Both are registered for any number of links in dm_control's swimmer suite by :func:`register`
(``suite.load("swimmer", "swim", task_kwargs={"n_links": 8})``); :func:`make_env` builds one
directly. Episode start states are random (body orientation and joint angles, target position):
pass ``random=`` a seed or a ``numpy.random.RandomState``.
"""

from __future__ import annotations

import collections
import os

import numpy as np

MISSING_EXTRA = ("the swimmer needs dm-control and MuJoCo: pip install 'neuro[swimmer]' "
                 "(dm-control 1.0.50 with mujoco>=3.17,<4)")

# Simulation needs no OpenGL. On a machine without a display, dm_control would otherwise probe GLFW
# (and warn) when imported; "disable" skips the probing. Rendering (neuro.models.ncap.render) makes
# its pictures in a child process with its own MUJOCO_GL, so this choice never blocks it. A value
# the user set is kept.
if "MUJOCO_GL" not in os.environ and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    os.environ["MUJOCO_GL"] = "disable"

try:
    from dm_control.rl import control
    from dm_control.suite import swimmer as _swimmer
    from dm_control.utils import rewards
except ImportError as err:  # the extra is missing (or broken): say how to install it
    raise ImportError(f"{MISSING_EXTRA} ({err})") from err

TASKS = ("swim", "navigate")
CONTROL_TIMESTEP = _swimmer._CONTROL_TIMESTEP  # 0.03 s
EPISODE_STEPS = 1000  # 30 s time limit / 0.03 s
SWIM_SPEED = 0.1  # forward head speed (m/s) at and above which the reward is 1


def joint_limit(n_links: int) -> float:
    """dm_control's joint range ``+- 360 / n_links`` degrees, in radians: ``2 pi / n_links``."""
    return 2 * np.pi / n_links


class Swim(_swimmer.Swimmer):
    """Swim forwards: reward ``clip(v / desired_speed, 0, 1)`` of the forward head velocity ``v``."""

    def __init__(self, desired_speed: float = SWIM_SPEED, random=None) -> None:
        if not desired_speed > 0:
            raise ValueError(f"desired_speed must be > 0, got {desired_speed}")
        super().__init__(random=random)
        self.desired_speed = float(desired_speed)

    def initialize_episode(self, physics) -> None:
        """dm_control hook: the swimmer task's episode initialisation, then the target made invisible (this
        task has none).
        """
        super().initialize_episode(physics)
        for material in ("target", "target_default", "target_highlight"):  # hide the unused target
            physics.named.model.mat_rgba[material, "a"] = 0

    def get_observation(self, physics) -> collections.OrderedDict:
        """dm_control hook: ``joints`` (joint angles, rad) and ``body_velocities``, in an ordered dict."""
        obs = collections.OrderedDict()
        obs["joints"] = physics.joints()
        obs["body_velocities"] = physics.body_velocities()
        return obs

    def get_reward(self, physics) -> float:
        """dm_control hook: the head's forward velocity through a linear tolerance, 1 at or above
        ``desired_speed`` (m/s) falling to 0 at standstill.
        """
        return rewards.tolerance(forward_velocity(physics), bounds=(self.desired_speed, float("inf")),
                                 margin=self.desired_speed, value_at_margin=0.0, sigmoid="linear")


def forward_velocity(physics) -> float:
    """Velocity of the head along its own forward axis (local -y), m/s."""
    return float(-physics.named.data.sensordata["head_vel"][1])


def _environment(physics, task, time_limit: float, environment_kwargs) -> control.Environment:
    return control.Environment(physics, task, time_limit=time_limit, control_timestep=CONTROL_TIMESTEP,
                               **(environment_kwargs or {}))


def _physics(n_links: int):
    if not isinstance(n_links, (int, np.integer)) or n_links < 3:
        raise ValueError(f"n_links must be an int >= 3 (dm_control's swimmer), got {n_links!r}")
    xml, assets = _swimmer.get_model_and_assets(int(n_links))
    return _swimmer.Physics.from_xml_string(xml, assets=assets)


def swim(n_links: int = 6, desired_speed: float = SWIM_SPEED,
         time_limit: float = EPISODE_STEPS * CONTROL_TIMESTEP, random=None,
         environment_kwargs: dict | None = None, physics=None) -> control.Environment:
    """The ``swim`` task on an ``n_links`` swimmer (``physics``: an existing one to use, e.g. a copy)."""
    physics = _physics(n_links) if physics is None else physics
    return _environment(physics, Swim(desired_speed, random=random), time_limit, environment_kwargs)


def navigate(n_links: int = 6, time_limit: float = EPISODE_STEPS * CONTROL_TIMESTEP, random=None,
             environment_kwargs: dict | None = None, physics=None) -> control.Environment:
    """dm_control's target-reaching swimmer task on an ``n_links`` swimmer (``to_target`` observed)."""
    physics = _physics(n_links) if physics is None else physics
    return _environment(physics, _swimmer.Swimmer(random=random), time_limit, environment_kwargs)


def register() -> None:
    """Add ``swim`` and ``navigate`` (any ``n_links``) to dm_control's swimmer suite (idempotent)."""
    for name, factory in (("swim", swim), ("navigate", navigate)):
        if name not in _swimmer.SUITE:
            _swimmer.SUITE.add()(factory)


def make_env(task: str = "swim", n_links: int = 6, random=None,
             time_limit: float = EPISODE_STEPS * CONTROL_TIMESTEP, physics=None) -> control.Environment:
    """A dm_control environment of ``task`` (``"swim"`` or ``"navigate"``) on ``n_links`` links.

    ``physics``: a swimmer ``Physics`` of ``n_links`` links to use instead of compiling the model
    again (``other_env.physics.copy(share_model=False)`` is about 3x faster than compiling).
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if physics is not None and physics.model.nu != n_links - 1:
        raise ValueError(f"physics has {physics.model.nu} joints, n_links={n_links} needs {n_links - 1}")
    factory = swim if task == "swim" else navigate
    return factory(n_links=n_links, time_limit=time_limit, random=random, physics=physics)


__all__ = ["CONTROL_TIMESTEP", "EPISODE_STEPS", "MISSING_EXTRA", "SWIM_SPEED", "TASKS", "Swim",
           "forward_velocity", "joint_limit", "make_env", "navigate", "register", "swim"]
