"""The ``neuro`` command line: ``neuro info`` and the subcommands listed by ``neuro --help``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import MappingProxyType

# subcommand -> module defining ``add_arguments(parser)`` and ``run(args) -> int`` (imported lazily)
SUBCOMMANDS = MappingProxyType({
    "info": "neuro.commands.info",
    "train": "neuro.commands.train",
    "demo": "neuro.commands.demo",
    "inspect": "neuro.commands.inspect",
    "export": "neuro.commands.export",
    "cuba": "neuro.commands.cuba",
    "continual": "neuro.commands.continual",
    "homeostatic": "neuro.commands.homeostatic",
    "swimmer": "neuro.commands.swimmer",
})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neuro", description="Spiking and neuromorphic computing.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        module.add_arguments(sub.add_parser(name, help=module.HELP, description=module.HELP))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    module = importlib.import_module(SUBCOMMANDS[args.command])
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
