"""DistributedDataParallel: 2 CPU processes under torchrun (gloo) end with identical weights."""

import textwrap

import pytest
import torch

from train_cases import torchrun_on_shd_like_data

SCRIPT = textwrap.dedent("""
    import os, sys
    import torch
    from neuro.train import TrainConfig, build_model, train

    root, out = sys.argv[1], sys.argv[2]
    config = TrainConfig(dataset="shd", model="snn", loss="max", epochs=2, batch_size=4, lr=1e-2,
                         data_root=root, time_window_us=20_000, downsample=0.1,
                         model_options={"hidden": [16]}, progress=False, device="cpu")
    torch.manual_seed(0)
    initial = build_model("snn", input_shape=(70,), n_classes=20, dt=0.02,
                          hidden=[16]).state_dict()  # train() builds the same with this seed
    result = train(config, os.path.join(out, "run"))
    rank = os.environ["RANK"]
    torch.save({"final": result.model.state_dict(), "initial": initial,
                "world": os.environ["WORLD_SIZE"]}, os.path.join(out, f"rank{rank}.pt"))
""")


def test_two_gloo_processes_end_with_identical_weights(tmp_path):
    torchrun_on_shd_like_data(tmp_path, SCRIPT, n_train=24, n_test=8)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert [r["world"] for r in ranks] == ["2", "2"]
    final0, final1 = ranks[0]["final"], ranks[1]["final"]
    for key in final0:
        assert torch.equal(final0[key], final1[key]), key  # gradients were all-reduced
    changed = [k for k in final0 if not torch.equal(final0[k], ranks[0]["initial"][k])]
    assert changed, "training did not update the weights"
    run = tmp_path / "run"
    assert (run / "checkpoint.pt").is_file() and (run / "metrics.csv").is_file()
    assert len((run / "metrics.csv").read_text().splitlines()) == 3  # header + 2 epochs, rank 0 only
    checkpoint = torch.load(run / "checkpoint.pt", weights_only=True)
    for key in final0:
        assert torch.equal(checkpoint["model"][key], final0[key])


DELAY_SCRIPT = textwrap.dedent("""
    import os, sys
    import torch
    from neuro.train import TrainConfig, train

    root, out = sys.argv[1], sys.argv[2]
    config = TrainConfig.recipe("delay_snn", "shd", epochs=2, batch_size=4, data_root=root,
                                model_options={"n_hidden": 8, "sigma_epochs": 1}, progress=False,
                                device="cpu")
    result = train(config, os.path.join(out, "run"))
    torch.save(result.model.state_dict(), os.path.join(out, f"rank{os.environ['RANK']}.pt"))
""")


def test_delay_recipe_under_torchrun_keeps_every_rank_identical(tmp_path):
    """The recipe's hooks (sigma, clamping, parameter groups) under DDP; BatchNorm statistics are
    taken from rank 0 after every epoch, so the whole state (buffers too) agrees."""
    torchrun_on_shd_like_data(tmp_path, DELAY_SCRIPT, n_train=16, n_test=4)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    for key in ranks[0]:
        assert torch.equal(ranks[0][key], ranks[1][key]), key
    assert any("running_mean" in key for key in ranks[0])
    checkpoint = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert [row["sigma"] for row in checkpoint["history"]] == pytest.approx([12.0, 0.23])
