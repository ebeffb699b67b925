"""The metadata database: runs, states, result references, saved blocks, the cache index.

SQLite in WAL mode, one file under ``CONVEYOR_HOME``. Several processes may write at
once: every write is one short transaction (``BEGIN IMMEDIATE``), and a busy database is
waited on (busy timeout) rather than failed. The schema is created and migrated by
:data:`MIGRATIONS`; the ``schema_version`` table records how far a file has come.

Never stored here: a result's value. States hold the JSON of a ``ResultLiteral`` (True,
False, None) or of a ``ResultReference`` (where the value is), nothing else.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from conveyor.exceptions import BlockExistsError, ConfigurationError, UnknownNameError

BUSY_TIMEOUT_MS = 30_000

#: Each entry migrates the schema from version ``i`` to ``i + 1``.
MIGRATIONS: list[str] = [
    # 0 -> 1: blocks, runs, states, cache index.
    """
    CREATE TABLE block_documents (
        id TEXT PRIMARY KEY,            -- hash of block type + canonical configuration
        block_type TEXT NOT NULL,
        config TEXT NOT NULL,           -- JSON of the block's fields
        created REAL NOT NULL
    );
    CREATE TABLE saved_blocks (
        block_type TEXT NOT NULL,
        name TEXT NOT NULL,
        document_id TEXT NOT NULL REFERENCES block_documents(id),
        created REAL NOT NULL,
        updated REAL NOT NULL,
        PRIMARY KEY (block_type, name)
    );
    CREATE TABLE flow_runs (
        id TEXT PRIMARY KEY,
        flow_name TEXT NOT NULL,
        parent_task_run_id TEXT,
        parent_flow_run_id TEXT,
        state_type TEXT NOT NULL,
        state_name TEXT NOT NULL,
        state_message TEXT,
        state_timestamp REAL NOT NULL,
        state_data TEXT,                -- JSON of a ResultLiteral / ResultReference, or NULL
        start_time REAL,
        end_time REAL,
        run_count INTEGER NOT NULL DEFAULT 0,
        created REAL NOT NULL
    );
    CREATE INDEX flow_runs_by_name ON flow_runs (flow_name, created);
    CREATE INDEX flow_runs_by_created ON flow_runs (created);
    CREATE TABLE task_runs (
        id TEXT PRIMARY KEY,
        task_name TEXT NOT NULL,
        flow_run_id TEXT,
        cache_key TEXT,
        state_type TEXT NOT NULL,
        state_name TEXT NOT NULL,
        state_message TEXT,
        state_timestamp REAL NOT NULL,
        state_data TEXT,
        start_time REAL,
        end_time REAL,
        run_count INTEGER NOT NULL DEFAULT 0,
        created REAL NOT NULL
    );
    CREATE INDEX task_runs_by_flow ON task_runs (flow_run_id, created);
    CREATE TABLE states (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL,
        run_kind TEXT NOT NULL,         -- 'flow' or 'task'
        type TEXT NOT NULL,
        name TEXT NOT NULL,
        message TEXT,
        timestamp REAL NOT NULL,
        data TEXT
    );
    CREATE INDEX states_by_run ON states (run_id, seq);
    CREATE TABLE cache (
        cache_key TEXT PRIMARY KEY,
        task_run_id TEXT NOT NULL,
        data TEXT NOT NULL,             -- JSON of the result's literal or reference
        created REAL NOT NULL,
        expires REAL                    -- unix time, NULL: never
    );
    """,
]


def new_id() -> str:
    """A fresh run id."""
    return str(uuid.uuid4())


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def document_id(block_type: str, config: dict[str, Any]) -> str:
    digest = hashlib.sha256(canonical_json({"t": block_type, "c": config}).encode()).hexdigest()
    return digest[:32]


class Store:
    """One metadata database file. Thread-safe: a connection per thread."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._init_lock = threading.Lock()
        self._migrated = False

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
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        self._local.conn = conn
        with self._init_lock:
            if not self._migrated:
                self._migrate(conn)
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
        return self._connect().execute(sql, params).fetchall()

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            version = row[0] if row else 0
            if row is None:
                conn.execute("INSERT INTO schema_version (version) VALUES (0)")
            if version > len(MIGRATIONS):
                raise ConfigurationError(
                    f"the metadata database {self.path} has schema version {version}, newer "
                    f"than this conveyor knows ({len(MIGRATIONS)}); upgrade conveyor"
                )
            for step in range(version, len(MIGRATIONS)):
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("UPDATE schema_version SET version = ?", (step + 1,))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

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
        cached = getattr(self, "_known_documents", None)
        if cached is None:
            cached = self._known_documents = set()
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


_stores: dict[Path, Store] = {}
_stores_lock = threading.Lock()


def get_store(path: str | os.PathLike[str] | None = None) -> Store:
    """The store for ``path`` (default: ``$CONVEYOR_HOME/conveyor.db``), one per file per process."""
    if path is None:
        from conveyor.settings import get_settings

        path = get_settings().database_path
    key = Path(path).resolve()
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = Store(key)
        return store
