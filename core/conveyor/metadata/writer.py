"""The batched writer: run, state and cache rows committed from a background thread.

The engine records state changes through a :class:`RunWriter`: a call only queues a row;
the writer commits whatever has queued up in one short transaction. Reads flush the
writer first, so a process always reads its own writes; the engine flushes at the end of
every top-level run, so another process sees a run complete as soon as the call that ran
it has returned.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import logging
import sqlite3
import threading
import time
from typing import TYPE_CHECKING, Any

from conveyor.exceptions import MetadataError
from conveyor.metadata.interface import FlowRunOrigin, RunLabels, StateTuple, TaskCall

if TYPE_CHECKING:
    from conveyor.metadata.sqlite import SQLiteStore

_INSERT_FLOW_RUN = (
    "INSERT INTO flow_runs (id, flow_name, parent_task_run_id, parent_flow_run_id, state_type, "
    "state_name, state_message, state_timestamp, state_data, start_time, end_time, run_count, "
    "created, flow_ref, parameters, resumed_from, host, pid, process_start, run_name, tags) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_TASK_RUN = (
    "INSERT INTO task_runs (id, task_name, flow_run_id, cache_key, state_type, state_name, "
    "state_message, state_timestamp, state_data, start_time, end_time, run_count, created, "
    "call_position, input_hash, flow_attempt, run_name, tags, inputs) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
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
_SET_INPUT_HASH = "UPDATE task_runs SET input_hash = ? WHERE id = ?"
_SET_INPUTS = "UPDATE task_runs SET inputs = ? WHERE id = ?"
_FORGET_INTENT = "DELETE FROM write_intents WHERE storage_document = ? AND key = ?"
_NO_ORIGIN = FlowRunOrigin()
_NO_CALL = TaskCall()
_NO_LABELS = RunLabels()

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

    def __init__(self, store: SQLiteStore) -> None:
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
        error = self._error
        if error is not None and op[0] != "flush":
            # a commit failed (a full disk, a broken file): what came before is recorded,
            # nothing more is queued, and the run stops at its first state not recorded
            raise MetadataError(
                f"conveyor could not record runs in the metadata database {self.store.path}: "
                f"{type(error).__name__}: {error}; the run stops here (what was recorded before "
                f"is kept); free space or fix the database, then run (or resume) it again"
            ) from error
        self._queue.append(op)
        if not self._wake.is_set():
            self._wake.set()
        if not self._alive:  # the thread stopped after being idle: start another
            self._start()

    def create_flow_run(
        self, run_id: str, flow_name: str, parent_task_run_id: str | None,
        parent_flow_run_id: str | None, state: StateTuple, start_time: float | None,
        run_count: int, origin: FlowRunOrigin | None = None, labels: RunLabels | None = None,
    ) -> None:
        o = origin or _NO_ORIGIN
        lb = labels or _NO_LABELS
        self._put(("flow_run", [run_id, flow_name, parent_task_run_id, parent_flow_run_id, *state,
                                start_time, None, run_count, state[3], o.flow_ref, o.parameters,
                                o.resumed_from, o.host, o.pid, o.process_start, lb.name,
                                lb.tags_json()]))

    def create_task_run(
        self, run_id: str, task_name: str, flow_run_id: str | None, cache_key: str | None,
        state: StateTuple, start_time: float | None, run_count: int,
        call: TaskCall | None = None, labels: RunLabels | None = None,
    ) -> None:
        c = call or _NO_CALL
        lb = labels or _NO_LABELS
        self._put(("task_run", [run_id, task_name, flow_run_id, cache_key, *state, start_time,
                                None, run_count, state[3], c.position, c.input_hash,
                                c.flow_attempt, lb.name, lb.tags_json(), None]))

    def set_state(
        self, kind: str, run_id: str, state: StateTuple, start_time: float | None,
        end_time: float | None, run_count: int,
    ) -> None:
        self._put(("state", kind, run_id, state, start_time, end_time, run_count))

    def forget_write_intent(self, storage_document: str, key: str) -> None:
        """Queue the removal of a write intent, once the reference it stood for is queued:
        the two are committed together (see :mod:`conveyor.metadata.intents`)."""
        self._put(("intent_done", storage_document, key))

    def set_input_hash(self, run_id: str, input_hash: str) -> None:
        """Queue the hash of task run ``run_id``'s inputs (known only once they are resolved)."""
        self._put(("input_hash", run_id, input_hash))

    def set_task_inputs(self, run_id: str, inputs: str) -> None:
        """Queue the lineage of task run ``run_id``: JSON ``{parameter: [upstream task run id, ...]}``."""
        self._put(("inputs", run_id, inputs))

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
        ops: list[tuple[Any, ...]] = []
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
        hashes: list[tuple[str, str]] = []
        lineage: list[tuple[str, str]] = []
        intents_done: list[tuple[str, str]] = []
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
            elif what == "intent_done":
                intents_done.append((op[1], op[2]))
            elif what == "input_hash":
                row = created.get(op[1])
                if row is not None:
                    row[14] = op[2]  # the input_hash column of a run created in this batch
                else:
                    hashes.append((op[2], op[1]))
            elif what == "inputs":
                row = created.get(op[1])
                if row is not None:
                    row[18] = op[2]  # the inputs column of a run created in this batch
                else:
                    lineage.append((op[2], op[1]))
            else:
                waiters.append(op[1])
        try:
            if flows or tasks or states or caches or hashes or intents_done or lineage:
                self._commit(flows, tasks, states, flow_updates, task_updates, caches, hashes,
                             intents_done, lineage)
        except BaseException as exc:  # reported by the next flush  # noqa: BLE001
            logging.getLogger("conveyor").error(
                "could not record %d run/state rows in %s: %s", len(ops), self.store.path, exc
            )
            self._error = exc
        finally:
            for cache_row in caches:
                current = self.pending_cache.get(cache_row[0])
                if current is not None and current[0] == cache_row[2]:
                    del self.pending_cache[cache_row[0]]
            for done in waiters:
                done.set()

    def _commit(self, flows: list[Any], tasks: list[Any], states: list[Any], flow_updates: list[Any],
                task_updates: list[Any], caches: list[Any], hashes: list[Any],
                intents: list[Any] = (), lineage: list[Any] = ()) -> None:  # type: ignore[assignment]
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
                    if hashes:
                        conn.executemany(_SET_INPUT_HASH, hashes)
                    if lineage:
                        conn.executemany(_SET_INPUTS, lineage)
                    if intents:
                        conn.executemany(_FORGET_INTENT, intents)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or attempt == 99:
                    raise
                time.sleep(min(0.001 * (attempt + 1), 0.05))
