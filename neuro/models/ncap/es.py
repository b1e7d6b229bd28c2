r"""Evolution strategies for swimmer policies (OpenAI-ES as in the NCAP paper's ES experiments).

Each generation ``g`` draws ``P/2`` directions :math:`\epsilon_i \sim N(0, I)` and evaluates the
antithetic population :math:`\theta \pm \sigma\epsilon_i` for one episode each (the two members of a
pair start from the same random pose: common random numbers). Returns are replaced by centred ranks
:math:`u_k \in [-1/2, 1/2]` and the search gradient

.. math:: \hat g = \frac{1}{P\sigma} \sum_{i} (u_i^{+} - u_i^{-})\, \epsilon_i

is ascended with Adam (learning rate 0.01, L2 weight decay 0.005 added to :math:`-\hat g`, as
``torch.optim.Adam(weight_decay=...)``). Defaults: ``P = 8``, :math:`\sigma = 0.02` (the spec).

Randomness comes only from ``(seed, g)`` (noise and episode seeds), so a run resumed from a
checkpoint continues exactly, and the number of worker processes never changes the result. Every
``eval_every`` generations (and at generation 0 and at the end) the current :math:`\theta` is
evaluated on ``eval_episodes`` fixed episodes (the same start poses for every run and seed, so runs
compare pairwise); those episodes do not count as training episodes.

Rollouts run on ``workers`` processes (forked on Linux; each steps its share of the population as one batch
of environments with one torch thread), or in this process for ``workers=0``.
"""

from __future__ import annotations

import csv
import io
import math
import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from neuro._io import atomic_write, write_text
from neuro.models.ncap.policies import build_policy

FORMAT = "neuro-swimmer-es"
VERSION = 1
CHECKPOINT = "checkpoint.pt"
EVAL_SEED0 = 1_000_000  # evaluation episodes use seeds EVAL_SEED0 + k (never drawn for training)
# fields that may differ when a run is resumed (they do not change the trajectory)
RESUMABLE = frozenset({"generations", "workers", "checkpoint_every"})


class ConfigMismatch(ValueError):
    """A resumed run was given options that differ from the stored ones."""


