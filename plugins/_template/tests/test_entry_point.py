"""The distribution's own entry point is really installed and registers its class."""

from conveyor.testing.plugins import EntryPointConformance
from conveyor_KIND_NAME import ClassName


class TestEntryPoint(EntryPointConformance):
    distribution = "conveyor-KIND-NAME"
    entry_point = "KIND-NAME"
    KINDS = (ClassName,)
