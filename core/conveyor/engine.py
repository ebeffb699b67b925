"""The engine: runs task runs and flow runs, records their states, persists results.

The data path of one task call, in order:

1. a run id; futures among the arguments resolved (a failed upstream run fails this one);
2. the persistence decision (:func:`conveyor.plugins.resolve_persistence`);
3. with a ``cache_key_fn``: the key, then a lookup in the store's cache index;
4. Running, the function, then Completed with its result (a literal, a reference to the
   persisted value, or the value in memory only), or Failed with the exception
   (persisted like a value when the policy persists), or a retry;
5. each state change is queued to the store's writer (one small row each, committed in
   batches; see :class:`conveyor.store.RunWriter`), and logged as one line.

Flow runs follow the same steps (without caching) around the flow's function, and own
a task runner for submitted tasks.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from conveyor import plugins
from conveyor.context import (
    FlowRunContext,
    FlowRunInfo,
    TaskRunContext,
    TaskRunInfo,
    flow_run_context,
    task_run_context,
)
from conveyor.exceptions import ConfigurationError, ConveyorError, SerializationError
from conveyor.futures import _ATOMS, ConveyorFuture, contains_futures, resolve_futures
from conveyor.policy import PersistenceDecision, PersistenceOptions
from conveyor.results import (
    ResultLiteral,
    ResultReference,
    UnpersistedResult,
    persist_value,
    result_from_json,
)
from conveyor.states import (
    CANCELLED,
    COMPLETED,
    CRASHED,
    FAILED,
    PENDING,
    RUNNING,
    State,
)
from conveyor.store import get_store

if TYPE_CHECKING:
    from conveyor.filesystems import StorageBlock
    from conveyor.flows import Flow
    from conveyor.serializers import Serializer
    from conveyor.store import RunWriter, Store
    from conveyor.tasks import Task

logger = logging.getLogger("conveyor")
_INFO = logging.INFO
_ERROR = logging.ERROR
_log_enabled = logger.isEnabledFor

_UNPERSISTED_JSON = UnpersistedResult.missing().json()
_LITERALS = {v: ResultLiteral(v) for v in (True, False, None)}
_LITERAL_JSON = {v: r.json() for v, r in _LITERALS.items()}


class _RunIds:
    """Run ids shaped like UUIDs: 80 random bits per process, then a counter.

    ``str(uuid.uuid4())`` costs a system call per run; this costs a counter step. The
    random part is drawn again after a fork, so processes never share ids.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        import itertools

        prefix = uuid.uuid4().hex[:20]
        self._head = f"{prefix[:8]}-{prefix[8:12]}-{prefix[12:16]}-{prefix[16:20]}-"
        self._count = itertools.count(int.from_bytes(os.urandom(3), "big") << 24)

    def next(self) -> str:
        return f"{self._head}{next(self._count) & 0xFFFFFFFFFFFF:012x}"


_ids = _RunIds()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_ids.reset)
new_run_id = _ids.next


# -- logging --------------------------------------------------------------------------

_handler_added = False


def configure_logging() -> bool:
    """Apply ``CONVEYOR_LOGGING_LEVEL``; add a stderr handler when nothing else shows logs.

    Returns the setting ``CONVEYOR_RESULTS_PERSIST_BY_DEFAULT`` read at the same time, so a
    top-level run reads the environment once.
    """
    global _handler_added
    from conveyor.settings import get_settings

    settings = get_settings()
    logger.setLevel(settings.logging_level)
    if not _handler_added and not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s | %(levelname)-7s | %(message)s"))
        logger.addHandler(handler)
        _handler_added = True
    return settings.persist_by_default


def _log_state(kind: str, name: str, run_id: str, state: State, where: str | None = None) -> None:
    level = logging.ERROR if state.type in (FAILED, CRASHED) else _INFO
    if not logger.isEnabledFor(level):
        return
    line = f"{kind} run {name!r} ({run_id}): {state.name}"
    if state.message:
        line += f": {state.message}"
    if where:
        line += f"; written to {where}"
    logger.log(level, line)


