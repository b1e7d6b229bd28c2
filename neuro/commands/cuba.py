"""``neuro cuba``: run the CUBA benchmark network, print its statistics, optionally plot it."""

from __future__ import annotations

import argparse
import time

HELP = "simulate the CUBA network (Brian2's example) and print rate, ISI CV and timing"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, default=4000, help="neurons (80 %% excitatory; default 4000)")
    parser.add_argument("--duration", type=float, default=1.0, help="biological time in seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--float64", action="store_true", help="double precision state and weights")
    parser.add_argument("--backend", default="auto", choices=["auto", "numba", "cuda", "torch"])
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--plot", metavar="DIR", help="write raster.png and rate.png to this folder")


def run(args: argparse.Namespace) -> int:
    import torch

    from neuro.sim.examples import cuba
    from neuro.sim.stats import isi_cv

    c = cuba(n=args.n, p=80.0 / args.n, seed=args.seed, backend=args.backend, device=args.device,
             dtype=torch.float64 if args.float64 else torch.float32)
    c.net.run(c.net.dt, progress=False)  # build and compile outside the timing
    t0 = time.perf_counter()
    c.net.run(args.duration)
    wall = time.perf_counter() - t0
    print(f"CUBA n={args.n}: {args.duration:g} s simulated in {wall:.3f} s ({c.net.backend}); "
          f"{c.spikes.num_spikes} spikes, mean rate {c.rate.mean_rate():.2f} Hz, "
          f"ISI CV {isi_cv(c.spikes.times, c.spikes.indices):.3f}")
    if args.plot:
        from pathlib import Path

        from neuro.sim.plots import raster_plot, rate_plot

        raster_plot(c.spikes, Path(args.plot) / "raster.png", max_neurons=min(args.n, 500))
        rate_plot(c.rate, Path(args.plot) / "rate.png")
        print(f"plots written to {args.plot}/raster.png and rate.png")
    return 0
