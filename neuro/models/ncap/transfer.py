"""Transfer to other bodies: a weight-shared circuit trained on one length, run unmodified on others.

With weight sharing the circuit has one weight per synapse role, independent of the number of
joints, so :meth:`SwimmerCircuit.transfer` builds the same circuit for any body. :func:`transfer_table`
evaluates the trained circuit and the untrained constant-init circuit on the same episodes (same
start poses) for each body length, and reports each trained return also as a ratio to the trained
return on the reference body and to the untrained return on the same body.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from neuro.models.ncap.env import SwimmerBatch, rollout
from neuro.models.ncap.es import Evaluator, flat_parameters
from neuro.models.ncap.policies import NCAPPolicy, build_policy


def _mean_ci(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95 % t-interval half-width (normal 1.96 when scipy is missing; 0 for one value)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        return float(values.mean()), 0.0, 0.0
    sem = values.std(ddof=1) / np.sqrt(values.size)
    try:
        from scipy import stats

        t = float(stats.t.ppf(0.975, values.size - 1))
    except ImportError:
        t = 1.96
    return float(values.mean()), float(values.std(ddof=1)), t * sem


def evaluate_policy(policy: torch.nn.Module, spec: dict[str, Any], seeds: Sequence[int], steps: int,
                    workers: int = 0, batch: SwimmerBatch | None = None) -> np.ndarray:
    """Returns of ``policy`` (built by ``build_policy(**spec)``) on one episode per seed: on
    ``workers`` processes, or in this process (``workers=0``, reusing ``batch`` when given)."""
    if workers == 0:
        return rollout(policy, list(seeds), steps, n_links=spec["n_links"], task=spec.get("task", "swim"),
                       batch=batch.take(len(seeds)) if batch is not None else None).returns
    theta = flat_parameters(policy)
    build = {"kind": spec["kind"], "n_links": spec["n_links"], "task": spec.get("task", "swim"),
             "options": spec.get("options", {})}
    with Evaluator(build, workers) as evaluate:
        return evaluate(theta.expand(len(seeds), theta.numel()), list(seeds), steps)


def transfer_table(policy: NCAPPolicy | Sequence[NCAPPolicy], links: Sequence[int] = tuple(range(4, 11)),
                   reference: int = 6, seeds: Sequence[int] = tuple(range(1_000_000, 1_000_008)),
                   steps: int = 1000, workers: int = 0) -> list[dict[str, Any]]:
    """One row per body length: trained and untrained (constant init) returns on the same episodes.

    ``policy`` may be several trained circuits (e.g. one per training seed): each runs every episode,
    and the trained statistics pool them. Row fields: ``n_links``, ``trained_mean``/``trained_std``,
    ``trained_per_policy`` (mean per policy), ``untrained_mean``/``untrained_std``, ``diff_mean`` and
    ``diff_ci95`` (trained - untrained on the same episode, averaged over the policies; 95 %
    t-interval over episodes), ``ratio_to_reference`` (trained mean / trained mean at ``reference``
    links), ``ratio_to_untrained``, plus the per-episode returns.
    """
    policies = [policy] if isinstance(policy, NCAPPolicy) else list(policy)
    if not policies or not all(isinstance(p, NCAPPolicy) and p.circuit.weight_sharing for p in policies):
        raise ValueError("transfer needs NCAPPolicy objects with weight-shared circuits")
    links = sorted({*links, reference})
    config = policies[0].circuit.config()
    options = {k: config[k] for k in ("oscillator_period", "weight_sharing", "proprioception",
                                       "head_oscillator")}
    rows = []
    for n_links in links:
        batch = SwimmerBatch(len(seeds), "swim", n_links) if workers == 0 else None
        trained = []
        for p in policies:
            body = NCAPPolicy(p.circuit.transfer(n_links - 1), task="swim")
            spec = {"kind": "ncap", "n_links": n_links, "options": {**options, **{
                k: p.circuit.config()[k] for k in ("sign_constraints", "init", "seed")}}}
            trained.append(evaluate_policy(body, spec, seeds, steps, workers, batch))
        trained = np.stack(trained)  # [policies, episodes]
        base = {**options, "init": "constant", "sign_constraints": True}
        untrained = evaluate_policy(build_policy("ncap", n_links, "swim", **base),
                                    {"kind": "ncap", "n_links": n_links, "options": base}, seeds, steps,
                                    workers, batch)
        t_mean, t_std, _ = _mean_ci(trained.ravel())
        u_mean, u_std, _ = _mean_ci(untrained)
        d_mean, _, d_ci = _mean_ci(trained.mean(0) - untrained)
        rows.append({"n_links": n_links, "trained_mean": t_mean, "trained_std": t_std,
                     "trained_per_policy": [float(v) for v in trained.mean(1)],
                     "untrained_mean": u_mean, "untrained_std": u_std, "diff_mean": d_mean,
                     "diff_ci95": d_ci, "ratio_to_untrained": t_mean / u_mean if u_mean else float("nan"),
                     "trained": trained.tolist(), "untrained": [float(v) for v in untrained]})
    ref = next(r["trained_mean"] for r in rows if r["n_links"] == reference)
    for row in rows:
        row["ratio_to_reference"] = row["trained_mean"] / ref if ref else float("nan")
    return rows


__all__ = ["evaluate_policy", "transfer_table"]
