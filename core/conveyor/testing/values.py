"""Hypothesis strategies of values, sample types, and strict comparison, for serializer tests.

The strategies build values of the types conveyor's own serializers round-trip exactly;
:func:`assert_same` compares a value with its round trip strictly (same types all the way
down, ``nan`` equal to ``nan``, ``-0.0`` different from ``0.0``, time zones and ``fold``
kept). :mod:`conveyor.testing.serializers` re-exports them.

May import: nothing of conveyor (hypothesis, attrs, the standard library).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import math
import pathlib
from typing import Any

import attrs
from hypothesis import strategies as st

# -- sample classes (module level, so serializers can find them again by import path) ----


class SampleColor(enum.Enum):
    RED = 1
    GREEN = "green"
    BLUE = (0, 0, 255)


class SampleLevel(enum.IntEnum):
    LOW = 1
    HIGH = 2


class SampleFlag(enum.Flag):
    READ = 1
    WRITE = 2
    EXEC = 4


@dataclasses.dataclass
class SamplePoint:
    label: str
    payload: Any = None


@dataclasses.dataclass(frozen=True)
class SampleFrozenPoint:
    x: int
    y: float


@attrs.define
class SampleRecord:
    key: Any
    items: Any = None


@attrs.frozen
class SampleFrozenRecord:
    name: str
    size: int = 0


try:
    import pydantic
except ImportError:  # pragma: no cover - pydantic is optional
    pydantic = None  # type: ignore[assignment]

if pydantic is not None:

    class SampleModel(pydantic.BaseModel):
        name: str
        values: list[int] = pydantic.Field(default_factory=list)
        when: dt.datetime | None = None

    class SampleOuterModel(pydantic.BaseModel):
        inner: SampleModel
        tags: dict[str, float] = pydantic.Field(default_factory=dict)


# -- strategies ------------------------------------------------------------------------

_INT64 = st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)


def plain_values(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Values every JSON library holds natively: None, bool, 64-bit int, finite float,
    str, list, and dict with str keys, nested."""
    scalars = st.none() | st.booleans() | _INT64 | st.floats(allow_nan=False, allow_infinity=False) | st.text()
    return st.recursive(
        scalars,
        lambda children: st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=8), children, max_size=5),
        max_leaves=max_leaves,
    )


def _zones() -> st.SearchStrategy[Any]:
    fixed = st.builds(
        lambda minutes, name: dt.timezone(dt.timedelta(minutes=minutes), name)
        if name
        else dt.timezone(dt.timedelta(minutes=minutes)),
        st.integers(min_value=-23 * 60, max_value=23 * 60),
        st.none() | st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=5),
    )
    return st.none() | st.just(dt.UTC) | fixed | st.timezones()


def _scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=1 << 64, max_value=1 << 200) | st.integers(max_value=-(1 << 63) - 1, min_value=-(1 << 200)),
        st.floats(),
        st.text(),
        st.text(st.characters(categories=("Cs", "Ll")), max_size=4),  # lone surrogates too
        st.binary(max_size=32),
        st.datetimes(timezones=_zones()),
        st.dates(),
        st.times(timezones=_zones()),
        st.timedeltas(),
        st.decimals(),
        st.uuids(),
        st.builds(pathlib.PurePosixPath, st.text(alphabet="abc/._-", max_size=12))
        | st.builds(pathlib.Path, st.text(alphabet="abc/._-", max_size=12)),
        st.sampled_from(list(SampleColor) + list(SampleLevel) + list(SampleFlag))
        | st.just(SampleFlag.READ | SampleFlag.WRITE),
    )


def hashable_values() -> st.SearchStrategy[Any]:
    """Values that can be dict keys and set elements (no nan: nan is never equal to itself)."""
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=10),
        st.binary(max_size=8),
        st.dates(),
        st.decimals(allow_nan=False),
        st.uuids(),
        st.sampled_from(list(SampleColor)[:2] + list(SampleLevel)),
        st.builds(SampleFrozenRecord, st.text(max_size=5), st.integers()),
        st.builds(SampleFrozenPoint, st.integers(), st.floats(allow_nan=False)),
    )
    return st.recursive(
        leaves,
        lambda children: st.lists(children, max_size=3).map(tuple)
        | st.frozensets(children, max_size=3),
        max_leaves=6,
    )


