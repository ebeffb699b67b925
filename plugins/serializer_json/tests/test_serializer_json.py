"""JSONSerializer: the conformance suite on both libraries, plus what is JSON's own."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import json
import math
import sys
import threading
import types
import uuid
import zoneinfo
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from conveyor.exceptions import ConfigurationError, SerializationError
from conveyor.serializers import JSONSerializer, Serializer, serializer_from_dict
from conveyor.testing.serializers import (
    SampleColor,
    SampleFlag,
    SampleFrozenRecord,
    SampleLevel,
    SampleModel,
    SampleOuterModel,
    SamplePoint,
    SampleRecord,
    SerializerConformance,
    assert_same,
    exact_values,
    plain_values,
)
from conveyor_serializer_json.codec import MARKER
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_bounded = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class TestJSONConformance(SerializerConformance):
    values = exact_values()
    unsupported = (object(), {"a": [1, threading.Lock()]}, lambda: 1)

    @pytest.fixture
    def serializer(self) -> JSONSerializer:
        return JSONSerializer()


class TestOrjsonConformance(TestJSONConformance):
    @pytest.fixture
    def serializer(self) -> JSONSerializer:
        return JSONSerializer(jsonlib="orjson")


LIBS = pytest.mark.parametrize("lib", ["json", "orjson"])


# -- json and orjson agree -----------------------------------------------------------------


@_bounded
@given(value=exact_values())
def test_json_and_orjson_write_the_same_data_and_read_each_other(value: Any) -> None:
    by_json = JSONSerializer(jsonlib="json").dumps(value)
    by_orjson = JSONSerializer(jsonlib="orjson").dumps(value)
    assert json.loads(by_json) == json.loads(by_orjson)
    assert_same(JSONSerializer(jsonlib="orjson").loads(by_json), value)
    assert_same(JSONSerializer(jsonlib="json").loads(by_orjson), value)


# -- each listed type, by hand ------------------------------------------------------------

EXAMPLES: list[Any] = [
    None,
    True,
    False,
    0,
    -(2**63),
    2**64 - 1,
    2**64,
    -(2**63) - 1,
    10**5000,  # more digits than int("...") accepts by default
    -(10**5000),
    1.5,
    -0.0,
    float("nan"),
    float("inf"),
    float("-inf"),
    1e308,
    5e-324,
    "",
    "héllo ✓ \u2028 \x00",
    "\ud800 lone surrogate",
    b"",
    b"\x00\xff" * 10,
    bytearray(b"abc"),
    [],
    (),
    (1,),
    [1, (2, [3, (4,)])],
    {},
    {"a": 1, "b": {"c": [1, 2]}},
    {1: "int key", (1, 2): "tuple key", None: "none", False: "bool", 2.5: "float", "s": "str"},
    {frozenset({1, 2}): {"nested": {3: 4}}},
    set(),
    {1, 2, 3},
    frozenset({"a", "b"}),
    {(1, "a"), (2, "b")},
    {1, "mixed", None},
    complex(1, -2),
    dt.datetime(2024, 5, 1, 12, 30, 15, 123456),
    dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC),
    dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=-3, minutes=-30), "NST")),
    dt.datetime(2024, 5, 1, 12, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
    dt.datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
    dt.date(1, 1, 1),
    dt.time(23, 59, 59, 999999),
    dt.time(1, 2, tzinfo=dt.timezone(dt.timedelta(hours=5))),
    dt.timedelta(days=-3, seconds=5, microseconds=7),
    decimal.Decimal("1.10"),
    decimal.Decimal("-0"),
    decimal.Decimal("1E+5"),
    decimal.Decimal("NaN"),
    decimal.Decimal("-Infinity"),
    decimal.Decimal("3.14159265358979323846264338327950288419716939937510"),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    Path("/tmp/x.txt"),
    PurePosixPath("a/b"),
    SampleColor.BLUE,
    SampleLevel.HIGH,
    SampleFlag.READ | SampleFlag.EXEC,
    SamplePoint("p", payload={"deep": (1, {2})}),
    SampleRecord(key=(1, 2), items=[SampleColor.RED]),
    SampleFrozenRecord("n", 3),
    SampleModel(name="m", values=[1, 2], when=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)),
    SampleModel(name="only-name"),
    SampleOuterModel(inner=SampleModel(name="i"), tags={"x": 1.0}),
    {MARKER: "tuple", "v": [1, 2]},
    {"outer": {MARKER: "not a tag", "other": 1}},
    [{MARKER: None}],
]


@LIBS
@pytest.mark.parametrize("value", EXAMPLES, ids=lambda v: type(v).__name__)
def test_listed_types_round_trip_exactly(lib: str, value: Any) -> None:
    serializer = JSONSerializer(jsonlib=lib)
    assert_same(serializer.loads(serializer.dumps(value)), value)


def test_zone_and_fold_are_kept() -> None:
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    value = dt.datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=paris)
    back = JSONSerializer().loads(JSONSerializer().dumps(value))
    assert back.tzinfo is paris
    assert back.fold == 1
    assert back.utcoffset() == dt.timedelta(hours=1)


def test_pydantic_fields_set_is_kept() -> None:
    model = SampleModel(name="m")
    back = JSONSerializer().loads(JSONSerializer().dumps(model))
    assert back.model_fields_set == {"name"}
    assert back.model_dump(exclude_unset=True) == {"name": "m"}


# -- readable JSON, nan/inf policy --------------------------------------------------------


@LIBS
def test_output_is_readable_standard_json(lib: str) -> None:
    serializer = JSONSerializer(jsonlib=lib)
    assert serializer.dumps({"a": [1, 2.5, "x", None, True]}) == b'{"a":[1,2.5,"x",null,true]}'
    text = serializer.dumps({"when": dt.date(2024, 1, 2), "t": (1, 2)}).decode("utf-8")
    assert json.loads(text) == {
        "when": {MARKER: "date", "v": "2024-01-02"},
        "t": {MARKER: "tuple", "v": [1, 2]},
    }
    assert serializer.dumps("é") == '"é"'.encode()


@LIBS
def test_nan_and_infinity_are_tagged_not_written_as_bare_tokens(lib: str) -> None:
    serializer = JSONSerializer(jsonlib=lib)
    data = serializer.dumps([float("nan"), float("inf"), float("-inf")])
    assert b"NaN" not in data and b"Infinity" not in data and b"null" not in data
    json.loads(data, parse_constant=lambda c: pytest.fail(f"non-standard token {c}"))
    back = serializer.loads(data)
    assert math.isnan(back[0]) and back[1] == math.inf and back[2] == -math.inf


@LIBS
def test_users_dicts_with_marker_keys_come_back_unchanged(lib: str) -> None:
    serializer = JSONSerializer(jsonlib=lib)
    value = {MARKER: "tuple", "v": [1, 2], "nested": [{MARKER: "dict", "v": []}]}
    back = serializer.loads(serializer.dumps(value))
    assert back == value and type(back["v"]) is list


# -- errors ------------------------------------------------------------------------------


class _Opaque:
    pass


@LIBS
def test_unsupported_value_names_its_type_and_path(lib: str) -> None:
    value = {"model": [1, {"handle": _Opaque()}]}
    with pytest.raises(SerializationError) as info:
        JSONSerializer(jsonlib=lib).dumps(value)
    message = str(info.value)
    assert "value['model'][1]['handle']" in message
    assert "_Opaque" in message
    assert "pickle" in message
    assert "\n" not in message


def test_unsupported_paths_through_tuples_objects_and_keys() -> None:
    serializer = JSONSerializer()
    with pytest.raises(SerializationError, match=r"value\[0\]\.payload\[1\]"):
        serializer.dumps((SamplePoint("p", payload=[1, _Opaque()]),))
    with pytest.raises(SerializationError, match=r"value \(key "):
        serializer.dumps({_Opaque(): 1})


def test_class_defined_in_a_function_is_refused_when_writing() -> None:
    @dataclasses.dataclass
    class Local:
        x: int

    with pytest.raises(SerializationError, match="module level"):
        JSONSerializer().dumps({"v": Local(1)})


def test_reference_cycle_is_a_serialization_error() -> None:
    value: list[Any] = []
    value.append(value)
    with pytest.raises(SerializationError, match="cycle"):
        JSONSerializer().dumps(value)


@LIBS
def test_bad_data_is_a_serialization_error(lib: str) -> None:
    serializer = JSONSerializer(jsonlib=lib)
    with pytest.raises(SerializationError, match="not written by JSONSerializer"):
        serializer.loads(b"{not json")
    with pytest.raises(SerializationError, match="unknown JSON tag"):
        serializer.loads(b'{"$conveyor": "spaceship", "v": 1}')
    with pytest.raises(SerializationError, match="cannot rebuild"):
        serializer.loads(b'{"$conveyor": "enum", "cls": "no_such_module_xyz:Color", "name": "RED"}')
    with pytest.raises(SerializationError, match="is not an Enum"):
        serializer.loads(b'{"$conveyor": "enum", "cls": "os:getcwd", "name": "RED"}')


# -- configuration -----------------------------------------------------------------------


def test_configuration_is_json_and_rebuilds() -> None:
    serializer = JSONSerializer(jsonlib="orjson")
    assert serializer.to_dict() == {
        "type": "json",
        "jsonlib": "orjson",
        "object_encoder": None,
        "object_decoder": None,
    }
    assert serializer_from_dict(json.loads(json.dumps(serializer.to_dict()))) == serializer


@pytest.mark.parametrize(
    "serializer",
    [
        JSONSerializer(),
        JSONSerializer(jsonlib="orjson"),
    ],
    ids=repr,
)
def test_every_configuration_is_json_and_rebuilds_exactly(serializer: Serializer) -> None:
    data = serializer.to_dict()
    text = json.dumps(data)
    rebuilt = serializer_from_dict(json.loads(text))
    assert rebuilt == serializer and rebuilt.to_dict() == data
    assert type(serializer).from_config(json.loads(json.dumps(serializer.config()))) == serializer


def test_bad_options_are_clear_errors() -> None:
    with pytest.raises(ConfigurationError, match="jsonlib 'yaml' is not supported; use one of: json, orjson"):
        JSONSerializer(jsonlib="yaml")
    with pytest.raises(ConfigurationError, match="import path of a function as a string"):
        JSONSerializer(object_encoder=print)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="cannot be found"):
        JSONSerializer(object_encoder="no_such_module_xyz:encode")
    with pytest.raises(ConfigurationError, match="not callable"):
        JSONSerializer(object_decoder="math:pi")


# -- object_encoder / object_decoder -------------------------------------------------------


class Money:
    def __init__(self, amount: str, currency: str) -> None:
        self.amount, self.currency = amount, currency

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Money) and (self.amount, self.currency) == (other.amount, other.currency)


@pytest.fixture
def hooks_module(monkeypatch: pytest.MonkeyPatch) -> str:
    module = types.ModuleType("conveyor_json_test_hooks")

    def encode(obj: Any) -> Any:
        if isinstance(obj, Money):
            return {"money": (obj.amount, obj.currency)}
        return NotImplemented

    def decode(data: Any) -> Any:
        return Money(*data["money"])

    module.encode, module.decode = encode, decode  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return module.__name__


@LIBS
def test_object_encoder_and_decoder_by_import_path(lib: str, hooks_module: str) -> None:
    serializer = JSONSerializer(
        jsonlib=lib, object_encoder=f"{hooks_module}:encode", object_decoder=f"{hooks_module}.decode"
    )
    value = {"price": Money("1.50", "EUR"), "n": 1}
    back = serializer.loads(serializer.dumps(value))
    assert back == value
    with pytest.raises(SerializationError, match="declined it too"):
        serializer.dumps(_Opaque())
    without_decoder = JSONSerializer(jsonlib=lib, object_encoder=f"{hooks_module}:encode")
    with pytest.raises(SerializationError, match="no object_decoder"):
        without_decoder.loads(without_decoder.dumps(Money("1", "USD")))


@given(value=st.integers())
@_bounded
def test_any_int_round_trips(value: int) -> None:
    for lib in ("json", "orjson"):
        serializer = JSONSerializer(jsonlib=lib)
        assert_same(serializer.loads(serializer.dumps(value)), value)


def test_enum_defined_here_round_trips() -> None:
    assert JSONSerializer().loads(JSONSerializer().dumps(_Mood.HAPPY)) is _Mood.HAPPY


class _Mood(enum.Enum):
    HAPPY = "happy"


# -- the fast path (plain JSON data goes straight to the library) ---------------------------


@LIBS
@_bounded
@given(value=exact_values() | plain_values())
def test_fast_path_writes_exactly_what_the_encoder_would(lib: str, value: Any) -> None:
    from conveyor_serializer_json.encoder import Encoder

    serializer = JSONSerializer(jsonlib=lib)
    try:
        walked = serializer._write(Encoder(None, check_strings=False).encode(value))
    except (TypeError, ValueError):  # lone surrogates: the serializer retries, tagging them
        walked = serializer._write(Encoder(None, check_strings=True).encode(value))
    assert serializer.dumps(value) == walked


def test_plain_data_is_written_by_the_library_as_it_is() -> None:
    import orjson

    value = [{"id": i, "name": f"n{i}", "score": i / 3, "tags": ["a"], "ok": None} for i in range(100)]
    assert JSONSerializer(jsonlib="orjson").dumps(value) == orjson.dumps(value)
    assert JSONSerializer(jsonlib="json").loads(orjson.dumps(value)) == value


@LIBS
def test_shared_and_cyclic_containers(lib: str) -> None:
    serializer = JSONSerializer(jsonlib=lib)
    shared = [1, 2]
    assert serializer.loads(serializer.dumps({"a": shared, "b": shared})) == {"a": [1, 2], "b": [1, 2]}
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    with pytest.raises(SerializationError, match="cycle"):
        serializer.dumps(cyclic)
