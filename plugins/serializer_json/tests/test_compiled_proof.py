"""The compiled proof (``conveyor_serializer_json._proof.is_plain``) against its definition.

``is_plain(value)`` must be exactly "made only of JSON's own types": dict with exact
``str`` keys, list, str, int from -2**63 to 2**64 - 1, finite float, bool and None, at
most 256 containers deep. :func:`_reference` says the same in plain Python, and every
value hypothesis draws (plain data, with anything else mixed in at any depth) must get
the same answer from both. The boundaries are pinned one by one.
"""

from __future__ import annotations

import collections
import enum
import math
import time
import uuid
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

try:
    from conveyor_serializer_json._proof import is_plain
except ImportError as exc:  # a failure, not a skip: the install is meant to compile it
    raise ImportError(
        f"conveyor_serializer_json._proof was not built ({exc}): reinstall the plugin where a "
        f"C compiler is (make install), see plugins/serializer_json/hatch_build.py"
    ) from exc

MAX_DEPTH = 256


def _reference(value: Any, depth: int = 0) -> bool:
    kind = type(value)
    if kind in (str, bool, type(None)):
        return True
    if kind is int:
        return -(2**63) <= value <= 2**64 - 1
    if kind is float:
        return math.isfinite(value)
    if depth >= MAX_DEPTH:
        return False
    if kind is list:
        return all(_reference(v, depth + 1) for v in value)
    if kind is dict:
        return all(type(k) is str and _reference(v, depth + 1) for k, v in value.items())
    return False


#: A subclass of each of JSON's container and atom types (bool cannot have one).
_SUB = {base: type(f"_Sub{base.__name__}", (base,), {}) for base in (str, int, float, dict, list)}


class _Level(enum.IntEnum):
    HIGH = 3


class _Tone(str, enum.Enum):
    LOW = "low"


#: One of each thing that is not JSON's own type, or not exactly.
NOT_PLAIN = [
    (), (1,), time.gmtime(0), _SUB[str]("s"), _SUB[int](1), _SUB[float](0.5), _SUB[dict](a=1), _SUB[list]([1]),
    collections.OrderedDict(a=1), _Level.HIGH, _Tone.LOW, uuid.UUID(int=1), b"x", bytearray(b"x"),
    {1}, frozenset(), 1j, float("nan"), float("inf"), float("-inf"), 2**64, -(2**63) - 1, 10**100,
    orjson.Fragment(b"1"), object(), len, {1: "a"}, {None: 1}, {True: 1}, {_SUB[str]("k"): 1}, {(1,): 2},
]

_atoms = (
    st.none() | st.booleans() | st.text(max_size=4)
    | st.integers(min_value=-(2**65), max_value=2**65) | st.floats()
)
_odd = st.sampled_from(NOT_PLAIN)
_values = st.recursive(
    _atoms | _odd,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=3), inner, max_size=4)
    | st.dictionaries(st.integers(0, 3) | st.none(), inner, max_size=2)
    | st.tuples(inner),
    max_leaves=12,
)
_plain_values = st.recursive(
    st.none() | st.booleans() | st.text(max_size=4)
    | st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(value=_values)
def test_is_plain_says_what_its_definition_says(value: Any) -> None:
    assert is_plain(value) is _reference(value)
    assert is_plain([value, value]) is _reference(value)
    assert is_plain({"k": [{"v": value}]}) is _reference(value)


@settings(max_examples=200, deadline=None)
@given(value=_plain_values)
def test_plain_data_is_plain(value: Any) -> None:
    assert is_plain(value) is True


@pytest.mark.parametrize("odd", NOT_PLAIN, ids=lambda v: type(v).__name__)
def test_each_thing_not_plain_is_seen_wherever_it_sits(odd: Any) -> None:
    records = [{"id": i, "name": "n", "tags": ["a", "b"], "score": 0.5} for i in range(50)]
    for place in ("id", "tags", "deep"):
        rows = [dict(r) for r in records]
        rows[37][place] = {"x": [[odd]]} if place == "deep" else odd
        if place == "tags":
            rows[37][place] = ["a", odd]
        assert is_plain(rows) is False, (odd, place)
    assert is_plain(records) is True


def test_the_int_range_is_the_one_both_libraries_read() -> None:
    for inside in (-(2**63), -1, 0, 2**63 - 1, 2**63, 2**64 - 1):
        assert is_plain(inside) and is_plain([inside]), inside
    for outside in (-(2**63) - 1, 2**64, -(2**64), 2**200):
        assert not is_plain(outside) and not is_plain({"n": outside}), outside


def test_floats_must_be_finite_and_negative_zero_is_plain() -> None:
    assert is_plain([0.0, -0.0, 1e308, 5e-324, -1.5])
    for odd in (math.nan, math.inf, -math.inf):
        assert not is_plain([1.0, odd])


def test_nesting_is_proven_to_256_containers_and_no_deeper() -> None:
    def nested(levels: int) -> Any:
        value: Any = 1
        for i in range(levels):
            value = [value] if i % 2 else {"k": value}
        return value

    assert is_plain(nested(MAX_DEPTH)) is True
    assert is_plain(nested(MAX_DEPTH + 1)) is False
    cycle: list[Any] = []
    cycle.append(cycle)
    assert is_plain(cycle) is False  # bounded by the depth: no endless walk


def test_a_dict_with_only_str_keys_left_is_plain_whatever_its_layout() -> None:
    d: dict[Any, Any] = {"a": 1, 2: 3}
    del d[2]
    assert is_plain(d) is True
    d[_SUB[str]("b")] = 1
    assert is_plain(d) is False


def test_it_takes_exactly_one_argument() -> None:
    with pytest.raises(TypeError):
        is_plain()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        is_plain(1, 2)  # type: ignore[call-arg]
