"""The run context: which flow run and task run the current code is part of.

Kept in context variables, so threads of the task runner and async tasks see the run
that submitted them. :func:`get_run_context` is what a ``cache_key_fn`` receives.

May import: nothing of conveyor at run time (type hints only).
"""

from __future__ import annotations

import contextvars
import itertools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conveyor.engine.destination import Destinations
    from conveyor.engine.reuse import ReuseIndex
    from conveyor.flows import Flow
    from conveyor.futures import ConveyorFuture
    from conveyor.metadata import MetadataStore, MetadataWriter
    from conveyor.task_runners import TaskRunner
    from conveyor.tasks import Task


class FlowRunInfo:
    """What a ``result_storage_key`` template and a ``cache_key_fn`` see of a flow run."""

    __slots__ = ("flow_name", "id", "parent_flow_run_id", "parent_task_run_id")

    def __init__(
        self,
        id: str,
        flow_name: str,
        parent_flow_run_id: str | None = None,
        parent_task_run_id: str | None = None,
    ) -> None:
        self.id = id
        self.flow_name = flow_name
        self.parent_flow_run_id = parent_flow_run_id
        self.parent_task_run_id = parent_task_run_id

    @property
    def name(self) -> str:
        return self.flow_name

    def __repr__(self) -> str:
        return f"FlowRunInfo(id={self.id!r}, flow_name={self.flow_name!r})"


class TaskRunInfo:
    """What a ``result_storage_key`` template and a ``cache_key_fn`` see of a task run."""

    __slots__ = ("flow_run_id", "id", "task_name")

    def __init__(self, id: str, task_name: str, flow_run_id: str | None) -> None:
        self.id = id
        self.task_name = task_name
        self.flow_run_id = flow_run_id

    @property
    def name(self) -> str:
        return self.task_name

    def __repr__(self) -> str:
        return f"TaskRunInfo(id={self.id!r}, task_name={self.task_name!r})"


class FlowRunContext:
    """One running flow run, as its tasks and subflows see it."""

    def __init__(
        self,
        flow: Flow[Any],
        flow_run: FlowRunInfo,
        store: MetadataStore,
        runner: TaskRunner,
        parent: FlowRunContext | None,
        persist_by_default: bool,
        destinations: Destinations,
    ) -> None:
        self.flow = flow
        self.flow_run = flow_run
        self.store = store
        self.writer: MetadataWriter = store.writer
        self.runner = runner
        self.parent = parent
        self.persist_by_default = persist_by_default
        # The nearest flow (this one or an ancestor) with an explicit persist_result.
        if flow.persist_result is not None:
            self.explicit_persist: tuple[bool | None, str | None] = (flow.persist_result, flow.name)
        elif parent is not None:
            self.explicit_persist = parent.explicit_persist
        else:
            self.explicit_persist = (None, None)
        self.futures: list[ConveyorFuture] = []
        #: persistence decisions of this flow run's tasks: the options of a task object
        #: do not change during a flow run, so the hook is asked once per task per flow run
        self.decisions: dict[Any, Any] = {}
        #: storage blocks and serializers of cached references read in this flow run, the
        #: values read and verified, and result records parsed (engine.reading)
        self.references: dict[Any, Any] = {}
        #: cache entries this flow run hit or wrote: key -> (result JSON, expiry or None);
        #: a key hit again is not looked up again until its entry expires
        self.cache_entries: dict[str, tuple[str, float | None]] = {}
        #: where this flow run's results (and its tasks') go: resolved once per flow run
        self.destinations = destinations
        #: the flow run's current attempt (from 1), and the calls made in it so far per
        #: task (and subflow) name: a call's position is what an earlier attempt's (or a
        #: resumed run's) counterpart is found by
        self.attempt = 0
        self._positions: dict[tuple[str, str], itertools.count[int]] = {}
        #: results earlier attempts of this flow run (or the runs it resumes) may hand on
        self.reuse: ReuseIndex | None = None
        #: counts of submitted task runs, for progress lines (set by the engine)
        self.progress: Any = None
        #: values task calls returned, for input lineage (shared with subflows; set by the engine)
        self.lineage: Any = parent.lineage if parent is not None else None

    def new_attempt(self, attempt: int) -> None:
        """Start attempt ``attempt``: positions count from 0 again."""
        self.attempt = attempt
        self._positions = {}

    def next_position(self, kind: str, name: str) -> int:
        """The position of a new call of ``name`` (a task, or with kind "flow" a subflow).

        Safe from any thread without a lock: ``setdefault`` and ``next`` of an
        ``itertools.count`` are each one atomic step.
        """
        counter = self._positions.get((kind, name))
        if counter is None:
            counter = self._positions.setdefault((kind, name), itertools.count())
        return next(counter)


class TaskRunContext:
    """One running task run: what ``cache_key_fn(context, parameters)`` receives."""

    __slots__ = ("flow_run_context", "parameters", "task", "task_run")

    def __init__(
        self,
        task: Task[Any],
        task_run: TaskRunInfo,
        flow_run_context: FlowRunContext | None,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        self.task = task
        self.task_run = task_run
        self.flow_run_context = flow_run_context
        self.parameters = parameters

    @property
    def flow_run(self) -> FlowRunInfo | None:
        ctx = self.flow_run_context
        return ctx.flow_run if ctx is not None else None


flow_run_context: contextvars.ContextVar[FlowRunContext | None] = contextvars.ContextVar(
    "conveyor_flow_run", default=None
)
task_run_context: contextvars.ContextVar[TaskRunContext | None] = contextvars.ContextVar(
    "conveyor_task_run", default=None
)


def get_run_context() -> TaskRunContext | FlowRunContext | None:
    """The innermost run: the current task run, else the current flow run, else None."""
    return task_run_context.get() or flow_run_context.get()


__all__ = [
    "FlowRunContext",
    "FlowRunInfo",
    "TaskRunContext",
    "TaskRunInfo",
    "flow_run_context",
    "get_run_context",
    "task_run_context",
]
