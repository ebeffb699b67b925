"""Hook implementations of conveyor-serializer-json (the entry point's target).

The class is named, not imported (:class:`conveyor.markers.ClassRef`): loading the plugin
costs only this module; ``conveyor_serializer_json.json_serializer`` is imported when JSONSerializer is first used.
"""

from __future__ import annotations

from conveyor import hookimpl
from conveyor.markers import ClassRef


@hookimpl
def conveyor_register_serializers():
    return [ClassRef("json", "conveyor_serializer_json.json_serializer:JSONSerializer")]
