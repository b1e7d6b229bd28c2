"""The training loop: progress bars, per-epoch metrics, atomic checkpoints, exact resume, DDP.

``train(config, run_dir)`` trains ``config.model`` on ``config.dataset`` and writes to ``run_dir``:
``checkpoint.pt`` and ``metrics.csv`` / ``metrics.json`` after every epoch, ``curves.png`` and
``raster.png`` at the end (curves also when a NaN loss stops the run).
``train(config, run_dir, resume=True)`` continues from the checkpoint exactly: model, optimizer,
scheduler and RNG states are restored and each epoch's data order depends only on
``(seed, epoch)``, so an interrupted and resumed run ends with the same weights as an
uninterrupted one. Under ``torchrun`` the model is wrapped in ``DistributedDataParallel``, the
training data is split by ``DistributedSampler`` and only rank 0 logs, plots and checkpoints.

Models plug recipe-specific steps into this one loop through optional methods:

* ``param_groups(lr, weight_decay) -> list[dict]`` — the Adam parameter groups (own ``lr``,
  ``weight_decay`` or ``"schedule"`` per group, :mod:`neuro.train.schedules`); default: all
  parameters in one group;
* ``on_epoch_start(epoch, epochs) -> dict | None`` — called before each training epoch (0-based;
  also after a resume, so epoch-dependent settings are recomputed); returned numbers are logged
  in that epoch's metrics row (and plotted);
* ``after_optimizer_step()`` — called after every optimiser step (e.g. clamping parameters).

Evaluation runs in ``model.eval()`` mode; models with a separate inference form switch to it
there (the delay network rounds its delays). A model whose output is longer than its input
(delays let late spikes arrive after the input ends) gets each sample's valid output length
``length + (T_out - T_in)`` for the loss masks.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from neuro.datasets import load_dataset, pad_collate
from neuro.train import distributed as D
from neuro.train.checkpoint import (CHECKPOINT_NAME, load_checkpoint, rng_state, save_checkpoint,
                                    set_rng_state, write_metrics)
from neuro.train.config import TrainConfig, config_diff
from neuro.train.losses import READOUT_OF_LOSS, classification_loss
from neuro.train.models import build_from_spec, model_spec
from neuro.train.monitor import SpikeMonitor
from neuro.train.schedules import EpochSchedule


class TrainingDiverged(RuntimeError):
    """The loss became NaN/inf; the last good checkpoint was kept."""


class ConfigMismatch(ValueError):
    """``resume`` was asked with a configuration that differs from the checkpoint's."""


@dataclass
class TrainResult:
    model: nn.Module
    history: list[dict[str, Any]]
    run_dir: Path

    @property
    def test_accuracy(self) -> float:
        return self.history[-1]["test_acc"] if self.history else float("nan")


def _datasets(config: TrainConfig, info: D.DistInfo) -> tuple[Dataset, Dataset]:
    kwargs = dict(root=config.data_root, download=config.download, **config.data_options())
    if config.cache_dir is not None:
        kwargs["cache_dir"] = config.cache_dir
    kwargs["progress"] = config.progress and info.is_main  # bars of cache building
    if info.enabled and not info.is_main:
        D.barrier(info)  # rank 0 downloads / builds caches first
    train_set = load_dataset(config.dataset, "train", **kwargs)
    test_set = load_dataset(config.dataset, "test", **kwargs)
    if info.enabled and info.is_main:
        D.barrier(info)
    return train_set, test_set


def _limit(dataset: Dataset, n: Optional[int]) -> Dataset:
    return dataset if n is None or n >= len(dataset) else Subset(dataset, range(n))


def _build(config: TrainConfig, train_set: Dataset) -> dict[str, Any]:
    dt = getattr(train_set, "dt", None) or 1e-3
    options = {"backend": config.backend, **config.model_options}
    return model_spec(config.model, train_set.frame_shape, train_set.n_classes, dt,
                      READOUT_OF_LOSS[config.loss], **options)


def _loader(dataset: Dataset, config: TrainConfig, info: D.DistInfo, epoch: int, train: bool,
            device: torch.device) -> DataLoader:
    collate = partial(pad_collate, max_len=config.max_len)
    common = dict(batch_size=config.batch_size, collate_fn=collate, num_workers=config.num_workers,
                  pin_memory=device.type == "cuda")
    if not train:
        shard = Subset(dataset, range(info.rank, len(dataset), info.world_size))
        return DataLoader(shard, shuffle=False, **common)
    if info.enabled:
        sampler = torch.utils.data.DistributedSampler(dataset, num_replicas=info.world_size,
                                                      rank=info.rank, shuffle=True, seed=config.seed)
        sampler.set_epoch(epoch)
        return DataLoader(dataset, sampler=sampler, **common)
    generator = torch.Generator().manual_seed(config.seed * 100_003 + epoch)  # order = f(seed, epoch)
    return DataLoader(dataset, shuffle=True, generator=generator, **common)


