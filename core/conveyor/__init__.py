"""conveyor: workflows whose centre is the results of tasks and flows.

    from conveyor import flow, task

Names are imported lazily so that ``import conveyor`` stays fast. The map of the package
(what each part is for, and what may import what) is docs/architecture.md.

May import: conveyor.markers only (everything else lazily, by name, on first use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.markers import hookimpl, lazy_attributes

__version__ = "0.1.0"

if TYPE_CHECKING:
    from conveyor.client import get_client
    from conveyor.engine.logs import get_run_logger
    from conveyor.engine.resume import resume
    from conveyor.flows import flow
    from conveyor.futures import allow_failure, as_completed
    from conveyor.tasks import task, unmapped

_LAZY = {
    "flow": "conveyor.flows",
    "task": "conveyor.tasks",
    "get_client": "conveyor.client",
    "resume": "conveyor.engine.resume",
    "unmapped": "conveyor.tasks",
    "allow_failure": "conveyor.futures",
    "as_completed": "conveyor.futures",
    "get_run_logger": "conveyor.engine.logs",
}

__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = [
    "__version__",
    "allow_failure",
    "as_completed",
    "flow",
    "get_client",
    "get_run_logger",
    "hookimpl",
    "resume",
    "task",
    "unmapped",
]
