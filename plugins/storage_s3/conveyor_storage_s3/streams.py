"""File objects between conveyor's writers/readers and boto3.

:class:`Pipe` connects a writer (the code inside ``S3.open_write``) to boto3's transfer
manager running ``upload_fileobj`` in a background thread. It holds at most
``capacity`` bytes: a writer that gets ahead of the upload waits, so the memory used
by a streaming write does not grow with the value's size. The transfer manager adds its
own bounded part buffers (see ``TRANSFER_CONFIG`` in :mod:`conveyor_storage_s3.s3`).

:class:`BodyReader` adapts botocore's streaming body to ``io.RawIOBase`` so it can be
wrapped in ``io.BufferedReader`` (``read(n)``, ``readinto``, ``readline``, ``peek``).
"""

from __future__ import annotations

import collections
import io
import threading
from typing import Any


class PipeAborted(Exception):
    """Raised to the reading side when the writer gave up: the upload must not complete."""


class PipeBroken(Exception):
    """Raised to the writing side when the reader (the upload) failed."""


class Pipe:
    """A bounded in-memory byte pipe: one writer thread, one reader thread.

    It holds less than ``capacity + piece`` bytes. ``read(n)`` needs ``n <= capacity``
    (it waits for ``n`` bytes, and the writer waits while ``capacity`` are buffered).
    """

    def __init__(self, capacity: int, piece: int = 1 << 20) -> None:
        self._capacity = capacity
        self._piece = piece
        self._chunks: collections.deque[bytes] = collections.deque()
        self._head = 0  # bytes of _chunks[0] already consumed
        self._size = 0  # bytes buffered
        self._eof = False
        self._aborted = False
        self._broken: BaseException | None = None
        self._cond = threading.Condition()
        self.bytes_written = 0

    # -- writer side -------------------------------------------------------------------

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        total = len(view)
        for start in range(0, total, self._piece):
            piece = bytes(view[start : start + self._piece])
            with self._cond:
                while self._size >= self._capacity and self._broken is None:
                    self._cond.wait()
                if self._broken is not None:
                    raise PipeBroken(str(self._broken)) from self._broken
                if self._eof:
                    raise ValueError("write to a closed S3 stream")
                self._chunks.append(piece)
                self._size += len(piece)
                self._cond.notify_all()
        self.bytes_written += total
        return total

    def close(self) -> None:
        """End of data: the reader sees EOF once it has read what is buffered."""
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def abort(self) -> None:
        """The writer failed: the reader raises :class:`PipeAborted` from now on."""
        with self._cond:
            self._aborted = True
            self._eof = True
            self._chunks.clear()
            self._size = 0
            self._cond.notify_all()

    def break_(self, exc: BaseException) -> None:
        """The reader failed: wake the writer and make its next write raise."""
        with self._cond:
            self._broken = exc
            self._cond.notify_all()

    # -- reader side -------------------------------------------------------------------

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        """Exactly ``n`` bytes (fewer only at EOF); boto3 relies on full reads."""
        with self._cond:
            if n is None or n < 0:
                while not self._eof:
                    self._cond.wait()
                n = self._size
            else:
                if n > self._capacity:
                    raise ValueError(
                        f"read({n}) is larger than the pipe's capacity {self._capacity}"
                    )
                while self._size < n and not self._eof:
                    self._cond.wait()
            if self._aborted:
                raise PipeAborted("the writer failed; the upload is abandoned")
            out = self._take(min(n, self._size))
            self._cond.notify_all()
            return out

    def _take(self, n: int) -> bytes:
        parts = []
        need = n
        while need:
            chunk = self._chunks[0]
            available = len(chunk) - self._head
            if available <= need:
                parts.append(chunk if self._head == 0 else chunk[self._head :])
                self._chunks.popleft()
                self._head = 0
                need -= available
            else:
                parts.append(chunk[self._head : self._head + need])
                self._head += need
                need = 0
        self._size -= n
        return parts[0] if len(parts) == 1 else b"".join(parts)


class BodyReader(io.RawIOBase):
    """``io.RawIOBase`` over a botocore ``StreamingBody`` (checks the length at the end)."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        n = len(data)
        memoryview(buffer).cast("B")[:n] = data
        return n

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()