# -- persistence ----------------------------------------------------------------------


def resolve_storage_option(value: Any) -> tuple[StorageBlock, str | None]:
    """A ``result_storage`` option as (block, slug); the slug is None for an instance."""
    from conveyor.filesystems import resolve_storage

    block = resolve_storage(value)
    return block, value if isinstance(value, str) else None


def _storage_and_serializer(
    obj: Task[Any, Any] | Flow[Any, Any], ctx: FlowRunContext | None
) -> tuple[StorageBlock, str | None, Serializer]:
    """The run's own storage and serializer, else the enclosing flow's, else the defaults."""
    from conveyor.filesystems import default_storage
    from conveyor.serializers import default_serializer, resolve_serializer

    own_storage = obj.result_storage
    if own_storage is not None:
        storage, slug = ctx.resolve_storage(own_storage) if ctx else resolve_storage_option(own_storage)
    elif ctx is not None:
        storage, slug = ctx.storage()
    else:
        storage, slug = default_storage(), None
    own_serializer = obj.result_serializer
    if own_serializer is not None:
        serializer = ctx.resolve_serializer(own_serializer) if ctx else resolve_serializer(own_serializer)
    elif ctx is not None:
        serializer = ctx.serializer()
    else:
        serializer = default_serializer()
    return storage, slug, serializer


