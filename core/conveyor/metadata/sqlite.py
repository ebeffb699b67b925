"""The SQLite metadata database: :class:`SQLiteStore`, one file under ``CONVEYOR_HOME``.

SQLite in WAL mode. Several processes may write at once: every write is one short
transaction (``BEGIN IMMEDIATE``), and a busy database is waited on (busy timeout) rather
than failed. The schema is created and migrated on first use (:mod:`.schema`). Runs,
states and cache rows are written through the batched :class:`~.writer.RunWriter`.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from conveyor.exceptions import BlockExistsError, ConfigurationError, UnknownNameError
from conveyor.metadata.ids import canonical_json, document_id
from conveyor.metadata.schema import connect, migrate
from conveyor.metadata.writer import RunWriter

_CACHE_GET = "SELECT data, expires FROM cache WHERE cache_key = ?"


class SQLiteStore:
    """One metadata database file. Thread-safe: a connection per thread.

    Implements :class:`conveyor.metadata.MetadataStore`; :meth:`transaction` and
    :meth:`query` are SQLite only (tests and benchmarks).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._init_lock = threading.Lock()
        self._migrated = False
        self._known_documents: set[str] = set()
        self._writer: RunWriter | None = None

    # -- connections and transactions --------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot create the metadata folder {self.path.parent} ({exc.strerror}); "
                f"set CONVEYOR_HOME to a writable folder"
            ) from exc
        conn = connect(self.path)
        self._local.conn = conn
        with self._init_lock:
            if not self._migrated:
                migrate(conn, self.path)
                self._migrated = True
        try:
            os.chmod(self.path, 0o600)
        except OSError:
            pass
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction; taken at once (``BEGIN IMMEDIATE``)."""
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        """Raw SQL on this thread's connection (not part of the interface)."""
        return self._connect().execute(sql, params).fetchall()

    @property
    def schema_version(self) -> int:
        return int(self.query("SELECT version FROM schema_version")[0][0])

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

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
        rows = self.query("SELECT block_type, config FROM block_documents WHERE id = ?", (doc_id,))
        if not rows:
            raise UnknownNameError(f"no block document {doc_id!r} in {self.path}")
        return rows[0]["block_type"], json.loads(rows[0]["config"])

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
        rows = self.query(
            "SELECT d.config FROM saved_blocks s JOIN block_documents d ON d.id = s.document_id "
            "WHERE s.block_type = ? AND s.name = ?",
            (block_type, name),
        )
        return json.loads(rows[0]["config"]) if rows else None

    def list_blocks(self, block_type: str | None = None) -> list[tuple[str, str, dict[str, Any]]]:
        sql = (
            "SELECT s.block_type, s.name, d.config FROM saved_blocks s "
            "JOIN block_documents d ON d.id = s.document_id"
        )
        params: tuple[Any, ...] = ()
        if block_type is not None:
            sql += " WHERE s.block_type = ?"
            params = (block_type,)
        sql += " ORDER BY s.block_type, s.name"
        return [(r["block_type"], r["name"], json.loads(r["config"])) for r in self.query(sql, params)]

    def delete_block(self, block_type: str, name: str) -> bool:
        with self.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM saved_blocks WHERE block_type = ? AND name = ?", (block_type, name)
            )
            return cur.rowcount > 0

    def saved_block_names(self, doc_id: str) -> list[tuple[str, str]]:
        """``(block_type, name)`` of the blocks saved with document ``doc_id``, by name."""
        rows = self.query(
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
        row = self._connect().execute(_CACHE_GET, (cache_key,)).fetchone()
        if row is None or (row[1] is not None and row[1] <= now):
            return None
        return str(row[0])

    def cache_delete(self, cache_key: str) -> None:
        self.flush()
        with self.transaction() as conn:
            conn.execute("DELETE FROM cache WHERE cache_key = ?", (cache_key,))

    def read_flow_run(self, run_id: str) -> sqlite3.Row | None:
        self.flush()
        return self._connect().execute("SELECT * FROM flow_runs WHERE id = ?", (run_id,)).fetchone()

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
        return self.query(sql, tuple(params))

    def read_subflow_runs(self, flow_run_id: str) -> list[sqlite3.Row]:
        """Flow runs whose parent flow run is ``flow_run_id``, in creation order."""
        self.flush()
        return self.query(
            "SELECT * FROM flow_runs WHERE parent_flow_run_id = ? ORDER BY created, rowid",
            (flow_run_id,),
        )

    def read_result_records(self) -> list[sqlite3.Row]:
        """``(kind, id, state_data)`` of every flow run and task run that has result data."""
        self.flush()
        return self.query(
            "SELECT 'flow' AS kind, id, state_data FROM flow_runs WHERE state_data IS NOT NULL "
            "UNION ALL SELECT 'task', id, state_data FROM task_runs WHERE state_data IS NOT NULL"
        )

    def read_task_run(self, run_id: str) -> sqlite3.Row | None:
        self.flush()
        return self._connect().execute("SELECT * FROM task_runs WHERE id = ?", (run_id,)).fetchone()

    def read_task_runs(self, flow_run_id: str) -> list[sqlite3.Row]:
        self.flush()
        return self.query(
            "SELECT * FROM task_runs WHERE flow_run_id = ? ORDER BY created, rowid", (flow_run_id,)
        )

    def read_states(self, run_id: str) -> list[sqlite3.Row]:
        self.flush()
        return self.query("SELECT * FROM states WHERE run_id = ? ORDER BY seq", (run_id,))
