"""The ``conveyor`` command: inspect plugins, runs, results and saved blocks.

One module per command group (``plugins``, ``runs``, ``results``, ``blocks``), each with a
``register(subparsers)`` function; ``fields`` parses ``blocks create``'s ``--field value``
arguments and ``output`` holds the shared formatting. This package sits at the top of the
import graph: it may import the public core modules (``conveyor.client``,
``conveyor.blocks``, ``conveyor.filesystems``, ``conveyor.serializers``,
``conveyor.results``, ``conveyor.plugins``, ``conveyor.exceptions``,
``conveyor.settings``, ``conveyor.metadata`` for ``get_store``), never the engine, and it
sends no SQL itself. Read-only commands (:data:`READ_ONLY_COMMANDS`) never create the
metadata database, and say so when there is none.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator, Sequence

from conveyor.cli import blocks, plugins, results, runs, ui
from conveyor.exceptions import ConveyorError
from conveyor.metadata import get_store
from conveyor.settings import get_settings

#: Sub-command registrars; other modules add to it (runs, results, blocks).
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []  # type: ignore[type-arg]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="conveyor", description="Inspect conveyor's plugins, runs, results and blocks."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    plugins.register(sub)
    for builtin in (runs.register, results.register, blocks.register, ui.register):
        if builtin not in COMMANDS:
            COMMANDS.append(builtin)
    for register in COMMANDS:
        register(sub)
    return parser


#: ``(command, sub-command)`` of the commands that only read the metadata database: they
#: never create it, and say so when there is none at ``CONVEYOR_HOME``.
READ_ONLY_COMMANDS = frozenset(
    {("runs", "ls"), ("runs", "show"), ("results", "get"), ("results", "verify"),
     ("results", "ls"), ("results", "show"), ("blocks", "ls")}
)


def _subcommand(args: argparse.Namespace) -> tuple[str, str | None]:
    command = str(args.command)
    return command, getattr(args, f"{command}_command", None)


@contextlib.contextmanager
def _reading_only(args: argparse.Namespace) -> Iterator[list[str]]:
    """For a read-only command: never create the database. Yields a list that holds, when
    there is no database at ``CONVEYOR_HOME``, the note saying so."""
    notes: list[str] = []
    if _subcommand(args) not in READ_ONLY_COMMANDS:
        yield notes
        return
    settings = get_settings()
    store = get_store()
    if not store.exists:
        notes.append(
            f"there is no metadata database at {store.location} "
            f"({'CONVEYOR_DATABASE_URL is set' if settings.database_url else f'CONVEYOR_HOME={settings.home}'}), "
            f"so nothing was recorded there; check "
            f"{'CONVEYOR_DATABASE_URL' if settings.database_url else 'CONVEYOR_HOME'} if you "
            f"expected runs or saved blocks"
        )
    with store.reading_only():
        yield notes


#: The exit status when the reader of the output goes away (a closed pipe): 128 + SIGPIPE,
#: what a shell reports for a command a closed pipe stopped.
EXIT_BROKEN_PIPE = 141


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    notes: list[str] = []
    try:
        with _reading_only(args) as notes:
            code = int(args.func(args) or 0)
            sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``conveyor runs ls --json | head -1``): stop quietly, and
        # point stdout at devnull so the interpreter's last flush fails no more.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except (ConveyorError, LookupError, ValueError, TypeError, OSError, sqlite3.Error) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        extra = "".join(f"; note: {note}" for note in notes)
        print(f"conveyor: error: {message}{extra}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    for note in notes:
        print(f"conveyor: note: {note}", file=sys.stderr)
    return code


__all__ = ["COMMANDS", "EXIT_BROKEN_PIPE", "build_parser", "main"]
