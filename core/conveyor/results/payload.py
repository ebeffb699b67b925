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

import hashlib
import io
import queue
import tempfile
import threading
from collections.abc import Iterator
from typing import Any, BinaryIO

import attrs

from conveyor.exceptions import CorruptResultError
from conveyor.results.layout import (
    TRAILER_SIZE,
    Trailer,
    format_checksum,
    parse_trailer,
    read_exactly,
    read_header,
    read_into,
)

#: Chunk used to hash a payload that is read back from a file.
READ_CHUNK = 4 << 20
#: A non-seekable source is spooled to memory up to this size, then to a temporary file.
SPOOL_MAX_MEMORY = 32 << 20
#: A seekable source's payload up to this size is copied into memory to be checked and read;
#: a larger one is copied to a private temporary file (so memory stays about one value).
COPY_IN_MEMORY_MAX = 1 << 30


class PayloadReader(io.RawIOBase):
    """A read-only view of exactly ``size`` bytes of ``source`` from its current position."""

    def __init__(self, source: BinaryIO, size: int) -> None:
        super().__init__()
        self._source = source
        self._remaining = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = min(view.nbytes, self._remaining)
        if want <= 0:
            return 0
        got = read_into(self._source, view[:want])
        self._remaining -= got
        return got

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0 or size > self._remaining:
            size = self._remaining
        if size == 0:
            return b""
        data = self._source.read(size)
        self._remaining -= len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readline(self, size: int | None = -1) -> bytes:
        limit = self._remaining if size is None or size < 0 else min(size, self._remaining)
        if limit == 0:
            return b""
        readline = getattr(self._source, "readline", None)
        if readline is None:  # byte by byte: only for odd sources
            out = bytearray()
            while len(out) < limit:
                ch = self.read(1)
                if not ch:
                    break
                out += ch
                if ch == b"\n":
                    break
            return bytes(out)
        line: bytes = readline(limit)
        self._remaining -= len(line)
        return line


