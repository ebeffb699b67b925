"""conveyor's entry-point checks, run against the installed distribution."""

from conveyor.testing.plugins import EntryPointConformance
from conveyor_storage_reversed import ReversedDir


class TestEntryPoint(EntryPointConformance):
    distribution = "conveyor-storage-reversed"
    entry_point = "storage-reversed"
    storage = (ReversedDir,)
