"""neuro.losses: values and gradients equal snnTorch's functional losses; lengths mask padding;
regularisers; the trainer's losses are the same objects."""

import pytest
import torch

from neuro import losses as L

T, B, C = 20, 16, 10


def _outputs(seed=0, classes=C):
    g = torch.Generator().manual_seed(seed)
    spikes = (torch.rand(T, B, classes, generator=g) < 0.2).float().requires_grad_()
    membrane = torch.randn(T, B, classes, generator=g).requires_grad_()
    labels = torch.randint(0, 10, (B,), generator=g)
    return spikes, membrane, labels


def _same(ours, reference, wrt, rtol=1e-6):
    torch.testing.assert_close(ours, reference.reshape(ours.shape), rtol=rtol, atol=1e-7)
    g_ours = torch.autograd.grad(ours.sum(), wrt, retain_graph=True)[0]
    g_ref = torch.autograd.grad(reference.sum(), wrt, retain_graph=True)[0]
    torch.testing.assert_close(g_ours, g_ref, rtol=rtol, atol=1e-7)


def test_spike_and_membrane_losses_equal_snntorch():
    SF = pytest.importorskip("snntorch.functional")
    spikes, membrane, y = _outputs()
    _same(L.ce_count_loss(spikes, y), SF.ce_count_loss()(spikes, y), spikes)
    _same(L.ce_rate_loss(spikes, y), SF.ce_rate_loss()(spikes, y), spikes)
    _same(L.ce_membrane_loss(membrane, y, "max"), SF.ce_max_membrane_loss()(membrane, y), membrane)
    _same(L.mse_count_loss(spikes, y, correct_rate=0.8, incorrect_rate=0.1),
          SF.mse_count_loss(correct_rate=0.8, incorrect_rate=0.1)(spikes, y), spikes)
    _same(L.mse_membrane_loss(membrane, y, on_target=1.5, off_target=0.25),
          SF.mse_membrane_loss(on_target=1.5, off_target=0.25)(membrane, y), membrane)
    weight = torch.linspace(0.5, 2.0, C)
    # per sample (snnTorch's weighted "mean" is a plain mean of the weighted losses; neuro's, as
    # torch's cross_entropy, divides by the summed weights)
    _same(L.ce_count_loss(spikes, y, weight=weight, reduction="none"),
          SF.ce_count_loss(weight=weight, reduction="none")(spikes, y), spikes)
    pop, _, _ = _outputs(1, classes=40)
    _same(L.ce_count_loss(pop, y, num_classes=10),
          SF.ce_count_loss(population_code=True, num_classes=10)(pop, y), pop)
    _same(L.mse_count_loss(pop, y, num_classes=10),
          SF.mse_count_loss(population_code=True, num_classes=10)(pop, y), pop)


def test_temporal_losses_equal_snntorch():
    SF = pytest.importorskip("snntorch.functional")
    spikes, _, y = _outputs(2)
    _same(L.ce_temporal_loss(spikes, y, no_spike="last"), SF.ce_temporal_loss()(spikes, y), spikes)
    _same(L.ce_temporal_loss(spikes, y, "reciprocal", no_spike="last"),
          SF.ce_temporal_loss(inverse="reciprocal")(spikes, y), spikes)
    # explicit targets (snnTorch's defaults on_target=0, off_target=-1 build all-zero targets)
    _same(L.mse_temporal_loss(spikes, y, on_target=3, off_target=15, tolerance=2, no_spike="last"),
          SF.mse_temporal_loss(on_target=3, off_target=15, tolerance=2)(spikes, y), spikes)
    times = torch.randint(0, T, (B, C)).float()
    _same(L.mse_temporal_loss(spikes, target_times=times, no_spike="last"),
          SF.mse_temporal_loss(target_is_time=True)(spikes, times.clone()), spikes)


def test_first_spike_times_and_their_gradient():
    s = torch.zeros(6, 2, 3)
    s[2, 0, 0] = s[4, 0, 0] = s[0, 1, 1] = 1
    s.requires_grad_()
    times = L.first_spike_times(s)
    assert times.tolist() == [[2, 6, 6], [6, 0, 6]]
    assert L.first_spike_times(s, no_spike="last").tolist() == [[2, 5, 5], [5, 0, 5]]
    assert L.first_spike_times(s, torch.tensor([6, 3]))[1].tolist() == [3, 0, 3]
    times.sum().backward()
    grad = s.grad
    assert grad[2, 0, 0] == -1 and grad[4, 0, 0] == 0 and grad[5, 0, 1] == -1 and grad.sum() == -6


def _padded(seq, extra=5, fill=1.0):
    return torch.cat([seq, torch.full((extra, *seq.shape[1:]), fill)])


