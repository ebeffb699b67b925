"""The SQLite metadata database: :class:`SQLiteStore`, one file under ``CONVEYOR_HOME``.

SQLite in WAL mode. Several processes may write at once: every write is one short
transaction (``BEGIN IMMEDIATE``), and a busy database is waited on (busy timeout) rather
than failed. The schema is created and migrated on first use (:mod:`.schema`); opening,
permissions and error messages are :mod:`.opening`'s (connections and transactions
:mod:`.connections`', the browsing queries :mod:`.browsing`'s). Inside ``reading_only()``
reads never create a database: a store whose file does not exist reads as empty. Runs,
states and cache rows are written through the batched :class:`~.writer.RunWriter`, which
commits through :meth:`~.sqlite_writes.BatchWrites.write_batch`.

It is the built-in metadata backend (:mod:`.hooks`): URL scheme ``sqlite``
(``sqlite:///abs/path.db``), and every plain path.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

from conveyor.exceptions import BlockExistsError, MetadataError, UnknownNameError
from conveyor.metadata.browsing import Browsing
from conveyor.metadata.ids import canonical_json, document_id
from conveyor.metadata.intents import WriteIntents
from conveyor.metadata.sqlite_writes import BatchWrites
from conveyor.metadata.urls import sqlite_path
from conveyor.metadata.writer import RunWriter

_CACHE_GET = "SELECT data, expires FROM cache WHERE cache_key = ?"


def _config(text: str | None) -> dict[str, Any] | None:
    """A stored block configuration, or None when the row is damaged (not a JSON object)."""
    try:
        config = json.loads(text) if text is not None else None
    except ValueError:
        return None
    return config if isinstance(config, dict) else None


class SQLiteStore(Browsing, WriteIntents, BatchWrites):
    """One metadata database file. Thread-safe: a connection per thread.

    Implements :class:`conveyor.metadata.MetadataStore`; :attr:`path`, :meth:`transaction`
    and :meth:`query` are SQLite only (tests and benchmarks).
    """

    #: The URL scheme it serves (``sqlite:///abs/path.db``); a plain path is SQLite too.
    schemes: ClassVar[tuple[str, ...]] = ("sqlite",)

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._init_lock = threading.Lock()
        self._migrated = False
        self._known_documents: set[str] = set()
        self._writer: RunWriter | None = None

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        """The store of ``sqlite:///abs/path.db`` (``sqlite://rel.db``: relative to the
        working directory) or of a plain path."""
        return cls(sqlite_path(url).resolve())

    @property
    def location(self) -> str:
        """The database file's path (messages name it)."""
        return str(self.path)

    def after_fork(self) -> None:
        """A forked child must not use its parent's connections or writer thread."""
        self._local = threading.local()
        self._init_lock = threading.Lock()
        self._writer = None

    # -- blocks ------------------------------------------------------------------------

    def put_block_document(self, block_type: str, config: dict[str, Any]) -> str:
        """Record a block configuration once; return its id (the same for equal configs)."""
        doc_id = document_id(block_type, config)
        cached = self._known_documents
        if doc_id in cached:
            return doc_id
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO block_documents (id, block_type, config, created) "
                "VALUES (?, ?, ?, ?)",
                (doc_id, block_type, canonical_json(config), time.time()),
            )
        cached.add(doc_id)
        return doc_id

    def get_block_document(self, doc_id: str) -> tuple[str, dict[str, Any]]:
        rows = self._rows("SELECT block_type, config FROM block_documents WHERE id = ?", (doc_id,))
        if not rows:
            raise UnknownNameError(f"no block document {doc_id!r} in {self.path}")
        config = _config(rows[0]["config"])
        if config is None:
            raise MetadataError(
                f"block document {doc_id!r} in {self.path} is damaged: its configuration is "
                f"not a JSON object; save the block again"
            )
        return rows[0]["block_type"], config

    def save_block(
        self, block_type: str, name: str, config: dict[str, Any], overwrite: bool = False
    ) -> None:
        doc_id = self.put_block_document(block_type, config)
        now = time.time()
        with self.transaction() as conn:
            exists = conn.execute(
                "SELECT 1 FROM saved_blocks WHERE block_type = ? AND name = ?", (block_type, name)
            ).fetchone()
            if exists and not overwrite:
                raise BlockExistsError(
                    f"a block '{block_type}/{name}' is already saved; pass overwrite=True to "
                    f"replace it, or choose another name"
                )
            conn.execute(
                "INSERT INTO saved_blocks (block_type, name, document_id, created, updated) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (block_type, name) "
                "DO UPDATE SET document_id = excluded.document_id, updated = excluded.updated",
                (block_type, name, doc_id, now, now),
            )

    def load_block(self, block_type: str, name: str) -> dict[str, Any] | None:
        rows = self._rows(
            "SELECT d.config FROM saved_blocks s JOIN block_documents d ON d.id = s.document_id "
            "WHERE s.block_type = ? AND s.name = ?",
            (block_type, name),
        )
        if not rows:
            return None
        config = _config(rows[0]["config"])
        if config is None:
            raise MetadataError(
                f"saved block '{block_type}/{name}' in {self.path} is damaged: its configuration "
                f"is not a JSON object; save it again (with overwrite=True)"
            )
        return config

    def list_blocks(
        self, block_type: str | None = None
    ) -> list[tuple[str, str, dict[str, Any] | None]]:
        """Saved blocks by type and name; a damaged configuration comes as None (a finding)."""
        sql = (
            "SELECT s.block_type, s.name, d.config FROM saved_blocks s "
            "JOIN block_documents d ON d.id = s.document_id"
        )
        params: tuple[Any, ...] = ()
        if block_type is not None:
            sql += " WHERE s.block_type = ?"
            params = (block_type,)
        sql += " ORDER BY s.block_type, s.name"
        return [(r["block_type"], r["name"], _config(r["config"])) for r in self._rows(sql, params)]

    def delete_block(self, block_type: str, name: str) -> bool:
        with self.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM saved_blocks WHERE block_type = ? AND name = ?", (block_type, name)
            )
            return cur.rowcount > 0

    def saved_block_names(self, doc_id: str) -> list[tuple[str, str]]:
        """``(block_type, name)`` of the blocks saved with document ``doc_id``, by name."""
        rows = self._rows(
            "SELECT block_type, name FROM saved_blocks WHERE document_id = ? ORDER BY name",
            (doc_id,),
        )
        return [(r["block_type"], r["name"]) for r in rows]

    # -- runs, states and the cache ----------------------------------------------------
    #
    # Runs, states and cache rows are queued to the writer (see .writer). Reads flush the
    # writer first, so a process always reads its own writes.

    @property
    def writer(self) -> RunWriter:
        writer = self._writer
        if writer is None:
            self._connect()  # schema and WAL mode settled before the writer thread writes
            with self._init_lock:
                writer = self._writer
                if writer is None:
                    writer = self._writer = RunWriter(self)
        return writer

    def flush(self) -> None:
        """Wait until every queued run, state and cache row is committed."""
        writer = self._writer
        if writer is not None:
            writer.flush()

    def cache_lookup(self, cache_key: str, now: float) -> str | None:
        """The result JSON cached under ``cache_key`` and not expired at ``now``, or None."""
        writer = self._writer
        if writer is not None:
            pending = writer.pending_cache.get(cache_key)
            if pending is not None:
                data, expires = pending
                return data if expires is None or expires > now else None
        rows = self._rows(_CACHE_GET, (cache_key,))
        row = rows[0] if rows else None
        if row is None or (row[1] is not None and row[1] <= now):
            return None
        return str(row[0])

    def cache_delete(self, cache_key: str) -> None:
        self.flush()
        with self.transaction() as conn:
            conn.execute("DELETE FROM cache WHERE cache_key = ?", (cache_key,))

    def read_flow_run(self, run_id: str) -> sqlite3.Row | None:
        self.flush()
        rows = self._rows("SELECT * FROM flow_runs WHERE id = ?", (run_id,))
        return rows[0] if rows else None

    def read_flow_runs(self, flow_name: str | None = None, limit: int | None = None) -> list[sqlite3.Row]:
        self.flush()
        sql = "SELECT * FROM flow_runs"
        params: list[Any] = []
        if flow_name is not None:
            sql += " WHERE flow_name = ?"
            params.append(flow_name)
        sql += " ORDER BY created DESC, rowid DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return self._rows(sql, tuple(params))

    def read_subflow_runs(self, flow_run_id: str) -> list[sqlite3.Row]:
        """Flow runs whose parent flow run is ``flow_run_id``, in creation order."""
        self.flush()
        return self._rows(
            "SELECT * FROM flow_runs WHERE parent_flow_run_id = ? ORDER BY created, rowid",
            (flow_run_id,),
        )

    def read_result_records(self) -> list[sqlite3.Row]:
        """``(kind, id, state_data)`` of every flow run and task run that has result data."""
        self.flush()
        return self._rows(
            "SELECT 'flow' AS kind, id, state_data FROM flow_runs WHERE state_data IS NOT NULL "
            "UNION ALL SELECT 'task', id, state_data FROM task_runs WHERE state_data IS NOT NULL"
        )

    def read_task_run(self, run_id: str) -> sqlite3.Row | None:
        self.flush()
        rows = self._rows("SELECT * FROM task_runs WHERE id = ?", (run_id,))
        return rows[0] if rows else None

    def read_task_runs(self, flow_run_id: str) -> list[sqlite3.Row]:
        self.flush()
        return self._rows(
            "SELECT * FROM task_runs WHERE flow_run_id = ? ORDER BY created, rowid", (flow_run_id,)
        )

    def read_states(self, run_id: str) -> list[sqlite3.Row]:
        self.flush()
        return self._rows("SELECT * FROM states WHERE run_id = ? ORDER BY seq", (run_id,))

    def read_unfinished_flow_runs(self) -> list[sqlite3.Row]:
        """Top-level flow runs still Running or Pending (keys :data:`FLOW_RUN_COLUMNS`)."""
        self.flush()
        return self._rows(
            "SELECT * FROM flow_runs WHERE state_type IN ('RUNNING', 'PENDING') "
            "AND parent_flow_run_id IS NULL ORDER BY created"
        )

    def mark_crashed(self, flow_run_id: str, message: str, timestamp: float) -> int:
        """Mark the flow run, its subflow runs and their task runs Crashed where not finished.

        One transaction: each run gets a Crashed state row with ``message``. Returns how
        many runs were marked (0 when the flow run had finished meanwhile).
        """
        self.flush()
        unfinished = "state_type IN ('RUNNING', 'PENDING')"
        with self.transaction() as conn:
            flows = [r[0] for r in conn.execute(
                "WITH RECURSIVE tree(id) AS (SELECT ? UNION ALL SELECT f.id FROM flow_runs f "
                "JOIN tree ON f.parent_flow_run_id = tree.id) SELECT id FROM tree", (flow_run_id,)
            )]
            marked = 0
            for table, kind, column in (("flow_runs", "flow", "id"), ("task_runs", "task", "flow_run_id")):
                marks = ",".join("?" * len(flows))
                ids = [r[0] for r in conn.execute(
                    f"SELECT id FROM {table} WHERE {column} IN ({marks}) AND {unfinished}", flows
                )]
                conn.executemany(
                    f"UPDATE {table} SET state_type = 'CRASHED', state_name = 'Crashed', "
                    f"state_message = ?, state_timestamp = ?, state_data = NULL, end_time = ? "
                    f"WHERE id = ?", [(message, timestamp, timestamp, i) for i in ids],
                )
                conn.executemany(
                    "INSERT INTO states (run_id, run_kind, type, name, message, timestamp, data) "
                    "VALUES (?, ?, 'CRASHED', 'Crashed', ?, ?, NULL)",
                    [(i, kind, message, timestamp) for i in ids],
                )
                marked += len(ids)
        return marked
