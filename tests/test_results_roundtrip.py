"""Hypothesis: any simple value survives persist_value and a read through its record."""

from __future__ import annotations

import json
import tempfile

from conveyor.filesystems import LocalFileSystem
from conveyor.results import ResultReference, is_literal, persist_value, result_from_dict
from conveyor.serializers import JSONSerializer, PickleSerializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5)
    ),
    max_leaves=20,
)
pickle_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
    | st.complex_numbers(allow_nan=False),
    lambda children: (
        st.lists(children, max_size=5)
        | st.tuples(children, children)
        | st.frozensets(st.integers() | st.text(), max_size=5)
        | st.dictionaries(st.text() | st.integers(), children, max_size=5)
    ),
    max_leaves=20,
)

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def round_trip(value: object, serializer: object, key: str | None) -> object:
    with tempfile.TemporaryDirectory() as folder:
        ref = persist_value(
            value, storage=LocalFileSystem(basepath=folder), serializer=serializer, key=key
        )  # type: ignore[arg-type]
        rebuilt = result_from_dict(json.loads(ref.json()))
        assert isinstance(rebuilt, ResultReference) and rebuilt == ref
        return rebuilt.get()


@SETTINGS
@given(value=json_values, jsonlib=st.sampled_from(["json", "orjson"]))
def test_json_round_trip(value, jsonlib):
    if jsonlib == "orjson" and _too_big_for_orjson(value):
        return
    assert round_trip(value, JSONSerializer(jsonlib=jsonlib), None) == value


@SETTINGS
@given(
    value=pickle_values,
    picklelib=st.sampled_from(["cloudpickle", "pickle"]),
    key=st.none() | st.from_regex(r"[a-z0-9]{1,8}(/[a-z0-9._-]{1,8}){0,2}", fullmatch=True),
)
def test_pickle_round_trip(value, picklelib, key):
    if key is not None and key.split("/")[-1] in (".", ".."):
        key = None
    assert round_trip(value, PickleSerializer(picklelib=picklelib), key) == value


@given(value=st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=2))
def test_is_literal_exactly_three_objects(value):
    assert is_literal(value) == (value is None or value is True or value is False)


def _too_big_for_orjson(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return not (-(2**63) <= value < 2**64)
    if isinstance(value, list):
        return any(_too_big_for_orjson(v) for v in value)
    if isinstance(value, dict):
        return any(_too_big_for_orjson(v) for v in value.values())
    return False
