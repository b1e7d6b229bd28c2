"""Dendritic networks: the spiking variant on the engine's LIF, prototype contexts, the continual CLI."""

import json

import pytest
import torch

from neuro.learning import ContinualConfig, run_continual
from neuro.models.dendrites import (
    DendriticMLP,
    PrototypeContext,
    PrototypeNetwork,
    SpikingDendriticLayer,
    SpikingDendriticMLP,
    mean_input,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_spiking_gate_modulates_the_lif_input_current():
    torch.manual_seed(0)
    layer = SpikingDendriticLayer(6, 4, 2, segments=2, kwta=0.0, tau_mem=20e-3, dt=1e-3)
    with torch.no_grad():
        layer.dendrites.weight.fill_(0.5)
        layer.dendrites.weight.mul_(layer.dendrites.weight_mask)
        layer.dendrites.segment_weights.zero_()
        layer.dendrites.segment_weights[:, 0, 0] = torch.tensor([40.0, -40.0, 40.0, -40.0])
    x = torch.ones(30, 3, 6)
    spikes, state = layer(x, torch.tensor([1.0, 0.0]))
    rates = spikes.mean((0, 1))
    assert (rates[[0, 2]] > 0.3).all() and (rates[[1, 3]] == 0).all()  # gate ~1 vs ~0
    current = layer.current(x, torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(current[..., 1], torch.zeros(30, 3), atol=1e-12, rtol=0)
    # explicit state: two halves give the same spikes as one run
    first, s = layer(x[:12], torch.tensor([1.0, 0.0]))
    second, _ = layer(x[12:], torch.tensor([1.0, 0.0]), state=s)
    torch.testing.assert_close(torch.cat([first, second]), spikes)


def test_spiking_kwta_limits_the_driven_neurons_per_step_and_gradients_reach_the_segments():
    torch.manual_seed(1)
    net = SpikingDendriticMLP(20, [40, 30], 5, 8, segments=3, kwta=0.1, tau_mem=20e-3, dt=1e-3)
    x = (torch.rand(25, 4, 20) < 0.3).float() * 3.0
    current = net.layers[0].current(x, torch.randn(4, 8))
    assert ((current != 0).sum(-1) <= 4).all()          # ceil(0.1 * 40) winners per step
    out, states = net(x, torch.randn(2, 8), torch.tensor([0, 1, 1, 0]))
    assert out.shape == (25, 4, 5) and len(states) == 3
    out.mean(0).square().sum().backward()
    grads = [layer.dendrites.segment_weights.grad for layer in net.layers]
    assert all(g is not None and g.abs().sum() > 0 for g in grads)  # surrogate gradients
    winners_only = (grads[0].abs().sum(-1) > 0).sum(-1)  # per unit: segments with a gradient
    assert (winners_only <= 2).all()                      # at most one per distinct context


def test_prototype_context_training_and_nearest_inference():
    torch.manual_seed(2)
    store = PrototypeContext(3, 4)
    store.set(0, torch.tensor([1.0, 0.0, 0.0, 0.0]))
    store.set(2, torch.tensor([0.0, 0.0, 5.0, 0.0]))
    assert store.nearest(torch.tensor([[0.9, 0.1, 0.0, 0.0], [0.0, 0.0, 4.0, 1.0]])).tolist() == [0, 2]
    c = store.contexts(torch.tensor([2]))
    assert c.mean().abs() < 1e-6 and (c.std() - 1).abs() < 1e-6  # standardised
    with pytest.raises(ValueError, match="task must be in"):
        store.set(3, torch.zeros(4))
    with pytest.raises(RuntimeError, match="no prototype"):
        PrototypeContext(2, 4).nearest(torch.zeros(1, 4))

    net = PrototypeNetwork(DendriticMLP(4, [8], 3, 4, segments=2, kwta=0.5), 2, 4, spiking=False)
    seqs = [torch.rand(5, 6, 4) + 3 * torch.eye(4)[t] for t in range(2)]
    for t in range(2):
        net.begin_task(t, mean_input([seqs[t]]))
    torch.testing.assert_close(net.context.prototypes[1], seqs[1].mean(0).mean(0))
    net.train()
    out, state = net(seqs[0])
    assert out.shape == (1, 6, 3) and state is None and (net.last_task_index == 1).all()
    net.eval()
    for t in range(2):
        net(seqs[t])
        assert (net.last_task_index == t).all()           # no task label at inference


def test_spiking_prototype_network_runs_sequences():
    snet = SpikingDendriticMLP(2 * 3 * 3, [12], 4, 18, segments=2, kwta=0.25, tau_mem=0.1, dt=0.02)
    net = PrototypeNetwork(snet, 2, 18, spiking=True)
    x = (torch.rand(7, 5, 2, 3, 3) < 0.3).float()
    net.begin_task(0, mean_input([x]))
    out, states = net(x)
    assert out.shape == (7, 5, 4) and len(states) == 2


TINY = dict(source="digits", n_tasks=3, epochs=2, batch_size=16, lr=0.05, momentum=0.9,
            hidden=[48], time_steps=4, train_samples=240, test_samples=60, kwta=0.25,
            progress=False)


@pytest.mark.parametrize("network", ["ann", "snn"])
def test_dendrites_method_in_the_continual_runner(network, tmp_path):
    config = ContinualConfig(method="dendrites", network=network, **TINY)
    result = run_continual(config, tmp_path / network)
    m = result.matrix
    assert not torch.isnan(torch.tril(m)).any() and m.diagonal().min() > 0.2
    summary = json.loads((tmp_path / network / "results.json").read_text())
    assert summary["method"] == "dendrites" and summary["config"]["network"] == network
    checkpoint = torch.load(tmp_path / network / "checkpoint.pt", weights_only=True)
    assert checkpoint["model"]["context.known"].tolist() == [True, True, True]
    assert checkpoint["model"]["network.layers.0.weight_mask" if network == "ann"
                               else "network.layers.0.dendrites.weight_mask"].any()


def test_dendrites_run_resumes_exactly(tmp_path):
    config = ContinualConfig(method="dendrites", network="ann", **{**TINY, "n_tasks": 2})
    whole = run_continual(config, tmp_path / "whole")
    run_continual(config, tmp_path / "part", stop_after=1)
    resumed = run_continual(config, tmp_path / "part", resume=True)
    torch.testing.assert_close(resumed.matrix, whole.matrix, rtol=0, atol=0, equal_nan=True)


def test_ann_baselines_share_the_runner():
    for method in ("finetune", "gpm"):
        result = run_continual(ContinualConfig(method=method, network="ann", gpm_samples=48,
                                               **{**TINY, "n_tasks": 2}))
        assert result.matrix.diagonal().min() > 0.3


def test_cli_flags_and_config_checks(tmp_path, capsys):
    from neuro.cli import main

    code = main(["continual", "--method", "dendrites", "--network", "ann", "--source", "digits",
                 "--tasks", "2", "--epochs", "1", "--hidden", "[24]", "--segments", "1",
                 "--kwta", "0.5", "--weight-sparsity", "0.3", "--dendrite-mode", "max_gate",
                 "--train-samples", "64", "--test-samples", "32", "--no-progress",
                 "--out", str(tmp_path / "cli")])
    assert code == 0, capsys.readouterr().err
    config = json.loads((tmp_path / "cli" / "results.json").read_text())["config"]
    assert (config["dendrite_segments"], config["kwta"], config["weight_sparsity"],
            config["dendrite_mode"]) == (1, 0.5, 0.3, "max_gate")
    for bad, match in ((dict(network="cnn"), "network must be one of"),
                       (dict(dendrite_mode="gate"), "dendrite_mode must be one of"),
                       (dict(kwta=1.5), "kwta must be in"),
                       (dict(method="dendrites", training="online"), "training='bptt' only")):
        with pytest.raises(ValueError, match=match):
            ContinualConfig(**bad)


def test_dendrites_forget_less_than_fine_tuning_of_the_same_mlp():
    common = dict(source="digits", n_tasks=3, epochs=3, batch_size=32, lr=0.03, momentum=0.9,
                  hidden=[128, 128], network="ann", test_samples=200, kwta=0.1, progress=False)
    finetune = run_continual(ContinualConfig(method="finetune", **common))
    dendrites = run_continual(ContinualConfig(method="dendrites", **common))
    # seed 0: ACC 72.0 vs 59.8 %, BWT -27.5 vs -56.5 %
    assert dendrites.acc > finetune.acc + 0.05 and dendrites.bwt > finetune.bwt + 0.1, \
        (dendrites.matrix, finetune.matrix)
