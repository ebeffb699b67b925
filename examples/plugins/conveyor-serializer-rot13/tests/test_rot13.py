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


def test_entry_point_is_installed() -> None:
    import importlib_metadata

    eps = {ep.name: ep for ep in importlib_metadata.entry_points(group="conveyor")}
    ep = eps["serializer-rot13"]
    assert ep.value == "conveyor_serializer_rot13.hooks"
    assert ep.dist is not None and ep.dist.metadata["Name"] == "conveyor-serializer-rot13"
