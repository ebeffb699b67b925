"""``conveyor blocks ls|create|rm``: saved storage blocks from the command line.

A block's fields are its attrs fields, so ``create`` learns them from the block class
of the given type (any installed plugin's type works) and parses each ``--field value``
against the field's annotation. Secret fields are never printed: ``ls`` shows the
public configuration, with secrets masked.
"""

from __future__ import annotations

import argparse
import json
import sys
import types
import typing
from collections.abc import Sequence
from typing import Any

import attrs

from conveyor.exceptions import BlockExistsError, ConfigurationError

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


# -- parsing --field value against a block class ----------------------------------------


@attrs.frozen
class FieldSpec:
    """One configurable field of a block class, as the CLI shows and parses it."""

    name: str
    required: bool
    secret: bool
    annotation: Any

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")

    def describe(self) -> str:
        notes = [n for n, on in (("required", self.required), ("secret", self.secret)) if on]
        return f"{self.option} ({', '.join(notes)})" if notes else self.option


def block_fields(cls: type) -> list[FieldSpec]:
    """The init fields of block class ``cls``, in declaration order."""
    from conveyor.filesystems import SECRET

    if not attrs.has(cls):
        return []
    try:
        hints = typing.get_type_hints(cls)
    except (NameError, TypeError, AttributeError):  # unresolvable annotation: parse as text
        hints = {}
    return [
        FieldSpec(
            name=f.name,
            required=f.default is attrs.NOTHING,
            secret=bool(f.metadata.get(SECRET)),
            annotation=hints.get(f.name, f.type),
        )
        for f in attrs.fields(cls)
        if f.init
    ]


def _fields_listing(block_type: str, fields: Sequence[FieldSpec]) -> str:
    shown = ", ".join(f.describe() for f in fields) or "none"
    return f"fields of block type {block_type!r}: {shown}"