@dataclass
class ESConfig:
    """Evolution-strategies run. ``policy`` is ``"ncap"`` or ``"mlp"``; the NCAP fields
    (``weight_sharing``, ``sign_constraints``, ``init``) and the MLP ``hidden`` sizes select the
    actor; ``navigation`` (``"hardcoded"`` / ``"learned"``) applies to ``task="navigate"``."""

    policy: str = "ncap"
    task: str = "swim"
    n_links: int = 6
    generations: int = 50
    population: int = 8
    sigma: float = 0.02
    lr: float = 0.01
    weight_decay: float = 0.005
    episode_steps: int = 1000
    eval_episodes: int = 4
    eval_every: int = 5
    seed: int = 0
    workers: int = 2
    weight_sharing: bool = True
    sign_constraints: bool = True
    init: str = "constant"
    hidden: list[int] = field(default_factory=lambda: [256, 256])
    navigation: str | None = None
    checkpoint_every: int = 5

    def __post_init__(self) -> None:
        if self.policy not in ("ncap", "mlp"):
            raise ValueError(f"policy must be 'ncap' or 'mlp', got {self.policy!r}")
        if self.task not in ("swim", "navigate"):
            raise ValueError(f"task must be 'swim' or 'navigate', got {self.task!r}")
        positive = ("n_links", "generations", "population", "episode_steps", "eval_every",
                    "checkpoint_every")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or value < (3 if name == "n_links" else 1):
                raise ValueError(f"{name} must be an int >= {3 if name == 'n_links' else 1}, got {value!r}")
        if self.population % 2:
            raise ValueError(f"population must be even (antithetic pairs), got {self.population}")
        for name in ("eval_episodes", "workers"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(f"{name} must be an int >= 0, got {getattr(self, name)!r}")
        for name in ("sigma", "lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.init not in ("constant", "uniform"):
            raise ValueError(f"init must be 'constant' or 'uniform', got {self.init!r}")
        self.hidden = [int(h) for h in self.hidden]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ESConfig:
        """Build a configuration from a dict of options (missing ones take their defaults); raises
        ``ValueError`` naming any unknown option.
        """
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown ES option(s): {sorted(unknown)}")
        return cls(**data)

    def policy_spec(self) -> dict[str, Any]:
        """Arguments of :func:`~neuro.models.ncap.policies.build_policy` for this run."""
        if self.policy == "ncap":
            options = {"weight_sharing": self.weight_sharing, "sign_constraints": self.sign_constraints,
                       "init": self.init, "seed": self.seed}
            if self.task == "navigate":
                options["navigation"] = self.navigation
        else:
            options = {"hidden": list(self.hidden), "episode_steps": self.episode_steps, "seed": self.seed}
        return {"kind": self.policy, "n_links": self.n_links, "task": self.task, "options": options}


def policy_from_spec(spec: dict[str, Any]) -> nn.Module:
    return build_policy(spec["kind"], spec["n_links"], spec["task"], **dict(spec["options"]))


def flat_parameters(policy: nn.Module) -> torch.Tensor:
    """All parameters as one vector (``named_parameters`` order)."""
    parts = [p.detach().reshape(-1) for p in policy.parameters()]
    return torch.cat(parts) if parts else torch.zeros(0)


def load_flat_(policy: nn.Module, theta: torch.Tensor) -> nn.Module:
    """Copy the vector ``theta`` into the parameters of ``policy`` (in place)."""
    params = list(policy.parameters())
    if theta.numel() != sum(p.numel() for p in params):
        raise ValueError(f"theta has {theta.numel()} values, the policy {sum(p.numel() for p in params)} "
                         "parameters")
    if params:
        torch.nn.utils.vector_to_parameters(theta.to(torch.get_default_dtype()), params)
    return policy


def population_params(policy: nn.Module, thetas: torch.Tensor) -> dict[str, torch.Tensor]:
    """``thetas [P, n]`` as a parameter dict with a leading axis ``P`` (for ``act(..., params=)``)."""
    out, offset = {}, 0
    for name, p in policy.named_parameters():
        out[name] = thetas[:, offset:offset + p.numel()].reshape(thetas.shape[0], *p.shape)
        offset += p.numel()
    if offset != thetas.shape[1]:
        raise ValueError(f"thetas has {thetas.shape[1]} columns, the policy {offset} parameters")
    return out


def centered_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks scaled to [-1/2, 1/2], the fitness shaping of OpenAI-ES. Tied values share their mean
    rank, so a population whose returns are all equal (no signal, e.g. every member scores 0) gives a
    zero search gradient rather than one set by the members' order."""
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        return np.zeros_like(values)
    order = np.argsort(values, kind="stable")
    ranks = np.empty(values.size)
    ranks[order] = np.arange(values.size)
    for value in np.unique(values):
        tied = values == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    return ranks / (values.size - 1) - 0.5


def es_gradient(returns: np.ndarray, eps: torch.Tensor, sigma: float) -> torch.Tensor:
    r"""Search gradient :math:`\frac{1}{P\sigma}\sum_i (u^+_i - u^-_i)\epsilon_i` from the returns of
    ``[theta + sigma eps_i for i] + [theta - sigma eps_i for i]`` (``P = 2 len(eps)``), centred ranks."""
    pairs = eps.shape[0]
    if len(returns) != 2 * pairs:
        raise ValueError(f"expected {2 * pairs} returns (+ then - members), got {len(returns)}")
    u = torch.from_numpy(centered_ranks(returns)).to(eps.dtype)
    return ((u[:pairs] - u[pairs:]) @ eps) / (2 * pairs * sigma)


def generation_noise(seed: int, generation: int, pairs: int, n: int) -> torch.Tensor:
    """Directions ``[pairs, n]`` of generation ``generation`` (a pure function of its arguments)."""
    state = np.random.SeedSequence([seed, generation, 0]).generate_state(2, np.uint32)
    g = torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))
    return torch.randn(pairs, n, generator=g)


