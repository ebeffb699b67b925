"""Runs whose process is gone: found and marked Crashed by any later process or command.

A top-level flow run records its process (host, pid, start time) when it starts. A run
still Running or Pending whose process has certainly ended (same host, pid gone or
reused) is marked Crashed, with its subflow runs and task runs that had not finished.
Runs of other hosts are left alone: whether their process lives cannot be told here.

May import: conveyor.engine.origin, conveyor.exceptions, conveyor.metadata.
"""

from __future__ import annotations

import time

from conveyor.engine.logs import logger
from conveyor.engine.origin import process_is_gone
from conveyor.exceptions import MetadataError
from conveyor.metadata import MetadataStore


def mark_crashed_runs(store: MetadataStore) -> list[str]:
    """Mark Crashed every unfinished flow run whose process is gone; return their ids."""
    marked = []
    for row in store.read_unfinished_flow_runs():
        if not process_is_gone(row["host"], row["pid"], row["process_start"]):
            continue
        message = (
            f"the process running it (pid {row['pid']} on {row['host']}) ended without finishing "
            f"the run (killed, or the machine stopped); resume it: conveyor runs resume {row['id']}"
        )
        try:
            if store.mark_crashed(row["id"], message, time.time()):
                marked.append(row["id"])
                logger.warning("flow run %r (%s): Crashed: %s", row["flow_name"], row["id"], message)
        except MetadataError as exc:  # e.g. a read-only home: the runs are shown as recorded
            logger.debug("could not mark flow run %s Crashed: %s", row["id"], exc)
            break
    return marked


__all__ = ["mark_crashed_runs"]
