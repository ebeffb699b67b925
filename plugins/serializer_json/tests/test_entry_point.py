"""The distribution's own entry point is really installed and registers its class."""

from conveyor.testing.plugins import EntryPointConformance
from conveyor_serializer_json import JSONSerializer


class TestEntryPoint(EntryPointConformance):
    distribution = "conveyor-serializer-json"
    entry_point = "serializer-json"
    serializers = (JSONSerializer,)