class _Recorder:
    """What task runs and flow runs share: states, persistence, logging."""

    kind = "task"
    __slots__ = (
        "_storage",
        "created",
        "ctx",
        "current",
        "decision",
        "id",
        "last_error",
        "name",
        "obj",
        "run_count",
        "start_time",
        "writer",
    )

    obj: Any
    id: str
    name: str
    ctx: FlowRunContext | None
    writer: RunWriter
    decision: PersistenceDecision
    created: bool
    run_count: int
    start_time: float | None
    current: list[State | None]
    _storage: tuple[StorageBlock, str | None, Serializer] | None
    last_error: BaseException | None

    # Recording -----------------------------------------------------------------------

    def _create(self, state: State) -> None:
        raise NotImplementedError

    def record(self, state: State, where: str | None = None) -> State:
        state.run_id = run_id = self.id
        stype = state.type
        if stype is RUNNING:
            self.run_count += 1
            if self.start_time is None:
                self.start_time = state.ts
        if not self.created:
            self.created = True
            self._create(state)
        else:
            data = state.data
            self.writer.set_state(
                self.kind,
                run_id,
                (_TYPE_TEXT[stype], state.name, state.message, state.ts,
                 None if data is None else _data_json(data)),
                self.start_time,
                state.ts if stype in _FINAL else None,
                self.run_count,
            )
        self.current[0] = state
        if _log_enabled(_ERROR if stype is FAILED or stype is CRASHED else _INFO):
            _log_state(self.kind, self.name, run_id, state, where)
        return state

    # Persistence ---------------------------------------------------------------------

    def storage(self) -> tuple[StorageBlock, str | None, Serializer]:
        if self._storage is None:
            self._storage = _storage_and_serializer(self.obj, self.ctx)
        return self._storage

    def storage_key(self) -> str | None:
        return None

    def result_for(self, value: Any) -> tuple[Any, str | None]:
        """(result, where it was persisted) for a successful run's value."""
        if value is None or value is True or value is False:
            return _LITERALS[value], None
        if not self.decision.persist:
            return UnpersistedResult(value), None
        storage, slug, serializer = self.storage()
        key = self.storage_key()
        reference = persist_value(value, storage=storage, serializer=serializer, key=key, storage_slug=slug)
        return reference, storage.describe(reference.key)

    def exception_result(self, exc: BaseException) -> tuple[Any, str | None]:
        """(result, where) for a failed run's exception: persisted when the policy persists.

        Never at the user's ``result_storage_key`` (a random key); with pickle when the
        configured serializer cannot encode the exception.
        """
        if not self.decision.persist:
            return UnpersistedResult(exc), None
        try:
            storage, slug, serializer = self.storage()
        except Exception as error:  # noqa: BLE001
            logger.warning("could not persist the exception of %s run %r: %s", self.kind, self.name, error)
            return UnpersistedResult(exc), None
        from conveyor.serializers import resolve_serializer

        attempts = [serializer]
        if serializer.type != "pickle":
            attempts.append(resolve_serializer("pickle"))
        for candidate in attempts:
            try:
                ref = persist_value(exc, storage=storage, serializer=candidate, storage_slug=slug)
                return ref, storage.describe(ref.key)
            except SerializationError:
                continue
            except Exception as error:  # noqa: BLE001
                logger.warning("could not persist the exception of %s run %r: %s", self.kind, self.name, error)
                break
        return UnpersistedResult(exc), None

    def completed(self, value: Any, name: str = "Completed", message: str | None = None) -> State:
        try:
            data, where = self.result_for(value)
        except (ConveyorError, OSError) as exc:  # the value could not be persisted
            return self.failed(exc)
        if message is None and type(data) is not ResultLiteral:
            message = _why(self.decision)
        state = self.record(State(COMPLETED, name, message, data), where)
        self._after_completed(state)
        if where is not None:
            plugins.result_persisted(self.id, self.kind, data)
        return state

    def _after_completed(self, state: State) -> None:
        pass

    def failed(self, exc: BaseException, name: str = "Failed", message: str | None = None) -> State:
        data, where = self.exception_result(exc)
        self.last_error = exc
        if message is None:
            message = f"{type(exc).__name__}: {exc}"
        state = self.record(State(FAILED, name, message, data), where)
        if where is not None:
            plugins.result_persisted(self.id, self.kind, data)
        return state

    def crashed(self, exc: BaseException) -> State:
        asyncio = sys.modules.get("asyncio")  # not imported: cannot be a CancelledError
        if asyncio is not None and isinstance(exc, asyncio.CancelledError):
            state = State(CANCELLED, "Cancelled", "the run was cancelled", UnpersistedResult(exc))
        else:
            message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            state = State(CRASHED, "Crashed", message, UnpersistedResult(exc))
        return self.record(state)

    def retry_or_fail(self, exc: Exception, retries: int, delays: Any) -> tuple[State | None, float]:
        """After a failed attempt: (None, delay) to retry, or (final Failed state, 0)."""
        attempt = self.run_count  # attempts made so far
        if attempt > retries:
            return self.failed(exc), 0.0
        disabled = self.decision.disabled_by
        if not self.decision.persist and disabled:
            message = (
                f"{self.kind} {self.name!r} failed ({type(exc).__name__}: {exc}) and would retry "
                f"(retries={retries}), but {disabled} switched result persistence off and "
                f"retries need persisted results; remove persist_result=False (or set "
                f"persist_result=True on the {self.kind}), or set retries=0"
            )
            error = ConfigurationError(message)
            error.__cause__ = exc
            return self.failed(error), 0.0
        delay = _delay(delays, attempt - 1)
        self.record(
            State(PENDING, "AwaitingRetry", f"attempt {attempt} of {retries + 1} failed: "
                  f"{type(exc).__name__}: {exc}; retrying in {delay:g} s")
        )
        return None, delay


_FINAL = frozenset({COMPLETED, FAILED, CRASHED, CANCELLED})
#: plain str of each state type, as the database stores it
_TYPE_TEXT = {t: str(t.value) for t in (PENDING, RUNNING, COMPLETED, FAILED, CRASHED, CANCELLED)}


