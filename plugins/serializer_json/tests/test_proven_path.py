"""The proven path (conveyor_serializer_json.plain): the library writes the value, a cheap
proof (compiled, or a column-by-column walk) shows it was plain JSON data. Everything
either library writes natively but not exactly must make the proof fail, wherever it
sits; the result must then be what the exact Encoder gives (the same bytes, or the same
error). Every test runs with each form of the proof."""

from __future__ import annotations

import collections
import contextlib
import enum
import io
import time
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from conveyor.exceptions import SerializationError
from conveyor.serializers import JSONSerializer
from conveyor.testing.serializers import (
    SampleColor,
    SampleFlag,
    SampleLevel,
    SampleRecord,
    assert_same,
    exact_values,
    plain_values,
)
from conveyor_serializer_json import json_serializer, plain
from conveyor_serializer_json.codec import MARKER
from conveyor_serializer_json.encoder import Encoder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

LIBS = pytest.mark.parametrize("lib", ["json", "orjson"])


@pytest.fixture(autouse=True, params=["compiled", "walk"])
def proof(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The compiled proof (``_proof.c``, built by the editable install), or the walk."""
    if request.param == "compiled":
        assert plain.COMPILED, (
            "conveyor_serializer_json._proof was not built: reinstall the plugin where a C "
            "compiler is (make install), see plugins/serializer_json/hatch_build.py"
        )
    else:
        monkeypatch.setattr(plain, "_is_plain", None)
    return request.param  # type: ignore[no-any-return]

_bounded = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class _Str(str):
    __slots__ = ()


class _Int(int):
    pass


class _Float(float):
    pass


class _Dict(dict):  # type: ignore[type-arg]
    pass


class _List(list):  # type: ignore[type-arg]
    pass


class _Tone(str, enum.Enum):
    LOW = "low"


class _Ratio(float, enum.Enum):
    HALF = 0.5


class _EqualToEveryType(type):
    """A metaclass whose classes compare equal to any type (to dict, list, float...)."""

    def __eq__(cls, other: object) -> bool:
        return True

    __hash__ = type.__hash__


class _EqDict(dict, metaclass=_EqualToEveryType):  # type: ignore[type-arg]
    pass


class _EqList(list, metaclass=_EqualToEveryType):  # type: ignore[type-arg]
    pass


class _EqFloat(float, metaclass=_EqualToEveryType):
    __slots__ = ()


def _dict_with_deleted_int_key() -> dict[Any, Any]:
    d: dict[Any, Any] = {"a": 1, 2: 3}
    del d[2]  # only str keys left, but the dict keeps its general layout
    return d


#: Values a library writes natively (or might) that do not come back as they went in,
#: and values the proof must simply not take (each must reach the Encoder).
TRICKY: dict[str, Any] = {
    "tuple": (1, 2),
    "empty tuple": (),
    "tuple in list": [1, (2,)],
    "enum": SampleColor.BLUE,
    "int enum": SampleLevel.HIGH,
    "str enum": _Tone.LOW,
    "float enum": _Ratio.HALF,
    "flag": SampleFlag.READ,
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "nan": float("nan"),
    "inf": float("inf"),
    "-inf": float("-inf"),
    "int beyond 64 bits": 2**64,
    "int below -2**63": -(2**63) - 1,
    "str subclass": _Str("s"),
    "int subclass": _Int(3),
    "float subclass": _Float(1.5),
    "dict subclass": _Dict(a=1),
    "list subclass": _List([1]),
    "dict subclass equal to dict": _EqDict(a=1),
    "list subclass equal to list": _EqList([1]),
    "float subclass equal to float": _EqFloat(0.25),
    "OrderedDict": collections.OrderedDict(a=1),
    "defaultdict": collections.defaultdict(int, a=1),
    "struct_time (a C tuple subclass)": time.gmtime(0),
    "int key": {1: "a"},
    "None key": {None: 1},
    "bool key": {True: 1},
    "float key": {1.5: 1},
    "str subclass key": {_Str("k"): 1},
    "marker key": {MARKER: "tuple", "v": [1]},
    "lone surrogate": "\ud800",
    "bytes": b"x",
    "set": {1},
    "dataclass": SampleRecord(key=(1, 2), items=[1]),
    "orjson.Fragment": orjson.Fragment(b"[1]"),
}

#: Plain JSON data in a shape a walk may misread: whether it is proven depends on the
#: proof, but the bytes must be the Encoder's and read back exactly.
ODD_BUT_PLAIN: dict[str, Any] = {
    "dict that had an int key": _dict_with_deleted_int_key(),  # general layout: keys are referents
}

#: Where the tricky value goes in a list of records (each a column of the proof).
PLACES = ["id", "name", "score", "ok", "none", "tags", "in tags", "row", "alone", "nested"]


@LIBS
@pytest.mark.parametrize("chunked", [False, True], ids=["whole", "chunked"])
@pytest.mark.parametrize("at", [0, 5, 10])
def test_a_record_keyed_by_the_marker_is_escaped(lib: str, chunked: bool, at: int) -> None:
    """A record of the same shape with the marker as a key passes the type proof: the
    written bytes must send it to the Encoder (else it would be read back as a tag)."""
    serializer = JSONSerializer(jsonlib=lib)
    rows = _records(11)
    rows[at] = {MARKER if k == "name" else k: v for k, v in rows[at].items()}
    rows[at][MARKER] = "tuple"
    with _small_chunks() if chunked else contextlib.nullcontext():
        assert _proven(serializer, rows) is None
        result = _result(serializer, rows)
    assert result == _encoder_result(serializer, rows)
    back = serializer.loads(result)  # type: ignore[arg-type]
    assert_same(back, rows)


def _records(n: int) -> list[dict[str, Any]]:
    return [
        {"id": i, "name": f"n{i}", "score": i / 4, "ok": i % 2 == 0, "none": None, "tags": ["a", "b"]}
        for i in range(n)
    ]


def _place(value: Any, where: str, n: int = 11) -> Any:
    if where == "alone":
        return value
    rows: list[Any] = _records(n)
    at = n - 3
    if where == "row":
        rows[at] = value
    elif where == "in tags":
        rows[at]["tags"] = ["a", value]
    elif where == "nested":
        return {"meta": {"n": n}, "rows": rows[:at] + [{"deep": [value]}] + rows[at:]}
    else:
        rows[at][where] = value
    return rows


@contextlib.contextmanager
def _small_chunks(size: int = 4) -> Iterator[None]:
    """Chunks of a few items, so that small values take the chunked path too."""
    saved = json_serializer._CHUNK
    json_serializer._CHUNK = size
    try:
        yield
    finally:
        json_serializer._CHUNK = saved


def _encoder_result(serializer: JSONSerializer, value: Any) -> bytes | str:
    """What the exact Encoder path gives: its bytes, or the text of its error."""
    try:
        try:
            return serializer._write(Encoder(None, check_strings=False).encode(value))
        except (TypeError, ValueError):  # lone surrogates: the serializer retries, tagging them
            return serializer._write(Encoder(None, check_strings=True).encode(value))
    except SerializationError as exc:
        return str(exc)


def _proven(serializer: JSONSerializer, value: Any) -> Any:
    """The proven path's bytes, or what it returns when it does not prove the value."""
    parts = serializer._proven_parts(value)
    return b"".join(parts) if isinstance(parts, list) else parts


def _result(serializer: JSONSerializer, value: Any) -> bytes | str:
    try:
        return serializer.dumps(value)
    except SerializationError as exc:
        return str(exc)


def _at_each_place(serializer: JSONSerializer, item: Any) -> Iterator[tuple[str, Any, Any, bytes | str]]:
    """``item`` at each of :data:`PLACES`, written whole and in small chunks: (where, the
    value, what the proven path gave, what ``dumps`` gave); the result is checked to be
    the Encoder's (bytes or error) and, as bytes, to read back exactly."""
    for chunked in (False, True):
        for where in PLACES:
            value = _place(item, where)
            with _small_chunks() if chunked else contextlib.nullcontext():
                proven = _proven(serializer, value)
                result = _result(serializer, value)
            assert result == _encoder_result(serializer, value), f"{item!r} at {where}"
            if isinstance(result, bytes):
                assert_same(serializer.loads(result), value)
            yield where, value, proven, result


@LIBS
@pytest.mark.parametrize("name", list(TRICKY))
def test_what_the_libraries_write_inexactly_is_never_proven(lib: str, name: str) -> None:
    for where, _value, proven, _result in _at_each_place(JSONSerializer(jsonlib=lib), TRICKY[name]):
        assert not isinstance(proven, bytes), f"{name} at {where} was proven plain"


@LIBS
@pytest.mark.parametrize("name", list(ODD_BUT_PLAIN))
def test_plain_data_in_odd_shapes_is_written_as_the_encoder_would(lib: str, name: str, proof: str) -> None:
    for where, _value, proven, result in _at_each_place(JSONSerializer(jsonlib=lib), ODD_BUT_PLAIN[name]):
        assert isinstance(result, bytes), f"{name} at {where}"
        if proof == "compiled":  # an exact type check: it sees plain data as plain
            assert isinstance(proven, bytes), f"{name} at {where}"


@LIBS
@pytest.mark.parametrize("chunked", [False, True], ids=["whole", "chunked"])
def test_plain_records_are_proven_and_written_by_the_library(lib: str, chunked: bool) -> None:
    serializer = JSONSerializer(jsonlib=lib)
    value = _records(11)
    with _small_chunks() if chunked else contextlib.nullcontext():
        out = _proven(serializer, value)
    assert isinstance(out, bytes)
    assert out == orjson.dumps(value) == _encoder_result(serializer, value)


@LIBS
def test_the_real_chunk_size_with_a_tricky_value_in_the_last_chunk(lib: str) -> None:
    serializer = JSONSerializer(jsonlib=lib)
    n = json_serializer._CHUNK * 2 + 7
    for name in ("empty tuple", "int enum", "nan", "int key", "orjson.Fragment"):
        value = _place(TRICKY[name], "score" if name != "int key" else "row", n)
        assert not isinstance(_proven(serializer, value), bytes), name
        assert _result(serializer, value) == _encoder_result(serializer, value)
    plain = _records(n)
    assert serializer.dumps(plain) == orjson.dumps(plain)


def _cycle() -> list[Any]:
    cyclic: list[Any] = [1]
    cyclic.append({"back": [cyclic]})
    return cyclic


@LIBS
@pytest.mark.parametrize("name", [*TRICKY, "cycle"])
def test_each_tricky_kind_deep_inside_a_large_list_of_records(lib: str, name: str) -> None:
    """Chunks of the real size; the value sits in one record of a middle chunk (as a
    column's value, or four levels down) or of the very end, never first in its column.
    It must reach the Encoder and read back exactly (or fail as the Encoder does)."""
    serializer = JSONSerializer(jsonlib=lib)
    n = json_serializer._CHUNK * 2 + 5
    rows = _records(n)
    value = _cycle() if name == "cycle" else TRICKY[name]
    for at, column, nested in (
        (json_serializer._CHUNK + 17, "tags", value),
        (json_serializer._CHUNK + 17, "score", {"deep": [{"deeper": [0.5, value]}]}),
        (n - 1, "tags", ["a", [{"b": [[], value]}]]),
    ):
        saved = rows[at][column]
        rows[at][column] = nested
        try:
            assert not isinstance(_proven(serializer, rows), bytes), f"{name} in {column} of row {at}"
            result = _result(serializer, rows)
            if isinstance(result, bytes):
                back = serializer.loads(result)
                assert_same(back[at], rows[at])  # the others are plain: their JSON says their types
                assert orjson.dumps(back[:at] + back[at + 1 :]) == orjson.dumps(rows[:at] + rows[at + 1 :])
            else:
                assert result == _encoder_result(serializer, rows), f"{name} in {column} of row {at}"
        finally:
            rows[at][column] = saved
    assert serializer.dumps(rows) == orjson.dumps(rows)


class _WriteOnly(io.RawIOBase):
    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.data += b
        return len(b)


@LIBS
@pytest.mark.parametrize("chunked", [False, True], ids=["whole", "chunked"])
def test_dump_writes_what_dumps_returns(lib: str, chunked: bool) -> None:
    serializer = JSONSerializer(jsonlib=lib)
    for value in (_records(11), _place(TRICKY["tuple"], "tags"), _place(TRICKY["nan"], "score"), {"a": [1]}):
        with _small_chunks() if chunked else contextlib.nullcontext():
            stream = _WriteOnly()
            serializer.dump(value, stream)  # type: ignore[arg-type]
            assert bytes(stream.data) == serializer.dumps(value)
        assert_same(serializer.loads(bytes(stream.data)), value)


@LIBS
def test_fragment_is_refused_with_its_path(lib: str) -> None:
    value = _place(orjson.Fragment(b"[1]"), "in tags")
    with pytest.raises(SerializationError, match=r"value\[8\]\['tags'\]\[1\] as JSON: type 'orjson.Fragment'"):
        JSONSerializer(jsonlib=lib).dumps(value)


@LIBS
def test_records_in_varying_shapes_stay_exact(lib: str) -> None:
    """Any split into columns is sound: keys in other orders, missing keys, mixed types."""
    serializer = JSONSerializer(jsonlib=lib)
    rows: list[Any] = _records(9)
    rows[2] = {"tags": [], "id": 2}
    rows[4] = {"name": 4, "id": "four", "score": None, "ok": [], "none": {}, "tags": "x"}
    rows[6]["extra"] = (1,)
    for value in (rows, rows[:6], {"rows": rows}, [[], {}, [[]], [{}]]):
        with _small_chunks(3):
            result = _result(serializer, value)
        assert result == _encoder_result(serializer, value)
        assert isinstance(result, bytes)
        assert_same(serializer.loads(result), value)


@LIBS
def test_cycles_and_depth_reach_the_encoder(lib: str) -> None:
    serializer = JSONSerializer(jsonlib=lib)
    cyclic: list[Any] = [1]
    cyclic.append([cyclic])
    with pytest.raises(SerializationError, match="cycle"):
        serializer.dumps(cyclic)
    deep: list[Any] = []
    for _ in range(250 if lib == "orjson" else 400):  # orjson writes at most 254 levels
        deep = [deep]
    assert serializer.loads(serializer.dumps(deep)) == deep


@LIBS
@_bounded
@given(values=st.lists(exact_values(max_leaves=8) | plain_values(max_leaves=8), max_size=9))
def test_lists_chunked_write_exactly_what_the_encoder_would(lib: str, values: list[Any]) -> None:
    _writes_what_the_encoder_would(lib, values, chunk=2)


@LIBS
@_bounded
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {"a": st.integers(), "b": st.floats() | st.text(), "c": st.lists(st.none() | st.booleans(), max_size=3)},
            optional={"d": exact_values(max_leaves=3)},
        ),
        max_size=12,
    )
)
def test_records_with_hypothesis_values_stay_exact(lib: str, rows: list[Any]) -> None:
    _writes_what_the_encoder_would(lib, rows, chunk=3)


def _writes_what_the_encoder_would(lib: str, values: list[Any], chunk: int) -> None:
    """Written in chunks of ``chunk``: the Encoder's bytes (or its error), read back exactly."""
    serializer = JSONSerializer(jsonlib=lib)
    with _small_chunks(chunk):
        result = _result(serializer, values)
    assert result == _encoder_result(serializer, values)
    if isinstance(result, bytes):
        assert_same(serializer.loads(result), values)
