"""Hook implementations of conveyor-serializer-rot13 (the entry point's target)."""

from __future__ import annotations

from conveyor import hookimpl
from conveyor.serializers import Serializer

from conveyor_serializer_rot13.rot13 import Rot13JSON


@hookimpl
def conveyor_register_serializers() -> list[type[Serializer]]:
    return [Rot13JSON]
