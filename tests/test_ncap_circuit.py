"""The NCAP swimmer circuit without the simulator: parameter counts, sign constraints, the head
oscillator, time-major state, batched (population) weights, transfer, the policies."""

import math

import pytest
import torch

from neuro.models.ncap import (
    CircuitState,
    MLPPolicy,
    NCAPPolicy,
    SwimmerCircuit,
    build_policy,
    observation_size,
    oscillator,
    parameter_count,
)


def count(module):
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_at_six_links():
    assert count(SwimmerCircuit(5)) == 4  # prop, osc, ipsi, contra
    assert count(SwimmerCircuit(5, weight_sharing=False)) == 30  # 2*4 + 2 + 4*5
    assert count(SwimmerCircuit(5, speed_control=True, turn_control=True)) == 6
    # + speed 2*5 + turn 2*1
    assert count(SwimmerCircuit(5, weight_sharing=False, speed_control=True, turn_control=True)) == 42


@pytest.mark.parametrize("joints", [1, 3, 9])
def test_parameter_counts_any_length(joints):
    assert count(SwimmerCircuit(joints)) == (4 if joints > 1 else 3)  # one joint: no proprioception
    assert count(SwimmerCircuit(joints, weight_sharing=False)) == 2 * (joints - 1) + 2 + 4 * joints


def test_mlp_baseline_has_73k_parameters():
    mlp = build_policy("mlp", 6, seed=0)
    assert observation_size("swim", 6) == 23
    assert parameter_count(mlp) == (24 * 256 + 256) + (256 * 256 + 256) + (256 * 5 + 5) == 73477


def test_oscillator_square_wave_period_60():
    steps = torch.arange(180)
    osc = oscillator(steps, 60)
    assert torch.equal(osc[:, 0], ((steps % 60) < 30).float())
    assert torch.equal(osc.sum(-1), torch.ones(180))


def test_untrained_head_torque_alternates_with_period_60():
    circuit = SwimmerCircuit(5)
    torque, state = circuit(torch.zeros(150, 2, 5))
    head = torque[:, 0, 0]
    assert torch.equal(head, torch.where((torch.arange(150) % 60) < 30, 1.0, -1.0))
    assert torch.all(torque[:, :, 1:] == 0)  # straight body: nothing to propagate
    assert state.step.tolist() == [150, 150]


def test_proprioception_propagates_the_previous_joint_bend():
    circuit = SwimmerCircuit(5)
    bend = torch.tensor([0.3, -0.2, 0.0, 0.5, 0.0]) * circuit.joint_limit
    act, _ = circuit.run(bend.expand(1, 1, 5))
    # constant init: torque_i = clip(theta_{i-1}/limit, -1, 1) for i > 0
    torch.testing.assert_close(act.torque[0, 0, 1:], torch.tensor([0.3, -0.2, 0.0, 0.5]))
    assert act.b.shape == act.muscle.shape == (1, 1, 2, 5)
    assert act.b.min() >= 0 and act.b.max() <= 1


def test_sign_constraints_project_wrong_signed_weights_to_zero():
    circuit = SwimmerCircuit(5)
    with torch.no_grad():
        circuit.params["prop"].fill_(-2.0)  # excitatory weight pushed to the wrong side
        circuit.params["contra"].fill_(3.0)  # inhibitory weight pushed to the wrong side
    w = circuit.weights()
    assert torch.all(w["prop"] == 0) and torch.all(w["contra"] == 0)
    assert circuit.params["prop"].item() == -2.0  # the raw parameter stays free
    bend = torch.full((1, 1, 5), 0.5)
    torque, _ = circuit(bend)
    assert torch.all(torque[0, 0, 1:] == 0)  # no proprioceptive drive through a zeroed synapse
    free = SwimmerCircuit(5, sign_constraints=False)
    free.load_state_dict(circuit.state_dict())
    assert torch.all(free.weights()["prop"] == -2.0) and torch.all(free.weights()["contra"] == 3.0)
    # with a valid excitatory prop weight, the wrong-signed "inhibitory" contra weight matters only
    # without the constraint (it then excites the opposite muscle)
    with torch.no_grad():
        circuit.params["prop"].fill_(1.0)
        free.params["prop"].fill_(1.0)
    assert not torch.equal(free(bend)[0], circuit(bend)[0])


def test_init_modes():
    uniform = SwimmerCircuit(5, weight_sharing=False, init="uniform", seed=1)
    w = uniform.params
    assert all(0 <= v <= 1 for role in ("prop", "osc", "ipsi") for v in w[role].flatten().tolist())
    assert all(-1 <= v <= 0 for v in w["contra"].flatten().tolist())
    unsigned = SwimmerCircuit(5, weight_sharing=False, sign_constraints=False, seed=3)
    values = torch.cat([p.flatten() for p in unsigned.parameters()])
    assert set(values.tolist()) == {1.0, -1.0}  # the paper's ablation: constant init = random +-1
    again = SwimmerCircuit(5, weight_sharing=False, sign_constraints=False, seed=3)
    assert torch.equal(values, torch.cat([p.flatten() for p in again.parameters()]))


