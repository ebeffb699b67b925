"""Saved blocks: storage configurations kept in the metadata database under a slug.

A slug is ``"<block_type>/<name>"``, e.g. ``"s3/prod"`` or ``"local-file-system/scratch"``.

Every configuration, saved or not, is one *block document* in the store (its id is a
hash of type and configuration, so equal configurations share one document). A saved
name points at a document; an unsaved block used as storage is recorded with
:func:`record_block`, once per distinct configuration, and rebuilt with
:func:`block_from_document`.
"""

from __future__ import annotations

import re
from typing import Any

from conveyor.exceptions import ConfigurationError, UnknownNameError
from conveyor.filesystems import StorageBlock, block_from_dict, get_storage_class
from conveyor.store import document_id, get_store

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def parse_slug(slug: str) -> tuple[str, str]:
    """Split ``"<block_type>/<name>"``; anything else is a ConfigurationError."""
    if not isinstance(slug, str) or slug.count("/") != 1 or not all(slug.split("/")):
        raise ConfigurationError(
            f"block slug {slug!r} is not of the form '<block_type>/<name>', e.g. 's3/prod'"
        )
    block_type, name = slug.split("/")
    return block_type, name


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigurationError(
            f"block name {name!r} is not valid; use letters, digits, '-', '_' and '.', "
            f"starting with a letter or digit"
        )
    return name


def save_block(block: StorageBlock, name: str, overwrite: bool = False) -> str:
    """Save ``block``'s configuration as ``"<block_type>/<name>"``; return the slug."""
    check_name(name)
    get_store().save_block(block.block_type, name, block.config(), overwrite=overwrite)
    return f"{block.block_type}/{name}"


def load_block(slug: str, expected: type[StorageBlock] | None = None) -> StorageBlock:
    """Rebuild the block saved under ``slug``."""
    block_type, name = parse_slug(slug)
    cls = get_storage_class(block_type)
    if expected is not None and not issubclass(cls, expected):
        raise ConfigurationError(f"block {slug!r} is a {cls.__name__}, not a {expected.__name__}")
    config = get_store().load_block(block_type, name)
    if config is None:
        saved = [n for _t, n, _c in get_store().list_blocks(block_type)]
        listed = ", ".join(saved) or "none"
        raise UnknownNameError(
            f"no saved {block_type!r} block named {name!r}; saved {block_type} blocks: {listed}; "
            f"save one with {cls.__name__}(...).save({name!r})"
        )
    return cls.from_config(config)


def list_blocks(block_type: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """``[(slug, public configuration)]`` of saved blocks; secrets masked."""
    out = []
    for btype, name, config in get_store().list_blocks(block_type):
        try:
            shown = get_storage_class(btype).from_config(config).public_config()
        except Exception:  # noqa: BLE001 - plugin missing or config stale: field names only
            shown = {k: "?" for k in config}
        out.append((f"{btype}/{name}", shown))
    return out


def delete_block(slug: str) -> None:
    block_type, name = parse_slug(slug)
    if not get_store().delete_block(block_type, name):
        raise UnknownNameError(f"no saved block {slug!r}; `conveyor blocks ls` lists them")


def record_block(block: StorageBlock) -> str:
    """Record ``block``'s configuration as a block document; return the document id.

    Equal configurations get the same id and are stored once, however often they are
    recorded (one per distinct configuration, not one per run).
    """
    return get_store().put_block_document(block.block_type, block.config())


def block_from_document(doc_id: str) -> StorageBlock:
    """Rebuild the block recorded as document ``doc_id`` (by :func:`record_block` or a save)."""
    block_type, config = get_store().get_block_document(doc_id)
    return block_from_dict({"block_type": block_type, **config})


def saved_slugs(block: StorageBlock) -> list[str]:
    """The slugs under which exactly this configuration is saved (sorted; may be empty)."""
    doc_id = document_id(block.block_type, block.config())
    rows = get_store().query(
        "SELECT block_type, name FROM saved_blocks WHERE document_id = ? ORDER BY name",
        (doc_id,),
    )
    return [f"{r['block_type']}/{r['name']}" for r in rows]
