"""One call of a task: its id, persistence decision, cache lookup, states and result.

May import: conveyor.engine (context, destination, ids, logs, recorder), conveyor.exceptions,
conveyor.futures, conveyor.metadata, conveyor.plugins, conveyor.policy, conveyor.results,
conveyor.states.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from conveyor import plugins
from conveyor.engine.context import FlowRunContext, TaskRunContext, TaskRunInfo
from conveyor.engine.destination import Destinations, ResultDestination
from conveyor.engine.ids import new_run_id
from conveyor.engine.keys import task_key
from conveyor.engine.lineage import inputs_json
from conveyor.engine.logs import configure_logging, logger
from conveyor.engine.options import fill_run_name
from conveyor.engine.reading import recorded_result, remember_written
from conveyor.engine.recorder import TYPE_TEXT, Recorder, data_json
from conveyor.engine.reuse import TASK, input_hash
from conveyor.exceptions import ConfigurationError, ConveyorError
from conveyor.futures import ATOMS, contains_futures, resolve_futures
from conveyor.metadata import RunLabels, TaskCall, get_store
from conveyor.policy import PersistenceOptions
from conveyor.results import ResultReference, UnpersistedResult
from conveyor.states import COMPLETED, RUNNING, State

if TYPE_CHECKING:
    from conveyor.metadata import MetadataStore
    from conveyor.tasks import Task


def _may_hold_futures(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    atoms = ATOMS
    for value in args:
        if type(value) not in atoms and contains_futures(value):
            return True
    if kwargs:
        for value in kwargs.values():
            if type(value) not in atoms and contains_futures(value):
                return True
    return False


class ActiveTaskRun(Recorder):
    """One call of a task going on in this process: its id, decision, states and result.

    (What the metadata store holds of it afterwards, read back, is :class:`conveyor.client.TaskRun`.)
    """

    kind = "task"
    __slots__ = (
        "_hash",
        "_hash_recorded",
        "_inputs",
        "_parameters",
        "args",
        "cache_key",
        "cached_json",
        "info",
        "kwargs",
        "map_index",
        "position",
        "remote",
        "submitted",
        "wait_for",
    )

    def __init__(
        self,
        task: Task[Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        ctx: FlowRunContext | None,
        persist_by_default: bool | None = None,
        wait_for: Iterable[Any] | None = None,
        map_index: int | None = None,
    ) -> None:
        self.obj = task
        #: the run's index in its task.map(...) call, or None
        self.map_index = map_index
        #: the run was submitted (counted in its flow run's progress lines)
        self.submitted = False
        #: the remote task runner its attempts' calls go to (engine.remote), or None
        self.remote = None
        #: futures (or states) to wait for before the run starts (``wait_for=[...]``)
        self.wait_for = tuple(wait_for) if wait_for else ()
        self.id = run_id = new_run_id()
        self.name = task.name
        self.ctx = ctx
        self.args = args
        self.kwargs = kwargs
        self.created = False
        self.run_count = 0
        self.start_time = None
        self.current = [None]
        self._destination = None
        self._parameters: dict[str, Any] | None = None
        self.cache_key: str | None = None
        self.cached_json: str | None = None
        self.last_error = None
        self.storage_failed = False
        self.value = None
        self._hash: str | None | bool = False  # False: not computed yet
        self._hash_recorded = False
        self._inputs: str | None = None
        if ctx is not None:
            self.position: int | None = ctx.next_position(TASK, task.name)
            self.writer = ctx.writer
            flow_persist, flow_name = ctx.explicit_persist
            persist_by_default = ctx.persist_by_default
            self.info = TaskRunInfo(run_id, task.name, ctx.flow_run.id)
        else:
            self.position = None
            self.writer = get_store().writer
            flow_persist, flow_name = None, None
            if persist_by_default is None:
                persist_by_default = configure_logging()
            self.info = TaskRunInfo(run_id, task.name, None)
        decisions = ctx.decisions if ctx is not None else None
        if decisions is not None:
            decision = decisions.get(task)
            if decision is not None:
                self.decision = decision
                return
        self.decision = plugins.resolve_persistence(
            PersistenceOptions(
                "task",
                task.name,
                task.persist_result,
                task.result_storage is not None,
                task.result_serializer is not None,
                task.result_storage_key is not None,
                flow_persist,
                flow_name,
                task.retries,
                task.cache_key_fn is not None,
                persist_by_default,
                task.cache_result_in_memory,
            )
        )
        if decisions is not None:
            decisions[task] = self.decision

    def _create(self, state: State) -> None:
        data = state.data
        if data is None:
            text = None
        elif self.cached_json is not None and state.name in ("Cached", "Reused"):
            text = self.cached_json  # as read from the cache index: no need to encode again
        else:
            text = data_json(data)
        call = None
        ctx = self.ctx
        if ctx is not None:
            digest = self._hash if isinstance(self._hash, str) else None
            self._hash_recorded = digest is not None
            call = TaskCall(self.position, digest, ctx.attempt)
        task = self.obj
        labels = None
        if task.task_run_name is not None or task.tags:
            labels = RunLabels(self.run_name(), task.tags)
        self.writer.create_task_run(
            self.id,
            self.name,
            self.info.flow_run_id,
            self.cache_key,
            (TYPE_TEXT[state.type], state.name, state.message, state.ts, text),
            self.start_time,
            self.run_count,
            call,
            labels,
        )
        if self._inputs is not None:
            self.writer.set_task_inputs(self.id, self._inputs)

    def label(self) -> str:
        """``'clean'[3]`` for a mapped run, ``'fetch' named 'fetch-2024-01-31'``, or ``'load'``."""
        if self.map_index is not None:
            return f"{self.name!r}[{self.map_index}]"
        name = self.run_name() if self.obj.task_run_name is not None else None
        return f"{self.name!r} named {name!r}" if name else repr(self.name)

    def _ended(self, state: State) -> None:
        if self.submitted and self.ctx is not None:
            self.ctx.progress.ended(self.name, state.type is not COMPLETED)

    def run_name(self) -> str | None:
        """``task_run_name`` filled in (None without one, or when it cannot be: logged)."""
        task = self.obj
        if task.task_run_name is None:
            return None
        try:
            return fill_run_name("task", self.name, task.task_run_name, self.parameters)
        except (ConveyorError, TypeError) as exc:
            logger.warning("task run %s: %s", self.id, exc)
            return None

    def destination(self) -> ResultDestination:
        if self._destination is None:
            task = self.obj
            ctx = self.ctx
            destinations = ctx.destinations if ctx is not None else Destinations()
            self._destination = destinations.for_task(task.name, task.result_storage, task.result_serializer)
        return self._destination

    @property
    def parameters(self) -> dict[str, Any]:
        if self._parameters is None:
            self._parameters = self.obj.bind(self.args, self.kwargs)
        return self._parameters

    def input_hash(self) -> str | None:
        """The hash of this call's inputs (None: they cannot be hashed), computed once."""
        if self._hash is False:
            try:
                parameters = self.parameters
            except TypeError:
                self._hash = None
            else:
                self._hash = input_hash(self.obj.fn, self.name, parameters)
        return self._hash  # type: ignore[return-value]

    def context(self) -> TaskRunContext:
        return TaskRunContext(self.obj, self.info, self.ctx, self._parameters)

    def storage_key(self, what: str = "", serializer: Any = None) -> str | None:
        """The task's ``result_storage_key`` filled in, else the default layout
        (:mod:`conveyor.engine.keys`); an exception never goes to the user's key."""
        template = self.obj.result_storage_key
        flow_run = self.ctx.flow_run if self.ctx is not None else None
        if template is None or what:
            return task_key(
                flow_run.flow_name if flow_run is not None else None,
                flow_run.id if flow_run is not None else None,
                self.name, self.id, serializer or self.destination().serializer, what,
            )
        try:
            return str(template.format(parameters=self.parameters, flow_run=flow_run, task_run=self.info))
        except (KeyError, AttributeError, IndexError, ValueError) as exc:
            raise ConfigurationError(
                f"result_storage_key {template!r} of task {self.name!r} cannot be filled: "
                f"{type(exc).__name__}: {exc}; it may use {{parameters[<name>]}} with the task's "
                f"parameters ({', '.join(self.parameters) or 'none'}), {{task_run.id}}, "
                f"{{task_run.task_name}}, {{flow_run.id}} and {{flow_run.flow_name}}"
            ) from exc

    # Before the first attempt ----------------------------------------------------------

    def prepare(self) -> State | None:
        """Record the inputs' lineage, resolve upstream futures and look up the cache; a final
        state ends the run here."""
        ctx = self.ctx
        if ctx is not None:
            self._inputs = inputs_json(ctx.lineage, self.obj.fn, self.args, self.kwargs)
            if self._inputs is not None and self.created:  # else recorded with the run's row
                self.writer.set_task_inputs(self.id, self._inputs)
        if self.wait_for:
            try:
                resolve_futures(list(self.wait_for))
            except Exception as exc:  # noqa: BLE001
                return self.failed(exc, "Failed", f"an upstream run it waits for failed: {type(exc).__name__}: {exc}")
        args, kwargs = self.args, self.kwargs
        if _may_hold_futures(args, kwargs):
            try:
                self.args = resolve_futures(args)
                self.kwargs = resolve_futures(kwargs)
            except Exception as exc:  # noqa: BLE001
                return self.failed(exc, "Failed", f"an upstream run failed: {type(exc).__name__}: {exc}")
        task = self.obj
        if task.result_storage is not None or task.result_serializer is not None:
            try:  # a mistake in the task's own options ends the run before its body starts
                destinations = self.ctx.destinations if self.ctx is not None else Destinations()
                destinations.check("task", self.name, task.result_storage, task.result_serializer)
                self._destination = destinations.for_task(self.name, task.result_storage, task.result_serializer)
            except ConveyorError as exc:
                self.storage_failed = True  # nowhere to write its exception either
                return self.failed(exc)
        if ctx is not None and ctx.reuse is not None and ctx.reuse.has_calls(TASK, self.name, self.position):
            state = self._reused()
            if state is not None:
                return state
        if task.cache_key_fn is None:
            return None
        try:
            self._parameters = self.parameters
            try:
                key = task.cache_key_fn(self.context(), self._parameters)
            except Exception as exc:
                fn = task.cache_key_fn
                name = getattr(fn, "__qualname__", repr(fn))
                raise ConfigurationError(
                    f"cache_key_fn {name} of task {self.name!r} raised {type(exc).__name__}: {exc}; "
                    f"it is called as cache_key_fn(context, parameters) and must return a str "
                    f"(or None for no caching)"
                ) from exc
            self.cache_key = key
            if key is None:
                return None
            if not isinstance(key, str):
                raise ConfigurationError(
                    f"cache_key_fn of task {self.name!r} returned {type(key).__name__} {key!r:.80}; "
                    f"it must return a string (or None for no caching)"
                )
            if not self.decision.persist:
                if self.decision.disabled_by:
                    raise ConfigurationError(
                        f"task {self.name!r} has a cache_key_fn, but {self.decision.disabled_by} "
                        f"switched result persistence off and a cache needs the persisted value; "
                        f"remove persist_result=False (or set persist_result=True on the task), "
                        f"or remove cache_key_fn"
                    )
                return None
        except Exception as exc:  # noqa: BLE001
            return self.failed(exc)
        if task.refresh_cache:
            return None
        return self._cache_hit(key)

    def _reused(self) -> State | None:
        """The Reused state, when an earlier attempt's counterpart completed (see engine.reuse)."""
        ctx = self.ctx
        assert ctx is not None and ctx.reuse is not None and self.position is not None
        counterpart = ctx.reuse.find(TASK, self.name, self.position, self.input_hash())
        if counterpart is None:
            return None
        try:
            data = recorded_result(counterpart.data, ctx, self.obj.cache_result_in_memory)
        except (ConveyorError, OSError) as exc:
            logger.warning(
                "the result of %s cannot be reused for task %r, running it again: %s",
                counterpart.describe(), self.name, exc,
            )
            return None
        self.cached_json = counterpart.data
        return self.record(State(COMPLETED, "Reused", f"reused the result of {counterpart.describe()}", data))

    def _cache_hit(self, key: str) -> State | None:
        ctx = self.ctx
        now = time.time()
        entry = ctx.cache_entries.get(key) if ctx is not None else None
        if entry is None or (entry[1] is not None and entry[1] <= now):
            store: MetadataStore = self.writer.store
            entry = store.cache_entry(key, now)
            if entry is None:
                return None
            if ctx is not None:
                ctx.cache_entries[key] = entry
        found = entry[0]
        try:
            data = recorded_result(found, ctx, self.obj.cache_result_in_memory)
        except (ConveyorError, OSError) as exc:
            logger.warning(
                "cache entry %r of task %r is unusable, running the task again: %s", key, self.name, exc
            )
            if ctx is not None:
                ctx.cache_entries.pop(key, None)
            return None
        self.cached_json = found
        return self.record(State(COMPLETED, "Cached", f"cache hit for key {key!r}", data))

    def _after_completed(self, state: State) -> None:
        key = self.cache_key
        data = state.data
        if key is not None and type(data) is not UnpersistedResult:
            expiration = self.obj.cache_expiration
            expires = state.ts + expiration.total_seconds() if expiration is not None else None
            text = data_json(data)
            self.writer.put_cache(key, self.id, text, state.ts, expires)
            if self.ctx is not None:  # this flow run hits what it wrote
                self.ctx.cache_entries[key] = (text, expires)
        ctx = self.ctx
        if ctx is not None and type(data) is ResultReference and state.name == "Completed" and (
            self.obj.cache_result_in_memory and self.value is not None
        ):
            remember_written(data, self.destination().storage, self.value, ctx)
        if self.ctx is not None and not self._hash_recorded and self.decision.persist and (
            type(data) is not UnpersistedResult
        ):
            digest = self.input_hash()  # recorded so a retry or a resumed run can reuse it
            if digest is not None:
                self._hash_recorded = True
                if self.created:
                    self.writer.set_input_hash(self.id, digest)

    def run_state(self) -> State:
        return self.record(State(RUNNING, "Running" if self.run_count == 0 else "Retrying"))


__all__ = ["ActiveTaskRun"]
