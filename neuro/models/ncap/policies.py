r"""Swimmer policies with one interface: ``act(obs, state, params=None) -> (actions, state)``.

``obs`` is a dict of tensors ``[B, ...]`` (the environment's observation, batched), ``actions``
``[B, J]`` torques in [-1, 1]. ``params`` optionally replaces the module's parameters by a dict with
the names of :meth:`torch.nn.Module.named_parameters` and a leading axis ``B``, so that a population
of ``B`` weight vectors runs ``B`` swimmers in one call (evolution strategies).

* :class:`NCAPPolicy` — the :class:`~neuro.models.ncap.circuit.SwimmerCircuit`; like the paper's
  actor it sees only the joint angles and time (its own step count), and for ``navigate`` the
  target direction through hard-coded or learned turn / speed commands:
  hard-coded ``x = -to_target_x``, ``right = [x > 0.1]``, ``left = [x < -0.1]``,
  ``speed = [|to_target_y| > 0.12]``; learned ``(right, left, speed) = Linear(2, 3)(x, |y|)``.
* :class:`MLPPolicy` — the baseline actor: the full observation plus normalised time
  ``2 t / T_episode - 1`` -> ReLU MLP -> tanh torques (``24 -> 256 -> 256 -> 5`` = 73,477 parameters
  on 6 links).
* :class:`ZeroPolicy` and :class:`RandomPolicy` (uniform torques) — the reference returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import torch
import torch.nn.functional as TF
from torch import nn

from neuro.models.ncap.circuit import CircuitState, SwimmerCircuit
from neuro.state import stateclass

NAVIGATION = (None, "hardcoded", "learned")
TURN_RANGE = 0.1  # |x| of the target (head frame) beyond which a turn command is given
SPEED_RANGE = 0.12  # |y| of the target beyond which the swimmer swims (else it brakes)


@stateclass
class StepState(NamedTuple):
    """Control step count ``[B]`` of a stateless policy (the MLP's time feature)."""

    step: torch.Tensor


def _batch(obs: Mapping[str, torch.Tensor]) -> int:
    return next(iter(obs.values())).shape[0]


def _sub(params: Mapping[str, torch.Tensor] | None, prefix: str) -> dict[str, torch.Tensor] | None:
    if params is None:
        return None
    return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}