def generation_seeds(seed: int, generation: int, pairs: int) -> list[int]:
    """Episode seeds of the ``pairs`` antithetic pairs (both members of a pair share one)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, generation, 1]))
    return [int(s) for s in rng.integers(0, EVAL_SEED0, size=pairs)]


# -- worker side ---------------------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}  # state of a pool worker process: its policy and environments


def _worker_state(spec: dict[str, Any]) -> dict[str, Any]:
    return {"policy": policy_from_spec(spec), "batch": None}


def _init_worker(spec: dict[str, Any]) -> None:
    """Pool initializer: one torch thread (the processes are the parallelism), policy built once."""
    torch.set_num_threads(1)
    _WORKER.clear()
    _WORKER.update(_worker_state(spec))


def _evaluate_chunk(state: dict[str, Any], thetas: np.ndarray, seeds: Sequence[int],
                    steps: int) -> np.ndarray:
    from neuro.models.ncap.env import SwimmerBatch, rollout

    policy = state["policy"]
    if state["batch"] is None:  # environments are built once and reused (grown when needed)
        state["batch"] = SwimmerBatch(len(seeds), getattr(policy, "task", "swim"), policy.n_joints + 1)
    params = population_params(policy, torch.from_numpy(thetas).to(torch.get_default_dtype()))
    return rollout(policy, seeds, steps, params=params, batch=state["batch"].take(len(seeds))).returns


def _pool_evaluate(thetas: np.ndarray, seeds: Sequence[int], steps: int) -> np.ndarray:
    return _evaluate_chunk(_WORKER, thetas, seeds, steps)


class Evaluator:
    """Evaluates rows of parameters, one episode each, on ``workers`` processes (0: in this one)."""

    def __init__(self, spec: dict[str, Any], workers: int) -> None:
        self.workers = workers
        self._pool = None
        self._local = None
        if workers > 0:
            # fork where the platform has it (like torch's DataLoader workers): no main-module guard
            # needed in user scripts and notebooks, and the children start in milliseconds; they only
            # step MuJoCo and run small single-threaded torch ops. Elsewhere spawn (scripts then need
            # the usual `if __name__ == "__main__":` guard).
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            self._pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                                             initargs=(spec,))
        else:
            self._local = _worker_state(spec)

    def __call__(self, thetas: torch.Tensor, seeds: Sequence[int], steps: int) -> np.ndarray:
        thetas_np = thetas.detach().cpu().numpy()
        seeds = [int(s) for s in seeds]
        if self._pool is None:
            return _evaluate_chunk(self._local, thetas_np, seeds, steps)
        chunks = np.array_split(np.arange(len(seeds)), min(self.workers, len(seeds)))
        futures = [self._pool.submit(_pool_evaluate, thetas_np[idx], [seeds[i] for i in idx], steps)
                   for idx in chunks if len(idx)]
        return np.concatenate([f.result() for f in futures])

    def close(self) -> None:
        """Shut the worker process pool down, if one was started (idempotent)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# -- driver --------------------------------------------------------------------------------------------

@dataclass
class ESResult:
    theta: torch.Tensor
    history: list[dict[str, Any]]
    policy: nn.Module

    @property
    def final_eval(self) -> float:
        """Mean return of the last evaluation in ``history`` (``nan`` if no generation was evaluated)."""
        evaluated = [h["eval_mean"] for h in self.history if not math.isnan(h["eval_mean"])]
        return evaluated[-1] if evaluated else math.nan


def _save(run_dir: Path, config: ESConfig, generation: int, theta: torch.Tensor,
          optimizer: torch.optim.Optimizer, history: list[dict[str, Any]]) -> None:
    data = {"format": FORMAT, "version": VERSION, "config": asdict(config),
            "policy_spec": config.policy_spec(), "generation": generation, "theta": theta.detach().clone(),
            "optimizer": optimizer.state_dict(), "history": history}
    atomic_write(run_dir / CHECKPOINT, lambda fh: torch.save(data, fh))
    _write_metrics(run_dir, history)


def _write_metrics(run_dir: Path, history: list[dict[str, Any]]) -> None:
    columns = ["generation", "episodes", "env_steps", "pop_mean", "pop_max", "pop_min", "eval_mean",
               "eval_std", "seconds"]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in history:
        writer.writerow([row[c] for c in columns])
    write_text(run_dir / "metrics.csv", buffer.getvalue())


def load_run(run_dir: str | Path) -> dict[str, Any]:
    """The checkpoint of an ES run folder (``torch.load(..., weights_only=True)``), checked."""
    path = Path(run_dir)
    path = path / CHECKPOINT if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"no swimmer ES checkpoint at {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for truncated or foreign files
        raise ValueError(f"{path} is not a readable checkpoint (truncated or corrupt?): {err}") from err
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path} is not a swimmer ES checkpoint (no format tag {FORMAT!r})")
    if data.get("version") != VERSION:
        raise ValueError(f"{path} has version {data.get('version')}, expected {VERSION}")
    return data


def load_policy(run_dir: str | Path) -> nn.Module:
    """The trained policy of an ES run folder (or checkpoint file)."""
    data = load_run(run_dir)
    return load_flat_(policy_from_spec(data["policy_spec"]), data["theta"])


