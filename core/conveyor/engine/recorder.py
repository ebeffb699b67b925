"""What task runs and flow runs share: recording states, persisting results, failing, retrying.

A run records each state change through the metadata store's writer (one small row each,
committed in batches) and logs one line for it. A successful run's value becomes its
result: a literal, a reference to the value persisted at the run's
:class:`~conveyor.engine.destination.ResultDestination`, or the value in memory only.

May import: conveyor.engine.destination, conveyor.engine.logs, conveyor.engine.remote, conveyor.exceptions,
conveyor.plugins, conveyor.policy, conveyor.results, conveyor.serializers, conveyor.states.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

from conveyor import plugins
from conveyor.engine.logs import log_state, logger, state_level
from conveyor.engine.remote import Refused, Written
from conveyor.engine.timeouts import RunTimedOut
from conveyor.exceptions import ConfigurationError, ConveyorError, MetadataError, SerializationError
from conveyor.policy import PersistenceDecision
from conveyor.results import ResultLiteral, ResultReference, UnpersistedResult
from conveyor.serializers import resolve_serializer
from conveyor.states import (
    CANCELLED,
    COMPLETED,
    CRASHED,
    FAILED,
    PENDING,
    RUNNING,
    State,
)

if TYPE_CHECKING:
    from conveyor.engine.context import FlowRunContext
    from conveyor.engine.destination import ResultDestination
    from conveyor.metadata import MetadataWriter

_DEBUG = logging.DEBUG
_log_enabled = logger.isEnabledFor

_UNPERSISTED_JSON = UnpersistedResult.missing().json()
_LITERALS = {v: ResultLiteral(v) for v in (True, False, None)}
_LITERAL_JSON = {v: r.json() for v, r in _LITERALS.items()}

FINAL = frozenset({COMPLETED, FAILED, CRASHED, CANCELLED})
#: plain str of each state type, as the database stores it
TYPE_TEXT = {t: str(t.value) for t in (PENDING, RUNNING, COMPLETED, FAILED, CRASHED, CANCELLED)}


def data_json(data: Any) -> str:
    """The JSON the metadata store holds for a state's result."""
    if type(data) is UnpersistedResult:
        return _UNPERSISTED_JSON
    if type(data) is ResultLiteral:
        return _LITERAL_JSON[data.value]
    return data.json()  # type: ignore[no-any-return]


def retry_delay(delays: Any, index: int) -> float:
    """Seconds before retry number ``index + 1``: one number, or one per retry (last repeats)."""
    if isinstance(delays, (list, tuple)):
        if not delays:
            return 0.0
        return float(delays[min(index, len(delays) - 1)])
    return float(delays or 0)


def why(decision: PersistenceDecision) -> str:
    """The Completed state's message: whether the result was persisted, and which rule said so."""
    rule = f"rule {decision.rule}" if decision.rule else "a plugin's rule"
    done = "persisted" if decision.persist else "not persisted"
    return f"result {done}: {decision.reason} ({rule})"


