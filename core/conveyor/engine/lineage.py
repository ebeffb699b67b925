"""Input lineage: which task runs' results a task run received as its inputs.

A task run's inputs come from upstream task runs in two ways: as futures (or states)
passed to it, whose run ids they carry, and as values a task call in the same flow run
returned and the flow passed on. :class:`Lineage` (one per top-level flow run, shared by
its subflows) remembers the values task calls returned, by identity, without keeping
them alive longer than the engine does anyway: a weak reference where the type allows
one, else a strong one only when the task keeps its result in memory
(``cache_result_in_memory``); otherwise that value is not tracked.
:func:`inputs_json` is what the task run records (column ``inputs``):
``{"<parameter>": ["<upstream task run id>", ...]}``.

May import: conveyor.futures, conveyor.states.
"""

from __future__ import annotations

import inspect
import json
import weakref
from typing import Any

from conveyor.futures import ATOMS, ConveyorFuture, allow_failure
from conveyor.states import State

_CONTAINERS = (list, tuple, set, frozenset)


class Lineage:
    """Values task calls returned in a flow run, by identity, with the run that returned each."""

    __slots__ = ("_by_id",)

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[str, Any]] = {}

    def note(self, value: Any, run_id: str, keep: bool) -> None:
        """``value`` was returned by task run ``run_id`` to its caller."""
        if type(value) in ATOMS:
            return  # small ints and strings are shared objects: identity says nothing
        try:
            held: Any = weakref.ref(value)
        except TypeError:  # lists, dicts, tuples: held only if the engine holds it anyway
            if not keep:
                return
            held = value
        self._by_id[id(value)] = (run_id, held)

    def producer(self, value: Any) -> str | None:
        """The task run that returned this very object, or None."""
        entry = self._by_id.get(id(value))
        if entry is None:
            return None
        run_id, held = entry
        alive = held() if type(held) is weakref.ref else held
        return run_id if alive is value else None

    def upstream(self, value: Any, depth: int = 0) -> list[str]:
        """Run ids of the futures, states and returned values in ``value`` (and, for a
        list, tuple, set or dict, in its items, a few levels down)."""
        kind = type(value)
        if kind in ATOMS:
            return []
        if kind is ConveyorFuture or isinstance(value, ConveyorFuture):
            return [value.task_run_id]
        if kind is allow_failure:
            return self.upstream(value.value, depth)
        if isinstance(value, State):
            return [value.run_id] if value.run_id else []
        found = self.producer(value) if self._by_id else None
        if found is not None:
            return [found]
        if depth >= 3:
            return []
        if kind is dict:
            items: Any = value.values()
        elif kind in _CONTAINERS:
            items = value
        else:
            return []
        ids: list[str] = []
        for item in items:
            if type(item) not in ATOMS:
                ids += self.upstream(item, depth + 1)
        return ids


def inputs_json(lineage: Lineage, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """The JSON a task run records as its inputs' lineage, or None when no input came
    from another task run. Binds the arguments to parameter names only when one did."""
    if not any(lineage.upstream(v) for v in args) and not any(
        lineage.upstream(v) for v in kwargs.values()
    ):
        return None
    try:
        bound = inspect.signature(fn).bind_partial(*args, **kwargs).arguments
    except (TypeError, ValueError):  # the call itself will fail and say why
        bound = {**{f"arg{i}": v for i, v in enumerate(args)}, **kwargs}
    inputs: dict[str, list[str]] = {}
    for name, value in bound.items():
        ids = lineage.upstream(value)
        if ids:
            inputs[name] = list(dict.fromkeys(ids))
    return json.dumps(inputs, separators=(",", ":")) if inputs else None


__all__ = ["Lineage", "inputs_json"]
