"""Orthogonal projection of weight updates (HLOP, GPM): exact preservation, equivalent forms."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from neuro.learning import GPM, HLOP, EligibilityTraces, lif_mlp, project_rows
from neuro.learning.sites import find_sites

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _low_rank_inputs(n: int, rank: int, count: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    basis = torch.randn(rank, n, generator=g, dtype=torch.float64)
    return torch.randn(count, rank, generator=g, dtype=torch.float64) @ basis


def _sgd(model: nn.Module, loss_fn, steps: int, lr: float = 0.05, params=None) -> None:
    opt = torch.optim.SGD(model.parameters() if params is None else params, lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss_fn().backward()
        opt.step()


def test_hlop_projection_keeps_old_outputs_of_a_linear_layer():
    torch.manual_seed(0)
    layer = nn.Linear(20, 6, bias=False).double()
    hlop = HLOP(layer, lr=0.1, iterations=5)  # Oja rows learned from the task-1 inputs
    hlop.double()
    x_old = _low_rank_inputs(20, 4, 256, seed=1)
    x_old = x_old / x_old.norm(dim=1, keepdim=True).mean()
    target_old = torch.randn(256, 6, dtype=torch.float64)
    hlop.begin_task(4)
    for k in range(400):  # task 1: train the layer; the lateral rows learn span(x_old)
        batch = x_old[(k * 32) % 256: (k * 32) % 256 + 32]
        layer.zero_grad()
        F.mse_loss(layer(batch), target_old[(k * 32) % 256: (k * 32) % 256 + 32]).backward()
        hlop.hebbian_step()
        with torch.no_grad():
            layer.weight -= 0.05 * layer.weight.grad
    assert hlop.orthogonality_error()[0] < 1e-3
    hlop.begin_task(2)  # task 2: the 4 rows are frozen and project the updates
    before = layer(x_old).detach()
    x_new = torch.randn(128, 20, dtype=torch.float64)
    target_new = torch.randn(128, 6, dtype=torch.float64)
    _sgd(layer, lambda: F.mse_loss(layer(x_new), target_new), 200, lr=0.1)
    change = (layer(x_old) - before).abs().max() / before.abs().max()
    assert change < 2e-3  # bounded by how well the Hebbian rows span the old inputs
    assert (layer.weight.grad @ hlop.basis(0).T).abs().max() < 1e-12


def test_exact_svd_basis_preserves_old_outputs_to_machine_precision():
    torch.manual_seed(0)
    layer = nn.Linear(16, 5, bias=False).double()
    gpm = GPM(layer, threshold=1.0)
    x_old = _low_rank_inputs(16, 5, 64, seed=2)
    gpm.update(layer, [x_old])
    assert gpm.basis(0).shape == (5, 16)
    before = layer(x_old).detach()
    x_new = torch.randn(64, 16, dtype=torch.float64)
    target = torch.ones(64, 5, dtype=torch.float64)
    start = float(F.mse_loss(layer(x_new), target).detach())
    _sgd(layer, lambda: F.mse_loss(layer(x_new), target), 100, lr=0.2)
    assert (layer(x_old) - before).abs().max() < 1e-12
    assert float(F.mse_loss(layer(x_new), target).detach()) < 0.8 * start  # the new task is still learned


def test_conv_projection_on_unfolded_patches_preserves_old_feature_maps():
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 4, 3, stride=2, bias=False).double()
    gpm = GPM(conv, threshold=1.0)
    g = torch.Generator().manual_seed(0)
    # old inputs: smooth images whose 3x3 patches span a low-dimensional subspace of R^18
    ramp = torch.linspace(0, 1, 9, dtype=torch.float64)
    x_old = (torch.rand(6, 2, 1, 1, generator=g, dtype=torch.float64) * ramp[None, None, :, None]
             + torch.rand(6, 2, 1, 1, generator=g, dtype=torch.float64) * ramp[None, None, None, :])
    gpm.update(conv, [x_old])
    assert 0 < gpm.basis(0).shape[0] < 18
    before = conv(x_old).detach()
    x_new = torch.rand(6, 2, 9, 9, generator=g, dtype=torch.float64)
    start = float(conv(x_new).detach().pow(2).mean())
    _sgd(conv, lambda: conv(x_new).pow(2).mean(), 50, lr=0.5)
    assert (conv(x_old) - before).abs().max() < 1e-12
    assert float(conv(x_new).detach().pow(2).mean()) < 0.8 * start


def _network(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return lif_mlp((1, 6, 6), 4, [12], dt=1e-3, tau_mem=5e-3).double()


def _spiky(steps: int, batch: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(steps, batch, 1, 6, 6, generator=g, dtype=torch.float64) < 0.3).double() * 3


def test_weight_and_input_forms_give_identical_gradients_through_bptt():
    grads = {}
    for form in ("weight", "input"):
        model = _network()
        hlop = HLOP(model, projection=form).double()
        hlop.begin_task([8, 3], torch.Generator().manual_seed(0))
        hlop.begin_task(0)  # freeze the (random, orthonormal) rows: they now project
        out, _ = model(_spiky(6, 5, seed=1))
        F.cross_entropy(out.mean(0), torch.tensor([0, 1, 2, 3, 0])).backward()
        grads[form] = [s.weight.grad.clone() for s in hlop.sites]
        for g, i in zip(grads[form], range(3)):
            assert (g @ hlop.basis(i).T).abs().max() < 1e-12
    for a, b in zip(grads["weight"], grads["input"]):
        assert torch.allclose(a, b, atol=1e-12)
        assert a.abs().max() > 0


def test_conv_weight_and_input_forms_agree_inside_a_time_distributed_network():
    from neuro.nn import LIF, Sequential

    grads = {}
    for form in ("weight", "input"):
        torch.manual_seed(0)
        model = Sequential(nn.Conv2d(2, 3, 3, padding=1, bias=False), LIF(tau_mem=5e-3),
                           nn.Flatten(), nn.Linear(3 * 5 * 5, 2, bias=False)).double()
        hlop = HLOP(model, projection=form).double()
        hlop.begin_task([6, 10], torch.Generator().manual_seed(3))
        hlop.begin_task(0)
        g = torch.Generator().manual_seed(4)
        x = (torch.rand(4, 3, 2, 5, 5, generator=g, dtype=torch.float64) < 0.4).double() * 2
        out, _ = model(x)
        out.pow(2).mean().backward()
        grads[form] = [s.weight.grad.clone() for s in hlop.sites]
    for a, b in zip(grads["weight"], grads["input"]):
        assert torch.allclose(a, b, atol=1e-12)


def test_spiking_lateral_input_projection_approaches_the_matrix_gradient():
    grads = {}
    for lateral, steps in (("matrix", 1), ("neurons", 50), ("neurons", 800)):
        model = _network()
        hlop = HLOP(model, projection="input", lateral=lateral, spike_scale=20.0,
                    spike_steps=steps, backend="numba").double()
        hlop.begin_task([8, 3], torch.Generator().manual_seed(0))
        hlop.begin_task(0)
        out, _ = model(_spiky(5, 4, seed=2))
        F.cross_entropy(out.mean(0), torch.tensor([0, 1, 2, 3])).backward()
        grads[(lateral, steps)] = model[1].layer.weight.grad.clone()
    exact = grads[("matrix", 1)]
    coarse = (grads[("neurons", 50)] - exact).abs().max()
    fine = (grads[("neurons", 800)] - exact).abs().max()
    assert fine < coarse and fine < 0.02 * exact.abs().max()


@pytest.mark.parametrize("trace", ["spikes", "filtered"])
def test_every_layer_of_a_spiking_network_keeps_old_spike_trains_exactly(trace):
    """With complete per-step bases at every layer, old inputs give identical spikes/outputs.

    ``filtered`` protects the membrane-filtered traces, which is enough because a LIF membrane is
    ``W`` times the filtered input minus resets (trace decay = membrane decay).
    """
    model = _network()
    gpm = GPM(model, threshold=1.0, trace=trace, trace_decay=math.exp(-1e-3 / 5e-3))
    x_old = _spiky(6, 3, seed=5)  # 18 step vectors: a subspace of R^36 at the input layer
    with torch.no_grad():
        out_before, _ = model(x_old)
    gpm.update(lambda s: model(s), [x_old])
    x_new = _spiky(6, 8, seed=6)
    labels = torch.arange(8) % 4

    def loss():
        return F.cross_entropy(model(x_new)[0].mean(0), labels)
    start = float(loss().detach())
    _sgd(model, loss, 30, lr=0.5)
    with torch.no_grad():
        out_after, _ = model(x_old)
    assert torch.allclose(out_after, out_before, atol=1e-10)
    assert float(loss().detach()) < start


def test_step_projects_the_update_of_any_optimiser():
    torch.manual_seed(0)
    layer = nn.Linear(10, 3, bias=False).double()
    gpm = GPM(layer, threshold=1.0)
    x_old = _low_rank_inputs(10, 3, 32, seed=3)
    gpm.update(layer, [x_old])
    before = layer(x_old).detach()
    opt = torch.optim.Adam(layer.parameters(), lr=0.05, weight_decay=0.1)
    x_new = torch.randn(32, 10, dtype=torch.float64)
    for _ in range(20):
        opt.zero_grad()
        layer(x_new).pow(2).mean().backward()
        gpm.step(opt)
    assert (layer(x_old) - before).abs().max() < 1e-12


def test_online_traces_give_trace_times_error_gradients_and_compose_with_projection():
    torch.manual_seed(0)
    layer = nn.Linear(5, 2, bias=False).double()
    decay = 0.5
    traces = EligibilityTraces(layer, decay)
    xs = torch.rand(4, 3, 5, dtype=torch.float64)
    traces.reset()
    expected = torch.zeros(2, 5, dtype=torch.float64)
    trace = torch.zeros(3, 5, dtype=torch.float64)
    for t in range(4):
        out = layer(xs[t])
        assert torch.allclose(out, xs[t] @ layer.weight.T)  # forward values unchanged
        out.sum().backward()  # delta = 1 for every output
        trace = decay * trace + xs[t]
        expected += torch.ones(3, 2, dtype=torch.float64).T @ trace
    assert torch.allclose(layer.weight.grad, expected)
    gpm = GPM(layer, threshold=1.0)
    gpm.update(lambda x: layer(x), [xs[0]])
    with pytest.raises(ValueError, match="projection='weight'"):
        GPM(layer, projection="input")
    layer.weight.grad = None
    traces.reset()
    for t in range(4):
        layer(xs[t]).sum().backward()
    assert (layer.weight.grad @ gpm.basis(0).T).abs().max() < 1e-12
    traces.remove()


def test_sites_of_an_engine_model_and_bad_layers():
    model = lif_mlp((2, 4, 4), 3, [8, 6], dt=1e-3, tau_mem=0.02)
    sites = find_sites(model)
    assert [s.fan_in for s in sites] == [32, 8, 6]
    assert all(s.sequence_wrapper for s in sites)
    with pytest.raises(ValueError, match="no Linear/Conv2d layer named"):
        find_sites(model, ["layers.9.layer"])
    with pytest.raises(ValueError, match="grouped"):
        find_sites(nn.Conv2d(4, 4, 3, groups=2))
    with pytest.raises(ValueError, match="no nn.Linear"):
        find_sites(nn.ReLU())
    with pytest.raises(ValueError, match="projection must be"):
        HLOP(model, projection="both")
    with pytest.raises(ValueError, match="3 protected layers"):
        HLOP(model, lr=[0.1, 0.1])


def test_project_rows_and_hlop_state_round_trip():
    v = torch.randn(4, 6)
    assert torch.equal(project_rows(v, torch.zeros(0, 6)), v)
    model = lif_mlp((1, 3, 3), 2, [5, 4], dt=1e-3, tau_mem=0.02)
    hlop = HLOP(model)
    hlop.begin_task([3, 2, 1])
    hlop.begin_task([2, 1, 1])
    fresh = HLOP(lif_mlp((1, 3, 3), 2, [5, 4], dt=1e-3, tau_mem=0.02))
    fresh.load_state_dict(hlop.state_dict())
    assert [s.n_rows for s in fresh.subspaces] == [5, 3, 2]
    assert [s.n_frozen for s in fresh.subspaces] == [3, 2, 1]
    assert fresh.tasks_begun == 2
    assert torch.equal(fresh.basis(0), hlop.basis(0))
