"""Copying a stored payload once: chunked reads (read ahead for network bodies), a view of
exactly ``size`` bytes, and the private copy a payload is hashed and deserialized from.

Used by :mod:`conveyor.results.payload`; knows file objects only.
"""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Iterator
from typing import Any, BinaryIO

from conveyor.exceptions import CorruptResultError
from conveyor.results.digests import WRITE_ALGORITHM, checksum_of, format_checksum, new_hasher
from conveyor.results.layout import read_into
from conveyor.results.prefault import PREFAULT_MIN, prefault, private_buffer
from conveyor.results.transfer import TransferMeter

#: Chunk used to hash a payload that is read back from a file.
READ_CHUNK = 4 << 20
#: A non-seekable source is spooled to memory up to this size, then to a temporary file.
SPOOL_MAX_MEMORY = 32 << 20
#: A seekable source's payload up to this size is copied into memory to be checked and read;
#: a larger one is copied to a private temporary file (so memory stays about one value).
COPY_IN_MEMORY_MAX = 1 << 30


def temporary_files() -> Any:
    import tempfile  # lazy: only large or streamed payloads are spooled (it imports random, shutil)

    return tempfile


class PayloadReader(io.RawIOBase):
    """A read-only view of exactly ``size`` bytes of ``source`` from its current position.

    A large ``readinto`` (a deserializer filling its own fresh buffer, e.g. the unpickler's
    ``bytes``) pre-faults that buffer first (:mod:`conveyor.results.prefault`).
    """

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
        target = view[:want]
        prefault(target)
        got = read_into(self._source, target)
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


def is_seekable(source: Any) -> bool:
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
    source: BinaryIO,
    size: int,
    where: str,
    in_memory_max: int = COPY_IN_MEMORY_MAX,
    meter: TransferMeter | None = None,
    algorithm: str = WRITE_ALGORITHM,
) -> tuple[str, BinaryIO]:
    """Copy the next ``size`` bytes of ``source`` once, hashing the copy with ``algorithm``.

    Returns ``(checksum, copy)``: the copy is a private file object positioned at its
    start, read with one call (the OS fills it straight from its cache) and hashed whole,
    by BLAKE3 on every core: a ``BytesIO`` sharing one bytes object below
    :data:`~conveyor.results.prefault.PREFAULT_MIN`, a :class:`MemoryCopy` over a private
    huge-page buffer up to ``in_memory_max`` bytes, else a temporary file.
    The caller closes it. ``meter`` counts the bytes (progress lines of a long read).
    """
    if size < PREFAULT_MIN and size <= in_memory_max:
        data = _read_bytes(source, size)
        if len(data) < size:
            raise CorruptResultError(f"{where} is truncated: its payload ends early")
        if meter is not None:
            meter.add(size)
        return checksum_of(data, algorithm), io.BytesIO(data)
    if size <= in_memory_max:
        memory = MemoryCopy(private_buffer(size))
        try:
            if read_into(source, memory.view) < size:
                raise CorruptResultError(f"{where} is truncated: its payload ends early")
            if meter is not None:
                meter.add(size)
            return checksum_of(memory.view, algorithm), memory
        except BaseException:
            memory.close()
            raise
    copy: BinaryIO = temporary_files().TemporaryFile()  # type: ignore[assignment]  # noqa: SIM115 - returned, closed by the caller
    try:
        digest = new_hasher(algorithm)
        seen = 0
        for view in read_chunks(source, size, ahead=False):
            digest.update(view)
            copy.write(view)
            seen += view.nbytes
            if meter is not None:
                meter.add(view.nbytes)
        if seen < size:
            raise CorruptResultError(f"{where} is truncated: its payload ends early")
        copy.seek(0)
    except BaseException:
        copy.close()
        raise
    return format_checksum(digest.digest(), algorithm), copy


class MemoryCopy(io.RawIOBase):
    """A private copy in memory as a read-only file object (positioned at its start).

    It holds a :func:`~conveyor.results.prefault.private_buffer`; :meth:`close` releases it
    at once (a large copy is not left to the garbage collector).
    """

    def __init__(self, buffer: Any) -> None:
        super().__init__()
        self._buffer = buffer
        self.view = memoryview(buffer)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.view.nbytes}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer: Any) -> int:
        out = memoryview(buffer).cast("B")
        n = max(0, min(out.nbytes, self.view.nbytes - self._pos))
        out[:n] = self.view[self._pos : self._pos + n]
        self._pos += n
        return n

    def read(self, size: int | None = -1) -> bytes:
        end = self.view.nbytes if size is None or size < 0 else min(self._pos + size, self.view.nbytes)
        data = self.view[self._pos : end].tobytes() if end > self._pos else b""
        self._pos = max(self._pos, end)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readline(self, size: int | None = -1) -> bytes:
        end = self.view.nbytes if size is None or size < 0 else min(self._pos + size, self.view.nbytes)
        found = self._buffer.find(b"\n", self._pos, end)
        return self.read((end if found < 0 else found + 1) - self._pos)

    def close(self) -> None:
        if not self.closed:
            self.view.release()
            if hasattr(self._buffer, "close"):
                self._buffer.close()
        super().close()


def payload_reader(copy: BinaryIO, size: int) -> BinaryIO:
    """What a deserializer reads a verified copy of ``size`` bytes through: a small
    in-memory copy itself (it holds exactly the payload, and its reads are C calls: a
    pickle of small objects makes many), else a :class:`PayloadReader` (exactly ``size``
    bytes; a large destination pre-faulted)."""
    if type(copy) is io.BytesIO and size < PREFAULT_MIN:
        return copy
    return PayloadReader(copy, size)  # type: ignore[return-value]


class Prefixed(io.RawIOBase):
    """``head`` (bytes already read from ``source``) followed by the rest of ``source``."""

    def __init__(self, head: bytes, source: Any) -> None:
        super().__init__()
        self._head = head
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(self._head), view.nbytes)
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        return read_into(self._source, view)