def _output_lengths(out: torch.Tensor, frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Valid output steps per sample: outputs longer than the input extend every sample alike."""
    extra = out.shape[0] - frames.shape[0]
    return lengths + extra if extra > 0 else lengths


def _hook(model: nn.Module, name: str):
    """The model's optional extension method ``name`` (module docstring), or None."""
    hook = getattr(model, name, None)
    return hook if callable(hook) else None


def _progress(config: TrainConfig, info: D.DistInfo):
    from tqdm.auto import tqdm

    return partial(tqdm, disable=not (config.progress and info.is_main), dynamic_ncols=True)


def _train_epoch(model: nn.Module, loader: DataLoader, optimizer, config: TrainConfig,
                 info: D.DistInfo, device: torch.device, monitor: SpikeMonitor, bar,
                 epoch: int, after_step=None) -> dict[str, float]:
    model.train()
    monitor.reset()
    totals = torch.zeros(3, dtype=torch.float64)  # loss sum, correct, count
    batches = bar(loader, desc=f"epoch {epoch + 1}/{config.epochs}", leave=False, unit="batch")
    for b, (frames, labels, lengths) in enumerate(batches):
        frames, labels = frames.to(device, non_blocking=True), labels.to(device)
        out, _ = model(frames)
        loss, logits = classification_loss(out, labels, config.loss,
                                           _output_lengths(out, frames, lengths))
        if not D.all_finite(bool(torch.isfinite(loss)), info):
            raise TrainingDiverged(f"the loss became {loss.item()} at epoch {epoch + 1}, batch "
                                   f"{b + 1}; stopped (try a lower --lr or --grad-clip)")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        if after_step is not None:
            after_step()
        n = len(labels)
        totals += torch.tensor([loss.item() * n, (logits.argmax(1) == labels).sum().item(), n],
                               dtype=torch.float64)
        batches.set_postfix(loss=f"{totals[0] / totals[2]:.3f}", acc=f"{totals[1] / totals[2]:.1%}",
                            rate=f"{monitor.rate or 0:.2%}")
    totals = D.all_reduce_sum(totals, info)
    rate = D.all_reduce_sum(torch.tensor([monitor.spikes, float(monitor.neuron_steps)],
                                         dtype=torch.float64), info)
    return {"train_loss": float(totals[0] / totals[2]), "train_acc": float(totals[1] / totals[2]),
            "spike_rate": float(rate[0] / rate[1]) if rate[1] else None}


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader, loss_kind: str, device: torch.device,
             info: D.DistInfo = D.DistInfo()) -> dict[str, float]:
    """Mean loss and accuracy over ``loader`` (summed over the ranks' shards)."""
    model.eval()
    totals = torch.zeros(3, dtype=torch.float64)
    for frames, labels, lengths in loader:
        frames, labels = frames.to(device), labels.to(device)
        out, _ = model(frames)
        loss, logits = classification_loss(out, labels, loss_kind,
                                           _output_lengths(out, frames, lengths))
        n = len(labels)
        totals += torch.tensor([loss.item() * n, (logits.argmax(1) == labels).sum().item(), n],
                               dtype=torch.float64)
    totals = D.all_reduce_sum(totals, info)
    count = max(float(totals[2]), 1.0)
    return {"test_loss": float(totals[0] / count), "test_acc": float(totals[1] / count)}


def _check_resume(run_dir: Path, config: TrainConfig) -> dict[str, Any]:
    checkpoint = load_checkpoint(run_dir / CHECKPOINT_NAME)
    differences = config_diff(checkpoint["config"], config.to_dict())
    if differences:
        raise ConfigMismatch(f"cannot resume {run_dir}: the configuration differs from the "
                             "checkpoint's:\n  " + "\n  ".join(differences))
    return checkpoint


def train(config: TrainConfig, run_dir: os.PathLike, resume: bool = False) -> TrainResult:
    """Train (or with ``resume=True`` continue) a run in ``run_dir``; see the module docstring."""
    run_dir = Path(run_dir)
    checkpoint_path = run_dir / CHECKPOINT_NAME
    if resume:
        checkpoint = _check_resume(run_dir, config)
    elif checkpoint_path.exists():
        raise FileExistsError(f"{run_dir} already holds a run; pass --resume {run_dir} to continue "
                              "it or choose another --out folder")
    else:
        checkpoint = None

    device = D.resolve_device(config.device, int(os.environ.get("LOCAL_RANK", 0)))
    info = D.init_distributed(device)
    try:
        return _run(config, run_dir, checkpoint, device, info)
    finally:
        D.shutdown(info)


@dataclass
class _Session:
    """Everything one training process holds."""

    config: TrainConfig
    run_dir: Path
    spec: dict
    model: nn.Module  # the plain model (hooks, checkpoints, evaluation)
    net: nn.Module  # what the training step calls: the model or its DDP wrapper
    optimizer: torch.optim.Optimizer
    scheduler: EpochSchedule
    device: torch.device
    info: D.DistInfo
    history: list[dict[str, Any]]


