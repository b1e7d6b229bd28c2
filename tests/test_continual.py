"""Continual-learning runner: metrics, checkpoints and resume, baselines, data paths, CLI."""

import gzip
import json
import shutil

import numpy as np
import pytest
import torch
from torch import nn

from neuro.datasets import CorruptFileError, DatasetNotFoundError
from neuro.learning import EWC, ContinualConfig, acc_bwt, grow_basis, run_continual, subspace_angles
from neuro.learning.mnist_idx import mnist_arrays, read_idx, write_idx
from neuro.learning.tasks import load_source, permutations, permute_positions

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# tiny runs: seconds each on the static digits
TINY = dict(source="digits", n_tasks=3, epochs=2, batch_size=16, lr=0.3, hidden=[32],
            time_steps=4, train_samples=160, test_samples=60, hlop_rows=[[12, 8], [6, 4]],
            gpm_samples=48, ewc_batches=2, ewc_strength=2.0, progress=False)


def test_acc_and_bwt_follow_the_gpm_convention():
    a = torch.tensor([[0.9, float("nan"), float("nan")],
                      [0.8, 0.95, float("nan")],
                      [0.7, 0.85, 0.99]], dtype=torch.float64)
    acc, bwt = acc_bwt(a)
    assert acc == pytest.approx((0.7 + 0.85 + 0.99) / 3)
    assert bwt == pytest.approx(((0.7 - 0.9) + (0.85 - 0.95)) / 2)
    assert acc_bwt(torch.tensor([[0.5]])) == (0.5, 0.0)


@pytest.mark.parametrize("method", ["finetune", "ewc", "gpm", "hlop"])
def test_every_method_fills_the_accuracy_matrix(method, tmp_path):
    result = run_continual(ContinualConfig(method=method, **TINY), tmp_path / method)
    m = result.matrix
    assert not torch.isnan(torch.tril(m)).any() and torch.isnan(torch.triu(m, 1)[0, 1:]).all()
    assert m.diagonal().min() > 0.25  # every task learned beyond chance (10 classes)
    summary = json.loads((tmp_path / method / "results.json").read_text())
    assert summary["acc"] == pytest.approx(result.acc) and summary["method"] == method
    assert (tmp_path / method / "accuracy_matrix.png").stat().st_size > 1000
    checkpoint = torch.load(tmp_path / method / "checkpoint.pt", weights_only=True)
    assert checkpoint["tasks_done"] == 3


def test_resume_after_an_interruption_gives_the_same_run(tmp_path):
    config = ContinualConfig(method="hlop", **TINY)
    whole = run_continual(config, tmp_path / "whole")
    part = run_continual(config, tmp_path / "part", stop_after=1)
    assert torch.isnan(part.matrix[1:]).all() and not (tmp_path / "part" / "results.json").exists()
    resumed = run_continual(config, tmp_path / "part", resume=True)
    torch.testing.assert_close(resumed.matrix, whole.matrix, rtol=0, atol=0, equal_nan=True)
    with pytest.raises(FileExistsError, match="already holds a run"):
        run_continual(config, tmp_path / "whole")
    from neuro.train import ConfigMismatch

    with pytest.raises(ConfigMismatch, match="lr"):
        run_continual(ContinualConfig(method="hlop", **{**TINY, "lr": 0.4}), tmp_path / "whole",
                      resume=True)


def test_online_trace_training_with_hlop_runs(tmp_path):
    result = run_continual(ContinualConfig(method="hlop", training="online",
                                           **{**TINY, "n_tasks": 2}))
    assert result.matrix.diagonal().min() > 0.2


def test_hlop_forgets_less_than_fine_tuning():
    common = {**TINY, "n_tasks": 3, "epochs": 2, "train_samples": 300, "hidden": [48],
              "hlop_rows": [[20, 16], [12, 10]], "hlop_lr": [0.02, 0.05], "lr": 0.3}
    finetune = run_continual(ContinualConfig(method="finetune", **common))
    hlop = run_continual(ContinualConfig(method="hlop", **common))
    assert hlop.bwt > finetune.bwt + 0.03, (hlop.matrix, finetune.matrix)


