"""Saved blocks by name: a block's configuration kept in the metadata database.

What ``block.save(name)`` and ``SomeBlock.load(name)`` do, without the plugin registry
(the caller already knows the class). Slugs (``"s3/prod"``), which need the registry to
find the class, are :mod:`conveyor.blocks`.

May import: conveyor.exceptions, conveyor.metadata.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from conveyor.exceptions import ConfigurationError, UnknownNameError
from conveyor.metadata import get_store

if TYPE_CHECKING:
    from conveyor.storage.base import StorageBlock

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
    """``name`` if it is a valid block name, else a ConfigurationError saying what is."""
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


def load_config(block_type: str, name: str, class_name: str) -> dict[str, Any]:
    """The configuration saved as ``"<block_type>/<name>"``, or an error listing the saved ones."""
    store = get_store()
    config = store.load_block(block_type, name)
    if config is None:
        names = [n for _t, n, _c in store.list_blocks(block_type)]
        listed = ", ".join(names) or "none"
        raise UnknownNameError(
            f"no saved {block_type!r} block named {name!r}; saved {block_type} blocks: {listed}; "
            f"save one with {class_name}(...).save({name!r})"
        )
    return config


__all__ = ["check_name", "load_config", "parse_slug", "save_block"]
