"""The metadata database: runs, states, result references, saved blocks, the cache index.

SQLite in WAL mode, one file under ``CONVEYOR_HOME``. Several processes may write at
once: every write is one short transaction (``BEGIN IMMEDIATE``), and a busy database is
waited on (busy timeout) rather than failed. The schema is created and migrated by
:data:`MIGRATIONS`; the ``schema_version`` table records how far a file has come.

Never stored here: a result's value. States hold the JSON of a ``ResultLiteral`` (True,
False, None) or of a ``ResultReference`` (where the value is), nothing else.
"""

from __future__ import annotations

import atexit
import collections
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
]


def _set_wal(conn: sqlite3.Connection) -> None:
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
        _set_wal(conn)
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


    # -- runs, states and the cache ----------------------------------------------------
    #
    # The engine records state changes through a background writer (:class:`RunWriter`):
    # a call only queues a row; the writer commits whatever has queued up in one short
    # transaction. Reads flush the writer first, so a process always reads its own writes;
    # the engine flushes at the end of every top-level run, so another process sees a run
    # complete as soon as the call that ran it has returned.

    @property
    def writer(self) -> RunWriter:
        writer: RunWriter | None = getattr(self, "_writer", None)
        if writer is None:
            self._connect()  # schema and WAL mode settled before the writer thread writes
            with self._init_lock:
                writer = getattr(self, "_writer", None)
                if writer is None:
                    writer = self._writer = RunWriter(self)
        return writer

    def flush(self) -> None:
        """Wait until every queued run, state and cache row is committed."""
        writer: RunWriter | None = getattr(self, "_writer", None)
        if writer is not None:
            writer.flush()

    def cache_lookup(self, cache_key: str, now: float) -> str | None:
        """The result JSON cached under ``cache_key`` and not expired at ``now``, or None."""
        writer: RunWriter | None = getattr(self, "_writer", None)
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


_stores: dict[Path, Store] = {}
_stores_lock = threading.Lock()


def _after_fork_in_child() -> None:
    """A forked child must not use its parent's connections or writer thread (it has none)."""
    global _stores_lock
    _stores_lock = threading.Lock()
    for store in _stores.values():
        store._local = threading.local()
        store._init_lock = threading.Lock()
        store._writer = None  # type: ignore[assignment]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


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


_CACHE_GET = "SELECT data, expires FROM cache WHERE cache_key = ?"
_INSERT_FLOW_RUN = (
    "INSERT INTO flow_runs (id, flow_name, parent_task_run_id, parent_flow_run_id, state_type, "
    "state_name, state_message, state_timestamp, state_data, start_time, end_time, run_count, "
    "created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_TASK_RUN = (
    "INSERT INTO task_runs (id, task_name, flow_run_id, cache_key, state_type, state_name, "
    "state_message, state_timestamp, state_data, start_time, end_time, run_count, created) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_STATE = (
    "INSERT INTO states (run_id, run_kind, type, name, message, timestamp, data) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_UPDATE = (
    "UPDATE {table} SET state_type = ?, state_name = ?, state_message = ?, state_timestamp = ?, "
    "state_data = ?, start_time = COALESCE(start_time, ?), end_time = ?, run_count = ? WHERE id = ?"
)
_UPDATE_FLOW_RUN = _UPDATE.format(table="flow_runs")
_UPDATE_TASK_RUN = _UPDATE.format(table="task_runs")
_PUT_CACHE = (
    "INSERT OR REPLACE INTO cache (cache_key, task_run_id, data, created, expires) "
    "VALUES (?, ?, ?, ?, ?)"
)
#: Most rows committed in one transaction, so a writer never holds the lock for long.
MAX_BATCH = 2000
#: A writer thread without work for this long stops (and closes its connection).
IDLE_SECONDS = 2.0


