"""The task runs on a flow run's page: counted from the rows, a page of them shown.

A run of thousands of task runs is summed up from its rows alone (counts per task and
state, time in all), without building an object per row; only the task runs shown are
built, placed on the timeline and located. The page shows the first :data:`PER_GROUP`
of each task; ``?task=`` / ``?state=`` narrow it to matching task runs, :data:`MAX_SHOWN`
at a time from ``?start=``. Its JSON holds every matching task run (as
``conveyor runs show --json`` does).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from conveyor.metadata import Row
from conveyor.ui.errors import BadRequest

#: Task runs of each task on the run page (the rest: "show all").
PER_GROUP = 20
#: Task runs on one page at most.
MAX_SHOWN = 200


@attrs.frozen
class TaskQuery:
    """Which task runs of the run the page shows."""

    task: str | None = None
    state: str | None = None
    start: int = 0
    everything: bool = False

    @property
    def narrowed(self) -> bool:
        return self.task is not None or self.state is not None


def parse_task_query(params: Mapping[str, str], everything: bool) -> TaskQuery:
    """``task``, ``state`` and ``start`` of a run page's address; ``everything`` for JSON."""
    raw = params.get("start", "").strip() or "0"
    if not raw.isdigit():
        raise BadRequest(f"start={raw!r} must be a whole number >= 0 (the pages' own links)")
    return TaskQuery(
        task=params.get("task", "").strip() or None, state=params.get("state", "").strip() or None,
        start=int(raw), everything=everything,
    )


def groups(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """Per task, in order of first call: how many runs, in which states, time in all."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        name = r["task_name"]
        g = out.get(name)
        if g is None:
            g = out[name] = {"task": name, "count": 0, "states": {}, "seconds": 0.0}
        g["count"] += 1
        states = g["states"]
        states[r["state_name"]] = states.get(r["state_name"], 0) + 1
        start, end = r["start_time"], r["end_time"]
        if start is not None and end is not None:
            g["seconds"] += end - start
    return list(out.values())


def select(rows: Sequence[Row], query: TaskQuery) -> tuple[list[Row], dict[str, Any]]:
    """The rows to show, and what the page says about them (how many, what is left)."""
    state = query.state
    matching = [
        r for r in rows
        if (query.task is None or r["task_name"] == query.task)
        and (state is None or r["state_name"] == state or r["state_type"] == state)
    ]
    info: dict[str, Any] = {"task": query.task, "state": query.state, "start": 0,
                            "matching": len(matching), "next": None, "more": {}, "page_size": MAX_SHOWN}
    if query.everything:
        return matching, info
    if query.narrowed:
        shown = matching[query.start : query.start + MAX_SHOWN]
        end = query.start + len(shown)
        info.update(start=query.start, next=end if end < len(matching) else None)
        return shown, info
    kept: dict[str, int] = {}
    shown = []
    for r in matching:
        name = r["task_name"]
        if kept.get(name, 0) < PER_GROUP and len(shown) < MAX_SHOWN:
            kept[name] = kept.get(name, 0) + 1
            shown.append(r)
    for g in groups(matching):
        if kept.get(g["task"], 0) < g["count"]:
            info["more"][g["task"]] = g["count"]
    return shown, info


def span(start: float | None, end: float | None, rows: Sequence[Row]) -> tuple[float | None, float]:
    """The timeline's ends: the run's start and end, else its task runs' first and last."""
    lo = start
    if lo is None:
        lo = min((r["start_time"] or r["created"] for r in rows), default=None)
    hi = end
    if hi is None:
        hi = max((r["end_time"] or r["created"] for r in rows), default=None) or time.time()
    return lo, hi


def bar(row: Row, lo: float | None, hi: float) -> tuple[float, float] | None:
    """A task run's bar: left offset and width in percent of the timeline.

    A run that never ran (Cached, Reused) is a thin mark where it got its result.
    """
    s = row["start_time"] or row["end_time"] or row["created"]
    if lo is None or s is None or hi <= lo:
        return None
    e = row["end_time"] or s
    left = max(0.0, min(100.0, (s - lo) / (hi - lo) * 100))
    return round(left, 2), round(max(0.4, min(100.0 - left, (e - s) / (hi - lo) * 100)), 2)


__all__ = ["MAX_SHOWN", "PER_GROUP", "TaskQuery", "bar", "groups", "parse_task_query", "select", "span"]
