"""The read and verify pipeline of a stored result: chunked reading, hashing, spooling.

:func:`check_payload` reads a stored result (see :mod:`conveyor.results.layout`) from a
file object, checks its payload's digest against the trailer and the reference, and
hands back a :class:`Payload` whose reader yields exactly the payload's bytes.

Check, then never read again: the payload is read from its source exactly once, into a
private copy, and hashed there; the serializer then reads that copy, never the source.
So bytes rewritten in storage after the check are never deserialized. A seekable source
(a local file) of up to :data:`COPY_IN_MEMORY_MAX` bytes is copied into one ``bytes``
object (memory: about the payload plus the value loaded from it, so at most about twice
the value); a larger one, and every non-seekable source (a network body), is copied into
a temporary file that only this process holds (in memory up to ``spool_max_memory``).
"""

from __future__ import annotations

import io
from typing import Any, BinaryIO

import attrs

from conveyor.exceptions import CorruptResultError
from conveyor.results.copying import (
    COPY_IN_MEMORY_MAX,
    READ_CHUNK,
    SPOOL_MAX_MEMORY,
    PayloadReader,
    Prefixed,
    copy_region,
    is_seekable,
    payload_reader,
    read_chunks,
    temporary_files,
)
from conveyor.results.digests import WRITE_ALGORITHM, algorithm_of, format_checksum, new_hasher
from conveyor.results.layout import (
    FRAMED_FORMAT,
    FRAMED_START,
    PLAIN_FORMAT,
    TRAILER_ALGORITHM,
    TRAILER_SIZE,
    Trailer,
    parse_trailer,
    read_exactly,
    read_header,
)
from conveyor.results.transfer import TransferMeter

__all__ = [
    "COPY_IN_MEMORY_MAX",
    "READ_CHUNK",
    "SPOOL_MAX_MEMORY",
    "Payload",
    "PayloadReader",
    "check_payload",
    "copy_region",
    "read_chunks",
]

@attrs.frozen
class Payload:
    """A checked payload, positioned for reading: ``reader`` yields exactly its bytes."""

    header: dict[str, Any]
    trailer: Trailer  # a plain result's size and digest as read (it has no trailer)
    checksum: str
    reader: BinaryIO
    format: int = PLAIN_FORMAT


def _sniff(source: BinaryIO, seekable: bool) -> tuple[int, BinaryIO]:
    """The format of ``source`` told by its first bytes, and a source positioned at its start."""
    base = source.tell() if seekable else 0
    head = read_exactly(source, len(FRAMED_START))
    fmt = FRAMED_FORMAT if head == FRAMED_START else PLAIN_FORMAT
    if seekable:
        source.seek(base)
        return fmt, source
    return fmt, Prefixed(head, source)  # type: ignore[return-value]


def check_payload(
    source: BinaryIO,
    where: str,
    *,
    expected_checksum: str | None = None,
    expected_size: int | None = None,
    spool_max_memory: int = SPOOL_MAX_MEMORY,
    in_memory_max: int = COPY_IN_MEMORY_MAX,
    format: int | None = None,
) -> tuple[Payload, BinaryIO | None]:
    """Read and verify a stored result from ``source``; return it and the copy to close.

    ``format`` is the reference's (2: plain, 1: framed); None tells it by the first
    bytes. A plain result is checked against ``expected_checksum`` and ``expected_size``
    only (they are its whole description); a framed one as follows.

    The payload is read from ``source`` once, into a private copy that is hashed and
    then handed to the serializer (never ``source`` again): for a seekable source (a
    local file) the trailer is read first, then the payload is copied (into memory up to
    ``in_memory_max`` bytes, else a temporary file); others (network bodies) are copied
    into a spooled temporary file while hashing. The digest is compared to the trailer's
    and to ``expected_checksum`` (from a reference) before anything is deserialized; any
    difference is a CorruptResultError naming both digests.
    """
    seekable = is_seekable(source)
    if format is None:
        format, source = _sniff(source, seekable)
    if format != FRAMED_FORMAT:
        return _check_plain(
            source, where, seekable, expected_checksum, expected_size,
            spool_max_memory, in_memory_max,
        )
    base = source.tell() if seekable else 0
    header, used = read_header(source, where)
    start = base + used
    spool: BinaryIO | None = None
    if seekable:
        end = source.seek(0, io.SEEK_END)
        if end - start < TRAILER_SIZE:
            raise CorruptResultError(
                f"{where} is truncated: {end} bytes, too short to hold conveyor's trailer; "
                f"the write that made it did not finish"
            )
        source.seek(end - TRAILER_SIZE)
        trailer = parse_trailer(read_exactly(source, TRAILER_SIZE), where)
        payload_size = end - start - TRAILER_SIZE
        if trailer.size != payload_size:
            raise CorruptResultError(
                f"{where} is truncated or damaged: its trailer records a {trailer.size}-byte "
                f"payload but the file holds {payload_size} bytes"
            )
        _check_expected(trailer, where, expected_checksum, expected_size)
        source.seek(start)
        meter = TransferMeter("reading", where, payload_size)
        actual, spool = copy_region(
            source, payload_size, where, in_memory_max, meter, algorithm=TRAILER_ALGORITHM
        )
        meter.finish()
        try:
            _compare(actual, trailer, where, expected_checksum)
        except BaseException:
            spool.close()
            raise
        reader: BinaryIO = payload_reader(spool, payload_size)
    else:
        spool = temporary_files().SpooledTemporaryFile(max_size=spool_max_memory)  # type: ignore[assignment]  # noqa: SIM115 - returned, closed by the caller
        try:
            actual, trailer = _spool_hashing(source, spool, where)  # type: ignore[arg-type]
            _check_expected(trailer, where, expected_checksum, expected_size)
            _compare(actual, trailer, where, expected_checksum)
            spool.seek(0)  # type: ignore[union-attr]
        except BaseException:
            spool.close()  # type: ignore[union-attr]
            raise
        reader = PayloadReader(spool, trailer.size)  # type: ignore[arg-type, assignment]
    payload = Payload(
        header=header, trailer=trailer, checksum=actual, reader=reader, format=FRAMED_FORMAT
    )
    return payload, spool


