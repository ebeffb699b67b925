"""Conformance suite and hypothesis strategies for serializers.

A serializer plugin runs the whole suite by subclassing :class:`SerializerConformance`
with one fixture, and says which values it supports::

    from conveyor.testing.serializers import SerializerConformance, exact_values

    class TestMySerializer(SerializerConformance):
        values = exact_values()            # default: plain_values()

        @pytest.fixture
        def serializer(self):
            return MySerializer()

Round trips are compared with :meth:`SerializerConformance.assert_equal`, by default the
strict :func:`assert_same`. A serializer of values that ``==`` cannot judge (a numpy array
or a DataFrame answers ``==`` with another array, which has no single truth value)
overrides it with the equality that fits::

    class TestArrays(SerializerConformance):
        values = arrays(...)               # e.g. hypothesis.extra.numpy.arrays

        def assert_equal(self, actual, expected):
            assert type(actual) is type(expected) and actual.dtype == expected.dtype
            assert numpy.array_equal(actual, expected)

The strategies and sample types (from :mod:`conveyor.testing.values`, re-exported here)
build values of the types conveyor's own serializers round-trip exactly;
:func:`assert_same` compares a value with its round trip strictly (same types all the way
down, ``nan`` equal to ``nan``, ``-0.0`` different from ``0.0``, time zones and ``fold``
kept). :class:`WriteOnlyStream` and :class:`NonSeekableReader` are the most limited file
objects ``dump`` and ``load`` must work with.
"""

from __future__ import annotations

import io
import json
from typing import Any, ClassVar

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor.exceptions import ConfigurationError, SerializationError
from conveyor.serializers import (
    Serializer,
    resolve_serializer,
    serializer_classes,
    serializer_from_dict,
)
from conveyor.testing import values
from conveyor.testing.values import (
    SampleColor,
    SampleFlag,
    SampleFrozenPoint,
    SampleFrozenRecord,
    SampleLevel,
    SamplePoint,
    SampleRecord,
    assert_same,
    exact_values,
    hashable_values,
    plain_values,
)

if values.pydantic is not None:
    SampleModel = values.SampleModel
    SampleOuterModel = values.SampleOuterModel

