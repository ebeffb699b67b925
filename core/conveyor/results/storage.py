"""Where a result lives: the storage block a reference names, recorded and rebuilt.

A reference names its block by saved slug or as ``"anonymous/<document id>"``; the
block's configuration is recorded in the metadata store when the value is written, so
the exact block can be rebuilt later even if the saved block is gone. A document's id is
the hash of its content, so a document once read is kept per store for the process (a
cache hit reads no row).
"""

from __future__ import annotations

import threading
from typing import Any

from conveyor.blocks import load_block
import datetime

from conveyor.exceptions import (
    ConfigurationError,
    MetadataError,
    ResultDeletedError,
    StorageError,
    UnknownNameError,
)
from conveyor.filesystems import StorageBlock, block_from_dict, storage_classes
from conveyor.metadata import get_store
from conveyor.settings import get_settings

ANONYMOUS_PREFIX = "anonymous/"

#: Block documents read so far: (database URL, home, document id) -> (type, config).
_documents: dict[tuple[object, object, str], tuple[str, dict[str, Any]]] = {}
_documents_lock = threading.Lock()
_DOCUMENTS_MAX = 1024
#: Anonymous blocks rebuilt from their documents: (id of the settings, document id) ->
#: (those settings, the block). A document never changes, so while the environment is the
#: same the block is the same; a saved slug is always loaded anew (rotated credentials).
_blocks: dict[tuple[int, str], tuple[object, StorageBlock]] = {}


def block_document(doc_id: str) -> tuple[str, dict[str, Any]]:
    """``(block type, configuration)`` of a recorded block document, read once per database.

    Documents never change (the id is the hash of the content), so the copy kept is
    always right; the database of another ``CONVEYOR_HOME`` is asked on its own. A hit
    costs no store look-up (the database path comes from the memoized settings).
    """
    settings = get_settings()  # the database: its URL when set, else the file under home
    key = (settings.database_url, settings.home, doc_id)
    found = _documents.get(key)
    if found is not None:
        return found[0], dict(found[1])
    block_type, config = get_store().get_block_document(doc_id)
    with _documents_lock:
        if len(_documents) >= _DOCUMENTS_MAX:
            _documents.clear()
        _documents[key] = (block_type, dict(config))
    return block_type, config


def deleted_error(storage: str, storage_document: str, key: str, checksum: str) -> ResultDeletedError | None:
    """The error for a result that is missing because it was deleted on purpose (marked
    by ``results gc`` or ``runs rm --results``), or None when it was not."""
    try:
        mark = get_store().read_deleted_result(storage_document, key, checksum)
    except (MetadataError, OSError):
        return None
    if mark is None:
        return None
    when = datetime.datetime.fromtimestamp(mark[0]).astimezone().strftime("%Y-%m-%d %H:%M")
    return ResultDeletedError(
        f"result {key!r} in storage {storage!r} was deleted by {mark[1]} on {when}; run the "
        f"flow again (or resume its run) to compute it again"
    )


def resolve_reference_storage(storage: str, storage_document: str | None) -> StorageBlock:
    """Rebuild the block a reference names.

    A saved slug is loaded as saved now (it may hold rotated credentials); when it is
    gone, or the storage is anonymous, the configuration document recorded at write
    time is used. A block type whose plugin is missing or disabled is one error saying
    so (there is no other way to read the value).
    """
    slug_error: Exception | None = None
    anonymous = storage.startswith(ANONYMOUS_PREFIX)
    if anonymous and storage_document:
        settings = get_settings()
        kept = _blocks.get((id(settings), storage_document))
        if kept is not None and kept[0] is settings:
            return kept[1]
    if not anonymous:
        try:
            return load_block(storage)
        except UnknownNameError as exc:
            _unavailable_type(storage, storage.partition("/")[0], exc)
            slug_error = exc
        except ConfigurationError as exc:
            slug_error = exc
    if storage_document:
        try:
            block_type, config = block_document(storage_document)
        except UnknownNameError as exc:
            doc_error: Exception = exc
        else:
            try:
                block = block_from_dict({"block_type": block_type, **config})
            except UnknownNameError as exc:
                _unavailable_type(storage, block_type, exc)
                raise
            if anonymous:
                settings = get_settings()
                with _documents_lock:
                    if len(_blocks) >= _DOCUMENTS_MAX:
                        _blocks.clear()
                    _blocks[id(settings), storage_document] = (settings, block)
            return block
    else:
        doc_error = ConfigurationError("the reference records no block document")
    why = f"{slug_error}; " if slug_error else ""
    raise StorageError(
        f"cannot rebuild storage {storage!r}: {why}{doc_error}; the result was written with a "
        f"different CONVEYOR_HOME, or the block was removed (save it again under that name)"
    )


def _unavailable_type(storage: str, block_type: str, exc: UnknownNameError) -> None:
    """Raise the one error for a storage whose block type no installed plugin provides."""
    if block_type in storage_classes():
        return  # the type is there: it is the saved name that is missing
    raise StorageError(
        f"cannot read from storage {storage!r}: its block type {block_type!r} is not "
        f"available here ({exc})"
    ) from exc


def record_storage(storage: StorageBlock) -> str:
    """Record ``storage``'s configuration in the store (once per distinct one); return its id."""
    return get_store().put_block_document(storage.block_type, storage.config())


def describe(storage: StorageBlock, key: str, label: str | None) -> str:
    """``result 'key' in storage 'label' (...)``: how messages name a stored result."""
    try:
        shown = storage.describe(key)
    except Exception:  # noqa: BLE001 - a plugin's describe() must not hide the real error
        shown = f"{storage.block_type}:{key}"
    name = label or storage.block_type
    return f"result {key!r} in storage {name!r} ({shown})"