def train_es(config: ESConfig, run_dir: str | Path | None = None, resume: bool = False,
             progress: bool = True) -> ESResult:
    """Run (or, with ``resume``, continue) evolution strategies; see the module docstring.

    ``run_dir`` receives ``checkpoint.pt`` (every ``checkpoint_every`` generations and at the end)
    and ``metrics.csv``; ``None`` keeps everything in memory. A new run refuses a folder that
    already holds a checkpoint.
    """
    from tqdm.auto import tqdm

    run_dir = Path(run_dir) if run_dir is not None else None
    spec = config.policy_spec()
    policy = policy_from_spec(spec)
    theta = flat_parameters(policy).clone().requires_grad_(True)
    optimizer = torch.optim.Adam([theta], lr=config.lr, weight_decay=config.weight_decay)
    history: list[dict[str, Any]] = []
    start = 0
    if resume:
        if run_dir is None:
            raise ValueError("resume needs run_dir")
        data = load_run(run_dir)
        stored = {k: v for k, v in data["config"].items() if k not in RESUMABLE}
        given = {k: v for k, v in asdict(config).items() if k not in RESUMABLE}
        diff = {k: (stored.get(k), given[k]) for k in given if stored.get(k) != given[k]}
        if diff:
            raise ConfigMismatch("the run in " + str(run_dir) + " was made with other options: " +
                                 ", ".join(f"{k}: stored {a!r}, given {b!r}" for k, (a, b) in diff.items()))
        with torch.no_grad():
            theta.copy_(data["theta"])
        optimizer.load_state_dict(data["optimizer"])
        history, start = list(data["history"]), int(data["generation"])
    elif run_dir is not None and (run_dir / CHECKPOINT).exists():
        raise FileExistsError(f"{run_dir} already holds a run; resume it or choose another folder")

    pairs, n = config.population // 2, theta.numel()
    eval_seeds = [EVAL_SEED0 + k for k in range(config.eval_episodes)]
    clock = time.perf_counter() - (history[-1]["seconds"] if history else 0.0)
    with Evaluator(spec, config.workers) as evaluate:
        def record(generation: int, pop: np.ndarray | None, evals: np.ndarray | None) -> None:
            row = {"generation": generation, "episodes": generation * config.population,
                   "env_steps": generation * config.population * config.episode_steps,
                   "pop_mean": float(pop.mean()) if pop is not None else math.nan,
                   "pop_max": float(pop.max()) if pop is not None else math.nan,
                   "pop_min": float(pop.min()) if pop is not None else math.nan,
                   "eval_mean": float(evals.mean()) if evals is not None and evals.size else math.nan,
                   "eval_std": float(evals.std()) if evals is not None and evals.size else math.nan,
                   "seconds": time.perf_counter() - clock}
            if n <= 64:
                row["theta"] = [float(v) for v in theta.detach()]
            history.append(row)

        if start == 0 and not history:
            evals = evaluate(theta.detach().expand(len(eval_seeds), n), eval_seeds, config.episode_steps) \
                if eval_seeds else None
            record(0, None, evals)
        bar = tqdm(range(start, config.generations), desc=f"ES {config.policy}", disable=not progress,
                   initial=start, total=config.generations)
        for g in bar:
            eps = generation_noise(config.seed, g, pairs, n)
            pair_seeds = generation_seeds(config.seed, g, pairs)
            center = theta.detach()
            members = torch.cat((center + config.sigma * eps, center - config.sigma * eps))
            seeds = pair_seeds + pair_seeds
            last = g + 1 == config.generations
            do_eval = bool(eval_seeds) and ((g + 1) % config.eval_every == 0 or last)
            rows = torch.cat((members, center.expand(len(eval_seeds), n))) if do_eval else members
            returns = evaluate(rows, seeds + (eval_seeds if do_eval else []), config.episode_steps)
            pop = returns[:config.population]
            grad = es_gradient(pop, eps, config.sigma)
            optimizer.zero_grad()
            theta.grad = -grad  # Adam minimises; weight decay adds weight_decay * theta
            optimizer.step()
            record(g + 1, pop, returns[config.population:] if do_eval else None)
            bar.set_postfix(pop=f"{pop.mean():.0f}", eval=f"{history[-1]['eval_mean']:.0f}")
            if run_dir is not None and ((g + 1) % config.checkpoint_every == 0 or last):
                _save(run_dir, config, g + 1, theta, optimizer, history)
        bar.close()
    if run_dir is not None and start >= config.generations:  # nothing left to do: keep files current
        _save(run_dir, config, start, theta, optimizer, history)
    load_flat_(policy, theta.detach())
    return ESResult(theta.detach().clone(), history, policy)


__all__ = ["CHECKPOINT", "EVAL_SEED0", "ConfigMismatch", "ESConfig", "ESResult", "Evaluator",
           "centered_ranks", "es_gradient", "flat_parameters", "generation_noise", "generation_seeds",
           "load_flat_", "load_policy", "load_run", "policy_from_spec", "population_params", "train_es"]
