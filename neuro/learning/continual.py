r"""Continual-learning runner: a task sequence, per-task training, the accuracy matrix, ACC and BWT.

``run_continual(ContinualConfig(...), run_dir)`` trains one LIF MLP on permuted tasks
(:mod:`neuro.learning.tasks`) one after the other with a method:

* ``finetune`` — plain SGD on each new task (the forgetting baseline);
* ``ewc`` — elastic weight consolidation (:mod:`neuro.learning.ewc`);
* ``gpm`` — gradient projection on SVD bases of stored activity (:mod:`neuro.learning.gpm`);
* ``hlop`` — projection on Hebbian lateral subspaces (:mod:`neuro.learning.hlop`).

After task :math:`k` it tests on tasks :math:`0..k`: :math:`A_{k,i}` is the test accuracy on task
:math:`i` after training task :math:`k`. With :math:`N` tasks (GPM's convention):

.. math::

    \mathrm{ACC} = \frac1N \sum_{i<N} A_{N-1,i}, \qquad
    \mathrm{BWT} = \frac{1}{N-1} \sum_{i<N-1} (A_{N-1,i} - A_{i,i}).

``run_dir`` receives ``checkpoint.pt`` after every task (model, method state, matrix, RNG;
atomic, ``torch.load(weights_only=True)``-readable; ``resume=True`` continues after the last
finished task), ``results.json`` and ``accuracy_matrix.png``. Training is BPTT on whole
sequences (``training="bptt"``) or online, step by step with eligibility traces
(``"online"``, :mod:`neuro.learning.online`).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from neuro.learning.tasks import SOURCES, TaskSource, load_source, permutations, permute_positions

METHODS = ("finetune", "ewc", "gpm", "hlop")
TRAINING = ("bptt", "online")


@dataclass
class ContinualConfig:
    """Everything that determines a continual-learning run.

    Tasks: ``source`` (:data:`neuro.learning.tasks.SOURCES`), ``n_tasks``, ``time_steps`` (static
    inputs), ``time_window_us`` (event frames), ``train_samples`` / ``test_samples`` (subsets).
    Network: ``hidden`` sizes of the LIF MLP, ``tau_mem`` (s), ``dt`` (s; default the source's).
    Training: ``method``, ``training`` (``bptt``/``online``), ``epochs`` per task, ``batch_size``,
    ``lr`` and ``momentum`` of SGD, ``seed``.
    HLOP: ``hlop_rows`` — lateral rows added per layer before each task: a list with one entry per
    task (an int for every layer or a per-layer list; the last entry repeats), ``hlop_lr`` (one
    value or per layer), ``hlop_normalize`` (``hlop_lr`` relative to the mean squared trace norm),
    ``hlop_iterations``, ``hlop_momentum``, ``hlop_lateral``, ``trace``
    (``rate``/``filtered``/``spikes``, :mod:`neuro.learning.sites`; also GPM's representation), ``hlop_spike_steps``.
    GPM: ``gpm_threshold`` (one value or per layer), ``gpm_samples`` (samples per task for the
    SVD). EWC: ``ewc_strength``, ``ewc_batches`` (mini-batches for the Fisher).
    Runtime: ``data_root``, ``cache_dir``, ``device``, ``progress``.
    """

    method: str = "hlop"
    source: str = "digits_events"
    n_tasks: int = 10
    seed: int = 0
    training: str = "bptt"
    epochs: int = 3
    batch_size: int = 32
    lr: float = 0.05
    momentum: float = 0.0
    hidden: list = field(default_factory=lambda: [256, 256])
    tau_mem: float = 20e-3
    dt: Optional[float] = None
    time_steps: int = 10
    time_window_us: int = 20_000
    train_samples: Optional[int] = None
    test_samples: Optional[int] = None
    hlop_rows: list = field(default_factory=lambda: [[60, 60, 30], [30, 30, 15]])
    hlop_lr: Any = 1e-2
    hlop_iterations: int = 5
    hlop_momentum: float = 0.9
    hlop_lateral: str = "matrix"
    hlop_normalize: bool = False
    hlop_spike_steps: int = 1000
    trace: str = "rate"
    gpm_threshold: Any = 0.97
    gpm_samples: int = 300
    ewc_strength: float = 1.0  # SGD on the penalty is stable while lr * strength * max Fisher < 2
    ewc_batches: int = 20
    data_root: Optional[str] = None
    cache_dir: Optional[str] = None
    device: str = "cpu"
    progress: bool = True

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {self.source!r}")
        if self.training not in TRAINING:
            raise ValueError(f"training must be one of {TRAINING}, got {self.training!r}")
        for name in ("n_tasks", "epochs", "batch_size", "time_steps"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("ewc_batches", "gpm_samples"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("lr", "tau_mem", "dt"):
            value = getattr(self, name)
            if value is not None and not value > 0:  # dt None: the source's own step
                raise ValueError(f"{name} must be positive, got {value}")
        if not self.hlop_rows:
            raise ValueError("hlop_rows must give the lateral rows of at least the first task")
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"hidden must list positive layer sizes, got {self.hidden}")
        self.hidden = [int(h) for h in self.hidden]

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, stored in checkpoints and results."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ContinualConfig":
        """Rebuild from :meth:`to_dict` output; unknown keys are an error."""
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown continual-learning options {sorted(unknown)}")
        return cls(**data)

    def rows_for_task(self, task: int, n_layers: int) -> list[int]:
        """Lateral rows to add to each of ``n_layers`` layers before ``task`` (the last entry of
        ``hlop_rows`` repeats)."""
        entry = self.hlop_rows[min(task, len(self.hlop_rows) - 1)]
        rows = [int(entry)] * n_layers if isinstance(entry, (int, float)) else [int(r) for r in entry]
        if len(rows) != n_layers:
            raise ValueError(f"hlop_rows entry {entry} has {len(rows)} sizes for {n_layers} layers")
        return rows


# runtime options that may change when a run is resumed
RUNTIME_FIELDS = frozenset({"data_root", "cache_dir", "device", "progress"})


def lif_mlp(input_shape: tuple[int, ...], n_classes: int, hidden: list[int], dt: float,
            tau_mem: float) -> nn.Module:
    r"""``Flatten -> [Linear -> LIF] x len(hidden) -> Linear -> LI`` without biases (HLOP's MLP).

    LIF: :math:`v_t = \beta v_{t-1} + W x_t`, :math:`\beta = e^{-dt/\tau_{mem}}`, threshold 1,
    subtractive reset, ATan surrogate; readout LI membrane with the same :math:`\beta`.
    """
    from neuro.nn import LI, LIF, Sequential

    layers: list[nn.Module] = [nn.Flatten()]
    n_in = int(math.prod(input_shape))
    for size in hidden:
        layers += [nn.Linear(n_in, size, bias=False),
                   LIF(tau_mem=tau_mem, dt=dt, integration="exact")]
        n_in = size
    layers += [nn.Linear(n_in, n_classes, bias=False), LI(tau_mem=tau_mem, dt=dt,
                                                          integration="exact")]
    return Sequential(*layers)


def acc_bwt(matrix: torch.Tensor) -> tuple[float, float]:
    """ACC and BWT (fractions) of a complete ``[N, N]`` accuracy matrix (module docstring)."""
    n = matrix.shape[0]
    final = matrix[n - 1]
    acc = float(final.mean())
    bwt = float((final[: n - 1] - torch.diagonal(matrix)[: n - 1]).mean()) if n > 1 else 0.0
    return acc, bwt


@dataclass
class ContinualResult:
    """A finished (or resumed-to-the-end) task sequence: its accuracy matrix (row ``i`` = accuracy
    on every task after training task ``i``), per-task history and run folder."""

    config: ContinualConfig
    matrix: torch.Tensor  # [N, N], NaN above the diagonal
    history: list[dict[str, Any]]
    run_dir: Optional[Path]

    @property
    def acc(self) -> float:
        """Mean final accuracy over all tasks."""
        return acc_bwt(self.matrix)[0]

    @property
    def bwt(self) -> float:
        """Backward transfer: mean change of each earlier task's accuracy since it was learned."""
        return acc_bwt(self.matrix)[1]

    def summary(self) -> dict[str, Any]:
        return {"method": self.config.method, "source": self.config.source,
                "seed": self.config.seed, "acc": self.acc, "bwt": self.bwt,
                "matrix": [[None if math.isnan(v) else v for v in row]
                           for row in self.matrix.tolist()]}


class _Run:
    """State of one run: data, model, method, accuracy matrix."""

    def __init__(self, config: ContinualConfig, run_dir: Optional[Path]) -> None:
        self.config, self.run_dir = config, run_dir
        self.device = torch.device(config.device)
        c = config
        self.source: TaskSource = load_source(
            c.source, root=c.data_root, time_window_us=c.time_window_us, cache_dir=c.cache_dir,
            train_samples=c.train_samples, test_samples=c.test_samples, seed=c.seed,
            progress=c.progress)
        h, w = self.source.input_shape[-2:]
        self.perms = permutations(c.n_tasks, h * w, c.seed)
        self.dt = c.dt if c.dt is not None else self.source.dt
        self.steps = c.time_steps
        torch.manual_seed(c.seed)
        self.model = lif_mlp(self.source.input_shape, self.source.n_classes, c.hidden, self.dt,
                             c.tau_mem).to(self.device)
        self.decay = math.exp(-self.dt / c.tau_mem)
        self.method = self._make_method()
        self.matrix = torch.full((c.n_tasks, c.n_tasks), float("nan"), dtype=torch.float64)
        self.history: list[dict[str, Any]] = []
        self.tasks_done = 0

    def _make_method(self) -> Optional[nn.Module]:
        c = self.config
        if c.method == "hlop":
            from neuro.learning.hlop import HLOP

            return HLOP(self.model, lr=c.hlop_lr, momentum=c.hlop_momentum,
                        iterations=c.hlop_iterations, lateral=c.hlop_lateral,
                        spike_steps=c.hlop_spike_steps, normalize=c.hlop_normalize,
                        trace=c.trace, trace_decay=self.decay)
        if c.method == "gpm":
            from neuro.learning.gpm import GPM

            return GPM(self.model, threshold=c.gpm_threshold, trace=c.trace,
                       trace_decay=self.decay)
        if c.method == "ewc":
            from neuro.learning.ewc import EWC

            return EWC(self.model, c.ewc_strength)
        return None

    # -- data -----------------------------------------------------------------------------------
    def loader(self, train: bool, task: int, epoch: int = 0) -> DataLoader:
        data = self.source.train if train else self.source.test
        if not train:
            return DataLoader(data, batch_size=256, shuffle=False)
        g = torch.Generator().manual_seed(self.config.seed * 1_000_003 + task * 1009 + epoch)
        return DataLoader(data, batch_size=self.config.batch_size, shuffle=True, generator=g)

    def inputs(self, x: torch.Tensor, task: int) -> torch.Tensor:
        x = permute_positions(x.to(self.device), self.perms[task])
        return self.source.to_sequence(x, self.steps)

    # -- training -------------------------------------------------------------------------------
    def _parameters(self, task: int) -> list[nn.Parameter]:
        if task > 0 and self.config.method in ("hlop", "gpm"):
            return self.method.protected_parameters()  # the paper: only >= 2-D weights later on
        return [p for p in self.model.parameters() if p.requires_grad]

    def _loss(self, out: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = out.mean(0)  # mean LI membrane over time
        loss = F.cross_entropy(logits, labels)
        if self.config.method == "ewc":
            loss = loss + self.method.penalty()
        return loss, logits

    def _bptt_batch(self, seq: torch.Tensor, labels: torch.Tensor):
        out, _ = self.model(seq)
        if self.config.method == "hlop":
            self.method.hebbian_step()
        loss, logits = self._loss(out, labels)
        loss.backward()
        return loss.detach(), logits.detach()

    def _online_batch(self, seq: torch.Tensor, labels: torch.Tensor, traces):
        from neuro.nn import detach_states

        traces.reset()
        state, outs = None, []
        steps = seq.shape[0]
        for t in range(steps):
            out, state = self.model(seq[t: t + 1], state)
            loss_t = F.cross_entropy(out[0], labels) / steps
            if self.config.method == "ewc":
                loss_t = loss_t + self.method.penalty() / steps
            loss_t.backward()
            state = detach_states(state)
            outs.append(out.detach())
        if self.config.method == "hlop":
            self.method.hebbian_step()
        out = torch.cat(outs)
        loss, logits = self._loss(out, labels)
        return loss.detach(), logits

    def train_task(self, task: int, bar) -> None:
        c = self.config
        if c.method == "hlop":
            g = torch.Generator().manual_seed(c.seed * 7919 + task)
            self.method.begin_task(self.config.rows_for_task(task, len(self.method.sites)), g)
        optimizer = torch.optim.SGD(self._parameters(task), lr=c.lr, momentum=c.momentum)
        traces = None
        if c.training == "online":
            from neuro.learning.online import EligibilityTraces

            traces = EligibilityTraces(self.model, self.decay)
        try:
            for epoch in range(c.epochs):
                t0 = time.perf_counter()
                self.model.train()
                totals = torch.zeros(3, dtype=torch.float64)
                batches = bar(self.loader(True, task, epoch), leave=False, unit="batch",
                              desc=f"task {task + 1}/{c.n_tasks} epoch {epoch + 1}/{c.epochs}")
                for x, labels in batches:
                    labels = labels.to(self.device)
                    seq = self.inputs(x, task)
                    optimizer.zero_grad(set_to_none=True)
                    if traces is None:
                        loss, logits = self._bptt_batch(seq, labels)
                    else:
                        loss, logits = self._online_batch(seq, labels, traces)
                    if not bool(torch.isfinite(loss)):
                        raise FloatingPointError(f"the loss became {float(loss)} on task {task}; "
                                                 "lower --lr")
                    optimizer.step()
                    n = len(labels)
                    totals += torch.tensor([float(loss) * n, float((logits.argmax(1) == labels)
                                                                   .sum()), n], dtype=torch.float64)
                    batches.set_postfix(loss=f"{totals[0] / totals[2]:.3f}",
                                        acc=f"{totals[1] / totals[2]:.1%}")
                self.history.append({"task": task, "epoch": epoch + 1,
                                     "train_loss": float(totals[0] / totals[2]),
                                     "train_acc": float(totals[1] / totals[2]),
                                     "time_s": round(time.perf_counter() - t0, 3)})
        finally:
            if traces is not None:
                traces.remove()
        self._consolidate(task)

    def _consolidate(self, task: int) -> None:
        c = self.config
        if c.method == "gpm":
            self.model.eval()
            xs = []
            count = 0
            for x, _ in self.loader(True, task, epoch=10_000):
                xs.append(x)
                count += len(x)
                if count >= c.gpm_samples:
                    break
            x = torch.cat(xs)[: c.gpm_samples]
            batches = [self.inputs(part, task) for part in x.split(c.batch_size)]
            self.method.update(lambda seq: self.model(seq), batches)
        elif c.method == "ewc":
            self.model.eval()  # the Fisher of the trained model (no dropout/BN here anyway)
            loader = self.loader(True, task, epoch=20_000)

            def loss_of(batch):
                x, labels = batch
                out, _ = self.model(self.inputs(x, task))
                return F.cross_entropy(out.mean(0), labels.to(self.device)), len(labels)

            chosen = [b for _, b in zip(range(c.ewc_batches), loader)]
            self.method.consolidate(loss_of, chosen)
            stiffness = c.lr * c.ewc_strength * self.method.max_fisher()
            if stiffness > 2:
                warnings.warn(f"EWC: lr * strength * max Fisher = {stiffness:.3g} > 2 after task "
                              f"{task}; SGD on the penalty will oscillate and may diverge (lower "
                              "--ewc-strength or --lr)", RuntimeWarning, stacklevel=2)

    @torch.no_grad()
    def evaluate(self, task: int) -> float:
        self.model.eval()
        correct = total = 0
        for x, labels in self.loader(False, task):
            out, _ = self.model(self.inputs(x, task))
            correct += int((out.mean(0).argmax(1) == labels.to(self.device)).sum())
            total += len(labels)
        return correct / max(total, 1)

    # -- checkpoints ----------------------------------------------------------------------------
    def save(self) -> None:
        from neuro.train.checkpoint import rng_state, save_checkpoint

        save_checkpoint(self.run_dir / "checkpoint.pt", {
            "kind": "continual", "config": self.config.to_dict(), "tasks_done": self.tasks_done,
            "model": self.model.state_dict(),
            "method": {} if self.method is None else self.method.state_dict(),
            "matrix": self.matrix, "history": self.history, "rng": rng_state()})

    def restore(self, checkpoint: dict[str, Any]) -> None:
        from neuro.train.checkpoint import set_rng_state

        self.model.load_state_dict(checkpoint["model"])
        if self.method is not None:
            self.method.load_state_dict(checkpoint["method"])
        self.matrix = checkpoint["matrix"].to(torch.float64)
        self.history = list(checkpoint["history"])
        self.tasks_done = int(checkpoint["tasks_done"])
        set_rng_state(checkpoint["rng"])


def _check_resume(run_dir: Path, config: ContinualConfig) -> dict[str, Any]:
    from neuro.train.checkpoint import load_checkpoint
    from neuro.train.config import config_diff
    from neuro.train.trainer import ConfigMismatch

    checkpoint = load_checkpoint(run_dir / "checkpoint.pt")
    if checkpoint.get("kind") != "continual":
        raise ValueError(f"{run_dir} holds a checkpoint of another kind of run")
    differences = config_diff(checkpoint["config"], config.to_dict(), RUNTIME_FIELDS,
                              ContinualConfig().to_dict())
    if differences:
        raise ConfigMismatch(f"cannot resume {run_dir}: the configuration differs from the "
                             "checkpoint's:\n  " + "\n  ".join(differences))
    return checkpoint


def run_continual(config: ContinualConfig, run_dir: Optional[Path] = None,
                  resume: bool = False, stop_after: Optional[int] = None) -> ContinualResult:
    """Train ``config.n_tasks`` tasks in sequence and fill the accuracy matrix (module docstring).

    ``stop_after`` ends the run after that many finished tasks (the checkpoint allows resuming).
    """
    from tqdm.auto import tqdm

    run_dir = None if run_dir is None else Path(run_dir)
    checkpoint = None
    if resume:
        if run_dir is None:
            raise ValueError("resume needs the run folder")
        checkpoint = _check_resume(run_dir, config)
    elif run_dir is not None and (run_dir / "checkpoint.pt").exists():
        raise FileExistsError(f"{run_dir} already holds a run; resume it or choose another folder")
    run = _Run(config, run_dir)
    if checkpoint is not None:
        run.restore(checkpoint)
    bar = _progress_bar(tqdm, config.progress)
    tasks = bar(range(run.tasks_done, config.n_tasks), desc=f"{config.method} tasks",
                unit="task", initial=run.tasks_done, total=config.n_tasks)
    for task in tasks:
        if stop_after is not None and run.tasks_done >= stop_after:
            break
        run.train_task(task, bar)
        for seen in range(task + 1):
            run.matrix[task, seen] = run.evaluate(seen)
        run.tasks_done = task + 1
        if run_dir is not None:
            run.save()
        tasks.set_postfix(acc=f"{float(run.matrix[task, : task + 1].mean()):.1%}")
    result = ContinualResult(config, run.matrix, run.history, run_dir)
    if run_dir is not None and run.tasks_done == config.n_tasks:
        _write_outputs(result)
    return result


def _progress_bar(tqdm, enabled: bool):
    def bar(iterable, **kwargs):
        return tqdm(iterable, disable=not enabled, dynamic_ncols=True, **kwargs)
    return bar


def _write_outputs(result: ContinualResult) -> None:
    import json

    from neuro.learning.plots import plot_accuracy_matrix
    from neuro.train.checkpoint import atomic_write

    summary = {**result.summary(), "config": result.config.to_dict(), "history": result.history}
    atomic_write(result.run_dir / "results.json",
                 lambda fh: fh.write(json.dumps(summary, indent=1).encode()))
    plot_accuracy_matrix(result.matrix, result.run_dir / "accuracy_matrix.png",
                         title=f"{result.config.method} on permuted {result.config.source}")
