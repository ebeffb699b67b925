"""conveyor's serializer conformance suite, run against Rot13JSON (installed)."""

from __future__ import annotations

import pytest
from conveyor.serializers import Serializer
from conveyor.testing.serializers import SerializerConformance, plain_values
from conveyor_serializer_rot13 import Rot13JSON


class TestRot13JSON(SerializerConformance):
    values = plain_values()  # what JSON holds natively
    unsupported = (object(), {1, 2}, b"bytes")

    @pytest.fixture
    def serializer(self) -> Serializer:
        return Rot13JSON()


def test_bytes_are_rot13_of_json() -> None:
    assert Rot13JSON().dumps({"word": "hello"}) == b'{"jbeq": "uryyb"}'
