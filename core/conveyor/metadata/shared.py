"""What every SQL metadata backend shares: :class:`SharedStore`, the store's methods
written once over a few primitives the backend provides.

A backend class mixes this in with :class:`~.browsing.Browsing` and
:class:`~.intents.WriteIntents` and provides: ``_rows(sql, params)`` (a read: a list of
rows by name and position; inside ``reading_only()`` no rows when there is no database),
``transaction()`` (a context manager yielding an object with ``execute(sql, params)``
returning a cursor, and ``executemany``), ``_connect()`` (opens this thread's connection,
the schema migrated), ``location``, ``_init_lock`` and ``_writer``; and ``write_batch``
for the shared :class:`~.writer.RunWriter`. The SQL here is what SQLite and PostgreSQL
both accept, with ``?`` placeholders (a backend whose driver wants others translates
them); the class attributes :attr:`SharedStore.ORDER` and ``NO_PARENT`` are the dialect's
words for insertion order and "top-level runs".

May import: conveyor.exceptions, the siblings ``batch``, ``ids``, ``interface``, ``writer``.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

from conveyor.exceptions import BlockExistsError, MetadataError, UnknownNameError
from conveyor.metadata.batch import IMPLIES_FINAL, IMPLIES_PENDING, IMPLIES_RUNNING
from conveyor.metadata.ids import canonical_json, document_id
from conveyor.metadata.interface import FLOW_RUN_COLUMNS, STATE_COLUMNS, TASK_RUN_COLUMNS, Row
from conveyor.metadata.writer import RunWriter

_CACHE_GET = "SELECT data, expires FROM cache WHERE cache_key = ?"
FLOW_RUN = "SELECT " + ", ".join(FLOW_RUN_COLUMNS) + " FROM flow_runs"
TASK_RUN = "SELECT " + ", ".join(TASK_RUN_COLUMNS) + " FROM task_runs"
#: A run's states, oldest first: those its task run row tells itself (``implied_states``,
#: see conveyor.metadata.batch; ``seq`` NULL), then its rows of ``states``.
_STATES_OF_RUN = (
    "SELECT " + ", ".join(STATE_COLUMNS) + " FROM ("
    "SELECT 0 AS part, CAST(NULL AS BIGINT) AS seq, id AS run_id, 'task' AS run_kind, 'PENDING' AS type, "
    "'Pending' AS name, NULL AS message, created AS timestamp, NULL AS data FROM task_runs "
    f"WHERE id = ? AND implied_states IN {IMPLIES_PENDING} "
    "UNION ALL SELECT 1, NULL, id, 'task', 'RUNNING', 'Running', NULL, start_time, NULL "
    f"FROM task_runs WHERE id = ? AND implied_states IN {IMPLIES_RUNNING} "
    "UNION ALL SELECT 2, NULL, id, 'task', state_type, state_name, state_message, "
    f"state_timestamp, state_data FROM task_runs WHERE id = ? AND implied_states IN {IMPLIES_FINAL} "
    "UNION ALL SELECT 3, " + ", ".join(STATE_COLUMNS) + " FROM states WHERE run_id = ?"
    ") s ORDER BY part, seq"
)


def _config(text: str | None) -> dict[str, Any] | None:
    """A stored block configuration, or None when the row is damaged (not a JSON object)."""
    try:
        config = json.loads(text) if text is not None else None
    except ValueError:
        return None
    return config if isinstance(config, dict) else None


class SharedStore:
    """The blocks, runs, states and cache methods of :class:`MetadataStore`, for every
    SQL backend (see the module's docstring for what the backend provides)."""

    #: the column that orders runs created at the same time (SQLite: ``rowid``)
    ORDER: ClassVar[str] = "rowid"
    #: the condition "a top-level flow run" in page queries (SQLite: ``+`` walks the
    #: created index rather than the parent one)
    NO_PARENT: ClassVar[str] = "+parent_flow_run_id IS NULL"

    location: Any
    transaction: Any
    _rows: Any
    _connect: Any
    _init_lock: threading.Lock
    _writer: RunWriter | None
    _known_documents: set[str]
    #: Whether a read creates the database (or its schema) when there is none: not inside
    #: :meth:`reading_only`.
    _create_on_read: bool = True

    def _start_process_state(self) -> None:
        """The state a store keeps per process: its connections (one per thread), the
        lock of its first migration, its writer (started on first use), the documents known
        to be recorded. Made by the backend's ``__init__``."""
        self._local = threading.local()
        self._init_lock = threading.Lock()
        self._migrated = False
        self._known_documents = set()
        self._writer = None

    def after_fork(self) -> None:
        """In a forked child: the parent's connections and writer thread are not used (a
        backend whose connections must not even be closed there keeps them aside first)."""
        self._local = threading.local()
        self._init_lock = threading.Lock()
        self._writer = None

    @contextlib.contextmanager
    def reading_only(self) -> Iterator[None]:
        """Inside the block, reads never create the database or its schema: a database
        without one reads as empty."""
        previous, self._create_on_read = self._create_on_read, False
        try:
            yield
        finally:
            self._create_on_read = previous

    # -- blocks ------------------------------------------------------------------------

    def put_block_document(self, block_type: str, config: dict[str, Any]) -> str:
        """Record a block configuration once; return its id (the same for equal configs)."""
        doc_id = document_id(block_type, config)
        cached = self._known_documents
        if doc_id in cached:
            return doc_id
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO block_documents (id, block_type, config, created) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (doc_id, block_type, canonical_json(config), time.time()),
            )
        cached.add(doc_id)
        return doc_id

    def get_block_document(self, doc_id: str) -> tuple[str, dict[str, Any]]:
        rows = self._rows("SELECT block_type, config FROM block_documents WHERE id = ?", (doc_id,))
        if not rows:
            raise UnknownNameError(f"no block document {doc_id!r} in {self.location}")
        config = _config(rows[0]["config"])
        if config is None:
            raise MetadataError(
                f"block document {doc_id!r} in {self.location} is damaged: its configuration is "
                f"not a JSON object; save the block again"
            )
        return rows[0]["block_type"], config

    def save_block(
        self, block_type: str, name: str, config: dict[str, Any], overwrite: bool = False
    ) -> None:
        doc_id = self.put_block_document(block_type, config)
        now = time.time()
        upsert = (" ON CONFLICT (block_type, name) DO UPDATE SET "
                  "document_id = excluded.document_id, updated = excluded.updated")
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO saved_blocks (block_type, name, document_id, created, updated) "
                "VALUES (?, ?, ?, ?, ?)" + (upsert if overwrite else " ON CONFLICT DO NOTHING"),
                (block_type, name, doc_id, now, now),
            )
            if not overwrite and cur.rowcount == 0:  # one statement: no race with a second writer
                raise BlockExistsError(
                    f"a block '{block_type}/{name}' is already saved; pass overwrite=True to "
                    f"replace it, or choose another name"
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
                f"saved block '{block_type}/{name}' in {self.location} is damaged: its configuration "
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
        entry = self.cache_entry(cache_key, now)
        return entry[0] if entry is not None else None

    def cache_entry(self, cache_key: str, now: float) -> tuple[str, float | None] | None:
        """(result JSON, expiry or None) cached under ``cache_key`` and not expired at ``now``."""
        writer = self._writer
        if writer is not None:
            pending = writer.pending_cache.get(cache_key)
            if pending is not None:
                expires = pending[1]
                return pending if expires is None or expires > now else None
        rows = self._rows(_CACHE_GET, (cache_key,))
        row = rows[0] if rows else None
        if row is None or (row[1] is not None and row[1] <= now):
            return None
        return str(row[0]), row[1]

    def cache_delete(self, cache_key: str) -> None:
        self.flush()
        with self.transaction() as conn:
            conn.execute("DELETE FROM cache WHERE cache_key = ?", (cache_key,))

    def read_flow_run(self, run_id: str) -> Row | None:
        self.flush()
        rows = self._rows(FLOW_RUN + " WHERE id = ?", (run_id,))
        return rows[0] if rows else None

    def read_flow_runs(self, flow_name: str | None = None, limit: int | None = None) -> list[Row]:
        self.flush()
        sql = FLOW_RUN
        params: list[Any] = []
        if flow_name is not None:
            sql += " WHERE flow_name = ?"
            params.append(flow_name)
        sql += f" ORDER BY created DESC, {self.ORDER} DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return self._rows(sql, tuple(params))

    def read_subflow_runs(self, flow_run_id: str) -> list[Row]:
        """Flow runs whose parent flow run is ``flow_run_id``, in creation order."""
        self.flush()
        return self._rows(
            FLOW_RUN + f" WHERE parent_flow_run_id = ? ORDER BY created, {self.ORDER}",
            (flow_run_id,),
        )

    def read_result_records(self) -> list[Row]:
        """``(kind, id, state_data)`` of every flow run and task run that has result data."""
        self.flush()
        return self._rows(
            "SELECT 'flow' AS kind, id, state_data FROM flow_runs WHERE state_data IS NOT NULL "
            "UNION ALL SELECT 'task', id, state_data FROM task_runs WHERE state_data IS NOT NULL"
        )

    def read_task_run(self, run_id: str) -> Row | None:
        self.flush()
        rows = self._rows(TASK_RUN + " WHERE id = ?", (run_id,))
        return rows[0] if rows else None

    def read_task_runs(self, flow_run_id: str) -> list[Row]:
        self.flush()
        return self._rows(
            TASK_RUN + f" WHERE flow_run_id = ? ORDER BY created, {self.ORDER}", (flow_run_id,)
        )

    def read_states(self, run_id: str) -> list[Row]:
        self.flush()
        return self._rows(_STATES_OF_RUN, (run_id, run_id, run_id, run_id))

    def read_unfinished_flow_runs(self) -> list[Row]:
        """Top-level flow runs still Running or Pending (keys :data:`FLOW_RUN_COLUMNS`)."""
        self.flush()
        return self._rows(
            FLOW_RUN + " WHERE state_type IN ('RUNNING', 'PENDING') "
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
                "WITH RECURSIVE tree(id) AS (SELECT id FROM flow_runs WHERE id = ? UNION ALL SELECT f.id FROM flow_runs f "
                "JOIN tree ON f.parent_flow_run_id = tree.id) SELECT id FROM tree", (flow_run_id,)
            )]
            marked = 0
            if not flows:  # no such flow run
                return 0
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
