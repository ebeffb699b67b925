"""conveyor's entry-point checks, run against the installed distribution."""

from conveyor.testing.plugins import EntryPointConformance
from conveyor_serializer_rot13 import Rot13JSON


class TestEntryPoint(EntryPointConformance):
    distribution = "conveyor-serializer-rot13"
    entry_point = "serializer-rot13"
    serializers = (Rot13JSON,)
