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
_BLOCK_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
#: What ``blocks.save()`` shows in place of a secret.
MASK = "********"


def looks_like_path(value: str) -> bool:
    """Whether a ``result_storage`` string reads as a folder path rather than a slug:
    ``./results``, ``../out``, ``/data/results``, ``~/r``, ``C:\\r``, ``data/results/2024``."""
    text = value.strip()
    if not text:
        return False
    if text.startswith(("/", ".", "~", "\\")) or "\\" in text or re.match(r"^[A-Za-z]:", text):
        return True
    parts = text.split("/")
    return len(parts) > 2 or (len(parts) == 2 and not _BLOCK_TYPE.match(parts[0]))


def parse_slug(slug: str) -> tuple[str, str]:
    """Split ``"<block_type>/<name>"``; anything else is a ConfigurationError.

    A value that looks like a folder path (``"./results"``, ``"/data/out"``, ``"results"``)
    is told so, with the block to use instead: the same message wherever a slug is parsed
    (``result_storage`` at decoration time and when a run resolves it).
    """
    if isinstance(slug, str) and looks_like_path(slug):
        raise ConfigurationError(
            f"block slug {slug!r} is not of the form '<block_type>/<name>' (e.g. 's3/prod'): "
            f"it looks like a folder path; to keep results in a folder, give a block instead: "
            f"LocalFileSystem(basepath={slug!r}) (from conveyor.filesystems import LocalFileSystem)"
        )
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


def check_secrets(block: StorageBlock) -> None:
    """Refuse a block whose secret field is set to an empty value (a lost secret, surely)."""
    config = block.config()
    for field, shown in block.public_config().items():
        value = config.get(field)
        if shown == MASK and isinstance(value, str) and not value.strip():
            raise ConfigurationError(
                f"secret field {field!r} of block type {block.block_type!r} is empty; give its "
                f"value (on the command line, '-' reads it from standard input), or leave it "
                f"out (None) if the block does not need it"
            )


def save_block(block: StorageBlock, name: str, overwrite: bool = False) -> str:
    """Save ``block``'s configuration as ``"<block_type>/<name>"``; return the slug.

    An empty secret is refused (:func:`check_secrets`)."""
    check_name(name)
    check_secrets(block)
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


__all__ = [
    "MASK",
    "check_name",
    "check_secrets",
    "load_config",
    "looks_like_path",
    "parse_slug",
    "save_block",
]
