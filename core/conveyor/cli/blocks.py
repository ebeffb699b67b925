"""``conveyor blocks ls|create|rm``: saved storage blocks from the command line.

``create`` takes the block's fields as ``--field value`` (parsed by ``conveyor.cli.fields``).
Secret fields are never printed: ``ls`` shows the public configuration, with secrets
masked.
"""

from __future__ import annotations

import argparse
import json

from conveyor.blocks import check_name, delete_block, save_block, saved_blocks
from conveyor.cli.fields import fields_help, parse_field_args
from conveyor.exceptions import BlockExistsError, ConfigurationError
from conveyor.filesystems import get_storage_class, storage_classes


def _cmd_ls(args: argparse.Namespace) -> int:
    blocks = saved_blocks(args.type)
    if args.type is not None and not blocks and args.type not in storage_classes():
        get_storage_class(args.type)  # an unknown block type: say so, listing the known ones
    if args.json:
        doc = []
        for b in blocks:
            entry: dict[str, object] = {"slug": b.slug, "config": b.config}
            if b.problem is not None:
                entry.update(status=b.status, fields=list(b.fields), problem=b.problem)
            doc.append(entry)
        print(json.dumps(doc, indent=2))
        return 1 if any(b.status == "damaged" for b in blocks) else 0
    if not blocks:
        which = f" of type {args.type!r}" if args.type else ""
        print(f"no saved blocks{which}; save one with `conveyor blocks create TYPE NAME --field value ...`")
        return 0
    width = max(len(b.slug) for b in blocks)
    for b in blocks:
        if b.config is not None:
            shown = ", ".join(f"{k}={v!r}" for k, v in b.config.items())
        elif b.status == "damaged":
            shown = f"DAMAGED: {b.problem}"
        else:
            shown = f"fields {', '.join(b.fields) or 'none'} ({b.problem})"
        print(f"{b.slug:<{width}}  {shown}")
    damaged = sum(1 for b in blocks if b.status == "damaged")
    if damaged:
        print(f"{damaged} saved block(s) could not be read back; the others are listed above")
    return 1 if damaged else 0


def _cmd_create(args: argparse.Namespace) -> int:
    cls = get_storage_class(args.block_type)
    tokens = list(args.fields)
    overwrite = args.overwrite or "--overwrite" in tokens
    tokens = [t for t in tokens if t != "--overwrite"]
    if "-h" in tokens or "--help" in tokens:
        print(fields_help(args.block_type, cls))
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
