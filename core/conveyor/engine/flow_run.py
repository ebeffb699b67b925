"""One call of a flow: its id, persistence decision, task runner and states; subflows.

A subflow called from a flow's body is recorded in the parent as a task run (the
placeholder) that mirrors the subflow run's states; called from inside a task, the task
run is its parent.

May import: conveyor.engine (context, destination, ids, logs, recorder), conveyor.metadata,
conveyor.plugins, conveyor.policy, conveyor.states, conveyor.task_runners.
"""

from __future__ import annotations

import contextvars
import threading
from typing import TYPE_CHECKING, Any

from conveyor import plugins
from conveyor.engine.context import FlowRunContext, FlowRunInfo, flow_run_context, task_run_context
from conveyor.engine.destination import Destinations, ResultDestination
from conveyor.engine.ids import new_run_id
from conveyor.engine.logs import configure_logging
from conveyor.engine.recorder import TYPE_TEXT, Recorder
from conveyor.metadata import get_store
from conveyor.policy import PersistenceOptions
from conveyor.states import RUNNING, State
from conveyor.task_runners import resolve_task_runner

if TYPE_CHECKING:
    from conveyor.flows import Flow

#: What a flow's attempt returns when it ran out of ``timeout_seconds``.
TIMED_OUT: Any = object()


class SubflowPlaceholder(Recorder):
    """The task run that stands for a subflow call inside its parent flow run."""

    kind = "task"
    __slots__ = ()

    def __init__(self, flow: Flow[Any], parent: FlowRunContext) -> None:
        self.obj = flow
        self.id = new_run_id()
        self.name = flow.name
        self.ctx = parent
        self.writer = parent.writer
        self.created = False
        self.run_count = 0
        self.start_time = None
        self.current = [None]
        self._destination = None
        self.last_error = None

    def _create(self, state: State) -> None:
        self.writer.create_task_run(
            self.id, self.name, self.ctx.flow_run.id if self.ctx else None, None,
            (TYPE_TEXT[state.type], state.name, state.message, state.ts, state.data_json()),
            self.start_time, self.run_count,
        )

    def mirror(self, state: State) -> None:
        copy = State(state.type, state.name, state.message, state.data, ts=state.ts)
        self.record(copy)


class ActiveFlowRun(Recorder):
    """One call of a flow going on in this process (read back: :class:`conveyor.client.FlowRun`)."""

    kind = "flow"
    __slots__ = ("flow_ctx", "info", "parent", "placeholder", "runner")

    def __init__(self, flow: Flow[Any]) -> None:
        parent = flow_run_context.get()
        self.parent = parent
        self.obj = flow
        self.id = new_run_id()
        self.name = flow.name
        self.created = False
        self.run_count = 0
        self.start_time = None
        self.current = [None]
        self._destination = None
        self.placeholder: SubflowPlaceholder | None = None
        self.last_error = None
        if parent is None:
            store = get_store()
            persist_by_default = configure_logging()
            flow_persist, flow_name = None, None
            parent_task_run_id = None
            parent_flow_run_id = None
        else:
            store = parent.store
            persist_by_default = parent.persist_by_default
            flow_persist, flow_name = parent.explicit_persist
            parent_flow_run_id = parent.flow_run.id
            task_ctx = task_run_context.get()
            if task_ctx is not None and task_ctx.flow_run_context is parent:
                parent_task_run_id = task_ctx.task_run.id
            else:
                self.placeholder = SubflowPlaceholder(flow, parent)
                parent_task_run_id = self.placeholder.id
        self.writer = store.writer
        self.info = FlowRunInfo(self.id, flow.name, parent_flow_run_id, parent_task_run_id)
        self.runner = resolve_task_runner(flow.task_runner)
        self.ctx = parent  # the enclosing flow, for inherited storage
        destinations = Destinations(flow, parent.destinations if parent is not None else None)
        self.flow_ctx = FlowRunContext(
            flow, self.info, store, self.runner, parent, persist_by_default, destinations
        )
        self.decision = plugins.resolve_persistence(
            PersistenceOptions(
                "flow",
                flow.name,
                flow.persist_result,
                flow.result_storage is not None,
                flow.result_serializer is not None,
                False,
                flow_persist,
                flow_name,
                flow.retries,
                False,
                persist_by_default,
            )
        )

    def destination(self) -> ResultDestination:
        if self._destination is None:
            self._destination = self.flow_ctx.destinations.for_flow()
        return self._destination

    def attempt_returned(self, value: Any) -> State:
        if value is TIMED_OUT:
            return self.timed_out(self.obj.timeout_seconds)
        return self.completed(value)

    def _create(self, state: State) -> None:
        self.writer.create_flow_run(
            self.id, self.name, self.info.parent_task_run_id, self.info.parent_flow_run_id,
            (TYPE_TEXT[state.type], state.name, state.message, state.ts, state.data_json()),
            self.start_time, self.run_count,
        )

    def run_state(self) -> State:
        if self.placeholder is not None and self.run_count == 0:
            self.placeholder.record(State(RUNNING, message=f"subflow run {self.id}"))
        return self.record(State(RUNNING, "Running" if self.run_count == 0 else "Retrying"))

    def timed_out(self, timeout: float) -> State:
        error = TimeoutError(
            f"flow {self.name!r} run {self.id} exceeded timeout_seconds={timeout:g}; raise the "
            f"timeout or make the flow faster"
        )
        return self.failed(error, "TimedOut", str(error))

    def finish(self, state: State) -> None:
        """Wait for submitted task runs, then mirror the final state on the placeholder."""
        if self.placeholder is not None:
            self.placeholder.mirror(state)
        if self.parent is None:
            self.writer.flush()


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


__all__ = ["TIMED_OUT", "ActiveFlowRun", "SubflowPlaceholder", "call_with_timeout"]
