r"""The NCAP swimmer circuit (Bhattasali, Zador, Engel 2022, §3.2 of the project's reference spec).

A C. elegans-inspired circuit of graded neurons (:func:`neuro.nn.graded.graded`,
:math:`g(x) = \min(\max(x, 0), 1)`) and sign-constrained synapses drives the ``J = n_links - 1``
joints of a swimmer, head first. Per control step ``t`` and joint ``i`` (channels ``d`` dorsal and
``v`` ventral):

.. math::

    \hat\theta_i &= \mathrm{clip}(\theta_i / \theta_{\max}, -1, 1), \quad
        \theta_{\max} = 2\pi / (J + 1) \quad\text{(the joint limit)} \\
    p^d_i &= g(\hat\theta_i), \quad p^v_i = g(-\hat\theta_i) \quad\text{(proprioception)} \\
    B^{c}_i &= g\big(\underbrace{[i > 0]\, w^{+}_{prop}\, p^{c}_{i-1}}_{\text{previous joint}}
        + \underbrace{[i = 0]\, w^{+}_{osc}\, o^{c}_t}_{\text{head oscillator}}
        + \underbrace{w^{-}_{speed} (1 - s_t)}_{\text{brake}}
        + \underbrace{[i < n_{turn}]\, w^{+}_{turn} u^{c}_t}_{\text{turn}}\big) \\
    M^d_i &= g(w^{+}_{ipsi} B^d_i + w^{-}_{contra} B^v_i), \quad
    M^v_i = g(w^{+}_{ipsi} B^v_i + w^{-}_{contra} B^d_i) \\
    \tau_i &= M^d_i - M^v_i \in [-1, 1]

with the square-wave oscillator :math:`o^d_t = [t \bmod P < P/2]`, :math:`o^v_t = 1 - o^d_t`
(period ``P = 60`` steps = 1.8 s at the 0.03 s control step), turn inputs
:math:`u^d = \text{right}, u^v = \text{left}` and speed :math:`s \in [0, 1]`. :math:`w^{+}` and
:math:`w^{-}` are excitatory / inhibitory weights: ``clamp(w, 0, .)`` / ``clamp(w, ., 0)`` applied in
the forward pass to free raw parameters (:mod:`neuro.nn.graded`).

**Parameters.** With weight sharing every role is one scalar (``prop, osc, ipsi, contra`` and, when
enabled, ``speed, turn``): 4 parameters for the swim task at any body length. Without sharing each
synapse has its own weight: ``prop [2, J-1]``, ``osc [2]``, ``ipsi [2, J]`` (d->d, v->v),
``contra [2, J]`` (v->M^d, d->M^v), ``speed [2, J]``, ``turn [2, n_turn]``; for 6 links (J = 5)
``2*4 + 2 + 2*5 + 2*5 = 30``.

**Initialisation.** ``init="constant"``: excitatory +1, inhibitory -1 (the circuit swims untrained);
without sign constraints, random +-1 (the paper's ablation). ``init="uniform"``: U(0, 1) / U(-1, 0),
or U(-1, 1) unconstrained.

**Batched parameters.** :meth:`SwimmerCircuit.forward` accepts ``params=`` — a dict with the same
names as :meth:`named_parameters` and one extra leading axis of size ``B`` — so that ``B`` swimmers
with ``B`` different weight vectors (an evolution-strategies population) run in one call.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import torch
from torch import nn

from neuro.nn import SpikingModule
from neuro.nn.graded import EXCITATORY, INHIBITORY, UNSIGNED, constrain_sign, graded, signed_init_
from neuro.state import stateclass

ROLES = ("prop", "osc", "ipsi", "contra", "speed", "turn")
ROLE_SIGNS = {"prop": EXCITATORY, "osc": EXCITATORY, "ipsi": EXCITATORY, "contra": INHIBITORY,
              "speed": INHIBITORY, "turn": EXCITATORY}
INITS = ("constant", "uniform")


@stateclass
class CircuitState(NamedTuple):
    """Explicit circuit state: the control step count ``[B]`` (int64) driving the oscillator phase."""

    step: torch.Tensor


class CircuitActivity(NamedTuple):
    """Every neuron of one or more steps, channel axis ``(d, v)`` before the joint axis.

    ``oscillator [..., 2]``, ``proprioception``, ``b``, ``muscle [..., 2, J]``, ``torque [..., J]``.
    """

    oscillator: torch.Tensor
    proprioception: torch.Tensor
    b: torch.Tensor
    muscle: torch.Tensor
    torque: torch.Tensor


def oscillator(step: torch.Tensor, period: int) -> torch.Tensor:
    """Head square wave ``[..., 2]``: ``(1, 0)`` for ``step mod period < period // 2``, else ``(0, 1)``."""
    first_half = torch.remainder(step, period) < period // 2
    return torch.stack((first_half, ~first_half), dim=-1).to(torch.get_default_dtype())