def _is_seekable(source: Any) -> bool:
    try:
        return bool(source.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def read_chunks(
    source: Any, limit: int | None = None, chunk: int = READ_CHUNK, *, ahead: bool = True
) -> Iterator[memoryview]:
    """Yield successive chunks of ``source`` (at most ``limit`` bytes in all, if given).

    Each chunk is valid until the next one is asked for. With ``ahead``, once a source
    has proved large (its first chunk was full), further chunks are read ahead on a
    helper thread while the caller works on the current one (socket reads release the
    GIL), so a network body is received while the previous chunk is hashed. Small
    sources cost no thread. Local files are read without it (``ahead=False``): they are
    usually in the page cache, where a helper thread only adds overhead (measured).
    """
    first = bytearray(chunk if limit is None else min(chunk, limit))
    view = memoryview(first)
    got = read_into(source, view)
    if got:
        yield view[:got]
    if got < len(first) or (limit is not None and got >= limit):
        return
    left = None if limit is None else limit - got
    if ahead:
        yield from _read_ahead(source, left, chunk, first)
        return
    while left is None or left > 0:
        want = len(first) if left is None else min(len(first), left)
        got = read_into(source, view[:want])
        if got:
            yield view[:got]
        if got < want:
            return
        if left is not None:
            left -= got


def _read_ahead(
    source: Any, left: int | None, chunk: int, spare: bytearray
) -> Iterator[memoryview]:
    free: queue.Queue[bytearray | None] = queue.Queue()
    full: queue.Queue[tuple[Any, int]] = queue.Queue()
    free.put(spare)
    free.put(bytearray(chunk))
    free.put(bytearray(chunk))

    def produce() -> None:
        remaining = left
        try:
            while True:
                buf = free.get()
                if buf is None:
                    return
                want = chunk if remaining is None else min(chunk, remaining)
                got = read_into(source, memoryview(buf)[:want]) if want else 0
                if got:
                    full.put((buf, got))
                if remaining is not None:
                    remaining -= got
                if got < want or want == 0:
                    full.put((None, 0))
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            full.put((exc, 0))

    reader = threading.Thread(target=produce, name="conveyor-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            item, got = full.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield memoryview(item)[:got]
            free.put(item)
    finally:
        free.put(None)
        reader.join()


def _read_bytes(source: BinaryIO, size: int) -> bytes:
    """The next ``size`` bytes of ``source`` as one bytes object (fewer only at its end)."""
    data = source.read(size)
    if len(data) >= size or not data:
        return data
    pieces = [data]
    got = len(data)
    while got < size:
        more = source.read(size - got)
        if not more:
            break
        pieces.append(more)
        got += len(more)
    return b"".join(pieces)


def copy_region(
    source: BinaryIO, size: int, where: str, in_memory_max: int = COPY_IN_MEMORY_MAX
) -> tuple[str, BinaryIO]:
    """Copy the next ``size`` bytes of ``source`` once, hashing the copy.

    Returns ``(checksum, copy)``: the copy is a private file object positioned at its
    start (a ``BytesIO`` sharing one bytes object up to ``in_memory_max`` bytes, else a
    temporary file). The caller closes it.
    """
    if size <= in_memory_max:
        data = _read_bytes(source, size)
        if len(data) < size:
            raise CorruptResultError(f"{where} is truncated: its payload ends early")
        return format_checksum(hashlib.sha256(data).digest()), io.BytesIO(data)
    copy: BinaryIO = tempfile.TemporaryFile()  # type: ignore[assignment]  # noqa: SIM115 - returned, closed by the caller
    try:
        digest = hashlib.sha256()
        seen = 0
        for view in read_chunks(source, size, ahead=False):
            digest.update(view)
            copy.write(view)
            seen += view.nbytes
        if seen < size:
            raise CorruptResultError(f"{where} is truncated: its payload ends early")
        copy.seek(0)
    except BaseException:
        copy.close()
        raise
    return format_checksum(digest.digest()), copy


@attrs.frozen
class Payload:
    """A checked payload, positioned for reading: ``reader`` yields exactly its bytes."""

    header: dict[str, Any]
    trailer: Trailer
    checksum: str
    reader: BinaryIO


def check_payload(
    source: BinaryIO,
    where: str,
    *,
    expected_checksum: str | None = None,
    expected_size: int | None = None,
    spool_max_memory: int = SPOOL_MAX_MEMORY,
    in_memory_max: int = COPY_IN_MEMORY_MAX,
) -> tuple[Payload, BinaryIO | None]:
    """Read and verify a stored result from ``source``; return it and the copy to close.

    The payload is read from ``source`` once, into a private copy that is hashed and
    then handed to the serializer (never ``source`` again): for a seekable source (a
    local file) the trailer is read first, then the payload is copied (into memory up to
    ``in_memory_max`` bytes, else a temporary file); others (network bodies) are copied
    into a spooled temporary file while hashing. The digest is compared to the trailer's
    and to ``expected_checksum`` (from a reference) before anything is deserialized; any
    difference is a CorruptResultError naming both digests.
    """
    seekable = _is_seekable(source)
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
        actual, spool = copy_region(source, payload_size, where, in_memory_max)
        try:
            _compare(actual, trailer, where, expected_checksum)
        except BaseException:
            spool.close()
            raise
        reader: BinaryIO = PayloadReader(spool, payload_size)  # type: ignore[assignment]
    else:
        spool = tempfile.SpooledTemporaryFile(max_size=spool_max_memory)  # type: ignore[assignment]  # noqa: SIM115 - returned, closed by the caller
        try:
            actual, trailer = _spool_hashing(source, spool, where)  # type: ignore[arg-type]
            _check_expected(trailer, where, expected_checksum, expected_size)
            _compare(actual, trailer, where, expected_checksum)
            spool.seek(0)  # type: ignore[union-attr]
        except BaseException:
            spool.close()  # type: ignore[union-attr]
            raise
        reader = PayloadReader(spool, trailer.size)  # type: ignore[arg-type, assignment]
    return Payload(header=header, trailer=trailer, checksum=actual, reader=reader), spool


def _spool_hashing(source: BinaryIO, spool: BinaryIO, where: str) -> tuple[str, Trailer]:
    """Copy everything but the last TRAILER_SIZE bytes into ``spool`` while hashing them."""
    digest = hashlib.sha256()
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
    return format_checksum(digest.digest()), trailer


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
