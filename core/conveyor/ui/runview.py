"""One flow run (its task runs grouped by task, a timeline, subflows, resume lineage) and
one task run (its states, its call, its inputs' lineage where known).

Rows come from the metadata store's read methods and become ``client.FlowRun`` /
``client.TaskRun`` one at a time, so one damaged row is shown as damaged and the rest of
the page still renders. The JSON of a page starts with what ``conveyor runs show --json``
prints for that run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conveyor.cli.output import describe_result, run_dict
from conveyor.client import FlowRun, TaskRun
from conveyor.metadata import MetadataStore, Row
from conveyor.results import ResultReference
from conveyor.states import State
from conveyor.ui.errors import Damaged, NotFound, first_line
from conveyor.ui.tasklist import TaskQuery, bar, groups, select, span

#: How deep subflows of subflows are followed on one run page.
MAX_SUBFLOW_DEPTH = 8
#: How far a chain of resumed runs is followed back.
MAX_LINEAGE = 50


def _unknown(store: MetadataStore, what: str, run_id: str) -> NotFound:
    return NotFound(
        f"no {what} with id {run_id!r} in {store.location}; the runs page lists them "
        f"(is CONVEYOR_HOME the folder the run was recorded in?)"
    )


def _build(make: Callable[[Row], Any], row: Row, what: str) -> Any:
    try:
        return make(row)
    except Exception as exc:  # noqa: BLE001 - whatever a damaged row raises, it is a 422
        raise Damaged(f"the record of {what} {row['id']!r} is damaged: {first_line(exc)}") from None


def _timed(out: dict[str, Any], run: FlowRun | TaskRun) -> dict[str, Any]:
    out["seconds"] = (
        (run.end_time - run.start_time).total_seconds()
        if run.start_time is not None and run.end_time is not None
        else None
    )
    return out


def read_flow_run(store: MetadataStore, run_id: str) -> tuple[FlowRun, Row]:
    row = store.read_flow_run(run_id)
    if row is None:
        raise _unknown(store, "flow run", run_id)
    return _build(FlowRun.from_row, row, "flow run"), row


def read_task_run(store: MetadataStore, run_id: str) -> tuple[TaskRun, Row]:
    row = store.read_task_run(run_id)
    if row is None:
        raise _unknown(store, "task run", run_id)
    return _build(TaskRun.from_row, row, "task run"), row


def is_flow_run(store: MetadataStore, run_id: str) -> bool:
    return store.read_flow_run(run_id) is not None


class Locations:
    """Where each reference's value lives (a path, an ``s3://`` URI), one block per storage."""

    def __init__(self) -> None:
        self._blocks: dict[tuple[str, str], Any] = {}

    def __call__(self, data: Any) -> str | None:
        if not isinstance(data, ResultReference):
            return None
        key = (data.storage, data.storage_document)
        if key not in self._blocks:
            try:
                self._blocks[key] = data.resolve_storage()
            except Exception as exc:  # noqa: BLE001 - shown as the location's problem
                self._blocks[key] = first_line(exc)
        block = self._blocks[key]
        if isinstance(block, str):
            return f"storage not available here: {block}"
        try:
            return str(block.describe(data.key))
        except Exception:  # noqa: BLE001 - a plugin's describe() must not break the page
            return f"{data.storage}:{data.key}"


def _task_entry(row: Row, locate: Locations, lo: float | None, hi: float) -> dict[str, Any]:
    try:
        task = TaskRun.from_row(row)
    except Exception as exc:  # noqa: BLE001 - one damaged row does not hide the others
        return {"id": row["id"], "task": row["task_name"], "damaged": first_line(exc)}
    out = _timed(run_dict(task), task)
    out["location"] = locate(task.state.data)
    out["bar"] = bar(row, lo, hi)
    return out


def _subflow_tree(store: MetadataStore, run_id: str, depth: int = 0) -> list[dict[str, Any]]:
    out = []
    for row in store.read_subflow_runs(run_id):
        try:
            sub = FlowRun.from_row(row)
            entry = _timed(run_dict(sub), sub)
        except Exception as exc:  # noqa: BLE001
            entry = {"id": row["id"], "flow": row["flow_name"], "damaged": first_line(exc)}
        entry["parent_task_run_id"] = row["parent_task_run_id"]
        entry["subflows"] = _subflow_tree(store, row["id"], depth + 1) if depth < MAX_SUBFLOW_DEPTH else []
        out.append(entry)
    return out


