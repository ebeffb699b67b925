"""Reusing completed work: a flow run's retry, and a resumed run, hand on persisted results.

The rule: a task call (or a subflow call) is not run again when its *counterpart* in an
earlier attempt of the same flow run, or in the flow run it resumes (and the runs that
one resumed, in turn), completed with a persisted result (a reference, or a literal).
The counterpart is the call of the same task name at the same call position within its
flow run's attempt (the n-th call of that task, counted from 0), with the same inputs
by :func:`input_hash` (the hash ``task_input_hash`` uses: the function's identity and
code, and the pickled inputs). A call whose inputs cannot be hashed is never reused; a
counterpart whose result was not persisted, is missing or is damaged runs again.

:class:`ReuseIndex` holds what a flow run may reuse, read from the metadata store.

May import: conveyor.metadata, conveyor.results.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from conveyor.metadata import MetadataStore
from conveyor.results import UnpersistedResult, result_from_json

#: Kinds of call: a task's, or a subflow's (called from a flow's body).
TASK = "task"
SUBFLOW = "flow"


def input_hash(fn: Callable[..., Any], name: str, parameters: dict[str, Any]) -> str | None:
    """A hash of a call: the function's identity and code, and its inputs (pickled).

    Equal inputs (compared by their pickle) give equal hashes; changing the function's
    code gives a new one. Inputs that cannot be pickled give ``None``.
    """
    import cloudpickle  # lazy: only runs that hash their inputs pay for its import

    code = getattr(fn, "__code__", None)
    # the file (not the module name: a script run as __main__ and the same script imported
    # to resume it are one task) and the qualified name
    where = code.co_filename if code is not None else getattr(fn, "__module__", "")
    identity = f"{where}:{getattr(fn, '__qualname__', name)}"
    digest = hashlib.sha256(identity.encode())
    if code is not None:
        digest.update(code.co_code)
        digest.update(repr(code.co_consts).encode())
    try:
        digest.update(cloudpickle.dumps(sorted(parameters.items()), protocol=5))
    except Exception:  # noqa: BLE001 - any failure to pickle means "not hashable"
        return None
    return digest.hexdigest()


@attrs.frozen
class Counterpart:
    """An earlier call that completed with a persisted result.

    :ivar run_id: its task run (for a subflow: the task run standing for it in the parent).
    :ivar flow_run_id: the flow run it ran in.
    :ivar attempt: the attempt of that flow run (from 1), when recorded.
    :ivar data: the JSON of its result, as the metadata store holds it.
    """

    run_id: str
    flow_run_id: str
    attempt: int | None
    data: str

    def describe(self) -> str:
        """``task run X (attempt N of flow run Y)``, for the Reused state's message."""
        attempt = f"attempt {self.attempt} of " if self.attempt else ""
        return f"task run {self.run_id} ({attempt}flow run {self.flow_run_id})"


def _persisted(data: str | None) -> bool:
    if not data:
        return False
    try:
        return type(result_from_json(data)) is not UnpersistedResult
    except Exception:  # noqa: BLE001 - an unreadable record is simply not reusable
        return False


class ReuseIndex:
    """What a flow run may reuse: counterparts by (kind, name, position, input hash)."""

    __slots__ = ("_calls", "_completed", "_subflows")

    def __init__(self) -> None:
        self._completed: dict[tuple[str, str, int, str], Counterpart] = {}
        self._calls: set[tuple[str, str, int]] = set()
        self._subflows: dict[tuple[str, int], list[str]] = {}

    @classmethod
    def load(cls, store: MetadataStore, flow_run_ids: Iterable[str]) -> ReuseIndex:
        """The index of the given flow runs' task runs; the first ones win a tie (newest first)."""
        index = cls()
        for flow_run_id in flow_run_ids:
            subflows = {row["parent_task_run_id"]: row["id"] for row in store.read_subflow_runs(flow_run_id)}
            for row in reversed(store.read_task_runs(flow_run_id)):  # the latest attempt first
                position = row["call_position"]
                if position is None:
                    continue
                kind = SUBFLOW if row["id"] in subflows else TASK
                name = row["task_name"]
                index._calls.add((kind, name, position))
                if kind == SUBFLOW:
                    index._subflows.setdefault((name, position), []).append(subflows[row["id"]])
                digest = row["input_hash"]
                if row["state_type"] != "COMPLETED" or not digest or not _persisted(row["state_data"]):
                    continue
                key = (kind, name, position, digest)
                if key not in index._completed:
                    index._completed[key] = Counterpart(
                        row["id"], flow_run_id, row["flow_attempt"], row["state_data"]
                    )
        return index

    def has_calls(self, kind: str, name: str, position: int) -> bool:
        """Whether any earlier call of ``name`` at ``position`` is known (hash the inputs only then)."""
        return (kind, name, position) in self._calls

    def find(self, kind: str, name: str, position: int, digest: str | None) -> Counterpart | None:
        """The counterpart of a call with inputs hashed to ``digest``, if one completed."""
        if digest is None:
            return None
        return self._completed.get((kind, name, position, digest))

    def earlier_subflow_runs(self, name: str, position: int) -> list[str]:
        """The flow runs of the earlier calls of subflow ``name`` at ``position`` (newest first)."""
        return list(self._subflows.get((name, position), ()))


def resume_chain(store: MetadataStore, flow_run_id: str) -> list[str]:
    """``flow_run_id`` and the runs it resumed, in turn (newest first)."""
    chain: list[str] = []
    current: str | None = flow_run_id
    while current is not None and current not in chain:
        chain.append(current)
        row = store.read_flow_run(current)
        current = row["resumed_from"] if row is not None else None
    return chain


__all__ = ["SUBFLOW", "TASK", "Counterpart", "ReuseIndex", "input_hash", "resume_chain"]
