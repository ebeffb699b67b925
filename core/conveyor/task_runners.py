"""Task runners: where submitted task runs execute.

A flow run gets its own copy of its runner (:meth:`TaskRunner.duplicate`), starts it
lazily on the first ``submit()``, and shuts it down (waiting for every submitted run)
when the flow run ends.

- :class:`ThreadPoolTaskRunner` (the default): a pool of threads; async tasks run in
  an event loop of their worker thread.
- :class:`SequentialTaskRunner`: each submitted run executes at once in the caller's
  thread; its future is already done when ``submit()`` returns.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import threading
from collections.abc import Callable
from typing import Any


class TaskRunner:
    """Base class: run callables for a flow run and hand back concurrent futures."""

    name = "task-runner"

    def duplicate(self) -> TaskRunner:
        """A fresh, unstarted runner with the same configuration."""
        raise NotImplementedError

    def submit(self, fn: Callable[[], Any]) -> concurrent.futures.Future[Any]:
        """Run ``fn`` (a callable taking no argument); its return value is the future's."""
        raise NotImplementedError

    def shutdown(self, wait: bool = True) -> None:
        """Release the runner's resources, waiting for submitted work when ``wait``."""


class SequentialTaskRunner(TaskRunner):
    """Runs each submitted task run immediately, in the submitting thread."""

    name = "sequential"

    def duplicate(self) -> SequentialTaskRunner:
        return SequentialTaskRunner()

    def submit(self, fn: Callable[[], Any]) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(fn())
        except BaseException as exc:  # the engine returns states; this is a crash  # noqa: BLE001
            future.set_exception(exc)
        return future

    def __repr__(self) -> str:
        return "SequentialTaskRunner()"


class ThreadPoolTaskRunner(TaskRunner):
    """Runs submitted task runs in a thread pool of ``max_workers`` threads.

    The pool is created on the first ``submit()``, so a flow that submits nothing pays
    nothing. Each submitted run sees the submitting thread's context (the flow run).
    """

    name = "thread-pool"

    def __init__(self, max_workers: int | None = None) -> None:
        if max_workers is not None and max_workers < 1:
            raise ValueError(f"ThreadPoolTaskRunner(max_workers={max_workers}) needs at least 1 worker")
        self.max_workers = max_workers
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def duplicate(self) -> ThreadPoolTaskRunner:
        return ThreadPoolTaskRunner(self.max_workers)

    def submit(self, fn: Callable[[], Any]) -> concurrent.futures.Future[Any]:
        pool = self._pool
        if pool is None:
            with self._lock:
                pool = self._pool
                if pool is None:
                    pool = self._pool = concurrent.futures.ThreadPoolExecutor(
                        self.max_workers, thread_name_prefix="conveyor-task"
                    )
        return pool.submit(contextvars.copy_context().run, fn)

    def shutdown(self, wait: bool = True) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait)

    def __repr__(self) -> str:
        return f"ThreadPoolTaskRunner(max_workers={self.max_workers})"


def resolve_task_runner(value: TaskRunner | type[TaskRunner] | None) -> TaskRunner:
    """The ``task_runner`` option as an unstarted runner (default: a thread pool)."""
    if value is None:
        return ThreadPoolTaskRunner()
    if isinstance(value, type) and issubclass(value, TaskRunner):
        return value()
    if isinstance(value, TaskRunner):
        return value.duplicate()
    raise TypeError(
        f"task_runner must be a TaskRunner such as ThreadPoolTaskRunner(max_workers=4) or "
        f"SequentialTaskRunner(); got {type(value).__name__} {value!r}"
    )


__all__ = ["SequentialTaskRunner", "TaskRunner", "ThreadPoolTaskRunner", "resolve_task_runner"]
