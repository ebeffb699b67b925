"""Writing a value, and making its reference.

The serializer streams into the storage's ``open_write`` through
:class:`~conveyor.results.hashing.HashingWriter`; what is stored is exactly the
serializer's bytes (format 2, see :mod:`conveyor.results.layout`), and nothing appears
under the key unless the whole result was written. The description (serializer,
checksum, size, format) goes into the reference and, for blocks that take it, into the
object's metadata.
"""

from __future__ import annotations

import uuid
from typing import Any

from conveyor.exceptions import ConveyorError, SerializationError, StorageError
from conveyor.filesystems import StorageBlock, accepts_metadata, normalize_key
from conveyor.results.hashing import HashingWriter, write_stream
from conveyor.results.layout import CURRENT_FORMAT, META_CHECKSUM, META_SIZE, object_metadata
from conveyor.results.signing import sign_fields
from conveyor.results.storage import ANONYMOUS_PREFIX, describe, record_storage
from conveyor.results.types import ResultReference
from conveyor.serializers import Serializer


def write_result(
    storage: StorageBlock,
    key: str,
    value: Any,
    serializer: Serializer,
    *,
    label: str | None = None,
    metadata: dict[str, str] | None = None,
) -> tuple[str, int]:
    """Write ``value`` at ``key``, atomically; return (checksum, size).

    The serializer streams into the storage's ``open_write`` through a writer that hashes
    and counts; the stored object is exactly the serializer's bytes, and nothing appears
    under ``key`` unless the whole result was written. A block whose ``open_write`` takes
    ``metadata`` (:func:`~conveyor.filesystems.accepts_metadata`) gets the serializer,
    format, conveyor version and ``metadata`` (e.g. run ids) up front, and the checksum
    and size before it commits.
    """
    where = describe(storage, key, label)
    config = serializer.to_dict()
    takes_metadata = accepts_metadata(storage.open_write)
    # built only for a block that keeps it (S3): a local file has no metadata to fill
    described = object_metadata(config, metadata) if takes_metadata else {}

    def dump(writer: HashingWriter) -> None:
        try:
            serializer.dump(value, writer)  # type: ignore[arg-type]
        except Exception as exc:
            if writer.error is not None:  # the storage failed under the serializer
                raise writer.error from None
            if isinstance(exc, SerializationError):
                raise SerializationError(f"cannot persist {where}: {exc}") from exc
            if isinstance(exc, ConveyorError):
                raise
            raise SerializationError(
                f"serializer {config.get('type')!r} could not serialize a "
                f"{type(value).__name__} for {where}: {type(exc).__name__}: {exc}; choose a "
                f"serializer that supports it (e.g. result_serializer='pickle')"
            ) from exc

    try:
        if takes_metadata:
            opened = storage.open_write(key, metadata=described)  # type: ignore[call-arg]
        else:
            opened = storage.open_write(key)
        with opened as target:
            checksum, size = write_stream(target, dump, where)
            described[META_CHECKSUM] = checksum
            described[META_SIZE] = str(size)
    except ConveyorError:
        raise
    except Exception as exc:
        raise StorageError(
            f"could not write {where}: {type(exc).__name__}: {exc}; check that the storage "
            f"is reachable and writable"
        ) from exc
    return checksum, size


def persist_value(
    value: Any,
    *,
    storage: StorageBlock,
    serializer: Serializer,
    key: str | None = None,
    storage_slug: str | None = None,
    storage_document: str | None = None,
    metadata: dict[str, str] | None = None,
) -> ResultReference:
    """Persist ``value`` and return its reference (with the value already cached on it).

    :param storage: the block to write to.
    :param serializer: turns the value into bytes (streamed with ``serializer.dump``).
    :param key: where in the storage; default a random hex id.
    :param storage_slug: the block's saved slug when it was given by slug; otherwise the
        reference names it ``"anonymous/<document id>"``.
    :param storage_document: the block's document id when the caller recorded it already
        (the engine's result destination does, once per flow run); else it is recorded here.
    :param metadata: extra text kept with the object where the block keeps metadata (S3),
        e.g. ``{"flow-run": ..., "task-run": ...}``; names get a ``conveyor-`` prefix.

    The block's configuration is recorded in the metadata store once per distinct
    configuration. With a signing key set, the reference is signed (:mod:`.signing`), the format
    included. Does not call the ``conveyor_result_persisted`` hook: the engine does,
    after recording the state.
    """
    key = normalize_key(key, block=storage) if key is not None else uuid.uuid4().hex
    document = storage_document or record_storage(storage)
    label = storage_slug or f"{ANONYMOUS_PREFIX}{document}"
    checksum, size = write_result(
        storage, key, value, serializer, label=label, metadata=metadata
    )
    reference = written_reference(key, label, document, serializer, checksum, size)
    reference.cache_value(value)
    return reference


def written_reference(
    key: str, label: str, document: str, serializer: Serializer, checksum: str, size: int
) -> ResultReference:
    """The reference of a value :func:`write_result` wrote (here or in another process,
    e.g. a Dask worker): signed when a signing key is set; without the value."""
    fields = {
        "key": key,
        "storage": label,
        "storage_document": document,
        "serializer": serializer.to_dict(),
        "checksum": checksum,
        "size": size,
        "format": CURRENT_FORMAT,
    }
    return ResultReference(**fields, signature=sign_fields(fields))
