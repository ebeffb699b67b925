"""Progress lines of a flow run that submits or maps many task runs.

``clean: 1,200/2,000 done, 3 failed, 14 s`` at INFO, at most every
:data:`PROGRESS_EVERY` seconds per flow run, and a last line when a task's submitted runs
have all ended (only for tasks that had more than one line's worth of waiting).

May import: conveyor.engine.logs.
"""

from __future__ import annotations

import threading
import time

from conveyor.engine.logs import logger

#: Seconds between two progress lines of one flow run.
PROGRESS_EVERY = 5.0


class Progress:
    """Counts of a flow run's submitted task runs, per task name."""

    __slots__ = ("_counts", "_last", "_lock", "_started", "flow_name")

    def __init__(self, flow_name: str) -> None:
        self.flow_name = flow_name
        self._lock = threading.Lock()
        self._counts: dict[str, list[int]] = {}  # name -> [submitted, done, failed, lines]
        self._started = time.monotonic()
        self._last = self._started

    def submitted(self, name: str) -> None:
        """One more submitted run of ``name``. No lock (submitting is the flow's hot path):
        only the submitting thread changes the count it adds to, and a rare miscount
        between two submitting threads would only show in a progress line."""
        counts = self._counts.get(name)
        if counts is None:
            counts = self._counts.setdefault(name, [0, 0, 0, 0])
        counts[0] += 1

    def ended(self, name: str, failed: bool) -> None:
        """A submitted run of ``name`` ended; maybe log a progress line."""
        with self._lock:
            counts = self._counts.get(name)
            if counts is None:
                return
            counts[1] += 1
            counts[2] += failed
            now = time.monotonic()
            all_done = counts[1] == counts[0]
            due = now - self._last >= PROGRESS_EVERY
            if not due and not (all_done and counts[3]):
                return
            self._last = now
            counts[3] += 1
            line = (f"{name}: {counts[1]:,}/{counts[0]:,} done, {counts[2]:,} failed, "
                    f"{now - self._started:.0f} s")
        logger.info("flow run %r: %s", self.flow_name, line)


__all__ = ["PROGRESS_EVERY", "Progress"]
