"""The mapping between Python values and plain JSON data, exact both ways.

Values JSON holds natively are written as themselves: ``None``, ``bool``, ``int`` in the
64-bit range, finite ``float``, ``str``, ``list``, and ``dict`` with ``str`` keys. Every
other supported value becomes a *tagged object*, a JSON object whose first key is
:data:`MARKER`::

    {"$conveyor": "tuple", "v": [1, 2]}
    {"$conveyor": "datetime", "v": "2024-05-01T12:00:00+02:00", "tz": {"$conveyor": "zoneinfo", "key": "Europe/Paris"}}

A user's dict that has :data:`MARKER` among its keys (or any non-``str`` key) is written
as a ``"dict"`` tag holding its items as ``[key, value]`` pairs, so no user data is ever
read back as a tag.

Encoding walks the value once, copying a container only when one of its items has to
change; decoding walks the parsed JSON once, replacing tags in place.

This module holds what both directions share (the tag marker, limits, helpers); the
two directions are :mod:`.encoder` (values to JSON data) and :mod:`.decoder` (back).
"""

from __future__ import annotations

import gc
import itertools
import operator
import pathlib
import sys
from typing import Any

#: The key that marks a JSON object as a tagged value.
MARKER = "$conveyor"

_INT_MIN = -(1 << 63)  # orjson reads and writes ints from -2**63 ...
_INT_MAX = (1 << 64) - 1  # ... to 2**64 - 1; beyond that they are tagged
_PATHS = {
    c.__name__: c
    for c in (pathlib.PosixPath, pathlib.WindowsPath, pathlib.PurePosixPath, pathlib.PureWindowsPath)
}
_SUPPORTED = (
    "None, bool, int, float, str, bytes, bytearray, list, tuple, dict, set, frozenset, complex, "
    "datetime, date, time, timedelta, timezone, ZoneInfo, Decimal, UUID, Path, Enum members, "
    "dataclasses, attrs classes, pydantic models"
)


class _Unsupported(Exception):
    """Raised inside the walk; collects the path on its way out."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[str] = []


def _key_text(key: Any) -> str:
    text = repr(key)
    return text if len(text) <= 40 else text[:37] + "..."


def _type_name(obj: Any) -> str:
    cls = type(obj)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _pydantic_model(obj: Any) -> bool:
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(obj, pydantic.BaseModel)


_PLAIN_TYPES = frozenset({dict, list, str, int, float, bool, type(None)})
_MAX_DEPTH = 1000


_LEAF_TYPES = frozenset({str, int, float, bool, type(None)})
_STR = frozenset({str})


def plain_levels(obj: Any, str_keys: bool = False) -> list[list[Any]] | None:
    """The value's objects level by level, if it is made only of JSON's own types.

    JSON's own types are, exactly: ``dict``, ``list``, ``str``, ``int``, ``float``,
    ``bool`` and ``None``. Returns ``None`` as soon as any other type appears (a
    ``tuple``, an ``Enum``, a ``datetime``, a subclass...), or when the nesting goes
    deeper than any JSON library writes (a reference cycle). The walk is done by C code
    (``gc.get_referents`` hands over the items of every container of a level at once),
    so checking a large value costs a fraction of encoding it in Python.

    With ``str_keys``, every dict key must be a ``str`` too (the standard library would
    write an int key as a string; orjson refuses such keys by itself). What this does
    not check is left to the caller: ints beyond 64 bits and lone surrogates (orjson
    refuses them), the :data:`MARKER` key and nan/infinity (visible in the written bytes,
    or refused, see ``JSONSerializer.dumps``).
    """
    level = [obj]
    levels: list[list[Any]] = []
    allowed = _PLAIN_TYPES
    referents = gc.get_referents
    while level:
        types = set(map(type, level))
        if not types <= allowed or len(levels) > _MAX_DEPTH:
            return None
        levels.append(level)
        if types <= _LEAF_TYPES:
            break  # only atoms: nothing below
        if str_keys and dict in types:
            dicts = level if len(types) == 1 else [o for o in level if type(o) is dict]
            if not set(map(type, itertools.chain.from_iterable(dicts))) <= _STR:
                return None
        level = referents(*level)
    return levels


def count_none(levels: list[list[Any]]) -> int:
    """How many ``None`` the value holds (each written as ``null``)."""
    return sum(operator.countOf(level, None) for level in levels)


__all__ = ["MARKER", "count_none", "plain_levels"]
