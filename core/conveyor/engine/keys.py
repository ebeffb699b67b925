"""Default storage keys: a layout people can navigate.

Results are grouped by flow and by flow run, named after their task, with the
serializer's extension::

    <flow>/<flow run id>/<task>-<task run id>.pickle        a task run's result
    <flow>/<flow run id>/<task>-<task run id>.error.pickle  a failed task run's exception
    <flow>/<flow run id>/<flow>-result.json                 the flow run's own result
    <flow>/<flow run id>/parameters.pickle                  the flow run's parameters
    <task>/<task run id>.pickle                             a task called outside any flow

A task's ``result_storage_key`` template replaces its default. Names are made safe for
every storage (letters, digits, ``.``, ``_`` and ``-``; anything else becomes ``_``).

May import: nothing of conveyor (a serializer is only asked for its extension).
"""

from __future__ import annotations

import re
from typing import Any

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe(name: str) -> str:
    """``name`` as one path segment every storage accepts."""
    cleaned = _UNSAFE.sub("_", name).strip(".") or "_"
    return cleaned[:100]


def extension(serializer: Any) -> str:
    """The serializer's file extension (``.pickle``, ``.json``...), or ``""``."""
    get = getattr(serializer, "file_extension", None)
    return str(get()) if get is not None else ""


def task_key(flow_name: str | None, flow_run_id: str | None, task_name: str, task_run_id: str,
             serializer: Any, what: str = "") -> str:
    """The default key of a task run's result (``what="error"``: of its exception)."""
    suffix = f".{what}" if what else ""
    if flow_name is None or flow_run_id is None:
        return f"{safe(task_name)}/{task_run_id}{suffix}{extension(serializer)}"
    return f"{safe(flow_name)}/{flow_run_id}/{safe(task_name)}-{task_run_id}{suffix}{extension(serializer)}"


def flow_key(flow_name: str, flow_run_id: str, serializer: Any, what: str = "result") -> str:
    """The default key of a flow run's result (``"error"``: exception, ``"parameters"``)."""
    name = "parameters" if what == "parameters" else f"{safe(flow_name)}-{what}"
    return f"{safe(flow_name)}/{flow_run_id}/{name}{extension(serializer)}"


__all__ = ["extension", "flow_key", "safe", "task_key"]
