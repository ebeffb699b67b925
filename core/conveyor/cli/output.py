"""Shared formatting of the ``conveyor`` command: dates, durations, sizes, results, runs.

Secret fields of storage blocks are never shown: a result is described by its storage
slug, key, serializer type and size.
"""

from __future__ import annotations

import datetime
import re
import time
from typing import Any

from conveyor.results import ResultLiteral, ResultReference, UnpersistedResult
from conveyor.units import format_size

NO_RESULT = "-"


def format_when(value: datetime.datetime | None) -> str:
    if value is None:
        return NO_RESULT
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def format_duration(start: datetime.datetime | None, end: datetime.datetime | None) -> str:
    if start is None or end is None:
        return NO_RESULT
    seconds = (end - start).total_seconds()
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 120:
        return f"{seconds:.1f}s"
    return f"{seconds / 60:.1f}min"


_RELATIVE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, option: str = "--since") -> float:
    """A ``--since`` value as a unix time: a relative age (``30m``, ``3h``, ``2d``, ``1w``:
    that long ago) or an ISO date or date and time (local time unless it names its zone)."""
    raw = str(text).strip()
    relative = _RELATIVE.fullmatch(raw.lower())
    if relative:
        return time.time() - float(relative.group(1)) * _UNITS[relative.group(2)]
    try:
        when = datetime.datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(
            f"{option} {text!r} is neither an age (30m, 3h, 2d, 1w) nor an ISO date or date "
            f"and time (2024-01-31, 2024-01-31T08:00)"
        ) from None
    return when.timestamp()  # naive: local time


def describe_result(data: Any) -> dict[str, Any]:
    """What a state's result data says, for people and ``--json``: never a secret."""
    if data is None:
        return {"kind": "none"}
    if isinstance(data, ResultLiteral):
        return {"kind": "literal", "value": data.get()}
    if isinstance(data, UnpersistedResult):
        return {"kind": "unpersisted"}
    if isinstance(data, ResultReference):
        return {
            "kind": "reference",
            "storage": data.storage,
            "key": data.key,
            "serializer": data.serializer.get("type"),
            "size": data.size,
            "checksum": data.checksum,
        }
    return {"kind": type(data).__name__}


def result_line(data: Any) -> str:
    """One line saying where a state's result is (or that it has none)."""
    info = describe_result(data)
    kind = info["kind"]
    if kind == "literal":
        return f"literal {info['value']!r} (kept in the database)"
    if kind == "unpersisted":
        return "not persisted (passed in memory only)"
    if kind == "reference":
        size = format_size(info["size"])
        return f"{info['storage']} key {info['key']} ({info['serializer']}, {size})"
    return "no result"


def run_dict(run: Any) -> dict[str, Any]:
    """A flow run or task run as ``--json`` prints it."""
    out: dict[str, Any] = {
        "id": run.id,
        "state": run.state.type.value,
        "state_name": run.state.name,
        "message": run.state.message,
        "start": run.start_time.isoformat() if run.start_time else None,
        "end": run.end_time.isoformat() if run.end_time else None,
        "run_count": run.run_count,
        "result": describe_result(run.state.data),
        "run_name": getattr(run, "run_name", None),
        "tags": list(getattr(run, "tags", ())),
    }
    if hasattr(run, "flow_name"):
        out["flow"] = run.flow_name
        out["parent_task_run_id"] = run.parent_task_run_id
        out["resumed_from"] = getattr(run, "resumed_from", None)
    else:
        out["task"] = run.task_name
        out["flow_run_id"] = run.flow_run_id
        out["cache_key"] = run.cache_key
        out["inputs"] = dict(run.inputs)
    return out


def inputs_line(inputs: dict[str, list[str]], names: dict[str, str]) -> str:
    """``x <- 3d319232 (fetch); y <- ...``: where a task run's inputs came from."""
    parts = []
    for parameter, ids in inputs.items():
        sources = ", ".join(f"{i} ({names[i]})" if i in names else i for i in ids)
        parts.append(f"{parameter} <- {sources}")
    return "; ".join(parts)


__all__ = [
    "NO_RESULT",
    "describe_result",
    "inputs_line",
    "format_duration",
    "format_size",
    "format_when",
    "parse_since",
    "result_line",
    "run_dict",
]
