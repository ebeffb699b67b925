"""The task runner base class and the two built-in runners.

A flow run gets its own copy of its runner (:meth:`TaskRunner.duplicate`), starts it
lazily on the first ``submit()``, and shuts it down (waiting for every submitted run)
when the flow run ends.

A runner is *local* (``remote = False``: ``submit`` runs the engine's whole task run,
function call included, in this process) or *remote* (``remote = True``: ``submit``
runs short steps of the engine's bookkeeping here, and each attempt's function call goes
to :meth:`TaskRunner.submit_remote`, which starts a picklable
:class:`~conveyor.engine.remote.RemoteCall` elsewhere and returns a future of what it
returns; see :mod:`conveyor.engine.remote_run`).

- :class:`ThreadPoolTaskRunner` (the default): a pool of threads; async tasks run in
  an event loop of their worker thread.
- :class:`SequentialTaskRunner`: each submitted run executes at once in the caller's
  thread; its future is already done when ``submit()`` returns.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import functools
import threading
import time
from collections.abc import Callable
from typing import Any

from conveyor.runners.pool import WorkerPool


class TaskRunner:
    """Base class: run callables for a flow run and hand back concurrent futures.

    A subclass sets ``name`` (how ``CONVEYOR_TASK_RUNNER`` selects it, and the registry
    name of the ``conveyor_register_task_runners`` hook) and defines ``duplicate``,
    ``submit`` and ``shutdown``; a remote runner also sets ``remote = True`` and defines
    ``submit_remote`` (and may refuse a storage its workers cannot share in
    ``check_storage``).
    """

    name = "task-runner"
    #: submitted runs' function calls execute elsewhere, through :meth:`submit_remote`
    remote = False

    @classmethod
    def from_setting(cls, argument: str) -> TaskRunner:
        """The runner ``CONVEYOR_TASK_RUNNER=<name>[:<argument>]`` selects (argument may be '')."""
        if argument:
            raise ValueError(f"task runner {cls.name!r} takes no argument in CONVEYOR_TASK_RUNNER (got {argument!r})")
        return cls()

    def duplicate(self) -> TaskRunner:
        """A fresh, unstarted runner with the same configuration."""
        raise NotImplementedError

    def submit(self, fn: Callable[[], Any]) -> concurrent.futures.Future[Any]:
        """Run ``fn`` (a callable taking no argument); its return value is the future's."""
        raise NotImplementedError

    def shutdown(self, wait: bool = True) -> None:
        """Release the runner's resources, waiting for submitted work when ``wait``."""

    def submit_remote(self, call: Callable[[], Any]) -> concurrent.futures.Future[Any]:
        """A remote runner: start ``call`` (a :class:`~conveyor.engine.remote.RemoteCall`, a
        picklable callable taking no argument) where the runner runs tasks, and return at
        once a future of its return value (or exception), completed from any thread. Work
        the engine queues from that future's callbacks (with :meth:`submit`) must still be
        waited for by ``shutdown(wait=True)``."""
        raise NotImplementedError(f"{type(self).__name__} is not a remote task runner")

    def submit_later(self, delay: float, fn: Callable[[], Any]) -> None:
        """A remote runner: run ``fn`` like :meth:`submit`, ``delay`` seconds from now (a
        retry's delay). By default a runner thread sleeps first; a runner may use a timer
        instead, counted as submitted work so ``shutdown(wait=True)`` waits for it."""
        def later() -> Any:
            time.sleep(delay)
            return fn()

        self.submit(later)

    def check_storage(self, storage: Any) -> None:
        """A remote runner: raise ``ConfigurationError`` when its workers cannot write to
        ``storage`` (a storage block) where this process reads. Called before a task run
        whose result goes there is queued."""


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
    """Runs submitted task runs in a thread pool of ``max_workers`` threads (default: the
    CPUs plus 4, at most 32, as ``ThreadPoolExecutor``'s; see :mod:`conveyor.runners.pool`).

    The pool is created on the first ``submit()``, so a flow that submits nothing pays
    nothing. Each submitted run sees the submitting thread's context (the flow run).
    """

    name = "thread-pool"

    def __init__(self, max_workers: int | None = None) -> None:
        if max_workers is not None and max_workers < 1:
            raise ValueError(f"ThreadPoolTaskRunner(max_workers={max_workers}) needs at least 1 worker")
        self.max_workers = max_workers
        self._pool: WorkerPool | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_setting(cls, argument: str) -> ThreadPoolTaskRunner:
        """``thread-pool`` or ``thread-pool:<max workers>``."""
        try:
            return cls(int(argument) if argument else None)
        except ValueError:
            raise ValueError(f"thread-pool:{argument} must give a whole number of threads, e.g. thread-pool:8") from None

    def duplicate(self) -> ThreadPoolTaskRunner:
        return ThreadPoolTaskRunner(self.max_workers)

    def submit(self, fn: Callable[[], Any]) -> concurrent.futures.Future[Any]:
        pool = self._pool
        if pool is None:
            with self._lock:
                pool = self._pool
                if pool is None:
                    pool = self._pool = WorkerPool(self.max_workers)
        return pool.submit(functools.partial(contextvars.copy_context().run, fn))

    def shutdown(self, wait: bool = True) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait)

    def __repr__(self) -> str:
        return f"ThreadPoolTaskRunner(max_workers={self.max_workers})"


__all__ = ["SequentialTaskRunner", "TaskRunner", "ThreadPoolTaskRunner"]
