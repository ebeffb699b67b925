"""Reading a stored result back: open and verify its payload, then deserialize it.

Returns plain values; knows nothing of the result types (:mod:`conveyor.results.types`
calls into it, not the other way round). Every function that deserializes needs the
expected checksum (from a reference, or from the caller): a stored object does not
say who wrote it (a plain result, format 2, is only the serializer's bytes; an old
framed one's trailer proves only that it is complete). The payload is read once,
verified, and deserialized from that private copy (:mod:`.payload`). ``format`` is the
reference's (:attr:`ResultReference.format`); without it the first bytes tell.
"""

from __future__ import annotations

import contextlib
import io
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
from conveyor.results.copying import Prefixed
from conveyor.results.digests import is_checksum
from conveyor.results.layout import FRAMED_START, PLAIN_FORMAT, read_exactly, read_header
from conveyor.results.payload import Payload, check_payload
from conveyor.results.reread import fingerprint_before, keep_payload, kept_payload
from conveyor.results.storage import describe
from conveyor.serializers import Serializer, serializer_from_dict


class _Where:
    """``describe(storage, key, label)``, made only when a message (an error, a progress
    line) shows it: most reads never need it."""

    __slots__ = ("_args", "_text")

    def __init__(self, storage: StorageBlock, key: str, label: str | None) -> None:
        self._args = (storage, key, label)
        self._text: str | None = None

    def __str__(self) -> str:
        if self._text is None:
            self._text = describe(*self._args)
        return self._text

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


@contextlib.contextmanager
def open_payload(
    storage: StorageBlock,
    key: str,
    *,
    checksum: str,
    size: int | None = None,
    label: str | None = None,
    format: int | None = None,
) -> Iterator[Payload]:
    """Open a stored result and verify it; yield its payload, positioned for reading.

    The digest is checked (against ``checksum``, the one expected, and an old result's
    trailer) before
    the caller gets the payload, which is a private copy of the verified bytes. A missing
    key is ResultNotFoundError; damage is CorruptResultError; both name the storage and key.
    """
    where: Any = _Where(storage, key, label)
    _check_checksum_given(checksum, "open_payload")
    try:
        with storage.open_read(key) as source:
            payload, spool = check_payload(
                source, where, expected_checksum=checksum, expected_size=size, format=format
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
    if not is_checksum(checksum):
        raise TypeError(
            f"{function}() needs the expected checksum ('blake3:<hex>' or 'sha256:<hex>', e.g. a reference's "
            f".checksum); got {checksum!r}: a stored object does not say who wrote it"
        )


def read_result(
    storage: StorageBlock,
    key: str,
    *,
    checksum: str,
    serializer: dict[str, Any] | Serializer | None = None,
    size: int | None = None,
    label: str | None = None,
    format: int | None = None,
) -> Any:
    """Read, verify and deserialize the value at ``key``.

    ``checksum`` is the one expected (a reference's); ``size`` is checked when given, an
    old file's own trailer always. ``serializer`` is the reference's; only an old framed
    result (format 1) can do without it (its header records one); a configuration (a dict) goes through the allow-list of
    :func:`conveyor.serializers.serializer_from_dict`, like any configuration from a record.
    """
    _check_checksum_given(checksum, "read_result")
    watch = False
    if format == PLAIN_FORMAT:  # a small one read again: see conveyor.results.reread
        kept, watch = kept_payload(storage, key, checksum, size)
        if kept is not None:
            ser = _chosen_serializer(serializer, {}, storage, key, label)
            return _deserialize(ser, io.BytesIO(kept), storage, key, label)
    before = fingerprint_before(storage, key) if watch else None
    with open_payload(
        storage, key, checksum=checksum, size=size, label=label, format=format
    ) as payload:
        ser = _chosen_serializer(serializer, payload.header, storage, key, label)
        value = _deserialize(ser, payload.reader, storage, key, label)
        if watch and type(payload.reader) is io.BytesIO:  # the whole verified copy
            keep_payload(storage, key, checksum, before, payload.reader.getvalue())
        return value


def _chosen_serializer(
    serializer: dict[str, Any] | Serializer | None, header: dict[str, Any],
    storage: StorageBlock, key: str, label: str | None,
) -> Serializer:
    chosen = serializer if serializer is not None else header.get("serializer")
    if isinstance(chosen, Serializer):
        return chosen
    if isinstance(chosen, dict):
        return serializer_from_dict(chosen)
    raise CorruptResultError(
        f"{describe(storage, key, label)} records no serializer: a result of format 2 "
        f"is only the serializer's bytes, and its serializer is in its reference; pass "
        f"serializer= (e.g. the reference's .serializer)"
    )


def _deserialize(ser: Serializer, reader: Any, storage: StorageBlock, key: str, label: str | None) -> Any:
    """``ser.load(reader)`` of verified bytes; a failure names the result."""
    try:
        return ser.load(reader)
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
    format: int | None = None,
) -> Any:
    """The value stored at ``key``, which must hash to ``checksum`` (required).

    Read with ``serializer`` (required for a result of format 2, which is only the
    serializer's bytes); an old framed result defaults to the serializer recorded in its
    header (a record: it may only name allowed imports, see :mod:`conveyor.serializers`).
    """
    _check_checksum_given(checksum, "read_result_file")
    return read_result(storage, key, serializer=serializer, checksum=checksum, format=format)


def read_result_header(storage: StorageBlock, key: str) -> dict[str, Any]:
    """The header of an old framed result (format 1) at ``key`` (serializer, created,
    conveyor), unverified. A result of format 2 has none (CorruptResultError says so):
    its description is its reference (and, on S3, the object's metadata)."""
    where = describe(storage, key, None)
    try:
        with storage.open_read(key) as source:
            head = read_exactly(source, len(FRAMED_START))
            if head != FRAMED_START:
                raise CorruptResultError(
                    f"{where} has no conveyor header: results of format 2 are only the "
                    f"serializer's bytes; their reference describes them (serializer, "
                    f"checksum, size), and on S3 the object's metadata too"
                )
            header, _used = read_header(Prefixed(head, source), where)  # type: ignore[arg-type]
    except ResultNotFoundError as exc:
        raise ResultNotFoundError(f"{where} was not found: {exc}") from exc
    return header
