"""Hook implementations of conveyor-serializer-json."""

from __future__ import annotations

from conveyor import hookimpl

from conveyor_serializer_json.json_serializer import JSONSerializer


@hookimpl
def conveyor_register_serializers():
    return [JSONSerializer]
