"""Writing a value in conveyor's stored format, and making its reference.

The serializer streams into the storage's ``open_write`` through
:class:`~conveyor.results.hashing.HashingWriter`; nothing appears under the key unless
the whole result was written.
"""

from __future__ import annotations

import uuid
from typing import Any

from conveyor.exceptions import ConveyorError, SerializationError, StorageError
from conveyor.filesystems import StorageBlock, normalize_key
from conveyor.results.hashing import HashingWriter, write_stream
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
) -> tuple[str, int]:
    """Write ``value`` at ``key`` in conveyor's format, atomically; return (checksum, size).

    The serializer streams into the storage's ``open_write`` through a writer that hashes
    and counts; nothing appears under ``key`` unless the whole result was written.
    """
    where = describe(storage, key, label)
    config = serializer.to_dict()

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
        with storage.open_write(key) as target:
            checksum, size = write_stream(target, config, dump)
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
) -> ResultReference:
    """Persist ``value`` and return its reference (with the value already cached on it).

    :param storage: the block to write to.
    :param serializer: turns the value into bytes (streamed with ``serializer.dump``).
    :param key: where in the storage; default a random hex id.
    :param storage_slug: the block's saved slug when it was given by slug; otherwise the
        reference names it ``"anonymous/<document id>"``.
    :param storage_document: the block's document id when the caller recorded it already
        (the engine's result destination does, once per flow run); else it is recorded here.

    The block's configuration is recorded in the metadata store once per distinct
    configuration. With a signing key set, the reference is signed (:mod:`.signing`). Does not call the ``conveyor_result_persisted`` hook: the engine does,
    after recording the state.
    """
    key = normalize_key(key, block=storage) if key is not None else uuid.uuid4().hex
    document = storage_document or record_storage(storage)
    label = storage_slug or f"{ANONYMOUS_PREFIX}{document}"
    checksum, size = write_result(storage, key, value, serializer, label=label)
    fields = {
        "key": key,
        "storage": label,
        "storage_document": document,
        "serializer": serializer.to_dict(),
        "checksum": checksum,
        "size": size,
    }
    reference = ResultReference(**fields, signature=sign_fields(fields))
    reference.cache_value(value)
    return reference
