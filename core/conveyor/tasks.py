"""``@task``: a function whose calls are recorded runs with results.

    from conveyor import task

    @task(retries=2, cache_key_fn=task_input_hash)
    def load(path: str) -> bytes: ...

Inside a flow, ``load(p)`` runs the task and returns its value, ``load.submit(p)``
returns a future (the flow's task runner runs it), ``load.map(paths)`` a list of
futures. Outside a flow a call is a run of its own.

Async tasks: awaited (``await load(p)``) where an event loop runs; called from a sync
flow, they run to completion and return the value.

May import: conveyor.binding, conveyor.engine, conveyor.exceptions.
"""

from __future__ import annotations

import datetime
import functools
import inspect
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from conveyor import engine
from conveyor.binding import Binder
from conveyor.engine.options import changed_options, check_common_options, check_run_options
from conveyor.engine.reuse import input_hash
from conveyor.exceptions import ConfigurationError

if TYPE_CHECKING:
    from conveyor.engine.context import TaskRunContext
    from conveyor.futures import ConveyorFuture
    from conveyor.serialization.base import Serializer
    from conveyor.storage.base import StorageBlock

R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])

CacheKeyFn = Callable[["TaskRunContext", dict[str, Any]], "str | None"]
WaitFor = "Iterable[Any] | None"

_NOT_SET: Any = object()


class Task(Generic[R]):
    """A task: a function plus the options of its runs. Made by :func:`task`."""

    def __init__(
        self,
        fn: Callable[..., Any],
        name: str | None = None,
        retries: int = 0,
        retry_delay_seconds: float | list[float] = 0,
        cache_key_fn: CacheKeyFn | None = None,
        cache_expiration: datetime.timedelta | None = None,
        refresh_cache: bool = False,
        persist_result: bool | None = None,
        result_storage: str | StorageBlock | None = None,
        result_serializer: str | Serializer | None = None,
        result_storage_key: str | None = None,
        cache_result_in_memory: bool = True,
        task_run_name: str | Callable[[], str] | None = None,
        tags: Iterable[str] | None = None,
        timeout_seconds: float | None = None,
        on_completion: Iterable[Callable[..., Any]] | None = None,
        on_failure: Iterable[Callable[..., Any]] | None = None,
        log_prints: bool | None = None,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"@task decorates a function; got {type(fn).__name__} {fn!r}")
        self.fn = fn
        self.name: str = name or getattr(fn, "__name__", type(fn).__name__)
        check_common_options(
            "task", self.name, retries, retry_delay_seconds, persist_result, result_storage,
            result_serializer,
        )
        if cache_key_fn is not None and not callable(cache_key_fn):
            raise TypeError(f"cache_key_fn on task {self.name!r} must be a function (context, parameters) -> str | None")
        if cache_expiration is not None and not isinstance(cache_expiration, datetime.timedelta):
            raise TypeError(
                f"cache_expiration on task {self.name!r} must be a datetime.timedelta, e.g. "
                f"timedelta(hours=1); got {type(cache_expiration).__name__} {cache_expiration!r}"
            )
        if result_storage_key is not None and not isinstance(result_storage_key, str):
            raise TypeError(f"result_storage_key on task {self.name!r} must be a str template")
        self.tags, self.on_completion, self.on_failure = check_run_options(
            "task", self.name, task_run_name, tags, timeout_seconds, on_completion, on_failure
        )
        self.task_run_name = task_run_name
        if log_prints is not None and not isinstance(log_prints, bool):
            raise TypeError(f"log_prints on task {self.name!r} must be True, False or None (inherit)")
        #: print() inside the run goes to the run logger (None: as the enclosing flow says)
        self.log_prints = log_prints
        self.timeout_seconds = timeout_seconds
        self.retries = retries
        self.retry_delay_seconds = retry_delay_seconds
        self.cache_key_fn = cache_key_fn
        self.cache_expiration = cache_expiration
        self.refresh_cache = bool(refresh_cache)
        self.persist_result = persist_result
        self.result_storage = result_storage
        self.result_serializer = result_serializer
        self.result_storage_key = result_storage_key
        self.cache_result_in_memory = bool(cache_result_in_memory)
        self.is_async = inspect.iscoroutinefunction(fn)
        self._binder: Binder | None = None
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    # Options ---------------------------------------------------------------------------

    def _options(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "retries": self.retries,
            "retry_delay_seconds": self.retry_delay_seconds,
            "cache_key_fn": self.cache_key_fn,
            "cache_expiration": self.cache_expiration,
            "refresh_cache": self.refresh_cache,
            "persist_result": self.persist_result,
            "result_storage": self.result_storage,
            "result_serializer": self.result_serializer,
            "result_storage_key": self.result_storage_key,
            "cache_result_in_memory": self.cache_result_in_memory,
            "task_run_name": self.task_run_name,
            "tags": list(self.tags),
            "timeout_seconds": self.timeout_seconds,
            "on_completion": list(self.on_completion),
            "on_failure": list(self.on_failure),
            "log_prints": self.log_prints,
        }

    def with_options(self, **options: Any) -> Task[R]:
        """A copy of this task with some options changed (same keywords as ``@task``)."""
        return Task(self.fn, **changed_options("task", self.name, self._options(), options))

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call's arguments by parameter name, defaults applied."""
        binder = self._binder
        if binder is None:
            binder = self._binder = Binder(self.fn)
        try:
            return binder(args, kwargs)
        except TypeError as exc:
            raise TypeError(f"task {self.name!r}: {exc}") from None

    # Calling ---------------------------------------------------------------------------

    def __call__(self, *args: Any, return_state: bool = False, wait_for: WaitFor = None,
                 **kwargs: Any) -> Any:
        """Run the task now: its value, or its final state with ``return_state=True``.

        ``wait_for``: futures (or states) to wait for first; a failed one fails this run
        without running it, unless wrapped in :class:`~conveyor.futures.allow_failure`.
        """
        if self.is_async:
            coro = engine.run_task_async(self, args, kwargs, return_state, wait_for=wait_for)
            if engine.flow_run_context.get() is not None and not _loop_running():
                import asyncio  # lazy: only async tasks need it

                return asyncio.run(coro)
            return coro
        return engine.run_task(self, args, kwargs, return_state, wait_for=wait_for)

    def submit(self, *args: Any, wait_for: WaitFor = None, **kwargs: Any) -> ConveyorFuture[R]:
        """Queue a run on the flow's task runner; futures among the arguments (and in
        ``wait_for``) are waited for first."""
        return engine.submit_task(self, args, kwargs, wait_for=wait_for)

    def map(self, *args: Any, wait_for: WaitFor = None, **kwargs: Any) -> list[ConveyorFuture[R]]:
        """Submit one run per item of the iterable arguments (others are passed to every run).

        Wrap an iterable in :func:`unmapped` to pass it whole to every run; ``wait_for``
        applies to every run.
        """
        calls = map_arguments(self.name, args, kwargs)
        return [engine.submit_task(self, a, k, wait_for=wait_for, map_index=i) for i, (a, k) in enumerate(calls)]

    def __get__(self, instance: Any, owner: Any) -> Any:
        if instance is None:
            return self
        return functools.partial(self.__call__, instance)

    def __repr__(self) -> str:
        return f"Task({self.name!r})"


