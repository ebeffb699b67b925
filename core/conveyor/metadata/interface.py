"""What the rest of conveyor may ask of a metadata database: :class:`MetadataStore`.

The engine, the client, blocks and the CLI use a store only through the methods listed
here, so a backend implements these two protocols and nothing in the engine changes.
:class:`conveyor.metadata.SQLiteStore` is the built-in one; a plugin adds others through
the ``conveyor_register_metadata_backends`` hook (a class with ``schemes``, the URL schemes
it serves, and ``from_url(url)``; see :mod:`conveyor.metadata.batch` for the one method the
shared batched writer asks of it). ``tests/test_metadata_interface.py`` checks a backend
has every method, with the same signature; :mod:`conveyor.testing.metadata` checks it
behaves the same.

Guarantees every backend keeps:

- *Read your own writes.* Every ``read_*`` method (and :meth:`MetadataStore.cache_lookup`)
  sees every row queued through :attr:`MetadataStore.writer` earlier in this process.
- *Short writes.* Every write is one short transaction; a busy database is waited on,
  not failed. Several processes may write at once.
- *Never a value.* The store holds a result's literal (True, False, None) or reference
  (where the value is), as JSON, never the value itself.

A *state tuple* is ``(type, name, message, timestamp, data)``: the state type's and name's
strings, the message or None, the unix time, and the JSON of the state's result literal
or reference, or None.

Rows read back are :class:`Row` objects: values by column name (``row["state_type"]``)
and by position; their keys are the ``*_COLUMNS`` tuples below. Several rows come as a
sequence. Not part of the interface: ``SQLiteStore.transaction()`` and ``query()``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple, Protocol

from conveyor.metadata.upkeep import LineageWriter, Row, UpkeepStore

#: (type, name, message, timestamp, data JSON): one state as the store records it.
StateTuple = tuple[str, str, str | None, float, str | None]


class FlowRunOrigin(NamedTuple):
    """What a flow run records about where it comes from, so it can be resumed later.

    :ivar flow_ref: where the flow is defined: ``"module:qualname"``, or
        ``"/path/to/script.py:qualname"`` for a flow defined in a script.
    :ivar parameters: JSON of the ``ResultReference`` of the run's persisted parameters
        (never the parameters themselves), or None when they were not kept.
    :ivar resumed_from: the id of the flow run this run resumes, or None.
    :ivar host: host name of the process running it (None for a subflow: its parent's).
    :ivar pid: that process's id.
    :ivar process_start: that process's start time (unix time), so a reused pid is told apart.
    """

    flow_ref: str | None = None
    parameters: str | None = None
    resumed_from: str | None = None
    host: str | None = None
    pid: int | None = None
    process_start: float | None = None


class RunLabels(NamedTuple):
    """What a person named a run: ``task_run_name`` / ``flow_run_name`` filled in, and tags.

    :ivar name: the run's name, or None (the task's or flow's name stands for it).
    :ivar tags: the run's tags (column ``tags``: their JSON list, NULL when there are none).
    """

    name: str | None = None
    tags: tuple[str, ...] = ()

    def tags_json(self) -> str | None:
        return json.dumps(list(self.tags)) if self.tags else None


class TaskCall(NamedTuple):
    """Which call of its task a task run is, within its flow run (for reuse on a retry or resume).

    :ivar position: the n-th call (from 0) of this task name in the flow run's attempt.
    :ivar input_hash: a hash of the call's inputs, or None when they cannot be hashed.
    :ivar flow_attempt: the attempt (from 1) of the flow run that made the call.
    """

    position: int | None = None
    input_hash: str | None = None
    flow_attempt: int | None = None

#: Keys of a flow run row (times are unix times; ``state_data`` is JSON or None).
FLOW_RUN_COLUMNS = (
    "id", "flow_name", "parent_task_run_id", "parent_flow_run_id", "state_type", "state_name",
    "state_message", "state_timestamp", "state_data", "start_time", "end_time", "run_count",
    "created", "flow_ref", "parameters", "resumed_from", "host", "pid", "process_start",
    "run_name", "tags",
)
#: Keys of a task run row.
TASK_RUN_COLUMNS = (
    "id", "task_name", "flow_run_id", "cache_key", "state_type", "state_name", "state_message",
    "state_timestamp", "state_data", "start_time", "end_time", "run_count", "created",
    "call_position", "input_hash", "flow_attempt", "run_name", "tags", "inputs", "implied_states",
)
#: Keys of a state row (``run_kind`` is ``'flow'`` or ``'task'``; ``seq`` grows with each row).
STATE_COLUMNS = ("seq", "run_id", "run_kind", "type", "name", "message", "timestamp", "data")
#: Keys of a result record row (``kind`` is ``'flow'`` or ``'task'``).
RESULT_RECORD_COLUMNS = ("kind", "id", "state_data")
#: Keys of a result row (``name``: the task's or flow's; ``flow_run_id``: the run's own flow run).
RESULT_ROW_COLUMNS = ("kind", "id", "name", "flow_run_id", "flow_name", "created", "state_data")


class MetadataWriter(LineageWriter, Protocol):
    """Queues run, state and cache rows; commits them in the background, in batches.

    A call only queues its row and returns; :meth:`flush` waits until they are committed.
    Batches are committed in queue order, each in one transaction. Rows queued when the
    process exits normally (including Ctrl-C) are committed before it ends; SIGKILL may
    lose them.
    """

    @property
    def store(self) -> MetadataStore:
        """The store this writer commits to."""
        ...

    def create_flow_run(
        self, run_id: str, flow_name: str, parent_task_run_id: str | None,
        parent_flow_run_id: str | None, state: StateTuple, start_time: float | None,
        run_count: int, origin: FlowRunOrigin | None = None, labels: RunLabels | None = None,
    ) -> None:
        """Queue a new flow run ``run_id`` in ``state`` (also its first state row).

        ``parent_task_run_id``/``parent_flow_run_id``: the run that started it, for a
        subflow; ``start_time``: unix time or None; its ``created`` is the state's
        timestamp, its ``end_time`` None; ``origin``: where it comes from (columns
        ``flow_ref``, ``parameters``, ``resumed_from``, ``host``, ``pid``, ``process_start``);
        ``labels``: its name and tags (columns ``run_name``, ``tags``).
        """
        ...

    def create_task_run(
        self, run_id: str, task_name: str, flow_run_id: str | None, cache_key: str | None,
        state: StateTuple, start_time: float | None, run_count: int,
        call: TaskCall | None = None, labels: RunLabels | None = None,
    ) -> None:
        """Queue a new task run ``run_id`` in ``state`` (also its first state row).

        ``flow_run_id``: the flow run it ran in, or None; ``cache_key``: the key its
        result is cached under, or None; ``created`` is the state's timestamp; ``call``:
        which call of its task it is (columns ``call_position``, ``input_hash``,
        ``flow_attempt``); ``labels``: its name and tags (columns ``run_name``, ``tags``).
        """
        ...

    def set_state(
        self, kind: str, run_id: str, state: StateTuple, start_time: float | None,
        end_time: float | None, run_count: int,
    ) -> None:
        """Queue a new state for run ``run_id`` (``kind``: ``'flow'`` or ``'task'``).

        Appends a state row and sets the run's current state, ``end_time`` and
        ``run_count``; ``start_time`` is kept if the run already has one.
        """
        ...

    def write_intent(self, storage_document: str, key: str, run_id: str | None, created: float) -> None:
        """Queue a write intent (``MetadataStore.record_write_intent`` queues one and flushes)."""
        ...

    def forget_write_intent(self, storage_document: str, key: str) -> None:
        """Queue the removal of a write intent once the reference it stood for is queued
        (committed together with it)."""
        ...

    def set_input_hash(self, run_id: str, input_hash: str) -> None:
        """Queue the hash of task run ``run_id``'s inputs (column ``input_hash``)."""
        ...

    def put_cache(
        self, cache_key: str, task_run_id: str, data: str, created: float, expires: float | None
    ) -> None:
        """Queue a cache entry: ``data`` (result JSON) under ``cache_key``, replacing any.

        ``expires``: unix time after which it no longer counts, or None for never. The
        entry is visible to :meth:`MetadataStore.cache_lookup` at once, before it is
        committed.
        """
        ...

    def flush(self, timeout: float | None = None) -> None:
        """Wait (at most ``timeout`` seconds; None: no limit) until every row queued so
        far is committed; re-raise the error of a commit that failed since the last flush."""
        ...


class MetadataStore(UpkeepStore, Protocol):
    """One metadata database: runs, states, result references, blocks, the cache index.

    Thread-safe; one per database per process (see :func:`conveyor.metadata.get_store`).
    """

    @property
    def location(self) -> str:
        """Where the database is, as named in messages: a path, or a URL with its password
        masked (never the password itself)."""
        ...

    def after_fork(self) -> None:
        """In a forked child: forget the parent's connections and writer thread."""
        ...

    @property
    def exists(self) -> bool:
        """Whether the database exists yet (it is made by the first write, or first read)."""
        ...

    @contextlib.contextmanager
    def reading_only(self) -> Iterator[None]:
        """A context in which reads never create the database: until something is written,
        every ``read_*`` method answers as for an empty database (read-only commands)."""
        ...

    @property
    def schema_version(self) -> int:
        """How far this database's schema has been migrated (equal to the number of
        migrations this conveyor knows, once opened)."""
        ...

    def close(self) -> None:
        """Close this thread's connection (the next call opens a new one)."""

    # -- blocks ------------------------------------------------------------------------

    def put_block_document(self, block_type: str, config: dict[str, Any]) -> str:
        """Record a block configuration once; return its id.

        The id is :func:`conveyor.metadata.document_id` of the two arguments: the same
        for equal configurations, in every process and backend. Recording it again adds
        nothing.
        """
        ...

    def get_block_document(self, doc_id: str) -> tuple[str, dict[str, Any]]:
        """``(block_type, config)`` recorded as document ``doc_id``.

        Raises :class:`conveyor.exceptions.UnknownNameError` if there is none.
        """
        ...

    def save_block(
        self, block_type: str, name: str, config: dict[str, Any], overwrite: bool = False
    ) -> None:
        """Save ``config`` as block ``block_type/name`` (recording its document).

        Raises :class:`conveyor.exceptions.BlockExistsError` if that name is saved and
        ``overwrite`` is false; with ``overwrite`` the name points to the new document.
        """
        ...

    def load_block(self, block_type: str, name: str) -> dict[str, Any] | None:
        """The configuration saved as ``block_type/name``, or None if there is none."""
        ...

    def list_blocks(
        self, block_type: str | None = None
    ) -> list[tuple[str, str, dict[str, Any] | None]]:
        """``(block_type, name, config)`` of every saved block (of ``block_type`` only
        when given), sorted by block type, then name. ``config`` is None for a row whose
        configuration is damaged (not a JSON object), so one bad row does not hide the rest."""
        ...

    def delete_block(self, block_type: str, name: str) -> bool:
        """Forget the saved name ``block_type/name`` (its document stays); True if there
        was one."""
        ...

    def saved_block_names(self, doc_id: str) -> list[tuple[str, str]]:
        """``(block_type, name)`` of every saved block whose configuration is document
        ``doc_id``, sorted by name; empty if none."""
        ...

    # -- runs, states and the cache ----------------------------------------------------

    @property
    def writer(self) -> MetadataWriter:
        """The writer that records runs, states and cache entries (one per store)."""
        ...

    def flush(self) -> None:
        """Wait until every queued run, state and cache row is committed; re-raise a
        failed commit."""

    def cache_lookup(self, cache_key: str, now: float) -> str | None:
        """The result JSON cached under ``cache_key`` and not expired at unix time
        ``now``, or None. Sees entries queued but not yet committed."""
        ...

    def cache_entry(self, cache_key: str, now: float) -> tuple[str, float | None] | None:
        """Like :meth:`cache_lookup`, with the entry's expiry: ``(result JSON, unix time or
        None)``, or None."""
        ...

    def cache_delete(self, cache_key: str) -> None:
        """Remove the cache entry under ``cache_key`` (after committing queued rows), if
        there is one."""
        ...

    def read_flow_run(self, run_id: str) -> Row | None:
        """The flow run ``run_id`` (keys :data:`FLOW_RUN_COLUMNS`), or None."""

    def read_flow_runs(
        self, flow_name: str | None = None, limit: int | None = None
    ) -> Sequence[Row]:
        """Flow runs (keys :data:`FLOW_RUN_COLUMNS`), newest first; only those named
        ``flow_name`` when given; at most ``limit`` when given."""
        ...

    def read_subflow_runs(self, flow_run_id: str) -> Sequence[Row]:
        """Flow runs whose parent flow run is ``flow_run_id`` (keys
        :data:`FLOW_RUN_COLUMNS`), in creation order."""
        ...

    def read_result_records(self) -> Sequence[Row]:
        """``(kind, id, state_data)`` (keys :data:`RESULT_RECORD_COLUMNS`) of every flow
        run and task run whose current state has result data (``state_data`` not None)."""
        ...

    def read_task_run(self, run_id: str) -> Row | None:
        """The task run ``run_id`` (keys :data:`TASK_RUN_COLUMNS`), or None."""

    def read_task_runs(self, flow_run_id: str) -> Sequence[Row]:
        """The task runs of flow run ``flow_run_id`` (keys :data:`TASK_RUN_COLUMNS`), in
        creation order."""
        ...

    def read_states(self, run_id: str) -> Sequence[Row]:
        """Every state run ``run_id`` went through (keys :data:`STATE_COLUMNS`), oldest
        first."""
        ...

    def record_write_intent(self, storage_document: str, key: str, run_id: str | None) -> None:
        """Commit, before a result is written, that ``key`` in storage ``storage_document``
        is about to be written by run ``run_id``."""
        ...

    def read_write_intents(self) -> Sequence[Row]:
        """Write intents not yet removed (keys ``storage_document``, ``key``, ``run_id``,
        ``created``): writes whose reference may never have been recorded."""
        ...

    def read_unfinished_flow_runs(self) -> Sequence[Row]:
        """Top-level flow runs still Running or Pending (keys :data:`FLOW_RUN_COLUMNS`), oldest first."""
        ...

    def mark_crashed(self, flow_run_id: str, message: str, timestamp: float) -> int:
        """Mark the flow run, its subflow runs and their task runs Crashed where not finished.

        In one transaction; each run marked gets a Crashed state row with ``message``.
        Returns how many runs were marked.
        """
        ...

    # -- browsing (``conveyor ui``) ------------------------------------------------------

    def read_flow_run_page(
        self, flow_name: str | None = None, state: str | None = None, since: float | None = None,
        until: float | None = None, cursor: str | None = None, newer: bool = False,
        limit: int = 50, top_level: bool = False,
    ) -> tuple[Sequence[Row], str | None, str | None]:
        """One page of flow runs (keys :data:`FLOW_RUN_COLUMNS`), newest first, found by
        keyset (as fast on the last page of 100,000 runs as on the first).

        Only runs named ``flow_name``, whose state type or name is ``state``, created at
        or after ``since`` and before ``until`` (unix times), when given; with
        ``top_level``, no subflow runs. ``cursor`` is
        one this method returned: the page holds the ``limit`` runs just older than it
        (``newer=True``: just newer). Returns ``(rows, older, newer)``: the cursors of
        the next older and newer pages, None where there are no more runs. A cursor this
        store did not make is a ``ValueError``.
        """
        ...

    def read_flow_names(self) -> list[str]:
        """The distinct names of the flows that have runs, sorted."""

    def read_resumed_runs(self, flow_run_id: str) -> Sequence[Row]:
        """Flow runs whose ``resumed_from`` is ``flow_run_id`` (keys :data:`FLOW_RUN_COLUMNS`),
        in creation order."""
        ...

    def find_run_ids(self, prefix: str, limit: int = 10) -> list[tuple[str, str]]:
        """``(kind, id)`` (kind ``"flow"`` or ``"task"``) of at most ``limit`` runs whose id
        starts with ``prefix``, by id; flow runs first. An index range scan; empty for ``""``."""
        ...

    def read_result_rows(self, flow_name: str | None = None, flow_run_id: str | None = None,
                         since: float | None = None) -> Sequence[Row]:
        """Runs whose state holds result data (keys :data:`RESULT_ROW_COLUMNS`; ``created``:
        when that state was recorded), newest first; only of flow ``flow_name``, of flow run
        ``flow_run_id`` (it and its task runs), recorded since ``since``, when given."""
        ...
