"""The ``conveyor`` command: inspect plugins, runs, results and saved blocks.

One module per command group (``plugins``, ``runs``, ``results``, ``blocks``), each with a
``register(subparsers)`` function; ``fields`` parses ``blocks create``'s ``--field value``
arguments and ``output`` holds the shared formatting. This package sits at the top of the
import graph: it may import the public core modules (``conveyor.client``,
``conveyor.blocks``, ``conveyor.filesystems``, ``conveyor.serializers``,
``conveyor.results``, ``conveyor.plugins``, ``conveyor.exceptions``,
``conveyor.settings``), never the engine, and it sends no SQL itself.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from conveyor.cli import blocks, plugins, results, runs
from conveyor.exceptions import ConveyorError

#: Sub-command registrars; other modules add to it (runs, results, blocks).
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []  # type: ignore[type-arg]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="conveyor", description="Inspect conveyor's plugins, runs, results and blocks."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    plugins.register(sub)
    for builtin in (runs.register, results.register, blocks.register):
        if builtin not in COMMANDS:
            COMMANDS.append(builtin)
    for register in COMMANDS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ConveyorError, LookupError, ValueError, TypeError, OSError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"conveyor: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


__all__ = ["COMMANDS", "build_parser", "main"]
