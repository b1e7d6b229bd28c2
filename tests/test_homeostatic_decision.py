"""The need / regulator hook, regulated variables and the look-ahead decision on hand-made cases."""

import math

import pytest
import torch
from torch import nn

from neuro.models.homeostatic import (
    AttributeVariable,
    CallbackVariable,
    DriftTriggered,
    HomeostaticPolicy,
    LearningRate,
    LookAhead,
    Need,
    NeuronParameter,
    Opportunity,
    RandomPolicy,
    RegulatedVariable,
    Regulator,
    ReplayBuffer,
    temporarily,
)


def _case(lr: float):
    """Logits W x with W = [[0.5, 0], [0, 0]]; the current sample x = e1 of class 1 is predicted 0.

    Its cross-entropy gradient is g = (p - y) x^T, p = softmax([0.5, 0]), so after a step
    W - eta g / m (m = 1) the logits of e1 are [0.5 - 0.6225 eta, 0.6225 eta]: class 1 wins iff
    eta > 0.4016. The replay holds e1 labelled 1 twice.
    """
    model = nn.Linear(2, 2, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.5, 0.0], [0.0, 0.0]]))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    x = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([1])
    nn.functional.cross_entropy(model(x), y).backward()
    grads = {"weight": model.weight.grad.clone()}
    replay = (x.repeat(2, 1), y.repeat(2))
    return model, opt, grads, x[0], replay


def _decide(lr: float, need: Need, step: float = 0.2):
    model, opt, grads, x, (rx, ry) = _case(lr)
    variable = LearningRate(opt)
    regulator = Regulator(variable, need, step, floor=1e-8)
    policy = HomeostaticPolicy(regulator)
    look = LookAhead(model, opt, variable)
    predicted = int(model(x[None]).argmax())
    op = Opportunity(t=100, label=1, predicted=predicted, x=x,
                     evaluate=lambda candidate: look.scores(grads, rx, ry, candidate))
    taken = policy.decide(op)
    if taken:
        regulator.apply(op.label, op.x)
    return taken, policy.last, variable.get(), predicted


def test_take_it_wins_and_the_change_follows_the_true_label():
    # predicted class 0 drives +1: take it = eta 0.5 flips the replay (acc 1) vs leave it 0.3 (acc 0);
    # the applied change follows the TRUE class 1, which drives -1: eta falls to 0.1 ("skin in the game")
    need = Need.from_classes({0: +1, 1: -1})
    taken, scores, lr, predicted = _decide(0.3, need)
    assert predicted == 0
    assert scores == (0.0, 1.0)
    assert taken
    assert lr == pytest.approx(0.1)


def test_take_it_loses_when_the_proposed_change_hurts():
    # leave it (eta 0.5) flips the replay; take it (predicted 0 drives -1: eta 0.3) does not
    need = Need.from_classes({0: -1, 1: +1})
    taken, scores, lr, _ = _decide(0.5, need)
    assert scores == (1.0, 0.0)
    assert not taken
    assert lr == 0.5


def test_a_tie_is_not_strictly_better():
    need = Need.from_classes({0: +1, 1: -1})
    taken, scores, lr, _ = _decide(0.1, need, step=0.05)  # 0.1 and 0.15 both leave class 0 ahead
    assert scores == (0.0, 0.0)
    assert not taken and lr == 0.1


def test_candidate_at_the_floor_is_rejected_without_evaluation():
    model, opt, grads, x, _ = _case(1e-8)
    regulator = Regulator(LearningRate(opt), Need.threshold(1), 1e-3, floor=1e-8)
    policy = HomeostaticPolicy(regulator)
    op = Opportunity(0, 0, 0, x, evaluate=lambda c: pytest.fail("evaluated"))
    assert not policy.decide(op)


def test_loss_criterion_prefers_the_larger_useful_step():
    model, opt, grads, x, (rx, ry) = _case(0.1)
    look = LookAhead(model, opt, LearningRate(opt), criterion="loss")
    leave, take = look.scores(grads, rx, ry, 0.2)
    assert take > leave  # minus the replay cross-entropy: the bigger step lowers it
    assert opt.param_groups[0]["lr"] == 0.1  # restored after the look-ahead


def test_regulator_floor_ceiling_and_modes():
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1e-4)
    lr = LearningRate(opt)
    reg = Regulator(lr, Need.threshold(5), 1e-3, floor=1e-8, ceiling=2.5e-3)
    assert reg.apply(2) == 1e-8  # 1e-4 - 1e-3 clipped at the floor
    assert reg.apply(7) == pytest.approx(1e-3 + 1e-8)
    reg.apply(9)
    assert reg.apply(9) == 2.5e-3  # ceiling
    mult = Regulator(lr, Need.threshold(5), 2.0, mode="multiply", floor=1e-6)
    assert mult.apply(9) == pytest.approx(5e-3)
    assert mult.apply(0) == pytest.approx(2.5e-3)
    with pytest.raises(ValueError, match="floor"):
        Regulator(lr, Need.threshold(5), 1e-3, floor=-1.0)
    with pytest.raises(ValueError, match="step"):
        Regulator(lr, Need.threshold(5), 0.0)


def test_need_from_property_and_table():
    bright = Need.from_property(lambda x: 1.0 if float(x.mean()) > 0.5 else -1.0)
    assert bright(3, torch.ones(4)) == 1.0 and bright(3, torch.zeros(4)) == -1.0
    table = Need.from_classes({2: 0.5}, default=-2.0)
    assert table(2) == 0.5 and table(7) == -2.0