@pytest.mark.parametrize("name", ["ce_count", "ce_rate", "max", "last", "mean", "sum_softmax",
                                  "mse_count", "mse_membrane", "ce_temporal", "mse_temporal"])
def test_lengths_mask_the_padding(name):
    spikes, membrane, y = _outputs(3)
    spikes, membrane = spikes.detach(), membrane.detach()
    lengths = torch.full((B,), T)
    fns = {
        "ce_count": lambda s, m, n: L.ce_count_loss(s, y, lengths=n),
        "ce_rate": lambda s, m, n: L.ce_rate_loss(s, y, lengths=n),
        "max": lambda s, m, n: L.ce_membrane_loss(m, y, "max", lengths=n),
        "last": lambda s, m, n: L.ce_membrane_loss(m, y, "last", lengths=n),
        "mean": lambda s, m, n: L.ce_membrane_loss(m, y, "mean", lengths=n),
        "sum_softmax": lambda s, m, n: L.ce_membrane_loss(m, y, "sum_softmax", lengths=n),
        "mse_count": lambda s, m, n: L.mse_count_loss(s, y, correct_rate=0.5, lengths=n),
        "mse_membrane": lambda s, m, n: L.mse_membrane_loss(m, y, lengths=n),
        "ce_temporal": lambda s, m, n: L.ce_temporal_loss(s, y, lengths=n),
        "mse_temporal": lambda s, m, n: L.mse_temporal_loss(s, y, on_target=2, off_target=10, lengths=n),
    }
    fn = fns[name]
    plain = fn(spikes, membrane, None)
    if name == "mse_temporal":  # normalised by the padded T: compare with explicit lengths = T
        plain = fn(spikes, membrane, lengths) * 1.0
        padded = fn(_padded(spikes), _padded(membrane, fill=9.0), lengths) * (T + 5) ** 2 / T ** 2
    else:
        padded = fn(_padded(spikes), _padded(membrane, fill=9.0), lengths)
    torch.testing.assert_close(padded, plain)


def test_regularizers():
    s = torch.zeros(10, 2, 4)
    s[:, 0, 0] = 1          # neuron 0 of sample 0 fires at every step
    s[:5, 1, 1] = 1         # neuron 1 of sample 1 at half of them
    torch.testing.assert_close(L.rate_l1(s), torch.tensor(1.5 / 8))
    torch.testing.assert_close(L.rate_l1(s, reduction="sum"), torch.tensor(15.0))
    torch.testing.assert_close(L.rate_l2(s), torch.tensor(1.25 / 8))
    # counts [[10, 0, 0, 0], [0, 5, 0, 0]]: per neuron below 2 -> (2 - n)^2 for the silent ones
    torch.testing.assert_close(L.count_lower_bound(s, 2.0), torch.tensor(6 * 4.0 / 8))
    # population means 2.5 and 1.25: only the second is below 2 -> 0.75^2 / 2
    torch.testing.assert_close(L.count_lower_bound(s, 2.0, per="population"), torch.tensor(0.28125))
    # population means 2.5 and 1.25, upper bound 2 -> (0.5^2 + 0) / 2
    torch.testing.assert_close(L.count_upper_bound(s, 2.0), torch.tensor(0.125))
    torch.testing.assert_close(L.count_upper_bound(s, 2.0, per="neuron", p=1), torch.tensor(11 / 8))
    lengths = torch.tensor([10, 5])
    torch.testing.assert_close(L.rate_l1(s, lengths), torch.tensor((1.0 + 1.0) / 8))
    x = torch.zeros(5, 2, 3, requires_grad=True)  # silent neurons still get a gradient
    L.count_lower_bound(x, 1.0).backward()
    assert bool((x.grad < 0).all())
    with pytest.raises(ValueError, match="per must be"):
        L.count_upper_bound(s, 1.0, per="layer")


def test_trainer_losses_are_the_same_functions():
    from neuro.train import losses as train_losses

    assert train_losses.classification_loss is L.classification_loss
    assert train_losses.readout_logits is L.readout_logits and train_losses.LOSSES == L.LOSSES


def test_errors_name_the_argument():
    spikes, _, y = _outputs()
    with pytest.raises(ValueError, match=r"spikes must be \[T, B, classes\]"):
        L.ce_count_loss(spikes[0], y)
    with pytest.raises(ValueError, match="num_classes=3 must divide"):
        L.ce_count_loss(spikes, y, num_classes=3)
    with pytest.raises(ValueError, match="lengths must be"):
        L.ce_rate_loss(spikes, y, lengths=torch.tensor([3, 4]))
    with pytest.raises(ValueError, match="reduction"):
        L.ce_count_loss(spikes, y, reduction="max")
    with pytest.raises(ValueError, match="either labels or target_times"):
        L.mse_temporal_loss(spikes)
