"""The byte format of a persisted result, and streaming readers and writers for it.

A stored result is::

    b"CONVEYOR" | u8 format version | u32 big-endian header length | header JSON
    | payload (the serializer's bytes, exactly as ``serializer.dump`` wrote them)
    | trailer: u64 big-endian payload length | sha256 of the payload (32 bytes) | b"CVYEND\\0\\0"

The header says who wrote the payload (serializer configuration, time, conveyor
version); the fixed-size trailer carries what is only known once the payload has been
streamed out: its length and digest. Nothing is base64'd or wrapped: a large value costs
what its serializer costs, plus one pass of sha256, which is overlapped with the write.

This module knows bytes and file objects only; :mod:`conveyor.results` ties it to
storage blocks, serializers and references. Every malformed input is a
:class:`~conveyor.exceptions.CorruptResultError` whose message starts with the
``where`` text the caller passes (storage and key), never a ``struct.error``.
"""

from __future__ import annotations

import collections
import datetime
import hashlib
import io
import json
import os
import queue
import stat
import struct
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import attrs

from conveyor.exceptions import CorruptResultError

MAGIC = b"CONVEYOR"
FORMAT_VERSION = 1
TRAILER_MAGIC = b"CVYEND\x00\x00"
_PREFIX = struct.Struct(">8sBI")  # magic, format version, header length
_TRAILER = struct.Struct(">Q32s8s")  # payload length, sha256, trailer magic
PREFIX_SIZE = _PREFIX.size  # 13
TRAILER_SIZE = _TRAILER.size  # 48
MAX_HEADER_SIZE = 1 << 20
CHECKSUM_PREFIX = "sha256:"

#: Writes at least this big are hashed on a helper thread while the caller writes them.
PARALLEL_HASH_THRESHOLD = 4 << 20
#: Large buffers are written (and hashed behind the write) in slices of this size.
PIPELINE_CHUNK = 8 << 20
#: Once this much payload has reached a real file, the OS is asked to start writing it out.
WRITEBACK_THRESHOLD = 8 << 20
#: Chunk used to hash a payload that is read back from a file.
READ_CHUNK = 4 << 20
#: A non-seekable source is spooled to memory up to this size, then to a temporary file.
SPOOL_MAX_MEMORY = 32 << 20


def format_checksum(digest: bytes) -> str:
    """``"sha256:<hex>"`` of a raw sha256 digest."""
    return CHECKSUM_PREFIX + digest.hex()


@attrs.frozen
class Trailer:
    """What the end of a stored result says about its payload."""

    size: int
    checksum: str


# -- writing ----------------------------------------------------------------------------


