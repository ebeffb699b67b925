"""CompressedSerializer: wraps any serializer, streams both ways, refuses bad options."""

from __future__ import annotations

import zlib
from typing import Any

import pytest
from conveyor.exceptions import ConfigurationError, SerializationError
from conveyor.serialization.compressed import CompressedSerializer
from conveyor.serializers import JSONSerializer, PickleSerializer
from conveyor.testing.serializers import (
    NonSeekableReader,
    SerializerConformance,
    WriteOnlyStream,
    exact_values,
)


class TestCompressedPickleConformance(SerializerConformance):
    values = exact_values(max_leaves=10)

    @pytest.fixture(params=["zlib", "lzma", "bz2"])
    def serializer(self, request: pytest.FixtureRequest) -> CompressedSerializer:
        return CompressedSerializer(compressionlib=request.param)


class TestCompressedJSONConformance(SerializerConformance):
    values = exact_values(max_leaves=10)

    @pytest.fixture
    def serializer(self) -> CompressedSerializer:
        return CompressedSerializer(serializer=JSONSerializer(jsonlib="orjson"), level=9)


@pytest.mark.parametrize("lib", ["zlib", "lzma", "bz2"])
def test_streams_a_value_larger_than_its_read_chunks(lib: str) -> None:
    value = {"blob": bytes(range(256)) * 40_000, "n": list(range(50_000))}
    serializer = CompressedSerializer(serializer=PickleSerializer(), compressionlib=lib, level=1)
    sink = WriteOnlyStream()
    serializer.dump(value, sink)  # type: ignore[arg-type]
    data = sink.getvalue()
    assert len(data) < len(PickleSerializer().dumps(value)) // 4
    assert serializer.load(NonSeekableReader(data)) == value  # type: ignore[arg-type]
    assert serializer.loads(data) == value
    assert serializer.loads(serializer.dumps(value)) == value


def test_zlib_payload_is_plain_zlib() -> None:
    serializer = CompressedSerializer(serializer=JSONSerializer())
    assert zlib.decompress(serializer.dumps({"a": 1})) == b'{"a":1}'


@pytest.mark.parametrize("lib", ["zlib", "lzma", "bz2"])
def test_truncated_or_damaged_payload_is_a_serialization_error(lib: str) -> None:
    serializer = CompressedSerializer(serializer=JSONSerializer(), compressionlib=lib)
    data = serializer.dumps(list(range(1000)))
    for bad in (data[: len(data) // 2], b"garbage" + data):
        with pytest.raises(SerializationError, match=f"cannot decompress a {lib} payload"):
            serializer.loads(bad)
        with pytest.raises(SerializationError, match=f"cannot decompress a {lib} payload"):
            serializer.load(NonSeekableReader(bad))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"compressionlib": "zstd"}, "compressionlib 'zstd' is not supported; use one of: bz2, lzma, zlib"),
        ({"level": 12}, "level 12 is not valid for zlib; use an int from 0 to 9"),
        ({"compressionlib": "bz2", "level": 0}, "level 0 is not valid for bz2"),
    ],
)
def test_bad_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        CompressedSerializer(**options)


def test_inner_serializer_accepts_name_dict_or_instance() -> None:
    expected = CompressedSerializer(serializer=JSONSerializer())
    assert CompressedSerializer(serializer="json") == expected  # type: ignore[arg-type]
    assert CompressedSerializer(serializer=JSONSerializer().to_dict()) == expected  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="result_serializer must be"):
        CompressedSerializer(serializer=42)  # type: ignore[arg-type]


def test_inner_errors_pass_through() -> None:
    import threading

    with pytest.raises(SerializationError, match=r"value\['lock'\]"):
        CompressedSerializer().dumps({"lock": threading.Lock()})
