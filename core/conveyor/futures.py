"""Futures: handles on submitted task runs.

``task.submit(...)`` returns a :class:`ConveyorFuture`. Passing one as an argument to
another task makes that task wait for it and receive its value.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterable, Iterator
from typing import Any, Generic, TypeVar

from conveyor.states import PENDING, State

R = TypeVar("R")


class ConveyorFuture(Generic[R]):
    """The eventual final :class:`~conveyor.states.State` of one task run."""

    __slots__ = ("_current", "_future", "task_name", "task_run_id")

    def __init__(
        self,
        task_run_id: str,
        task_name: str,
        future: concurrent.futures.Future[State],
        current: list[State | None],
    ) -> None:
        self.task_run_id = task_run_id
        self.task_name = task_name
        self._future = future
        #: one-item list the engine updates with the run's latest state
        self._current = current

    @property
    def state(self) -> State:
        """The run's state now: its final state once done, else Pending or Running."""
        future = self._future
        if future.done() and future.exception() is None:
            return future.result()
        current = self._current[0]
        if current is None:
            current = State(PENDING, run_id=self.task_run_id)
        return current

    def done(self) -> bool:
        return self._future.done()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the run is finished, or ``timeout`` seconds have passed."""
        concurrent.futures.wait([self._future], timeout=timeout)

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> R:
        """The run's value; a failed run re-raises its exception (or returns it).

        Raises ``TimeoutError`` if the run is not finished within ``timeout`` seconds.
        """
        try:
            state = self._future.result(timeout)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(
                f"task run {self.task_name!r} ({self.task_run_id}) did not finish within "
                f"{timeout} s; wait longer or call future.wait() first"
            ) from None
        return state.result(raise_on_failure=raise_on_failure)  # type: ignore[no-any-return]

    def add_done_callback(self, fn: Any) -> None:
        self._future.add_done_callback(lambda _f: fn(self))

    def __repr__(self) -> str:
        return f"ConveyorFuture({self.task_name!r}, {self.task_run_id}, {self.state.name})"


def wait(futures: Iterable[ConveyorFuture[Any]], timeout: float | None = None) -> None:
    """Wait for all ``futures`` (or until ``timeout``)."""
    concurrent.futures.wait([f._future for f in futures], timeout=timeout)


def as_completed(futures: Iterable[ConveyorFuture[R]], timeout: float | None = None) -> Iterator[ConveyorFuture[R]]:
    """Yield ``futures`` as their runs finish (first finished first).

    Raises ``TimeoutError`` if they are not all finished within ``timeout`` seconds.
    """
    by_inner = {f._future: f for f in futures}
    try:
        for inner in concurrent.futures.as_completed(by_inner, timeout=timeout):
            yield by_inner[inner]
    except concurrent.futures.TimeoutError:
        pending = sum(1 for f in by_inner if not f.done())
        raise TimeoutError(
            f"{pending} of {len(by_inner)} task runs did not finish within {timeout} s"
        ) from None


class allow_failure:
    """Wrap a future (or state) so that a downstream run starts even if it failed.

    As an argument, the downstream run receives the upstream's value, or its exception
    when it failed; in ``wait_for=[...]``, the downstream run waits for it but does not
    fail with it.
    """

    __slots__ = ("value",)

    def __init__(self, value: ConveyorFuture[Any] | State) -> None:
        self.value = value

    def resolve(self) -> Any:
        """The wrapped run's value, or its exception if it failed (waiting for it first)."""
        value = self.value
        if isinstance(value, (ConveyorFuture, State)):
            return value.result(raise_on_failure=False)
        return value

    def __repr__(self) -> str:
        return f"allow_failure({self.value!r})"


def resolve_futures(value: Any, states: bool = True) -> Any:
    """``value`` with every future (and, with ``states``, state) inside lists, tuples, sets
    and dicts replaced by its result; a failed upstream run raises its exception (unless
    wrapped in :class:`allow_failure`)."""
    kind = type(value)
    if kind is ConveyorFuture:
        return value.result()
    if kind in ATOMS:
        return value
    if kind is allow_failure:
        return value.resolve()
    if isinstance(value, ConveyorFuture):
        return value.result()
    if states and isinstance(value, State):
        return value.result()
    if kind is list:
        return [resolve_futures(v, states) for v in value]
    if kind is tuple:
        return tuple(resolve_futures(v, states) for v in value)
    if kind is dict:
        return {k: resolve_futures(v, states) for k, v in value.items()}
    if kind is set or kind is frozenset:
        return kind(resolve_futures(v, states) for v in value)
    return value


def contains_futures(value: Any) -> bool:
    """Whether ``value`` holds a future or state anywhere inside lists, tuples, sets, dicts."""
    kind = type(value)
    if kind in ATOMS:
        return False
    if isinstance(value, (ConveyorFuture, State, allow_failure)):
        return True
    if kind is list or kind is tuple or kind is set or kind is frozenset:
        for v in value:
            if type(v) not in ATOMS and contains_futures(v):
                return True
        return False
    if kind is dict:
        return any(contains_futures(v) for v in value.values())
    return False


ATOMS = frozenset({int, float, str, bytes, bool, type(None), complex})

__all__ = ["ConveyorFuture", "allow_failure", "as_completed", "resolve_futures", "wait"]
