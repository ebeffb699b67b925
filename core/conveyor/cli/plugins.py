"""``conveyor plugins [--json]``: the installed plugins and what each provides."""

from __future__ import annotations

import argparse
import json

from conveyor.plugins.listing import list_plugins


def _cmd_plugins(args: argparse.Namespace) -> int:
    infos = list_plugins()
    if args.json:
        print(json.dumps([i.to_dict() for i in infos], indent=2))
        return 0
    for info in infos:
        origin = (
            f"{info.distribution} {info.version}" if info.distribution else "(registered directly)"
        )
        print(f"{info.name}  {origin}")
        if info.entry_point:
            print(f"    entry point: {info.entry_point}")
        if info.serializers:
            print(f"    serializers: {', '.join(info.serializers)}")
        if info.storage:
            print(f"    block types: {', '.join(info.storage)}")
        if info.metadata:
            print(f"    metadata URL schemes: {', '.join(info.metadata)}")
        if info.task_runners:
            print(f"    task runners: {', '.join(info.task_runners)}")
        print(f"    hooks: {', '.join(info.hooks) or 'none'}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``conveyor plugins`` to the ``conveyor`` parser."""
    p = sub.add_parser("plugins", help="list installed plugins and what they provide")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=_cmd_plugins)