def test_ewc_penalty_is_the_sum_of_per_task_quadratic_anchors():
    torch.manual_seed(0)
    model = nn.Linear(3, 2).double()
    ewc = EWC(model, strength=2.0)
    assert float(ewc.penalty()) == 0.0
    anchors, fishers = [], []
    for _task in range(2):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        x, y = torch.randn(8, 3, dtype=torch.float64), torch.randn(8, 2, dtype=torch.float64)
        batches = [(x[:4], y[:4]), (x[4:], y[4:])]

        def loss_of(batch):
            return ((model(batch[0]) - batch[1]) ** 2).mean(), len(batch[0])
        fisher = [torch.zeros_like(p) for p in model.parameters()]
        for b in batches:
            grads = torch.autograd.grad(loss_of(b)[0], list(model.parameters()))
            fisher = [f + 4 * g ** 2 / 2 for f, g in zip(fisher, grads)]
        fishers.append(fisher)
        anchors.append([p.detach().clone() for p in model.parameters()])
        ewc.consolidate(loss_of, batches)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3)
    penalty = ewc.penalty()
    penalty.backward()
    explicit = sum(((f * (p - a) ** 2).sum() for fs, ans in zip(fishers, anchors)
                    for f, a, p in zip(fs, ans, model.parameters())))
    grads = [p.grad.clone() for p in model.parameters()]
    for p in model.parameters():
        p.grad = None
    (0.5 * 2.0 * explicit).backward()
    for g, p in zip(grads, model.parameters()):
        assert torch.allclose(g, p.grad)  # identical gradients (the penalties differ by a constant)
    fresh = EWC(model, 2.0)
    fresh.load_state_dict(ewc.state_dict())
    assert torch.allclose(fresh.penalty(), penalty) and fresh.tasks_done == 2


def test_gpm_basis_grows_by_the_energy_criterion():
    g = torch.Generator().manual_seed(0)
    q = torch.linalg.qr(torch.randn(10, 10, generator=g, dtype=torch.float64)).Q
    r = (torch.randn(200, 10, generator=g, dtype=torch.float64)
         * torch.tensor([10.0, 5.0, 1.0] + [0.01] * 7, dtype=torch.float64)) @ q.T
    basis = grow_basis(torch.zeros(0, 10, dtype=torch.float64), r, 0.99)
    assert basis.shape[0] == 2  # (100 + 25) / 126 of the energy >= 99 %
    assert grow_basis(basis, r, 0.99).shape[0] == 2  # already explained: nothing added
    basis = grow_basis(basis, r, 0.995)
    assert basis.shape[0] == 3  # the residual's top direction is added
    assert torch.allclose(basis @ basis.T, torch.eye(3, dtype=torch.float64), atol=1e-10)
    assert subspace_angles(basis, q[:, :3].T).max() < 0.05
    more = grow_basis(basis, r, 1.0)
    assert more.shape[0] == 10 and torch.allclose(more @ more.T, torch.eye(10, dtype=torch.float64),
                                                  atol=1e-10)
    with pytest.raises(ValueError, match="threshold"):
        grow_basis(basis, r, 1.5)


def test_permutations_shuffle_positions_consistently():
    perms = permutations(3, 16, seed=4)
    assert perms.shape == (3, 16) and all(sorted(p.tolist()) == list(range(16)) for p in perms)
    assert torch.equal(perms, permutations(3, 16, seed=4))
    x = torch.arange(2 * 2 * 16, dtype=torch.float32).reshape(2, 2, 4, 4)
    y = permute_positions(x, perms[0])
    assert torch.equal(y.flatten(-2), x.flatten(-2)[..., perms[0]])  # same shuffle per channel


def _mnist_files(root, n_train=120, n_test=40, gz=True):
    rng = np.random.default_rng(0)
    raw = root / "MNIST" / "raw"
    suffix = ".gz" if gz else ""
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = np.zeros((n, 28, 28), np.uint8)
        for i, label in enumerate(labels):  # a class-specific bar plus noise
            images[i, 2 + 2 * label: 5 + 2 * label, 4:24] = 255
            images[i] |= (rng.random((28, 28)) < 0.05).astype(np.uint8) * 120
        write_idx(raw / f"{split}-images-idx3-ubyte{suffix}", images)
        write_idx(raw / f"{split}-labels-idx1-ubyte{suffix}", labels.astype(np.uint8))
    return raw


def test_permuted_mnist_runs_from_torchvision_style_idx_files(tmp_path):
    _mnist_files(tmp_path)
    x, y = mnist_arrays(tmp_path, "train")
    assert x.shape == (120, 1, 28, 28) and x.max() == 1.0 and y[:10].tolist() == list(range(10))
    config = ContinualConfig(method="hlop", **{**TINY, "source": "mnist", "n_tasks": 2,
                                               "train_samples": None, "test_samples": None,
                                               "hlop_lr": [1e-3, 1e-2]},
                             data_root=str(tmp_path))
    result = run_continual(config)
    assert result.matrix.shape == (2, 2) and result.matrix.diagonal().min() > 0.3


