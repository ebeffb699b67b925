"""Calling tasks and flows: the entry points ``Task.__call__``, ``submit``, ``map`` and
``Flow.__call__`` use.

Each builds its run (:class:`~conveyor.engine.task_run.ActiveTaskRun`,
:class:`~conveyor.engine.flow_run.ActiveFlowRun`), sets the run context, and hands the
run to the one attempt loop (:mod:`conveyor.engine.attempts`) with a sync or an async
driver.

May import: conveyor.engine (attempts, context, flow_run, remote_run, task_run), conveyor.exceptions,
conveyor.futures, conveyor.states, conveyor.task_runners.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from conveyor.engine.attempts import attempts, drive, drive_async
from conveyor.engine.context import flow_run_context, task_run_context
from conveyor.engine.flow_run import TIMED_OUT, ActiveFlowRun
from conveyor.engine.hooks import run_state_hooks
from conveyor.engine.logs import install_print_to_log, printing_to_log
from conveyor.engine.remote_run import RemoteTaskRun
from conveyor.engine.task_run import ActiveTaskRun
from conveyor.engine.timeouts import call_with_timeout, timed_out_error
from conveyor.exceptions import ConveyorError
from conveyor.futures import ConveyorFuture, resolve_futures
from conveyor.results import UnpersistedResult
from conveyor.states import COMPLETED, PENDING, State
from conveyor.task_runners import SequentialTaskRunner

if TYPE_CHECKING:
    from conveyor.flows import Flow
    from conveyor.tasks import Task


# -- tasks ----------------------------------------------------------------------------


def run_task(task: Task[Any], args: tuple[Any, ...], kwargs: dict[str, Any],
             return_state: bool = False, run: ActiveTaskRun | None = None,
             wait_for: Iterable[Any] | None = None) -> Any:
    """Run a sync task now, in this thread; return its value (or final state)."""
    if run is None:
        run = ActiveTaskRun(task, args, kwargs, flow_run_context.get(), wait_for=wait_for)
    top_level = run.ctx is None
    timeout = task.timeout_seconds
    fn = task.fn

    def attempt() -> Any:
        if timeout is None:
            return fn(*run.args, **run.kwargs)
        done, value = call_with_timeout(fn, run.args, run.kwargs, timeout)
        if not done:
            raise timed_out_error("task", task.name, run.id, timeout)
        return value

    try:
        state = run.prepare()
        if state is None:
            with _TaskScope(run, task):
                state = drive(attempts(run, task.retries, task.retry_delay_seconds), attempt)
    except BaseException:
        if top_level:
            run.writer.flush()
        raise
    if top_level:
        _committed(run, state)
    run_state_hooks("task", task, run.info, state)
    return _task_outcome(run, state, return_state)


def _committed(run: ActiveTaskRun, state: State) -> None:
    """A task run called outside any flow has ended: its rows are committed before the
    call returns, so another process sees it at once. A cache hit is the exception: its
    Cached row (a record of the hit, the value already stored) is left to the writer's
    next batch, at most LINGER_SECONDS later or at exit, so a hit costs no commit."""
    if state.name != "Cached":
        run.writer.flush()


class _TaskScope:
    """Around a task run's attempts (sync or async alike): its run context and its
    ``log_prints`` set, and a run that ends by a BaseException recorded as crashed."""

    __slots__ = ("prints", "run", "task", "token")

    def __init__(self, run: ActiveTaskRun, task: Task[Any]) -> None:
        self.run = run
        self.task = task

    def __enter__(self) -> None:
        self.token = task_run_context.set(self.run.context())
        self.prints = _log_prints(self.task.log_prints)

    def __exit__(self, kind: object, exc: BaseException | None, _tb: object) -> None:
        try:
            if exc is not None:
                self.run.crashed(exc)
        finally:
            if self.prints is not None:
                printing_to_log.reset(self.prints)
            task_run_context.reset(self.token)


def _log_prints(option: bool | None) -> Any:
    """Apply a run's ``log_prints`` (None: keep the enclosing run's); the token to reset, or None."""
    if option is None:
        return None
    if option:
        install_print_to_log()
    return printing_to_log.set(option)


def _task_outcome(run: ActiveTaskRun, state: State, return_state: bool) -> Any:
    if return_state:
        return state
    data = state.data
    if state.type is COMPLETED and type(data) is UnpersistedResult and not data.available:
        value = run.value  # not persisted, not kept: handed to this caller only
    else:
        value = state.result()
    if run.ctx is not None:  # so a task it is passed to records where it came from
        run.ctx.lineage.note(value, run.id, run.obj.cache_result_in_memory)
    return value


async def run_task_async(task: Task[Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                         return_state: bool = False, run: ActiveTaskRun | None = None,
                         wait_for: Iterable[Any] | None = None) -> Any:
    """Run an async task; return its value (or final state)."""
    import asyncio  # lazy: only async tasks need it

    if run is None:
        run = ActiveTaskRun(task, args, kwargs, flow_run_context.get(), wait_for=wait_for)
    top_level = run.ctx is None
    timeout = task.timeout_seconds
    fn = task.fn

    async def attempt() -> Any:
        if timeout is None:
            return await fn(*run.args, **run.kwargs)
        try:
            return await asyncio.wait_for(fn(*run.args, **run.kwargs), timeout)
        except TimeoutError:
            raise timed_out_error("task", task.name, run.id, timeout) from None

    try:
        state = run.prepare()
        if state is None:
            with _TaskScope(run, task):
                state = await drive_async(attempts(run, task.retries, task.retry_delay_seconds), attempt)
    except BaseException:
        if top_level:
            run.writer.flush()
        raise
    if top_level:
        _committed(run, state)
    run_state_hooks("task", task, run.info, state)
    return _task_outcome(run, state, return_state)


def submit_task(task: Task[Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                wait_for: Iterable[Any] | None = None, map_index: int | None = None) -> ConveyorFuture[Any]:
    """Queue a task run on the flow run's task runner; return its future.

    Outside a flow the run executes at once and the returned future is done.
    """
    ctx = flow_run_context.get()
    run = ActiveTaskRun(task, args, kwargs, ctx, wait_for=wait_for, map_index=map_index)
    runner = ctx.runner if ctx is not None else SequentialTaskRunner()
    if runner.remote:
        _check_remote(run, runner)
    if ctx is not None:
        run.submitted = True
        ctx.progress.submitted(task.name)
    run.record(State(PENDING, "Pending"))
    if run.remote is not None:  # steps on the runner's threads, calls on its workers
        remote = RemoteTaskRun(run, task, runner, lambda: _TaskScope(run, task))
        remote.start()
        future: ConveyorFuture[Any] = ConveyorFuture(run.id, task.name, remote.future, run.current)
        if ctx is not None:
            ctx.futures.append(future)
        return future
    if task.is_async:
        def work() -> State:
            import asyncio  # lazy: only async tasks need it

            return asyncio.run(run_task_async(task, run.args, run.kwargs, True, run))  # type: ignore[no-any-return]
    else:
        def work() -> State:
            return run_task(task, run.args, run.kwargs, True, run)  # type: ignore[no-any-return]
    future = ConveyorFuture(run.id, task.name, runner.submit(work), run.current)
    if ctx is not None:
        ctx.futures.append(future)
    return future


def _check_remote(run: ActiveTaskRun, runner: Any) -> None:
    """Before a run is queued on a remote runner: its workers can write where it persists."""
    run.remote = runner
    if run.decision.persist:
        try:
            storage = run.destination().storage
        except ConveyorError:
            return  # the task's own options are wrong: prepare() fails the run, as locally
        runner.check_storage(storage)


# -- flows ----------------------------------------------------------------------------


def run_flow(flow: Flow[Any], args: tuple[Any, ...], kwargs: dict[str, Any], return_state: bool = False,
             resumed_from: str | None = None, kept_parameters: str | None = None) -> Any:
    """Run a sync flow in this thread; return its value (or final state).

    :param resumed_from: the id of a flow run this run resumes (see :mod:`conveyor.engine.resume`).
    :param kept_parameters: the recorded parameters reference of that run, when this run
        is called with exactly those parameters (recorded again, not written again).
    """
    run = ActiveFlowRun(flow, args, kwargs, resumed_from, kept_parameters)
    runner = run.runner
    timeout = flow.timeout_seconds

    def attempt() -> Any:
        try:
            if timeout is not None:
                done, value = call_with_timeout(flow.fn, args, kwargs, timeout)
                if not done:
                    runner.shutdown(wait=False)
                    return TIMED_OUT
            else:
                value = flow.fn(*args, **kwargs)
            value = resolve_futures(value, states=False)
        except Exception:
            runner.shutdown(wait=True)
            raise
        runner.shutdown(wait=True)
        return value

    with _FlowScope(run) as scope:
        scope.state = run.prepare()
        if scope.state is None:
            scope.state = drive(attempts(run, flow.retries, flow.retry_delay_seconds), attempt)
    run_state_hooks("flow", flow, run.info, scope.state)
    return _outcome(run, scope.state, return_state)


async def run_flow_async(flow: Flow[Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                         return_state: bool = False, resumed_from: str | None = None,
                         kept_parameters: str | None = None) -> Any:
    """Run an async flow; return its value (or final state)."""
    import asyncio  # lazy: only async flows need it

    run = ActiveFlowRun(flow, args, kwargs, resumed_from, kept_parameters)
    runner = run.runner
    timeout = flow.timeout_seconds

    async def attempt() -> Any:
        try:
            if timeout is not None:
                try:
                    value = await asyncio.wait_for(flow.fn(*args, **kwargs), timeout)
                except TimeoutError:
                    runner.shutdown(wait=False)
                    return TIMED_OUT
            else:
                value = await flow.fn(*args, **kwargs)
            value = resolve_futures(value, states=False)
        except Exception:
            runner.shutdown(wait=True)
            raise
        runner.shutdown(wait=True)
        return value

    with _FlowScope(run) as scope:
        scope.state = run.prepare()
        if scope.state is None:
            scope.state = await drive_async(attempts(run, flow.retries, flow.retry_delay_seconds), attempt)
    run_state_hooks("flow", flow, run.info, scope.state)
    return _outcome(run, scope.state, return_state)


class _FlowScope:
    """Around a flow run (sync or async alike): its run context and ``log_prints`` set; a
    run that ends by a BaseException recorded as crashed; at the end, the final state
    mirrored (``finish``) and the task runner released."""

    __slots__ = ("prints", "run", "state", "task_token", "token")

    def __init__(self, run: ActiveFlowRun) -> None:
        self.run = run
        self.state: State | None = None

    def __enter__(self) -> _FlowScope:  # noqa: PYI034 - a private, final class
        self.token = flow_run_context.set(self.run.flow_ctx)
        self.task_token = task_run_context.set(None)
        self.prints = _log_prints(self.run.obj.log_prints)
        return self

    def __exit__(self, kind: object, exc: BaseException | None, _tb: object) -> None:
        run = self.run
        try:
            if exc is not None:
                run.runner.shutdown(wait=False)
                self.state = run.crashed(exc)
        finally:
            if self.prints is not None:
                printing_to_log.reset(self.prints)
            flow_run_context.reset(self.token)
            task_run_context.reset(self.task_token)
            if self.state is not None:
                run.finish(self.state)
            run.runner.shutdown(wait=False)


def _outcome(run: ActiveFlowRun, state: State, return_state: bool) -> Any:
    if return_state:
        return state
    if state.type is not COMPLETED and run.last_error is not None:
        raise run.last_error
    data = state.data
    if state.type is COMPLETED and type(data) is UnpersistedResult and not data.available:
        return run.value  # not persisted, not kept: handed to this caller only
    return state.result()


__all__ = ["run_flow", "run_flow_async", "run_task", "run_task_async", "submit_task"]