def _objects(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    objects: st.SearchStrategy[Any] = st.one_of(
        st.builds(SamplePoint, st.text(max_size=8), children),
        st.builds(SampleRecord, hashable_values(), children),
        st.builds(SampleFrozenRecord, st.text(max_size=8), st.integers()),
    )
    if pydantic is not None:
        model = st.builds(
            SampleModel,
            name=st.text(max_size=8),
            values=st.lists(_INT64, max_size=4),
            when=st.none() | st.datetimes(timezones=st.none() | st.just(dt.UTC)),
        )
        objects = objects | model | st.builds(
            SampleOuterModel,
            inner=model,
            tags=st.dictionaries(st.text(max_size=5), st.floats(allow_nan=False, allow_infinity=False), max_size=3),
        )
    return objects


def exact_values(max_leaves: int = 25) -> st.SearchStrategy[Any]:
    """Everything conveyor's JSON and pickle serializers round-trip exactly: the plain
    values plus ints of any size, nan/inf, bytes, tuple, set, frozenset, dicts with
    non-str keys (and with the JSON marker key), date/time types with zones, Decimal,
    UUID, Path, Enum members, dataclasses, attrs classes and pydantic models, nested."""
    marker_dicts = st.dictionaries(
        st.sampled_from(["$conveyor", "v", "cls", "x"]), st.text(max_size=5), min_size=1
    )
    return st.recursive(
        _scalars() | marker_dicts,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.lists(children, max_size=4).map(tuple),
            st.dictionaries(st.text(max_size=8), children, max_size=4),
            st.dictionaries(hashable_values(), children, max_size=4),
            st.sets(hashable_values(), max_size=4),
            st.frozensets(hashable_values(), max_size=4),
            _objects(children),
        ),
        max_leaves=max_leaves,
    )


# -- exact comparison --------------------------------------------------------------------


def _same_tz(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    return type(a) is type(b) and repr(a) == repr(b)


def assert_same(actual: Any, expected: Any, path: str = "value") -> None:
    """Assert ``actual`` is ``expected`` rebuilt: same types and values all the way down."""
    if type(actual) is not type(expected):
        raise AssertionError(
            f"{path}: type {type(actual).__name__} != {type(expected).__name__} "
            f"({actual!r} vs {expected!r})"
        )
    t = type(expected)
    ok = True
    if t is float:
        ok = (math.isnan(actual) and math.isnan(expected)) or (
            actual == expected and math.copysign(1, actual) == math.copysign(1, expected)
        )
    elif t is complex:
        assert_same(actual.real, expected.real, path + ".real")
        assert_same(actual.imag, expected.imag, path + ".imag")
    elif t is decimal.Decimal:
        ok = actual.as_tuple() == expected.as_tuple()
    elif t in (list, tuple):
        ok = len(actual) == len(expected)
        if ok:
            for index, (a, e) in enumerate(zip(actual, expected)):
                assert_same(a, e, f"{path}[{index}]")
    elif t is dict:
        ok = len(actual) == len(expected)
        if ok:
            for (ka, va), (ke, ve) in zip(actual.items(), expected.items()):
                assert_same(ka, ke, f"{path} key {ke!r}")
                assert_same(va, ve, f"{path}[{ke!r}]")
    elif t in (set, frozenset):
        ok = actual == expected
        if ok:
            by_value = {a: a for a in actual}
            for e in expected:
                assert_same(by_value[e], e, f"{path} element {e!r}")
    elif t in (dt.datetime, dt.time):
        ok = (
            actual.replace(tzinfo=None) == expected.replace(tzinfo=None)
            and actual.fold == expected.fold
            and _same_tz(actual.tzinfo, expected.tzinfo)
        )
    elif isinstance(expected, enum.Enum):
        ok = actual is expected
    elif dataclasses.is_dataclass(expected):
        for f in dataclasses.fields(expected):
            assert_same(getattr(actual, f.name), getattr(expected, f.name), f"{path}.{f.name}")
    elif attrs.has(t):
        for a in attrs.fields(t):
            assert_same(getattr(actual, a.name), getattr(expected, a.name), f"{path}.{a.name}")
    elif pydantic is not None and isinstance(expected, pydantic.BaseModel):
        for name in type(expected).model_fields:
            assert_same(getattr(actual, name), getattr(expected, name), f"{path}.{name}")
        ok = actual.model_fields_set == expected.model_fields_set
    else:
        ok = _equal(actual, expected, path)
    if not ok:
        raise AssertionError(f"{path}: {actual!r} != {expected!r}")


def _equal(actual: Any, expected: Any, path: str) -> bool:
    """``actual == expected`` as a bool; a type whose ``==`` has no single truth value
    (a numpy array, a DataFrame) is an AssertionError saying what to do instead."""
    answer = actual == expected
    if type(answer) is bool:
        return answer
    try:
        return bool(answer)
    except (TypeError, ValueError) as exc:
        raise AssertionError(
            f"{path}: {type(expected).__name__} values cannot be compared with == "
            f"(its answer, a {type(answer).__name__}, is not a bool: {exc}); compare them with "
            f"their own equality, e.g. override SerializerConformance.assert_equal with "
            f"numpy.array_equal"
        ) from exc


# -- the most limited file objects ---------------------------------------------------------


__all__ = [
    "SampleColor",
    "SampleFlag",
    "SampleFrozenPoint",
    "SampleFrozenRecord",
    "SampleLevel",
    "SamplePoint",
    "SampleRecord",
    "assert_same",
    "exact_values",
    "hashable_values",
    "plain_values",
]
