"""A task run's function call, sent to a remote task runner (Dask workers).

The engine keeps a task run's bookkeeping in the process that runs the flow (the
*driver*): states, retries, the cache, reuse, timeouts' outcome, write intents, the
reference and its signature. Only the call travels: a :class:`RemoteCall` holds the
task's function, its resolved arguments, its timeout and, when the run persists its
result, a :class:`WritePlan` (storage block, serializer, key, label). Executed on a
worker, it calls the function and

- returns ``True``/``False``/``None`` and values not to persist as they are (they travel
  back through the runner);
- writes a value to persist there, with :func:`~conveyor.results.write_result`, and
  returns only :class:`Written` (key, checksum, size): the value never travels back;
- returns :class:`Refused` (the value and the error) when the serializer refuses the
  value, so the driver applies the same rule as for a local run (kept in memory with a
  warning when persistence was only inferred, else the run fails).

An exception of the function travels back as it is and is the attempt's failure. A
``RemoteCall`` references nothing of the driver (no run, store or context) and pickles
(cloudpickle for the function). :func:`write_plan` makes the plan on the driver (its
write intent recorded first); :mod:`conveyor.engine.remote_run` drives the run there.

May import: conveyor.engine.timeouts, conveyor.exceptions, conveyor.filesystems,
conveyor.results.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from conveyor.engine.timeouts import call_with_timeout, timed_out_error
from conveyor.exceptions import ConveyorError, SerializationError
from conveyor.filesystems import normalize_key
from conveyor.results.write import write_result

if TYPE_CHECKING:
    from conveyor.engine.task_run import ActiveTaskRun


class WritePlan:
    """Where a worker writes the value to persist: block, serializer, key, label."""

    __slots__ = ("key", "label", "serializer", "storage")

    def __init__(self, storage: Any, serializer: Any, key: str, label: str) -> None:
        self.storage = storage
        self.serializer = serializer
        self.key = key
        self.label = label

    def __reduce__(self) -> Any:
        return (WritePlan, (self.storage, self.serializer, self.key, self.label))


class Written:
    """A worker wrote the value: where, and its checksum and size (no value)."""

    __slots__ = ("checksum", "key", "size")

    def __init__(self, key: str, checksum: str, size: int) -> None:
        self.key = key
        self.checksum = checksum
        self.size = size

    def __reduce__(self) -> Any:
        return (Written, (self.key, self.checksum, self.size))

    def __repr__(self) -> str:
        return f"Written({self.key!r}, {self.checksum!r}, {self.size})"


class Refused:
    """The serializer refused the value on the worker: the value and the error, sent back."""

    __slots__ = ("error", "value")

    def __init__(self, value: Any, error: SerializationError) -> None:
        self.value = value
        self.error = error

    def __reduce__(self) -> Any:
        return (Refused, (self.value, self.error))


class RemoteCall:
    """One attempt's call of a task's function, to execute on a worker (see the module doc)."""

    __slots__ = ("args", "attempt", "fn", "is_async", "kwargs", "name", "plan", "run_id", "timeout")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                 timeout: float | None, plan: WritePlan | None, is_async: bool,
                 name: str, run_id: str, attempt: int) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.timeout = timeout
        self.plan = plan
        self.is_async = is_async
        #: the task's name, its run's id and the attempt's number (1, 2...): for the
        #: runner's names of the work (a Dask key) and for messages
        self.name = name
        self.run_id = run_id
        self.attempt = attempt

    def __reduce__(self) -> Any:
        return (RemoteCall, (self.fn, self.args, self.kwargs, self.timeout, self.plan,
                             self.is_async, self.name, self.run_id, self.attempt))

    @property
    def key(self) -> str:
        """A name for this attempt's work, unique per run and attempt."""
        return f"conveyor-{self.name}-{self.run_id}-{self.attempt}"

    def __call__(self) -> Any:
        value = self._call()
        plan = self.plan
        if plan is None or value is None or value is True or value is False:
            return value
        try:
            checksum, size = write_result(plan.storage, plan.key, value, plan.serializer, label=plan.label)
        except SerializationError as exc:
            return Refused(value, exc)
        return Written(plan.key, checksum, size)

    def _call(self) -> Any:
        fn, timeout = self.fn, self.timeout
        if self.is_async:
            import asyncio  # lazy: only async tasks need it

            async def run() -> Any:
                if timeout is None:
                    return await fn(*self.args, **self.kwargs)
                try:
                    return await asyncio.wait_for(fn(*self.args, **self.kwargs), timeout)
                except TimeoutError:
                    raise timed_out_error("task", self.name, self.run_id, timeout) from None

            return asyncio.run(run())
        if timeout is None:
            return fn(*self.args, **self.kwargs)
        done, value = call_with_timeout(fn, self.args, self.kwargs, timeout)
        if not done:
            raise timed_out_error("task", self.name, self.run_id, timeout)
        return value

    def __repr__(self) -> str:
        return f"RemoteCall({self.key})"


def write_plan(run: ActiveTaskRun) -> WritePlan | None:
    """Where the worker writes ``run``'s value, its write intent recorded first; None when
    the run does not persist (or its key cannot be made: the driver then persists, as a
    local run does, and reports the same error)."""
    if not run.decision.persist:
        return None
    try:
        destination = run.destination()
        key = normalize_key(run.storage_key(), block=destination.storage)  # type: ignore[arg-type]
        label = destination.label
        destination.record_intent(key, run.id)
    except ConveyorError:
        return None
    return WritePlan(destination.storage, destination.serializer, key, label)


__all__ = ["Refused", "RemoteCall", "WritePlan", "Written", "write_plan"]
