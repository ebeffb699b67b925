"""The ``conveyor`` command."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from conveyor.exceptions import ConveyorError


def _cmd_plugins(args: argparse.Namespace) -> int:
    from conveyor.plugins import list_plugins

    infos = list_plugins()
    if args.json:
        print(json.dumps([i.to_dict() for i in infos], indent=2))
        return 0
    for info in infos:
        origin = f"{info.distribution} {info.version}" if info.distribution else "(registered directly)"
        print(f"{info.name}  {origin}")
        if info.entry_point:
            print(f"    entry point: {info.entry_point}")
        if info.serializers:
            print(f"    serializers: {', '.join(info.serializers)}")
        if info.storage:
            print(f"    block types: {', '.join(info.storage)}")
        print(f"    hooks: {', '.join(info.hooks) or 'none'}")
    return 0


#: Sub-command registrars; other modules add to it (runs, results, blocks).
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []  # type: ignore[type-arg]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="conveyor", description="Inspect conveyor's plugins, runs, results and blocks."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    p = sub.add_parser("plugins", help="list installed plugins and what they provide")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=_cmd_plugins)
    from conveyor.cli_blocks import register as register_blocks
    from conveyor.cli_runs import register as register_runs

    for builtin in (register_runs, register_blocks):
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
