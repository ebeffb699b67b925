"""Deleting runs and remembering deleted results (``conveyor gc``, ``conveyor runs rm``):
:class:`Housekeeping`, in SQL both SQLite and PostgreSQL accept (``?`` placeholders).

Each method is one short transaction and flushes the writer first (reads see queued rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _marks(items: Sequence[Any]) -> str:
    return ", ".join("?" * len(items))


class Housekeeping:
    """The store methods of issue 11 (see ``MetadataStore``)."""

    flush: Any
    _rows: Any
    transaction: Any

    def read_cache_entries(self, now: float) -> Sequence[Any]:
        """Cache entries not expired at ``now`` (keys ``cache_key, task_run_id, data,
        created, expires``)."""
        self.flush()
        return self._rows(
            "SELECT cache_key, task_run_id, data, created, expires FROM cache "
            "WHERE expires IS NULL OR expires > ? ORDER BY cache_key", (now,),
        )

    def read_state_data(self, flow_run_ids: Sequence[str]) -> Sequence[Any]:
        """Distinct ``(flow_run_id, run_id, run_kind, data)`` of the state rows with data of
        those flow runs and of their task runs (not subflows: they are flow runs of their own)."""
        self.flush()
        ids = list(flow_run_ids)
        if not ids:
            return []
        m = _marks(ids)
        return self._rows(
            "SELECT DISTINCT s.run_id AS flow_run_id, s.run_id, s.run_kind, s.data FROM states s "
            f"WHERE s.run_kind = 'flow' AND s.run_id IN ({m}) AND s.data IS NOT NULL "
            "UNION SELECT DISTINCT t.flow_run_id AS flow_run_id, s.run_id, s.run_kind, s.data "
            "FROM task_runs t JOIN states s ON s.run_id = t.id AND s.run_kind = 'task' "
            f"WHERE t.flow_run_id IN ({m}) AND s.data IS NOT NULL "
            "ORDER BY flow_run_id, run_id, data",
            (*ids, *ids),
        )

    def delete_flow_runs(self, flow_run_ids: Sequence[str]) -> int:
        """Delete those flow runs, their task runs, their state rows, the cache entries of
        those task runs and their write intents, in one transaction; how many runs went."""
        self.flush()
        ids = list(flow_run_ids)
        if not ids:
            return 0
        m = _marks(ids)
        with self.transaction() as tx:
            tasks = [r[0] for r in tx.execute(f"SELECT id FROM task_runs WHERE flow_run_id IN ({m})", ids)]
            runs = ids + tasks
            r = _marks(runs)
            if tasks:
                tx.execute(f"DELETE FROM cache WHERE task_run_id IN ({_marks(tasks)})", tasks)
            tx.execute(f"DELETE FROM states WHERE run_id IN ({r})", runs)
            tx.execute(f"DELETE FROM write_intents WHERE run_id IN ({r})", runs)
            deleted = tx.execute(f"DELETE FROM task_runs WHERE flow_run_id IN ({m})", ids).rowcount
            deleted += tx.execute(f"DELETE FROM flow_runs WHERE id IN ({m})", ids).rowcount
        return int(deleted)

    def remove_write_intents(self, items: Sequence[tuple[str, str]]) -> None:
        """Delete write intents by ``(storage_document, key)``."""
        rows = sorted(items)
        if rows:
            with self.transaction() as tx:
                tx.executemany(
                    "DELETE FROM write_intents WHERE storage_document = ? AND key = ?", rows
                )

    def record_deleted_results(
        self, items: Sequence[tuple[str, str, str]], deleted: float, reason: str
    ) -> None:
        """Insert or replace ``(storage_document, key, checksum)`` rows of deleted results."""
        rows = [(*item, deleted, reason) for item in sorted(items)]
        if rows:
            with self.transaction() as tx:
                tx.executemany(
                    "INSERT INTO deleted_results (storage_document, key, checksum, deleted, reason) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (storage_document, key, checksum) DO UPDATE "
                    "SET deleted = excluded.deleted, reason = excluded.reason", rows,
                )

    def read_deleted_result(
        self, storage_document: str, key: str, checksum: str
    ) -> tuple[float, str] | None:
        """``(deleted, reason)`` of a deleted result, or None."""
        rows = self._rows(
            "SELECT deleted, reason FROM deleted_results WHERE storage_document = ? AND key = ? "
            "AND checksum = ?", (storage_document, key, checksum),
        )
        return (float(rows[0][0]), rows[0][1]) if rows else None


__all__ = ["Housekeeping"]
