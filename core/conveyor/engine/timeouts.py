"""Timeouts of runs (``timeout_seconds`` on tasks and flows).

A sync function is called in a helper thread and waited for; past its timeout the run
ends, while the thread goes on to the end of the function in the background (Python
cannot stop a thread). An async function is cancelled by ``asyncio.wait_for``.

May import: nothing of conveyor.
"""

from __future__ import annotations

import contextvars
import threading
from typing import Any


class RunTimedOut(TimeoutError):
    """A task run or flow run exceeded its ``timeout_seconds`` (its state is named TimedOut)."""


def call_with_timeout(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any], timeout: float) -> tuple[bool, Any]:
    """Call ``fn`` in a helper thread (same context); (finished, value). Errors propagate."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the caller  # noqa: BLE001
            box["error"] = exc

    thread = threading.Thread(target=contextvars.copy_context().run, args=(target,), daemon=True,
                              name="conveyor-flow-timeout")
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        return False, None
    if "error" in box:
        raise box["error"]
    return True, box.get("value")


def timed_out_error(kind: str, name: str, run_id: str, timeout: float) -> RunTimedOut:
    return RunTimedOut(
        f"{kind} {name!r} run {run_id} exceeded timeout_seconds={timeout:g}; raise the "
        f"timeout or make the {kind} faster"
    )


__all__ = ["RunTimedOut", "call_with_timeout", "timed_out_error"]
