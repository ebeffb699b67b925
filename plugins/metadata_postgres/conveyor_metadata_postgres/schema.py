"""The PostgreSQL schema and its migrations: the same tables, columns and meaning as the
SQLite store's (``conveyor.metadata.schema``), numbered on their own.

:data:`MIGRATIONS` entry ``i`` brings a database from version ``i`` to ``i + 1``; the
``schema_version`` table records how far it has come. :func:`ensure` reads the version
without a lock (a current database is opened at once), and only a database that is
behind takes an advisory lock (:data:`LOCK_KEY`) to migrate: several
processes opening a fresh database at once create it exactly once. Text columns that
are compared or sorted use the ``"C"`` collation (byte order, as SQLite's), so id prefix
scans and keyset pages are index range scans with the same order on both backends.
Times are ``double precision`` unix times (a float round-trips exactly).

Tables live in the connection's current schema (the first of its ``search_path``).
"""

from __future__ import annotations

from typing import Any

from conveyor.exceptions import ConfigurationError, MetadataError
from conveyor.metadata.schema import apply_migrations

#: pg_advisory_xact_lock key held while migrating (any constant of ours; 'conveyor' in ASCII).
LOCK_KEY = 0x636F6E7665796F72
_T = 'TEXT COLLATE "C"'
_F = "DOUBLE PRECISION"

MIGRATIONS: list[str] = [
    # 0 -> 1: everything SQLite's migrations 0 -> 4 make (blocks, runs, states, the cache
    # index, origins, names and tags, write intents); seq: insertion order of runs.
    f"""
    CREATE TABLE block_documents (
        id {_T} PRIMARY KEY, block_type {_T} NOT NULL, config TEXT NOT NULL, created {_F} NOT NULL
    );
    CREATE TABLE saved_blocks (
        block_type {_T} NOT NULL, name {_T} NOT NULL,
        document_id {_T} NOT NULL REFERENCES block_documents(id),
        created {_F} NOT NULL, updated {_F} NOT NULL, PRIMARY KEY (block_type, name)
    );
    CREATE TABLE flow_runs (
        seq BIGINT GENERATED ALWAYS AS IDENTITY,
        id {_T} PRIMARY KEY, flow_name {_T} NOT NULL,
        parent_task_run_id {_T}, parent_flow_run_id {_T},
        state_type {_T} NOT NULL, state_name {_T} NOT NULL, state_message TEXT,
        state_timestamp {_F} NOT NULL, state_data TEXT,
        start_time {_F}, end_time {_F}, run_count BIGINT NOT NULL DEFAULT 0, created {_F} NOT NULL,
        flow_ref TEXT, parameters TEXT, resumed_from {_T}, host TEXT, pid BIGINT,
        process_start {_F}, run_name TEXT, tags TEXT
    );
    CREATE INDEX flow_runs_by_name ON flow_runs (flow_name, created);
    CREATE INDEX flow_runs_by_created ON flow_runs (created, id);
    CREATE INDEX flow_runs_by_parent ON flow_runs (parent_flow_run_id);
    CREATE INDEX flow_runs_by_resumed_from ON flow_runs (resumed_from);
    CREATE INDEX flow_runs_by_state ON flow_runs (state_type);
    CREATE TABLE task_runs (
        seq BIGINT GENERATED ALWAYS AS IDENTITY,
        id {_T} PRIMARY KEY, task_name {_T} NOT NULL, flow_run_id {_T}, cache_key {_T},
        state_type {_T} NOT NULL, state_name {_T} NOT NULL, state_message TEXT,
        state_timestamp {_F} NOT NULL, state_data TEXT,
        start_time {_F}, end_time {_F}, run_count BIGINT NOT NULL DEFAULT 0, created {_F} NOT NULL,
        call_position BIGINT, input_hash TEXT, flow_attempt BIGINT, run_name TEXT, tags TEXT
    );
    CREATE INDEX task_runs_by_flow ON task_runs (flow_run_id, created);
    CREATE TABLE states (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        run_id {_T} NOT NULL, run_kind {_T} NOT NULL, type {_T} NOT NULL, name {_T} NOT NULL,
        message TEXT, timestamp {_F} NOT NULL, data TEXT
    );
    CREATE INDEX states_by_run ON states (run_id, seq);
    CREATE TABLE cache (
        cache_key {_T} PRIMARY KEY, task_run_id {_T} NOT NULL, data TEXT NOT NULL,
        created {_F} NOT NULL, expires {_F}
    );
    CREATE TABLE write_intents (
        storage_document {_T} NOT NULL, key {_T} NOT NULL, run_id {_T}, created {_F} NOT NULL,
        PRIMARY KEY (storage_document, key)
    );
    """,
    # 1 -> 2: SQLite's migration 5 (input lineage, deleted results).
    f"""
    ALTER TABLE task_runs ADD COLUMN inputs TEXT;
    CREATE TABLE deleted_results (
        storage_document {_T} NOT NULL, key {_T} NOT NULL, checksum {_T} NOT NULL,
        deleted {_F} NOT NULL, reason TEXT NOT NULL,
        PRIMARY KEY (storage_document, key, checksum)
    );
    CREATE INDEX cache_by_task_run ON cache (task_run_id);
    """,
    # 2 -> 3: SQLite's migration 6 (states a task run's row already tells).
    """
    ALTER TABLE task_runs ADD COLUMN implied_states TEXT;
    """,
]

#: Tables of ours: one of them without ``schema_version`` is someone else's database.
OUR_TABLES = ("flow_runs", "task_runs", "block_documents", "saved_blocks", "states", "cache")


def current_version(conn: Any) -> int | None:
    """The schema version of ``conn``'s database, or None when it has no schema yet."""
    row = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    if not row[0]:
        return None
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def ensure(conn: Any, location: str) -> None:
    """Bring ``conn``'s database to ``len(MIGRATIONS)``: at once when it is current,
    otherwise under the advisory lock, in one transaction (all steps or none)."""
    if current_version(conn) == len(MIGRATIONS):
        return
    # A session lock taken before the transaction: the transaction then starts after the
    # lock holder's commit, so it sees the tables that one made (a transaction-scoped lock
    # taken inside it would leave this session's catalog caches from before the wait).
    conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
    try:
        _migrate(conn, location)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))


def _migrate(conn: Any, location: str) -> None:
    with conn.transaction():
        version = current_version(conn)
        if version is None:
            found = [t for t in OUR_TABLES if conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL", (t,)).fetchone()[0]]
            if found:
                raise MetadataError(
                    f"the database {location} has tables named like conveyor's "
                    f"({', '.join(found)}) but no schema_version: it is not conveyor's "
                    f"metadata database, so conveyor does not change it; point "
                    f"CONVEYOR_DATABASE_URL at a database (or search_path schema) of its own"
                )
            conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
            conn.execute("INSERT INTO schema_version (version) VALUES (0)")
            version = 0
        if version > len(MIGRATIONS):
            raise ConfigurationError(
                f"the metadata database {location} has schema version {version}, newer than "
                f"this conveyor-metadata-postgres knows ({len(MIGRATIONS)}); upgrade it"
            )
        apply_migrations(conn, MIGRATIONS, version, "UPDATE schema_version SET version = %s")


__all__ = ["LOCK_KEY", "MIGRATIONS", "OUR_TABLES", "current_version", "ensure"]