def test_idx_reader_rejects_missing_truncated_and_foreign_files(tmp_path):
    raw = _mnist_files(tmp_path, gz=False)
    assert read_idx(raw / "train-labels-idx1-ubyte").shape == (120,)
    with pytest.raises(DatasetNotFoundError, match="t10k-images-idx3-ubyte"):
        mnist_arrays(tmp_path / "elsewhere", "test")
    data = (raw / "train-images-idx3-ubyte").read_bytes()
    (raw / "train-images-idx3-ubyte").write_bytes(data[:-100])
    with pytest.raises(CorruptFileError, match="truncated"):
        mnist_arrays(tmp_path, "train")
    (raw / "train-images-idx3-ubyte").write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(CorruptFileError, match="magic"):
        mnist_arrays(tmp_path, "train")
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01"))
    (raw / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(CorruptFileError, match="header"):
        mnist_arrays(tmp_path, "test")
    with pytest.raises(CorruptFileError, match="2-D IDX data, expected 1-D"):
        write_idx(raw / "bad", np.zeros((2, 2), np.uint8))
        read_idx(raw / "bad", 1)


def test_permuted_nmnist_frames_run_from_real_recordings(shared_data, tmp_path):
    src = shared_data / "nmnist" / "slayer_NMNISTsmall"
    rows = [line.split() for line in (src / "train1K.txt").read_text().splitlines()[1:21]]
    labels = [int(label) for _, label in rows]  # samples 1..20 (README: 5 0 4 1 9 ...)
    for split in ("Train", "Test"):
        for i, label in enumerate(labels, start=1):
            folder = tmp_path / "NMNIST" / split / str(label)
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(src / f"{i}.bs2", folder / f"{i:05d}.bin")
    source = load_source("nmnist", root=str(tmp_path), time_window_us=50_000)
    frames, _ = source.train[0]
    assert frames.shape == (6, 2, 34, 34) and not source.static
    config = ContinualConfig(method="gpm", **{**TINY, "source": "nmnist", "n_tasks": 2,
                                              "train_samples": None, "test_samples": None,
                                              "time_window_us": 50_000, "batch_size": 10},
                             data_root=str(tmp_path))
    result = run_continual(config)
    assert result.matrix.shape == (2, 2) and not torch.isnan(result.matrix.diagonal()).any()


def test_config_validation():
    with pytest.raises(ValueError, match="method must be one of"):
        ContinualConfig(method="replay")
    with pytest.raises(ValueError, match="source must be one of"):
        ContinualConfig(source="cifar")
    with pytest.raises(ValueError, match="unknown continual-learning options"):
        ContinualConfig.from_dict({"methd": "hlop"})
    with pytest.raises(ValueError, match="2 layers"):
        ContinualConfig(hlop_rows=[[1, 2, 3]]).rows_for_task(0, 2)
    assert ContinualConfig(hlop_rows=[5, [1, 2]]).rows_for_task(0, 2) == [5, 5]
    assert ContinualConfig(hlop_rows=[5, [1, 2]]).rows_for_task(7, 2) == [1, 2]
    with pytest.raises(ValueError, match="permuted MNIST needs"):
        load_source("mnist")


def test_cli_runs_and_reports(tmp_path, capsys):
    from neuro.cli import main

    args = ["continual", "--method", "finetune", "--source", "digits", "--tasks", "2",
            "--epochs", "1", "--hidden", "[16]", "--time-steps", "3", "--train-samples", "64",
            "--test-samples", "40", "--no-progress", "--out", str(tmp_path / "run")]
    assert main(args) == 0
    assert "ACC" in capsys.readouterr().out
    assert main(["continual", "--resume", str(tmp_path / "run"), "--no-progress"]) == 0
    assert main(["continual", "--method", "dream", "--out", str(tmp_path / "x")]) == 2
    assert "method must be one of" in capsys.readouterr().err
    assert main(["continual", "--no-progress"]) == 2


@pytest.mark.parametrize("n_methods", [1, 4])
def test_method_comparison_plot_for_any_number_of_methods(n_methods, tmp_path):
    from neuro.learning.plots import plot_method_comparison

    matrix = torch.tensor([[0.9, float("nan")], [0.8, 0.95]])
    names = ["finetune", "ewc", "gpm", "hlop"][:n_methods]
    path = plot_method_comparison({m: matrix for m in names},
                                  {m: [(0.87, -0.1), (0.9, -0.05)] for m in names},
                                  tmp_path / "cmp.png", title="t", reference_bwt=-0.02)
    assert path.exists() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
