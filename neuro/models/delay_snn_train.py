"""A self-contained training run of the SNN-delays recipe on SHD/SSC-format HDF5 files.

``train_delay_snn(config, train_file, test_file)`` binds the pieces of
:mod:`neuro.models.delay_snn` together: binned frames (:mod:`neuro.models.shd_frames`), the two
optimisers, the sigma schedule (set before every epoch), position clamping after every step,
evaluation with rounded (integer) delays after every epoch, tqdm progress, a JSON history and a
PNG of the curves written atomically to ``out_dir``. ``neuro train`` wires this to the CLI.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional, Union

import torch
from tqdm.auto import tqdm

from neuro.models.delay_snn import (DelaySNN, DelaySNNConfig, Optimisers, evaluate, set_sigma,
                                    sigma_at, train_epoch)
from neuro.models.shd_frames import HeidelbergFrames, collate_time_major


def load_frames(path: Union[str, Path], config: DelaySNNConfig) -> HeidelbergFrames:
    """The binned dataset of ``path`` with the recipe's pooling and bin width."""
    frames = HeidelbergFrames(path, dt=config.bin_ms / 1000.0, pool=config.pool,
                              n_classes=config.n_outputs)
    if frames.n_inputs != config.n_inputs:
        raise ValueError(f"{path}: pooling by {config.pool} gives {frames.n_inputs} inputs but the "
                         f"model expects n_inputs={config.n_inputs}")
    return frames


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def plot_history(history: dict, path: Path) -> None:
    """Loss, accuracy and sigma per epoch as a PNG (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = range(1, len(history["train_loss"]) + 1)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    axes[0].plot(epochs, history["train_loss"], label="train")
    axes[0].plot(epochs, history["test_loss"], label="test (rounded delays)")
    axes[0].set(xlabel="epoch", ylabel="loss")
    axes[0].legend()
    axes[1].plot(epochs, history["train_acc"], label="train")
    axes[1].plot(epochs, history["test_acc"], label="test (rounded delays)")
    axes[1].set(xlabel="epoch", ylabel="accuracy")
    axes[1].legend()
    axes[2].plot(epochs, history["sigma"])
    axes[2].set(xlabel="epoch", ylabel="sigma")
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def train_delay_snn(config: DelaySNNConfig, train_file: Union[str, Path], test_file: Union[str, Path],
                    device: Union[str, torch.device] = "cpu", out_dir: Optional[Union[str, Path]] = None,
                    progress: bool = True, backend: str = "auto", num_workers: int = 0) -> dict:
    """Train ``DelaySNN(config)`` for ``config.epochs`` epochs; returns the per-epoch history.

    The history holds ``train_loss``, ``train_acc``, ``test_loss``, ``test_acc`` (integer delays)
    and ``sigma``, plus ``model`` (the trained network). With ``out_dir``: ``history.json``,
    ``curves.png`` and ``model.pt`` (state dict) are written there atomically.
    """
    device = torch.device(device)
    torch.manual_seed(config.seed)
    train_set, test_set = load_frames(train_file, config), load_frames(test_file, config)
    generator = torch.Generator().manual_seed(config.seed)
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=config.batch_size, shuffle=True,
                                               collate_fn=collate_time_major, generator=generator,
                                               num_workers=num_workers)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=config.batch_size,
                                              collate_fn=collate_time_major, num_workers=num_workers)
    model = DelaySNN(config, backend=backend).to(device)
    optimisers = Optimisers(model, config)
    history: dict = {"train_loss": [], "train_acc": [], "test_loss": [], "test_acc": [], "sigma": []}
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    bar = tqdm(range(config.epochs), desc="epochs", disable=not progress)
    for epoch in bar:
        sigma = sigma_at(config, epoch)
        set_sigma(model, sigma)

        def batches(loader):
            return tqdm(loader, desc=f"epoch {epoch + 1}", leave=False, disable=not progress)

        train_loss, train_acc = train_epoch(model, train_loader, optimisers, device, batches)
        test_loss, test_acc = evaluate(model, test_loader, device, rounded=True)
        optimisers.epoch_end()
        for key, value in (("train_loss", train_loss), ("train_acc", train_acc),
                           ("test_loss", test_loss), ("test_acc", test_acc), ("sigma", sigma)):
            history[key].append(value)
        bar.set_postfix(loss=f"{train_loss:.3f}", test_acc=f"{test_acc:.3f}", sigma=f"{sigma:.2f}")
        if out is not None:
            _atomic_write(out / "history.json", json.dumps(
                {"config": config.to_dict(), **history}, indent=1).encode())
    if out is not None:
        plot_history(history, out / "curves.png")
        tmp = out / "model.pt.tmp"
        torch.save(model.state_dict(), tmp)
        os.replace(tmp, out / "model.pt")
    history["model"] = model
    return history
