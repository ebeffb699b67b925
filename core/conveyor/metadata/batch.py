"""What the shared batched writer hands a backend: a :class:`Batch` of rows to commit.

:class:`~conveyor.metadata.writer.RunWriter` (one per store, for every backend) keeps the
queue, the background thread, flushing and error reporting; :func:`shape` turns the
operations it took off the queue into one :class:`Batch` (rows in the shapes of the
``*_COLUMNS`` tuples, a state of a run created in the same batch folded into its INSERT);
the backend's ``write_batch(batch)`` commits it in one transaction (:class:`BatchTarget`),
retrying what its database says may be retried. Backends share everything but the SQL.

May import: the sibling ``interface`` (column order), the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from conveyor.metadata.interface import TASK_RUN_COLUMNS


@dataclass
class Batch:
    """Rows to commit together, in this order: inserts, state rows, updates, the rest.

    :ivar flows: new flow runs, values in :data:`~.interface.FLOW_RUN_COLUMNS` order
        (without the columns a newer schema added: see ``interface``).
    :ivar tasks: new task runs, values in :data:`~.interface.TASK_RUN_COLUMNS` order.
    :ivar states: state rows ``(run_id, run_kind, type, name, message, timestamp, data)``.
    :ivar flow_updates / task_updates: ``(type, name, message, timestamp, data, start_time,
        end_time, run_count, run_id)`` of runs created in an earlier batch.
    :ivar caches: cache rows ``(cache_key, task_run_id, data, created, expires)``; insert or
        replace.
    :ivar hashes: ``(input_hash, run_id)`` of task runs created in an earlier batch.
    :ivar inputs: ``(inputs JSON, run_id)``: column ``inputs`` of those task runs.
    :ivar intents_done: ``(storage_document, key)`` of write intents to delete.
    """

    flows: list[list[Any]] = field(default_factory=list)
    tasks: list[list[Any]] = field(default_factory=list)
    states: list[tuple[Any, ...]] = field(default_factory=list)
    flow_updates: list[tuple[Any, ...]] = field(default_factory=list)
    task_updates: list[tuple[Any, ...]] = field(default_factory=list)
    caches: list[tuple[Any, ...]] = field(default_factory=list)
    hashes: list[tuple[str, str]] = field(default_factory=list)
    inputs: list[tuple[str, str]] = field(default_factory=list)
    intents_done: list[tuple[str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any((self.flows, self.tasks, self.states, self.flow_updates, self.task_updates,
                    self.caches, self.hashes, self.inputs, self.intents_done))


class BatchTarget(Protocol):
    """What the shared writer asks of a backend, besides ``location`` and ``close()``."""

    def write_batch(self, batch: Batch) -> None:
        """Commit ``batch`` in one transaction (all of it or nothing), waiting on a busy
        database and retrying conflicts a bounded number of times; raise what is left."""
        ...


#: Writer ops that set one column of a task run: (its index in a task run's INSERT row,
#: the Batch list of UPDATEs for a run created in an earlier batch).
_TASK_COLUMNS = {
    "input_hash": (TASK_RUN_COLUMNS.index("input_hash"), "hashes"),
    "inputs": (TASK_RUN_COLUMNS.index("inputs"), "inputs"),
}


def shape(ops: list[tuple[Any, ...]]) -> Batch:
    """The rows of the queued operations ``ops``."""
    batch = Batch()
    # Runs created in this batch: a later state of theirs goes into the INSERT itself
    # (columns 4-8: state, 9: start, 10: end, 11: run count) instead of an UPDATE.
    created: dict[str, list[Any]] = {}
    for op in ops:
        what = op[0]
        if what == "state":
            _w, kind, run_id, st, start, end, count = op
            batch.states.append((run_id, kind, *st))
            row = created.get(run_id)
            if row is not None:
                row[4:12] = [*st, start, end, count]
            else:
                (batch.task_updates if kind == "task" else batch.flow_updates).append(
                    (*st, start, end, count, run_id)
                )
        elif what == "task_run":
            row = op[1]
            batch.tasks.append(row)
            created[row[0]] = row
            batch.states.append((row[0], "task", *row[4:9]))
        elif what == "flow_run":
            row = op[1]
            batch.flows.append(row)
            created[row[0]] = row
            batch.states.append((row[0], "flow", *row[4:9]))
        elif what == "cache":
            batch.caches.append(op[1])
        elif what == "intent_done":
            batch.intents_done.append((op[1], op[2]))
        else:  # one column of a task run: input_hash, inputs
            row = created.get(op[1])
            column, updates = _TASK_COLUMNS[what]
            if row is not None:
                row[column] = op[2]  # the run was created in this batch: into its INSERT
            else:
                getattr(batch, updates).append((op[2], op[1]))
    return batch


__all__ = ["Batch", "BatchTarget", "shape"]
