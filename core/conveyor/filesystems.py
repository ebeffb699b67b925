"""Storage blocks: where persisted results are written.

The base class is here; the classes come from plugins (``LocalFileSystem`` from
``conveyor-storage-local``, ``S3`` from ``conveyor-storage-s3``) and are reachable as
attributes of this module::

    from conveyor.filesystems import LocalFileSystem, S3

A block is an attrs class whose fields are its configuration: what ``save()`` stores in
the metadata database and what a result reference uses to rebuild it. Fields made with
:func:`secret_field` are never shown in ``repr``, logs, the CLI or error messages. The
base class lives in :mod:`conveyor.storage.base`.

May import: conveyor.exceptions, conveyor.plugins, conveyor.settings, conveyor.storage.
"""

from __future__ import annotations

from typing import Any

from conveyor import plugins
from conveyor.exceptions import ConfigurationError
from conveyor.settings import get_settings
from conveyor.storage.base import (
    SECRET,
    StorageBlock,
    accepts_metadata,
    normalize_key,
    offers,
    secret_field,
    secret_field_names,
)
from conveyor.storage.saved import load_config, parse_slug


def storage_classes() -> dict[str, type[StorageBlock]]:
    """Installed storage block classes by block type."""
    return plugins.storage_classes()  # type: ignore[return-value]


def get_storage_class(block_type: str) -> type[StorageBlock]:
    """The class registered under ``block_type``, or an UnknownNameError listing the others."""
    return plugins.storage().get(block_type)  # type: ignore[return-value]


def block_from_dict(data: dict[str, Any]) -> StorageBlock:
    config = dict(data)
    block_type = config.pop("block_type", None)
    if not isinstance(block_type, str):
        raise ConfigurationError(
            f"block configuration has no 'block_type' (fields: {sorted(data)})"
        )
    return get_storage_class(block_type).from_config(config)


def load_block(slug: str, expected: type[StorageBlock] | None = None) -> StorageBlock:
    """Rebuild the block saved under ``slug`` (``"<block_type>/<name>"``).

    Also importable as :func:`conveyor.blocks.load_block`, with the other saved-block functions.
    """
    block_type, name = parse_slug(slug)
    cls = get_storage_class(block_type)
    if expected is not None and not issubclass(cls, expected):
        raise ConfigurationError(f"block {slug!r} is a {cls.__name__}, not a {expected.__name__}")
    return cls.from_config(load_config(block_type, name, cls.__name__))


def resolve_storage(value: str | StorageBlock) -> StorageBlock:
    """Turn a ``result_storage`` value into a block: a saved block's slug, or an instance."""
    if isinstance(value, StorageBlock):
        return value
    if isinstance(value, str):
        return load_block(value)
    raise TypeError(
        f"result_storage must be a saved block slug such as 's3/prod' or a storage block "
        f"instance such as LocalFileSystem(basepath='results'); got {type(value).__name__} {value!r}"
    )


def check_default_storage() -> None:
    """Refuse, as :func:`default_storage` would, when no installed plugin provides the
    local folder block, without building it (nor importing its module)."""
    if "local-file-system" not in plugins.storage():
        default_storage()  # raises the one error saying what is installed


def default_storage() -> StorageBlock:
    """``LocalFileSystem`` at ``CONVEYOR_LOCAL_STORAGE_PATH`` (default ``./.conveyor-results``)."""
    return get_storage_class("local-file-system")(basepath=str(get_settings().local_storage_path))  # type: ignore[call-arg]


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    return plugins.storage().by_class_name(__name__, name)


__all__ = [
    "SECRET",
    "StorageBlock",
    "accepts_metadata",
    "block_from_dict",
    "check_default_storage",
    "default_storage",
    "get_storage_class",
    "load_block",
    "normalize_key",
    "offers",
    "resolve_storage",
    "secret_field",
    "secret_field_names",
    "storage_classes",
]
