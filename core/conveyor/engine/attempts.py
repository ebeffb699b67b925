"""One attempt loop for every run: task or flow, sync or async.

:func:`attempts` is the loop itself, a generator: it records Running, yields
:data:`CALL` to have the run's function called once, is sent the outcome, and either
ends with the final state (completed, or failed with no retry left) or yields the delay
before the next attempt. Two small drivers serve it: :func:`drive` calls and sleeps in
this thread, :func:`drive_async` awaits. A ``BaseException`` that is not an
``Exception`` (Ctrl-C, a cancelled task) is not an attempt's failure: it leaves the
driver, and the caller records the run as crashed.

May import: conveyor.engine.recorder.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conveyor.engine.recorder import Recorder
    from conveyor.states import State

#: What the loop yields to have the function called once.
CALL: Any = object()

Outcome = tuple[bool, Any]  # (True, value) or (False, exception)
Loop = Generator[Any, Outcome, "State"]


def attempts(run: Recorder, retries: int, delays: Any) -> Loop:
    """The attempts of one run, until a final state (see the module docstring)."""
    while True:
        run.run_state()  # type: ignore[attr-defined]
        returned, value = yield CALL
        if returned:
            return run.attempt_returned(value)
        state, delay = run.retry_or_fail(value, retries, delays)
        if state is not None:
            return state
        if delay > 0:
            yield delay


def drive(loop: Loop, call: Callable[[], Any]) -> State:
    """Run ``loop`` here: ``call()`` for each attempt, ``time.sleep`` between them."""
    try:
        request = next(loop)
        while True:
            if request is CALL:
                try:
                    outcome: Outcome = (True, call())
                except Exception as exc:  # noqa: BLE001 - the attempt's failure
                    outcome = (False, exc)
                request = loop.send(outcome)
            else:
                time.sleep(request)
                request = next(loop)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


async def drive_async(loop: Loop, call: Callable[[], Awaitable[Any]]) -> State:
    """Run ``loop`` in the event loop: ``await call()`` for each attempt, ``asyncio.sleep`` between."""
    import asyncio  # lazy: sync-only programs never pay its start-up (about 10 ms)

    try:
        request = next(loop)
        while True:
            if request is CALL:
                try:
                    outcome: Outcome = (True, await call())
                except Exception as exc:  # noqa: BLE001 - the attempt's failure
                    outcome = (False, exc)
                request = loop.send(outcome)
            else:
                await asyncio.sleep(request)
                request = next(loop)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


__all__ = ["CALL", "attempts", "drive", "drive_async"]
