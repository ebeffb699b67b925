"""Find where inside a value the part that cannot be pickled sits.

Pickling errors name a type (``cannot pickle '_thread.RLock' object``) but not where it
is. When pickling fails, :func:`find_culprit` walks the value the way the pickler does
(container items, object state from ``__reduce_ex__``, closure cells of functions),
pickling each part on its own, and descends into the first part that fails until it
reaches one whose parts all pickle: that part is the culprit. It only runs after a
failure, so its cost never touches a successful dump.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any

_MAX_DEPTH = 100


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _children(obj: Any, protocol: int) -> Iterator[tuple[str, Any]]:
    """(path segment, part) for each part the pickler would pickle inside ``obj``."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield f"[{_short(key)}]", value
        for key in obj:
            yield f".keys() item {_short(key)}", key
    elif isinstance(obj, (list, tuple)):
        for index, value in enumerate(obj):
            yield f"[{index}]", value
    elif isinstance(obj, (set, frozenset)):
        for value in obj:
            yield f" element {_short(value)}", value
    if isinstance(obj, types.FunctionType):
        for name, cell in zip(obj.__code__.co_freevars, obj.__closure__ or ()):
            try:
                contents = cell.cell_contents
            except ValueError:
                continue
            yield f".<closure variable {name}>", contents
        for name in obj.__code__.co_names:
            if name in obj.__globals__:
                yield f".<global {name}>", obj.__globals__[name]
        return
    if type(obj) in (dict, list, tuple, set, frozenset, str, bytes, int, float):
        return
    try:
        reduced = obj.__reduce_ex__(protocol)
    except Exception:  # noqa: BLE001 - then it has no parts to look into
        return
    if not isinstance(reduced, tuple):
        return
    args = reduced[1] if len(reduced) > 1 else ()
    state = reduced[2] if len(reduced) > 2 else None
    if isinstance(state, tuple) and len(state) == 2 and all(
        s is None or isinstance(s, dict) for s in state
    ):
        for part in state:
            for name, value in (part or {}).items():
                yield f".{name}", value
    elif isinstance(state, dict):
        for name, value in state.items():
            yield f".{name}" if isinstance(name, str) else f"[{_short(name)}]", value
    elif state is not None:
        yield ".__getstate__()", state
    if isinstance(args, tuple):
        for index, value in enumerate(args):
            if isinstance(value, type):
                continue
            yield f".__reduce__() argument {index}", value


def _message(exc: BaseException) -> str:
    text = str(exc)
    return text if text else type(exc).__name__


def find_culprit(obj: Any, lib: Any, kwargs: dict[str, Any], error: BaseException) -> str:
    """``"<path>: <error>"`` for the innermost part of ``obj`` that does not pickle.

    :param obj: the value whose pickling failed with ``error``.
    :param lib: the pickle library (a module with ``dumps``).
    :param kwargs: keyword arguments for ``lib.dumps`` (the protocol).
    """
    protocol = kwargs.get("protocol", 5)
    seen: set[int] = {id(obj)}

    def search(value: Any, path: str, depth: int) -> tuple[str, BaseException] | None:
        if depth > _MAX_DEPTH:
            return None
        try:
            children = list(_children(value, protocol))
        except Exception:  # noqa: BLE001 - a part we cannot look into
            return None
        for segment, child in children:
            if id(child) in seen:
                continue
            seen.add(id(child))
            try:
                lib.dumps(child, **kwargs)
            except RecursionError:
                continue
            except Exception as exc:  # noqa: BLE001 - any pickling failure
                return search(child, path + segment, depth + 1) or (path + segment, exc)
        return None

    try:
        found = search(obj, "value", 0)
    except RecursionError:
        found = None
    path, exc = found or ("value", error)
    return f"{path}: {_message(exc)}"
