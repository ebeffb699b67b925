"""The clean-up methods of :class:`~conveyor.metadata.sqlite.SQLiteStore` and of every SQL
backend (see :class:`~conveyor.metadata.upkeep.UpkeepStore`): what ``results gc`` and
``runs rm`` read and delete, and the marks of deleted results. The SQL is what SQLite and
PostgreSQL both accept (``?`` placeholders, ``ON CONFLICT``).

May import: the sibling ``batch``, the standard library (a mixin of ``SQLiteStore``, over
its ``transaction``, ``_rows`` and ``flush``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from conveyor.metadata.batch import IMPLIES_FINAL

#: Most ids in one ``IN (...)`` list (SQLite's limit on variables is 32,766).
CHUNK = 500


def _chunks(ids: Sequence[str]) -> Iterator[list[str]]:
    ids = list(dict.fromkeys(ids))
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


class Pruning:
    """Reads and deletes for clean-up (mixed into ``SQLiteStore``)."""

    transaction: Any
    _rows: Any
    flush: Any

    def read_cache_entries(self, now: float) -> list[sqlite3.Row]:
        self.flush()
        return list(self._rows(
            "SELECT cache_key, task_run_id, data, created, expires FROM cache "
            "WHERE expires IS NULL OR expires > ?", (now,),
        ))

    def read_state_data(self, flow_run_ids: Sequence[str]) -> list[sqlite3.Row]:
        self.flush()
        rows: list[sqlite3.Row] = []
        for ids in _chunks(flow_run_ids):
            marks = ",".join("?" * len(ids))
            # the final states task run rows keep themselves (implied_states): a Pending
            # or Running state has no data
            rows += self._rows(
                f"SELECT DISTINCT flow_run_id, run_id, run_kind, data FROM ("
                f"SELECT r.flow_run_id, s.run_id, s.run_kind, s.data FROM "
                f"(SELECT id, id AS flow_run_id FROM flow_runs WHERE id IN ({marks}) UNION ALL "
                f"SELECT id, flow_run_id FROM task_runs WHERE flow_run_id IN ({marks})) r "
                f"JOIN states s ON s.run_id = r.id WHERE s.data IS NOT NULL UNION ALL "
                f"SELECT flow_run_id, id, 'task', state_data FROM task_runs WHERE flow_run_id IN "
                f"({marks}) AND implied_states IN {IMPLIES_FINAL} AND state_data IS NOT NULL) d",
                (*ids, *ids, *ids),
            )
        return rows

    def delete_flow_runs(self, flow_run_ids: Sequence[str]) -> int:
        self.flush()
        deleted = 0
        with self.transaction() as conn:
            for ids in _chunks(flow_run_ids):
                marks = ",".join("?" * len(ids))
                tasks = [r[0] for r in conn.execute(
                    f"SELECT id FROM task_runs WHERE flow_run_id IN ({marks})", ids
                )]
                runs = ids + tasks
                for part in range(0, len(runs), CHUNK):
                    some = runs[part:part + CHUNK]
                    run_marks = ",".join("?" * len(some))
                    conn.execute(f"DELETE FROM states WHERE run_id IN ({run_marks})", some)
                    conn.execute(f"DELETE FROM write_intents WHERE run_id IN ({run_marks})", some)
                    conn.execute(f"DELETE FROM cache WHERE task_run_id IN ({run_marks})", some)
                deleted += conn.execute(
                    f"DELETE FROM task_runs WHERE flow_run_id IN ({marks})", ids
                ).rowcount
                deleted += conn.execute(f"DELETE FROM flow_runs WHERE id IN ({marks})", ids).rowcount
        return deleted

    def remove_write_intents(self, items: Sequence[tuple[str, str]]) -> None:
        with self.transaction() as conn:
            conn.executemany(
                "DELETE FROM write_intents WHERE storage_document = ? AND key = ?", list(items)
            )

    def record_deleted_results(
        self, items: Sequence[tuple[str, str, str]], deleted: float, reason: str
    ) -> None:
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO deleted_results (storage_document, key, checksum, deleted, reason) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (storage_document, key, checksum) DO UPDATE "
                "SET deleted = excluded.deleted, reason = excluded.reason",
                [(doc, key, checksum, deleted, reason) for doc, key, checksum in items],
            )

    def read_deleted_result(
        self, storage_document: str, key: str, checksum: str
    ) -> tuple[float, str] | None:
        rows = self._rows(
            "SELECT deleted, reason FROM deleted_results WHERE storage_document = ? AND key = ? "
            "AND checksum = ?", (storage_document, key, checksum),
        )
        return (float(rows[0][0]), str(rows[0][1])) if rows else None


__all__ = ["Pruning"]
