"""Pictures of the swimmer: a PNG strip over one oscillation and the joint-angle wave.

The ES-trained circuit of ``runs/swimmer_es/ncap/seed0`` (``--untrained``: the constant-init one)
swims one fixed episode; frames at 6 steps over one oscillation (60 steps = 1.8 s) from step 600
are rendered with MuJoCo offscreen (EGL, else OSMesa) or, where no OpenGL backend works, drawn with
matplotlib from the link poses. The same circuit on 10 links (transfer) gets a strip too.

    python benchmarks/swimmer_picture.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from neuro._io import write_text
from neuro.models.ncap import NCAPPolicy, build_policy
from neuro.models.ncap.analysis import gait
from neuro.models.ncap.es import EVAL_SEED0, load_policy
from neuro.models.ncap.render import draw_strip, plot_joint_traces, record_episode, strip_steps

REPO = Path(__file__).resolve().parents[1]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=REPO / "runs" / "swimmer_es" / "ncap" / "seed0")
    parser.add_argument("--untrained", action="store_true")
    parser.add_argument("--start", type=int, default=600)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "swimmer")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    policy = build_policy("ncap", 6) if args.untrained else load_policy(args.run)
    which = "untrained (constant init)" if args.untrained else "ES-trained"
    info = {"policy": which, "weights": {k: v.item() for k, v in policy.circuit.params.items()}}
    for n_links in (6, 10):
        body = policy if n_links == 6 else NCAPPolicy(policy.circuit.transfer(n_links - 1))
        steps = strip_steps(args.start, 60, 6)
        recording = record_episode(body, seed=EVAL_SEED0, steps=max(steps) + 1)
        used = draw_strip(recording, args.out / f"strip_{n_links}links.png", steps, backend=args.backend,
                          title=f"{which} NCAP, {n_links} links, one oscillation (1.8 s); "
                                f"return {recording.returns[0]:.0f} over {max(steps) + 1} steps")
        lags = plot_joint_traces(recording, args.out / f"traces_{n_links}links.png",
                                 start=args.start - 120, stop=max(steps) + 1)
        info[f"{n_links}_links"] = {"renderer": used, "strip_steps": steps, "lags_steps": lags.tolist(),
                                    "gait": gait(recording.joints[100:, 0])}
        print(f"{n_links} links: strip by {used}; lags {lags.tolist()}")
    write_text(args.out / "picture.json", json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
