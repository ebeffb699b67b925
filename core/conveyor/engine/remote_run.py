"""A submitted task run on a remote runner, driven without a thread waiting for it.

With a local runner, one runner thread runs a task run from start to end (see
:func:`conveyor.engine.calls.run_task`). With a remote runner (``runner.remote``, e.g.
Dask), the function calls happen elsewhere, and a thread blocked on each would limit the
runs in flight to the number of threads. So :class:`RemoteTaskRun` drives the same attempt
loop (:func:`conveyor.engine.attempts.attempts`) in short steps, each on a thread of the
runner (``runner.submit``):

1. once every future among the run's arguments and ``wait_for`` is done (done-callbacks,
   no thread waits): ``prepare()`` (upstream values, cache lookup, reuse), then Running
   (in the submitting thread when nothing is awaited, else on a runner thread);
2. each attempt: a :class:`~conveyor.engine.remote.RemoteCall` handed to
   ``runner.submit_remote``, which returns at once a future of the call's outcome;
3. when that future is done (a callback): the outcome is sent to the loop, which records
   the final state, or a retry (after its delay: ``runner.submit_later``) goes to 2.

The run's own future (:attr:`RemoteTaskRun.future`) gets the final state, as the runner's
future of ``run_task`` does for a local runner.

May import: conveyor.engine (attempts, hooks, remote), conveyor.futures, conveyor.states.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from conveyor.engine.attempts import CALL, attempts
from conveyor.engine.hooks import run_state_hooks
from conveyor.engine.remote import RemoteCall, Written, write_plan
from conveyor.futures import ATOMS, ConveyorFuture, allow_failure
from conveyor.states import State

if TYPE_CHECKING:
    from conveyor.engine.task_run import ActiveTaskRun
    from conveyor.runners.base import TaskRunner
    from conveyor.tasks import Task


def futures_in(value: Any, found: list[ConveyorFuture[Any]]) -> None:
    """Append the futures inside ``value`` (lists, tuples, sets, dicts, ``allow_failure``)."""
    kind = type(value)
    if kind in ATOMS:
        return
    if isinstance(value, ConveyorFuture):
        found.append(value)
    elif kind is allow_failure:
        futures_in(value.value, found)
    elif kind is list or kind is tuple or kind is set or kind is frozenset:
        for item in value:
            futures_in(item, found)
    elif kind is dict:
        for item in value.values():
            futures_in(item, found)


class RemoteTaskRun:
    """One submitted task run on a remote runner (see the module docstring)."""

    __slots__ = ("future", "loop", "plan", "run", "runner", "scope", "task")

    def __init__(self, run: ActiveTaskRun, task: Task[Any], runner: TaskRunner,
                 scope: Callable[[], Any]) -> None:
        self.run = run
        self.task = task
        self.runner = runner
        #: makes the context manager each step runs in (the run's context; a
        #: BaseException recorded as the run crashing)
        self.scope = scope
        #: the run's final state
        self.future: concurrent.futures.Future[State] = concurrent.futures.Future()
        self.loop: Any = None
        self.plan: Any = None

    def start(self) -> None:
        """Queue the run's first step once the futures it waits for are done."""
        run = self.run
        upstream: list[ConveyorFuture[Any]] = []
        futures_in(run.wait_for, upstream)
        futures_in(run.args, upstream)
        futures_in(run.kwargs, upstream)
        waiting = [f for f in upstream if not f.done()]
        if not waiting:  # the first step here, in the submitting thread: the call is on
            try:  # its way when submit() returns, and no thread hand-off is paid for it
                self._first()
            except Exception:  # noqa: BLE001,S110 - recorded, and handed to the run's future
                pass  # (Ctrl-C goes on up: the flow run crashes, as with a local runner)
            return
        left = [len(waiting)]
        lock = threading.Lock()  # callbacks of distinct futures may run in distinct threads

        def one_done(_future: Any) -> None:
            with lock:
                left[0] -= 1
                last = left[0] == 0
            if last:
                self.runner.submit(self._first)

        for future in waiting:
            future.add_done_callback(one_done)

    # -- the steps, each on a runner thread ---------------------------------------------

    def _first(self) -> None:
        try:
            state = self.run.prepare()
        except BaseException as exc:
            self.future.set_exception(exc)
            raise
        if state is not None:
            self._finish(state)
            return
        self.loop = attempts(self.run, self.task.retries, self.task.retry_delay_seconds)
        self._step(lambda: next(self.loop))

    def _step(self, advance: Callable[[], Any]) -> None:
        """Advance the attempt loop once; then call, wait for a retry, or finish."""
        try:
            with self.scope():
                try:
                    request = advance()
                except StopIteration as stop:
                    request = stop.value
        except BaseException as exc:  # recorded as crashed by the scope
            self.future.set_exception(exc)
            raise
        if request is CALL:
            self._call()
        elif isinstance(request, State):
            self._finish(request)
        else:
            self.runner.submit_later(float(request), lambda: self._step(lambda: next(self.loop)))

    def _call(self) -> None:
        run, task = self.run, self.task
        try:
            self.plan = plan = write_plan(run)
            call = RemoteCall(task.fn, run.args, run.kwargs, task.timeout_seconds, plan,
                              task.is_async, task.name, run.id, run.run_count)
            outcome = self.runner.submit_remote(call)
        except Exception as exc:  # noqa: BLE001 - the attempt's failure
            self._step(lambda: self.loop.send((False, exc)))
            return
        outcome.add_done_callback(self._called)

    def _called(self, outcome: concurrent.futures.Future[Any]) -> None:
        """The call's future is done (any thread): continue on a runner thread. A call
        cancelled (its flow run ended without waiting) ends the run here, as crashed."""
        cancelled = outcome.cancelled() or isinstance(outcome.exception(), concurrent.futures.CancelledError)
        if not cancelled:
            self.runner.submit(lambda: self._step(lambda: self._outcome(outcome)))
            return
        error = outcome.exception() if not outcome.cancelled() else concurrent.futures.CancelledError()
        try:
            with self.scope():  # records the run Crashed
                raise error  # type: ignore[misc]
        except BaseException:  # noqa: BLE001,S110 - recorded; handed to the run's future
            pass
        self.future.set_exception(error)  # type: ignore[arg-type]

    def _outcome(self, outcome: concurrent.futures.Future[Any]) -> Any:
        try:
            value = outcome.result()
        except Exception as exc:  # noqa: BLE001 - the attempt's failure (a BaseException: a crash)
            return self.loop.send((False, exc))  # the write intent stays: a worker may have died writing
        plan, self.plan = self.plan, None
        if plan is not None and type(value) is not Written:
            self.run.destination().written(plan.key)  # nothing was written under it
        return self.loop.send((True, value))

    def _finish(self, state: State) -> None:
        try:
            run_state_hooks("task", self.task, self.run.info, state)
        finally:
            self.future.set_result(state)


__all__ = ["RemoteTaskRun", "futures_in"]
