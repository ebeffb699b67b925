"""Reading past runs from the metadata store.

    from conveyor import get_client

    client = get_client()
    run = client.read_flow_run(run_id)
    run.state.result()          # fetched from storage through the reference

States read back hold only what the database holds: a literal, a reference, or the
marker of a value that was never persisted (its ``result()`` raises ``MissingResult``).
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import attrs

from conveyor.exceptions import UnknownNameError
from conveyor.metadata import MetadataStore, Row, get_store
from conveyor.states import State


def _when(ts: float | None) -> datetime.datetime | None:
    return None if ts is None else datetime.datetime.fromtimestamp(ts, datetime.UTC)


def _state(row: Row) -> State:
    return State.from_record(
        row["state_type"], row["state_name"], row["state_message"], row["state_timestamp"],
        row["state_data"], row["id"],
    )


def _tags(text: str | None) -> tuple[str, ...]:
    return tuple(json.loads(text)) if text else ()


def _inputs(text: str | None) -> dict[str, list[str]]:
    try:
        inputs = json.loads(text) if text else {}
    except ValueError:  # a damaged row hides no run
        return {}
    return inputs if isinstance(inputs, dict) else {}


@attrs.frozen
class FlowRun:
    """A flow run as recorded."""

    id: str
    flow_name: str
    state: State = attrs.field(eq=False)
    parent_task_run_id: str | None
    parent_flow_run_id: str | None
    start_time: datetime.datetime | None
    end_time: datetime.datetime | None
    run_count: int
    created: datetime.datetime
    #: the flow run this one resumes (``conveyor runs resume``), or None
    resumed_from: str | None = None
    #: where the flow is defined (``module:qualname`` or ``script.py:qualname``), or None
    flow_ref: str | None = None
    #: whether the run kept its parameters (by reference), so it can be resumed without them
    parameters_kept: bool = False
    #: ``flow_run_name`` filled in, or None
    run_name: str | None = None
    #: the run's tags
    tags: tuple[str, ...] = ()

    @classmethod
    def from_row(cls, row: Row) -> FlowRun:
        return cls(
            id=row["id"], flow_name=row["flow_name"], state=_state(row),
            parent_task_run_id=row["parent_task_run_id"],
            parent_flow_run_id=row["parent_flow_run_id"],
            start_time=_when(row["start_time"]), end_time=_when(row["end_time"]),
            run_count=row["run_count"], created=_when(row["created"]),  # type: ignore[arg-type]
            resumed_from=row["resumed_from"], flow_ref=row["flow_ref"],
            parameters_kept=row["parameters"] is not None,
            run_name=row["run_name"], tags=_tags(row["tags"]),
        )


@attrs.frozen
class TaskRun:
    """A task run as recorded."""

    id: str
    task_name: str
    flow_run_id: str | None
    state: State = attrs.field(eq=False)
    cache_key: str | None
    start_time: datetime.datetime | None
    end_time: datetime.datetime | None
    run_count: int
    created: datetime.datetime
    #: ``task_run_name`` filled in, or None
    run_name: str | None = None
    #: the run's tags
    tags: tuple[str, ...] = ()
    #: input lineage: ``{parameter: [upstream task run id, ...]}`` for the inputs that came
    #: from other task runs (futures, states, or values a task call returned); empty if none
    inputs: dict[str, list[str]] = attrs.field(factory=dict, eq=False)

    @classmethod
    def from_row(cls, row: Row) -> TaskRun:
        return cls(
            id=row["id"], task_name=row["task_name"], flow_run_id=row["flow_run_id"],
            state=_state(row), cache_key=row["cache_key"],
            start_time=_when(row["start_time"]), end_time=_when(row["end_time"]),
            run_count=row["run_count"], created=_when(row["created"]),  # type: ignore[arg-type]
            run_name=row["run_name"], tags=_tags(row["tags"]), inputs=_inputs(row["inputs"]),
        )


#: How many runs an ambiguous id prefix's error names.
PREFIX_MATCHES = 10


class Client:
    """Read access to the runs in one metadata store."""

    def __init__(self, store: MetadataStore | None = None) -> None:
        self.store = store if store is not None else get_store()

    def read_flow_run(self, run_id: str) -> FlowRun:
        """The flow run with id ``run_id``; UnknownNameError if there is none."""
        row = self.store.read_flow_run(str(run_id))
        if row is None:
            raise UnknownNameError(self._unknown("flow run", run_id))
        return FlowRun.from_row(row)

    def read_flow_runs(self, flow_name: str | None = None, limit: int | None = None) -> list[FlowRun]:
        """Flow runs, newest first; only those of ``flow_name`` when given."""
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise ValueError(f"limit={limit!r} must be a whole number >= 0, or None for all")
        return [FlowRun.from_row(r) for r in self.store.read_flow_runs(flow_name, limit)]

    def read_resuming_runs(self, flow_run_id: str) -> list[FlowRun]:
        """The flow runs that resume ``flow_run_id`` (``conveyor runs resume``), oldest first."""
        return [FlowRun.from_row(r) for r in self.store.read_resumed_runs(str(flow_run_id))]

    def read_task_runs(self, flow_run_id: str) -> list[TaskRun]:
        """The task runs of one flow run, in the order they were created."""
        return [TaskRun.from_row(r) for r in self.store.read_task_runs(str(flow_run_id))]

    def read_subflow_runs(self, flow_run_id: str) -> list[FlowRun]:
        """The subflow runs started by flow run ``flow_run_id``, in the order they were created."""
        return [FlowRun.from_row(r) for r in self.store.read_subflow_runs(str(flow_run_id))]

    def read_task_run(self, run_id: str) -> TaskRun:
        """The task run with id ``run_id``; UnknownNameError if there is none."""
        row = self.store.read_task_run(str(run_id))
        if row is None:
            raise UnknownNameError(self._unknown("task run", run_id))
        return TaskRun.from_row(row)

    def read_states(self, run_id: str) -> list[State]:
        """Every state a run went through, oldest first."""
        return [
            State.from_record(r["type"], r["name"], r["message"], r["timestamp"], r["data"], r["run_id"])
            for r in self.store.read_states(str(run_id))
        ]

    def read_run(self, run_id: str) -> FlowRun | TaskRun:
        """A flow run or task run by id, whichever it is."""
        row = self.store.read_flow_run(str(run_id))
        if row is not None:
            return FlowRun.from_row(row)
        row = self.store.read_task_run(str(run_id))
        if row is not None:
            return TaskRun.from_row(row)
        raise UnknownNameError(self._unknown("run", run_id))

    def resolve_run_id(self, text: str, kind: str | None = None) -> str:
        """The full id of the run whose id is ``text`` or starts with it (a unique prefix,
        as with git); ``kind`` ``"flow"`` or ``"task"`` looks at that kind only.

        An unknown id is an UnknownNameError; an ambiguous prefix a LookupError naming
        (some of) the runs it matches.
        """
        text = str(text).strip()
        what = {"flow": "flow run", "task": "task run"}.get(kind or "", "run")
        matches = [(k, i) for k, i in self.store.find_run_ids(text, PREFIX_MATCHES + 1)
                   if kind is None or k == kind]
        if any(i == text for _k, i in matches):
            return text
        if len(matches) == 1:
            return matches[0][1]
        if not matches:
            raise UnknownNameError(self._unknown(what, text))
        shown = ", ".join(f"{i} ({k})" for k, i in matches[:PREFIX_MATCHES])
        more = ", ..." if len(matches) > PREFIX_MATCHES else ""
        raise LookupError(
            f"run id prefix {text!r} is ambiguous: it matches {shown}{more}; give more characters"
        )

    def _unknown(self, what: str, run_id: Any) -> str:
        return (
            f"no {what} with id {run_id!r} in {self.store.location}; `conveyor runs ls` lists the "
            f"runs (is CONVEYOR_HOME set to the same folder as when it ran?)"
        )


def get_client() -> Client:
    """A client over the metadata store under ``CONVEYOR_HOME``."""
    return Client()


__all__ = ["Client", "FlowRun", "TaskRun", "get_client"]
