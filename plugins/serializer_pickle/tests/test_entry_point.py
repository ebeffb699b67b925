"""The distribution's own entry point is really installed and registers its class."""

from conveyor.testing.plugins import EntryPointConformance
from conveyor_serializer_pickle import PickleSerializer


class TestEntryPoint(EntryPointConformance):
    distribution = "conveyor-serializer-pickle"
    entry_point = "serializer-pickle"
    serializers = (PickleSerializer,)
