"""How the SQLite store commits a batch of the shared writer: :class:`BatchWrites`.

:data:`STATEMENTS` are the statements of :class:`~conveyor.metadata.batch.Batch`'s rows,
in SQL that PostgreSQL accepts too (with ``%s`` for ``?``: its backend runs the same
list); here in one ``BEGIN IMMEDIATE`` transaction (:meth:`Connections.transaction`), retried briefly when SQLite says
"locked" at once (a first connection switching to WAL mode while another writes).

May import: the sibling ``batch``, the standard library.
"""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING, Any

from conveyor.metadata.batch import IMPLIES_FINAL

if TYPE_CHECKING:
    from conveyor.metadata.batch import Batch

_INSERT_FLOW_RUN = (
    "INSERT INTO flow_runs (id, flow_name, parent_task_run_id, parent_flow_run_id, state_type, "
    "state_name, state_message, state_timestamp, state_data, start_time, end_time, run_count, "
    "created, flow_ref, parameters, resumed_from, host, pid, process_start, run_name, tags) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_TASK_RUN = (
    "INSERT INTO task_runs (id, task_name, flow_run_id, cache_key, state_type, state_name, "
    "state_message, state_timestamp, state_data, start_time, end_time, run_count, created, "
    "call_position, input_hash, flow_attempt, run_name, tags, inputs, implied_states) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_STATE = (
    "INSERT INTO states (run_id, run_kind, type, name, message, timestamp, data) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_UPDATE = (
    "UPDATE {table} SET state_type = ?, state_name = ?, state_message = ?, state_timestamp = ?, "
    "state_data = ?, start_time = COALESCE(start_time, ?), end_time = ?, run_count = ? WHERE id = ?"
)
_PUT_CACHE = (
    "INSERT INTO cache (cache_key, task_run_id, data, created, expires) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (cache_key) DO UPDATE SET task_run_id = excluded.task_run_id, "
    "data = excluded.data, created = excluded.created, expires = excluded.expires"
)
#: A task run created in an earlier batch gets a new state: a final state its row kept
#: (``implied_states`` ending in 'F') is first written out as a state row of its own.
_UNFOLD_FINAL = (
    "INSERT INTO states (run_id, run_kind, type, name, message, timestamp, data) "
    "SELECT id, 'task', state_type, state_name, state_message, state_timestamp, state_data "
    f"FROM task_runs WHERE id = ? AND implied_states IN {IMPLIES_FINAL}"
)
_UNFOLD_MARK = (
    "UPDATE task_runs SET implied_states = CASE implied_states WHEN 'PF' THEN 'P' "
    "WHEN 'RF' THEN 'R' WHEN 'PRF' THEN 'PR' END "
    f"WHERE id = ? AND implied_states IN {IMPLIES_FINAL}"
)
_RECORD_INTENT = (
    "INSERT INTO write_intents (storage_document, key, run_id, created) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (storage_document, key) DO UPDATE SET run_id = excluded.run_id, "
    "created = excluded.created"
)
#: (statement, Batch attribute) in commit order.
STATEMENTS = (
    (_INSERT_FLOW_RUN, "flows"),
    (_INSERT_TASK_RUN, "tasks"),
    (_UNFOLD_FINAL, "unfold"),
    (_UNFOLD_MARK, "unfold"),
    (_INSERT_STATE, "states"),
    (_UPDATE.format(table="flow_runs"), "flow_updates"),
    (_UPDATE.format(table="task_runs"), "task_updates"),
    (_PUT_CACHE, "caches"),
    ("UPDATE task_runs SET input_hash = ? WHERE id = ?", "hashes"),
    ("UPDATE task_runs SET inputs = ? WHERE id = ?", "inputs"),
    (_RECORD_INTENT, "intents"),
    ("DELETE FROM write_intents WHERE storage_document = ? AND key = ?", "intents_done"),
)
#: Attempts at a batch that SQLite reports "locked" or "busy" for at once.
ATTEMPTS = 100


class BatchWrites:
    """The ``write_batch`` of :class:`~conveyor.metadata.SQLiteStore` (a mixin)."""

    transaction: Any

    def write_batch(self, batch: Batch) -> None:
        """Commit ``batch`` in one transaction (the busy timeout waits on other writers)."""
        for attempt in range(ATTEMPTS):
            try:
                with self.transaction() as conn:
                    for sql, name in STATEMENTS:
                        rows = getattr(batch, name)
                        if rows:
                            conn.executemany(sql, rows)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or attempt == ATTEMPTS - 1:
                    raise
                time.sleep(min(0.001 * (attempt + 1), 0.05))


__all__ = ["STATEMENTS", "BatchWrites"]