def _lineage(store: MetadataStore, row: Row) -> dict[str, Any]:
    back: list[dict[str, Any]] = []
    seen = {row["id"]}
    source = row["resumed_from"]
    while source and source not in seen and len(back) < MAX_LINEAGE:
        seen.add(source)
        found = store.read_flow_run(source)
        if found is None:
            back.append({"id": source, "missing": True})
            break
        back.append({"id": source, "flow": found["flow_name"], "state_name": found["state_name"]})
        source = found["resumed_from"]
    later = [
        {"id": r["id"], "flow": r["flow_name"], "state_name": r["state_name"]}
        for r in store.read_resumed_runs(row["id"])
    ]
    return {"resumed_from": row["resumed_from"], "chain": back, "resumed_by": later}


def flow_run_page(store: MetadataStore, run_id: str, query: TaskQuery | None = None) -> dict[str, Any]:
    """One flow run: the CLI's ``runs show --json`` plus groups, timeline, subflows, lineage.

    ``task_runs`` holds the task runs ``query`` selects (default: all of them, as the
    CLI's JSON does); ``task_groups`` counts every task run of the run.
    """
    run, row = read_flow_run(store, run_id)
    locate = Locations()
    rows = store.read_task_runs(run.id)
    shown, info = select(rows, query if query is not None else TaskQuery(everything=True))
    lo, hi = span(row["start_time"], row["end_time"], rows)
    tasks = [_task_entry(r, locate, lo, hi) for r in shown]
    tree = _subflow_tree(store, run.id)
    doc = _timed(run_dict(run), run)
    doc["location"] = locate(run.state.data)
    doc["task_runs"] = tasks
    doc["subflow_runs"] = [{k: v for k, v in f.items() if k != "subflows"} for f in tree]
    doc["parent_flow_run_id"] = run.parent_flow_run_id
    doc["flow_ref"] = row["flow_ref"]
    doc["task_groups"] = groups(rows)
    doc["task_runs_shown"] = info
    doc["subflow_tree"] = tree
    doc["lineage"] = _lineage(store, row)
    return doc


def page_context(doc: dict[str, Any]) -> dict[str, Any]:
    """What the run page's template needs besides ``doc``: task runs by group, subflows
    by the task run that started them (one pass each, for runs of thousands of tasks)."""
    by_task: dict[str, list[dict[str, Any]]] = {g["task"]: [] for g in doc["task_groups"]}
    for t in doc["task_runs"]:
        by_task.setdefault(t["task"], []).append(t)
    parents: dict[str, list[dict[str, Any]]] = {}
    for f in doc["subflow_tree"]:
        if f.get("parent_task_run_id"):
            parents.setdefault(f["parent_task_run_id"], []).append(f)
    return {
        "grouped": [(g, by_task[g["task"]]) for g in doc["task_groups"] if by_task[g["task"]]],
        "subflows_by_task": parents,
    }


def _state_entry(row: Row) -> dict[str, Any]:
    try:
        state = State.from_record(row["type"], row["name"], row["message"], row["timestamp"],
                                  row["data"], row["run_id"])
    except Exception as exc:  # noqa: BLE001 - one damaged state row is shown as such
        return {"name": row["name"], "timestamp": row["timestamp"], "damaged": first_line(exc)}
    return {
        "type": state.type.value, "name": state.name, "message": state.message,
        "timestamp": state.timestamp.isoformat(), "result": describe_result(state.data),
    }


def _input_sources(store: MetadataStore, inputs: dict[str, list[str]]) -> list[dict[str, Any]]:
    """One entry per upstream run of each input: its parameter, id, task and state."""
    sources = []
    for parameter, ids in inputs.items():
        for upstream in ids:
            row = store.read_task_run(upstream)
            entry: dict[str, Any] = {"parameter": parameter, "id": upstream}
            if row is None:
                entry["missing"] = True
            else:
                entry.update(task=row["task_name"], state_name=row["state_name"])
            sources.append(entry)
    return sources


def task_run_page(store: MetadataStore, run_id: str) -> dict[str, Any]:
    """One task run: the CLI's ``runs show --json`` plus its states, call and inputs."""
    task, row = read_task_run(store, run_id)
    doc = _timed(run_dict(task), task)
    doc["location"] = Locations()(task.state.data)
    doc["states"] = [_state_entry(r) for r in store.read_states(task.id)]
    doc["call"] = {
        "position": row["call_position"], "input_hash": row["input_hash"],
        "flow_attempt": row["flow_attempt"],
    }
    doc["input_sources"] = _input_sources(store, task.inputs)
    subflows = []
    if task.flow_run_id:
        subflows = [s for s in _subflow_tree(store, task.flow_run_id, MAX_SUBFLOW_DEPTH)
                    if s["parent_task_run_id"] == task.id]
    doc["subflow_runs"] = subflows
    return doc


__all__ = [
    "Locations",
    "flow_run_page",
    "is_flow_run",
    "page_context",
    "read_flow_run",
    "read_task_run",
    "task_run_page",
]
