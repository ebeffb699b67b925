"""Proving cheaply that a value is plain JSON data, column by column.

The library (orjson or the standard ``json``) writes the value's bytes; what it cannot be
trusted with is what it writes *natively but not exactly*. With the options
:data:`ORJSON_GUARD` orjson refuses every non-native type, every subclass, dataclasses,
datetimes, non-``str`` keys, ints beyond 64 bits and lone surrogates by itself; what it
still accepts natively and would not give back is, exactly:

- ``tuple`` (written as a list),
- ``Enum`` members and ``uuid.UUID`` (written as their value / as a string),
- ``orjson.Fragment`` (its bytes written as they are),
- nan and infinities (written as ``null``).

The standard library also writes ``str``/``int``/``float`` subclasses natively, converts
``int``/``float``/``bool``/``None`` keys to strings and writes ints of any size; those
are refused here with orjson's help (see :func:`proven_plain`).

How it stays cheap: ``gc.get_referents`` walks the containers in C, and instances of any
class defined in Python, tuples, lists and dicts are the objects it sees into (they have
referents); ``str``, ``int``, ``float``, ``bool``, ``None`` and the other C atoms have none.
The values of a list of dicts are cut into *columns* (every k-th value, k being the
first dict's length): a column without referents is made of C atoms, checked with one
C-level call by kind (``sum`` for numbers, ``str.join`` for strings...), and a column of
containers of one type with one count of their types. Any partition into columns is
sound, since each column is checked on its own; the guess only decides how fast it goes.
When the proof fails the caller takes the exact, slower path: a ``False`` here is never
an error.

What it costs: about 90 ns for a small record (five values, one a list of two strings),
as long as orjson takes to write it. That is the floor of this walk: each object costs
a few ns in ``gc.get_referents`` and in its column's C-level check, and no C-level call
of the standard library tells a tuple from a list in bulk but a count of types.

So the same proof also exists compiled (``_proof.c``, built at install when a C compiler
is there, see the distribution's ``hatch_build.py``): one exact type check per object,
about 40 % of the walk's time for that record. :func:`proven_parts` uses it when it
was built (:data:`COMPILED`), and this walk otherwise; both refuse everything above.

May import: orjson (third-party), the standard library, the compiled ``_proof``.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import orjson

try:  # built at install time when a C compiler was there; the walk below otherwise
    from conveyor_serializer_json._proof import is_plain as _is_plain
except ImportError:
    _is_plain = None

#: Whether this install has the compiled ``_proof`` module (:func:`proven_parts` then uses it).
COMPILED = _is_plain is not None

#: orjson refuses (rather than writes natively) dataclasses, datetimes and subclasses.
ORJSON_GUARD = (
    orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
)

_CONTAINERS = frozenset({dict, list})
_NUMBERS = frozenset({int, float, bool})
#: deeper than orjson writes (it refuses 255 levels): a reference cycle, or the slow path's job
_MAX_DEPTH = 256


def proven_plain(column: list[Any], stdlib: bool) -> bool:
    """True when every object in ``column`` (and below) is JSON's own type, exactly.

    For orjson (``stdlib=False``) the caller has already written the value with
    :data:`ORJSON_GUARD` without error; what is left is tuples, Enum/UUID members,
    fragments and nan/infinity. For the standard library (``stdlib=True``) every column
    of atoms is also proven of exact types, and ints within 64 bits (see
    :func:`_stdlib_atoms`), and every dict must have only exact ``str`` keys; nan and
    infinity are refused by the encoder itself (``allow_nan=False``), and so are
    fragments (not a type it knows) and lone surrogates (not UTF-8).

    The walk goes level by level; a column whose objects are all of one container type
    (the common case) costs one count of their types and one ``gc.get_referents``.
    A class whose metaclass makes it compare equal to ``dict`` or ``list`` is still
    caught: orjson refuses it, and, being defined in Python, it is one of its instances'
    referents (a dict's referents then outnumber its items; below a list, a class is
    refused wherever it lands).
    """
    referents = gc.get_referents
    level = [column]
    for _ in range(_MAX_DEPTH + 1):
        deeper: list[list[Any]] = []
        for col in level:  # never empty
            first = type(col[0])
            if first is not dict and first is not list:
                if not (_stdlib_atoms(col, first) if stdlib else _orjson_atoms(col, first)):
                    return False
                continue
            uniform = list(map(type, col)).count(first) == len(col)
            if not uniform and not set(map(type, col)) <= _CONTAINERS:
                return False
            below = referents(*col)
            if stdlib and (first is dict or not uniform) and len(below) != sum(map(len, col)):
                return False  # a dict with keys other than exact str (its keys are referents then)
            if not below:
                continue  # empty containers only
            stride = len(col[0]) if uniform and first is dict else 1
            if stride > 1 and not len(below) % stride:
                deeper += [below[j::stride] for j in range(stride)]
            else:
                deeper.append(below)
        if not deeper:
            return True
        level = deeper
    return False  # deeper than orjson writes: a reference cycle, or the slow path's job


def _orjson_atoms(col: list[Any], first: type) -> bool:
    """A column without referents holds no tuple but ``()``, no Enum, no UUID: only C
    atoms. Each check below raises TypeError at a fragment or an empty tuple, and the
    number check sees nan/infinity in its sum."""
    if gc.get_referents(*col):
        return False  # a tuple, an instance of a Python class, or containers among atoms
    try:
        if first in _NUMBERS:
            total = sum(col)
            return type(total) is int or total - total == 0.0  # an int, or a finite float
        if first is str:
            "".join(col)  # anything but a str among them raises (a copy no larger than the
            return True  # library's bytes for those strings, which the caller holds anyway)
        if col[0] is None:
            return col.count(None) == len(col)
    except (TypeError, OverflowError):
        return False
    return False


def _stdlib_atoms(col: list[Any], first: type) -> bool:
    """No referents: no tuple but ``()``, no instance of a class defined in Python (an
    Enum member, a subclass). Then floats by their exact type, counted (nan is the
    encoder's to refuse); the others by orjson with the guard, which refuses subclasses,
    ints beyond 64 bits and lone surrogates, and writes the empty tuple ``[]``: a ``[``
    after the column's own (a string holding one only sends the value to the next path)."""
    if gc.get_referents(*col):
        return False
    if first is float:
        return list(map(type, col)).count(float) == len(col)
    try:
        out = orjson.dumps(col, option=ORJSON_GUARD)
    except TypeError:
        return False
    return out.find(b"[", 1) < 0


def _proves(column: list[Any], stdlib: bool) -> bool:
    """The compiled proof when it was built (it checks what both libraries need, so
    ``stdlib`` does not change it), else :func:`proven_plain`."""
    if _is_plain is not None:
        return _is_plain(column)  # type: ignore[no-any-return]
    return proven_plain(column, stdlib)


#: What :func:`proven_parts` returns when the library refused the value.
REFUSED: Any = object()


def proven_parts(obj: Any, stdlib: bool, encode: Callable[[Any], bytes], chunk: int, tag: bytes) -> Any:
    """The library's bytes for ``obj`` as parts (joined, they are the whole), when the
    proof (compiled, or :func:`proven_plain`) holds; ``None`` when it fails.
    :data:`REFUSED` when ``encode`` raised (orjson with the guard, or json: a type it
    does not write natively, a subclass, a non-str key, a big int, a lone surrogate, nan
    for json, nesting too deep) or when the bytes hold ``tag`` (a user's dict with the
    marker key, to be escaped): no plain-data path would take such a value, it is the
    Encoder's.

    A list longer than ``chunk`` is written and proven chunk by chunk, each chunk checked
    while the library's pass has left it in the CPU cache; both libraries write a list
    as ``[`` + its items joined by ``,`` + ``]``, so the parts are exactly those bytes.
    The proof runs after the library (which refuses most things faster), on what its
    pass has just brought into the cache.
    """
    try:
        if type(obj) is not list or len(obj) <= chunk:
            out = encode(obj)
            if b"$" in out and tag in out:
                return REFUSED
            return [out] if _proves([obj], stdlib) else None
        parts: list[Any] = [b"["]
        for start in range(0, len(obj), chunk):
            items = obj[start : start + chunk]
            part = encode(items)
            if b"$" in part and tag in part:
                return REFUSED
            if not _proves(items, stdlib):
                return None
            parts += (memoryview(part)[1:-1], b",")
        parts[-1] = b"]"
        return parts
    except (TypeError, ValueError, RecursionError):  # a lone surrogate (UnicodeEncodeError),
        return REFUSED  # a cycle or a deep nesting (json has check_circular=False) included


__all__ = ["COMPILED", "ORJSON_GUARD", "REFUSED", "proven_parts", "proven_plain"]
