r"""The training loop: progress bars, per-epoch metrics, atomic checkpoints, exact resume, DDP.

``train(config, run_dir)`` trains ``config.model`` on ``config.dataset`` and writes to ``run_dir``:
``config.json`` at the start, ``checkpoint.pt`` and ``metrics.csv`` / ``metrics.json`` after every
epoch, ``curves.png`` and ``raster.png`` at the end (curves also when a NaN loss stops the run).
``train(config, run_dir, resume=True)`` continues from the checkpoint exactly: model, optimizer,
scheduler and RNG states are restored and each epoch's data order depends only on
``(seed, epoch)``, so an interrupted and resumed run ends with the same weights as an
uninterrupted one. Under ``torchrun`` the model is wrapped in ``DistributedDataParallel``, the
training data is split by ``DistributedSampler`` and only rank 0 logs, plots and checkpoints.

**Interrupts.** SIGINT (Ctrl-C) or SIGTERM stops a run at the next batch boundary with a checkpoint
of that exact position (:mod:`neuro.train.interrupts`): the batch in progress is finished, or, for a
:class:`KeyboardInterrupt` raised inside it, rolled back (random generator states and module buffers
such as BatchNorm statistics as they were before it; parameters are only changed by the optimiser
step, which is never interrupted half-way). The checkpoint's ``position`` records the epoch, the
batches done and the epoch's running totals, so resuming replays the rest of the epoch in the same
order and ends with the same metrics and weights as a run that was never stopped. Under
``torchrun`` the ranks agree on stopping at the same batch (one small all-reduce per batch, shared
with the NaN check). :class:`TrainingInterrupted` (a ``KeyboardInterrupt``) says how to resume.

**Extending a run.** Resuming with a larger ``epochs`` (``neuro train --resume RUN --epochs 5`` on
a 4-epoch run) continues it; the learning-rate schedule is recomputed for the new total from the
epoch the run has reached on: the remaining epochs get the rates of an ``epochs``-long schedule
(cosine: :math:`\eta (1 + \cos(\pi e / E_{new})) / 2` for epoch :math:`e`, so after a finished
cosine run the rate rises from about 0 to that curve's value). The epochs already done keep the
rates they had, so the result differs from a run started with ``epochs`` from the beginning. A
smaller ``epochs`` than the epochs already done is refused.

**Dead networks.** After every epoch :class:`neuro.train.health.HealthCheck` warns
(:class:`~neuro.train.health.DeadNetworkWarning`, once per run and symptom) when a spiking layer
emitted no spike in the whole epoch or the training loss sits at :math:`\ln C` (chance), naming the
layer and the likely cause.

Progress bars are drawn only when stderr is a terminal (:func:`neuro._io.progress_enabled`);
otherwise, as always, one plain line per epoch goes to stdout.

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

import json
import os
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from neuro._io import progress_enabled, write_text
from neuro.datasets import load_dataset, pad_collate
from neuro.train import distributed as D
from neuro.train.checkpoint import (
    CHECKPOINT_NAME,
    TRAIN_KEYS,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    write_metrics,
)
from neuro.train.config import RUNTIME_FIELDS, TrainConfig, config_diff
from neuro.train.health import HealthCheck, LayerActivity
from neuro.train.interrupts import StopRequest, TrainingInterrupted
from neuro.train.losses import READOUT_OF_LOSS, classification_loss
from neuro.train.models import build_from_spec, model_spec
from neuro.train.monitor import SpikeMonitor
from neuro.train.schedules import EpochSchedule

CONFIG_NAME = "config.json"


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
        """Test accuracy of the last epoch in ``history`` (``nan`` without history)."""
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


def _limit(dataset: Dataset, n: int | None) -> Dataset:
    return dataset if n is None or n >= len(dataset) else Subset(dataset, range(n))


def _build(config: TrainConfig, train_set: Dataset) -> dict[str, Any]:
    dt = getattr(train_set, "dt", None) or 1e-3
    options = {"backend": config.backend, **config.model_options}
    return model_spec(config.model, train_set.frame_shape, train_set.n_classes, dt,
                      READOUT_OF_LOSS[config.loss], **options)


def _order_generator(config: TrainConfig, epoch: int, rank: int = 0) -> torch.Generator:
    """The generator of an epoch's order (and of the loader's worker seeds): f(seed, epoch)."""
    return torch.Generator().manual_seed(config.seed * 100_003 + epoch + 7_919 * rank)


def _batches(n: int, config: TrainConfig, info: D.DistInfo, epoch: int) -> list[list[int]]:
    """The training batches (sample indices) of ``epoch``, in order, computed on the indices alone
    so that a resumed epoch can skip the batches already done.

    Single process: the order of ``DataLoader(shuffle=True, generator=f(seed, epoch))`` iterated
    through the progress bar, as the trainer always did (``tqdm.auto``'s wrapper starts one
    iterator when it is built and the loop another, so the generator gives two worker seeds before
    the permutation; the same wrapper is used here, so the order is the same). Under torchrun:
    ``DistributedSampler``'s order for this rank.
    """
    if info.enabled:
        sampler = torch.utils.data.DistributedSampler(range(n), num_replicas=info.world_size,
                                                      rank=info.rank, shuffle=True, seed=config.seed)
        sampler.set_epoch(epoch)
        order = list(sampler)
        return [order[i:i + config.batch_size] for i in range(0, len(order), config.batch_size)]
    from tqdm.auto import tqdm

    indices = DataLoader(range(n), batch_size=config.batch_size, shuffle=True,
                         generator=_order_generator(config, epoch), collate_fn=list)
    return list(tqdm(indices, disable=True))


def _loader(dataset: Dataset, config: TrainConfig, info: D.DistInfo, epoch: int, train: bool,
            device: torch.device, batches: list[list[int]] | None = None) -> DataLoader:
    """Test data in order (this rank's shard); training data as ``batches`` (default: all of
    :func:`_batches` for ``epoch``)."""
    collate = partial(pad_collate, max_len=config.max_len)
    common = dict(collate_fn=collate, num_workers=config.num_workers,
                  pin_memory=device.type == "cuda")
    if not train:
        shard = Subset(dataset, range(info.rank, len(dataset), info.world_size))
        return DataLoader(shard, batch_size=config.batch_size, shuffle=False, **common)
    if batches is None:
        batches = _batches(len(dataset), config, info, epoch)
    # the generator only seeds worker processes (the order is ``batches``); its own, so that
    # building the loader never draws from the global generators (exact mid-epoch resume)
    generator = _order_generator(config, epoch, info.rank)
    return DataLoader(dataset, batch_sampler=batches, generator=generator, **common)


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

    return partial(tqdm, disable=not progress_enabled(config.progress and info.is_main),
                   dynamic_ncols=True)


@dataclass
class _Position:
    """Where a run stands inside an epoch: the batches done and the epoch's running sums."""

    epoch: int
    batches_done: int = 0
    totals: torch.Tensor = field(default_factory=lambda: torch.zeros(3, dtype=torch.float64))
    spikes: float = 0.0  # summed over the monitored layers
    neuron_steps: int = 0
    activity: dict[str, LayerActivity] = field(default_factory=dict)
    row: dict[str, Any] = field(default_factory=dict)  # on_epoch_start's numbers
    n_batches: int = 0  # of the whole epoch (for messages)

    def to_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "batches_done": self.batches_done, "totals": self.totals.clone(),
                "spikes": self.spikes, "neuron_steps": self.neuron_steps, "row": dict(self.row),
                "activity": {k: [a.spikes, a.neuron_steps, a.max_input]
                             for k, a in self.activity.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> _Position:
        activity = {k: LayerActivity(float(v[0]), int(v[1]), float(v[2]))
                    for k, v in data["activity"].items()}
        return cls(int(data["epoch"]), int(data["batches_done"]), data["totals"].to(torch.float64),
                   float(data["spikes"]), int(data["neuron_steps"]), activity, dict(data["row"]))


def _copy(activity: dict[str, LayerActivity]) -> dict[str, LayerActivity]:
    return {k: LayerActivity(a.spikes, a.neuron_steps, a.max_input) for k, a in activity.items()}


class _Stop(Exception):
    """Internal: stop at ``position`` (already rolled back to a batch boundary)."""

    def __init__(self, position: _Position, reason: str) -> None:
        super().__init__(reason)
        self.position, self.reason = position, reason


class _Snapshot:
    """The random generator states and module buffers before a batch, to roll an interrupted batch
    back (parameters change only in the optimiser step, outside the rolled-back part)."""

    def __init__(self, model: nn.Module) -> None:
        self.rng = rng_state()
        self.buffers = {k: b.detach().clone() for k, b in model.named_buffers()}

    def restore(self, model: nn.Module) -> None:
        set_rng_state(self.rng)
        with torch.no_grad():
            for k, b in model.named_buffers():
                b.copy_(self.buffers[k])


def _train_epoch(s: _Session, train_set: Dataset, position: _Position, monitor: SpikeMonitor,
                 bar, after_step, stop: StopRequest) -> dict[str, float]:
    """Train from ``position`` to the end of its epoch (updating ``position`` batch by batch)."""
    model, optimizer, config, info, device = s.net, s.optimizer, s.config, s.info, s.device
    epoch = position.epoch
    model.train()
    monitor.reset()
    monitor.spikes, monitor.neuron_steps = position.spikes, position.neuron_steps
    monitor.activity.update(_copy(position.activity))
    batches_all = _batches(len(train_set), config, info, epoch)
    position.n_batches = len(batches_all)
    loader = _loader(train_set, config, info, epoch, True, device,
                     batches_all[position.batches_done:])
    batches = bar(loader, desc=f"epoch {epoch + 1}/{config.epochs}", leave=False, unit="batch",
                  initial=position.batches_done, total=len(batches_all))
    iterator = iter(batches)
    while True:
        if stop.requested and not info.enabled:  # between batches: nothing to roll back
            raise _Stop(position, stop.signal)
        snapshot = _Snapshot(s.model)
        try:
            try:
                frames, labels, lengths = next(iterator)
            except StopIteration:
                break
            frames, labels = frames.to(device, non_blocking=True), labels.to(device)
            optimizer.zero_grad(set_to_none=True)
            out, _ = model(frames)
            loss, logits = classification_loss(out, labels, config.loss,
                                               _output_lengths(out, frames, lengths))
            # a single process finishes the batch and stops at the loop's top; the ranks of a DDP
            # run must agree here, before the gradient all-reduce of backward()
            finite, go_on = D.agree([bool(torch.isfinite(loss)),
                                     not (stop.requested and info.enabled)], info)
            if not finite:
                raise TrainingDiverged(f"the loss became {loss.item()} at epoch {epoch + 1}, batch "
                                       f"{position.batches_done + 1}; stopped (try a lower --lr "
                                       "or --grad-clip)")
            if not go_on:  # some rank was asked to stop: all stop before this batch
                raise _Stop(position, stop.signal or "a stop request on another rank")
            loss.backward()
        except (KeyboardInterrupt, _Stop) as err:
            snapshot.restore(s.model)
            monitor.spikes, monitor.neuron_steps = position.spikes, position.neuron_steps
            monitor.activity = _copy(position.activity)
            reason = err.reason if isinstance(err, _Stop) else "KeyboardInterrupt"
            raise _Stop(position, reason) from None
        if config.grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        if after_step is not None:
            after_step()
        n = len(labels)
        position.totals += torch.tensor([loss.item() * n, (logits.argmax(1) == labels).sum().item(),
                                         n], dtype=torch.float64)
        position.batches_done += 1
        position.spikes, position.neuron_steps = monitor.spikes, monitor.neuron_steps
        position.activity = _copy(monitor.activity)
        totals = position.totals
        batches.set_postfix(loss=f"{totals[0] / totals[2]:.3f}", acc=f"{totals[1] / totals[2]:.1%}",
                            rate=f"{monitor.rate or 0:.2%}")
    if stop.requested and not info.enabled:
        raise _Stop(position, stop.signal)
    totals = D.all_reduce_sum(position.totals, info)
    rate = D.all_reduce_sum(torch.tensor([position.spikes, float(position.neuron_steps)],
                                         dtype=torch.float64), info)
    count = max(float(totals[2]), 1.0)
    return {"train_loss": float(totals[0] / count), "train_acc": float(totals[1] / count),
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
    checkpoint = load_checkpoint(run_dir / CHECKPOINT_NAME, require=TRAIN_KEYS)
    differences = config_diff(checkpoint["config"], config.to_dict(), RUNTIME_FIELDS | {"epochs"})
    if differences:
        raise ConfigMismatch(f"cannot resume {run_dir}: the configuration differs from the "
                             "checkpoint's:\n  " + "\n  ".join(differences))
    done = len(checkpoint["history"])
    if config.epochs < done:
        raise ConfigMismatch(f"cannot resume {run_dir} with epochs={config.epochs}: it has already "
                             f"trained {done} epochs (give --epochs {done} or more to extend it)")
    return checkpoint


def train(config: TrainConfig, run_dir: os.PathLike, resume: bool = False) -> TrainResult:
    """Train (or with ``resume=True`` continue) a run in ``run_dir``; see the module docstring.

    Raises :class:`TrainingInterrupted` (after writing a resumable checkpoint) on SIGINT/SIGTERM
    or a :class:`KeyboardInterrupt` inside a batch, :class:`TrainingDiverged` on a NaN loss.
    """
    run_dir = Path(run_dir)
    checkpoint_path = run_dir / CHECKPOINT_NAME
    with StopRequest(announce=config.progress) as stop:
        if resume:
            checkpoint = _check_resume(run_dir, config)
        elif checkpoint_path.exists():
            raise FileExistsError(f"{run_dir} already holds a run; pass --resume {run_dir} to "
                                  "continue it or choose another --out folder")
        else:
            checkpoint = None

        device = D.resolve_device(config.device, int(os.environ.get("LOCAL_RANK", 0)))
        info = D.init_distributed(device)
        try:
            if info.is_main:  # the run folder and its configuration exist from the start
                write_text(run_dir / CONFIG_NAME, json.dumps(config.to_dict(), indent=1) + "\n")
            return _run(config, run_dir, checkpoint, device, info, stop)
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
    position: _Position | None = None  # where an interrupted epoch stopped (from a checkpoint)


def _run(config: TrainConfig, run_dir: Path, checkpoint: dict | None, device: torch.device,
         info: D.DistInfo, stop: StopRequest) -> TrainResult:
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
            scheduler.retarget(config.epochs)  # a run extended with more epochs (module docstring)
        set_rng_state(checkpoint["rng"])
        history = list(checkpoint["history"])
    net = model
    if info.enabled:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    session = _Session(config, run_dir, spec, model, net, optimizer, scheduler, device, info,
                       history)
    if checkpoint is not None and checkpoint.get("position") is not None:
        session.position = _Position.from_dict(checkpoint["position"])
    try:
        _epochs(session, train_set, test_set, stop)
    except TrainingDiverged:
        if info.is_main and history:
            from neuro.train.plots import plot_curves

            plot_curves(history, run_dir / "curves.png")
        raise
    if info.is_main and history:
        _final_plots(session, test_set)
    return TrainResult(model, history, run_dir)


def _epochs(s: _Session, train_set: Dataset, test_set: Dataset, stop: StopRequest) -> None:
    config, info = s.config, s.info
    bar = _progress(config, info)
    test_loader = _loader(test_set, config, info, 0, False, s.device)
    start = len(s.history)
    epochs = bar(range(start, config.epochs), desc="training", unit="epoch", initial=start,
                 total=config.epochs)
    epoch_start = _hook(s.model, "on_epoch_start")
    after_step = _hook(s.model, "after_optimizer_step")
    health = HealthCheck(s.model, s.spec.get("n_classes"), where="neuro train")
    with SpikeMonitor(s.model) as monitor:
        for epoch in epochs:
            t0 = time.perf_counter()
            position = s.position if s.position is not None and s.position.epoch == epoch \
                else _Position(epoch)
            s.position = None
            row: dict[str, Any] = {"epoch": epoch + 1}
            if epoch_start is not None:
                position.row = dict(epoch_start(epoch, config.epochs) or {})
            row.update(position.row)
            try:
                row.update(_train_epoch(s, train_set, position, monitor, bar, after_step, stop))
                D.broadcast_buffers(s.model, info)  # rank 0's BatchNorm statistics everywhere
                before_eval = _Snapshot(s.model)
                try:
                    row.update(evaluate(s.model, test_loader, config.loss, s.device, info))
                except KeyboardInterrupt:
                    before_eval.restore(s.model)
                    raise _Stop(position, "KeyboardInterrupt") from None
            except _Stop as stopped:
                _interrupted(s, stopped)
            row["lr"] = s.optimizer.param_groups[0]["lr"]
            s.scheduler.step()
            row["epoch_time_s"] = round(time.perf_counter() - t0, 3)
            s.history.append(row)
            layers = _gather_activity(position.activity, info)
            if info.is_main:
                _save_epoch(s)
                epochs.write(_summary(row, config.epochs))
                sys.stdout.flush()  # one line per epoch, also into a redirected log right away
                health.check(f"epoch {epoch + 1}", layers, row["train_loss"], stacklevel=2)
            D.barrier(info)


def _gather_activity(activity: dict[str, LayerActivity], info: D.DistInfo) -> dict[str, LayerActivity]:
    """Per-layer spikes and neuron-steps summed over the ranks (largest input: this rank's)."""
    names = sorted(activity)
    sums = D.all_reduce_sum(torch.tensor([[activity[n].spikes, float(activity[n].neuron_steps)]
                                          for n in names], dtype=torch.float64).reshape(-1, 2), info)
    return {n: LayerActivity(float(sums[i, 0]), int(sums[i, 1]), activity[n].max_input)
            for i, n in enumerate(names)}


def _interrupted(s: _Session, stopped: _Stop) -> None:
    """Write the checkpoint of ``stopped.position`` (rank 0) and raise TrainingInterrupted."""
    p = stopped.position
    if s.info.is_main:
        _save_epoch(s, position=p)
    D.barrier(s.info)
    raise TrainingInterrupted(s.run_dir, p.epoch, p.batches_done, p.n_batches, stopped.reason) \
        from None


def _summary(row: dict[str, Any], epochs: int) -> str:
    rate = "-" if row["spike_rate"] is None else f"{row['spike_rate']:.2%}"
    return (f"epoch {row['epoch']}/{epochs}  train loss {row['train_loss']:.4f} "
            f"acc {row['train_acc']:.2%}  test loss {row['test_loss']:.4f} acc {row['test_acc']:.2%}"
            f"  spike rate {rate}  {row['epoch_time_s']:.1f} s")


def _save_epoch(s: _Session, position: _Position | None = None) -> None:
    """The checkpoint after an epoch, or (``position``) of an epoch stopped part-way."""
    save_checkpoint(s.run_dir / CHECKPOINT_NAME, {
        "epoch": len(s.history), "config": s.config.to_dict(), "model_spec": s.spec,
        "model": s.model.state_dict(), "optimizer": s.optimizer.state_dict(),
        "scheduler": s.scheduler.state_dict(),
        "rng": rng_state(), "history": s.history,
        "position": None if position is None else position.to_dict()})
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
    plot_raster(frames, layer_names(s.model, monitor.recorded), out[:, 0], s.run_dir / "raster.png",
                s.spec["dt"], title=f"test sample 0: label {label}, predicted {pred}",
                events=_sample_events(s.config, frames, s.spec["dt"]),
                sensor_size=getattr(test_set, "sensor_size", None), predicted=pred)


def layer_names(model: nn.Module, recorded: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``{"spiking layer 1: LIF 8x22x22": spikes [T, ...]}`` from the monitor's module paths."""
    kinds = dict(model.named_modules())
    named = {}
    for k, (path, seq) in enumerate(recorded.items(), start=1):
        shape = "x".join(str(d) for d in seq.shape[2:]) or "1"
        named[f"spiking layer {k}: {type(kinds[path]).__name__} {shape}"] = seq[:, 0]
    return named


def _sample_events(config: TrainConfig, frames: torch.Tensor, dt: float):
    """The events of ``digits_events`` test sample 0 at microsecond resolution (simulated again for
    that one sample), if they bin to exactly the ``frames`` the network saw; else None."""
    if config.dataset != "digits_events":
        return None
    try:
        from sklearn.datasets import load_digits

        from neuro.datasets.digits import split_indices
        from neuro.datasets.events import bin_events
        from neuro.datasets.saccades import SaccadeConfig, simulate_saccades

        ids = split_indices("test")[:1]
        saccades = SaccadeConfig()
        events, sensor = simulate_saccades(load_digits().images[ids] / 16.0, ids, 0, saccades)
        binned = bin_events(events[0], sensor, int(round(dt * 1e6)), saccades.duration_us)
    except (ImportError, ValueError):
        return None
    same = binned.shape == tuple(frames.shape) and bool(
        (torch.as_tensor(binned, dtype=frames.dtype) == frames.cpu()).all())
    return events[0] if same else None