class WriteOnlyStream:
    """A binary sink with only ``write`` (no seek, tell or read), as storage gives."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self.writes = 0

    def write(self, data: Any) -> int:
        view = memoryview(data)  # must be bytes-like
        self._chunks.append(view.tobytes())
        self.writes += 1
        return view.nbytes

    def getvalue(self) -> bytes:
        return b"".join(self._chunks)


class NonSeekableReader:
    """A binary source with only ``read``, ``readinto`` and ``readline``."""

    def __init__(self, data: bytes) -> None:
        self._buffer = io.BytesIO(data)

    def read(self, size: int | None = -1) -> bytes:
        return self._buffer.read(size)

    def readinto(self, buffer: Any) -> int:
        return self._buffer.readinto(buffer)

    def readline(self, size: int | None = -1) -> bytes:
        return self._buffer.readline(size)

    def remaining(self) -> int:
        return len(self._buffer.getbuffer()) - self._buffer.tell()


# -- the conformance suite -----------------------------------------------------------------

_settings = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.differing_executors,  # the same tests run for every subclass
    ],
)


class SerializerConformance:
    """What every serializer must do. Subclass it with a ``serializer`` fixture.

    :cvar values: hypothesis strategy of the values the serializer round-trips exactly.
    :cvar unsupported: values it must refuse with ``SerializationError``.
    """

    values: ClassVar[st.SearchStrategy[Any]] = plain_values()
    unsupported: ClassVar[tuple[Any, ...]] = ()

    @pytest.fixture
    def serializer(self) -> Serializer:
        raise NotImplementedError("subclasses of SerializerConformance define a serializer fixture")

    def assert_equal(self, actual: Any, expected: Any) -> None:
        """Assert that ``actual``, a round trip of ``expected``, equals it; raise
        AssertionError if not. Every round-trip test compares through this method.

        The default is the strict :func:`assert_same` (same types all the way down, then
        ``==``). Override it for values whose ``==`` is not a plain bool (numpy arrays,
        DataFrames, Arrow tables), e.g. with ``numpy.array_equal``.
        """
        assert_same(actual, expected)

    # -- the class and its configuration ---------------------------------------------------

    def test_is_a_registered_attrs_class(self, serializer: Serializer) -> None:
        cls: Any = type(serializer)
        assert isinstance(serializer, Serializer)
        assert attrs.has(cls), f"{cls.__name__} must be an attrs class"
        assert isinstance(serializer.type, str) and serializer.type
        assert serializer_classes().get(serializer.type) is cls

    def test_config_is_json_and_rebuilds_an_equal_serializer(self, serializer: Serializer) -> None:
        data = serializer.to_dict()
        assert data["type"] == serializer.type
        assert {k for k in data if k != "type"} == {
            f.name for f in attrs.fields(type(serializer)) if f.init  # type: ignore[arg-type]
        }
        text = json.dumps(data)
        rebuilt = serializer_from_dict(json.loads(text))
        assert type(rebuilt) is type(serializer)
        assert rebuilt == serializer
        assert rebuilt.to_dict() == data
        assert type(serializer).from_config(serializer.config()) == serializer

    def test_unknown_config_fields_are_refused(self, serializer: Serializer) -> None:
        with pytest.raises(ConfigurationError, match="no_such_option"):
            type(serializer).from_config({**serializer.config(), "no_such_option": 1})
        with pytest.raises(ConfigurationError, match="no_such_option"):
            serializer_from_dict({**serializer.to_dict(), "no_such_option": 1})

    def test_resolves_as_instance_and_by_name(self, serializer: Serializer) -> None:
        assert resolve_serializer(serializer) is serializer
        assert type(resolve_serializer(serializer.type)) is type(serializer)

    # -- values -------------------------------------------------------------------------

    @_settings
    @given(data=st.data())
    def test_dumps_loads_round_trip(self, serializer: Serializer, data: st.DataObject) -> None:
        value = data.draw(self.values, label="value")
        encoded = serializer.dumps(value)
        assert type(encoded) is bytes
        self.assert_equal(serializer.loads(encoded), value)

    @settings(_settings, max_examples=50)
    @given(data=st.data())
    def test_dump_load_streams_round_trip(self, serializer: Serializer, data: st.DataObject) -> None:
        value = data.draw(self.values, label="value")
        sink = WriteOnlyStream()
        serializer.dump(value, sink)  # type: ignore[arg-type]
        written = sink.getvalue()
        source = NonSeekableReader(written)
        self.assert_equal(serializer.load(source), value)  # type: ignore[arg-type]
        # dump and dumps are interchangeable with load and loads
        self.assert_equal(serializer.loads(written), value)
        self.assert_equal(serializer.load(NonSeekableReader(serializer.dumps(value))), value)  # type: ignore[arg-type]

    def test_unsupported_values_raise_serialization_error(self, serializer: Serializer) -> None:
        for value in self.unsupported:
            with pytest.raises(SerializationError):
                serializer.dumps(value)
            with pytest.raises(SerializationError):
                serializer.dump(value, WriteOnlyStream())  # type: ignore[arg-type]

    def test_garbage_raises_serialization_error(self, serializer: Serializer) -> None:
        with pytest.raises(SerializationError):
            serializer.loads(b"\x00\xffnot a payload of any serializer\x80")


__all__ = [
    "NonSeekableReader",
    "SampleColor",
    "SampleFlag",
    "SampleFrozenPoint",
    "SampleFrozenRecord",
    "SampleLevel",
    "SamplePoint",
    "SampleRecord",
    "SerializerConformance",
    "WriteOnlyStream",
    "assert_same",
    "exact_values",
    "hashable_values",
    "plain_values",
]
