"""``neuro export RUN_DIR|checkpoint.pt --out model.nir``: a trained model as a NIR graph."""

from __future__ import annotations

import argparse
import sys
import warnings

HELP = "export the model of a `neuro train` checkpoint (or run folder) to a NIR file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="run folder of `neuro train` or its checkpoint.pt")
    parser.add_argument("--out", required=True, help="the .nir file to write (atomically)")
    parser.add_argument("--dt", type=float, default=None,
                        help="time step of NIR's Euler discretisation (default: the model's dt)")
    parser.add_argument("--strict", action="store_true",
                        help="refuse neuron semantics NIR cannot express (subtract reset, '>=') "
                             "instead of exporting the nearest node with the exact setup in metadata")


def run(args: argparse.Namespace) -> int:
    from neuro.nir import write_nir
    from neuro.nir._deps import NIRError, require_nir
    from neuro.train import load_model
    from neuro.train.checkpoint import MODEL_KEYS, load_checkpoint

    try:
        require_nir()  # before the work: without the extra, one line saying what to install
        spec = load_checkpoint(args.checkpoint, require=MODEL_KEYS)["model_spec"]
        model = load_model(args.checkpoint)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            graph = write_nir(model, args.out, dt=args.dt if args.dt else spec["dt"],
                              input_shape=spec["input_shape"], strict=args.strict)
    except (NIRError, FileNotFoundError, ValueError, KeyError, ImportError) as err:
        print(f"neuro export: error: {err}", file=sys.stderr)
        return 1
    for w in caught:
        print(f"note: {w.message}", file=sys.stderr)
    print(f"wrote {args.out}: {len(graph.nodes)} nodes, {len(graph.edges)} edges "
          f"(model {spec['name']!r}, dt {args.dt or spec['dt']:g} s)")
    return 0