def make_header(serializer: dict[str, Any]) -> bytes:
    """The prefix and header JSON that start every stored result."""
    from conveyor import __version__

    header = json.dumps(
        {
            "serializer": serializer,
            "created": datetime.datetime.now(datetime.UTC).isoformat(),
            "conveyor": __version__,
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    return _PREFIX.pack(MAGIC, FORMAT_VERSION, len(header)) + header


def make_trailer(size: int, digest: bytes) -> bytes:
    return _TRAILER.pack(size, digest, TRAILER_MAGIC)


class _EarlyWriteback:
    """Asks the OS to start writing a file's data to disk while the caller keeps working.

    When a large payload has been handed to a real file, its bytes sit dirty in the page
    cache until the storage's final ``fsync``, which then waits for the whole disk
    write. Calling ``fdatasync`` from a helper thread as soon as large writes have
    landed lets that disk write overlap with hashing (and with the rest of the
    serializer's work), so the final ``fsync`` has little left to do. It changes
    nothing about durability or atomicity: the storage still syncs and renames as
    before. Errors here are ignored; the storage's own ``fsync`` reports them.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._cond = threading.Condition()
        self._dirty = False
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="conveyor-writeback", daemon=True)
        self._thread.start()

    @classmethod
    def for_target(cls, target: Any) -> _EarlyWriteback | None:
        try:
            fd = target.fileno()
            return cls(fd) if stat.S_ISREG(os.fstat(fd).st_mode) else None
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            return None

    def kick(self) -> None:
        with self._cond:
            self._dirty = True
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not (self._dirty or self._stop):
                    self._cond.wait()
                if self._stop:
                    return
                self._dirty = False
            try:
                os.fdatasync(self._fd)
            except OSError:
                return

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join()


class _Hasher:
    """sha256 on a helper thread, fed in order: the caller hands over buffers and goes on."""

    def __init__(self, digest: Any) -> None:
        self._digest = digest
        self._queue: collections.deque[memoryview] = collections.deque()
        self._cond = threading.Condition()
        self._busy = False
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="conveyor-hash", daemon=True)
        self._thread.start()

    def put(self, view: memoryview) -> None:
        with self._cond:
            self._queue.append(view)
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stop:
                    self._cond.wait()
                if not self._queue:
                    return
                view = self._queue.popleft()
                self._busy = True
            try:
                self._digest.update(view)  # releases the GIL for large buffers
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def drain(self) -> None:
        """Wait until everything handed over so far is hashed."""
        with self._cond:
            while self._queue or self._busy:
                self._cond.wait()

    def stop(self) -> None:
        with self._cond:
            self._queue.clear()
            self._stop = True
            self._cond.notify_all()
        self._thread.join()


class HashingWriter:
    """A write-only, non-seekable stream that hashes and counts what passes into ``target``.

    A buffer of at least :data:`PARALLEL_HASH_THRESHOLD` bytes is written in slices of
    :data:`PIPELINE_CHUNK`; each slice is hashed on a helper thread as soon as it has
    been written, while the next one is being written (``hashlib`` and file writes both
    release the GIL). When ``target`` is a real file, the OS is asked to start writing
    to disk as soon as data has landed (see :class:`_EarlyWriteback`), so hashing
    overlaps with the disk. ``write`` returns only once its buffer is both written and
    hashed, so callers may reuse their buffers. A failure of ``target.write`` is kept
    in :attr:`error` (so that the caller can tell a storage failure from a serializer
    failure) and re-raised. Call :meth:`finish` when done (also on failure).
    """

    def __init__(self, target: BinaryIO, parallel_threshold: int = PARALLEL_HASH_THRESHOLD) -> None:
        self._target = target
        self._hash = hashlib.sha256()
        self._threshold = parallel_threshold
        self._hasher: _Hasher | None = None
        self._writeback: _EarlyWriteback | None = None
        self._writeback_tried = False
        self._unsynced = 0
        self.size = 0
        self.error: BaseException | None = None

    def write(self, data: Any) -> int:
        view = data if isinstance(data, memoryview) else memoryview(data)
        if view.ndim != 1 or view.format not in ("B", "b", "c"):
            view = view.cast("B")
        n = view.nbytes
        try:
            if n >= self._threshold:
                if self._hasher is None:
                    self._hasher = _Hasher(self._hash)
                try:
                    for start in range(0, n, PIPELINE_CHUNK):
                        piece = view[start : start + PIPELINE_CHUNK]
                        self._target.write(piece)
                        self._hasher.put(piece)
                        self._landed(piece.nbytes)
                finally:
                    self._hasher.drain()
            else:
                self._hash.update(view)
                self._target.write(view)
                self._landed(n)
        except BaseException as exc:
            self.error = exc
            raise
        self.size += n
        return n

    def _landed(self, n: int) -> None:
        self._unsynced += n
        if self._unsynced < WRITEBACK_THRESHOLD:
            return
        if not self._writeback_tried:
            self._writeback_tried = True
            self._writeback = _EarlyWriteback.for_target(self._target)
        if self._writeback is not None:
            self._unsynced = 0
            self._writeback.kick()

    def finish(self) -> None:
        """Stop the helper threads, if any (before the storage closes its file)."""
        if self._hasher is not None:
            self._hasher.stop()
            self._hasher = None
        if self._writeback is not None:
            self._writeback.stop()
            self._writeback = None

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        """Nothing to do: every write goes straight to the target."""

    def close(self) -> None:
        """Ignored: the result's trailer still has to be written after the payload."""

    @property
    def closed(self) -> bool:
        return False

    def digest(self) -> bytes:
        return self._hash.digest()


def write_stream(
    target: BinaryIO,
    serializer_dict: dict[str, Any],
    dump: Callable[[HashingWriter], None],
) -> tuple[str, int]:
    """Write header, the payload made by ``dump(writer)``, and trailer into ``target``.

    Returns ``(checksum, payload size)``. Exceptions from ``dump`` propagate unchanged;
    the writer's :attr:`HashingWriter.error` tells whether ``target`` failed.
    """
    target.write(make_header(serializer_dict))
    writer = HashingWriter(target)
    try:
        dump(writer)
    finally:
        writer.finish()
    digest = writer.digest()
    target.write(make_trailer(writer.size, digest))
    return format_checksum(digest), writer.size


# -- reading ----------------------------------------------------------------------------


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
        got = _readinto(self._source, view[:want])
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


def _readinto(source: Any, view: memoryview) -> int:
    """Fill as much of ``view`` as ``source`` gives (short only at end of file)."""
    readinto = getattr(source, "readinto", None)
    total = 0
    while total < view.nbytes:
        if readinto is not None:
            got = readinto(view[total:])
        else:
            chunk = source.read(view.nbytes - total)
            got = len(chunk)
            view[total : total + got] = chunk
        if not got:
            break
        total += got
    return total


def _read_exactly(source: Any, n: int) -> bytes:
    buf = bytearray(n)
    got = _readinto(source, memoryview(buf))
    return bytes(buf[:got])


def read_header(source: BinaryIO, where: str) -> tuple[dict[str, Any], int]:
    """Read prefix and header from the start of ``source``; return (header, bytes used)."""
    prefix = _read_exactly(source, PREFIX_SIZE)
    if len(prefix) < len(MAGIC) or prefix[: len(MAGIC)] != MAGIC:
        raise CorruptResultError(
            f"{where} is not a conveyor result (it does not start with {MAGIC!r}); "
            f"the key holds something else, or the reference points at the wrong storage"
        )
    if len(prefix) < PREFIX_SIZE:
        raise CorruptResultError(f"{where} is truncated: it ends inside its header")
    _magic, version, header_len = _PREFIX.unpack(prefix)
    if version != FORMAT_VERSION:
        raise CorruptResultError(
            f"{where} uses result format version {version}, but this conveyor reads only "
            f"version {FORMAT_VERSION}; upgrade conveyor to read it"
        )
    if header_len > MAX_HEADER_SIZE:
        raise CorruptResultError(
            f"{where} is damaged: its header claims {header_len} bytes (at most {MAX_HEADER_SIZE})"
        )
    raw = _read_exactly(source, header_len)
    if len(raw) < header_len:
        raise CorruptResultError(f"{where} is truncated: it ends inside its header")
    try:
        header = json.loads(raw)
    except ValueError:
        header = None
    if not isinstance(header, dict):
        raise CorruptResultError(f"{where} is damaged: its header is not a JSON object")
    return header, PREFIX_SIZE + header_len


def parse_trailer(raw: bytes, where: str) -> Trailer:
    if len(raw) != TRAILER_SIZE or raw[-len(TRAILER_MAGIC) :] != TRAILER_MAGIC:
        raise CorruptResultError(
            f"{where} is truncated or incomplete: it does not end with conveyor's trailer; "
            f"the write that made it did not finish"
        )
    size, digest, _magic = _TRAILER.unpack(raw)
    return Trailer(size=size, checksum=format_checksum(digest))


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
    got = _readinto(source, view)
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
        got = _readinto(source, view[:want])
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
                got = _readinto(source, memoryview(buf)[:want]) if want else 0
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


def hash_region(source: BinaryIO, size: int, where: str) -> str:
    """sha256 of the next ``size`` bytes of ``source``."""
    digest = hashlib.sha256()
    seen = 0
    for view in read_chunks(source, size, ahead=False):
        digest.update(view)
        seen += view.nbytes
    if seen < size:
        raise CorruptResultError(f"{where} is truncated: its payload ends early")
    return format_checksum(digest.digest())


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
) -> tuple[Payload, BinaryIO | None]:
    """Read and verify a stored result from ``source``; return it and any spool to close.

    Seekable sources (local files) are hashed in place, then rewound to the payload.
    Others (network bodies) are copied once into a spooled temporary file while hashing.
    The digest is compared to the trailer's and to ``expected_checksum`` (from a
    reference) before anything is deserialized; any difference is a CorruptResultError
    naming both digests.
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
        trailer = parse_trailer(_read_exactly(source, TRAILER_SIZE), where)
        payload_size = end - start - TRAILER_SIZE
        if trailer.size != payload_size:
            raise CorruptResultError(
                f"{where} is truncated or damaged: its trailer records a {trailer.size}-byte "
                f"payload but the file holds {payload_size} bytes"
            )
        _check_expected(trailer, where, expected_checksum, expected_size)
        source.seek(start)
        actual = hash_region(source, payload_size, where)
        _compare(actual, trailer, where, expected_checksum)
        source.seek(start)
        reader: BinaryIO = PayloadReader(source, payload_size)  # type: ignore[assignment]
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
