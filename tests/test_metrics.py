"""neuro.metrics: predictions by readout, accuracy (equal to snnTorch's), confusion matrix, rates."""

import pytest
import torch

from neuro import metrics as M


def _spikes(seed=0, T=25, B=32, C=10):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(T, B, C, generator=g) < 0.2).float(), torch.randint(0, 10, (B,), generator=g)


def test_accuracy_equals_snntorch():
    SF = pytest.importorskip("snntorch.functional")
    for seed in range(3):
        spikes, y = _spikes(seed)
        y[:8] = spikes.sum(0)[:8].argmax(1)  # some correct predictions
        assert M.accuracy(spikes, y) == pytest.approx(SF.accuracy_rate(spikes, y))
        assert M.accuracy(spikes, y, "first_spike") == pytest.approx(SF.accuracy_temporal(spikes, y))
        pop, _ = _spikes(seed + 10, C=40)
        assert M.accuracy(pop, y, num_classes=10) == pytest.approx(
            SF.accuracy_rate(pop, y, population_code=True, num_classes=10))


def test_predict_readouts():
    out = torch.zeros(4, 2, 3)
    out[0, 0, 2] = out[1, 0, 1] = out[2, 0, 1] = 1   # sample 0: first spike class 2, most spikes class 1
    out[3, 1, 0] = 1
    assert M.predict(out).tolist() == [1, 0]
    assert M.predict(out, "rate").tolist() == [1, 0]
    assert M.predict(out, "first_spike").tolist() == [2, 0]
    membrane = torch.tensor([[[0.0, 5.0]], [[3.0, 1.0]], [[2.0, 0.5]]])  # [T=3, B=1, C=2]
    assert M.predict(membrane, "max").tolist() == [1]
    assert M.predict(membrane, "last").tolist() == [0]
    assert M.predict(membrane, "last", lengths=torch.tensor([1])).tolist() == [1]
    assert M.predict(membrane, "mean").tolist() == [1]
    grouped = torch.zeros(2, 1, 4)
    grouped[0, 0, 3] = grouped[1, 0, 2] = 1            # both spikes in class 1 (outputs 2, 3)
    assert M.predict(grouped, num_classes=2).tolist() == [1]
    assert M.predict(grouped, "first_spike", num_classes=2).tolist() == [1]
    with pytest.raises(ValueError, match="readout must be one of"):
        M.predict(out, "median")


def test_confusion_matrix_and_firing_rates():
    cm = M.confusion_matrix(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]), 3)
    assert cm.tolist() == [[1, 0, 0], [0, 1, 0], [0, 1, 1]] and int(cm.sum()) == 4
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        M.confusion_matrix(torch.tensor([3]), torch.tensor([0]), 3)
    spikes = torch.zeros(10, 2, 3)
    spikes[:, 0, 0] = 1
    spikes[:4, 1, 0] = 1
    spikes[7:, 1, 1] = 1      # padding of sample 1 (length 5)
    rates = M.firing_rates(spikes, lengths=torch.tensor([10, 5]))
    torch.testing.assert_close(rates, torch.tensor([14 / 15, 0.0, 0.0]))
    torch.testing.assert_close(M.firing_rates(spikes, dt=1e-3)[0], torch.tensor(14 / 20 * 1000))
