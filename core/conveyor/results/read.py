"""Reading a stored result back: open and verify its payload, then deserialize it.

Returns plain values; knows nothing of the result types (:mod:`conveyor.results.types`
calls into it, not the other way round). Every function that deserializes needs the
expected checksum (from a reference, or from the caller): a file's own trailer proves
only that the file is complete, not who wrote it. The payload is read once, verified,
and deserialized from that private copy (:mod:`.payload`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from conveyor.exceptions import (
    ConveyorError,
    CorruptResultError,
    ResultNotFoundError,
    SerializationError,
    StorageError,
)
from conveyor.filesystems import StorageBlock
from conveyor.results.layout import CHECKSUM_PREFIX, read_header
from conveyor.results.payload import Payload, check_payload
from conveyor.results.storage import describe
from conveyor.serializers import Serializer, serializer_from_dict


@contextlib.contextmanager
def open_payload(
    storage: StorageBlock,
    key: str,
    *,
    checksum: str,
    size: int | None = None,
    label: str | None = None,
) -> Iterator[Payload]:
    """Open a stored result and verify it; yield its payload, positioned for reading.

    The digest is checked (against the trailer and ``checksum``, the one expected) before
    the caller gets the payload, which is a private copy of the verified bytes. A missing
    key is ResultNotFoundError; damage is CorruptResultError; both name the storage and key.
    """
    where = describe(storage, key, label)
    _check_checksum_given(checksum, "open_payload")
    try:
        with storage.open_read(key) as source:
            payload, spool = check_payload(
                source, where, expected_checksum=checksum, expected_size=size
            )
            try:
                yield payload
            finally:
                if spool is not None:
                    spool.close()
    except ResultNotFoundError as exc:
        raise ResultNotFoundError(
            f"{where} was not found: {exc}; it was deleted or never written (rerun to "
            f"write it again)"
        ) from exc
    except FileNotFoundError as exc:
        raise ResultNotFoundError(
            f"{where} was not found ({exc.strerror or exc}); it was deleted or never "
            f"written (rerun to write it again)"
        ) from exc
    except (ConveyorError, SerializationError):
        raise
    except OSError as exc:
        raise StorageError(f"could not read {where}: {type(exc).__name__}: {exc}") from exc


def _check_checksum_given(checksum: Any, function: str) -> None:
    if not (isinstance(checksum, str) and checksum.startswith(CHECKSUM_PREFIX)):
        raise TypeError(
            f"{function}() needs the expected checksum ('sha256:<hex>', e.g. a reference's "
            f".checksum); got {checksum!r}: a stored file's own trailer does not say who wrote it"
        )


def read_result(
    storage: StorageBlock,
    key: str,
    *,
    checksum: str,
    serializer: dict[str, Any] | Serializer | None = None,
    size: int | None = None,
    label: str | None = None,
) -> Any:
    """Read, verify and deserialize the value at ``key``.

    ``checksum`` is the one expected (a reference's); ``size`` is checked when given, the
    file's own trailer always. ``serializer`` defaults to the one recorded in the file's
    header; a configuration (a dict) goes through the allow-list of
    :func:`conveyor.serializers.serializer_from_dict`, like any configuration from a record.
    """
    _check_checksum_given(checksum, "read_result")
    with open_payload(storage, key, checksum=checksum, size=size, label=label) as payload:
        chosen = serializer if serializer is not None else payload.header.get("serializer")
        if isinstance(chosen, Serializer):
            ser = chosen
        elif isinstance(chosen, dict):
            ser = serializer_from_dict(chosen)
        else:
            raise CorruptResultError(
                f"{describe(storage, key, label)} records no serializer in its header"
            )
        try:
            return ser.load(payload.reader)
        except SerializationError as exc:
            raise SerializationError(
                f"cannot load {describe(storage, key, label)} (its checksum matched): {exc}"
            ) from exc
        except ConveyorError:
            raise
        except Exception as exc:
            raise SerializationError(
                f"serializer {ser.type!r} could not read {describe(storage, key, label)}: "
                f"{type(exc).__name__}: {exc}; the checksum matched, so the bytes are as "
                f"written: read it with the same serializer library and version"
            ) from exc


def read_result_file(
    storage: StorageBlock,
    key: str,
    *,
    checksum: str,
    serializer: dict[str, Any] | Serializer | None = None,
) -> Any:
    """The value stored at ``key``, which must hash to ``checksum`` (required).

    Read with ``serializer``, or by default the serializer recorded in the file's header
    (a record: it may only name allowed imports, see :mod:`conveyor.serializers`).
    """
    _check_checksum_given(checksum, "read_result_file")
    return read_result(storage, key, serializer=serializer, checksum=checksum)


def read_result_header(storage: StorageBlock, key: str) -> dict[str, Any]:
    """The header of the result at ``key`` (serializer, created, conveyor), unverified."""
    where = describe(storage, key, None)
    try:
        with storage.open_read(key) as source:
            header, _used = read_header(source, where)
    except ResultNotFoundError as exc:
        raise ResultNotFoundError(f"{where} was not found: {exc}") from exc
    return header