class NCAPPolicy(nn.Module):
    """The NCAP circuit as a swimmer policy (joint angles and time in, torques out).

    ``task="navigate"`` enables the circuit's turn and speed inputs, driven by ``navigation``:
    ``"hardcoded"`` (default for navigate) or ``"learned"`` (a ``Linear(2, 3)`` trained with the
    circuit).
    """

    def __init__(self, circuit: SwimmerCircuit, task: str = "swim", navigation: str | None = None) -> None:
        super().__init__()
        if task not in ("swim", "navigate"):
            raise ValueError(f"task must be 'swim' or 'navigate', got {task!r}")
        if task == "navigate" and navigation is None:
            navigation = "hardcoded"
        if task == "swim":
            navigation = None
        if navigation not in NAVIGATION:
            raise ValueError(f"navigation must be one of {NAVIGATION}, got {navigation!r}")
        if navigation is not None and not (circuit.turn_control and circuit.speed_control):
            raise ValueError("navigate needs a circuit built with turn_control=True and speed_control=True")
        self.task, self.navigation = task, navigation
        self.circuit = circuit
        self.n_joints = circuit.n_joints
        self.nav = nn.Linear(2, 3) if navigation == "learned" else None

    def initial_state(self, batch: int) -> CircuitState:
        """The circuit's initial state (step count 0) for ``batch`` swimmers."""
        return self.circuit.initial_state(batch)

    def commands(self, to_target: torch.Tensor,
                 params: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        """(right, left, speed) ``[B, 3]`` from the target position in the head frame ``[B, 2]``."""
        x, y = -to_target[..., 0], to_target[..., 1]
        if self.navigation == "hardcoded":
            return torch.stack(((x > TURN_RANGE), (x < -TURN_RANGE), (y.abs() > SPEED_RANGE)),
                               dim=-1).to(to_target.dtype)
        features = torch.stack((x, y.abs()), dim=-1)
        nav = _sub(params, "nav.")
        if nav is None:
            return self.nav(features)
        return torch.einsum("boi,bi->bo", nav["weight"], features) + nav["bias"]

    def act(self, obs: Mapping[str, torch.Tensor], state: CircuitState | None = None,
            params: Mapping[str, torch.Tensor] | None = None) -> tuple[torch.Tensor, CircuitState]:
        """One control step: torques ``[B, n_joints]`` from the joint angles ``obs["joints"] [B, n_joints]``
        (plus, when navigating, the circuit commands computed from ``obs["to_target"]``), and the circuit's
        next state. ``params`` optionally holds per-swimmer parameters.
        """
        angles = obs["joints"]
        if angles.shape[-1] != self.n_joints:
            raise ValueError(f"the circuit drives {self.n_joints} joints, the observation has "
                             f"{angles.shape[-1]}")
        controls = None if self.navigation is None else self.commands(obs["to_target"], params)[None]
        torque, state = self.circuit(angles[None], state, controls, _sub(params, "circuit.params."))
        return torque[0], state


class MLPPolicy(nn.Module):
    """ReLU MLP on the full flattened observation plus normalised time, tanh output torques."""

    def __init__(self, obs_size: int, n_joints: int, hidden: Sequence[int] = (256, 256),
                 episode_steps: int = 1000, time_feature: bool = True, seed: int | None = None) -> None:
        super().__init__()
        if obs_size < 1 or n_joints < 1:
            raise ValueError(f"obs_size and n_joints must be >= 1, got {obs_size}, {n_joints}")
        if episode_steps < 1:
            raise ValueError(f"episode_steps must be >= 1, got {episode_steps}")
        self.obs_size, self.n_joints = int(obs_size), int(n_joints)
        self.hidden = tuple(int(h) for h in hidden)
        self.episode_steps, self.time_feature = int(episode_steps), bool(time_feature)
        sizes = (self.obs_size + int(self.time_feature), *self.hidden, self.n_joints)
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        for layer in self.layers:  # PyTorch's default (Kaiming-uniform) init, drawn from `generator`
            bound = 1.0 / layer.in_features ** 0.5
            with torch.no_grad():
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.uniform_(-bound, bound, generator=generator)

    def config(self) -> dict[str, Any]:
        """The constructor arguments as a JSON-serialisable dict (rebuilds the same architecture)."""
        return {"obs_size": self.obs_size, "n_joints": self.n_joints, "hidden": list(self.hidden),
                "episode_steps": self.episode_steps, "time_feature": self.time_feature}

    def initial_state(self, batch: int) -> StepState:
        """A zero step count for ``batch`` swimmers."""
        return StepState(torch.zeros(batch, dtype=torch.int64))

    def features(self, obs: Mapping[str, torch.Tensor], step: torch.Tensor) -> torch.Tensor:
        """The MLP input ``[B, obs_size (+1)]``: every observation entry flattened and concatenated, plus,
        with ``time_feature``, the step rescaled to [-1, 1] over ``episode_steps``. Raises ``ValueError``
        on a wrong observation size.
        """
        x = torch.cat([v.reshape(v.shape[0], -1) for v in obs.values()], dim=-1)
        if x.shape[-1] != self.obs_size:
            raise ValueError(f"MLPPolicy expects {self.obs_size} observation values, got {x.shape[-1]}")
        if self.time_feature:
            t = 2.0 * step.to(x.dtype) / self.episode_steps - 1.0
            x = torch.cat((x, t[:, None]), dim=-1)
        return x

    def act(self, obs: Mapping[str, torch.Tensor], state: StepState | None = None,
            params: Mapping[str, torch.Tensor] | None = None) -> tuple[torch.Tensor, StepState]:
        """One control step: torques ``[B, n_joints]`` in [-1, 1] (ReLU hidden layers, tanh output) and the
        state with the step count advanced. ``params`` optionally holds per-swimmer weights
        ``layers.<i>.weight [B, out, in]`` and biases.
        """
        state = self.initial_state(_batch(obs)) if state is None else state
        h = self.features(obs, state.step)
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            if params is None:
                h = layer(h)
            else:  # per-swimmer weights [B, out, in]
                h = torch.einsum("boi,bi->bo", params[f"layers.{i}.weight"], h) + params[f"layers.{i}.bias"]
            h = torch.tanh(h) if i == last else TF.relu(h)
        return h, StepState(state.step + 1)


class ZeroPolicy(nn.Module):
    """Zero torque on every joint (the body drifts from its random initial pose)."""

    def __init__(self, n_joints: int) -> None:
        super().__init__()
        self.n_joints = int(n_joints)

    def initial_state(self, batch: int) -> StepState:
        """A zero step count for ``batch`` swimmers."""
        return StepState(torch.zeros(batch, dtype=torch.int64))

    def act(self, obs, state=None, params=None) -> tuple[torch.Tensor, StepState]:
        """Zero torques ``[B, n_joints]`` whatever the observation, and the state with the step count
        advanced.
        """
        b = _batch(obs)
        state = self.initial_state(b) if state is None else state
        return torch.zeros(b, self.n_joints), StepState(state.step + 1)


class RandomPolicy(nn.Module):
    """Independent uniform torques in [-1, 1] every step, from a seeded generator."""

    def __init__(self, n_joints: int, seed: int = 0) -> None:
        super().__init__()
        self.n_joints = int(n_joints)
        self.generator = torch.Generator().manual_seed(seed)

    def initial_state(self, batch: int) -> StepState:
        """A zero step count for ``batch`` swimmers."""
        return StepState(torch.zeros(batch, dtype=torch.int64))

    def act(self, obs, state=None, params=None) -> tuple[torch.Tensor, StepState]:
        """Uniform random torques in [-1, 1], ``[B, n_joints]`` (from the policy's generator), and the state
        with the step count advanced.
        """
        b = _batch(obs)
        state = self.initial_state(b) if state is None else state
        return 2 * torch.rand(b, self.n_joints, generator=self.generator) - 1, StepState(state.step + 1)


def observation_size(task: str, n_links: int) -> int:
    """Flat observation size: ``J`` joints (+ 2 ``to_target`` for navigate) + ``3 n_links`` velocities."""
    return (n_links - 1) + (2 if task == "navigate" else 0) + 3 * n_links


POLICIES = ("ncap", "mlp", "zero", "random")


def build_policy(kind: str, n_links: int = 6, task: str = "swim", **options: Any) -> nn.Module:
    """A policy by name for an ``n_links`` swimmer on ``task``.

    ``kind="ncap"``: options of :class:`SwimmerCircuit` (``weight_sharing``, ``sign_constraints``,
    ``init``, ``oscillator_period``, ``seed``, ...) and ``navigation``; ``"mlp"``: ``hidden``,
    ``episode_steps``, ``seed``; ``"random"``: ``seed``; ``"zero"``: none.
    """
    if kind not in POLICIES:
        raise ValueError(f"policy kind must be one of {POLICIES}, got {kind!r}")
    if not isinstance(n_links, int) or n_links < 2:
        raise ValueError(f"n_links must be an int >= 2, got {n_links!r}")
    n_joints = n_links - 1
    if kind == "ncap":
        navigation = options.pop("navigation", None)
        if task == "navigate":
            options.setdefault("turn_control", True)
            options.setdefault("speed_control", True)
        return NCAPPolicy(SwimmerCircuit(n_joints, **options), task=task, navigation=navigation)
    if kind == "mlp":
        return MLPPolicy(observation_size(task, n_links), n_joints, **options)
    if kind == "random":
        return RandomPolicy(n_joints, **options)
    if options:
        raise ValueError(f"the zero policy takes no options, got {sorted(options)}")
    return ZeroPolicy(n_joints)


def parameter_count(policy: nn.Module) -> int:
    """Number of learnable scalars."""
    return sum(p.numel() for p in policy.parameters() if p.requires_grad)


__all__ = ["NAVIGATION", "POLICIES", "MLPPolicy", "NCAPPolicy", "RandomPolicy", "StepState", "ZeroPolicy",
           "build_policy", "observation_size", "parameter_count"]
