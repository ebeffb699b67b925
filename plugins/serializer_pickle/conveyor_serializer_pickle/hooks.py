"""Hook implementations of conveyor-serializer-pickle (the entry point's target).

The class is named, not imported (:class:`conveyor.markers.ClassRef`): loading the plugin
costs only this module; ``conveyor_serializer_pickle.pickle_serializer`` is imported when PickleSerializer is first used.
"""

from __future__ import annotations

from conveyor import hookimpl
from conveyor.markers import ClassRef


@hookimpl
def conveyor_register_serializers():
    return [ClassRef("pickle", "conveyor_serializer_pickle.pickle_serializer:PickleSerializer")]
