"""State hooks: ``on_completion`` and ``on_failure`` of tasks and flows.

Each hook is called as ``hook(task, task_run, state)`` (for a flow:
``hook(flow, flow_run, state)``) once the run's final state is recorded: on_completion
for a Completed state (also Cached and Reused), on_failure for a Failed one (also
TimedOut). ``task_run`` / ``flow_run`` is what a ``cache_key_fn`` sees of the run (``.id``,
``.name``, ``.task_name`` / ``.flow_name``). A hook that raises is logged with its
traceback and changes nothing: the run's state stays what it was.

May import: conveyor.engine.logs, conveyor.states.
"""

from __future__ import annotations

from typing import Any

from conveyor.engine.logs import logger
from conveyor.states import COMPLETED, FAILED, State


def run_state_hooks(kind: str, obj: Any, info: Any, state: State) -> None:
    """Call the hooks of ``obj`` (a task or flow) that ``state`` calls for."""
    if state.type is COMPLETED:
        hooks, which = obj.on_completion, "on_completion"
    elif state.type is FAILED:
        hooks, which = obj.on_failure, "on_failure"
    else:
        return
    for hook in hooks:
        try:
            hook(obj, info, state)
        except Exception:  # noqa: BLE001 - a hook must not change the run's outcome
            logger.exception(
                "%s hook %s of %s %r failed (the run stays %s)",
                which, getattr(hook, "__qualname__", repr(hook)), kind, obj.name, state.name,
            )


__all__ = ["run_state_hooks"]