class RunWriter:
    """Commits queued run, state and cache rows from a background thread, in batches.

    Queueing a row costs a list append; the thread takes everything queued so far and
    commits it in one short transaction. :meth:`flush` waits until all rows queued before
    it are committed and re-raises a failed commit. Rows still queued when the process is
    killed with SIGKILL are lost; a normal exit (including Ctrl-C) flushes them.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue: collections.deque[tuple[Any, ...]] = collections.deque()
        self._wake = threading.Event()
        self._error: BaseException | None = None
        #: cache rows queued but not yet committed: key -> (data JSON, expires)
        self.pending_cache: dict[str, tuple[str, float | None]] = {}
        self._lock = threading.Lock()
        self._alive = False
        self._start()
        atexit.register(self._at_exit)

    def _start(self) -> None:
        with self._lock:
            if not self._alive:
                self._alive = True
                thread = threading.Thread(target=self._loop, name="conveyor-store-writer", daemon=True)
                thread.start()

    # Producers: one tuple per row; the first item says which statement.

    def _put(self, op: tuple[Any, ...]) -> None:
        self._queue.append(op)
        if not self._wake.is_set():
            self._wake.set()
        if not self._alive:  # the thread stopped after being idle: start another
            self._start()

    def create_flow_run(
        self, run_id: str, flow_name: str, parent_task_run_id: str | None,
        parent_flow_run_id: str | None, state: tuple[str, str, str | None, float, str | None],
        start_time: float | None, run_count: int,
    ) -> None:
        self._put(("flow_run", [run_id, flow_name, parent_task_run_id, parent_flow_run_id, *state,
                                start_time, None, run_count, state[3]]))

    def create_task_run(
        self, run_id: str, task_name: str, flow_run_id: str | None, cache_key: str | None,
        state: tuple[str, str, str | None, float, str | None], start_time: float | None,
        run_count: int,
    ) -> None:
        self._put(("task_run", [run_id, task_name, flow_run_id, cache_key, *state, start_time,
                                None, run_count, state[3]]))

    def set_state(
        self, kind: str, run_id: str, state: tuple[str, str, str | None, float, str | None],
        start_time: float | None, end_time: float | None, run_count: int,
    ) -> None:
        self._put(("state", kind, run_id, state, start_time, end_time, run_count))

    def put_cache(
        self, cache_key: str, task_run_id: str, data: str, created: float, expires: float | None
    ) -> None:
        self.pending_cache[cache_key] = (data, expires)
        self._put(("cache", (cache_key, task_run_id, data, created, expires)))

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every row queued so far is committed; re-raise a failed commit."""
        done = threading.Event()
        self._put(("flush", done))
        done.wait(timeout)
        error, self._error = self._error, None
        if error is not None:
            raise error

    def _at_exit(self) -> None:
        # A running writer finishes the queue; threads may no longer start at interpreter
        # exit, so what is left is written from here.
        if self._alive:
            with contextlib.suppress(Exception):  # logged by the writer; exit goes on
                self.flush(timeout=30)
        with self._lock:
            self._alive = True  # no new thread; a running one finishes its batch first
        while self._queue:
            self._write_batch(self._drain())

    # The writer thread: it stops after IDLE_SECONDS without work (closing its
    # connection), and the next row queued starts a new one.

    def _drain(self) -> list[tuple[Any, ...]]:
        ops = []
        queue = self._queue
        while queue and len(ops) < MAX_BATCH:
            ops.append(queue.popleft())
        return ops

    def _loop(self) -> None:
        try:
            while True:
                if not self._wake.wait(IDLE_SECONDS):
                    if self._stop_if_idle():
                        return
                    continue
                self._wake.clear()
                while self._queue:
                    self._write_batch(self._drain())
        finally:
            self.store.close()  # this thread's connection

    def _stop_if_idle(self) -> bool:
        with self._lock:
            self._alive = False
        if not self._queue:
            return True
        with self._lock:
            if self._alive:  # a producer already started the next thread
                return True
            self._alive = True
            return False

    def _write_batch(self, ops: list[tuple[Any, ...]]) -> None:
        flows: list[list[Any]] = []
        tasks: list[list[Any]] = []
        states: list[tuple[Any, ...]] = []
        flow_updates: list[tuple[Any, ...]] = []
        task_updates: list[tuple[Any, ...]] = []
        caches: list[tuple[Any, ...]] = []
        waiters: list[threading.Event] = []
        # Runs created in this batch: a later state of theirs goes into the INSERT itself
        # (columns 4-8: state, 9: start, 10: end, 11: run count) instead of an UPDATE.
        created: dict[str, list[Any]] = {}
        for op in ops:
            what = op[0]
            if what == "state":
                _w, kind, run_id, st, start, end, count = op
                states.append((run_id, kind, *st))
                row = created.get(run_id)
                if row is not None:
                    row[4:12] = [*st, start, end, count]
                else:
                    (task_updates if kind == "task" else flow_updates).append(
                        (*st, start, end, count, run_id)
                    )
            elif what == "task_run":
                row = op[1]
                tasks.append(row)
                created[row[0]] = row
                states.append((row[0], "task", *row[4:9]))
            elif what == "flow_run":
                row = op[1]
                flows.append(row)
                created[row[0]] = row
                states.append((row[0], "flow", *row[4:9]))
            elif what == "cache":
                caches.append(op[1])
            else:
                waiters.append(op[1])
        try:
            if flows or tasks or states or caches:
                self._commit(flows, tasks, states, flow_updates, task_updates, caches)
        except BaseException as exc:  # reported by the next flush  # noqa: BLE001
            import logging

            logging.getLogger("conveyor").error(
                "could not record %d run/state rows in %s: %s", len(ops), self.store.path, exc
            )
            self._error = exc
        finally:
            for row in caches:
                current = self.pending_cache.get(row[0])
                if current is not None and current[0] == row[2]:
                    del self.pending_cache[row[0]]
            for done in waiters:
                done.set()

    def _commit(self, flows: list[Any], tasks: list[Any], states: list[Any], flow_updates: list[Any],
                task_updates: list[Any], caches: list[Any]) -> None:
        # The busy timeout covers waiting for other writers; "locked" can still come at once
        # when a first connection sets WAL mode while another writes: retry those briefly.
        for attempt in range(100):
            try:
                with self.store.transaction() as conn:
                    if flows:
                        conn.executemany(_INSERT_FLOW_RUN, flows)
                    if tasks:
                        conn.executemany(_INSERT_TASK_RUN, tasks)
                    if states:
                        conn.executemany(_INSERT_STATE, states)
                    if flow_updates:
                        conn.executemany(_UPDATE_FLOW_RUN, flow_updates)
                    if task_updates:
                        conn.executemany(_UPDATE_TASK_RUN, task_updates)
                    if caches:
                        conn.executemany(_PUT_CACHE, caches)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or attempt == 99:
                    raise
                time.sleep(min(0.001 * (attempt + 1), 0.05))