def _may_hold_futures(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    atoms = _ATOMS
    for value in args:
        if type(value) not in atoms and contains_futures(value):
            return True
    if kwargs:
        for value in kwargs.values():
            if type(value) not in atoms and contains_futures(value):
                return True
    return False


def _data_json(data: Any) -> str:
    if type(data) is UnpersistedResult:
        return _UNPERSISTED_JSON
    if type(data) is ResultLiteral:
        return _LITERAL_JSON[data.value]
    return data.json()  # type: ignore[no-any-return]


def _delay(delays: Any, index: int) -> float:
    if isinstance(delays, (list, tuple)):
        if not delays:
            return 0.0
        return float(delays[min(index, len(delays) - 1)])
    return float(delays or 0)


def _sleep(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)


# -- task runs ------------------------------------------------------------------------


class TaskRun(_Recorder):
    """One call of a task: its id, decision, states and result."""

    kind = "task"
    __slots__ = ("_parameters", "args", "cache_key", "cached_json", "info", "kwargs")

    def __init__(
        self,
        task: Task[Any, Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        ctx: FlowRunContext | None,
        persist_by_default: bool | None = None,
    ) -> None:
        self.obj = task
        self.id = run_id = new_run_id()
        self.name = task.name
        self.ctx = ctx
        self.args = args
        self.kwargs = kwargs
        self.created = False
        self.run_count = 0
        self.start_time = None
        self.current = [None]
        self._storage = None
        self._parameters: dict[str, Any] | None = None
        self.cache_key: str | None = None
        self.cached_json: str | None = None
        self.last_error = None
        if ctx is not None:
            self.writer = ctx.writer
            flow_persist, flow_name = ctx.explicit_persist
            persist_by_default = ctx.persist_by_default
            self.info = TaskRunInfo(run_id, task.name, ctx.flow_run.id)
        else:
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
            )
        )
        if decisions is not None:
            decisions[task] = self.decision

    def _create(self, state: State) -> None:
        data = state.data
        if data is None:
            text = None
        elif self.cached_json is not None and state.name == "Cached":
            text = self.cached_json  # as read from the cache index: no need to encode again
        else:
            text = _data_json(data)
        self.writer.create_task_run(
            self.id,
            self.name,
            self.info.flow_run_id,
            self.cache_key,
            (_TYPE_TEXT[state.type], state.name, state.message, state.ts, text),
            self.start_time,
            self.run_count,
        )

    @property
    def parameters(self) -> dict[str, Any]:
        if self._parameters is None:
            self._parameters = self.obj.bind(self.args, self.kwargs)
        return self._parameters

    def context(self) -> TaskRunContext:
        return TaskRunContext(self.obj, self.info, self.ctx, self._parameters)

    def storage_key(self) -> str | None:
        template = self.obj.result_storage_key
        if template is None:
            return None
        flow_run = self.ctx.flow_run if self.ctx is not None else None
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
        """Resolve upstream futures and look up the cache; a final state ends the run here."""
        args, kwargs = self.args, self.kwargs
        if _may_hold_futures(args, kwargs):
            try:
                self.args = resolve_futures(args)
                self.kwargs = resolve_futures(kwargs)
            except Exception as exc:  # noqa: BLE001
                return self.failed(exc, "Failed", f"an upstream run failed: {type(exc).__name__}: {exc}")
        task = self.obj
        if task.cache_key_fn is None:
            return None
        try:
            self._parameters = self.parameters
            self.cache_key = key = task.cache_key_fn(self.context(), self._parameters)
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

    def _cache_hit(self, key: str) -> State | None:
        store: Store = self.writer.store
        found = store.cache_lookup(key, time.time())
        if found is None:
            return None
        try:
            data = result_from_json(found)
            if type(data) is ResultReference:
                _load_reference(data, self.ctx, memo=self.obj.cache_result_in_memory)
            else:
                data.get()  # verified and loaded now, so a damaged entry is a miss
        except (ConveyorError, OSError) as exc:
            logger.warning(
                "cache entry %r of task %r is unusable, running the task again: %s", key, self.name, exc
            )
            return None
        if type(data) is ResultReference and not self.obj.cache_result_in_memory:
            data.forget()
        self.cached_json = found
        return self.record(State(COMPLETED, "Cached", f"cache hit for key {key!r}", data))

    def _after_completed(self, state: State) -> None:
        key = self.cache_key
        data = state.data
        if key is not None and type(data) is not UnpersistedResult:
            expiration = self.obj.cache_expiration
            expires = state.ts + expiration.total_seconds() if expiration is not None else None
            self.writer.put_cache(key, self.id, _data_json(data), state.ts, expires)
        if type(data) is ResultReference and not self.obj.cache_result_in_memory:
            data.forget()

    def run_state(self) -> State:
        return self.record(State(RUNNING, "Running" if self.run_count == 0 else "Retrying"))