def _allowed(annotation: Any) -> tuple[set[Any], bool]:
    """The plain types an annotation allows, and whether it allows None."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = set(typing.get_args(annotation))
    else:
        members = {annotation}
    nullable = type(None) in members or annotation is None
    plain = {typing.get_origin(m) or m for m in members if m is not type(None)}
    return plain, nullable


def parse_value(spec: FieldSpec, raw: str, block_type: str) -> Any:
    """Turn the text given for ``spec`` into the value the field expects."""
    plain, nullable = _allowed(spec.annotation)
    if nullable and raw.lower() in ("none", "null") and str not in plain:
        return None
    try:
        if plain == {bool}:
            low = raw.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError(f"use one of {', '.join(_TRUE + _FALSE)}")
        if plain == {int}:
            return int(raw)
        if plain <= {int, float} and plain:
            return float(raw)
        if plain & {dict, list, tuple}:
            return json.loads(raw)
    except ValueError as exc:
        message = f"block type {block_type!r}: {spec.option} {raw!r} is not valid: {exc}"
        raise ConfigurationError(message) from None
    return raw


def parse_field_args(block_type: str, cls: type, tokens: Sequence[str]) -> dict[str, Any]:
    """Parse ``--field value`` / ``--field=value`` tokens into the block's configuration.

    A value ``-`` reads it from the first line of standard input (keeps a secret out of
    the shell's history).
    """
    fields = block_fields(cls)
    by_option = {f.option: f for f in fields}
    by_option.update({"--" + f.name: f for f in fields})
    values: dict[str, Any] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not token.startswith("--") or token == "--":
            message = (
                f"unexpected argument {token!r} for block type {block_type!r}; give fields as "
                f"--field value ({_fields_listing(block_type, fields)})"
            )
            raise ConfigurationError(message)
        option, eq, raw = token.partition("=")
        spec = by_option.get(option)
        if spec is None:
            listing = _fields_listing(block_type, fields)
            message = f"block type {block_type!r} has no field {option}; {listing}"
            raise ConfigurationError(message)
        if not eq:
            if i + 1 >= len(tokens):
                raise ConfigurationError(f"block type {block_type!r}: {option} needs a value")
            i += 1
            raw = tokens[i]
        if raw == "-":
            raw = sys.stdin.readline().rstrip("\r\n")
        values[spec.name] = parse_value(spec, raw, block_type)
        i += 1
    missing = [f.option for f in fields if f.required and f.name not in values]
    if missing:
        message = (
            f"block type {block_type!r} needs {', '.join(missing)}; "
            f"{_fields_listing(block_type, fields)}"
        )
        raise ConfigurationError(message)
    return values


# -- the commands -------------------------------------------------------------------------


def _cmd_ls(args: argparse.Namespace) -> int:
    from conveyor.blocks import list_blocks

    blocks = list_blocks(args.type)
    if args.json:
        print(json.dumps([{"slug": slug, "config": config} for slug, config in blocks], indent=2))
        return 0
    if not blocks:
        print("no saved blocks; save one with `conveyor blocks create TYPE NAME --field value ...`")
        return 0
    width = max(len(slug) for slug, _ in blocks)
    for slug, config in blocks:
        shown = ", ".join(f"{k}={v!r}" for k, v in config.items())
        print(f"{slug:<{width}}  {shown}")
    return 0


def _cmd_create(args: argparse.Namespace) -> int:
    from conveyor.blocks import check_name, save_block
    from conveyor.filesystems import get_storage_class

    cls = get_storage_class(args.block_type)
    tokens = list(args.fields)
    overwrite = args.overwrite or "--overwrite" in tokens
    tokens = [t for t in tokens if t != "--overwrite"]
    if "-h" in tokens or "--help" in tokens:
        print(_fields_listing(args.block_type, block_fields(cls)))
        return 0
    check_name(args.name)
    config = parse_field_args(args.block_type, cls, tokens)
    try:
        block = cls(**config)
    except (TypeError, ValueError) as exc:
        message = f"block type {args.block_type!r} refused its fields: {exc}"
        raise ConfigurationError(message) from exc
    try:
        slug = save_block(block, args.name, overwrite=overwrite)
    except BlockExistsError:
        slug = f"{args.block_type}/{args.name}"
        message = (
            f"a block {slug!r} is already saved; add --overwrite to replace it, "
            f"or choose another name"
        )
        raise BlockExistsError(message) from None
    shown = ", ".join(f"{k}={v!r}" for k, v in block.public_config().items())
    print(f"saved block {slug}: {shown}")
    return 0


def _cmd_rm(args: argparse.Namespace) -> int:
    from conveyor.blocks import delete_block

    delete_block(args.slug)
    print(f"removed block {args.slug}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``conveyor blocks`` and its sub-commands to the ``conveyor`` parser."""
    blocks = sub.add_parser(
        "blocks",
        help="list, create and remove saved storage blocks",
        description="Saved storage blocks: configurations stored as '<block_type>/<name>'.",
    )
    cmds = blocks.add_subparsers(dest="blocks_command", metavar="SUBCOMMAND")
    cmds.required = True

    ls = cmds.add_parser(
        "ls",
        help="list saved blocks (secrets masked)",
        description="List saved blocks with their configuration; secret fields show as '********'.",
    )
    ls.add_argument("--type", metavar="BLOCK_TYPE", help="only blocks of this type")
    ls.add_argument("--json", action="store_true", help="print JSON: [{slug, config}]")
    ls.set_defaults(func=_cmd_ls)

    create = cmds.add_parser(
        "create",
        help="save a block: TYPE NAME --field value ...",
        usage="conveyor blocks create [-h] [--overwrite] TYPE NAME [--field value ...]",
        description=(
            "Save a block of TYPE (a block type of an installed plugin, e.g. local-file-system, "
            "s3) as TYPE/NAME. Its fields are the block class's fields, given as --field value "
            "(underscores may be written as dashes); a value '-' is read from standard input. "
            "`conveyor blocks create TYPE NAME --help` lists the fields of TYPE."
        ),
    )
    create.add_argument(
        "--overwrite", action="store_true", help="replace a block saved under the same slug"
    )
    create.add_argument("block_type", metavar="TYPE", help="block type, e.g. local-file-system")
    create.add_argument("name", metavar="NAME", help="name to save it under")
    create.add_argument("fields", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    create.set_defaults(func=_cmd_create)

    rm = cmds.add_parser(
        "rm", help="remove a saved block", description="Remove the block saved as SLUG."
    )
    rm.add_argument(
        "slug", metavar="SLUG", help="'<block_type>/<name>', as `conveyor blocks ls` shows it"
    )
    rm.set_defaults(func=_cmd_rm)
