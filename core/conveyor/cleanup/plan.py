"""What a clean-up would delete, and what it keeps and why: :func:`plan_cleanup`.

Nothing here deletes or reads a stored object: the plan comes from the metadata store
alone (references, cache entries, write intents), so a dry run is cheap and safe.

A result is *doomed* when every run whose state names it is being cleaned up. It is kept
when a run that stays names the same storage and key (a later run reused it, or wrote
the key again), when an unexpired cache entry serves it (unless ``include_cached``), or
when it was already deleted. An *orphan* is a write intent whose run has finished (or is
gone) and whose storage and key no recorded reference names: a write whose reference was
never recorded (the process died in between).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
import attrs

from conveyor.exceptions import ConveyorError
from conveyor.metadata import MetadataStore, Row
from conveyor.results import ResultReference, result_from_dict

UNFINISHED = ("RUNNING", "PENDING")

#: Why a result of a cleaned-up run is kept, as the summary says it.
KEPT_REASONS = {
    "cached": "an unexpired cache entry serves it (--include-cached deletes those too)",
    "shared": "a run that stays names the same storage and key (reused, or written again)",
    "deleted": "it was deleted before",
}


@attrs.define
class Doomed:
    """One stored object a clean-up deletes: a run's result, or an orphaned write."""

    storage_document: str
    key: str
    #: the reference naming it (None for an orphan: nothing recorded it)
    reference: ResultReference | None
    #: ``"flow"`` or ``"task"``, and the id, of the run that wrote it (an orphan's: from its intent)
    run_kind: str | None
    run_id: str | None
    #: the top-level flow run it belongs to (None for an orphan whose run is gone)
    flow_run_id: str | None
    flow_name: str | None

    @property
    def size(self) -> int | None:
        return self.reference.size if self.reference is not None else None


@attrs.define
class CleanupPlan:
    """What :func:`plan_cleanup` found."""

    #: the top-level flow runs cleaned up (rows), newest first
    runs: list[Row] = attrs.Factory(list)
    #: every flow run id of those runs' trees (subflows included)
    flow_run_ids: list[str] = attrs.Factory(list)
    #: results to delete, and orphaned writes to delete
    results: list[Doomed] = attrs.Factory(list)
    orphans: list[Doomed] = attrs.Factory(list)
    #: results kept, by reason (keys of :data:`KEPT_REASONS`)
    kept: dict[str, int] = attrs.Factory(dict)
    #: top-level runs not cleaned up because they can still be resumed
    resumable: list[Row] = attrs.Factory(list)

    @property
    def bytes(self) -> int:
        return sum(d.size or 0 for d in self.results)


def select_runs(
    store: MetadataStore, *, before: float | None = None, keep_last: int | None = None,
    flow_name: str | None = None, include_resumable: bool = False,
) -> tuple[list[Row], list[Row]]:
    """``(chosen, resumable)``: the finished top-level flow runs created before unix time
    ``before`` and not among the newest ``keep_last`` of their flow (both when both are
    given); runs that did not complete and were not resumed to completion are
    set aside as resumable unless ``include_resumable``."""
    rows = [r for r in store.read_flow_runs(flow_name) if r["parent_flow_run_id"] is None]
    seen: dict[str, int] = {}
    chosen, resumable = [], []
    for row in rows:  # newest first
        rank = seen[row["flow_name"]] = seen.get(row["flow_name"], 0) + 1
        if row["state_type"] in UNFINISHED:
            continue
        if keep_last is not None and rank <= keep_last:
            continue
        if before is not None and row["created"] >= before:
            continue
        if row["state_type"] != "COMPLETED" and not include_resumable and not _completed_later(store, row):
            resumable.append(row)
            continue
        chosen.append(row)
    return chosen, resumable


def _completed_later(store: MetadataStore, row: Row) -> bool:
    """Whether a run resuming this one completed (then its results live on in that run)."""
    return any(r["state_type"] == "COMPLETED" for r in store.read_resumed_runs(row["id"]))


def flow_tree(store: MetadataStore, flow_run_id: str) -> list[str]:
    """The flow run and its subflow runs, however deep."""
    ids, todo = [], [flow_run_id]
    while todo:
        current = todo.pop()
        ids.append(current)
        todo += [r["id"] for r in store.read_subflow_runs(current)]
    return ids


def reference_of(text: str | None) -> ResultReference | None:
    """The reference in a state's data JSON, or None (a literal, nothing, a damaged record)."""
    if not text:
        return None
    try:
        data = json.loads(text)
        result = result_from_dict(data) if isinstance(data, dict) and data.get("type") == "reference" else None
    except (ConveyorError, ValueError, TypeError):
        return None
    return result if isinstance(result, ResultReference) else None


