"""``neuro inspect FILE.nir``: print a NIR graph (nodes, shapes, parameters, edges); ``--draw PNG``."""

from __future__ import annotations

import argparse
import sys

HELP = "print a NIR graph: nodes, shapes, parameters and edges (optionally draw it)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="a .nir file")
    parser.add_argument("--draw", metavar="PNG", help="also draw the graph to this PNG file")
    parser.add_argument("--strict", action="store_true",
                        help="fail on non-conforming files instead of listing the fix-ups")


def run(args: argparse.Namespace) -> int:
    from neuro.nir._deps import NIRError
    from neuro.nir.inspect import describe, draw

    try:
        text, spec = describe(args.file, strict=args.strict)
    except (NIRError, FileNotFoundError) as err:
        print(f"neuro inspect: {err}", file=sys.stderr)
        return 1
    print(text)
    if args.draw:
        draw(spec, args.draw, title=str(args.file))
        print(f"drawing written to {args.draw}")
    return 0
