"""States: where a flow run or task run is, and what it produced.

A state is a small value: its :class:`StateType`, a name (``"Completed"``, ``"Cached"``,
``"Failed"``, ``"AwaitingRetry"`` ...), an optional message, a timestamp, the id of the
run it belongs to, and ``data``: the run's result as a
:class:`~conveyor.results.ResultLiteral`, :class:`~conveyor.results.ResultReference` or
:class:`~conveyor.results.UnpersistedResult` (``None`` while the run has no result).

For a failed run the data holds the exception, so ``state.result()`` re-raises it, also
from another process when the exception was persisted.
"""

from __future__ import annotations

import datetime
import enum
import json
import time
from typing import Any

from conveyor.exceptions import MissingResult
from conveyor.results import Result, result_from_dict


class StateType(str, enum.Enum):
    """The kind of a state; the name of a state refines it (``Cached`` is COMPLETED)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CRASHED = "CRASHED"
    CANCELLED = "CANCELLED"

    def __str__(self) -> str:
        return self.value


PENDING = StateType.PENDING
RUNNING = StateType.RUNNING
COMPLETED = StateType.COMPLETED
FAILED = StateType.FAILED
CRASHED = StateType.CRASHED
CANCELLED = StateType.CANCELLED

#: Types after which a run changes no more.
FINAL_TYPES = frozenset({COMPLETED, FAILED, CRASHED, CANCELLED})
#: Types whose data holds an exception rather than a value.
ERROR_TYPES = frozenset({FAILED, CRASHED, CANCELLED})


class State:
    """One state of a run. Built by the engine, or read back from the metadata store."""

    __slots__ = ("data", "memo", "message", "name", "run_id", "ts", "type")

    def __init__(
        self,
        type: StateType,
        name: str | None = None,
        message: str | None = None,
        data: Result | None = None,
        run_id: str | None = None,
        ts: float | None = None,
    ) -> None:
        self.type = type
        self.name = name if name is not None else type.value.capitalize()
        self.message = message
        self.data = data
        self.run_id = run_id
        self.ts = time.time() if ts is None else ts
        #: False: a persisted value is read back from storage at each result() and not
        #: kept (the run's ``cache_result_in_memory=False``)
        self.memo = True

    @property
    def timestamp(self) -> datetime.datetime:
        """When the run entered this state (timezone-aware, UTC)."""
        return datetime.datetime.fromtimestamp(self.ts, datetime.UTC)

    def is_pending(self) -> bool:
        return self.type is PENDING

    def is_running(self) -> bool:
        return self.type is RUNNING

    def is_completed(self) -> bool:
        return self.type is COMPLETED

    def is_failed(self) -> bool:
        return self.type is FAILED

    def is_crashed(self) -> bool:
        return self.type is CRASHED

    def is_cancelled(self) -> bool:
        return self.type is CANCELLED

    def is_final(self) -> bool:
        return self.type in FINAL_TYPES

    def result(self, raise_on_failure: bool = True) -> Any:
        """The run's value.

        A failed, crashed or cancelled state raises its exception (with
        ``raise_on_failure=False`` it returns it). A value that was not persisted is only
        available in the process that ran it; elsewhere this raises ``MissingResult``.
        """
        data = self.data
        if data is None:
            raise MissingResult(
                f"run {self.run_id} has no result in state {self.name!r}; wait for it to "
                f"finish (future.result() / future.wait()) before asking for its result"
            )
        value = data.get()
        if not self.memo:
            forget = getattr(data, "forget", None)
            if forget is not None:
                forget()
        if self.type in ERROR_TYPES:
            if not isinstance(value, BaseException):
                value = RuntimeError(f"run {self.run_id} ended {self.name}: {self.message}")
            if raise_on_failure:
                raise value
        return value

    def data_json(self) -> str | None:
        """What the metadata store holds for ``data``."""
        return None if self.data is None else self.data.json()

    def __repr__(self) -> str:
        message = f", message={self.message!r}" if self.message else ""
        return f"{self.name}(type={self.type.value}{message})"

    @classmethod
    def from_record(
        cls,
        type: str,
        name: str,
        message: str | None,
        ts: float,
        data: str | None,
        run_id: str,
    ) -> State:
        """Rebuild a state from the metadata store's columns."""
        result = result_from_dict(json.loads(data)) if data else None
        return cls(StateType(type), name, message, result, run_id, ts)


def Completed(data: Result | None = None, **kwargs: Any) -> State:
    """A Completed state (``name``, ``message`` by keyword); a flow that returns one ends so."""
    return State(COMPLETED, data=data, **kwargs)


def Failed(data: Result | None = None, **kwargs: Any) -> State:
    """A Failed state; a flow that returns one ends failed, with its message."""
    return State(FAILED, data=data, **kwargs)


def Cancelled(data: Result | None = None, **kwargs: Any) -> State:
    """A Cancelled state; a flow that returns one ends cancelled, with its message."""
    return State(CANCELLED, data=data, **kwargs)


def Pending(**kwargs: Any) -> State:
    return State(PENDING, **kwargs)


def Running(**kwargs: Any) -> State:
    return State(RUNNING, **kwargs)


__all__ = ["Cancelled", "Completed", "Failed", "Pending", "Running", "State", "StateType"]