def test_state_carries_the_oscillator_phase_across_calls():
    circuit = SwimmerCircuit(5, weight_sharing=False, init="uniform", seed=0)
    x = torch.randn(100, 3, 5)
    whole, end = circuit(x)
    first, mid = circuit(x[:37])
    second, end2 = circuit(x[37:], mid)
    torch.testing.assert_close(torch.cat((first, second)), whole)
    assert torch.equal(end.step, end2.step)
    shifted, _ = circuit(x[:5], CircuitState(torch.full((3,), 30)))
    assert torch.all(shifted[0, :, 0] <= 0)  # phase 30: the ventral half of the square wave


def test_batched_population_weights_match_one_by_one():
    circuit = SwimmerCircuit(5, weight_sharing=False, init="uniform", seed=0)
    thetas = [SwimmerCircuit(5, weight_sharing=False, init="uniform", seed=s) for s in range(4)]
    params = {name: torch.stack([c.params[name] for c in thetas]) for name in circuit.params}
    x = torch.randn(20, 4, 5)
    batched, _ = circuit(x, params=params)
    for b, member in enumerate(thetas):
        alone, _ = member(x[:, b:b + 1])
        torch.testing.assert_close(batched[:, b:b + 1], alone)


def test_transfer_keeps_the_shared_weights():
    circuit = SwimmerCircuit(5)
    with torch.no_grad():
        circuit.params["osc"].fill_(0.8)
    other = circuit.transfer(9)
    assert other.n_joints == 9 and other.params["osc"].item() == pytest.approx(0.8)
    assert other.joint_limit == pytest.approx(2 * math.pi / 10)
    with pytest.raises(ValueError, match="weight-shared"):
        SwimmerCircuit(5, weight_sharing=False).transfer(7)


def test_navigation_commands_hardcoded():
    policy = build_policy("ncap", 6, "navigate")
    to_target = torch.tensor([[-0.5, 0.0], [0.5, 0.5], [0.0, 0.05]])
    right, left, speed = policy.commands(to_target).T
    assert right.tolist() == [1.0, 0.0, 0.0] and left.tolist() == [0.0, 1.0, 0.0]
    assert speed.tolist() == [0.0, 1.0, 0.0]
    learned = build_policy("ncap", 6, "navigate", navigation="learned")
    assert parameter_count(learned) == 6 + 9  # circuit with speed and turn + Linear(2, 3)


def test_policies_act_on_observation_dicts():
    obs = {"joints": torch.zeros(2, 5), "body_velocities": torch.zeros(2, 18)}
    ncap = build_policy("ncap", 6)
    assert isinstance(ncap, NCAPPolicy)
    action, state = ncap.act(obs)
    assert action[:, 0].tolist() == [1.0, 1.0] and state.step.tolist() == [1, 1]
    mlp = build_policy("mlp", 6, seed=0)
    assert isinstance(mlp, MLPPolicy)
    action, state = mlp.act(obs)
    assert action.shape == (2, 5) and action.abs().max() < 1


@pytest.mark.parametrize("kwargs, match", [
    ({"n_joints": 0}, "n_joints"), ({"n_joints": 5, "init": "normal"}, "init"),
    ({"n_joints": 5, "oscillator_period": 1}, "oscillator_period"),
    ({"n_joints": 5, "turn_control": True, "n_turn_joints": 6}, "n_turn_joints"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SwimmerCircuit(**kwargs)


def test_bad_input_shapes_are_named():
    circuit = SwimmerCircuit(5)
    with pytest.raises(ValueError, match="n_joints=5"):
        circuit(torch.zeros(3, 2, 4))
    unshared = SwimmerCircuit(5, weight_sharing=False)
    with pytest.raises(ValueError, match=r"params\['prop'\] has shape \(\), expected \[\*batch, 2, 4\]"):
        unshared(torch.zeros(3, 2, 5), params=dict(circuit.params))
    with pytest.raises(KeyError, match="ipsi"):
        circuit(torch.zeros(3, 2, 5), params={"prop": torch.ones(2)})
    with pytest.raises(ValueError, match="policy kind"):
        build_policy("transformer", 6)


def test_gradients_reach_every_weight():
    """The circuit is differentiable (for gradient-based RL): every role gets a gradient."""
    circuit = SwimmerCircuit(5, speed_control=True, turn_control=True, init="uniform", seed=0)
    x = torch.randn(40, 3, 5) * 0.5
    controls = torch.rand(40, 3, 3) * torch.tensor([1.0, 1.0, 0.5])
    torque, _ = circuit(x, controls=controls)
    (torque * torch.randn_like(torque)).sum().backward()
    for role, p in circuit.params.items():
        assert p.grad is not None and p.grad.abs().sum() > 0, role
