"""The database file's layout and how a file is brought to it.

:data:`MIGRATIONS` creates and migrates the schema; the ``schema_version`` table records
how far a file has come. :func:`connect` opens a connection in WAL mode with the busy
timeout; :func:`migrate` applies the missing migrations in one transaction.
"""

from __future__ import annotations

import os
import sqlite3
import time
from typing import Any

from conveyor.exceptions import ConfigurationError

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
        seq INTEGER PRIMARY KEY,
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
    # 1 -> 2: what resuming a run and reusing its results need; the process of a flow run.
    """
    ALTER TABLE flow_runs ADD COLUMN flow_ref TEXT;         -- where the flow is defined: 'module:qualname' or 'path.py:qualname'
    ALTER TABLE flow_runs ADD COLUMN parameters TEXT;       -- JSON of the ResultReference of the persisted parameters, NULL: not kept
    ALTER TABLE flow_runs ADD COLUMN resumed_from TEXT;     -- id of the flow run this one resumes
    ALTER TABLE flow_runs ADD COLUMN host TEXT;             -- the process running it: host name,
    ALTER TABLE flow_runs ADD COLUMN pid INTEGER;           -- process id,
    ALTER TABLE flow_runs ADD COLUMN process_start REAL;    -- and the process's start time (pids are reused)
    ALTER TABLE task_runs ADD COLUMN call_position INTEGER; -- n-th call (from 0) of this task in its flow run's attempt
    ALTER TABLE task_runs ADD COLUMN input_hash TEXT;       -- hash of the call's inputs, NULL: not hashable
    ALTER TABLE task_runs ADD COLUMN flow_attempt INTEGER;  -- the attempt (from 1) of the flow run that made it
    CREATE INDEX flow_runs_by_parent ON flow_runs (parent_flow_run_id);
    CREATE INDEX flow_runs_by_resumed_from ON flow_runs (resumed_from);
    CREATE INDEX flow_runs_by_state ON flow_runs (state_type);
    """,
    # 2 -> 3: run names and tags (task_run_name / flow_run_name, tags).
    """
    ALTER TABLE flow_runs ADD COLUMN run_name TEXT;         -- flow_run_name, filled in, or NULL
    ALTER TABLE flow_runs ADD COLUMN tags TEXT;             -- JSON list of the run's tags, or NULL
    ALTER TABLE task_runs ADD COLUMN run_name TEXT;         -- task_run_name, filled in, or NULL
    ALTER TABLE task_runs ADD COLUMN tags TEXT;             -- JSON list of the run's tags, or NULL
    """,
    # 3 -> 4: a result about to be written, recorded first: one killed before its
    # reference was recorded is still found (by its storage and key).
    """
    CREATE TABLE write_intents (
        storage_document TEXT NOT NULL,   -- the block document of the storage written to
        key TEXT NOT NULL,                -- the key written
        run_id TEXT,                      -- the task run or flow run writing it
        created REAL NOT NULL,
        PRIMARY KEY (storage_document, key)
    );
    """,
    # 4 -> 5: input lineage, and results deleted by ``results gc`` (so a reference to one
    # says so instead of "missing").
    """
    ALTER TABLE task_runs ADD COLUMN inputs TEXT;  -- JSON {parameter: [upstream task run id, ...]}, NULL: none
    CREATE INDEX cache_by_task_run ON cache (task_run_id);
    CREATE TABLE deleted_results (
        storage_document TEXT NOT NULL,   -- the block document of the storage it was in
        key TEXT NOT NULL,                -- its key there
        checksum TEXT NOT NULL,           -- the checksum its reference recorded
        deleted REAL NOT NULL,            -- when it was deleted (unix time)
        reason TEXT NOT NULL,             -- by what, e.g. 'results gc'
        PRIMARY KEY (storage_document, key, checksum)
    );
    """,
    # 5 -> 6: the states a task run's own row already tells, kept there instead of as
    # rows of ``states`` (see conveyor.metadata.batch): most runs get no state rows.
    """
    ALTER TABLE task_runs ADD COLUMN implied_states TEXT;  -- states the row tells: 'P' Pending at created, 'R' Running at start_time, 'F' its final state (NULL: none)
    """,
]


def apply_migrations(conn: Any, migrations: list[str], version: int, set_version: str) -> None:
    """Run ``migrations`` from step ``version`` on (each a ``;``-separated script) on
    ``conn``, recording each step's number with ``set_version`` (SQL with one placeholder).
    The caller holds the transaction and has refused a version newer than it knows; every
    SQL backend's migrations run this way."""
    for step in range(version, len(migrations)):
        for statement in migrations[step].split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(set_version, (step + 1,))


def set_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL mode. Asking while another connection writes can fail at once with
    "database is locked" (the busy handler does not cover it), so retry for a while."""
    for attempt in range(200):
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 199:
                raise
            time.sleep(0.005)


def connect(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A new connection to ``path``: autocommit, rows by name, busy timeout, WAL mode,
    ``synchronous = NORMAL``, foreign keys enforced. The folder must exist."""
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    set_wal(conn)
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def migrate(conn: sqlite3.Connection, path: str | os.PathLike[str]) -> None:
    """Bring the database behind ``conn`` to ``len(MIGRATIONS)`` in one transaction.

    Refuses (:class:`ConfigurationError`, naming ``path``) a file whose schema is newer
    than this conveyor knows; nothing is changed then, nor when a migration fails.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        version = row[0] if row else 0
        if row is None:
            conn.execute("INSERT INTO schema_version (version) VALUES (0)")
        if version > len(MIGRATIONS):
            raise ConfigurationError(
                f"the metadata database {path} has schema version {version}, newer "
                f"than this conveyor knows ({len(MIGRATIONS)}); upgrade conveyor"
            )
        apply_migrations(conn, MIGRATIONS, version, "UPDATE schema_version SET version = ?")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
