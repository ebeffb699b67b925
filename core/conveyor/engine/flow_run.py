"""One call of a flow: its id, persistence decision, task runner and states; subflows.

A subflow called from a flow's body is recorded in the parent as a task run (the
placeholder) that mirrors the subflow run's states; called from inside a task, the task
run is its parent.

May import: conveyor.engine (context, destination, ids, logs, recorder), conveyor.metadata,
conveyor.plugins, conveyor.policy, conveyor.states, conveyor.task_runners.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor import plugins
from conveyor.engine.context import FlowRunContext, FlowRunInfo, flow_run_context, task_run_context
from conveyor.engine.destination import Destinations, ResultDestination
from conveyor.engine.ids import new_run_id
from conveyor.engine.keys import flow_key
from conveyor.engine.lineage import Lineage
from conveyor.engine.logs import configure_logging, logger
from conveyor.engine.options import fill_run_name
from conveyor.engine.origin import (
    NO_PARAMETERS,
    bind_parameters,
    flow_ref,
    keep_parameters,
    this_process,
)
from conveyor.engine.progress import Progress
from conveyor.engine.reading import load_reference
from conveyor.engine.recorder import TYPE_TEXT, Recorder
from conveyor.engine.reuse import SUBFLOW, Counterpart, ReuseIndex, input_hash, resume_chain
from conveyor.engine.timeouts import timed_out_error
from conveyor.exceptions import ConveyorError
from conveyor.metadata import FlowRunOrigin, RunLabels, TaskCall, get_store
from conveyor.policy import PersistenceOptions
from conveyor.results import ResultReference, UnpersistedResult, result_from_json
from conveyor.states import CANCELLED, COMPLETED, FAILED, RUNNING, State
from conveyor.task_runners import resolve_task_runner

if TYPE_CHECKING:
    from conveyor.flows import Flow

#: What a flow's attempt returns when it ran out of ``timeout_seconds``.
TIMED_OUT: Any = object()


class SubflowPlaceholder(Recorder):
    """The task run that stands for a subflow call inside its parent flow run."""

    kind = "task"
    __slots__ = ("input_hash", "position")

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
        self.storage_failed = False
        self.value = None
        #: which call of this subflow it is in the parent's attempt, and its inputs' hash
        self.position = parent.next_position(SUBFLOW, flow.name)
        self.input_hash: str | None = None

    def _create(self, state: State) -> None:
        ctx = self.ctx
        assert ctx is not None
        self.writer.create_task_run(
            self.id, self.name, ctx.flow_run.id, None,
            (TYPE_TEXT[state.type], state.name, state.message, state.ts, state.data_json()),
            self.start_time, self.run_count, TaskCall(self.position, self.input_hash, ctx.attempt),
        )

    def mirror(self, state: State) -> None:
        copy = State(state.type, state.name, state.message, state.data, ts=state.ts)
        self.record(copy)


class ActiveFlowRun(Recorder):
    """One call of a flow going on in this process (read back: :class:`conveyor.client.FlowRun`)."""

    kind = "flow"
    __slots__ = (
        "counterpart",
        "flow_ctx",
        "info",
        "origin",
        "parameters",
        "parameters_written",
        "parent",
        "placeholder",
        "reuse_sources",
        "runner",
    )

    def __init__(
        self,
        flow: Flow[Any],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        resumed_from: str | None = None,
        kept_parameters: str | None = None,
    ) -> None:
        parent = flow_run_context.get()
        self.parent = parent
        self.obj = flow
        #: the call's arguments by name (a call that does not fit the signature fails here)
        self.parameters = bind_parameters(flow, args, kwargs or {})
        self.id = new_run_id()
        self.name = flow.name
        self.created = False
        self.run_count = 0
        self.start_time = None
        self.current = [None]
        self._destination = None
        self.placeholder: SubflowPlaceholder | None = None
        self.last_error = None
        self.storage_failed = False
        self.value = None
        self.origin: FlowRunOrigin | None = None
        #: this run wrote its parameters (a write intent to clear once its row is recorded)
        self.parameters_written = False
        #: earlier flow runs whose task results this run may reuse (see engine.reuse)
        self.reuse_sources: list[str] = []
        #: a subflow call's counterpart that completed in an earlier attempt of the parent
        self.counterpart: Counterpart | None = None
        if parent is None:
            store = get_store()
            persist_by_default = configure_logging()
            flow_persist, flow_name = None, None
            parent_task_run_id = None
            parent_flow_run_id = None
            host, pid, started = this_process()
            # a resumed run with the old run's parameters unchanged records the same reference
            self.origin = FlowRunOrigin(flow_ref(flow.fn), kept_parameters, resumed_from, host, pid, started)
            if resumed_from is not None:
                self.reuse_sources = resume_chain(store, resumed_from)
        else:
            store = parent.store
            persist_by_default = parent.persist_by_default
            flow_persist, flow_name = parent.explicit_persist
            parent_flow_run_id = parent.flow_run.id
            task_ctx = task_run_context.get()
            if task_ctx is not None and task_ctx.flow_run_context is parent:
                parent_task_run_id = task_ctx.task_run.id
            else:
                self.placeholder = placeholder = SubflowPlaceholder(flow, parent)
                parent_task_run_id = placeholder.id
                reuse = parent.reuse
                if reuse is not None and reuse.has_calls(SUBFLOW, flow.name, placeholder.position):
                    placeholder.input_hash = input_hash(flow.fn, flow.name, self.parameters)
                    self.counterpart = reuse.find(
                        SUBFLOW, flow.name, placeholder.position, placeholder.input_hash
                    )
                    self.reuse_sources = reuse.earlier_subflow_runs(flow.name, placeholder.position)
        self.writer = store.writer
        self.info = FlowRunInfo(self.id, flow.name, parent_flow_run_id, parent_task_run_id)
        self.runner = resolve_task_runner(flow.task_runner)
        self.ctx = parent  # the enclosing flow, for inherited storage
        destinations = Destinations(flow, parent.destinations if parent is not None else None)
        self.flow_ctx = FlowRunContext(
            flow, self.info, store, self.runner, parent, persist_by_default, destinations
        )
        self.flow_ctx.progress = Progress(flow.name)
        if self.flow_ctx.lineage is None:  # a top-level flow run (a subflow shares its parent's)
            self.flow_ctx.lineage = Lineage()
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
                flow.cache_result_in_memory,
            )
        )

    def destination(self) -> ResultDestination:
        if self._destination is None:
            self._destination = self.flow_ctx.destinations.for_flow()
        return self._destination

    def storage_key(self, what: str = "", serializer: Any = None) -> str | None:
        return flow_key(self.name, self.id, serializer or self.destination().serializer, what or "result")

    def attempt_returned(self, value: Any) -> State:
        if value is TIMED_OUT:
            return self.timed_out(self.obj.timeout_seconds)
        if isinstance(value, State):
            return self.returned_state(value)
        return self.completed(value)

    def returned_state(self, returned: State) -> State:
        """The flow returned a State (``Completed(message=...)``, ``Failed(...)``,
        ``Cancelled()``): the run ends in it, with its type, name and message."""
        data = returned.data
        if returned.type is COMPLETED:
            value = data.get() if data is not None else None
            return self.completed(value, returned.name, returned.message)
        if data is not None and returned.type in (FAILED, CANCELLED):
            value = data.get()
            error = value if isinstance(value, BaseException) else None
        else:
            error = None
        if error is None:
            error = RuntimeError(f"flow {self.name!r} returned a {returned.name} state"
                                 + (f": {returned.message}" if returned.message else ""))
        if returned.type is FAILED:
            return self.failed(error, returned.name, returned.message)
        state = State(returned.type, returned.name, returned.message, UnpersistedResult(error))
        self.last_error = error
        return self.record(state)

    # Before the first attempt ----------------------------------------------------------

    def prepare(self) -> State | None:
        """Resolve the flow's options and keep its parameters; a final state ends the run here.

        An unknown serializer or block slug is a Failed run before the flow's body starts.
        A subflow whose counterpart completed in an earlier attempt is Reused whole.
        """
        flow = self.obj
        keeps = (self.origin is not None and self.origin.parameters is None and bool(self.parameters)
                 and not self.decision.disabled_by)
        try:
            destinations = self.flow_ctx.destinations
            destinations.check("flow", flow.name, flow.result_storage, flow.result_serializer)
            if keeps:
                self.destination()  # the parameters are written before the body runs
            else:  # built when a result is first written: a run that writes none never imports them
                destinations.check_defaults()
        except ConveyorError as exc:
            self.storage_failed = True  # nothing was resolved: no exception written anywhere
            return self.failed(exc)
        if self.counterpart is not None:
            state = self._reused(self.counterpart)
            if state is not None:
                return state
        if self.origin is not None and self.origin.parameters is None:
            parameters = None
            if keeps:
                parameters = keep_parameters(
                    flow, self.parameters, self.destination(), self.storage_key("parameters"), self.id
                )
            elif not self.decision.disabled_by:  # persist_result=False: nothing is written
                parameters = NO_PARAMETERS
            self.origin = self.origin._replace(parameters=parameters)
            self.parameters_written = parameters not in (None, NO_PARAMETERS)
        if self.reuse_sources:
            self.flow_ctx.reuse = ReuseIndex.load(self.flow_ctx.store, self.reuse_sources)
        return None

    def _reused(self, counterpart: Counterpart) -> State | None:
        placeholder = self.placeholder
        assert placeholder is not None
        try:
            data = result_from_json(counterpart.data)
            if type(data) is ResultReference:
                load_reference(data, self.parent, memo=self.obj.cache_result_in_memory)
        except (ConveyorError, OSError) as exc:
            logger.warning(
                "the result of subflow %r from %s cannot be reused, running it again: %s",
                self.name, counterpart.describe(), exc,
            )
            return None
        state = State(COMPLETED, "Reused", f"reused the result of {counterpart.describe()}", data)
        return placeholder.record(state)

    # Recording ---------------------------------------------------------------------------

    def _create(self, state: State) -> None:
        flow = self.obj
        labels = None
        if flow.flow_run_name is not None or flow.tags:
            try:
                name = fill_run_name("flow", self.name, flow.flow_run_name, self.parameters)
            except (ConveyorError, TypeError) as exc:
                logger.warning("flow run %s: %s", self.id, exc)
                name = None
            labels = RunLabels(name, flow.tags)
        self.writer.create_flow_run(
            self.id, self.name, self.info.parent_task_run_id, self.info.parent_flow_run_id,
            (TYPE_TEXT[state.type], state.name, state.message, state.ts, state.data_json()),
            self.start_time, self.run_count, self.origin, labels,
        )

    def run_state(self) -> State:
        if self.placeholder is not None and self.run_count == 0:
            self.placeholder.record(State(RUNNING, message=f"subflow run {self.id}"))
        state = self.record(State(RUNNING, "Running" if self.run_count == 0 else "Retrying"))
        ctx = self.flow_ctx
        ctx.new_attempt(self.run_count)
        if self.run_count == 1 and self.parent is None:
            if self.parameters_written:  # their reference is recorded with the run: no intent left
                self.destination().written(self.storage_key("parameters"))
            self.writer.flush()  # a top-level run is in the database from its start
        elif self.run_count > 1:
            # a retry: what the earlier attempts (and the runs this one resumes) completed
            ctx.reuse = ReuseIndex.load(ctx.store, [self.id, *self.reuse_sources])
        return state

    def timed_out(self, timeout: float) -> State:
        error = timed_out_error("flow", self.name, self.id, timeout)
        return self.failed(error, "TimedOut", str(error))

    def finish(self, state: State) -> None:
        """Mirror the final state on the placeholder; a top-level run's rows are committed."""
        placeholder = self.placeholder
        if placeholder is not None and placeholder.created:
            placeholder.mirror(state)
            if placeholder.input_hash is None and self.decision.persist and state.type is COMPLETED:
                # recorded so that a retry of the parent (or a resumed run) can reuse it
                placeholder.input_hash = input_hash(self.obj.fn, self.name, self.parameters)
                if placeholder.input_hash is not None:
                    self.writer.set_input_hash(placeholder.id, placeholder.input_hash)
        if self.parent is None:
            self.writer.flush()


__all__ = ["TIMED_OUT", "ActiveFlowRun", "SubflowPlaceholder"]
