"""``@flow``: a function whose call is a recorded flow run, the home of task runs.

    from conveyor import flow

    @flow(retries=2)
    def pipeline(day: str) -> int: ...

``pipeline("2024-01-01")`` runs the flow and returns its value; a failure raises the
original exception; ``return_state=True`` returns the final state instead. A flow called
inside another flow is a subflow: its own run, linked to the caller.

Calling an ``async def`` flow returns a coroutine: ``asyncio.run(pipeline(...))`` or
``await pipeline(...)``.

May import: conveyor.engine, conveyor.exceptions, conveyor.task_runners.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from conveyor import engine
from conveyor.engine.options import changed_options, check_common_options, check_run_options
from conveyor.exceptions import ConfigurationError
from conveyor.task_runners import TaskRunner, resolve_task_runner

if TYPE_CHECKING:
    from conveyor.serialization.base import Serializer
    from conveyor.storage.base import StorageBlock

R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])


class Flow(Generic[R]):
    """A flow: a function plus the options of its runs. Made by :func:`flow`."""

    def __init__(
        self,
        fn: Callable[..., Any],
        name: str | None = None,
        retries: int = 0,
        retry_delay_seconds: float | list[float] = 0,
        persist_result: bool | None = None,
        result_storage: str | StorageBlock | None = None,
        result_serializer: str | Serializer | None = None,
        task_runner: TaskRunner | type[TaskRunner] | None = None,
        timeout_seconds: float | None = None,
        cache_result_in_memory: bool = True,
        flow_run_name: str | Callable[[], str] | None = None,
        tags: Iterable[str] | None = None,
        on_completion: Iterable[Callable[..., Any]] | None = None,
        on_failure: Iterable[Callable[..., Any]] | None = None,
        log_prints: bool | None = None,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"@flow decorates a function; got {type(fn).__name__} {fn!r}")
        self.fn = fn
        self.name: str = name or getattr(fn, "__name__", type(fn).__name__)
        check_common_options(
            "flow", self.name, retries, retry_delay_seconds, persist_result, result_storage,
            result_serializer,
        )
        if timeout_seconds is not None and (
            not isinstance(timeout_seconds, (int, float)) or isinstance(timeout_seconds, bool)
            or timeout_seconds <= 0
        ):
            raise ConfigurationError(
                f"timeout_seconds={timeout_seconds!r} on flow {self.name!r} must be a number of "
                f"seconds > 0, or None for no timeout"
            )
        if task_runner is not None:
            resolve_task_runner(task_runner)  # refuse a wrong value now
        self.retries = retries
        self.retry_delay_seconds = retry_delay_seconds
        self.persist_result = persist_result
        self.result_storage = result_storage
        self.result_serializer = result_serializer
        self.task_runner = task_runner
        self.timeout_seconds = timeout_seconds
        self.cache_result_in_memory = bool(cache_result_in_memory)
        # timeout_seconds is checked above, with the message flows always gave
        self.tags, self.on_completion, self.on_failure = check_run_options(
            "flow", self.name, flow_run_name, tags, None, on_completion, on_failure
        )
        self.flow_run_name = flow_run_name
        if log_prints is not None and not isinstance(log_prints, bool):
            raise TypeError(f"log_prints on flow {self.name!r} must be True, False or None (inherit)")
        #: print() inside the run goes to the run logger (None: as the enclosing flow says)
        self.log_prints = log_prints
        self.is_async = inspect.iscoroutinefunction(fn)
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    def _options(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "retries": self.retries,
            "retry_delay_seconds": self.retry_delay_seconds,
            "persist_result": self.persist_result,
            "result_storage": self.result_storage,
            "result_serializer": self.result_serializer,
            "task_runner": self.task_runner,
            "timeout_seconds": self.timeout_seconds,
            "cache_result_in_memory": self.cache_result_in_memory,
            "flow_run_name": self.flow_run_name,
            "tags": list(self.tags),
            "on_completion": list(self.on_completion),
            "on_failure": list(self.on_failure),
            "log_prints": self.log_prints,
        }

    def with_options(self, **options: Any) -> Flow[R]:
        """A copy of this flow with some options changed (same keywords as ``@flow``)."""
        return Flow(self.fn, **changed_options("flow", self.name, self._options(), options))

    def __call__(self, *args: Any, return_state: bool = False, **kwargs: Any) -> Any:
        """Run the flow: its value (a failure raises), or its final state with ``return_state=True``."""
        if self.is_async:
            return engine.run_flow_async(self, args, kwargs, return_state)
        return engine.run_flow(self, args, kwargs, return_state)

    def resume(self, run_id: str, *, return_state: bool = False, **parameters: Any) -> Any:
        """Run this flow again as a new run that resumes run ``run_id`` (a unique id prefix too).

        Every task result the old run (or the runs it resumed) persisted is reused; the
        flow is called with the old run's parameters, updated with ``parameters``. See
        docs/concepts.md, "Retries, resume and reuse".
        """
        from conveyor.engine.resume import resume  # lazy: only a resumed run needs it

        return resume(run_id, flow=self, return_state=return_state, **parameters)

    def __repr__(self) -> str:
        return f"Flow({self.name!r})"


@overload
def flow(fn: F, /) -> Flow[Any]: ...


@overload
def flow(
    *,
    name: str | None = None,
    retries: int = 0,
    retry_delay_seconds: float | list[float] = 0,
    persist_result: bool | None = None,
    result_storage: str | StorageBlock | None = None,
    result_serializer: str | Serializer | None = None,
    task_runner: TaskRunner | type[TaskRunner] | None = None,
    timeout_seconds: float | None = None,
    cache_result_in_memory: bool = True,
    flow_run_name: str | Callable[[], str] | None = None,
    tags: Iterable[str] | None = None,
    on_completion: Iterable[Callable[..., Any]] | None = None,
    on_failure: Iterable[Callable[..., Any]] | None = None,
    log_prints: bool | None = None,
) -> Callable[[F], Flow[Any]]: ...


def flow(fn: Any = None, /, **options: Any) -> Any:
    """Make a function a flow; works bare (``@flow``) and with options (``@flow(retries=2)``)."""
    if fn is not None:
        return Flow(fn, **options)
    return lambda fn: Flow(fn, **options)


__all__ = ["Flow", "flow"]
