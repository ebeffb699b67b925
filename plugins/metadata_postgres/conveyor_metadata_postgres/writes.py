"""How :class:`~conveyor_metadata_postgres.PostgresStore` commits a batch of the shared
writer (:class:`conveyor.metadata.RunWriter`): :class:`BatchWrites`.

The statements are the SQLite store's own list (``conveyor.metadata.sqlite_writes``: SQL
both databases accept), in one transaction: new runs and state rows by ``COPY`` (the
same columns), the rest with psycopg's ``executemany`` (pipelined). Many processes on many machines write at once: run rows are their own
(ids are UUIDs), and the rows several writers may share (cache entries, write intents)
are written in key order, so two batches never wait on each other in a cycle. A
serialization failure or deadlock the server reports anyway is retried, at most
:data:`ATTEMPTS` times with a growing, jittered pause; any other failure is raised at
once (nothing of the batch is committed: the transaction is all or nothing).
"""

from __future__ import annotations

import random
import time
from operator import itemgetter
from typing import Any

import psycopg
from conveyor.metadata import Batch
from conveyor.metadata.sqlite_writes import STATEMENTS
from psycopg import errors

#: Attempts at one batch when the server reports a serialization failure or a deadlock.
ATTEMPTS = 8
_RETRY = (errors.SerializationFailure, errors.DeadlockDetected)
#: The plain inserts (new runs, state rows: never a conflict) go by COPY, a few times
#: faster than one INSERT per row: ``COPY <table> (<columns>) FROM STDIN`` of the same
#: columns as the INSERT of that list.
COPY_STATEMENTS = {
    name: sql.split(" VALUES", 1)[0].replace("INSERT INTO ", "COPY ", 1) + " FROM STDIN"
    for sql, name in STATEMENTS if name in ("flows", "tasks", "states")
}


class BatchWrites:
    """``write_batch`` of the PostgreSQL store (a mixin over its ``Connections``)."""

    raw_transaction: Any
    _failed: Any
    _local: Any

    def write_batch(self, batch: Batch) -> None:
        """Commit ``batch`` in one transaction, retrying conflicts a bounded number of times."""
        batch.caches.sort(key=itemgetter(0))  # stable: the last row of a key still wins
        batch.intents_done.sort()
        for attempt in range(1, ATTEMPTS + 1):
            tx = None
            try:
                with self.raw_transaction() as tx:
                    for sql, name in STATEMENTS:
                        rows = getattr(batch, name)
                        if name in COPY_STATEMENTS and rows:
                            with tx.conn.cursor() as cur, cur.copy(COPY_STATEMENTS[name]) as copy:
                                for row in rows:
                                    copy.write_row(row)
                        else:
                            tx.executemany(sql, rows)
                return
            except _RETRY as exc:
                if attempt == ATTEMPTS:
                    raise self._failed(tx.conn, exc, "write") from None
                time.sleep(min(0.5, 0.01 * 2**attempt) * (0.5 + random.random()))
            except psycopg.Error as exc:
                conn = tx.conn if tx is not None else getattr(self._local, "conn", None)
                if conn is None:
                    raise
                raise self._failed(conn, exc, "write") from None


__all__ = ["ATTEMPTS", "COPY_STATEMENTS", "BatchWrites"]