class SwimmerCircuit(SpikingModule):
    """The NCAP swimmer circuit: joint angles in, joint torques out, time-major.

    ``forward(x, state=None, controls=None, params=None) -> (torques, state)`` with ``x [T, B, J]``
    joint angles in radians, ``controls [T, B, 3]`` = (right, left, speed) in [0, 1] when turn or
    speed control is enabled, ``torques [T, B, J]`` in [-1, 1], ``state`` a :class:`CircuitState`.

    Args:
        n_joints: actuated joints ``J = n_links - 1`` (head joint first).
        oscillator_period: square-wave period in control steps (60 = 1.8 s).
        weight_sharing: one weight per role (4 parameters) or one per synapse (30 at J = 5).
        sign_constraints: excitatory / inhibitory projection in the forward pass (ablation: False).
        init: ``"constant"`` or ``"uniform"`` (see the module docstring).
        proprioception, head_oscillator: include these inputs (ablations).
        speed_control, turn_control: add the brake and the head turn inputs (navigation).
        n_turn_joints: joints receiving the turn inputs (from the head).
        joint_limit: angle that maps to 1 (default ``2 pi / (J + 1)``, dm_control's joint range).
        seed: seed of the random initialisations (uniform, or constant without sign constraints).
    """

    def __init__(self, n_joints: int, oscillator_period: int = 60, weight_sharing: bool = True,
                 sign_constraints: bool = True, init: str = "constant", proprioception: bool = True,
                 head_oscillator: bool = True, speed_control: bool = False, turn_control: bool = False,
                 n_turn_joints: int = 1, joint_limit: float | None = None,
                 seed: int | None = None) -> None:
        super().__init__()
        if not isinstance(n_joints, int) or n_joints < 1:
            raise ValueError(f"n_joints must be a positive int, got {n_joints!r}")
        if not isinstance(oscillator_period, int) or oscillator_period < 2:
            raise ValueError(f"oscillator_period must be an int >= 2 steps, got {oscillator_period!r}")
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        if turn_control and not 1 <= n_turn_joints <= n_joints:
            raise ValueError(f"n_turn_joints must be in [1, n_joints={n_joints}], got {n_turn_joints}")
        if joint_limit is not None and not joint_limit > 0:
            raise ValueError(f"joint_limit must be > 0, got {joint_limit}")
        self.n_joints = n_joints
        self.oscillator_period = oscillator_period
        self.weight_sharing = bool(weight_sharing)
        self.sign_constraints = bool(sign_constraints)
        self.init = init
        self.proprioception = bool(proprioception)
        self.head_oscillator = bool(head_oscillator)
        self.speed_control = bool(speed_control)
        self.turn_control = bool(turn_control)
        self.n_turn_joints = int(n_turn_joints)
        self.joint_limit = float(joint_limit) if joint_limit is not None else 2 * math.pi / (n_joints + 1)
        self.seed = seed
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        self.params = nn.ParameterDict()
        for role, shape in self.role_shapes().items():
            raw = nn.Parameter(torch.empty(shape))
            sign = ROLE_SIGNS[role] if self.sign_constraints else UNSIGNED
            signed_init_(raw, sign, init, 1.0, generator)
            self.params[role] = raw

    # -- structure ---------------------------------------------------------------------------------

    def roles(self) -> tuple[str, ...]:
        """The synapse roles present in this configuration, in parameter order."""
        present = {"prop": self.proprioception and self.n_joints > 1, "osc": self.head_oscillator,
                   "ipsi": True, "contra": True, "speed": self.speed_control, "turn": self.turn_control}
        return tuple(role for role in ROLES if present[role])

    def role_shapes(self) -> dict[str, tuple[int, ...]]:
        """Raw parameter shape per role: ``()`` when shared, per synapse otherwise."""
        if self.weight_sharing:
            return {role: () for role in self.roles()}
        per_synapse = {"prop": (2, self.n_joints - 1), "osc": (2,), "ipsi": (2, self.n_joints),
                       "contra": (2, self.n_joints), "speed": (2, self.n_joints),
                       "turn": (2, self.n_turn_joints)}
        return {role: per_synapse[role] for role in self.roles()}

    def config(self) -> dict[str, Any]:
        """Constructor arguments (JSON-able): ``SwimmerCircuit(**circuit.config())`` rebuilds it."""
        return {"n_joints": self.n_joints, "oscillator_period": self.oscillator_period,
                "weight_sharing": self.weight_sharing, "sign_constraints": self.sign_constraints,
                "init": self.init, "proprioception": self.proprioception,
                "head_oscillator": self.head_oscillator, "speed_control": self.speed_control,
                "turn_control": self.turn_control, "n_turn_joints": self.n_turn_joints,
                "joint_limit": self.joint_limit, "seed": self.seed}

    def transfer(self, n_joints: int) -> SwimmerCircuit:
        """The same shared weights on a body with ``n_joints`` joints (needs weight sharing)."""
        if not self.weight_sharing:
            raise ValueError("only a weight-shared circuit transfers to other body lengths "
                             "(unshared weights are per joint)")
        config = {**self.config(), "n_joints": n_joints, "joint_limit": None}
        config["n_turn_joints"] = min(self.n_turn_joints, n_joints)
        other = SwimmerCircuit(**config)
        other.load_state_dict(self.state_dict())
        return other

    def initial_state(self, batch: int, device: torch.device | None = None) -> CircuitState:
        """A zero step count for ``batch`` swimmers (the oscillator starts at phase 0), on ``device``."""
        return CircuitState(torch.zeros(batch, dtype=torch.int64, device=device))

    # -- weights -----------------------------------------------------------------------------------

    def weights(self, params: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """Effective (sign-constrained) weights per role, shaped ``[*P, 2, n]`` (``[*P, 2]`` for
        ``osc``), where ``*P`` are the leading axes of ``params`` (none for the module's own)."""
        source = self.params if params is None else params
        shapes = self.role_shapes()
        out = {}
        for role, shape in shapes.items():
            if role not in source:
                raise KeyError(f"params lacks the {role!r} weights (expected names {list(shapes)})")
            raw = source[role]
            lead = raw.shape[:raw.dim() - len(shape)]
            if tuple(raw.shape[len(lead):]) != shape:
                raise ValueError(f"params[{role!r}] has shape {tuple(raw.shape)}, expected "
                                 f"[*batch, {', '.join(map(str, shape))}]")
            w = constrain_sign(raw, ROLE_SIGNS[role]) if self.sign_constraints else raw
            if self.weight_sharing:
                n = {"prop": self.n_joints - 1, "osc": None, "turn": self.n_turn_joints}.get(
                    role, self.n_joints)
                w = w[..., None].expand(*lead, 2) if n is None else w[..., None, None].expand(*lead, 2, n)
            out[role] = w
        return out

    # -- dynamics ----------------------------------------------------------------------------------

    def step(self, angles: torch.Tensor, step: torch.Tensor, controls: torch.Tensor | None = None,
             params: Mapping[str, torch.Tensor] | None = None) -> CircuitActivity:
        """One control step: ``angles [B, J]`` (radians), ``step [B]``, ``controls [B, 3]``."""
        w = self.weights(params)
        theta = (angles / self.joint_limit).clamp(-1.0, 1.0)
        p = graded(torch.stack((theta, -theta), dim=-2))  # [B, 2, J]
        b = torch.zeros_like(p)
        if "prop" in w:
            b = b + torch.cat((torch.zeros_like(p[..., :1]), p[..., :-1] * w["prop"]), dim=-1)
        osc = oscillator(step, self.oscillator_period).to(p.dtype)  # [B, 2]
        if "osc" in w:
            head = torch.zeros_like(p)
            head[..., 0] = osc * w["osc"]
            b = b + head
        if self.speed_control or self.turn_control:
            if controls is None or controls.shape[-1] != 3:
                raise ValueError("speed / turn control needs controls[..., 3] = (right, left, speed)")
            controls = controls.clamp(0.0, 1.0).to(p.dtype)
        if self.speed_control:
            brake = (1.0 - controls[..., 2])[..., None, None]
            b = b + brake * w["speed"]
        if self.turn_control:
            turn = torch.zeros_like(p)
            turn[..., :self.n_turn_joints] = controls[..., :2, None] * w["turn"]
            b = b + turn
        b = graded(b)
        ipsi, contra = w["ipsi"], w["contra"]
        muscle = graded(ipsi * b + contra * b.flip(-2))  # M^d: d->d and v->d; M^v: v->v and d->v
        torque = muscle[..., 0, :] - muscle[..., 1, :]
        return CircuitActivity(osc, p, b, muscle, torque)

    def run(self, x: torch.Tensor, state: CircuitState | None = None,
            controls: torch.Tensor | None = None,
            params: Mapping[str, torch.Tensor] | None = None) -> tuple[CircuitActivity, CircuitState]:
        """Like :meth:`forward` but returns every neuron's activity, stacked over time."""
        if x.dim() != 3 or x.shape[-1] != self.n_joints:
            raise ValueError(f"x must be [T, B, n_joints={self.n_joints}] joint angles, "
                             f"got {tuple(x.shape)}")
        if controls is not None and controls.shape[:2] != x.shape[:2]:
            raise ValueError(f"controls must be [T, B, 3] like x, got {tuple(controls.shape)}")
        state = self.initial_state(x.shape[1], x.device) if state is None else state
        steps = []
        count = state.step
        for t in range(x.shape[0]):
            steps.append(self.step(x[t], count, None if controls is None else controls[t], params))
            count = count + 1
        activity = CircuitActivity(*(torch.stack(field) for field in zip(*steps)))
        return activity, CircuitState(count)

    def forward(self, x: torch.Tensor, state: CircuitState | None = None,
                controls: torch.Tensor | None = None,
                params: Mapping[str, torch.Tensor] | None = None) -> tuple[torch.Tensor, CircuitState]:
        """Joint torques ``[T, B, n_joints]`` for joint angles ``x [T, B, n_joints]``, and the
        :class:`CircuitState` after the last step (the advanced step count). ``controls [T, B, 3]`` are the
        optional turn/speed commands; ``params`` optional per-swimmer parameters. :meth:`run` returns every
        neuron's activity instead.
        """
        activity, state = self.run(x, state, controls, params)
        return activity.torque, state

    def extra_repr(self) -> str:
        """Joints, oscillator period, weight sharing, sign constraints, initialisation and neuron roles."""
        return (f"n_joints={self.n_joints}, period={self.oscillator_period}, "
                f"sharing={self.weight_sharing}, signs={self.sign_constraints}, init={self.init!r}, "
                f"roles={self.roles()}")


__all__ = ["INITS", "ROLES", "ROLE_SIGNS", "CircuitActivity", "CircuitState", "SwimmerCircuit",
           "oscillator"]