def test_learning_rate_keeps_group_ratios_and_rejects_negative():
    a, b = nn.Parameter(torch.zeros(1)), nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([{"params": [a], "lr": 1e-3}, {"params": [b], "lr": 1e-1}])
    lr = LearningRate(opt)
    assert isinstance(lr, RegulatedVariable)
    lr.set(2e-3)
    assert opt.param_groups[0]["lr"] == 2e-3 and opt.param_groups[1]["lr"] == pytest.approx(0.2)
    with pytest.raises(ValueError, match="bounds"):
        lr.set(-1.0)
    with temporarily(lr, 5e-3):
        assert lr.get() == 5e-3
    assert lr.get() == 2e-3


def test_alif_adaptation_regulated_between_steps():
    from neuro.nn import ALIF

    torch.manual_seed(0)
    alif = ALIF(8, tau_adapt=torch.tensor(0.05), beta_adapt=torch.tensor(0.2), backend="numba")
    beta, tau = NeuronParameter(alif, "beta_adapt"), NeuronParameter(alif, "tau_adapt")
    assert tau.bounds[0] == pytest.approx(alif.dt)  # Euler decays: tau_adapt >= dt
    x = (torch.rand(30, 4, 8) * 2).requires_grad_()
    out, _ = alif(x)
    before = out.sum().item()
    beta.set(1.5)  # between the forward and its backward: the pending gradient keeps the old values
    tau.set(0.1)
    out.sum().backward()
    grad_pending = x.grad.clone()
    ref = ALIF(8, tau_adapt=torch.tensor(0.05), beta_adapt=torch.tensor(0.2), backend="numba")
    x2 = x.detach().clone().requires_grad_()
    ref(x2)[0].sum().backward()
    torch.testing.assert_close(grad_pending, x2.grad)
    assert float(alif.beta_adapt) == pytest.approx(1.5) and float(alif.tau_adapt) == pytest.approx(0.1)
    assert alif(x.detach())[0].sum().item() < before  # stronger adaptation: fewer spikes
    with pytest.raises(ValueError, match="bounds"):
        tau.set(alif.dt / 2)


def test_neuron_parameter_learned_tau_and_fixed_number():
    from neuro.nn import ALIF

    learned = ALIF(4, learn_tau=True, tau_adapt=torch.linspace(0.1, 0.4, 4))
    tau = NeuronParameter(learned, "tau_adapt")
    tau.set(0.5)  # mean 0.25 -> 0.5: every neuron doubled, heterogeneity kept
    torch.testing.assert_close(learned.tau_adapt.detach(), torch.linspace(0.2, 0.8, 4))
    assert learned.log_tau_adapt.requires_grad
    with pytest.raises(TypeError, match="tensor value"):
        NeuronParameter(ALIF(4), "beta_adapt")
    with pytest.raises(ValueError, match="no parameter"):
        NeuronParameter(learned, "tau_syn")


def test_generic_variables_plug_in():
    class Synapse:
        amplitude = 0.01

    syn = Synapse()
    var = AttributeVariable(syn, "amplitude", bounds=(0.0, 1.0))
    reg = Regulator(var, Need.threshold(5), 0.005)
    reg.apply(9)
    assert syn.amplitude == pytest.approx(0.015)
    store = {"v": 1.0}
    cb = CallbackVariable(lambda: store["v"], lambda v: store.update(v=v), "level", (0.0, math.inf))
    Regulator(cb, Need.threshold(5), 0.5).apply(0)
    assert store["v"] == 0.5


def test_replay_buffer_keeps_the_last_samples_in_order():
    buf = ReplayBuffer(4)
    buf.extend(torch.arange(3.0)[:, None], torch.arange(3))
    buf.extend(torch.arange(3.0, 6.0)[:, None], torch.arange(3, 6))
    x, y = buf.view()
    assert y.tolist() == [2, 3, 4, 5] and x[:, 0].tolist() == [2.0, 3.0, 4.0, 5.0]
    buf.extend(torch.arange(6.0, 16.0)[:, None], torch.arange(6, 16))
    assert buf.view()[1].tolist() == [12, 13, 14, 15] and len(buf) == 4


def test_random_policy_is_seeded():
    op = Opportunity(0, 1, 1, torch.zeros(1))
    p1, p2, p3 = RandomPolicy(0.5, seed=3), RandomPolicy(0.5, seed=3), RandomPolicy(0.5, seed=4)
    draws = [p1.decide(op) for _ in range(100)]
    assert draws == [p2.decide(op) for _ in range(100)]
    assert draws != [p3.decide(op) for _ in range(100)]
    assert 30 < sum(draws) < 70


def test_drift_triggered_raises_then_relaxes():
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.01)
    lr = LearningRate(opt)
    drift = DriftTriggered(lr, 0.01, boost=10, threshold=3.0, fast=10, slow=100, decay=50, cooldown=50)
    noise = torch.Generator().manual_seed(0)
    for _ in range(20):  # stationary noisy losses: no detection
        assert not drift.observe(0.5 + 0.1 * torch.randn(10, generator=noise))
    assert lr.get() == pytest.approx(0.01)
    jumped = [drift.observe(torch.full((10,), 3.0)) for _ in range(3)]
    assert any(jumped) and lr.get() > 0.05
    for _ in range(30):
        drift.observe(torch.full((10,), 3.0))  # the new level becomes the norm: relaxes back
    assert lr.get() < 0.012
