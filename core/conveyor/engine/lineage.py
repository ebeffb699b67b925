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

import functools
import inspect
import json
import re
import weakref
from typing import Any

from conveyor.futures import ATOMS, ConveyorFuture, allow_failure
from conveyor.states import State

_CONTAINERS = (list, tuple, set, frozenset)
_PLAIN = re.compile(r"[A-Za-z0-9_.-]+")


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

    def upstream(self, value: Any, depth: int = 0) -> list[str]:
        """Run ids of the futures, states and returned values in ``value`` (and, for a
        list, tuple, set or dict, in its items, a few levels down)."""
        kind = type(value)
        if kind in ATOMS:
            return []
        entry = self._by_id.get(id(value))
        if entry is not None:  # the very object a task call returned (while it is alive)
            held = entry[1]
            if (held() if type(held) is weakref.ref else held) is value:
                return [entry[0]]
        if kind is ConveyorFuture or isinstance(value, ConveyorFuture):
            return [value.task_run_id]
        if kind is allow_failure:
            return self.upstream(value.value, depth)
        if isinstance(value, State):
            return [value.run_id] if value.run_id else []
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


@functools.lru_cache(maxsize=4096)
def _positional_names(fn: Any) -> tuple[tuple[str, ...], str | None]:
    """The names positional arguments bind to, and the ``*args`` parameter's (or None)."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return (), None
    names = tuple(p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    star = next((p.name for p in parameters if p.kind is p.VAR_POSITIONAL), None)
    return names, star


def inputs_json(lineage: Lineage, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """The JSON a task run records as its inputs' lineage, or None when no input came
    from another task run (the common case costs one identity lookup per argument)."""
    inputs: dict[str, list[str]] = {}
    names: tuple[tuple[str, ...], str | None] | None = None
    for i, value in enumerate(args):
        if type(value) in ATOMS:
            continue
        ids = lineage.upstream(value)
        if ids:
            if names is None:
                names = _positional_names(fn)
            positional, star = names
            name = positional[i] if i < len(positional) else (star or f"arg{i}")
            inputs.setdefault(name, []).extend(ids)
    for name, value in kwargs.items():
        if type(value) not in ATOMS:
            ids = lineage.upstream(value)
            if ids:
                inputs.setdefault(name, []).extend(ids)
    if not inputs:
        return None
    parts = []
    for name, ids in inputs.items():
        unique = dict.fromkeys(ids) if len(ids) > 1 else ids
        parts.append(f"{_quote(name)}:[{','.join(_quote(i) for i in unique)}]")
    return "{" + ",".join(parts) + "}"


def _quote(text: str) -> str:
    """``text`` as a JSON string: run ids and parameter names need no escaping (fast path)."""
    return f'"{text}"' if _PLAIN.fullmatch(text) else json.dumps(text)


__all__ = ["Lineage", "inputs_json"]