def _why(decision: PersistenceDecision) -> str:
    """The Completed state's message: whether the result was persisted, and which rule said so."""
    rule = f"rule {decision.rule}" if decision.rule else "a plugin's rule"
    done = "persisted" if decision.persist else "not persisted"
    return f"result {done}: {decision.reason} ({rule})"


def _load_reference(ref: ResultReference, ctx: FlowRunContext | None, memo: bool = True) -> None:
    """Read, verify and cache a reference's value, rebuilding its storage block and
    serializer once per flow run (the reference's own ``get()`` rebuilds them each time)."""
    from conveyor.results import read_result
    from conveyor.serializers import serializer_from_dict

    if ctx is None:
        ref.get()
        return
    resolved = ctx.references
    key = (ref.storage, ref.storage_document)
    storage = resolved.get(key)
    if storage is None:
        storage = resolved[key] = ref.resolve_storage()
    # A value this flow run already read and verified is reused while the stored file
    # is provably the same one (the block's fingerprint: for a local file its inode,
    # size and mtime); a rewritten, damaged-by-rewrite or deleted value is read again.
    verified = resolved.get(("verified", ref.checksum, ref.key)) if memo else None
    if verified is not None:
        fingerprint = storage.fingerprint(ref.key)
        if fingerprint is not None and fingerprint == verified[0]:
            ref.cache_value(verified[1])
            return
    skey = tuple(sorted((k, repr(v)) for k, v in ref.serializer.items()))
    serializer = resolved.get(skey)
    if serializer is None:
        serializer = resolved[skey] = serializer_from_dict(ref.serializer)
    before = storage.fingerprint(ref.key) if memo else None
    value = read_result(storage, ref.key, serializer=serializer, checksum=ref.checksum,
                        size=ref.size, label=ref.storage)
    ref.cache_value(value)
    if before is not None and before == storage.fingerprint(ref.key):
        resolved[("verified", ref.checksum, ref.key)] = (before, value)


def run_task(task: Task[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any],
             return_state: bool = False, run: TaskRun | None = None) -> Any:
    """Run a sync task now, in this thread; return its value (or final state)."""
    if run is None:
        run = TaskRun(task, args, kwargs, flow_run_context.get())
    top_level = run.ctx is None
    try:
        state = run.prepare()
        if state is None:
            state = _attempts(task, run)
    finally:
        if top_level:
            run.writer.flush()
    if return_state:
        return state
    return state.result()


def _attempts(task: Task[Any, Any], run: TaskRun) -> State:
    fn = task.fn
    token = task_run_context.set(run.context())
    try:
        while True:
            run.run_state()
            try:
                value = fn(*run.args, **run.kwargs)
            except Exception as exc:  # noqa: BLE001
                state, delay = run.retry_or_fail(exc, task.retries, task.retry_delay_seconds)
                if state is None:
                    _sleep(delay)
                    continue
                return state
            return run.completed(value)
    except BaseException as exc:
        run.crashed(exc)
        raise
    finally:
        task_run_context.reset(token)


