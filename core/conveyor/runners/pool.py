"""The thread pool of :class:`~conveyor.runners.base.ThreadPoolTaskRunner`: :class:`WorkerPool`.

``concurrent.futures.ThreadPoolExecutor`` does, per submitted call, a pure-Python
semaphore acquire (is a worker idle?), a work item, a shutdown lock, and a semaphore
release when the call is done: for a trivial task that bookkeeping cost as much as the
engine's own, most of it while holding the GIL the task's threads need. This pool keeps
what the engine uses: the same ``concurrent.futures.Future`` per call (so ``wait`` and
``as_completed`` work on it), at most ``max_workers`` threads started as they are
needed, calls run in the order submitted, and a ``shutdown`` that lets queued calls
finish (waiting for them with ``wait=True``). Its queue is a ``queue.SimpleQueue``.

Its threads take no lock: a thread done with a call puts a token on a list of idle
threads (``list.append`` is atomic) and a submit takes one off (``list.pop``); only when
there is none does it start a thread. The pool's lock is the submitters' (against
``shutdown`` and each other): with the threads under it too, a submitter preempted
while holding it (the GIL changes hands after any call) blocked every thread finishing a
call, one system call and one hand-off each.

May import: the standard library only.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import os
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any

_numbers = itertools.count()
#: Pools with threads, so an interpreter exit can let their threads finish and stop.
_live: weakref.WeakSet[WorkerPool] = weakref.WeakSet()


def _at_exit() -> None:
    """Like ``ThreadPoolExecutor``'s: before the interpreter joins its threads, every pool
    still open is shut down (its queued calls still run), so its threads can end."""
    for pool in list(_live):
        pool.shutdown(wait=False)


# The hook ThreadPoolExecutor itself uses: it runs before non-daemon threads are joined
# (an atexit function would run after, too late); without it the threads are daemons.
_register = getattr(threading, "_register_atexit", None)
if _register is not None:
    _register(_at_exit)


def default_workers() -> int:
    """What ``ThreadPoolExecutor`` takes by default: the CPUs plus 4, at most 32."""
    return min(32, (os.cpu_count() or 1) + 4)


class WorkerPool:
    """Up to ``max_workers`` threads running submitted calls (see the module docstring)."""

    def __init__(self, max_workers: int | None = None, name: str = "conveyor-task") -> None:
        self.max_workers = max_workers or default_workers()
        self._name = name
        self._queue: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        #: one token per thread waiting for a call (or about to take a queued one); at
        #: most max_workers: once every thread is started, the count no longer matters
        self._ready: list[None] = []
        self._closed = False

    def submit(self, fn: Callable[[], Any]) -> concurrent.futures.Future[Any]:
        """Queue ``fn`` (no arguments); its return value or exception is the future's."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot submit to a task runner's pool after it was shut down")
            self._queue.put((fn, future))
            try:
                self._ready.pop()  # an idle thread takes this call
            except IndexError:  # none idle: a new thread, or the call waits its turn
                if len(self._threads) < self.max_workers:
                    thread = threading.Thread(
                        target=self._work, name=f"{self._name}_{next(_numbers)}", daemon=_register is None
                    )
                    self._threads.append(thread)
                    if len(self._threads) == 1:
                        _live.add(self)
                    thread.start()
        return future

    def _work(self) -> None:
        get = self._queue.get
        ready = self._ready
        most = self.max_workers
        while True:
            item = get()
            if item is None:
                return
            fn, future = item
            if future.set_running_or_notify_cancel():
                try:
                    value = fn()
                except BaseException as exc:  # noqa: BLE001 - handed to the future
                    future.set_exception(exc)
                else:
                    future.set_result(value)
            del item, fn, future
            if len(ready) < most:  # always true while fewer than max_workers threads exist
                ready.append(None)

    def shutdown(self, wait: bool = True) -> None:
        """No more calls; the queued ones still run. With ``wait``, return once all have."""
        with self._lock:
            if not self._closed:
                self._closed = True
                for _ in self._threads:
                    self._queue.put(None)
            threads = list(self._threads)
        if wait:
            me = threading.current_thread()
            for thread in threads:
                if thread is not me:
                    thread.join()


__all__ = ["WorkerPool", "default_workers"]
