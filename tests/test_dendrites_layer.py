"""The active-dendrite layer: segment selection, signed gating, masks, k-WTA, gradients, init."""

import math

import pytest
import torch

from neuro.models.dendrites import (
    DendriticLayer,
    DendriticMLP,
    KWinners,
    random_mask,
    select_segment,
    sparse_uniform_bound,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def hand_set_layer(mode="abs_max_gate", segments=3, context=3):
    """4 units, segment k of unit j reads context entry k with weight w[j, k]."""
    layer = DendriticLayer(5, 4, context, segments, mode, weight_sparsity=0.0, bias=False)
    w = torch.tensor([[1.0, 2.0, 3.0], [4.0, -5.0, 0.5], [0.1, 0.2, 0.3], [-1.0, 1.0, -7.0]])
    with torch.no_grad():
        layer.segment_weights.zero_()
        for k in range(segments):
            layer.segment_weights[:, k, k] = w[:, k]
    return layer, w


@pytest.mark.parametrize("k", [0, 1, 2])
def test_one_hot_context_selects_the_intended_segment(k):
    layer, w = hand_set_layer()
    context = torch.nn.functional.one_hot(torch.tensor(k), 3).float()
    selected, winner = select_segment(layer.segment_activations(context), "abs_max_gate")
    assert winner.tolist() == [k] * 4
    torch.testing.assert_close(selected, w[:, k])
    x = torch.randn(6, 5)
    expected = layer.feedforward(x) * torch.sigmoid(w[:, k])
    torch.testing.assert_close(layer(x, context), expected)


def test_strongly_negative_winning_segment_silences_the_unit_in_abs_max_mode():
    layer, _ = hand_set_layer()
    context = torch.tensor([0.0, 0.0, 5.0])  # unit 3's segment 2 reads -7 * 5 = -35
    x = torch.randn(8, 5)
    y = layer(x, context)
    ff = layer.feedforward(x)
    assert ff[:, 3].abs().min() > 0
    assert (y[:, 3].abs() <= ff[:, 3].abs() * 1e-15).all()  # sigmoid(-35) ~ 6e-16
    assert (y[:, 0] - ff[:, 0] * torch.sigmoid(torch.tensor(15.0))).abs().max() < 1e-6
    # max-gate picks the largest (here the silent segment 0 with 0 activation): the unit passes
    layer.mode = "max_gate"
    torch.testing.assert_close(layer(x, context)[:, 3], ff[:, 3] * 0.5)


def test_bias_mode_adds_the_largest_segment():
    layer, w = hand_set_layer("bias")
    context = torch.tensor([1.0, 1.0, 1.0])
    x = torch.randn(3, 5)
    torch.testing.assert_close(layer(x, context), layer.feedforward(x) + w.max(1).values)


def test_gradient_flows_only_through_the_winning_segment():
    torch.manual_seed(0)
    layer = DendriticLayer(6, 5, 4, 3, "abs_max_gate", weight_sparsity=0.0)
    context = torch.randn(4)
    x = torch.randn(7, 6)
    layer(x, context).square().sum().backward()
    _, winner = select_segment(layer.segment_activations(context), "abs_max_gate")
    grad = layer.segment_weights.grad  # [units, segments, context]
    for j in range(5):
        for k in range(3):
            assert (grad[j, k].abs().sum() > 0) == (k == winner[j]), (j, k)
    # and the gradient is the exact one (float64 finite differences), per-sample contexts too
    layer = layer.double()
    ctx = torch.randn(3, 4, dtype=torch.float64)
    xs = torch.randn(3, 6, dtype=torch.float64)
    u = layer.segment_weights.detach().clone().requires_grad_(True)

    def f(weights):
        a = torch.einsum("bc,jkc->bjk", ctx, weights)
        sel, _ = select_segment(a, "abs_max_gate")
        return layer.feedforward(xs) * torch.sigmoid(sel)

    assert torch.autograd.gradcheck(f, (u,))


def test_mask_survives_optimiser_steps():
    torch.manual_seed(1)
    layer = DendriticLayer(20, 10, 6, 2, weight_sparsity=0.7, dendrite_sparsity=0.5)
    mask, seg_mask = layer.weight_mask.clone(), layer.segment_mask.clone()
    assert (mask.sum(1) == 6).all()                    # exactly round(0.3 * 20) kept per unit
    assert (layer.weight[~mask] == 0).all() and (layer.segment_weights[~seg_mask] == 0).all()
    opt = torch.optim.AdamW(layer.parameters(), lr=0.1, weight_decay=0.1)
    for _ in range(5):
        opt.zero_grad()
        layer(torch.randn(4, 20), torch.randn(4, 6)).sum().backward()
        assert (layer.weight.grad[~mask] == 0).all()   # masked weights get no gradient
        opt.step()
        layer.rezero_weights()
    assert (layer.weight[~mask] == 0).all() and (layer.weight[mask] != 0).all()
    assert (layer.segment_weights[~seg_mask] == 0).all()
    assert torch.equal(layer.weight_mask, mask)       # the mask itself is fixed (a buffer)
    state = layer.state_dict()
    assert "weight_mask" in state and "segment_mask" in state


@pytest.mark.parametrize("units, p", [(100, 0.05), (2048, 0.05), (10, 0.25), (7, 1.0)])
def test_kwta_keeps_exactly_k(units, p):
    kw = KWinners(units, p)
    assert kw.k == math.ceil(p * units)
    x = torch.randn(3, 5, units, requires_grad=True)
    y = kw(x)
    assert ((y != 0).sum(-1) == kw.k).all()
    kept = y != 0
    xd = x.detach()
    assert (xd.masked_fill(~kept, math.inf).min(-1).values
            >= xd.masked_fill(kept, -math.inf).max(-1).values).all()  # the k largest of each row
    y.sum().backward()
    assert torch.equal(x.grad != 0, kept)              # gradients through the winners only


def test_one_segment_fast_path_equals_the_general_selection():
    torch.manual_seed(2)
    layer = DendriticLayer(8, 6, 5, 1, "abs_max_gate")
    x, c = torch.randn(4, 8), torch.randn(4, 5)
    a = layer.segment_activations(c)
    general = layer.feedforward(x) * torch.sigmoid(select_segment(a, "abs_max_gate")[0])
    torch.testing.assert_close(layer(x, c), general)
    plain = DendriticLayer(8, 6, 5, 0)
    assert plain.segment_weights is None
    torch.testing.assert_close(plain(x), plain.feedforward(x))


def test_context_forms_shared_per_sample_and_indexed():
    torch.manual_seed(3)
    layer = DendriticLayer(8, 6, 5, 4)
    x = torch.randn(2, 3, 8)                            # [T, B, in]
    contexts = torch.randn(2, 5)
    index = torch.tensor([1, 0, 1])
    per_sample = layer(x, contexts[index])               # [B, d_c] broadcast over T
    torch.testing.assert_close(layer(x, contexts, index), per_sample)
    torch.testing.assert_close(layer(x[:, :1], contexts[1]), per_sample[:, :1])
    with pytest.raises(ValueError, match="context has 4 features"):
        layer(x, torch.randn(4))
    with pytest.raises(ValueError, match="needs a context"):
        layer(x)


def test_sparse_aware_kaiming_uniform_initialisation():
    torch.manual_seed(4)
    layer = DendriticLayer(400, 300, 200, 2, weight_sparsity=0.5, input_density=0.05,
                           context_density=0.5)
    bound = sparse_uniform_bound(400, 0.05, 0.5)
    assert bound == pytest.approx(1 / math.sqrt(0.05 * 0.5 * 400))
    w = layer.weight[layer.weight_mask]
    assert w.abs().max() <= bound and w.abs().max() > 0.95 * bound
    assert w.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.03)  # uniform(-b, b)
    seg_bound = sparse_uniform_bound(200, 0.5, 1.0)
    assert layer.segment_weights.abs().max() <= seg_bound
    assert layer.segment_weights.std().item() == pytest.approx(seg_bound / math.sqrt(3), rel=0.03)
    g1, g2 = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    a, b = DendriticLayer(10, 4, 3, 2, generator=g1), DendriticLayer(10, 4, 3, 2, generator=g2)
    assert torch.equal(a.weight, b.weight) and torch.equal(a.weight_mask, b.weight_mask)


def test_ablation_switches_of_the_mlp():
    net = DendriticMLP(12, [16, 16], 3, 5, segments=4, kwta=0.25)
    assert all(isinstance(a, KWinners) and a.k == 4 for a in net.activations)
    no_kwta = DendriticMLP(12, [16], 3, 5, segments=4, kwta=0.0)
    assert isinstance(no_kwta.activations[0], torch.nn.ReLU)
    no_dendrites = DendriticMLP(12, [16], 3, 5, segments=0, kwta=0.25)
    assert no_dendrites.layers[0].segment_weights is None
    out = no_dendrites(torch.randn(2, 12))
    assert out.shape == (2, 3)


@pytest.mark.parametrize("call, match", [
    (lambda: DendriticLayer(4, 4, 4, 2, mode="gate"), "mode must be one of"),
    (lambda: DendriticLayer(4, 4, 4, -1), "segments must be >= 0"),
    (lambda: KWinners(10, 0.0), "percent_on must be in"),
    (lambda: random_mask(3, 4, 1.0), "sparsity must be in"),
    (lambda: DendriticMLP(4, [4], 2, 4, 2, kwta=2.0), "kwta must be in"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
