"""The batched writer: run, state and cache rows committed from a background thread.

The engine records state changes through a :class:`RunWriter`: a call only queues a row;
the writer commits whatever has queued up in one short transaction. Reads flush the
writer first, so a process always reads its own writes; the engine flushes at the end of
every top-level run (but a cache hit outside a flow: see ``engine.calls``), so another
process sees a run complete as soon as the call that ran it has returned. A flush
commits in the thread that asks for it (on that thread's connection), so it costs one
commit, not two thread hand-offs; one lock keeps every batch, whichever thread commits
it, in the order its rows were queued.

One writer serves every backend: the queue, the thread, flushing and error reporting are
here; :func:`~conveyor.metadata.batch.shape` makes the rows, and the store's
``write_batch`` commits them (its SQL, its retries).
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import logging
import threading
from typing import Any

from conveyor.exceptions import MetadataError
from conveyor.metadata.batch import shape
from conveyor.metadata.interface import FlowRunOrigin, RunLabels, StateTuple, TaskCall

_NO_ORIGIN = FlowRunOrigin()
_NO_CALL = TaskCall()
_NO_LABELS = RunLabels()

#: Most rows committed in one transaction, so a writer never holds the lock for long.
MAX_BATCH = 2000
#: A writer thread without work for this long stops (and closes its connection).
IDLE_SECONDS = 2.0
#: Rows queued that wake the writer at once (else it commits LINGER_SECONDS later).
WAKE_BATCH = 256
#: Longest a queued row waits for its commit when nobody flushes.
LINGER_SECONDS = 0.1


class RunWriter:
    """Commits queued run, state and cache rows from a background thread, in batches.

    Queueing a row costs a list append; the thread takes everything queued so far and
    commits it in one short transaction. :meth:`flush` commits what is still queued
    itself, after any batch the thread is committing, and re-raises a failed commit. Rows
    still queued when the process is killed with SIGKILL are lost; a normal exit
    (including Ctrl-C) flushes them.
    """

    def __init__(self, store: Any) -> None:
        #: the store committed to: a MetadataStore with ``write_batch`` (a BatchTarget)
        self.store = store
        self._queue: collections.deque[tuple[Any, ...]] = collections.deque()
        self._wake = threading.Event()
        self._error: BaseException | None = None
        #: cache rows queued but not yet committed: key -> (data JSON, expires)
        self.pending_cache: dict[str, tuple[str, float | None]] = {}
        self._lock = threading.Lock()
        #: held while a batch is taken off the queue and committed (by any thread), so
        #: batches commit in queue order and a flush sees every earlier row committed
        self._commit_lock = threading.Lock()
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
        if error is not None:
            # a commit failed (a full disk, a broken file): what came before is recorded,
            # nothing more is queued, and the run stops at its first state not recorded
            raise MetadataError(
                f"conveyor could not record runs in the metadata database {self.store.location}: "
                f"{type(error).__name__}: {error}; the run stops here (what was recorded before "
                f"is kept); free space or fix the database, then run (or resume) it again"
            ) from error
        queue = self._queue
        queue.append(op)
        # Wake the writer for a batch, not for every row: a full batch, or (in _loop)
        # LINGER_SECONDS after the first row queued; a wake per row handed the GIL to the
        # writer thread on every state change of every run.
        if len(queue) >= WAKE_BATCH and not self._wake.is_set():
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
                                c.flow_attempt, lb.name, lb.tags_json(), None, None]))

    def set_state(
        self, kind: str, run_id: str, state: StateTuple, start_time: float | None,
        end_time: float | None, run_count: int,
    ) -> None:
        self._put(("state", kind, run_id, state, start_time, end_time, run_count))

    def write_intent(self, storage_document: str, key: str, run_id: str | None, created: float) -> None:
        """Queue a write intent (see :mod:`conveyor.metadata.intents`); the store's
        ``record_write_intent`` queues it and flushes, so it commits with the rows before it."""
        self._put(("intent", storage_document, key, run_id, created))

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
        """Commit every row queued so far, here in the calling thread; re-raise a failed commit.

        A batch the writer thread is committing is waited for first (at most ``timeout``
        seconds: after that, the rows are left to the thread and nothing is raised).
        """
        # Taken even with nothing queued: the thread may be committing rows it took off
        # the queue, and those are flushed only once it lets go.
        if not self._commit_lock.acquire(timeout=-1 if timeout is None else timeout):
            return
        try:
            while self._queue:
                self._write_batch(self._drain())
        finally:
            self._commit_lock.release()
        error, self._error = self._error, None
        if error is not None:
            raise error

    def _at_exit(self) -> None:
        # Threads may no longer start at interpreter exit: what is left is committed from
        # here (after the batch a running writer thread is committing).
        with self._lock:
            self._alive = True  # no new thread
        with contextlib.suppress(Exception):  # logged by _write_batch; exit goes on
            self.flush(timeout=30)

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
            idle = 0.0
            while True:
                if not self._wake.wait(LINGER_SECONDS) and not self._queue:
                    idle += LINGER_SECONDS
                    if idle >= IDLE_SECONDS and self._stop_if_idle():
                        return
                    continue
                idle = 0.0
                self._wake.clear()
                while self._queue:
                    with self._commit_lock:
                        ops = self._drain()
                        if ops:
                            self._write_batch(ops)
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
        batch = shape(ops)
        try:
            if batch:
                self.store.write_batch(batch)
        except BaseException as exc:  # reported by the next flush  # noqa: BLE001
            logging.getLogger("conveyor").error(
                "could not record %d run/state rows in %s: %s", len(ops), self.store.location, exc
            )
            self._error = exc
        finally:
            for cache_row in batch.caches:
                current = self.pending_cache.get(cache_row[0])
                if current is not None and current[0] == cache_row[2]:
                    del self.pending_cache[cache_row[0]]