def _places(texts: Iterable[str | None]) -> set[tuple[str, str]]:
    places = set()
    for text in texts:
        ref = reference_of(text)
        if ref is not None:
            places.add((ref.storage_document, ref.key))
    return places


def plan_cleanup(
    store: MetadataStore, runs: Sequence[Row], *, now: float, include_cached: bool = False,
    orphans: bool = True, flow_name: str | None = None,
) -> CleanupPlan:
    """The plan for cleaning up the results of ``runs`` (top-level flow run rows), and,
    with ``orphans``, the orphaned writes (of flow ``flow_name`` only, when given)."""
    plan = CleanupPlan(runs=list(runs))
    owner: dict[str, Row] = {}
    for row in runs:
        for flow_id in flow_tree(store, row["id"]):
            plan.flow_run_ids.append(flow_id)
            owner[flow_id] = row
    doomed_runs = set(plan.flow_run_ids)
    found: dict[tuple[str, str, str], Doomed] = {}

    def add(text: str | None, kind: str, run_id: str, flow_id: str) -> None:
        ref = reference_of(text)
        if ref is None:
            return
        top = owner[flow_id]
        found.setdefault((ref.storage_document, ref.key, ref.checksum), Doomed(
            ref.storage_document, ref.key, ref, kind, run_id, top["id"], top["flow_name"]
        ))

    for data in store.read_state_data(plan.flow_run_ids):
        doomed_runs.add(data["run_id"])
        add(data["data"], data["run_kind"], data["run_id"], data["flow_run_id"])
    for flow_id in plan.flow_run_ids:
        flow_row = store.read_flow_run(flow_id)
        if flow_row is not None:
            add(flow_row["parameters"], "flow", flow_id, flow_id)
    records = store.read_result_records()
    recorded = _places(r["state_data"] for r in records)
    shared = _places(r["state_data"] for r in records if r["id"] not in doomed_runs)
    shared |= _places(r["parameters"] for r in store.read_flow_runs() if r["id"] not in doomed_runs)
    cached = set() if include_cached else _places(r["data"] for r in store.read_cache_entries(now))
    for (document, key, checksum), item in found.items():
        reason = None
        if (document, key) in shared:
            reason = "shared"
        elif (document, key) in cached:
            reason = "cached"
        elif store.read_deleted_result(document, key, checksum) is not None:
            reason = "deleted"
        if reason is None:
            plan.results.append(item)
        else:
            plan.kept[reason] = plan.kept.get(reason, 0) + 1
    if orphans:
        plan.orphans = find_orphans(store, recorded | {(d.storage_document, d.key) for d in found.values()},
                                    flow_name)
    return plan


def find_orphans(
    store: MetadataStore, recorded: set[tuple[str, str]], flow_name: str | None = None
) -> list[Doomed]:
    """Write intents of finished (or vanished) runs at places no reference names."""
    out = []
    for intent in store.read_write_intents():
        place = (intent["storage_document"], intent["key"])
        if place in recorded:
            continue
        run_id = intent["run_id"]
        kind, top = _run_of(store, run_id)
        if top is not None and top["state_type"] in UNFINISHED:
            continue  # a write still going on
        if kind is not None and _unfinished_task(store, kind, run_id):
            continue
        name = top["flow_name"] if top is not None else None
        if flow_name is not None and name != flow_name:
            continue
        out.append(Doomed(place[0], place[1], None, kind, run_id,
                          top["id"] if top is not None else None, name))
    return out


def _run_of(store: MetadataStore, run_id: str | None) -> tuple[str | None, Row | None]:
    """(kind, top-level flow run row) of a run id, or (None, None) when it is not recorded."""
    if run_id is None:
        return None, None
    flow = store.read_flow_run(run_id)
    kind = "flow"
    if flow is None:
        task = store.read_task_run(run_id)
        if task is None or task["flow_run_id"] is None:
            return ("task", None) if task is not None else (None, None)
        flow, kind = store.read_flow_run(task["flow_run_id"]), "task"
    while flow is not None and flow["parent_flow_run_id"] is not None:
        parent = store.read_flow_run(flow["parent_flow_run_id"])
        if parent is None:
            break
        flow = parent
    return kind, flow


def _unfinished_task(store: MetadataStore, kind: str, run_id: str | None) -> bool:
    if kind != "task" or run_id is None:
        return False
    row = store.read_task_run(run_id)
    return row is not None and row["state_type"] in UNFINISHED


def describe_kept(kept: dict[str, int]) -> list[str]:
    """One line per reason results were kept."""
    return [f"{n} result(s) kept: {KEPT_REASONS[reason]}" for reason, n in kept.items() if n]


__all__ = [
    "KEPT_REASONS",
    "CleanupPlan",
    "Doomed",
    "describe_kept",
    "find_orphans",
    "flow_tree",
    "plan_cleanup",
    "reference_of",
    "select_runs",
]