async def run_task_async(task: Task[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                         return_state: bool = False, run: TaskRun | None = None) -> Any:
    """Run an async task; return its value (or final state)."""
    if run is None:
        run = TaskRun(task, args, kwargs, flow_run_context.get())
    top_level = run.ctx is None
    try:
        state = run.prepare()
        if state is None:
            token = task_run_context.set(run.context())
            try:
                while True:
                    run.run_state()
                    try:
                        value = await task.fn(*run.args, **run.kwargs)
                    except Exception as exc:  # noqa: BLE001
                        state, delay = run.retry_or_fail(exc, task.retries, task.retry_delay_seconds)
                        if state is None:
                            if delay > 0:
                                import asyncio

                                await asyncio.sleep(delay)
                            continue
                        break
                    state = run.completed(value)
                    break
            except BaseException as exc:
                run.crashed(exc)
                raise
            finally:
                task_run_context.reset(token)
    finally:
        if top_level:
            run.writer.flush()
    if return_state:
        return state
    return state.result()


def submit_task(task: Task[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> ConveyorFuture[Any]:
    """Queue a task run on the flow run's task runner; return its future.

    Outside a flow the run executes at once and the returned future is done.
    """
    ctx = flow_run_context.get()
    run = TaskRun(task, args, kwargs, ctx)
    run.record(State(PENDING, "Pending"))
    if task.is_async:
        def work() -> State:
            import asyncio

            return asyncio.run(run_task_async(task, run.args, run.kwargs, True, run))  # type: ignore[no-any-return]
    else:
        def work() -> State:
            return run_task(task, run.args, run.kwargs, True, run)  # type: ignore[no-any-return]
    if ctx is None:
        from conveyor.task_runners import SequentialTaskRunner

        inner = SequentialTaskRunner().submit(work)
    else:
        inner = ctx.runner.submit(work)
    future: ConveyorFuture[Any] = ConveyorFuture(run.id, task.name, inner, run.current)
    if ctx is not None:
        ctx.futures.append(future)
    return future


# -- flow runs ------------------------------------------------------------------------


class _SubflowPlaceholder(_Recorder):
    """The task run that stands for a subflow call inside its parent flow run."""

    kind = "task"
    __slots__ = ()

    def __init__(self, flow: Flow[Any, Any], parent: FlowRunContext) -> None:
        self.obj = flow
        self.id = new_run_id()
        self.name = flow.name
        self.ctx = parent
        self.writer = parent.writer
        self.created = False
        self.run_count = 0
        self.start_time = None
        self.current = [None]
        self._storage = None
        self.last_error = None

    def _create(self, state: State) -> None:
        self.writer.create_task_run(
            self.id, self.name, self.ctx.flow_run.id if self.ctx else None, None,
            (_TYPE_TEXT[state.type], state.name, state.message, state.ts, state.data_json()),
            self.start_time, self.run_count,
        )

    def mirror(self, state: State) -> None:
        copy = State(state.type, state.name, state.message, state.data, ts=state.ts)
        self.record(copy)


class FlowRun(_Recorder):
    """One call of a flow."""

    kind = "flow"
    __slots__ = ("flow_ctx", "info", "parent", "placeholder", "runner")

    def __init__(self, flow: Flow[Any, Any]) -> None:
        from conveyor.store import get_store
        from conveyor.task_runners import resolve_task_runner

        parent = flow_run_context.get()
        self.parent = parent
        self.obj = flow
        self.id = new_run_id()
        self.name = flow.name
        self.created = False
        self.run_count = 0
        self.start_time = None
        self.current = [None]
        self._storage = None
        self.placeholder: _SubflowPlaceholder | None = None
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
                self.placeholder = _SubflowPlaceholder(flow, parent)
                parent_task_run_id = self.placeholder.id
        self.writer = store.writer
        self.info = FlowRunInfo(self.id, flow.name, parent_flow_run_id, parent_task_run_id)
        self.runner = resolve_task_runner(flow.task_runner)
        self.ctx = parent  # the enclosing flow, for inherited storage
        self.flow_ctx = FlowRunContext(flow, self.info, store, self.runner, parent, persist_by_default)
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

    def storage(self) -> tuple[StorageBlock, str | None, Serializer]:
        if self._storage is None:
            block, slug = self.flow_ctx.storage()
            self._storage = (block, slug, self.flow_ctx.serializer())
        return self._storage

    def _create(self, state: State) -> None:
        self.writer.create_flow_run(
            self.id, self.name, self.info.parent_task_run_id, self.info.parent_flow_run_id,
            (_TYPE_TEXT[state.type], state.name, state.message, state.ts, state.data_json()),
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


def _call_with_timeout(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any], timeout: float) -> tuple[bool, Any]:
    """Call ``fn`` in a helper thread (same context); (finished, value). Errors propagate."""
    import contextvars

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


def run_flow(flow: Flow[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any], return_state: bool = False) -> Any:
    """Run a sync flow in this thread; return its value (or final state)."""
    run = FlowRun(flow)
    token = flow_run_context.set(run.flow_ctx)
    task_token = task_run_context.set(None)
    state: State | None = None
    try:
        try:
            while True:
                run.run_state()
                try:
                    if flow.timeout_seconds is not None:
                        done, value = _call_with_timeout(flow.fn, args, kwargs, flow.timeout_seconds)
                        if not done:
                            run.runner.shutdown(wait=False)
                            state = run.timed_out(flow.timeout_seconds)
                            break
                    else:
                        value = flow.fn(*args, **kwargs)
                    value = resolve_futures(value, states=False)
                    run.runner.shutdown(wait=True)
                except Exception as exc:  # noqa: BLE001
                    run.runner.shutdown(wait=True)
                    state, delay = run.retry_or_fail(exc, flow.retries, flow.retry_delay_seconds)
                    if state is None:
                        _sleep(delay)
                        continue
                    break
                state = run.completed(value)
                break
        except BaseException as exc:
            run.runner.shutdown(wait=False)
            state = run.crashed(exc)
            raise
        finally:
            flow_run_context.reset(token)
            task_run_context.reset(task_token)
            if state is not None:
                run.finish(state)
    finally:
        run.runner.shutdown(wait=False)
    return _outcome(run, state, return_state)


def _outcome(run: FlowRun, state: State, return_state: bool) -> Any:
    if return_state:
        return state
    if state.type is not COMPLETED and run.last_error is not None:
        raise run.last_error
    return state.result()


async def run_flow_async(flow: Flow[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                         return_state: bool = False) -> Any:
    """Run an async flow; return its value (or final state)."""
    import asyncio

    run = FlowRun(flow)
    token = flow_run_context.set(run.flow_ctx)
    task_token = task_run_context.set(None)
    state: State | None = None
    try:
        while True:
            run.run_state()
            try:
                if flow.timeout_seconds is not None:
                    try:
                        value = await asyncio.wait_for(flow.fn(*args, **kwargs), flow.timeout_seconds)
                    except TimeoutError:
                        run.runner.shutdown(wait=False)
                        state = run.timed_out(flow.timeout_seconds)
                        break
                else:
                    value = await flow.fn(*args, **kwargs)
                value = resolve_futures(value, states=False)
                run.runner.shutdown(wait=True)
            except Exception as exc:  # noqa: BLE001
                run.runner.shutdown(wait=True)
                state, delay = run.retry_or_fail(exc, flow.retries, flow.retry_delay_seconds)
                if state is None:
                    if delay > 0:
                        await asyncio.sleep(delay)
                    continue
                break
            state = run.completed(value)
            break
    except BaseException as exc:
        run.runner.shutdown(wait=False)
        state = run.crashed(exc)
        raise
    finally:
        flow_run_context.reset(token)
        task_run_context.reset(task_token)
        if state is not None:
            run.finish(state)
    return _outcome(run, state, return_state)


__all__ = ["FlowRun", "TaskRun", "run_flow", "run_flow_async", "run_task", "run_task_async", "submit_task"]