def _run(config: TrainConfig, run_dir: Path, checkpoint: Optional[dict], device: torch.device,
         info: D.DistInfo) -> TrainResult:
    torch.manual_seed(config.seed)
    train_set, test_set = _datasets(config, info)
    spec = checkpoint["model_spec"] if checkpoint else _build(config, train_set)
    train_set = _limit(train_set, config.train_samples)
    test_set = _limit(test_set, config.test_samples)
    model = build_from_spec(spec).to(device)
    groups = _hook(model, "param_groups")
    optimizer = torch.optim.Adam(groups(config.lr, config.weight_decay) if groups else
                                 model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = EpochSchedule(optimizer, config.scheduler, config.epochs,
                              peak_ratio=(config.max_lr or config.lr) / config.lr)
    history: list[dict[str, Any]] = []
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        if checkpoint["scheduler"] is not None:  # None: a run of an older version without one
            scheduler.load_state_dict(checkpoint["scheduler"])
        set_rng_state(checkpoint["rng"])
        history = list(checkpoint["history"])
    net = model
    if info.enabled:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    session = _Session(config, run_dir, spec, model, net, optimizer, scheduler, device, info,
                       history)
    try:
        _epochs(session, train_set, test_set)
    except TrainingDiverged:
        if info.is_main and history:
            from neuro.train.plots import plot_curves

            plot_curves(history, run_dir / "curves.png")
        raise
    if info.is_main and history:
        _final_plots(session, test_set)
    return TrainResult(model, history, run_dir)


def _epochs(s: _Session, train_set: Dataset, test_set: Dataset) -> None:
    config, info = s.config, s.info
    bar = _progress(config, info)
    test_loader = _loader(test_set, config, info, 0, False, s.device)
    start = len(s.history)
    epochs = bar(range(start, config.epochs), desc="training", unit="epoch", initial=start,
                 total=config.epochs)
    epoch_start = _hook(s.model, "on_epoch_start")
    after_step = _hook(s.model, "after_optimizer_step")
    with SpikeMonitor(s.model) as monitor:
        for epoch in epochs:
            t0 = time.perf_counter()
            loader = _loader(train_set, config, info, epoch, True, s.device)
            row: dict[str, Any] = {"epoch": epoch + 1}
            if epoch_start is not None:
                row.update(epoch_start(epoch, config.epochs) or {})
            row.update(_train_epoch(s.net, loader, s.optimizer, config, info, s.device, monitor,
                                    bar, epoch, after_step))
            D.broadcast_buffers(s.model, info)  # rank 0's BatchNorm statistics everywhere
            row.update(evaluate(s.model, test_loader, config.loss, s.device, info))
            row["lr"] = s.optimizer.param_groups[0]["lr"]
            s.scheduler.step()
            row["epoch_time_s"] = round(time.perf_counter() - t0, 3)
            s.history.append(row)
            if info.is_main:
                _save_epoch(s)
                epochs.write(_summary(row, config.epochs))
            D.barrier(info)


def _summary(row: dict[str, Any], epochs: int) -> str:
    rate = "-" if row["spike_rate"] is None else f"{row['spike_rate']:.2%}"
    return (f"epoch {row['epoch']}/{epochs}  train loss {row['train_loss']:.4f} "
            f"acc {row['train_acc']:.2%}  test loss {row['test_loss']:.4f} acc {row['test_acc']:.2%}"
            f"  spike rate {rate}  {row['epoch_time_s']:.1f} s")


def _save_epoch(s: _Session) -> None:
    save_checkpoint(s.run_dir / CHECKPOINT_NAME, {
        "epoch": len(s.history), "config": s.config.to_dict(), "model_spec": s.spec,
        "model": s.model.state_dict(), "optimizer": s.optimizer.state_dict(),
        "scheduler": s.scheduler.state_dict(),
        "rng": rng_state(), "history": s.history})
    write_metrics(s.run_dir, s.history)


@torch.no_grad()
def _final_plots(s: _Session, test_set: Dataset) -> None:
    from neuro.train.losses import readout_logits
    from neuro.train.plots import plot_curves, plot_raster

    plot_curves(s.history, s.run_dir / "curves.png")
    frames, label = test_set[0]
    s.model.eval()
    with SpikeMonitor(s.model, record=True) as monitor:
        out, _ = s.model(frames.unsqueeze(1).to(s.device))
    pred = int(readout_logits(out, s.config.loss).argmax(1)[0])
    kinds = dict(s.model.named_modules())
    layers = {f"{type(kinds[name]).__name__} {name}": seq[:, 0]
              for name, seq in monitor.recorded.items()}
    plot_raster(frames, layers, out[:, 0], s.run_dir / "raster.png", s.spec["dt"],
                title=f"test sample 0: label {label}, predicted {pred}")
