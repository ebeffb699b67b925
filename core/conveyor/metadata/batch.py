"""What the shared batched writer hands a backend: a :class:`Batch` of rows to commit.

:class:`~conveyor.metadata.writer.RunWriter` (one per store, for every backend) keeps the
queue, the background thread, flushing and error reporting; :func:`shape` turns the
operations it took off the queue into one :class:`Batch` (rows in the shapes of the
``*_COLUMNS`` tuples, a state of a run created in the same batch folded into its INSERT);
the backend's ``write_batch(batch)`` commits it in one transaction (:class:`BatchTarget`),
retrying what its database says may be retried. Backends share everything but the SQL.

**Implied states.** Most task runs are created, run and finished within one batch, and
then their own row already tells every state they went through: a first Pending at the
row's ``created`` time, a first Running at its ``start_time``, and a last, final state
that is the row's state. Those states are not written to ``states`` as well: the row's
column ``implied_states`` names them (``'P'``, ``'R'``, ``'F'``, in that order; any
other state is a row of ``states`` as before), and reading a run's states puts them back
in front of its state rows. When a run created in an earlier batch gets a new state, a
final state its row kept is first written out as a state row (``Batch.unfold``), so
nothing is lost if a finished run's state ever changes (a crash while it was handed on).
A trivial task run is one row instead of three.

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
    :ivar intents: ``(storage_document, key, run_id, created)`` of write intents to record
        (insert or replace).
    :ivar intents_done: ``(storage_document, key)`` of write intents to delete (a key is
        in one of the two lists at most: its last operation in the batch).
    :ivar unfold: ``(run_id,)`` of task runs created in an earlier batch that get a new
        state here: a final state their row kept is written out as a state row first.
    """

    flows: list[list[Any]] = field(default_factory=list)
    tasks: list[list[Any]] = field(default_factory=list)
    states: list[tuple[Any, ...]] = field(default_factory=list)
    flow_updates: list[tuple[Any, ...]] = field(default_factory=list)
    task_updates: list[tuple[Any, ...]] = field(default_factory=list)
    caches: list[tuple[Any, ...]] = field(default_factory=list)
    hashes: list[tuple[str, str]] = field(default_factory=list)
    inputs: list[tuple[str, str]] = field(default_factory=list)
    intents: list[tuple[Any, ...]] = field(default_factory=list)
    intents_done: list[tuple[str, str]] = field(default_factory=list)
    unfold: list[tuple[str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any((self.flows, self.tasks, self.states, self.flow_updates, self.task_updates,
                    self.caches, self.hashes, self.inputs, self.intents, self.intents_done,
                    self.unfold))


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


_IMPLIED = TASK_RUN_COLUMNS.index("implied_states")
_CREATED = TASK_RUN_COLUMNS.index("created")
_START = TASK_RUN_COLUMNS.index("start_time")
_FINAL = frozenset({"COMPLETED", "FAILED", "CRASHED", "CANCELLED"})
#: SQL lists of the ``implied_states`` values with each state (no LIKE: the SQL is shared
#: with a driver whose placeholders use ``%``).
IMPLIES_PENDING = "('P', 'PR', 'PF', 'PRF')"
IMPLIES_RUNNING = "('R', 'PR', 'RF', 'PRF')"
IMPLIES_FINAL = "('F', 'PF', 'RF', 'PRF')"


def shape(ops: list[tuple[Any, ...]]) -> Batch:
    """The rows of the queued operations ``ops``."""
    batch = Batch()
    states = batch.states
    # Runs created in this batch: a later state of theirs goes into the INSERT itself
    # (columns 4-8: state, 9: start, 10: end, 11: run count) instead of an UPDATE.
    created: dict[str, list[Any]] = {}
    # The state rows of the task runs created in this batch, kept aside until it is
    # known which of them their own row tells (the rest go to ``states``, in order).
    held: dict[str, list[tuple[Any, ...]]] = {}
    # Write intents by (storage document, key): the last operation on each wins.
    intents: dict[tuple[str, str], tuple[Any, ...] | None] = {}
    for op in ops:
        what = op[0]
        if what == "state":
            _w, kind, run_id, st, start, end, count = op
            row = created.get(run_id)
            if row is not None:
                row[4:12] = [*st, start, end, count]
                rows = held.get(run_id)
                if rows is not None:
                    rows.append((run_id, kind, *st))
                    continue
            elif kind == "task":
                batch.unfold.append((run_id,))
                batch.task_updates.append((*st, start, end, count, run_id))
            else:
                batch.flow_updates.append((*st, start, end, count, run_id))
            states.append((run_id, kind, *st))
        elif what == "task_run":
            row = op[1]
            batch.tasks.append(row)
            created[row[0]] = row
            held[row[0]] = [(row[0], "task", *row[4:9])]
        elif what == "flow_run":
            row = op[1]
            batch.flows.append(row)
            created[row[0]] = row
            states.append((row[0], "flow", *row[4:9]))
        elif what == "cache":
            batch.caches.append(op[1])
        elif what == "intent":
            intents[op[1], op[2]] = op[1:]
        elif what == "intent_done":
            intents[op[1], op[2]] = None
        else:  # one column of a task run: input_hash, inputs
            row = created.get(op[1])
            column, updates = _TASK_COLUMNS[what]
            if row is not None:
                row[column] = op[2]  # the run was created in this batch: into its INSERT
            else:
                getattr(batch, updates).append((op[2], op[1]))
    for run_id, rows in held.items():
        told = _told_by_row(created[run_id], rows)
        if told < len(rows):
            states.extend(rows[told:])
    for where, intent in intents.items():
        if intent is None:
            batch.intents_done.append(where)
        else:
            batch.intents.append(intent)
    return batch


def _told_by_row(row: list[Any], rows: list[tuple[Any, ...]]) -> int:
    """How many of a new task run's first state rows its own row tells (see the module's
    docstring); names them in the row's ``implied_states``."""
    count = len(rows)
    code = ""
    # a state row: (run_id, kind, type, name, message, timestamp, data)
    state = rows[0]
    if state[2] == "PENDING" and state[3] == "Pending" and state[4] is None and (
        state[6] is None and state[5] == row[_CREATED]
    ):
        code = "P"
    if len(code) < count:
        state = rows[len(code)]
        if state[2] == "RUNNING" and state[3] == "Running" and state[4] is None and (
            state[6] is None and state[5] == row[_START]
        ):
            code += "R"
    if len(code) == count - 1 and rows[-1][2] in _FINAL:
        code += "F"  # the last state, and the row's own: nothing came after it here
    if code:
        row[_IMPLIED] = code
    return len(code)


__all__ = ["IMPLIES_FINAL", "IMPLIES_PENDING", "IMPLIES_RUNNING", "Batch", "BatchTarget", "shape"]