class Recorder:
    """What task runs and flow runs share: states, persistence, logging."""

    kind = "task"
    __slots__ = (
        "_destination",
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
        "storage_failed",
        "value",
        "writer",
    )

    obj: Any
    id: str
    name: str
    ctx: FlowRunContext | None
    writer: MetadataWriter
    decision: PersistenceDecision
    created: bool
    run_count: int
    start_time: float | None
    current: list[State | None]
    _destination: ResultDestination | None
    last_error: BaseException | None
    #: the storage failed writing this run's value: its exception is not written there too
    storage_failed: bool
    #: the value of the last completed attempt, for the direct caller only (see completed())
    value: Any

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
                (TYPE_TEXT[stype], state.name, state.message, state.ts,
                 None if data is None else data_json(data)),
                self.start_time,
                state.ts if stype in FINAL else None,
                self.run_count,
            )
        self.current[0] = state
        if stype in FINAL:
            level = state_level(state)
            if _log_enabled(level):
                log_state(level, self.kind, self.label(), run_id, state, where, self.start_time)
            self._ended(state)
        elif _log_enabled(_DEBUG):
            log_state(_DEBUG, self.kind, self.label(), run_id, state, where)
        return state

    def label(self) -> str:
        """How log lines name this run: its task's or flow's name, quoted."""
        return repr(self.name)

    def _ended(self, state: State) -> None:
        """The run reached a final state (a task run counts towards its flow's progress)."""

    # Persistence ---------------------------------------------------------------------

    def destination(self) -> ResultDestination:
        """Where this run's result goes (asked of the flow run's destinations)."""
        raise NotImplementedError

    def storage_key(self, what: str = "", serializer: Any = None) -> str | None:
        """Where in its storage this run's result (``what="error"``: exception) goes."""
        return None

    def result_for(self, value: Any) -> tuple[Any, str | None]:
        """(result, where it was persisted) for a successful run's value."""
        if value is None or value is True or value is False:
            return _LITERALS[value], None
        if type(value) is Written:  # a remote runner's worker wrote it
            destination = self.destination()
            reference = destination.reference_to(value.key, value.checksum, value.size)
            return reference, destination.describe(value.key)
        if not self.decision.persist:
            if not self.obj.cache_result_in_memory:  # not persisted, not kept: gone once handed on
                return UnpersistedResult.missing(), None
            return UnpersistedResult(value), None
        destination = self.destination()
        reference = destination.persist(value, self.storage_key(), run_id=self.id)
        return reference, destination.describe(reference.key)

    def _refused(self, value: Any, exc: SerializationError) -> tuple[Any, str] | None:
        """A serializer refused the value: (in-memory result, message) when persistence was
        only inferred (the run goes on), else None (the refusal fails the run)."""
        if not self.decision.inferred:
            return None
        serializer = self.destination().serializer
        message = (
            f"result kept in memory only: {self.decision.reason} (rule {self.decision.rule}), but "
            f"serializer {serializer.type!r} refused the {type(value).__name__}: {exc}"
        )
        logger.warning("%s run %r (%s): %s", self.kind, self.name, self.id, message)
        return UnpersistedResult(value), message

    def exception_result(self, exc: BaseException) -> tuple[Any, str | None]:
        """(result, where) for a failed run's exception: persisted when the policy persists.

        Never at the user's ``result_storage_key`` (a random key); with pickle when the
        configured serializer cannot encode the exception.
        """
        if not self.decision.persist or self.storage_failed:
            return UnpersistedResult(exc), None
        try:
            destination = self.destination()
        except Exception as error:  # noqa: BLE001
            logger.warning("could not persist the exception of %s run %r: %s", self.kind, self.name, error)
            return UnpersistedResult(exc), None
        serializer = destination.serializer
        attempts = [serializer]
        if serializer.type != "pickle":
            attempts.append(resolve_serializer("pickle"))
        for candidate in attempts:
            try:
                ref = destination.persist(exc, self.storage_key("error", candidate), serializer=candidate,
                                          run_id=self.id)
                return ref, destination.describe(ref.key)
            except SerializationError:
                continue
            except Exception as error:  # noqa: BLE001
                logger.warning("could not persist the exception of %s run %r: %s", self.kind, self.name, error)
                break
        return UnpersistedResult(exc), None

    def completed(self, value: Any, name: str = "Completed", message: str | None = None) -> State:
        """Record the run Completed with ``value`` as its result (persisted as decided).

        A persisted result's reference is committed to the metadata store before the value
        is handed on, so a crash later never loses what was written.
        """
        try:
            if type(value) is Refused:  # a remote runner's worker: the serializer refused it
                value, refusal = value.value, value.error
                raise refusal
            data, where = self.result_for(value)
        except SerializationError as exc:
            kept = self._refused(value, exc)
            if kept is None:
                origin = self.destination().serializer_origin
                error = SerializationError(f"{exc}; {self.kind} {self.name!r} uses {origin}")
                error.__cause__ = exc
                return self.failed(error)
            (data, message), where = kept, None
        except (ConveyorError, OSError) as exc:  # the value could not be written
            self.storage_failed = True
            return self.failed(exc)
        if message is None and type(data) is not ResultLiteral:
            message = why(self.decision)
        self.value = None if type(value) is Written else value
        state = self.record(State(COMPLETED, name, message, data), where)
        if where is not None:
            self.destination().written(data.key)  # committed with the state just queued
        self._after_completed(state)
        if not self.obj.cache_result_in_memory:
            state.memo = False
            if type(data) is ResultReference:
                data.forget()  # persisted and handed on; read back whenever asked for
        if where is not None:
            self.writer.flush()
            plugins.result_persisted(self.id, self.kind, data)
        return state

    def _after_completed(self, state: State) -> None:
        pass

    def attempt_returned(self, value: Any) -> State:
        """The attempt loop's step when the function returned ``value``: the final state."""
        return self.completed(value)

    def failed(self, exc: BaseException, name: str = "Failed", message: str | None = None) -> State:
        data, where = self.exception_result(exc)
        self.last_error = exc
        if name == "Failed" and isinstance(exc, RunTimedOut):
            name = "TimedOut"
        if message is None:
            message = f"{type(exc).__name__}: {exc}"
        state = self.record(State(FAILED, name, message, data), where)
        if where is not None:
            self.destination().written(data.key)
            plugins.result_persisted(self.id, self.kind, data)
        return state

    def crashed(self, exc: BaseException) -> State:
        asyncio = sys.modules.get("asyncio")  # not imported: cannot be a CancelledError
        if asyncio is not None and isinstance(exc, asyncio.CancelledError):
            state = State(CANCELLED, "Cancelled", "the run was cancelled", UnpersistedResult(exc))
        else:
            message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            state = State(CRASHED, "Crashed", message, UnpersistedResult(exc))
        try:
            return self.record(state)
        except MetadataError:  # the database refuses more rows: the crash cause says why
            return state

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
        delay = retry_delay(delays, attempt - 1)
        self.record(
            State(PENDING, "AwaitingRetry", f"attempt {attempt} of {retries + 1} failed: "
                  f"{type(exc).__name__}: {exc}; retrying in {delay:g} s")
        )
        return None, delay


__all__ = ["FINAL", "TYPE_TEXT", "Recorder", "data_json", "retry_delay", "why"]
