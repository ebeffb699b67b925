"""The write pipeline of a stored result: a writer that hashes and counts, fast.

:func:`write_stream` writes the payload, exactly the serializer's bytes and nothing else
(see :mod:`conveyor.results.layout`), into a target file object through
:class:`HashingWriter`, which overlaps the checksum (BLAKE3, see
:mod:`conveyor.results.digests`) with the write (on a helper thread, for large buffers) and, on a real file, asks the OS to start writing to disk early.
"""

from __future__ import annotations

import collections
import io
import os
import stat
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

from conveyor.results.digests import WRITE_ALGORITHM, format_checksum, new_hasher
from conveyor.results.transfer import TransferMeter

#: Writes at least this big are hashed on a helper thread while the caller writes them.
PARALLEL_HASH_THRESHOLD = 4 << 20
#: Large buffers are written (and hashed behind the write) in slices of this size.
PIPELINE_CHUNK = 8 << 20
#: Once this much payload has reached a real file, the OS is asked to start writing it out.
WRITEBACK_THRESHOLD = 8 << 20


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
    """The checksum on a helper thread, fed in order: the caller hands over buffers and goes on."""

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
                self._digest.update(view)  # hashlib and blake3 release the GIL for large buffers
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
    been written, while the next one is being written (BLAKE3 and file writes both
    release the GIL). When ``target`` is a real file, the OS is asked to start writing
    to disk as soon as data has landed (see :class:`_EarlyWriteback`), so hashing
    overlaps with the disk. ``write`` returns only once its buffer is both written and
    hashed, so callers may reuse their buffers. A failure of ``target.write`` is kept
    in :attr:`error` (so that the caller can tell a storage failure from a serializer
    failure) and re-raised. Call :meth:`finish` when done (also on failure).
    """

    def __init__(self, target: BinaryIO, parallel_threshold: int = PARALLEL_HASH_THRESHOLD,
                 meter: TransferMeter | None = None) -> None:
        self._target = target
        self._meter = meter
        self._hash = new_hasher(WRITE_ALGORITHM)
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
        if self._meter is not None:
            self._meter.add(n)
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
        """Ignored: the storage commits (or abandons) the target when its block exits."""

    @property
    def closed(self) -> bool:
        return False

    def digest(self) -> bytes:
        return self._hash.digest()


def write_stream(
    target: BinaryIO, dump: Callable[[HashingWriter], None], where: str | None = None
) -> tuple[str, int]:
    """Write the payload made by ``dump(writer)`` into ``target``, hashing it on the way.

    Nothing but the serializer's bytes reaches ``target``. Returns ``(checksum, payload
    size)``. Exceptions from ``dump`` propagate unchanged; the writer's
    :attr:`HashingWriter.error` tells whether ``target`` failed. With ``where`` (the
    storage and key), a long write logs its progress (:mod:`conveyor.results.transfer`).
    """
    meter = TransferMeter("writing", where) if where is not None else None
    writer = HashingWriter(target, meter=meter)
    try:
        dump(writer)
    finally:
        writer.finish()
    if meter is not None:
        meter.finish()
    return format_checksum(writer.digest(), WRITE_ALGORITHM), writer.size