class unmapped:
    """Pass ``value`` whole to every run of ``task.map(...)``."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _is_mappable(value: Any) -> bool:
    if isinstance(value, (str, bytes, bytearray, dict, unmapped)):
        return False
    return isinstance(value, Iterable)


def map_arguments(
    name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Split map() arguments into one (args, kwargs) per run."""
    pos = [list(a) if _is_mappable(a) else a for a in args]
    kw = {k: list(v) if _is_mappable(v) else v for k, v in kwargs.items()}
    lengths = {len(v) for v in [*pos, *kw.values()] if isinstance(v, list) and not isinstance(v, unmapped)}
    mapped_pos = [isinstance(a, list) and _is_mappable(args[i]) for i, a in enumerate(pos)]
    mapped_kw = {k: isinstance(v, list) and _is_mappable(kwargs[k]) for k, v in kw.items()}
    if not lengths:
        raise ConfigurationError(
            f"map() of task {name!r} got no iterable argument to map over; pass a list, or "
            f"call the task (or submit()) for a single run"
        )
    if len(lengths) > 1:
        raise ConfigurationError(
            f"map() of task {name!r} got iterables of different lengths ({sorted(lengths)}); "
            f"give them equal lengths, or wrap one in unmapped(...) to pass it to every run"
        )
    (count,) = lengths
    unwrap = lambda v: v.value if isinstance(v, unmapped) else v
    calls = []
    for i in range(count):
        a = tuple(v[i] if mapped_pos[j] else unwrap(v) for j, v in enumerate(pos))
        k = {key: v[i] if mapped_kw[key] else unwrap(v) for key, v in kw.items()}
        calls.append((a, k))
    return calls


def _loop_running() -> bool:
    import asyncio  # lazy: sync-only programs never pay its start-up

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def task_input_hash(context: TaskRunContext, parameters: dict[str, Any]) -> str | None:
    """A cache key from the task's identity, its code and its inputs.

    Equal inputs (compared by their pickle) give equal keys; changing the task's code
    gives a new key. Inputs that cannot be pickled give ``None`` (no caching). The same
    hash finds the counterpart a retried or resumed flow run reuses.
    """
    task = context.task
    digest = input_hash(task.fn, task.name, parameters)
    return None if digest is None else f"{task.name}-{digest}"


@overload
def task(fn: F, /) -> Task[Any]: ...


@overload
def task(
    *,
    name: str | None = None,
    retries: int = 0,
    retry_delay_seconds: float | list[float] = 0,
    cache_key_fn: CacheKeyFn | None = None,
    cache_expiration: datetime.timedelta | None = None,
    refresh_cache: bool = False,
    persist_result: bool | None = None,
    result_storage: str | StorageBlock | None = None,
    result_serializer: str | Serializer | None = None,
    result_storage_key: str | None = None,
    cache_result_in_memory: bool = True,
    task_run_name: str | Callable[[], str] | None = None,
    tags: Iterable[str] | None = None,
    timeout_seconds: float | None = None,
    on_completion: Iterable[Callable[..., Any]] | None = None,
    on_failure: Iterable[Callable[..., Any]] | None = None,
    log_prints: bool | None = None,
) -> Callable[[F], Task[Any]]: ...


def task(fn: Any = None, /, **options: Any) -> Any:
    """Make a function a task; works bare (``@task``) and with options (``@task(retries=2)``)."""
    if fn is not None:
        return Task(fn, **options)
    return lambda fn: Task(fn, **options)


__all__ = ["Task", "task", "task_input_hash", "unmapped"]
