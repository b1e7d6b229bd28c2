"""``neuro swimmer train|eval|render``: the NCAP C. elegans swimmer in MuJoCo (extra ``swimmer``)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

HELP = ("NCAP swimmer (dm_control/MuJoCo): train with evolution strategies, evaluate on several body "
        "lengths, render a strip")

# ESConfig field -> (flag, type, help); every default is None (= "not given": stored or default value)
_TRAIN_OPTIONS = (
    ("policy", "--policy", str, "ncap | mlp (the MLP baseline, trained with the same ES)"),
    ("task", "--task", str, "swim | navigate"),
    ("n_links", "--links", int, "number of links (joints = links - 1)"),
    ("generations", "--generations", int, "ES generations (total, also when resuming)"),
    ("population", "--population", int, "perturbations per generation (even: antithetic pairs)"),
    ("sigma", "--sigma", float, "perturbation standard deviation"),
    ("lr", "--lr", float, "Adam learning rate"),
    ("weight_decay", "--weight-decay", float, "Adam L2 weight decay"),
    ("episode_steps", "--episode-steps", int, "control steps per episode (1000 = 30 s)"),
    ("eval_episodes", "--eval-episodes", int, "fixed episodes evaluating the current weights"),
    ("eval_every", "--eval-every", int, "generations between evaluations"),
    ("seed", "--seed", int, "seed of noise, episodes and initialisation"),
    ("workers", "--workers", int, "rollout processes (0: this process)"),
    ("init", "--init", str, "NCAP initialisation: constant | uniform"),
    ("navigation", "--navigation", str, "navigate task: hardcoded | learned turn/speed commands"),
    ("checkpoint_every", "--checkpoint-every", int, "generations between checkpoints"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    train = sub.add_parser("train", help="evolution strategies with checkpoints and --resume")
    for dest, flag, kind, text in _TRAIN_OPTIONS:
        train.add_argument(flag, dest=dest, type=kind, default=None, help=text)
    train.add_argument("--no-sharing", dest="weight_sharing", action="store_false", default=None,
                       help="NCAP: one weight per synapse (30 at 6 links) instead of per role (4)")
    train.add_argument("--no-signs", dest="sign_constraints", action="store_false", default=None,
                       help="NCAP: drop the excitatory/inhibitory sign constraints (ablation)")
    train.add_argument("--hidden", type=int, nargs="+", default=None, help="MLP hidden sizes")
    train.add_argument("--out", type=Path, default=None, help="run folder (new run)")
    train.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR",
                       help="continue the run in RUN_DIR exactly where it stopped")
    train.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")

    evaluate = sub.add_parser("eval", help="returns of a trained run or an untrained policy, per body length")
    evaluate.add_argument("run_dir", type=Path, nargs="?", default=None,
                          help="ES run folder (default: an untrained --policy)")
    evaluate.add_argument("--policy", default="ncap", help="untrained policy: ncap | mlp | zero | random")
    evaluate.add_argument("--links", type=int, nargs="+", default=None,
                          help="body lengths (a shared-weight NCAP run transfers to any)")
    evaluate.add_argument("--episodes", type=int, default=8, help="episodes per body (fixed seeds)")
    evaluate.add_argument("--steps", type=int, default=1000, help="control steps per episode")
    evaluate.add_argument("--workers", type=int, default=2, help="rollout processes (0: this process)")
    evaluate.add_argument("--json", type=Path, default=None, help="write the table as JSON")

    render = sub.add_parser("render", help="PNG strip over one oscillation and joint-angle traces")
    render.add_argument("run_dir", type=Path, nargs="?", default=None,
                        help="ES run folder (default: the untrained constant-init circuit)")
    render.add_argument("--out", type=Path, required=True, help="strip PNG")
    render.add_argument("--traces", type=Path, default=None, help="joint-angle traces PNG")
    render.add_argument("--links", type=int, default=None, help="body length (default: the run's)")
    render.add_argument("--seed", type=int, default=0, help="episode seed (start pose)")
    render.add_argument("--start", type=int, default=600, help="first step of the strip")
    render.add_argument("--frames", type=int, default=6, help="frames over one oscillation")
    render.add_argument("--backend", default="auto", help="auto | egl | osmesa | matplotlib")


def _train(args: argparse.Namespace) -> int:
    from neuro.models.ncap.es import ESConfig, load_run, train_es
    from neuro.models.ncap.render import plot_learning_curve

    names = {f.name for f in fields(ESConfig)}
    given = {k: v for k, v in vars(args).items() if k in names and v is not None}
    if args.resume is not None:
        if args.out is not None and args.out.resolve() != args.resume.resolve():
            raise ValueError("--resume continues RUN_DIR in place; drop --out")
        config = ESConfig.from_dict({**load_run(args.resume)["config"], **given})
        run_dir, resume = args.resume, True
    else:
        if args.out is None:
            raise ValueError("give --out RUN_DIR for a new run (or --resume RUN_DIR)")
        config = ESConfig(**given)
        run_dir, resume = args.out, False
    result = train_es(config, run_dir, resume=resume, progress=args.progress)
    plot_learning_curve(result.history, run_dir / "curve.png",
                        f"ES, {config.policy} on {config.n_links} links (seed {config.seed})")
    print(f"{config.policy}: eval return {result.final_eval:.1f} after {result.history[-1]['episodes']} "
          f"training episodes; run folder {run_dir}")
    return 0


def _policy_and_spec(args: argparse.Namespace, n_links: int | None) -> tuple[Any, dict[str, Any]]:
    from neuro.models.ncap.es import load_flat_, load_run, policy_from_spec
    from neuro.models.ncap.policies import POLICIES

    if args.run_dir is not None:
        data = load_run(args.run_dir)
        spec = data["policy_spec"]
        return load_flat_(policy_from_spec(spec), data["theta"]), spec
    policy = getattr(args, "policy", "ncap")
    if policy not in POLICIES:
        raise ValueError(f"--policy must be one of {POLICIES}, got {policy!r}")
    options = {"seed": 0} if policy in ("mlp", "random") else {}
    spec = {"kind": policy, "n_links": n_links or 6, "task": "swim", "options": options}
    return policy_from_spec(spec), spec


def _eval(args: argparse.Namespace) -> int:
    from neuro.models.ncap.es import EVAL_SEED0, policy_from_spec
    from neuro.models.ncap.policies import NCAPPolicy
    from neuro.models.ncap.transfer import evaluate_policy, transfer_table

    if args.episodes < 1 or args.steps < 1:
        raise ValueError("--episodes and --steps must be >= 1")
    seeds = [EVAL_SEED0 + k for k in range(args.episodes)]
    policy, spec = _policy_and_spec(args, args.links[0] if args.links else None)
    links = args.links or [spec["n_links"]]
    if args.run_dir is not None and isinstance(policy, NCAPPolicy) and links != [spec["n_links"]]:
        rows = transfer_table(policy, links, reference=spec["n_links"], seeds=seeds, steps=args.steps,
                              workers=args.workers)
        print(f"{'links':>5} {'trained':>9} {'untrained':>9} {'ratio to ' + str(spec['n_links']):>11} "
              f"{'vs untrained':>12}")
        for r in rows:
            print(f"{r['n_links']:>5} {r['trained_mean']:>9.1f} {r['untrained_mean']:>9.1f} "
                  f"{r['ratio_to_reference']:>11.3f} {r['ratio_to_untrained']:>12.3f}")
    else:
        rows = []
        for n in links:
            if n != spec["n_links"]:
                if args.run_dir is not None:
                    raise ValueError(f"this run's policy drives {spec['n_links']} links; only a "
                                     "weight-shared NCAP run transfers to other lengths")
                spec = {**spec, "n_links": n}
                policy = policy_from_spec(spec)
            returns = evaluate_policy(policy, spec, seeds, args.steps, args.workers)
            rows.append({"n_links": n, "mean": float(returns.mean()), "std": float(returns.std()),
                         "returns": [float(v) for v in returns]})
            print(f"{n} links: return {returns.mean():.1f} +- {returns.std():.1f} over {len(seeds)} episodes")
    if args.json is not None:
        from neuro._io import write_text

        write_text(args.json, json.dumps({"spec": spec, "steps": args.steps, "rows": rows}, indent=1))
    return 0


def _render(args: argparse.Namespace) -> int:
    from neuro.models.ncap.analysis import gait
    from neuro.models.ncap.policies import NCAPPolicy
    from neuro.models.ncap.render import draw_strip, plot_joint_traces, record_episode, strip_steps

    policy, spec = _policy_and_spec(args, args.links)
    n_links = args.links or spec["n_links"]
    if n_links != spec["n_links"]:
        if not isinstance(policy, NCAPPolicy):
            raise ValueError("only an NCAP policy runs on another body length")
        policy = NCAPPolicy(policy.circuit.transfer(n_links - 1))
    period = policy.circuit.oscillator_period if isinstance(policy, NCAPPolicy) else 60
    steps = strip_steps(args.start, period, args.frames)
    recording = record_episode(policy, args.seed, max(steps) + 1, n_links)
    used = draw_strip(recording, args.out, steps, backend=args.backend)
    message = f"strip ({used}) -> {args.out}"
    if args.traces is not None:
        lags = plot_joint_traces(recording, args.traces, start=max(0, args.start - 2 * period))
        message += f"; traces -> {args.traces} (lags {lags.tolist()} steps)"
    period = gait(recording.joints[:, 0])["head_period"]
    print(message + (f"; head period {period:.0f} steps" if period == period else ""))  # NaN: too short
    return 0


def run(args: argparse.Namespace) -> int:
    from neuro.models.ncap.es import ConfigMismatch

    actions = {"train": _train, "eval": _eval, "render": _render}
    if args.action not in actions:
        print("neuro swimmer: give an action: train | eval | render (see neuro swimmer --help)",
              file=sys.stderr)
        return 2
    try:
        return actions[args.action](args)
    except ConfigMismatch as err:
        print(f"neuro swimmer: ConfigMismatch: {err}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError, FileExistsError, ImportError) as err:
        print(f"neuro swimmer: error: {err}", file=sys.stderr)
        return 2
