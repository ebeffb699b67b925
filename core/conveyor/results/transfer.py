"""Progress lines of a long result write or read: bytes done, total, MB/s.

A persist or load of at least :data:`PROGRESS_MIN_BYTES` that is still going after
:data:`PROGRESS_FIRST_SECONDS` logs an INFO line on logger ``conveyor.results``, then one
every :data:`PROGRESS_EVERY_SECONDS`, and a last one when it ends::

    writing s3-bucket/results/abc: 1.2 GiB of 4.0 GiB (30%), 41 MB/s, 29 s

A transfer whose total is not known up front (a streaming serializer) counts from the
first bytes on and says only what was done. Small or quick transfers log nothing, and a
meter costs a clock read per chunk.

May import: conveyor.units and the standard library.
"""

from __future__ import annotations

import logging
import time

from conveyor.units import format_size

_log = logging.getLogger("conveyor.results")

#: Transfers smaller than this never log progress (unless their total is unknown).
PROGRESS_MIN_BYTES = 64 << 20
#: Seconds before the first progress line.
PROGRESS_FIRST_SECONDS = 2.0
#: Seconds between two progress lines.
PROGRESS_EVERY_SECONDS = 5.0


class TransferMeter:
    """Counts bytes of one write or read and logs its progress when it runs long."""

    __slots__ = ("_due", "_started", "done", "lines", "total", "verb", "where")

    def __init__(self, verb: str, where: str, total: int | None = None) -> None:
        self.verb = verb
        self.where = where
        self.total = total
        self.done = 0
        self.lines = 0
        self._started = time.monotonic()
        self._due = self._started + PROGRESS_FIRST_SECONDS

    def add(self, n: int) -> None:
        """``n`` more bytes went through; log a line when one is due."""
        self.done += n
        now = time.monotonic()
        if now < self._due:
            return
        if (self.done if self.total is None else self.total) < PROGRESS_MIN_BYTES:
            return
        self._due = now + PROGRESS_EVERY_SECONDS
        self._line(now, "")

    def finish(self) -> None:
        """The last line, only when progress lines were logged."""
        if self.lines:
            self._line(time.monotonic(), " (done)")

    def _line(self, now: float, suffix: str) -> None:
        self.lines += 1
        seconds = max(now - self._started, 1e-9)
        rate = self.done / seconds / 1e6
        of = ""
        if self.total:
            of = f" of {format_size(self.total)} ({self.done * 100 // self.total}%)"
        _log.info("%s %s: %s%s, %.0f MB/s, %.0f s%s", self.verb, self.where,
                  format_size(self.done), of, rate, seconds, suffix)


__all__ = [
    "PROGRESS_EVERY_SECONDS",
    "PROGRESS_FIRST_SECONDS",
    "PROGRESS_MIN_BYTES",
    "TransferMeter",
]