def _check_plain(
    source: BinaryIO,
    where: str,
    seekable: bool,
    expected_checksum: str | None,
    expected_size: int | None,
    spool_max_memory: int,
    in_memory_max: int,
) -> tuple[Payload, BinaryIO]:
    """A plain result: the whole object is the payload, copied once and hashed there, with
    the algorithm the expected checksum names (BLAKE3 for results written now, sha256 for
    older references)."""
    algorithm = algorithm_of(expected_checksum) or WRITE_ALGORITHM
    if seekable:
        start = source.tell()
        size = source.seek(0, io.SEEK_END) - start
        _check_size(size, where, expected_size)  # before anything is copied
        source.seek(start)
        meter = TransferMeter("reading", where, size)
        actual, spool = copy_region(source, size, where, in_memory_max, meter, algorithm=algorithm)
        meter.finish()
    else:
        spool = temporary_files().SpooledTemporaryFile(max_size=spool_max_memory)  # type: ignore[assignment]  # noqa: SIM115 - returned, closed by the caller
        try:
            digest = new_hasher(algorithm)
            size = 0
            meter = TransferMeter("reading", where, expected_size)
            for view in read_chunks(source):
                digest.update(view)
                spool.write(view)
                size += view.nbytes
                meter.add(view.nbytes)
            meter.finish()
            spool.seek(0)
            actual = format_checksum(digest.digest(), algorithm)
        except BaseException:
            spool.close()
            raise
    try:
        _check_size(size, where, expected_size)
        if expected_checksum is not None and actual != expected_checksum:
            raise CorruptResultError(
                f"{where} is corrupt or holds a different result than the reference: its "
                f"bytes hash to {actual} but the reference expects {expected_checksum}; the "
                f"stored bytes were damaged, or the key was overwritten after the reference "
                f"was made (rerun to write it again)"
            )
    except BaseException:
        spool.close()
        raise
    reader: BinaryIO = payload_reader(spool, size)
    trailer = Trailer(size=size, checksum=actual)
    payload = Payload(header={}, trailer=trailer, checksum=actual, reader=reader)
    return payload, spool


def _check_size(size: int, where: str, expected_size: int | None) -> None:
    if expected_size is not None and size != expected_size:
        raise CorruptResultError(
            f"{where} holds {size} bytes but the reference expects {expected_size} bytes; "
            f"it is truncated, damaged or was overwritten (rerun to write it again)"
        )


def _spool_hashing(source: BinaryIO, spool: BinaryIO, where: str) -> tuple[str, Trailer]:
    """Copy everything but the last TRAILER_SIZE bytes into ``spool`` while hashing them."""
    digest = new_hasher(TRAILER_ALGORITHM)
    tail = b""
    size = 0
    for view in read_chunks(source):
        got = view.nbytes
        if got >= TRAILER_SIZE:  # everything held back so far is payload
            pieces: list[Any] = [tail, view[: got - TRAILER_SIZE]]
            tail = bytes(view[got - TRAILER_SIZE : got])
        else:
            joined = tail + bytes(view[:got])
            pieces = [joined[: max(len(joined) - TRAILER_SIZE, 0)]]
            tail = joined[len(pieces[0]) :]
        for piece in pieces:
            if len(piece):
                digest.update(piece)
                spool.write(piece)
                size += len(piece)
    if len(tail) < TRAILER_SIZE:
        raise CorruptResultError(
            f"{where} is truncated: too short to hold conveyor's trailer; "
            f"the write that made it did not finish"
        )
    trailer = parse_trailer(tail, where)
    if trailer.size != size:
        raise CorruptResultError(
            f"{where} is truncated or damaged: its trailer records a {trailer.size}-byte "
            f"payload but the file holds {size} bytes"
        )
    return format_checksum(digest.digest(), TRAILER_ALGORITHM), trailer


def _check_expected(
    trailer: Trailer, where: str, expected_checksum: str | None, expected_size: int | None
) -> None:
    if expected_checksum is not None and trailer.checksum != expected_checksum:
        raise CorruptResultError(
            f"{where} holds a different result than the reference: the file records "
            f"{trailer.checksum}, the reference expects {expected_checksum}; the key was "
            f"overwritten after the reference was made (rerun to write it again)"
        )
    if expected_size is not None and trailer.size != expected_size:
        raise CorruptResultError(
            f"{where} holds a {trailer.size}-byte payload but the reference expects "
            f"{expected_size} bytes; the key was overwritten or damaged (rerun to write it again)"
        )


def _compare(actual: str, trailer: Trailer, where: str, expected_checksum: str | None) -> None:
    expected = expected_checksum or trailer.checksum
    if actual != expected:
        raise CorruptResultError(
            f"{where} is corrupt: its payload hashes to {actual} but {expected} was recorded "
            f"when it was written; the stored bytes were damaged (rerun to write it again)"
        )
